//! The local database: one IndexedDB database per signed-in user.
//!
//! Rows are stored in the app's camelCase shape, so reads hand IndexedDB's objects to the app
//! without conversion. Each call is one transaction ([`super::idb`]); none stays open across
//! a network await.

use super::idb::{self, array, settle, text};
use gloo_timers::future::TimeoutFuture;
use js_sys::Array;
use rockon_sync_core::json_text::{json_text, WriteJson};
use rockon_sync_core::outbox::Entry;
use rockon_sync_core::schema::{snake_to_camel, to_app, Schema};
use rockon_sync_core::sorted::SortedSet;
use rockon_sync_core::sync::{self, conflict_key, cursor_key, StoreOp};
use rockon_sync_core::value::Value;
use std::cell::RefCell;
use std::fmt;
use std::rc::Rc;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::IdbDatabase;

/// The outbox store.
pub const OUTBOX: &str = "outbox";
/// Conflict records, keyed `table:id`.
pub const CONFLICTS: &str = "conflicts";
/// Display names of band members.
pub const PROFILES: &str = "profiles";
/// Catch-up cursors per band and table.
pub const CURSORS: &str = "cursors";
/// Rows read by the user (unread tracking).
pub const READ_MARKS: &str = "read_marks";
/// A bounded log of sync activity for the dashboard.
pub const SYNC_LOG: &str = "sync_log";
/// Other members' changes, the activity feed (bounded per band).
pub const ACTIVITY: &str = "activity";

pub use super::layout::DB_VERSION;

/// A storage failure: the sync engine's [`sync::StoreError`] (what the app should do about
/// it is documented there), which IndexedDB's errors convert into.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreError(pub sync::StoreError);

impl StoreError {
    /// A stable machine-readable code.
    pub fn code(&self) -> &'static str {
        self.0.code()
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl From<sync::StoreError> for StoreError {
    fn from(error: sync::StoreError) -> Self {
        StoreError(error)
    }
}

/// Plain JSON as plain JS objects (not `Map`s).
pub fn to_js(value: &dyn WriteJson) -> JsValue {
    // One JSON text handed to the engine's parser beats building the object field by field
    // across the boundary (measured: about 3× for a row).
    js_sys::JSON::parse(&json_text(value)).unwrap_or(JsValue::NULL)
}

/// A JS value read as JSON through one JSON text, the inverse of [`to_js`]: the engine's
/// serialiser walks the object natively, where reading it field by field would cross the
/// boundary for every field. Always a `Value` (the core's one JSON reader), read by hand
/// from there.
pub fn from_js(value: &JsValue) -> Result<Value, String> {
    let text = if value.is_undefined() {
        None
    } else {
        js_sys::JSON::stringify(value)
            .ok()
            .and_then(|text| text.as_string())
    };
    let text = text.ok_or_else(|| "not a JSON value".to_owned())?;
    rockon_sync_core::json_read::parse(&text).map_err(|e| e.to_string())
}

/// An outbox entry as stored; `None` if the record is not one.
pub fn stored_entry(record: &JsValue) -> Option<Entry> {
    Entry::from_json(&from_js(record).ok()?)
}

/// What happened to the connection, for the app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreState {
    /// Another tab is upgrading or deleting the database; this connection closed so it is not
    /// blocked. Writes fail with `database_closed` until it reopens.
    Closed,
    /// The database is open again (recreated empty if it was deleted).
    Reopened,
    /// A newer version of the app upgraded the database: reload the page.
    Outdated(String),
}

/// Told when the connection closes and reopens.
pub type StateListener = Rc<dyn Fn(StoreState)>;

/// The database of one user.
pub struct Store {
    name: String,
    schema: Schema,
    db: RefCell<Option<IdbDatabase>>,
    /// Told when another tab upgrades or deletes the database.
    on_version_change: RefCell<Option<Closure<dyn FnMut()>>>,
    listener: RefCell<Option<StateListener>>,
    /// Closed by the app: never reopened.
    ended: std::cell::Cell<bool>,
}

