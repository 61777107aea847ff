//! `SyncClient`: the local cache and the write path, as the app uses them.

use super::coordinator::{Coordinator, TabCommand, TabMessage};
use super::error::SyncError;
use super::listeners::Listeners;
use super::options::ListOptions;
use crate::io::activity::Activity;
use crate::io::page_events::{PageEvent, PageEvents};
use crate::io::reader::ConnectionInfo;
use crate::io::reader::Reader;
use crate::io::store::{from_js, to_js, Store, StoreError};
use crate::io::task::promise;
use crate::io::writer::{WriteError, Writer};
use js_sys::{Array, Promise, Reflect};
use rockon_sync_core::realtime::Input;
use rockon_sync_core::schema::snake_to_camel;
use rockon_sync_core::value::{Map, Value};
use std::rc::Rc;
use wasm_bindgen::prelude::*;

pub(super) struct Inner {
    pub(super) store: Rc<Store>,
    pub(super) writer: Writer,
    pub(super) reader: Reader,
    pub(super) activity: Activity,
    pub(super) listeners: Listeners,
    pub(super) page: std::cell::RefCell<Option<PageEvents>>,
    pub(super) user_id: String,
    /// The IndexedDB database's name, for `signOut` to delete it.
    pub(super) database: String,
    pub(super) tabs: Rc<Coordinator>,
    /// The last storage check when it found most of the quota used (`connectionInfo`).
    pub(super) storage_warning: StorageWarning,
    /// What a developer dashboard shows, when the app turned devtools on.
    pub(super) devtools: Option<Rc<crate::io::devtools::Devtools>>,
}

/// The last storage check's finding, when it warned.
pub(super) type StorageWarning = Rc<std::cell::Cell<Option<crate::io::storage::StorageEstimate>>>;

/// The sync client of one signed-in user: reads from the local IndexedDB cache, optimistic
/// writes into the durable outbox, pushes to the REST API.
///
/// ```js
/// const client = await SyncClient.open({ supabaseUrl, anonKey, accessToken, userId });
/// const stop = client.on('change', (event) => rerender(event.table, event.bandId));
/// const song = await client.create('songs', { bandId, title: 'Wonderwall' });
/// await client.update('songs', song.id, { key: 'F#m' });
/// const songs = await client.list('songs', bandId, { orderBy: 'title' });
/// ```
#[wasm_bindgen]
pub struct SyncClient {
    pub(super) inner: Rc<Inner>,
}

pub(super) fn store_error(error: StoreError) -> JsValue {
    SyncError::new(error.code(), error.to_string()).into()
}

fn write_error(error: WriteError) -> JsValue {
    SyncError::new(error.code(), error.to_string()).into()
}

fn object_arg(value: JsValue, what: &str) -> Result<Map<String, Value>, JsValue> {
    match from_js(&value) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(SyncError::new("invalid_argument", format!("{what} must be an object")).into()),
    }
}

impl SyncClient {
    /// Uses a token in this tab (pushes, pulls, socket, profile lookups).
    pub(super) fn use_token(&self, token: String) {
        self.inner.writer.set_token(token.clone());
        self.inner.reader.set_token(token);
    }

    pub(super) fn page_event(&self, event: PageEvent) {
        match event {
            PageEvent::Online => self.set_online(true),
            PageEvent::Offline => self.set_online(false),
            PageEvent::Visible => self.set_visible(true),
            PageEvent::Hidden => self.set_visible(false),
        }
    }
}

#[wasm_bindgen]
impl SyncClient {
    /// Calls `listener(event)` for every event named `event` — a `type` such as `change`,
    /// `connection`, `unread` or `notification`, a table's `<alias>:changed` (`songs:changed`),
    /// or `*` for all — and returns the function that unsubscribes (calling it again is
    /// harmless). A listener that throws is reported on the console; the others still run.
    #[wasm_bindgen(skip_typescript)]
    pub fn on(&self, event: &str, listener: js_sys::Function) -> js_sys::Function {
        self.inner.listeners.subscribe(event, listener)
    }

