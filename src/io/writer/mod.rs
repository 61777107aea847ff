//! The write path: optimistic local writes into IndexedDB with their outbox entries, and the
//! drain that pushes them to the REST API, driven by the core's outbox rules.

use super::clock;
use super::http::{self, Endpoint};
use super::store::{self, from_js, Store, StoreError, Write};
use gloo_timers::callback::Timeout;
use rockon_sync_core::backoff::BackoffPolicy;
use rockon_sync_core::merge::{ConflictPolicy, Resolution};
use rockon_sync_core::outbox::{
    ConflictRecord, Effect, Entry, Op, Outbox, PushError, RowStatus, WriteRefused,
};
use rockon_sync_core::schema::{camel_to_snake, SchemaError};
use rockon_sync_core::sorted::SortedSet;
use serde_json::{Map, Value};
use std::cell::{Cell, RefCell};
use std::fmt;
use std::rc::{Rc, Weak};
use wasm_bindgen::JsValue;

mod drain;
use drain::{apply, kick};

/// Rows of one table and band that changed in the local store.
#[derive(Debug, Clone, PartialEq)]
pub struct RowsChanged {
    /// Wire table name.
    pub table: String,
    /// The rows' scope (band).
    pub scope: String,
    /// The rows.
    pub ids: Vec<String>,
    /// `insert`, `update`, `upsert` or `delete`.
    pub action: &'static str,
    /// `local` for the app's own writes; `server` when the server's row replaced the local
    /// copy (new version, timestamps) or a merge changed it; `remote` for other members'
    /// changes; `pull` for rows a catch-up found.
    pub source: &'static str,
}

/// What the write path tells the app.
#[derive(Debug, Clone, PartialEq)]
pub enum WriteEvent {
    /// Rows changed.
    Change(RowsChanged),
    /// A row's sync status changed.
    Status {
        /// Wire table name.
        table: String,
        /// The row.
        id: String,
        /// The status.
        status: RowStatus,
    },
    /// A conflict was settled; both versions are in the record.
    Conflict(ConflictRecord),
    /// Pushes wait for a new access token.
    NeedToken,
    /// A failure the app should show.
    Error {
        /// Stable code.
        code: &'static str,
        /// Message.
        message: String,
    },
}

/// Why a write was refused. Nothing was written.
#[derive(Debug, Clone, PartialEq)]
pub enum WriteError {
    /// The schema does not allow it.
    Schema(SchemaError),
    /// No such row.
    NotFound {
        /// Wire table name.
        table: String,
        /// The row.
        id: String,
    },
    /// The row is deleted.
    Deleted,
    /// The row has no conflict to resolve.
    NoConflict,
    /// A resolution named a field the conflict is not about.
    NotInConflict(String),
    /// Storage failed.
    Store(StoreError),
}

impl WriteError {
    /// A stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            WriteError::Schema(e) => e.code(),
            WriteError::NotFound { .. } => "not_found",
            WriteError::Deleted => "row_deleted",
            WriteError::NoConflict => "no_conflict",
            WriteError::NotInConflict(_) => "not_in_conflict",
            WriteError::Store(e) => e.code(),
        }
    }
}

impl fmt::Display for WriteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WriteError::Schema(e) => e.fmt(f),
            WriteError::NotFound { table, id } => write!(f, "no row {id} in {table}"),
            WriteError::Deleted => f.write_str("the row is deleted"),
            WriteError::NoConflict => f.write_str("the row has no conflict to resolve"),
            WriteError::NotInConflict(field) => {
                write!(f, "{field} is not a field of this conflict")
            }
            WriteError::Store(e) => e.fmt(f),
        }
    }
}

impl From<StoreError> for WriteError {
    fn from(e: StoreError) -> Self {
        WriteError::Store(e)
    }
}

impl From<SchemaError> for WriteError {
    fn from(e: SchemaError) -> Self {
        WriteError::Schema(e)
    }
}

