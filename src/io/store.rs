//! The local database: one IndexedDB database per signed-in user, opened through rexie.
//!
//! Rows are stored in the app's camelCase shape, so reads hand IndexedDB's objects to the app
//! without conversion. Each write is one transaction; none stays open across a network await.

use super::version_watch::VersionWatch;
use gloo_timers::future::TimeoutFuture;
use rexie::{KeyRange, Rexie, TransactionMode, TransactionResult};
use rockon_sync_core::outbox::Entry;
use rockon_sync_core::schema::{snake_to_camel, to_app, Schema};
use rockon_sync_core::sync::{self, conflict_key, StoreOp};
use serde::Serialize;
use serde_json::Value;
use std::cell::RefCell;
use std::fmt;
use std::rc::Rc;
use wasm_bindgen::JsValue;

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

/// Batches up to this size look their rows up one by one when applying.
const SMALL_BATCH: u32 = 64;

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

impl From<rexie::Error> for StoreError {
    fn from(error: rexie::Error) -> Self {
        let text = format!("{error:?}");
        StoreError(if text.contains("QuotaExceeded") {
            sync::StoreError::QuotaExceeded(text)
        } else if text.contains("InvalidStateError") || text.contains("closing") {
            sync::StoreError::Closed(text)
        } else if text.contains("ConstraintError") {
            sync::StoreError::KeyTaken(text)
        } else {
            sync::StoreError::Failed(text)
        })
    }
}

/// Waits for `tx` to commit. A transaction the browser aborts as it commits, with no request
/// of it failing, wrote nothing: per the IndexedDB spec that is a commit-time failure, which in
/// practice is the storage quota (`QuotaExceededError` on the transaction). Treating it as done
/// would acknowledge writes that are not stored.
async fn finish(tx: rexie::Transaction) -> Result<(), StoreError> {
    match tx.done().await? {
        TransactionResult::Committed => Ok(()),
        TransactionResult::Aborted => Err(StoreError(sync::StoreError::QuotaExceeded(
            "the browser aborted the transaction as it committed (storage quota); nothing was \
             written"
                .into(),
        ))),
    }
}

/// Plain JSON as plain JS objects (not `Map`s).
pub fn to_js(value: &impl Serialize) -> JsValue {
    // One JSON text handed to the engine's parser beats building the object field by field
    // across the boundary (measured: about 3× for a row).
    serde_json::to_string(value)
        .ok()
        .and_then(|text| js_sys::JSON::parse(&text).ok())
        .unwrap_or(JsValue::NULL)
}

/// A JS value read as `T` through one JSON text, the inverse of [`to_js`]: the engine's
/// serialiser walks the object natively, where reading it field by field would cross the
/// boundary for every field (and bring a second deserialiser into the module).
pub fn from_js<T: serde::de::DeserializeOwned>(value: &JsValue) -> Result<T, String> {
    let text = if value.is_undefined() {
        None
    } else {
        js_sys::JSON::stringify(value)
            .ok()
            .and_then(|text| text.as_string())
    };
    let text = text.ok_or_else(|| "not a JSON value".to_owned())?;
    serde_json::from_str(&text).map_err(|e| e.to_string())
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
    db: RefCell<Option<Rc<Rexie>>>,
    watch: RefCell<Option<VersionWatch>>,
    listener: RefCell<Option<StateListener>>,
    /// Closed by the app: never reopened.
    ended: std::cell::Cell<bool>,
}

/// Closes the connection once no operation holds it any more (they finish in milliseconds).
async fn close_when_idle(mut db: Rc<Rexie>) {
    loop {
        match Rc::try_unwrap(db) {
            Ok(only) => return only.close(),
            Err(shared) => {
                db = shared;
                TimeoutFuture::new(5).await;
            }
        }
    }
}

async fn build(name: &str, schema: &Schema) -> Result<Rexie, StoreError> {
    Ok(super::layout::builder(name, DB_VERSION, schema)
        .build()
        .await?)
}