    /// Closes the client: no more events, pushes or socket; the database connection is
    /// closed. Pending writes stay in the outbox for the next `open`. Calling it twice is
    /// harmless; afterwards reads and writes reject with `database_closed`.
    pub fn close(&self) {
        self.inner.tabs.leave();
        self.inner.listeners.clear();
        self.inner.page.borrow_mut().take();
        self.inner.writer.stop();
        self.inner.reader.close();
        self.inner.store.close();
    }

    /// Shows the band's members online what this user is viewing, e.g. `{ view: 'songs' }`
    /// or `{ view: 'song', itemId }`. Updates are coalesced to stay within Realtime's rate
    /// limit (5 per 30 s): a burst sends only the newest.
    #[wasm_bindgen(js_name = setPresence)]
    pub fn set_presence(
        &self,
        band_id: &str,
        #[wasm_bindgen(unchecked_param_type = "Record<string, unknown>")] meta: JsValue,
    ) -> Result<(), JsValue> {
        let meta = object_arg(meta, "meta")?;
        if !self.inner.tabs.is_leader() {
            self.inner.tabs.post(TabMessage::Presence {
                band: band_id.to_owned(),
                meta: to_js(&meta),
            });
        }
        // Kept here too: sent once this tab's channel is joined, should it lead.
        self.inner.reader.set_presence(band_id, Value::Object(meta));
        Ok(())
    }

    /// The band's members online now (the last `presence` event's `members`).
    #[wasm_bindgen(unchecked_return_type = "PresenceMember[]")]
    pub fn presence(&self, band_id: &str) -> JsValue {
        if !self.inner.tabs.is_leader() {
            if let Some(members) = self.inner.tabs.remote_members(band_id) {
                return members;
            }
        }
        super::events::json(&self.inner.reader.members(band_id))
    }

    /// The same as [`close`](Self::close), for code that disposes of resources by that name.
    pub fn dispose(&self) {
        self.close();
    }

    /// Reconnects now instead of waiting out the backoff (the connection panel's button), and
    /// lets waiting pushes go.
    pub fn reconnect(&self) {
        if self.inner.tabs.relay(TabCommand::Reconnect) {
            return;
        }
        self.inner.writer.set_online(true);
        self.inner.reader.retry();
    }

    /// Marks a row read (the user opened it). Harmless when it was not unread.
    #[wasm_bindgen(js_name = markRead)]
    pub fn mark_read(&self, table: &str, id: &str) {
        self.inner.activity.mark_read(table, id);
    }

    /// Marks every row of a band read (all bands when `bandId` is omitted), optionally of one
    /// table. Returns how many were unread.
    #[wasm_bindgen(js_name = markAllRead)]
    pub fn mark_all_read(&self, band_id: Option<String>, table: Option<String>) -> u32 {
        self.inner
            .activity
            .mark_all_read(band_id.as_deref(), table.as_deref()) as u32
    }

    /// Unread counts: `{ total, byBand: { [bandId]: { [table]: count } } }`.
    #[wasm_bindgen(unchecked_return_type = "UnreadCounts")]
    pub fn unread(&self) -> JsValue {
        to_js(&self.inner.activity.counts())
    }

    /// The unread rows of a band (all bands when omitted), optionally of one table:
    /// `{ key, table, bandId, id }[]`.
    #[wasm_bindgen(js_name = unreadRows)]
    #[wasm_bindgen(unchecked_return_type = "UnreadMark[]")]
    pub fn unread_rows(&self, band_id: Option<String>, table: Option<String>) -> JsValue {
        to_js(
            &self
                .inner
                .activity
                .unread_rows(band_id.as_deref(), table.as_deref()),
        )
    }

