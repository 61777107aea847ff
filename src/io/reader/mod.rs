//! The read path: band channels on the Realtime socket, remote changes applied in one
//! IndexedDB transaction per flush, and catch-up pulls from saved cursors whenever the core
//! says changes may have been missed.

use super::http::{self, Endpoint};
use super::presence::{band_of, Member, PresenceTracker};
use super::realtime_driver::RealtimeDriver;
use super::store::{self, to_js, Store, StoreError};
use super::writer::{ChangeAction, ChangeSource, RowsChanged};
use super::IdSet;
use js_sys::{Array, Reflect};
use rockon_sync_core::catchup::{Cursor, PullPlan, PullProgress};
use rockon_sync_core::notify::Action;
use rockon_sync_core::outbox::{HttpRequest, HttpResult};
use rockon_sync_core::realtime::{
    ChangeKind, ChannelConfig, ChannelState, ConnectionState, Event, PostgresBinding,
    PostgresChange, RealtimeConfig,
};
use rockon_sync_core::schema::TableSchema;
use rockon_sync_core::sorted::{SortedMap, SortedSet};
use rockon_sync_core::sync::{CatchUpSchedule, Due, ScheduleConfig};
use rockon_sync_core::unread::ObservedRow;
use serde_json::Value;
use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};
use wasm_bindgen::JsValue;

mod bands;
mod pull;
use bands::{follow_band, reconcile_memberships};
use pull::{parse_rows, start_pull};

/// When the socket cannot connect, how the reader falls back to pulling over REST.
#[derive(Debug, Clone, Copy)]
pub struct Fallback {
    /// Failed connects before polling starts.
    pub after_attempts: u32,
    /// Milliseconds between polls.
    pub interval_ms: u32,
    /// Milliseconds between anti-entropy pulls while the page is visible, even with the
    /// socket up (jittered by ±25 %): Realtime is a hint, and a change its stream lost (say,
    /// across a restart of the server's change stream) is repaired by the next one.
    pub anti_entropy_ms: u32,
}

impl Default for Fallback {
    fn default() -> Self {
        Self {
            after_attempts: 3,
            interval_ms: 30_000,
            anti_entropy_ms: 60_000,
        }
    }
}
/// How other members' changes reach the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
pub enum ChangeDelivery {
    /// Broadcast from Database (migration 0004's triggers): one private topic per band and one
    /// per user, admitted by the `realtime.messages` policies once per join. The server does
    /// no work per subscriber and change, so it scales with the number of people online.
    #[default]
    #[serde(rename = "broadcast")]
    Broadcast,
    /// `postgres_changes`: a binding per table on the band channel and one on the user's
    /// memberships; the server checks every change against every subscriber's row security.
    #[serde(rename = "postgres_changes")]
    PostgresChanges,
}

/// What the read path tells the app.
pub enum ReadEvent {
    /// Rows changed by others (`remote`) or found by a catch-up pull (`pull`).
    Change(RowsChanged),
    /// Who changed which rows how, for unread marks and notifications. `quiet` for a band's
    /// first download, which is neither unread nor news.
    Observed {
        /// The rows written or deleted.
        rows: Vec<ObservedRow>,
        /// A first download.
        quiet: bool,
    },
    /// The user's bands changed (joined or created elsewhere, left or removed).
    Bands {
        /// Bands now followed.
        joined: Vec<String>,
        /// Bands no longer reachable: their local data must go.
        left: Vec<String>,
        /// All bands followed now.
        current: Vec<String>,
    },
    /// Connection, channel and protocol news from the Realtime engine.
    Realtime(Event),
    /// Who of a band is online now.
    Presence {
        /// The band.
        band: String,
        /// Its members online.
        members: Vec<Member>,
    },
    /// How far a band's catch-up pull has come; `finished` once every table was read.
    Progress {
        /// The band.
        band: String,
        /// Rows read of rows expected.
        progress: PullProgress,
        /// The pull is over.
        finished: bool,
    },
    /// A failure while applying or pulling.
    Error {
        /// Stable code.
        code: &'static str,
        /// Message.
        message: String,
    },
}