/// Sequence numbers are `milliseconds * SEQ_SALTS + salt`: below 2^53 (exact in IndexedDB's
/// numbers) for centuries.
const SEQ_SALTS: u64 = 2048;

/// The write path of one client (a handle: clones share it).
#[derive(Clone)]
pub struct Writer {
    inner: Rc<Inner>,
}

struct Inner {
    store: Rc<Store>,
    /// Rows with an unacknowledged conflict record (`table:id`).
    conflicted: RefCell<rockon_sync_core::sorted::SortedSet<String>>,
    outbox: RefCell<Outbox>,
    endpoint: RefCell<Endpoint>,
    draining: Cell<bool>,
    /// Set by [`Writer::stop`]: no more pushes.
    stopped: Cell<bool>,
    /// Whether this tab leads: only the leader pushes; the others append to the outbox.
    leader: Cell<bool>,
    /// The page is offline (or the app said so): pushes wait for the network.
    offline: Cell<bool>,
    /// This tab's salt in sequence numbers, so tabs writing in the same millisecond differ.
    salt: Cell<u64>,
    /// When a push last settled (epoch ms; 0 before the first).
    last_confirmed: Cell<f64>,
    timer: RefCell<Option<Timeout>>,
    on_event: Box<dyn Fn(WriteEvent)>,
}

/// The app's row (camelCase) as wire columns.
fn to_wire(row: &Map<String, Value>) -> Map<String, Value> {
    row.iter()
        .map(|(k, v)| (camel_to_snake(k), v.clone()))
        .collect()
}

fn js_to_map(value: &JsValue) -> Option<Map<String, Value>> {
    match store::from_js::<Value>(value) {
        Ok(Value::Object(map)) => Some(map),
        _ => None,
    }
}

impl Writer {
    /// A writer on `store`, resuming the persisted outbox.
    pub async fn new(
        store: Rc<Store>,
        endpoint: Endpoint,
        policy: ConflictPolicy,
        backoff: Option<BackoffPolicy>,
        on_event: Box<dyn Fn(WriteEvent)>,
    ) -> Result<Writer, StoreError> {
        let entries = store.outbox().await?;
        let conflicted = store
            .conflicts()
            .await?
            .iter()
            .filter_map(|record| {
                js_sys::Reflect::get(record, &"key".into())
                    .ok()?
                    .as_string()
            })
            .collect();
        let mut outbox = Outbox::new(entries, policy, clock::seed());
        // Until this tab leads it only appends: another tab may be pushing the stored entries,
        // and folding an edit into one of them would be lost when that push settles.
        outbox.set_append_only(true);
        if let Some(backoff) = backoff {
            outbox.set_backoff(backoff);
        }
        let writer = Writer {
            inner: Rc::new(Inner {
                store,
                conflicted: RefCell::new(conflicted),
                outbox: RefCell::new(outbox),
                endpoint: RefCell::new(endpoint),
                draining: Cell::new(false),
                stopped: Cell::new(false),
                leader: Cell::new(false),
                offline: Cell::new(false),
                salt: Cell::new(new_salt()),
                last_confirmed: Cell::new(0.0),
                timer: RefCell::new(None),
                on_event,
            }),
        };
        writer.kick();
        Ok(writer)
    }

    /// The outbox entries, in push order.
    pub fn entries(&self) -> Vec<Entry> {
        self.inner.outbox.borrow().entries().cloned().collect()
    }

    /// Writes waiting for the server, and writes it refused (parked until retried or
    /// discarded).
    pub fn counts(&self) -> (usize, usize) {
        let outbox = self.inner.outbox.borrow();
        let failed = outbox.entries().filter(|e| e.failed.is_some()).count();
        (outbox.entries().count() - failed, failed)
    }

    /// When a push of this tab last settled (epoch ms).
    pub fn last_confirmed(&self) -> Option<f64> {
        Some(self.inner.last_confirmed.get()).filter(|at| *at > 0.0)
    }

    /// A row's sync status.
    pub fn status(&self, table: &str, id: &str) -> RowStatus {
        self.inner.outbox.borrow().status(table, id)
    }