/// Opens database `name` at this release's layout, failing as `blocked` after 10 s of other
/// connections holding an older version open.
async fn build(name: &str, schema: &Schema) -> Result<IdbDatabase, StoreError> {
    let layout = to_js(&super::layout::at_version(DB_VERSION, schema).stores);
    let opening = std::pin::pin!(settle(idb::idb_open(name, DB_VERSION, &layout)));
    match futures::future::select(opening, TimeoutFuture::new(10_000)).await {
        futures::future::Either::Left((db, _)) => Ok(db?.unchecked_into()),
        futures::future::Either::Right(_) => Err(StoreError(sync::StoreError::Blocked)),
    }
}

impl Store {
    /// Opens (creating or upgrading) the database `name`, watching for other tabs' upgrades.
    pub async fn open(name: &str, schema: Schema) -> Result<Rc<Store>, StoreError> {
        let db = build(name, &schema).await?;
        let store = Rc::new(Store {
            name: name.to_owned(),
            schema,
            db: RefCell::new(None),
            on_version_change: RefCell::new(None),
            listener: RefCell::new(None),
            ended: std::cell::Cell::new(false),
        });
        let weak = Rc::downgrade(&store);
        let on_change = Closure::<dyn FnMut()>::new(move || {
            if let Some(store) = weak.upgrade() {
                crate::io::task::spawn(Store::yield_to_other_tab(store));
            }
        });
        *store.on_version_change.borrow_mut() = Some(on_change);
        store.adopt(db);
        Ok(store)
    }

    /// Uses `db`, closing it so another tab's upgrade or deletion is not blocked.
    fn adopt(&self, db: IdbDatabase) {
        if let Some(on_change) = &*self.on_version_change.borrow() {
            db.set_onversionchange(Some(on_change.as_ref().unchecked_ref()));
        }
        *self.db.borrow_mut() = Some(db);
    }

    /// Tells `listener` when the connection closes and reopens.
    pub fn set_listener(&self, listener: StateListener) {
        *self.listener.borrow_mut() = Some(listener);
    }

    fn notify(&self, state: StoreState) {
        let listener = self.listener.borrow().clone();
        if let Some(listener) = listener {
            listener(state);
        }
    }

    /// Closes the connection so the other tab proceeds, then reopens.
    async fn yield_to_other_tab(store: Rc<Store>) {
        if let Some(db) = store.db.borrow_mut().take() {
            // Transactions already begun still finish.
            db.close();
        }
        store.notify(StoreState::Closed);
        for _ in 0..50 {
            TimeoutFuture::new(100).await;
            if store.ended.get() {
                // The client closed meanwhile (the user signed out in another tab): the
                // database stays closed, and deleted if that is what happened.
                return;
            }
            match build(&store.name, &store.schema).await {
                Ok(db) => {
                    store.adopt(db);
                    store.notify(StoreState::Reopened);
                    return;
                }
                Err(StoreError(sync::StoreError::Failed(message)))
                    if rockon_sync_core::mentions(&message, "VersionError") =>
                {
                    store.notify(StoreState::Outdated(message));
                    return;
                }
                Err(_) => continue,
            }
        }
    }

    fn db(&self) -> Result<JsValue, StoreError> {
        let db = self.db.borrow().clone();
        db.map(JsValue::from).ok_or_else(|| {
            StoreError(sync::StoreError::Closed(if self.ended.get() {
                "the client is closed".into()
            } else {
                "another tab is upgrading or deleting the database".into()
            }))
        })
    }

    /// Runs `ops` in one transaction on `stores`; each request's result, once committed.
    pub(super) async fn run(
        &self,
        stores: &[&str],
        write: bool,
        ops: Array,
    ) -> Result<Array, StoreError> {
        let stores = idb::names_array(stores);
        let results = settle(idb::idb_run(&self.db()?, &stores, write, &ops)).await?;
        Ok(results.unchecked_into())
    }