    /// The rows of a band: `{ includeDeleted?, orderBy?, descending?, limit? }`.
    #[wasm_bindgen(unchecked_return_type = "Promise<Row[]>")]
    pub fn list(
        &self,
        table: String,
        band_id: String,
        #[wasm_bindgen(unchecked_param_type = "ListOptions | undefined")] options: JsValue,
    ) -> Promise {
        let inner = self.inner.clone();
        promise(async move {
            let options: ListOptions = if options.is_undefined() || options.is_null() {
                ListOptions::default()
            } else {
                from_js(&options)
                    .and_then(|options| ListOptions::read(&options))
                    .map_err(|message| SyncError::new("invalid_argument", message))?
            };
            inner
                .store
                .schema()
                .table(&table)
                .map_err(|e| SyncError::new(e.code(), e.to_string()))?;
            let rows = inner
                .store
                .list(&table, &band_id)
                .await
                .map_err(store_error)?;
            if !options.include_deleted {
                crate::io::rows::drop_deleted(&rows);
            }
            if let Some(order) = &options.order_by {
                crate::io::rows::sort_rows(&rows, &snake_to_camel(order), options.descending);
            }
            if let Some(limit) = options.limit {
                rows.set_length(rows.length().min(limit as u32));
            }
            Ok(rows.into())
        })
    }

    /// One row, or `undefined`.
    #[wasm_bindgen(unchecked_return_type = "Promise<Row | undefined>")]
    pub fn get(&self, table: String, id: String) -> Promise {
        let inner = self.inner.clone();
        promise(async move {
            let row = inner.store.get(&table, &id).await.map_err(store_error)?;
            Ok(row.unwrap_or(JsValue::UNDEFINED))
        })
    }

    /// Creates a row (the id is generated unless given); resolves with the stored row once it
    /// is durable locally. The push to the server follows.
    #[wasm_bindgen(unchecked_return_type = "Promise<Row>")]
    pub fn create(
        &self,
        table: String,
        #[wasm_bindgen(unchecked_param_type = "Record<string, unknown>")] values: JsValue,
    ) -> Promise {
        let inner = self.inner.clone();
        promise(async move {
            let values = object_arg(values, "values")?;
            let row = inner
                .writer
                .create(&table, values)
                .await
                .map_err(write_error)?;
            Ok(to_js(&row))
        })
    }

    /// Changes fields of a row.
    #[wasm_bindgen(unchecked_return_type = "Promise<Row>")]
    pub fn update(
        &self,
        table: String,
        id: String,
        #[wasm_bindgen(unchecked_param_type = "Record<string, unknown>")] patch: JsValue,
    ) -> Promise {
        let inner = self.inner.clone();
        promise(async move {
            let patch = object_arg(patch, "patch")?;
            let row = inner
                .writer
                .update(&table, &id, patch)
                .await
                .map_err(write_error)?;
            Ok(to_js(&row))
        })
    }

    /// Deletes a row (a tombstone, so other devices learn of it).
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn remove(&self, table: String, id: String) -> Promise {
        let inner = self.inner.clone();
        promise(async move {
            inner
                .writer
                .remove(&table, &id)
                .await
                .map_err(write_error)?;
            Ok(JsValue::UNDEFINED)
        })
    }

    /// The sync status of a row: `synced`, `syncing`, `pending`, `error`, or `conflict` while
    /// a settled conflict awaits [`acknowledge`](Self::acknowledge).
    #[wasm_bindgen(unchecked_return_type = "SyncStatus")]
    pub fn status(&self, table: &str, id: &str) -> String {
        self.inner.writer.shown_status(table, id).to_owned()
    }

    /// Acknowledges a row's conflict (its record is removed).
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn acknowledge(&self, table: String, id: String) -> Promise {
        let inner = self.inner.clone();
        promise(async move {
            inner
                .writer
                .acknowledge(&table, &id)
                .await
                .map_err(write_error)?;
            inner.tabs.post(TabMessage::Outbox);
            Ok(JsValue::UNDEFINED)
        })
    }