    /// Whether the row has a conflict the user has not acknowledged.
    pub fn has_conflict(&self, table: &str, id: &str) -> bool {
        self.inner
            .conflicted
            .borrow()
            .contains(&format!("{table}:{id}"))
    }

    /// Acknowledges a row's conflict: the record is removed.
    pub async fn acknowledge(&self, table: &str, id: &str) -> Result<(), StoreError> {
        let key = format!("{table}:{id}");
        self.inner
            .store
            .write(&[Write::RemoveConflict(key.clone())])
            .await?;
        self.inner.conflicted.borrow_mut().remove(&key);
        let status = self.status(table, id);
        (self.inner.on_event)(WriteEvent::Status {
            table: table.to_owned(),
            id: id.to_owned(),
            status,
        });
        Ok(())
    }

    /// Creates a row: checked by the schema, written with its outbox entry in one transaction.
    /// Returns the stored row in the app's shape.
    pub async fn create(
        &self,
        table: &str,
        values: Map<String, Value>,
    ) -> Result<Map<String, Value>, WriteError> {
        let spec = self.inner.store.schema().table(table)?.clone();
        let mut values = values;
        values
            .entry("id")
            .or_insert_with(|| Value::String(new_uuid()));
        let wire = spec.to_wire_write(&values, true)?;
        let id = wire["id"].as_str().unwrap_or_default().to_owned();
        let mut row = wire.clone();
        row.insert("version".into(), Value::from(0));
        row.insert("deleted_at".into(), Value::Null);
        self.write_through(table, &id, Op::Insert, wire, None, &row)
            .await?;
        Ok(rockon_sync_core::schema::to_app(&row))
    }

    /// Changes fields of a row.
    pub async fn update(
        &self,
        table: &str,
        id: &str,
        patch: Map<String, Value>,
    ) -> Result<Map<String, Value>, WriteError> {
        let spec = self.inner.store.schema().table(table)?.clone();
        let wire_patch = spec.to_wire_write(&patch, false)?;
        let current = self.current(table, id).await?;
        if current.get("deleted_at").is_some_and(|v| !v.is_null()) {
            return Err(WriteError::Deleted);
        }
        let mut row = current.clone();
        row.extend(wire_patch.clone());
        self.write_through(
            table,
            id,
            Op::Update,
            wire_patch,
            Some(current.clone()),
            &row,
        )
        .await?;

        Ok(rockon_sync_core::schema::to_app(&row))
    }

    /// Deletes a row: a tombstone locally at once, on the server when pushed.
    pub async fn remove(&self, table: &str, id: &str) -> Result<(), WriteError> {
        self.inner.store.schema().table(table)?;
        let current = self.current(table, id).await?;
        if current.get("deleted_at").is_some_and(|v| !v.is_null()) {
            return Ok(());
        }
        let mut row = current.clone();
        let now = js_sys::Date::new_0()
            .to_iso_string()
            .as_string()
            .unwrap_or_default();
        row.insert("deleted_at".into(), Value::String(now.clone()));
        let mut fields = Map::new();
        fields.insert("deleted_at".into(), Value::String(now));
        self.write_through(table, id, Op::Delete, fields, Some(current.clone()), &row)
            .await?;

        Ok(())
    }