/// What the app can show about the connection (the dashboard's connection panel).
#[derive(Debug, Clone, Default, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConnectionInfo {
    /// `disconnected`, `connecting`, `connected`, `reconnecting`, `offline` or `error`.
    pub state: String,
    /// The last heartbeat round trip.
    pub latency_ms: Option<u64>,
    /// Reconnect attempts since the client opened.
    pub reconnects: u32,
    /// The last connection or channel error.
    pub last_error: Option<String>,
    /// Whether REST polling stands in for the socket.
    pub polling: bool,
    /// Bands followed.
    pub bands: Vec<String>,
    /// When the server last confirmed this client's state (epoch ms): a band's catch-up pull
    /// completed, or (added by the client) a push settled.
    pub last_synced_at: Option<f64>,
    /// Bands whose catch-up pull is running, with rows read of rows expected.
    pub progress: SortedMap<String, PullProgress>,
}

/// Whether a row has local edits waiting in the outbox (those are never overwritten).
pub type LocalEdits = Box<dyn Fn(&str, &str) -> bool>;

/// The read path of one client.
pub struct Reader {
    inner: Rc<Inner>,
}

struct Inner {
    store: Rc<Store>,
    endpoint: RefCell<Endpoint>,
    driver: RefCell<Option<RealtimeDriver>>,
    pending: RefCell<Vec<PostgresChange>>,
    flush_scheduled: Cell<bool>,
    pulling: RefCell<SortedSet<String>>,
    user: RefCell<Option<String>>,
    bands: RefCell<SortedSet<String>>,
    reconciling: Cell<bool>,
    /// Anti-entropy pulls, polling while the socket fails, memberships retries: the core
    /// decides when; one timer wakes it.
    schedule: RefCell<CatchUpSchedule>,
    schedule_timer: RefCell<Option<gloo_timers::callback::Timeout>>,
    changes: ChangeDelivery,
    info: RefCell<ConnectionInfo>,
    pull_again: RefCell<SortedSet<String>>,
    has_local_edits: LocalEdits,
    presence: PresenceTracker,
    /// When presence updates held back by the rate budget may go.
    presence_due: Cell<Option<rockon_sync_core::Millis>>,
    on_event: Box<dyn Fn(ReadEvent)>,
}

impl Reader {
    /// A reader; the socket opens on [`connect`](Self::connect).
    pub fn new(
        store: Rc<Store>,
        endpoint: Endpoint,
        fallback: Fallback,
        changes: ChangeDelivery,
        has_local_edits: LocalEdits,
        on_event: Box<dyn Fn(ReadEvent)>,
    ) -> Reader {
        let config = RealtimeConfig::new(
            format!("{}/realtime/v1", endpoint.base_url.trim_end_matches('/')),
            endpoint.anon_key.clone(),
        );
        let inner = Rc::new(Inner {
            store,
            endpoint: RefCell::new(endpoint),
            driver: RefCell::new(None),
            pending: RefCell::new(Vec::new()),
            flush_scheduled: Cell::new(false),
            pulling: RefCell::new(SortedSet::new()),
            user: RefCell::new(None),
            bands: RefCell::new(SortedSet::new()),
            reconciling: Cell::new(false),
            schedule: RefCell::new(CatchUpSchedule::new(
                ScheduleConfig {
                    anti_entropy_ms: u64::from(fallback.anti_entropy_ms),
                    poll_after_attempts: fallback.after_attempts,
                    poll_interval_ms: u64::from(fallback.interval_ms),
                },
                super::clock::seed(),
            )),
            schedule_timer: RefCell::new(None),
            changes,
            info: RefCell::new(ConnectionInfo {
                state: "disconnected".into(),
                ..ConnectionInfo::default()
            }),
            pull_again: RefCell::new(SortedSet::new()),
            has_local_edits,
            presence: PresenceTracker::default(),
            presence_due: Cell::new(None),
            on_event,
        });
        let weak = Rc::downgrade(&inner);
        let driver = RealtimeDriver::new(
            config,
            Box::new(move |event| {
                if let Some(inner) = weak.upgrade() {
                    on_realtime(&inner, event);
                }
            }),
        );
        *inner.driver.borrow_mut() = Some(driver);
        Reader { inner }
    }