    /// Stores rows as the server sent them (wire columns, e.g. a REST page or a burst of
    /// realtime changes) in one transaction; rows whose local copy is newer are skipped.
    /// Resolves to the number written.
    #[wasm_bindgen(js_name = applyServerRows)]
    #[wasm_bindgen(unchecked_return_type = "Promise<number>")]
    pub fn apply_server_rows(
        &self,
        table: String,
        #[wasm_bindgen(unchecked_param_type = "Record<string, unknown>[]")] rows: JsValue,
    ) -> Promise {
        let inner = self.inner.clone();
        promise(async move {
            inner
                .store
                .schema()
                .table(&table)
                .map_err(|e| SyncError::new(e.code(), e.to_string()))?;
            let rows: Array = rows
                .dyn_into()
                .map_err(|_| SyncError::new("invalid_argument", "rows must be an array"))?;
            let written = inner
                .store
                .apply_rows(&table, &rows)
                .await
                .map_err(store_error)?;
            Ok(written.into())
        })
    }

    /// How many rows of a band the table holds locally (tombstones included).
    #[wasm_bindgen(unchecked_return_type = "Promise<number>")]
    pub fn count(&self, table: String, band_id: String) -> Promise {
        let inner = self.inner.clone();
        promise(async move {
            let count = inner
                .store
                .count(&table, &band_id)
                .await
                .map_err(store_error)?;
            Ok(count.into())
        })
    }

    /// The outbox entries, in push order (with `failed` set for refused writes).
    #[wasm_bindgen(unchecked_return_type = "OutboxEntry[]")]
    pub fn outbox(&self) -> JsValue {
        to_js(&self.inner.writer.entries())
    }

    /// The recorded conflicts, with both versions of each row.
    #[wasm_bindgen(unchecked_return_type = "Promise<ConflictRecord[]>")]
    pub fn conflicts(&self) -> Promise {
        let inner = self.inner.clone();
        promise(async move {
            let records = inner.store.conflicts().await.map_err(store_error)?;
            Ok(records.into())
        })
    }

    /// Retries a failed outbox entry (in a tab that does not lead, the leading tab does).
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn retry(&self, seq: f64) -> Promise {
        let inner = self.inner.clone();
        promise(async move {
            if inner.tabs.relay(TabCommand::Retry(seq)) {
                return Ok(JsValue::UNDEFINED);
            }
            inner.writer.retry(seq as u64).await.map_err(write_error)?;
            Ok(JsValue::UNDEFINED)
        })
    }

    /// Discards an outbox entry; the row returns to the server's version. Resolves to whether
    /// there was such an entry (in a tab that does not lead, the leading tab discards it, and
    /// this resolves to `true` once asked).
    #[wasm_bindgen(unchecked_return_type = "Promise<boolean>")]
    pub fn discard(&self, seq: f64) -> Promise {
        let inner = self.inner.clone();
        promise(async move {
            if inner.tabs.relay(TabCommand::Discard(seq)) {
                return Ok(true.into());
            }
            let done = inner
                .writer
                .discard(seq as u64)
                .await
                .map_err(write_error)?;
            Ok(done.into())
        })
    }

    /// Sets a new access token: sent on every joined channel, used by pushes and pulls; pushes
    /// held by an expired token resume.
    #[wasm_bindgen(js_name = setAuth)]
    pub fn set_auth(&self, token: String) {
        // Tokens of one user are interchangeable: whichever tab leads uses the newest.
        self.inner.tabs.post(TabMessage::Token(token.clone()));
        self.use_token(token);
    }

    /// Whether this tab leads the tabs sharing its database: the leader alone holds the
    /// socket and pushes the outbox; the others get its events. When it closes or crashes,
    /// another takes over (a `leader` event tells that tab).
    #[wasm_bindgen(js_name = isLeader)]
    pub fn is_leader(&self) -> bool {
        self.inner.tabs.is_leader()
    }