impl Store {
    /// Opens (creating or upgrading) the database `name`, watching for other tabs' upgrades.
    pub async fn open(name: &str, schema: Schema) -> Result<Rc<Store>, StoreError> {
        let db = {
            let opening = std::pin::pin!(build(name, &schema));
            match futures::future::select(opening, TimeoutFuture::new(10_000)).await {
                futures::future::Either::Left((db, _)) => db?,
                futures::future::Either::Right(_) => {
                    return Err(StoreError(sync::StoreError::Blocked))
                }
            }
        };
        let store = Rc::new(Store {
            name: name.to_owned(),
            schema,
            db: RefCell::new(Some(Rc::new(db))),
            watch: RefCell::new(None),
            listener: RefCell::new(None),
            ended: std::cell::Cell::new(false),
        });
        Store::watch(&store).await;
        Ok(store)
    }

    /// Tells `listener` when the connection closes and reopens.
    pub fn set_listener(&self, listener: StateListener) {
        *self.listener.borrow_mut() = Some(listener);
    }

    async fn watch(store: &Rc<Store>) {
        let weak = Rc::downgrade(store);
        let on_change = move || {
            // Not from inside the watch's own handler: closing drops that handler.
            crate::io::task::spawn(async move {
                if let Some(store) = weak.upgrade() {
                    Store::yield_to_other_tab(store).await;
                }
            });
        };
        // Best effort: without the watch, another tab's upgrade waits until this tab closes.
        if let Ok(watch) = VersionWatch::open(&store.name, DB_VERSION, on_change).await {
            // Closed while the watch was opening: dropping it closes its connection.
            if !store.ended.get() {
                *store.watch.borrow_mut() = Some(watch);
            }
        }
    }

    fn notify(&self, state: StoreState) {
        let listener = self.listener.borrow().clone();
        if let Some(listener) = listener {
            listener(state);
        }
    }

    /// Closes both connections so the other tab proceeds, then reopens.
    async fn yield_to_other_tab(store: Rc<Store>) {
        store.watch.borrow_mut().take();
        let db = store.db.borrow_mut().take();
        store.notify(StoreState::Closed);
        if let Some(db) = db {
            close_when_idle(db).await;
        }
        for _ in 0..50 {
            TimeoutFuture::new(100).await;
            if store.ended.get() {
                // The client closed meanwhile (the user signed out in another tab): the
                // database stays closed, and deleted if that is what happened.
                return;
            }
            match build(&store.name, &store.schema).await {
                Ok(db) => {
                    *store.db.borrow_mut() = Some(Rc::new(db));
                    Store::watch(&store).await;
                    store.notify(StoreState::Reopened);
                    return;
                }
                Err(StoreError(sync::StoreError::Failed(message)))
                    if message.contains("VersionError") =>
                {
                    store.notify(StoreState::Outdated(message));
                    return;
                }
                Err(_) => continue,
            }
        }
    }

    fn db(&self) -> Result<Rc<Rexie>, StoreError> {
        self.db.borrow().clone().ok_or_else(|| {
            StoreError(sync::StoreError::Closed(if self.ended.get() {
                "the client is closed".into()
            } else {
                "another tab is upgrading or deleting the database".into()
            }))
        })
    }

    /// Closes the database for good (the client is closing); later calls fail as `closed`.
    pub fn close(&self) {
        self.ended.set(true);
        self.watch.borrow_mut().take();
        if let Some(db) = self.db.borrow_mut().take() {
            match Rc::try_unwrap(db) {
                Ok(db) => db.close(),
                // An operation in flight holds it: close once it is done, rather than whenever
                // the handle is collected, which would block a deletion (`signOut`) or another
                // tab's upgrade until then.
                Err(shared) => crate::io::task::spawn(close_when_idle(shared)),
            }
        }
    }

    /// Deletes the database `name`: every cached row, the outbox, conflicts, marks and log.
    /// Other tabs must close it first (they are told to); after 10 s of waiting for them this
    /// fails as `blocked`.
    pub async fn delete(name: &str) -> Result<(), StoreError> {
        let deleting = std::pin::pin!(Rexie::delete(name));
        match futures::future::select(deleting, TimeoutFuture::new(10_000)).await {
            futures::future::Either::Left((deleted, _)) => Ok(deleted?),
            futures::future::Either::Right(_) => Err(StoreError(sync::StoreError::Blocked)),
        }
    }

    /// The schema the store was opened with.
    pub fn schema(&self) -> &Schema {
        &self.schema
    }