    /// Settles a row's conflict as the user chose: what the row does not hold yet is pushed as
    /// an ordinary conditional update (a row the server deleted comes back if the user keeps
    /// theirs), and the conflict record goes.
    pub async fn resolve_conflict(
        &self,
        table: &str,
        id: &str,
        resolution: Resolution,
    ) -> Result<(), WriteError> {
        let spec = self.inner.store.schema().table(table)?.clone();
        let record = self
            .inner
            .store
            .conflicts()
            .await?
            .iter()
            .filter_map(|value| from_js::<Value>(value).ok())
            .filter_map(|stored| ConflictRecord::from_json(&stored))
            .find(|record| record.table == table && record.row_id == id)
            .ok_or(WriteError::NoConflict)?;
        let current = self.current(table, id).await?;
        let editable: Vec<&str> = spec.fields.iter().map(|f| f.name.as_str()).collect();
        let patch = rockon_sync_core::merge::resolve(
            &record.fields,
            record.deleted_remotely,
            &record.local,
            &current,
            &editable,
            &resolution,
        )
        .map_err(|e| WriteError::NotInConflict(e.0))?;
        if !patch.is_empty() {
            let mut row = current.clone();
            row.extend(patch.clone());
            self.write_through(table, id, Op::Update, patch, Some(current), &row)
                .await?;
        }
        self.acknowledge(table, id).await?;
        Ok(())
    }

    /// Retries a failed entry.
    pub async fn retry(&self, seq: u64) -> Result<(), StoreError> {
        let effects = self.inner.outbox.borrow_mut().retry(seq);
        apply(&self.inner, effects).await?;
        self.kick();
        Ok(())
    }

    /// Discards an entry; the local row goes back to the server's version (or away, for an
    /// insert the server never took).
    pub async fn discard(&self, seq: u64) -> Result<bool, StoreError> {
        let Some((entry, effects)) = self.inner.outbox.borrow_mut().discard(seq) else {
            return Ok(false);
        };
        let mut writes = vec![Write::RemoveEntry(seq)];
        match (&entry.op, &entry.base) {
            (Op::Insert, _) => writes.push(Write::DeleteRow {
                table: entry.table.clone(),
                id: entry.row_id.clone(),
            }),
            (_, Some(base)) => writes.push(Write::Row {
                table: entry.table.clone(),
                row: base.clone(),
            }),
            _ => {}
        }
        self.inner.store.write(&writes).await?;
        for effect in effects {
            if let Effect::Status {
                table,
                row_id,
                status,
            } = effect
            {
                (self.inner.on_event)(WriteEvent::Status {
                    table,
                    id: row_id,
                    status,
                });
            }
        }
        self.emit_change(&entry.table, "", &entry.row_id, "update", "local");
        Ok(true)
    }

    /// Forgets a band the user left or was removed from: its rows go, in one transaction. Its
    /// pending writes do not: they are parked as failed (`not_a_member`), with their rows, so
    /// the user's values stay visible until they are retried (once re-added) or discarded.
    /// Returns the removed row ids per table.
    pub async fn purge_band(&self, band: &str) -> Result<Vec<(String, Vec<String>)>, StoreError> {
        let schema = self.inner.store.schema().clone();
        let in_band = |entry: &Entry| {
            let Ok(spec) = schema.table(&entry.table) else {
                return false;
            };
            let scope_of = |row: &Option<Map<String, Value>>| {
                row.as_ref()
                    .and_then(|r| r.get(&spec.scope))
                    .and_then(Value::as_str)
                    == Some(band)
            };
            scope_of(&Some(entry.fields.clone())) || scope_of(&entry.base)
        };
        let error = PushError {
            status: 403,
            code: Some("not_a_member".into()),
            message: format!(
                "no longer a member of band {band}: retry once re-added, or discard the write"
            ),
        };
        let effects = self.inner.outbox.borrow_mut().fail_where(in_band, &error);
        apply(&self.inner, effects).await?;
        let kept: SortedSet<(String, String)> = self
            .inner
            .outbox
            .borrow()
            .entries()
            .filter(|e| in_band(e))
            .map(|e| (e.table.clone(), e.row_id.clone()))
            .collect();
        let mut writes = Vec::new();
        let mut purged = Vec::new();
        for table in &schema.tables {
            let rows = self.inner.store.list(&table.name, band).await?;
            let ids: Vec<String> = rows
                .iter()
                .filter_map(|row| js_sys::Reflect::get(row, &"id".into()).ok()?.as_string())
                .filter(|id| !kept.contains(&(table.name.clone(), id.clone())))
                .collect();
            writes.extend(ids.iter().map(|id| Write::DeleteRow {
                table: table.name.clone(),
                id: id.clone(),
            }));
            if !ids.is_empty() {
                purged.push((table.name.clone(), ids));
            }
        }
        self.inner.store.write(&writes).await?;
        Ok(purged)
    }

