//! Opening a client: checking the token against the user, opening the user's database, and
//! wiring the write path, the read path and the activity tracker to the app's listeners.

use super::client::{store_error, Inner, StorageWarning, SyncClient};
use super::coordinator::{Coordinator, TabMessage};
use super::error::SyncError;
use super::events::{
    activity_event_to_js, error_to_js, event_to_js, feed_events_to_js, read_event_to_js,
    rows_changed_to_js, storage_event, storage_warning,
};
use super::listeners::Listeners;
use super::options::Options;
use crate::io::activity::{Activity, ActivityEvent};
use crate::io::devtools::Devtools;
use crate::io::http::Endpoint;
use crate::io::page_events::PageEvents;
use crate::io::reader::{Fallback, ReadEvent, Reader};
use crate::io::store::{from_js, Store};
use crate::io::writer::{ChangeAction, ChangeSource, RowsChanged, WriteEvent, Writer};
use js_sys::Promise;
use rockon_sync_core::backoff::BackoffPolicy;
use rockon_sync_core::outbox::{ConflictRecord, RowStatus};
use rockon_sync_core::realtime::{ConnectionState, Event as RealtimeEvent};
use rockon_sync_core::schema::Schema;
use serde_json::{Map, Value};
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

#[wasm_bindgen]
impl SyncClient {
    /// Opens the client: `{ supabaseUrl, anonKey, accessToken, userId, schema?,
    /// conflictPolicy?: 'serverWins' | 'clientWins', databaseName?, retryInitialMs? }`.
    /// Resolves once the local database is open; pending writes resume pushing at once.
    #[wasm_bindgen(unchecked_return_type = "Promise<SyncClient>")]
    pub fn open(#[wasm_bindgen(unchecked_param_type = "OpenOptions")] options: JsValue) -> Promise {
        future_to_promise(async move { SyncClient::open_async(options).await.map(JsValue::from) })
    }

    /// [`open`](Self::open) for Rust callers.
    pub async fn open_async(options: JsValue) -> Result<SyncClient, JsValue> {
        open(options).await
    }
}

/// Opens the client `options` describe.
async fn open(options: JsValue) -> Result<SyncClient, JsValue> {
    let options: Options =
        from_js(&options).map_err(|message| SyncError::new("invalid_options", message))?;
    check_token(&options)?;
    let notify_config = options.notifications.to_config()?;
    let schema = options.schema.clone().unwrap_or_else(Schema::rockon);
    let name = options
        .database_name
        .clone()
        .unwrap_or_else(|| format!("rockon-sync:{}", options.user_id));
    let store = Store::open(&name, schema.clone())
        .await
        .map_err(store_error)?;
    let listeners = Listeners::default();
    let storage_warning = StorageWarning::default();
    let warning_ratio = options.storage_warning_ratio.unwrap_or(0.8);
    watch_storage(
        &options,
        &store,
        &listeners,
        &storage_warning,
        warning_ratio,
    );
    let devtools = open_devtools(&options, &store, &listeners);
    let endpoint = Endpoint {
        base_url: options.supabase_url.clone(),
        anon_key: options.anon_key.clone(),
        token: options.access_token.clone(),
        devtools: devtools.clone(),
    };
    let tabs = Rc::new(Coordinator::default());
    let activity = open_activity(
        &store,
        &endpoint,
        &options,
        notify_config,
        &listeners,
        &tabs,
    )
    .await?;
    let writer = open_writer(
        &store, &endpoint, &options, &schema, &listeners, &activity, &tabs,
    )
    .await?;
    let sinks = ReadSinks {
        listeners: listeners.clone(),
        activity: activity.clone(),
        writer: writer.clone(),
        warning: storage_warning.clone(),
        warning_ratio,
        schema,
    };
    let reader = open_reader(&store, endpoint, &options, sinks);
    reader.set_presence_key(&options.user_id);
    let inner = Rc::new(Inner {
        store,
        writer,
        reader,
        activity,
        listeners,
        page: std::cell::RefCell::new(None),
        user_id: options.user_id,
        database: name.clone(),
        tabs,
        storage_warning,
        devtools,
    });
    super::tabs::join(&inner, &name);
    attach_page(&inner);
    Ok(SyncClient { inner })
}