    fn run(
        &self,
        command: impl FnOnce(&mut rockon_sync_core::realtime::Realtime, rockon_sync_core::Millis),
    ) {
        with_engine(&self.inner, command);
    }

    /// Opens the socket with the current token.
    pub fn connect(&self) {
        let token = self.inner.endpoint.borrow().token.clone();
        self.run(|engine, now| {
            engine.set_token(now, token);
            engine.connect(now);
        });
    }

    /// Follows a band: joins its channel (changes to its songs, setlists, shows and practice
    /// sessions) and pulls what changed since the saved cursor once subscribed.
    pub fn follow_band(&self, band_id: &str) -> Result<(), String> {
        follow_band(&self.inner, band_id)
    }

    /// Follows the user's memberships: every band they belong to now, or join or create later,
    /// is followed; a band they leave or are removed from is left and purged.
    pub fn follow_user(&self, user_id: &str) -> Result<(), String> {
        *self.inner.user.borrow_mut() = Some(user_id.to_owned());
        self.inner
            .schedule
            .borrow_mut()
            .follow_user(super::clock::now());
        reschedule(&self.inner);
        self.inner.presence.set_key(user_id);
        // The user's own topic: told when a membership of theirs changes (a band joined, left
        // or removed from), whichever way changes arrive.
        let config = match self.inner.changes {
            ChangeDelivery::Broadcast => ChannelConfig {
                private: true,
                database_broadcasts: true,
                ..ChannelConfig::default()
            },
            ChangeDelivery::PostgresChanges => ChannelConfig {
                postgres_changes: vec![PostgresBinding::table_eq(
                    "band_memberships",
                    "user_id",
                    user_id,
                )],
                ..ChannelConfig::default()
            },
        };
        let name = format!("user:{user_id}");
        let mut result = Ok(());
        with_engine(&self.inner, |engine, now| {
            result = engine
                .join(now, &name, config)
                .map(|_| ())
                .map_err(|e| e.to_string());
        });
        result
    }

    /// Uses a new token for the socket and for pulls; triggers a catch-up.
    pub fn set_token(&self, token: String) {
        self.inner.endpoint.borrow_mut().token = token.clone();
        self.run(|engine, now| engine.set_token(now, token));
    }

    /// Tells the engine the network or the page's visibility changed.
    pub fn input(&self, input: rockon_sync_core::realtime::Input<'static>) {
        match input {
            rockon_sync_core::realtime::Input::Visible => {
                self.inner.schedule.borrow_mut().set_visible(true)
            }
            rockon_sync_core::realtime::Input::Hidden => {
                self.inner.schedule.borrow_mut().set_visible(false)
            }
            _ => {}
        }
        self.run(|engine, now| engine.handle_input(now, input));
    }

    /// Where pulls go, with the current token.
    pub fn endpoint(&self) -> Endpoint {
        self.inner.endpoint.borrow().clone()
    }

    /// The connection as the app shows it.
    pub fn info(&self) -> ConnectionInfo {
        let mut info = self.inner.info.borrow().clone();
        info.polling = self.inner.schedule.borrow().is_polling();
        info.bands = self.inner.bands.borrow().iter().cloned().collect();
        info
    }

    /// Tracks under `key` (the user id) on band channels joined from now on.
    pub fn set_presence_key(&self, key: &str) {
        self.inner.presence.set_key(key);
    }

    /// Shows `meta` (what the user is viewing) to the band's members online.
    pub fn set_presence(&self, band: &str, meta: Value) {
        self.inner.presence.want(band, meta);
        flush_presence(&self.inner);
    }

    /// The band's members online now.
    pub fn members(&self, band: &str) -> Vec<Member> {
        self.inner.presence.members(band)
    }

    /// The members other than `me` editing row `id` of `table` now.
    pub fn editors(&self, table: &str, id: &str, me: &str) -> Vec<Member> {
        self.inner.presence.editors(table, id, me)
    }

    /// Reconnects now (after a failure or during a backoff).
    pub fn retry(&self) {
        self.run(|engine, now| engine.retry(now));
    }