    /// The rows of one band, in the app's shape.
    pub async fn list(&self, table: &str, scope: &str) -> Result<Vec<JsValue>, StoreError> {
        let db = self.db()?;
        let tx = db.transaction(&[table], TransactionMode::ReadOnly)?;
        let rows = tx
            .store(table)?
            .index("scope")?
            .get_all(
                Some(KeyRange::only(&scope.into()).map_err(rexie::Error::from)?),
                None,
            )
            .await?;
        finish(tx).await?;
        Ok(rows)
    }

    /// How many rows of one band the table holds (tombstones included).
    pub async fn count(&self, table: &str, scope: &str) -> Result<u32, StoreError> {
        let db = self.db()?;
        let tx = db.transaction(&[table], TransactionMode::ReadOnly)?;
        let range = KeyRange::only(&scope.into()).map_err(rexie::Error::from)?;
        let count = tx.store(table)?.index("scope")?.count(Some(range)).await?;
        finish(tx).await?;
        Ok(count)
    }

    /// Stores server rows (wire columns, as REST and Realtime deliver them) in one
    /// transaction, skipping any whose local copy has the same or a newer version, so
    /// duplicates and out-of-order deliveries converge. Returns how many were written.
    pub async fn apply_rows(&self, table: &str, rows: &js_sys::Array) -> Result<usize, StoreError> {
        let written = self
            .apply_batch(&[(table.to_owned(), rows.clone())], &[], None)
            .await?;
        Ok(written.len())
    }

    /// Applies a flush of server data in one transaction: rows per table (newer versions
    /// only), deletions,
    /// and optionally the cursor the rows bring the pull to, so a cursor never gets ahead of
    /// the rows it covers. Returns the ids of the rows written (older or equal versions, such
    /// as the echo of the client's own write, are not).
    pub async fn apply_batch(
        &self,
        rows: &[(String, js_sys::Array)],
        deletions: &[(String, String)],
        cursor: Option<(String, JsValue)>,
    ) -> Result<Vec<String>, StoreError> {
        let mut stores: Vec<&str> = rows
            .iter()
            .map(|(t, _)| t.as_str())
            .chain(deletions.iter().map(|(t, _)| t.as_str()))
            .collect();
        if cursor.is_some() {
            stores.push(CURSORS);
        }
        stores.sort_unstable();
        stores.dedup();
        if stores.is_empty() {
            return Ok(Vec::new());
        }
        let db = self.db()?;
        let tx = db.transaction(&stores, TransactionMode::ReadWrite)?;
        let mut written = Vec::new();
        for (table, incoming) in rows {
            let scope_column = self
                .schema
                .table(table)
                .map(|t| t.scope.clone())
                .map_err(|e| StoreError(sync::StoreError::Failed(e.to_string())))?;
            let store = tx.store(table)?;
            let existing = local_copies(&store, incoming, &scope_column).await?;
            let fresh = super::rows::fresh_app_rows(incoming, &existing);
            written.extend(
                fresh
                    .iter()
                    .filter_map(|row| js_sys::Reflect::get(&row, &"id".into()).ok()?.as_string()),
            );
            store.put_all(fresh.iter().map(|row| (row, None))).await?;
        }
        // Issued at once, like the lookups above.
        let deleting = deletions
            .iter()
            .map(|(table, id)| Ok((tx.store(table)?, id)))
            .collect::<Result<Vec<_>, rexie::Error>>()?;
        let deletes = deleting
            .iter()
            .map(|(store, id)| store.delete(id.as_str().into()));
        futures::future::try_join_all(deletes).await?;
        if let Some((key, value)) = cursor {
            let record = js_sys::Object::new();
            let _ = js_sys::Reflect::set(&record, &"key".into(), &key.into());
            let _ = js_sys::Reflect::set(&record, &"cursor".into(), &value);
            tx.store(CURSORS)?.put(&record, None).await?;
        }
        finish(tx).await?;
        Ok(written)
    }

    /// The saved cursor under `key`.
    pub async fn cursor(&self, key: &str) -> Result<Option<JsValue>, StoreError> {
        let db = self.db()?;
        let tx = db.transaction(&[CURSORS], TransactionMode::ReadOnly)?;
        let record = tx.store(CURSORS)?.get(key.into()).await?;
        finish(tx).await?;
        Ok(record.and_then(|r| js_sys::Reflect::get(&r, &"cursor".into()).ok()))
    }