/// Off unless the app asks: nothing is recorded or persisted for a dashboard.
fn open_devtools(
    options: &Options,
    store: &Rc<Store>,
    listeners: &Listeners,
) -> Option<Rc<Devtools>> {
    let devtools = options.devtools.then(|| Devtools::new(store.clone()))?;
    let keep = devtools.clone();
    listeners.set_keep(Rc::new(move |entry| keep.log(entry.clone())));
    Some(devtools)
}

/// Online, offline, visible and hidden reach the client while it lives.
fn attach_page(inner: &Rc<Inner>) {
    let weak = Rc::downgrade(inner);
    let page = PageEvents::attach(move |event| {
        if let Some(inner) = weak.upgrade() {
            SyncClient { inner }.page_event(event);
        }
    });
    *inner.page.borrow_mut() = Some(page);
}

/// One user's database must never be opened (and pushed from) with another's token.
fn check_token(options: &Options) -> Result<(), JsValue> {
    match rockon_sync_core::jwt::subject(&options.access_token) {
        Ok(subject) if subject == options.user_id => Ok(()),
        Ok(_) => Err(SyncError::new(
            "user_mismatch",
            "the access token belongs to another user than `userId`",
        )
        .into()),
        Err(error) => Err(SyncError::new("invalid_token", error.to_string()).into()),
    }
}

/// Asks for persistent storage, warns when the quota runs short, and tells the app when the
/// database closes or reopens underneath.
fn watch_storage(
    options: &Options,
    store: &Rc<Store>,
    listeners: &Listeners,
    warning: &StorageWarning,
    ratio: f64,
) {
    if options.persist_storage.unwrap_or(true) {
        // Asked once per open; browsers remember the answer.
        wasm_bindgen_futures::spawn_local(async {
            crate::io::storage::persist().await;
        });
    }
    warn_if_storage_short(listeners, warning, ratio);
    let sink = listeners.clone();
    store.set_listener(Rc::new(move |state| sink.emit(&storage_event(&state))));
}

async fn open_activity(
    store: &Rc<Store>,
    endpoint: &Endpoint,
    options: &Options,
    notify_config: rockon_sync_core::notify::NotifyConfig,
    listeners: &Listeners,
    tabs: &Rc<Coordinator>,
) -> Result<Activity, JsValue> {
    let sink = listeners.clone();
    let tabs = tabs.clone();
    Activity::new(
        store.clone(),
        endpoint.clone(),
        &options.user_id,
        notify_config,
        Box::new(move |event| {
            if let ActivityEvent::Persisted = event {
                tabs.post(TabMessage::Marks);
            }
            if let Some(event) = activity_event_to_js(&event) {
                sink.emit(&event);
            }
            for event in feed_events_to_js(&event) {
                sink.emit(&event);
            }
        }),
    )
    .await
    .map_err(store_error)
}

async fn open_writer(
    store: &Rc<Store>,
    endpoint: &Endpoint,
    options: &Options,
    schema: &Schema,
    listeners: &Listeners,
    activity: &Activity,
    tabs: &Rc<Coordinator>,
) -> Result<Writer, JsValue> {
    let backoff = options.retry_initial_ms.map(|initial_ms| BackoffPolicy {
        initial_ms,
        max_ms: 60_000,
    });
    let (schema, sink, activity, tabs) = (
        schema.clone(),
        listeners.clone(),
        activity.clone(),
        tabs.clone(),
    );
    Writer::new(
        store.clone(),
        endpoint.clone(),
        options.conflict_policy,
        backoff,
        Box::new(move |event| {
            if let WriteEvent::Change(rows) = &event {
                if rows.source == ChangeSource::Local && !tabs.is_leader() {
                    // The leading tab pushes what this one appended.
                    tabs.post(TabMessage::Outbox);
                }
                if rows.source == ChangeSource::Local {
                    // Whoever edits a row has seen it.
                    for id in &rows.ids {
                        activity.mark_read(&rows.table, id);
                    }
                }
            }
            sink.emit(&event_to_js(&event, &schema));
            if let WriteEvent::Conflict(record) = &event {
                conflict_toast(&activity, &schema, record);
            }
        }),
    )
    .await
    .map_err(store_error)
}