    /// Closes the socket and stops polling for good.
    pub fn close(&self) {
        self.inner.schedule_timer.borrow_mut().take();
        self.run(|engine, now| engine.disconnect(now));
        self.inner.driver.borrow_mut().take();
    }

    /// Pulls a band's tables now.
    pub fn pull(&self, band_id: &str) {
        start_pull(&self.inner, band_id.to_owned());
    }
}

/// Runs a command on the engine. No borrow of the reader is held while it runs: the events it
/// delivers may reach a listener that calls back in, even to close the client (which drops the
/// driver).
fn with_engine(
    inner: &Inner,
    command: impl FnOnce(&mut rockon_sync_core::realtime::Realtime, rockon_sync_core::Millis),
) {
    let handle = inner.driver.borrow().as_ref().map(RealtimeDriver::handle);
    if let Some(handle) = handle {
        handle.run(command);
    }
}

/// Sets the read path's one timer to the next deadline: its schedule's, or held-back presence.
fn reschedule(inner: &Rc<Inner>) {
    let scheduled = inner.schedule.borrow().poll_timeout();
    let due = match (scheduled, inner.presence_due.get()) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    let timer = due.map(|at| {
        let weak = Rc::downgrade(inner);
        let delay = at.since(super::clock::now()).min(u64::from(u32::MAX)) as u32;
        gloo_timers::callback::Timeout::new(delay, move || {
            if let Some(inner) = weak.upgrade() {
                let now = super::clock::now();
                let dues = inner.schedule.borrow_mut().handle_timeout(now);
                carry_out(&inner, &dues);
                if inner.presence_due.get().is_some_and(|at| at <= now) {
                    flush_presence(&inner);
                }
                reschedule(&inner);
            }
        })
    });
    *inner.schedule_timer.borrow_mut() = timer;
}

/// Pulls every followed band from its cursor (a keyset query: cheap when nothing changed),
/// and re-reads the memberships, as the schedule says.
fn carry_out(inner: &Rc<Inner>, dues: &[Due]) {
    for due in dues {
        match due {
            Due::Memberships if inner.user.borrow().is_some() => reconcile_memberships(inner),
            Due::Memberships => {}
            Due::PullBands => {
                let bands: Vec<String> = inner.bands.borrow().iter().cloned().collect();
                for band in bands {
                    start_pull(inner, band);
                }
            }
        }
    }
}

fn on_realtime(inner: &Rc<Inner>, event: Event) {
    match event {
        // Membership changes (joined, added, removed, left) re-read the user's bands.
        Event::Change(change) if change.table == "band_memberships" => reconcile_memberships(inner),
        Event::Change(change) => {
            inner.pending.borrow_mut().push(change);
            if !inner.flush_scheduled.replace(true) {
                let weak = Rc::downgrade(inner);
                // Everything that arrived in this burst goes into one transaction.
                wasm_bindgen_futures::spawn_local(async move {
                    if let Some(inner) = weak.upgrade() {
                        flush(&inner).await;
                    }
                });
            }
        }
        Event::CatchUp { topic, .. } => {
            if let Some(band) = topic.strip_prefix("realtime:band:") {
                start_pull(inner, band.to_owned());
            } else if topic.starts_with("realtime:user:") {
                reconcile_memberships(inner);
            }
        }
        Event::Connection(state) => {
            {
                let mut info = inner.info.borrow_mut();
                info.state = state.as_str().to_owned();
                if let ConnectionState::Reconnecting { .. } = state {
                    info.reconnects += 1;
                }
                if let ConnectionState::Error { reason } = &state {
                    info.last_error = Some(reason.clone());
                }
            }
            let dues = inner
                .schedule
                .borrow_mut()
                .connection(super::clock::now(), &state);
            carry_out(inner, &dues);
            reschedule(inner);
            (inner.on_event)(ReadEvent::Realtime(Event::Connection(state)));
        }
        Event::Presence { topic, state, .. } => {
            if let Some(band) = band_of(&topic) {
                let members = inner.presence.update(band, &state);
                (inner.on_event)(ReadEvent::Presence {
                    band: band.to_owned(),
                    members,
                });
            }
        }
        other => {
            match &other {
                Event::Channel {
                    topic,
                    state: ChannelState::Joined,
                } => {
                    inner.presence.rejoined(topic);
                    flush_presence(inner);
                }
                Event::Latency { ms } => inner.info.borrow_mut().latency_ms = Some(*ms),
                Event::ChannelError { cause, .. } => {
                    inner.info.borrow_mut().last_error = Some(cause.to_string())
                }
                _ => {}
            }
            (inner.on_event)(ReadEvent::Realtime(other))
        }
    }
}