    /// Every record of a store.
    pub async fn all(&self, store: &str) -> Result<Vec<JsValue>, StoreError> {
        let db = self.db()?;
        let tx = db.transaction(&[store], TransactionMode::ReadOnly)?;
        let values = tx.store(store)?.get_all(None, None).await?;
        finish(tx).await?;
        Ok(values)
    }

    /// Puts records into and deletes keys from one store, in one transaction.
    pub async fn put_and_delete(
        &self,
        store: &str,
        records: &[JsValue],
        keys: &[String],
    ) -> Result<(), StoreError> {
        if records.is_empty() && keys.is_empty() {
            return Ok(());
        }
        let db = self.db()?;
        let tx = db.transaction(&[store], TransactionMode::ReadWrite)?;
        let object_store = tx.store(store)?;
        let deletes = keys
            .iter()
            .map(|key| object_store.delete(key.as_str().into()));
        futures::future::try_join_all(deletes).await?;
        let puts = records.iter().map(|record| (record.clone(), None));
        object_store.put_all(puts).await?;
        finish(tx).await?;
        Ok(())
    }

    /// Appends records to an auto-numbered store and drops its oldest beyond `keep`, in one
    /// transaction.
    pub async fn append_bounded(
        &self,
        store: &str,
        records: &[JsValue],
        keep: u32,
    ) -> Result<(), StoreError> {
        let db = self.db()?;
        let tx = db.transaction(&[store], TransactionMode::ReadWrite)?;
        let object_store = tx.store(store)?;
        object_store
            .put_all(records.iter().map(|record| (record.clone(), None)))
            .await?;
        let count = object_store.count(None).await?;
        if count > keep {
            let oldest = object_store.get_all_keys(None, Some(count - keep)).await?;
            let deletes = oldest.into_iter().map(|key| object_store.delete(key));
            futures::future::try_join_all(deletes).await?;
        }
        finish(tx).await
    }

    /// Empties the cache in one transaction: every row except those in `keep` (`table:id`,
    /// rows with pending writes), every cursor (the next pull downloads everything), read
    /// marks and cached names. Returns the removed ids per table and band.
    pub async fn clear_cache(
        &self,
        keep: &rockon_sync_core::sorted::SortedSet<String>,
    ) -> Result<Vec<(String, String, Vec<String>)>, StoreError> {
        let tables: Vec<&str> = self.schema.tables.iter().map(|t| t.name.as_str()).collect();
        let mut stores = tables.clone();
        stores.extend([CURSORS, READ_MARKS, PROFILES]);
        let db = self.db()?;
        let tx = db.transaction(&stores, TransactionMode::ReadWrite)?;
        let mut removed: rockon_sync_core::sorted::SortedMap<(String, String), Vec<String>> =
            Default::default();
        for table in &self.schema.tables {
            let store = tx.store(&table.name)?;
            let scope = snake_to_camel(&table.scope);
            for row in store.get_all(None, None).await? {
                let text = |key: &str| js_sys::Reflect::get(&row, &key.into()).ok()?.as_string();
                let Some(id) = text("id") else { continue };
                if keep.contains(&format!("{}:{id}", table.name)) {
                    continue;
                }
                store.delete(id.as_str().into()).await?;
                let band = text(&scope).unwrap_or_default();
                removed
                    .get_or_insert_with((table.name.clone(), band), Vec::new)
                    .push(id);
            }
        }
        for store in [CURSORS, READ_MARKS, PROFILES] {
            tx.store(store)?.clear().await?;
        }
        finish(tx).await?;
        Ok(removed
            .into_iter()
            .map(|((table, band), ids)| (table, band, ids))
            .collect())
    }

    /// One row in the app's shape.
    pub async fn get(&self, table: &str, id: &str) -> Result<Option<JsValue>, StoreError> {
        let db = self.db()?;
        let tx = db.transaction(&[table], TransactionMode::ReadOnly)?;
        let row = tx.store(table)?.get(id.into()).await?;
        finish(tx).await?;
        Ok(row)
    }

    /// Every outbox entry, in push order.
    pub async fn outbox(&self) -> Result<Vec<Entry>, StoreError> {
        let db = self.db()?;
        let tx = db.transaction(&[OUTBOX], TransactionMode::ReadOnly)?;
        let values = tx.store(OUTBOX)?.get_all(None, None).await?;
        finish(tx).await?;
        Ok(values
            .into_iter()
            .filter_map(|v| from_js(&v).ok())
            .collect())
    }