/// What the read path's events reach.
struct ReadSinks {
    listeners: Listeners,
    activity: Activity,
    writer: Writer,
    warning: StorageWarning,
    warning_ratio: f64,
    schema: Schema,
}

fn open_reader(
    store: &Rc<Store>,
    endpoint: Endpoint,
    options: &Options,
    sinks: ReadSinks,
) -> Reader {
    let defaults = Fallback::default();
    let fallback = Fallback {
        after_attempts: options
            .poll_after_failed_connects
            .unwrap_or(defaults.after_attempts),
        interval_ms: options.poll_interval_ms.unwrap_or(defaults.interval_ms),
        anti_entropy_ms: options
            .anti_entropy_ms
            .unwrap_or(defaults.anti_entropy_ms)
            .max(1_000),
    };
    let pending = sinks.writer.clone();
    Reader::new(
        store.clone(),
        endpoint,
        fallback,
        options.changes,
        Box::new(move |table, id| pending.status(table, id) != RowStatus::Synced),
        Box::new(move |event| on_read_event(&sinks, event)),
    )
}

fn on_read_event(sinks: &ReadSinks, event: ReadEvent) {
    match &event {
        ReadEvent::Bands { left, .. } => {
            for band in left {
                sinks.activity.mark_all_read(Some(band), None);
                sinks.activity.forget_band(band);
                purge(
                    sinks.writer.clone(),
                    sinks.listeners.clone(),
                    sinks.schema.clone(),
                    band.clone(),
                );
            }
        }
        ReadEvent::Observed { rows, quiet } => sinks.activity.observe(rows, *quiet),
        // A pull is where most data arrives: see whether storage runs short.
        ReadEvent::Progress { finished: true, .. } => {
            warn_if_storage_short(&sinks.listeners, &sinks.warning, sinks.warning_ratio)
        }
        ReadEvent::Realtime(RealtimeEvent::Connection(state)) => sinks
            .activity
            .connection(matches!(state, ConnectionState::Connected)),
        _ => {}
    }
    if let Some(event) = read_event_to_js(&event, &sinks.schema) {
        sinks.listeners.emit(&event);
    }
}

/// Emits a `storage` warning when more than `ratio` of the quota is used, and keeps the finding
/// for `connectionInfo` (an app that subscribes later still sees it).
fn warn_if_storage_short(listeners: &Listeners, warning: &StorageWarning, ratio: f64) {
    let (sink, warning) = (listeners.clone(), warning.clone());
    wasm_bindgen_futures::spawn_local(async move {
        warning.set(None);
        crate::io::storage::check(ratio, |estimate| {
            warning.set(Some(estimate));
            sink.emit(&storage_warning(&estimate))
        })
        .await;
    });
}

/// Tells the user at once that another member's change met one of their edits.
fn conflict_toast(activity: &Activity, schema: &Schema, record: &ConflictRecord) {
    let text = |row: Option<&Map<String, Value>>, column: &str| {
        row.and_then(|r| r.get(column))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    let remote = record.remote.as_ref();
    let author = text(remote, "last_modified_by");
    let label = schema
        .table(&record.table)
        .ok()
        .and_then(|spec| spec.label.clone())
        .and_then(|column| text(remote, &column).or_else(|| text(Some(&record.local), &column)));
    activity.conflict(
        author.as_deref(),
        &record.table,
        label.as_deref(),
        record.deleted_remotely,
    );
}

/// Removes a band's local rows and outbox entries after the user left it, then says so.
fn purge(writer: Writer, listeners: Listeners, schema: Schema, band: String) {
    wasm_bindgen_futures::spawn_local(async move {
        match writer.purge_band(&band).await {
            Ok(purged) => {
                for (table, ids) in purged {
                    let change = RowsChanged {
                        table,
                        scope: band.clone(),
                        ids,
                        action: ChangeAction::Delete,
                        source: ChangeSource::Purge,
                    };
                    listeners.emit(&rows_changed_to_js(&change, &schema));
                }
            }
            Err(error) => listeners.emit(&error_to_js(error.code(), &error.to_string())),
        }
    });
}