    /// The network is back: pushes waiting out a backoff go now.
    pub fn set_online(&self) {
        self.inner.offline.set(false);
        self.inner.outbox.borrow_mut().resume();
        self.kick();
    }

    /// The network is gone: pushes wait (writes still commit locally) until
    /// [`set_online`](Self::set_online).
    pub fn set_offline(&self) {
        self.inner.offline.set(true);
    }

    /// Uses a new access token and resumes pushes held by a 401.
    pub fn set_token(&self, token: String) {
        self.inner.endpoint.borrow_mut().token = token;
        self.inner.outbox.borrow_mut().resume();
        self.kick();
    }

    async fn current(&self, table: &str, id: &str) -> Result<Map<String, Value>, WriteError> {
        let row = self.inner.store.get(table, id).await?;
        row.as_ref()
            .and_then(js_to_map)
            .map(|row| to_wire(&row))
            .ok_or_else(|| WriteError::NotFound {
                table: table.to_owned(),
                id: id.to_owned(),
            })
    }

    /// Writes the local row and the outbox effects in one transaction.
    async fn commit(
        &self,
        table: &str,
        row: Map<String, Value>,
        effects: Vec<Effect>,
    ) -> Result<(), StoreError> {
        let mut writes = vec![Write::Row {
            table: table.to_owned(),
            row,
        }];
        let mut statuses = Vec::new();
        for effect in effects {
            match effect {
                Effect::AddEntry(entry) => writes.push(Write::NewEntry(entry)),
                Effect::PutEntry(entry) => writes.push(Write::Entry(entry)),
                Effect::RemoveEntry(seq) => writes.push(Write::RemoveEntry(seq)),
                Effect::Status {
                    table,
                    row_id,
                    status,
                } => statuses.push(WriteEvent::Status {
                    table,
                    id: row_id,
                    status,
                }),
                _ => {}
            }
        }
        let result = self.inner.store.write(&writes).await;
        if let Err(StoreError::KeyTaken(_)) = &result {
            // Nothing was written; the caller queues the write again.
            return result;
        }
        if let Err(error) = &result {
            // The outbox in memory is ahead of storage: take back what was committed, keeping
            // its conflict policy, backoff and follower mode.
            if let Ok(entries) = self.inner.store.outbox().await {
                self.inner.outbox.borrow_mut().reload(entries);
            }
            (self.inner.on_event)(WriteEvent::Error {
                code: error.code(),
                message: error.to_string(),
            });
        }
        result?;
        for status in statuses {
            (self.inner.on_event)(status);
        }
        Ok(())
    }

    fn emit_change(
        &self,
        table: &str,
        scope: &str,
        id: &str,
        action: &'static str,
        source: &'static str,
    ) {
        (self.inner.on_event)(WriteEvent::Change(RowsChanged {
            table: table.to_owned(),
            scope: scope.to_owned(),
            ids: vec![id.to_owned()],
            action,
            source,
        }));
    }

    /// Starts the drain unless it runs.
    pub fn kick(&self) {
        kick(&self.inner);
    }