    /// Closes the database for good (the client is closing); later calls fail as `closed`.
    pub fn close(&self) {
        self.ended.set(true);
        if let Some(db) = self.db.borrow_mut().take() {
            // Transactions already begun still finish; the connection closes after them.
            db.set_onversionchange(None);
            db.close();
        }
    }

    /// Deletes the database `name`: every cached row, the outbox, conflicts, marks and log.
    /// Other tabs must close it first (they are told to); after 10 s of waiting for them this
    /// fails as `blocked`.
    pub async fn delete(name: &str) -> Result<(), StoreError> {
        let deleting = std::pin::pin!(settle(idb::idb_delete(name)));
        match futures::future::select(deleting, TimeoutFuture::new(10_000)).await {
            futures::future::Either::Left((deleted, _)) => Ok(deleted.map(drop)?),
            futures::future::Either::Right(_) => Err(StoreError(sync::StoreError::Blocked)),
        }
    }

    /// The schema the store was opened with.
    pub fn schema(&self) -> &Schema {
        &self.schema
    }

    /// One request's result.
    async fn one(&self, store: &str, op: &[JsValue]) -> Result<JsValue, StoreError> {
        let results = self
            .run(&[store], false, array(&[array(op).into()]))
            .await?;
        Ok(results.get(0))
    }

    /// The rows of one band, in the app's shape.
    pub async fn list(&self, table: &str, scope: &str) -> Result<Array, StoreError> {
        let op = ["all".into(), table.into(), "scope".into(), scope.into()];
        Ok(self.one(table, &op).await?.unchecked_into())
    }

    /// How many rows of one band the table holds (tombstones included).
    pub async fn count(&self, table: &str, scope: &str) -> Result<u32, StoreError> {
        let op = ["count".into(), table.into(), "scope".into(), scope.into()];
        Ok(self.one(table, &op).await?.as_f64().unwrap_or(0.0) as u32)
    }

    /// Stores server rows (wire columns, as REST and Realtime deliver them) in one
    /// transaction, skipping any whose local copy has the same or a newer version, so
    /// duplicates and out-of-order deliveries converge. Returns how many were written.
    pub async fn apply_rows(&self, table: &str, rows: &Array) -> Result<u32, StoreError> {
        // Only the count: the ids written stay JavaScript strings, never copied in here.
        let written = self
            .apply_in_idb(&[(table.to_owned(), rows.clone())], &[], None)
            .await?;
        Ok(written.length())
    }

    /// Applies a flush of server data in one transaction: rows per table (newer versions
    /// only), deletions, and optionally the cursor the rows bring the pull to, so a cursor
    /// never gets ahead of the rows it covers. Returns the ids of the rows written (older or
    /// equal versions, such as the echo of the client's own write, are not).
    pub async fn apply_batch(
        &self,
        rows: &[(String, Array)],
        deletions: &[(String, String)],
        cursor: Option<(String, JsValue)>,
    ) -> Result<Vec<String>, StoreError> {
        let written = self.apply_in_idb(rows, deletions, cursor).await?;
        let mut ids = Vec::with_capacity(written.length() as usize);
        for id in written.iter() {
            ids.extend(id.as_string());
        }
        Ok(ids)
    }