    /// Follows a band live: joins its Realtime channel (opening the socket if needed), pulls
    /// what changed since the last pull once the subscription is confirmed, and again every
    /// `antiEntropyMs` while the page is visible.
    #[wasm_bindgen(js_name = followBand)]
    pub fn follow_band(&self, band_id: &str) -> Result<(), JsValue> {
        if !self.inner.tabs.want_band(band_id) {
            // The leading tab follows it; this one will when it leads.
            return Ok(());
        }
        self.inner
            .reader
            .follow_band(band_id)
            .map_err(|e| JsValue::from(SyncError::new("too_many_channels", e)))?;
        self.inner.reader.connect();
        Ok(())
    }

    /// Goes live: follows the user's memberships, so every band they belong to — including
    /// bands created or joined later, on any device — is followed, and a band they leave or
    /// are removed from is left and its local data purged (`bands` events tell the app).
    pub fn connect(&self) -> Result<(), JsValue> {
        if !self.inner.tabs.want_connect() {
            return Ok(());
        }
        let user = self.inner.user_id.clone();
        self.inner
            .reader
            .follow_user(&user)
            .map_err(|e| JsValue::from(SyncError::new("too_many_channels", e)))?;
        self.inner.reader.connect();
        Ok(())
    }

    /// The connection for a status panel: `{ state, latencyMs, reconnects, lastError,
    /// polling, bands, leader }` — in a tab that does not lead, the leading tab's connection.
    #[wasm_bindgen(js_name = connectionInfo)]
    #[wasm_bindgen(unchecked_return_type = "ConnectionInfo")]
    pub fn connection_info(&self) -> JsValue {
        let leader = self.inner.tabs.is_leader();
        let info = match self.inner.tabs.remote_info() {
            Some(remote) if !leader => {
                js_sys::Object::assign(&js_sys::Object::new(), &remote.into()).into()
            }
            _ => to_js(&local_info(&self.inner)),
        };
        // Counted from this tab's copy of the shared outbox.
        let (pending, failed) = self.inner.writer.counts();
        let _ = Reflect::set(&info, &"leader".into(), &leader.into());
        let _ = Reflect::set(&info, &"pendingCount".into(), &(pending as u32).into());
        let _ = Reflect::set(&info, &"failedCount".into(), &(failed as u32).into());
        let warning = self
            .inner
            .storage_warning
            .get()
            .map_or(JsValue::NULL, |estimate| to_js(&estimate));
        let _ = Reflect::set(&info, &"storageWarning".into(), &warning);
        info
    }

    /// Pulls a band's rows from the server now (the dashboard's "force sync").
    #[wasm_bindgen(js_name = pullBand)]
    pub fn pull_band(&self, band_id: &str) {
        if !self
            .inner
            .tabs
            .relay(TabCommand::PullBand(band_id.to_owned()))
        {
            self.inner.reader.pull(band_id);
        }
    }

    /// Tells the client the network went away or came back (pushes resume at once).
    #[wasm_bindgen(js_name = setOnline)]
    pub fn set_online(&self, online: bool) {
        if online {
            self.inner.writer.set_online(true);
        } else {
            self.inner.writer.set_online(false);
        }
        self.inner.reader.input(if online {
            Input::Online
        } else {
            Input::Offline
        });
    }

    /// Tells the client the page became visible or hidden.
    #[wasm_bindgen(js_name = setVisible)]
    pub fn set_visible(&self, visible: bool) {
        self.inner.reader.input(if visible {
            Input::Visible
        } else {
            Input::Hidden
        });
    }
}

/// This tab's connection, with the last time the server confirmed anything: a pull of the
/// reader or a push of the writer.
pub(super) fn local_info(inner: &Inner) -> ConnectionInfo {
    let mut info = inner.reader.info();
    if let Some(pushed) = inner.writer.last_confirmed() {
        info.last_synced_at = Some(
            info.last_synced_at
                .map_or(pushed, |pulled| pulled.max(pushed)),
        );
    }
    info
}