    /// Every conflict record.
    pub async fn conflicts(&self) -> Result<Vec<JsValue>, StoreError> {
        let db = self.db()?;
        let tx = db.transaction(&[CONFLICTS], TransactionMode::ReadOnly)?;
        let values = tx.store(CONFLICTS)?.get_all(None, None).await?;
        finish(tx).await?;
        Ok(values)
    }

    /// Executes a batch of the sync engine's storage changes atomically: all or nothing,
    /// resolved once committed.
    pub async fn execute(&self, ops: &[StoreOp]) -> Result<(), StoreError> {
        let mut stores: Vec<&str> = ops.iter().map(store_of).collect();
        stores.sort_unstable();
        stores.dedup();
        if stores.is_empty() {
            return Ok(());
        }
        let db = self.db()?;
        let tx = db.transaction(&stores, TransactionMode::ReadWrite)?;
        for op in ops {
            let store = tx.store(store_of(op))?;
            match op {
                StoreOp::PutRow { row, .. } => {
                    store.put(&to_js(&Value::Object(to_app(row))), None).await?;
                }
                StoreOp::DeleteRow { id, .. } => store.delete(id.as_str().into()).await?,
                StoreOp::PutEntry(entry) => {
                    store.put(&to_js(entry), None).await?;
                }
                StoreOp::AddEntry(entry) => {
                    store.add(&to_js(entry), None).await?;
                }
                StoreOp::RemoveEntry(seq) => store.delete(JsValue::from_f64(*seq as f64)).await?,
                StoreOp::PutConflict(record) => {
                    let mut value = serde_json::to_value(record).unwrap_or(Value::Null);
                    if let Value::Object(map) = &mut value {
                        let key = conflict_key(&record.table, &record.row_id);
                        map.insert("key".into(), Value::String(key));
                    }
                    store.put(&to_js(&value), None).await?;
                }
                StoreOp::RemoveConflict { table, id } => {
                    store
                        .delete(conflict_key(table, id).as_str().into())
                        .await?
                }
            }
        }
        finish(tx).await?;
        Ok(())
    }
}

/// The local copies of `incoming` rows, for the version check: a few rows are looked up one by
/// one, a big batch reads its bands' rows in one request instead of thousands of gets.
async fn local_copies(
    store: &rexie::Store,
    incoming: &js_sys::Array,
    scope_column: &str,
) -> Result<js_sys::Array, StoreError> {
    let existing = js_sys::Array::new();
    let small = incoming.length() <= SMALL_BATCH;
    let scopes = if small {
        js_sys::Array::new()
    } else {
        super::rows::scopes_of(incoming, scope_column)
    };
    let mut held = 0;
    for scope in scopes.iter() {
        let range = KeyRange::only(&scope).map_err(rexie::Error::from)?;
        held += store.index("scope")?.count(Some(range)).await?;
    }
    // Reading the bands' rows costs what they hold; looking rows up one by one costs what
    // arrives: pick the smaller.
    if small || held > 4 * incoming.length() {
        // All lookups are issued at once: IndexedDB answers them in one go.
        let lookups = incoming.iter().map(|row| {
            let id = js_sys::Reflect::get(&row, &"id".into()).unwrap_or(JsValue::UNDEFINED);
            store.get(id)
        });
        for local in futures::future::try_join_all(lookups)
            .await?
            .into_iter()
            .flatten()
        {
            existing.push(&local);
        }
    } else {
        for scope in scopes.iter() {
            let range = KeyRange::only(&scope).map_err(rexie::Error::from)?;
            for row in store.index("scope")?.get_all(Some(range), None).await? {
                existing.push(&row);
            }
        }
    }
    Ok(existing)
}

/// The object store a change goes to.
fn store_of(op: &StoreOp) -> &str {
    match op {
        StoreOp::PutRow { table, .. } | StoreOp::DeleteRow { table, .. } => table,
        StoreOp::AddEntry(_) | StoreOp::PutEntry(_) | StoreOp::RemoveEntry(_) => OUTBOX,
        StoreOp::PutConflict(_) | StoreOp::RemoveConflict { .. } => CONFLICTS,
    }
}