    /// Queues a write and commits it with the local row in one transaction, tells the app,
    /// and starts the push. A sequence number another tab of this profile took in the same
    /// millisecond makes the transaction fail (new entries are added, never put over
    /// another): the write is queued again under a fresh salt, so no tab's entry is ever
    /// replaced.
    async fn write_through(
        &self,
        table: &str,
        id: &str,
        op: Op,
        fields: Map<String, Value>,
        base: Option<Map<String, Value>>,
        row: &Map<String, Value>,
    ) -> Result<(), WriteError> {
        let mut attempt = 0;
        loop {
            let effects = self
                .enqueue(table, id, op, fields.clone(), base.clone())
                .map_err(|WriteRefused::RowDeleted| WriteError::Deleted)?;
            let added = effects.iter().find_map(|effect| match effect {
                Effect::AddEntry(entry) => Some(entry.seq),
                _ => None,
            });
            match self.commit(table, row.clone(), effects).await {
                Err(StoreError::KeyTaken(_)) if attempt < 8 => {
                    if let Some(seq) = added {
                        self.inner.outbox.borrow_mut().forget_unstored(seq);
                    }
                    self.inner.salt.set(new_salt());
                    attempt += 1;
                }
                result => {
                    result?;
                    break;
                }
            }
        }
        let scope_column = &self.inner.store.schema().table(table)?.scope;
        let scope = row
            .get(scope_column)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let action = match op {
            Op::Insert => "insert",
            Op::Update => "update",
            Op::Delete => "delete",
        };
        self.emit_change(table, &scope, id, action, "local");
        self.kick();
        Ok(())
    }

    /// Appends a write to the outbox with a sequence number no other tab uses: from the wall
    /// clock, salted per tab, and above every number this tab has seen.
    fn enqueue(
        &self,
        table: &str,
        id: &str,
        op: Op,
        fields: Map<String, Value>,
        base: Option<Map<String, Value>>,
    ) -> Result<Vec<Effect>, WriteRefused> {
        let mut outbox = self.inner.outbox.borrow_mut();
        outbox.raise_seq_floor(js_sys::Date::now() as u64 * SEQ_SALTS + self.inner.salt.get());
        outbox.enqueue(table, id, op, fields, base)
    }

    /// This tab leads (it pushes) or follows (another tab pushes what it appends).
    pub async fn set_leader(&self, leader: bool) {
        // Storage as it is now (as a follower, this tab has nothing in flight).
        self.inner.leader.set(false);
        self.reload().await;
        self.inner.leader.set(leader);
        self.inner.outbox.borrow_mut().set_append_only(!leader);
        if leader {
            // A write of this tab made during the read above was dropped by it; its
            // transaction precedes this read, so the read finds it.
            self.reload().await;
        }
        self.kick();
    }

    /// Whether this tab leads.
    pub fn is_leader(&self) -> bool {
        self.inner.leader.get()
    }

    /// Takes in what other tabs wrote to the outbox, and the conflict records. The leader
    /// adopts entries it does not know (its own may not be committed yet); a follower, which
    /// never pushes, takes storage as it is.
    pub async fn reload(&self) {
        let Ok(entries) = self.inner.store.outbox().await else {
            return;
        };
        if self.inner.leader.get() {
            self.inner.outbox.borrow_mut().adopt(entries);
        } else {
            self.inner.outbox.borrow_mut().reload(entries);
        }
        if let Ok(records) = self.inner.store.conflicts().await {
            *self.inner.conflicted.borrow_mut() = records
                .iter()
                .filter_map(|r| js_sys::Reflect::get(r, &"key".into()).ok()?.as_string())
                .collect();
        }
    }

    /// Stops pushing (the client is closing); entries stay in storage for the next open.
    pub fn stop(&self) {
        self.inner.stopped.set(true);
        self.inner.timer.borrow_mut().take();
    }
}

/// A tab's salt in sequence numbers.
fn new_salt() -> u64 {
    (js_sys::Math::random() * SEQ_SALTS as f64) as u64
}

/// A random (version 4) UUID from the browser's CSPRNG.
pub fn new_uuid() -> String {
    let mut bytes = [0u8; 16];
    let crypto = js_sys::Reflect::get(&js_sys::global(), &"crypto".into())
        .ok()
        .and_then(|c| wasm_bindgen::JsCast::dyn_into::<web_sys::Crypto>(c).ok());
    match crypto {
        Some(crypto) => {
            let _ = crypto.get_random_values_with_u8_array(&mut bytes);
        }
        None => bytes
            .iter_mut()
            .for_each(|b| *b = (js_sys::Math::random() * 256.0) as u8),
    }
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}