    /// [`apply_batch`](Self::apply_batch), the ids written left as a JavaScript array.
    async fn apply_in_idb(
        &self,
        rows: &[(String, Array)],
        deletions: &[(String, String)],
        cursor: Option<(String, JsValue)>,
    ) -> Result<Array, StoreError> {
        let mut stores: Vec<&str> = Vec::new();
        for (table, _) in rows {
            add_store(&mut stores, table);
        }
        for (table, _) in deletions {
            add_store(&mut stores, table);
        }
        if cursor.is_some() {
            add_store(&mut stores, CURSORS);
        }
        if stores.is_empty() {
            return Ok(Array::new());
        }
        let tables = Array::new();
        for (table, incoming) in rows {
            let scope = self
                .schema
                .table(table)
                .map_err(|e| StoreError(sync::StoreError::Failed(e.to_string())))?;
            tables.push(&array(&[
                table.into(),
                incoming.into(),
                scope.scope.as_str().into(),
            ]));
        }
        let deletion_pairs = Array::new();
        for (table, id) in deletions {
            deletion_pairs.push(&array(&[table.into(), id.into()]));
        }
        let deletions = deletion_pairs;
        let cursor = cursor.map_or(JsValue::NULL, |(key, value)| {
            array(&[key.into(), value]).into()
        });
        let stores = idb::names_array(&stores);
        let db = self.db()?;
        let written = settle(idb::idb_apply(&db, &stores, &tables, &deletions, &cursor)).await?;
        Ok(written.unchecked_into())
    }

    /// Every record of a store.
    pub async fn all(&self, store: &str) -> Result<Array, StoreError> {
        Ok(self
            .one(store, &["all".into(), store.into()])
            .await?
            .unchecked_into())
    }

    /// Puts records into and deletes keys from one store, in one transaction.
    pub async fn put_and_delete(
        &self,
        store: &str,
        records: &Array,
        keys: &[String],
    ) -> Result<(), StoreError> {
        if records.length() == 0 && keys.is_empty() {
            return Ok(());
        }
        let ops = Array::new();
        for key in keys {
            ops.push(&array(&["delete".into(), store.into(), key.into()]));
        }
        for record in records.iter() {
            ops.push(&array(&["put".into(), store.into(), record]));
        }
        self.run(&[store], true, ops).await.map(drop)
    }

    /// Appends records to an auto-numbered store and drops its oldest beyond `keep`, in one
    /// transaction.
    pub async fn append_bounded(
        &self,
        store: &str,
        records: &[JsValue],
        keep: u32,
    ) -> Result<(), StoreError> {
        let ops = Array::new();
        for record in records {
            ops.push(&array(&["put".into(), store.into(), record.clone()]));
        }
        ops.push(&array(&["trim".into(), store.into(), keep.into()]));
        self.run(&[store], true, ops).await.map(drop)
    }

    /// Empties the cache in one transaction: every row except those in `keep` (`table:id`,
    /// rows with pending writes), every cursor (the next pull downloads everything), read
    /// marks and cached names. Returns the removed ids per table and band.
    pub async fn clear_cache(
        &self,
        keep: &SortedSet<String>,
    ) -> Result<Vec<(String, String, Vec<String>)>, StoreError> {
        let tables = &self.schema.tables;
        // Read, then deleted in a second transaction: a row edited in between keeps its
        // outbox entry, and the pull that follows a purge brings the row back.
        let mut stores: Vec<&str> = Vec::with_capacity(tables.len() + 3);
        let reads = Array::new();
        for table in tables {
            stores.push(&table.name);
            reads.push(&array(&["all".into(), table.name.as_str().into()]));
        }
        stores.extend_from_slice(&[CURSORS, READ_MARKS, PROFILES]);
        let rows = self.run(&stores, false, reads).await?;
        let mut removed: rockon_sync_core::sorted::SortedMap<(String, String), Vec<String>> =
            Default::default();
        let ops = Array::new();
        for (table, held) in tables.iter().zip(rows.iter()) {
            let scope = snake_to_camel(&table.scope);
            for row in Array::from(&held).iter() {
                let Some(id) = text(&row, "id") else { continue };
                if keep.contains(&format!("{}:{id}", table.name)) {
                    continue;
                }
                ops.push(&array(&[
                    "delete".into(),
                    table.name.as_str().into(),
                    id.as_str().into(),
                ]));
                let band = text(&row, &scope).unwrap_or_default();
                removed
                    .get_or_insert_with((table.name.clone(), band), Vec::new)
                    .push(id);
            }
        }
        for store in [CURSORS, READ_MARKS, PROFILES] {
            ops.push(&array(&["clear".into(), store.into()]));
        }
        self.run(&stores, true, ops).await?;
        let mut removed_by_band = Vec::with_capacity(removed.len());
        for ((table, band), ids) in removed {
            removed_by_band.push((table, band, ids));
        }
        Ok(removed_by_band)
    }