/// Sends the presence updates the budget allows; the rest wait for the read path's timer.
fn flush_presence(inner: &Rc<Inner>) {
    let mut due = None;
    with_engine(inner, |engine, now| {
        due = inner
            .presence
            .flush(now, |topic, meta| engine.track(now, topic, meta).is_ok());
    });
    inner.presence_due.set(due);
    reschedule(inner);
}

/// What the read path needs of a changed row, read from its text in one pass.
struct ChangedRow {
    id: Option<String>,
    scope: String,
    deleted: bool,
    author: Option<String>,
    label: Option<String>,
}

impl ChangedRow {
    fn read(spec: &TableSchema, change: &PostgresChange) -> ChangedRow {
        let text = |value: Option<Value>| match value {
            Some(Value::String(text)) => Some(text),
            _ => None,
        };
        let Some(record) = &change.record else {
            // A delete, or a row too large to send: only the old row's key is known.
            let id = change.old_record.as_ref().and_then(|r| r.str_field("id"));
            return ChangedRow {
                id,
                scope: String::new(),
                deleted: true,
                author: None,
                label: None,
            };
        };
        // A table without a label column asks for `id` twice; the first slot gets it.
        let label = spec.label.as_deref().unwrap_or("id");
        let [id, scope, deleted_at, author, label_value] =
            record.fields(["id", &spec.scope, "deleted_at", "last_modified_by", label]);
        ChangedRow {
            id: text(id),
            scope: text(scope).unwrap_or_default(),
            deleted: text(deleted_at).is_some(),
            author: text(author),
            label: spec.label.as_ref().and(text(label_value)),
        }
    }
}

/// Applies buffered changes until none are left. Frames that arrive while a transaction is
/// committing wait in the buffer and go into the next one, so a burst costs a handful of
/// transactions, not one per change.
async fn flush(inner: &Rc<Inner>) {
    loop {
        let changes = std::mem::take(&mut *inner.pending.borrow_mut());
        if changes.is_empty() {
            inner.flush_scheduled.set(false);
            return;
        }
        apply_changes(inner, changes).await;
    }
}

/// Changes sorted for one transaction: rows per table as one JSON array text, deletions, the
/// rows touched per table, band and action, and who changed what.
#[derive(Default)]
struct Sorted {
    rows: SortedMap<String, String>,
    deletions: Vec<(String, String)>,
    touched: SortedMap<(String, String, ChangeAction), Vec<String>>,
    observed: Vec<ObservedRow>,
}

async fn apply_changes(inner: &Rc<Inner>, changes: Vec<PostgresChange>) {
    let sorted = sort_changes(inner, changes);
    let rows: Vec<(String, Array)> = sorted
        .rows
        .into_iter()
        .map(|(table, mut batch)| {
            batch.push(']');
            let parsed =
                js_sys::JSON::parse(&batch).map(wasm_bindgen::JsCast::unchecked_into::<Array>);
            (table, parsed.unwrap_or_default())
        })
        .collect();
    match inner
        .store
        .apply_batch(&rows, &sorted.deletions, None)
        .await
    {
        Ok(written) => {
            let written: IdSet = written.into_iter().collect();
            tell_applied(inner, &written, sorted.observed, sorted.touched);
        }
        Err(error) => report(inner, &error),
    }
}

