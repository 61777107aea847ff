//! IndexedDB as the sync engine's store: the engine's reads and write batches carried out on
//! [`Store`], each batch in one transaction, one after another in the order given.

use super::frames;
use super::idb::{array, text};
use super::store::{from_js, stored_entry, to_js, Store, StoreError, CONFLICTS, CURSORS, OUTBOX};
use js_sys::Array;
use rockon_sync_core::catchup::Cursor;
use rockon_sync_core::outbox::ConflictRecord;
use rockon_sync_core::schema::camel_to_snake;
use rockon_sync_core::sync::{
    self, conformance, cursor_key, ApplyBatch, ReadResult, StoreOp, StoreRead,
};
use rockon_sync_core::value::{Map, Value};
use std::rc::Rc;
use wasm_bindgen::JsValue;

impl From<StoreError> for sync::StoreError {
    fn from(error: StoreError) -> Self {
        error.0
    }
}

/// The IndexedDB store behind the engine.
#[derive(Clone)]
pub struct SyncStore(pub Rc<Store>);

/// A stored row (the app's shape) in wire columns.
fn wire_row(value: &wasm_bindgen::JsValue) -> Option<Map<String, Value>> {
    match from_js(value) {
        Ok(Value::Object(row)) => {
            let mut wire = Map::new();
            for (key, value) in row {
                wire.insert(camel_to_snake(&key), value);
            }
            Some(wire)
        }
        _ => None,
    }
}

/// One request, `[verb, store, a, b]`.
fn request(parts: &[JsValue]) -> JsValue {
    array(parts).into()
}

impl SyncStore {
    /// The stores a read touches and its requests, all answered in one transaction.
    fn requests<'a>(&'a self, read: &'a StoreRead) -> (Vec<&'a str>, Array) {
        let tables = &self.0.schema().tables;
        match read {
            StoreRead::Row {
                table,
                id,
                with_conflict,
            } => {
                let requests = Array::of1(&request(&["get".into(), table.into(), id.into()]));
                if !with_conflict {
                    return (vec![table.as_str()], requests);
                }
                let key = sync::conflict_key(table, id);
                requests.push(&request(&["get".into(), CONFLICTS.into(), key.into()]));
                (vec![table.as_str(), CONFLICTS], requests)
            }
            StoreRead::BandRows { band } => {
                let mut names = Vec::with_capacity(tables.len());
                let requests = Array::new();
                for table in tables {
                    names.push(table.name.as_str());
                    requests.push(&request(&[
                        "all".into(),
                        table.name.as_str().into(),
                        "scope".into(),
                        band.into(),
                    ]));
                }
                (names, requests)
            }
            StoreRead::Cursors { band } => {
                let requests = Array::new();
                for table in tables {
                    requests.push(&request(&[
                        "get".into(),
                        CURSORS.into(),
                        cursor_key(&table.name, band).into(),
                    ]));
                }
                (vec![CURSORS], requests)
            }
            StoreRead::Outbox => {
                let all = |store: &str| request(&["all".into(), store.into()]);
                (
                    vec![OUTBOX, CONFLICTS],
                    Array::of2(&all(OUTBOX), &all(CONFLICTS)),
                )
            }
        }
    }

    /// What the requests of `read` found.
    fn answer(&self, read: &StoreRead, results: Array) -> ReadResult {
        let tables = &self.0.schema().tables;
        match read {
            StoreRead::Row { .. } => {
                let conflict = results.get(1);
                let conflict = from_js(&conflict).ok();
                ReadResult::Row {
                    row: wire_row(&results.get(0)),
                    conflict: (conflict.as_ref())
                        .and_then(ConflictRecord::from_json)
                        .map(Box::new),
                }
            }
            StoreRead::BandRows { .. } => {
                let mut band_rows = Vec::with_capacity(tables.len());
                for (table, rows) in tables.iter().zip(results.iter()) {
                    let rows = Array::from(&rows);
                    let mut ids = Vec::with_capacity(rows.length() as usize);
                    for row in rows.iter() {
                        ids.extend(text(&row, "id"));
                    }
                    band_rows.push((table.name.clone(), ids));
                }
                ReadResult::BandRows(band_rows)
            }
            // A cursor that does not read back is none: the table is pulled whole again,
            // which is harmless.
            StoreRead::Cursors { .. } => {
                let mut cursors = Vec::with_capacity(results.length() as usize);
                for record in results.iter() {
                    let cursor = js_sys::Reflect::get(&record, &"cursor".into()).ok();
                    let cursor = cursor.and_then(|cursor| from_js(&cursor).ok());
                    cursors.push(cursor.as_ref().and_then(Cursor::from_json));
                }
                ReadResult::Cursors(cursors)
            }
            StoreRead::Outbox => {
                let mut entries = Vec::new();
                for entry in Array::from(&results.get(0)).iter() {
                    entries.extend(stored_entry(&entry));
                }
                let mut conflicts = Vec::new();
                for record in Array::from(&results.get(1)).iter() {
                    conflicts.extend(text(&record, "key"));
                }
                ReadResult::Outbox { entries, conflicts }
            }
        }
    }

    /// Answers one of the engine's reads.
    pub async fn read_once(&self, read: &StoreRead) -> Result<ReadResult, sync::StoreError> {
        conformance::Store::read(&mut self.clone(), read).await
    }

    /// Applies server data in one transaction; the browser's JSON parser built the rows, or
    /// builds them now from text.
    pub async fn apply(&self, batch: &ApplyBatch) -> Result<Vec<String>, StoreError> {
        let mut rows = Vec::with_capacity(batch.rows.len());
        for server_rows in &batch.rows {
            let parsed = js_sys::JSON::parse(&server_rows.json)
                .ok()
                .and_then(|value| wasm_bindgen::JsCast::dyn_into::<js_sys::Array>(value).ok())
                .ok_or_else(|| {
                    let why = format!("rows of {} are not a JSON array", server_rows.table);
                    StoreError(sync::StoreError::Failed(why))
                })?;
            for record in &server_rows.held {
                parsed.push(&frames::row_object(record));
            }
            rows.push((server_rows.table.clone(), parsed));
        }
        let cursor = (batch.cursor.as_ref()).map(|(key, cursor)| (key.clone(), to_js(cursor)));
        self.0.apply_batch(&rows, &batch.deletions, cursor).await
    }
}

impl conformance::Store for SyncStore {
    async fn write(&mut self, ops: &[StoreOp]) -> Result<(), sync::StoreError> {
        Ok(self.0.execute(ops).await?)
    }

    async fn apply(&mut self, batch: &ApplyBatch) -> Result<Vec<String>, sync::StoreError> {
        Ok(SyncStore::apply(self, batch).await?)
    }

    async fn read(&mut self, read: &StoreRead) -> Result<ReadResult, sync::StoreError> {
        let (stores, requests) = self.requests(read);
        let results = self.0.run(&stores, false, requests).await?;
        Ok(self.answer(read, results))
    }
}