    /// One row in the app's shape.
    pub async fn get(&self, table: &str, id: &str) -> Result<Option<JsValue>, StoreError> {
        let row = self
            .one(table, &["get".into(), table.into(), id.into()])
            .await?;
        Ok(Some(row).filter(|row| !row.is_undefined()))
    }

    /// Every outbox entry, in push order.
    pub async fn outbox(&self) -> Result<Vec<Entry>, StoreError> {
        let values = self.all(OUTBOX).await?;
        let mut entries = Vec::with_capacity(values.length() as usize);
        for value in values.iter() {
            entries.extend(stored_entry(&value));
        }
        Ok(entries)
    }

    /// Every conflict record.
    pub async fn conflicts(&self) -> Result<Array, StoreError> {
        self.all(CONFLICTS).await
    }

    /// Executes a batch of the sync engine's storage changes atomically: all or nothing,
    /// resolved once committed.
    pub async fn execute(&self, ops: &[StoreOp]) -> Result<(), StoreError> {
        let mut stores: Vec<&str> = Vec::new();
        let requests = Array::new();
        for op in ops {
            add_store(&mut stores, store_of(op));
            requests.push(&request_of(op));
        }
        if stores.is_empty() {
            return Ok(());
        }
        self.run(&stores, true, requests).await.map(drop)
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        // The version-change handler goes with the store: close the connection it watched.
        self.close();
    }
}

/// The IndexedDB request a change is.
fn request_of(op: &StoreOp) -> Array {
    let store = JsValue::from(store_of(op));
    match op {
        StoreOp::PutRow { row, .. } => {
            array(&["put".into(), store, to_js(&Value::Object(to_app(row)))])
        }
        StoreOp::DeleteRow { id, .. } => array(&["delete".into(), store, id.into()]),
        StoreOp::PutEntry(entry) => array(&["put".into(), store, to_js(entry)]),
        StoreOp::AddEntry(entry) => array(&["add".into(), store, to_js(entry)]),
        StoreOp::RemoveEntry(seq) => array(&["delete".into(), store, (*seq as f64).into()]),
        StoreOp::PutConflict(record) => {
            let value = to_js(record);
            let key = conflict_key(&record.table, &record.row_id);
            let _ = js_sys::Reflect::set(&value, &"key".into(), &key.into());
            array(&["put".into(), store, value])
        }
        StoreOp::RemoveConflict { table, id } => {
            array(&["delete".into(), store, conflict_key(table, id).into()])
        }
        StoreOp::ForgetCursor { table, band } => {
            array(&["delete".into(), store, cursor_key(table, band).into()])
        }
    }
}

/// The object store a change goes to.
fn store_of(op: &StoreOp) -> &str {
    match op {
        StoreOp::PutRow { table, .. } | StoreOp::DeleteRow { table, .. } => table,
        StoreOp::AddEntry(_) | StoreOp::PutEntry(_) | StoreOp::RemoveEntry(_) => OUTBOX,
        StoreOp::PutConflict(_) | StoreOp::RemoveConflict { .. } => CONFLICTS,
        StoreOp::ForgetCursor { .. } => CURSORS,
    }
}

/// Adds `name` to the sorted list of a transaction's stores, once.
fn add_store<'a>(stores: &mut Vec<&'a str>, name: &'a str) {
    if let Err(at) = stores.binary_search(&name) {
        stores.insert(at, name);
    }
}