/// Sorts changes for one transaction. Rows with local edits are skipped (their pending push is
/// conditional on its base version and meets the change as a conflict); rows too large to
/// send are fetched.
fn sort_changes(inner: &Rc<Inner>, changes: Vec<PostgresChange>) -> Sorted {
    let schema = inner.store.schema().clone();
    let mut sorted = Sorted::default();
    for change in changes {
        let Ok(spec) = schema.table(&change.table) else {
            (inner.on_event)(ReadEvent::Error {
                code: "unknown_table",
                message: format!(
                    "a change for table {:?}, which the schema does not have",
                    change.table
                ),
            });
            continue;
        };
        if let Some(devtools) = &inner.endpoint.borrow().devtools {
            if let Some(micros) = rockon_sync_core::catchup::parse_micros(&change.commit_timestamp)
            {
                devtools.latency(js_sys::Date::now() - micros as f64 / 1000.0);
            }
        }
        let row = ChangedRow::read(spec, &change);
        let Some(id) = row.id.clone() else {
            continue;
        };
        if (inner.has_local_edits)(&change.table, &id) {
            continue;
        }
        if change.needs_fetch() {
            fetch_row(inner, change.table.clone(), id);
            continue;
        }
        let scope = row.scope.clone();
        sorted.observed.push(observe_change(spec, change.kind, row));
        match (change.kind, &change.record) {
            (ChangeKind::Delete, _) | (_, None) => {
                sorted.deletions.push((change.table.clone(), id.clone()));
                sorted
                    .touched
                    .get_or_insert_with(
                        (change.table.clone(), scope, ChangeAction::Delete),
                        Vec::new,
                    )
                    .push(id);
            }
            (_, Some(record)) => {
                let batch = sorted
                    .rows
                    .get_or_insert_with(change.table.clone(), || "[".to_owned());
                if batch.len() > 1 {
                    batch.push(',');
                }
                batch.push_str(record.json());
                sorted
                    .touched
                    .get_or_insert_with(
                        (change.table.clone(), scope, ChangeAction::Upsert),
                        Vec::new,
                    )
                    .push(id);
            }
        }
    }
    sorted
}

/// Tells the app what a flush wrote. The echo of this client's own write was not written (its
/// version is not newer): it is neither news nor a change.
fn tell_applied(
    inner: &Rc<Inner>,
    written: &IdSet,
    mut observed: Vec<ObservedRow>,
    touched: SortedMap<(String, String, ChangeAction), Vec<String>>,
) {
    observed.retain(|row| row.action == Action::Deleted || written.contains(&row.id));
    if !observed.is_empty() {
        (inner.on_event)(ReadEvent::Observed {
            rows: observed,
            quiet: false,
        });
    }
    for ((table, scope, action), mut ids) in touched {
        if action == ChangeAction::Upsert {
            ids.retain(|id| written.contains(id));
        }
        if ids.is_empty() {
            continue;
        }
        (inner.on_event)(ReadEvent::Change(RowsChanged {
            table,
            scope,
            ids,
            action,
            source: ChangeSource::Remote,
        }));
    }
}

fn report(inner: &Inner, error: &StoreError) {
    (inner.on_event)(ReadEvent::Error {
        code: error.code(),
        message: error.to_string(),
    });
}

fn fetch_row(inner: &Rc<Inner>, table: String, id: String) {
    let weak = Rc::downgrade(inner);
    wasm_bindgen_futures::spawn_local(async move {
        let Some(inner) = weak.upgrade() else { return };
        let request = HttpRequest::get(format!(
            "/rest/v1/{table}?id=eq.{}&select=*",
            rockon_sync_core::percent_encode(&id)
        ));
        let endpoint = inner.endpoint.borrow().clone();
        if let HttpResult::Response { status: 200, body } = http::send(&endpoint, &request).await {
            if let Ok(rows) = parse_rows(&body) {
                if let Err(error) = inner
                    .store
                    .apply_batch(&[(table.clone(), rows)], &[], None)
                    .await
                {
                    report(&inner, &error);
                }
            }
        }
    });
}

/// Who changed a row how, from a Realtime change. A hard delete carries no author.
fn observe_change(spec: &TableSchema, kind: ChangeKind, row: ChangedRow) -> ObservedRow {
    let action = match kind {
        ChangeKind::Delete => Action::Deleted,
        _ if row.deleted => Action::Deleted,
        ChangeKind::Insert => Action::Added,
        ChangeKind::Update => Action::Updated,
    };
    ObservedRow {
        table: spec.name.clone(),
        scope: row.scope,
        id: row.id.unwrap_or_default(),
        author: row.author,
        label: row.label,
        action,
    }
}
