//! IndexedDB as the sync engine's store: the engine's reads and write batches carried out on
//! [`Store`], each batch in one transaction, one after another in the order given.

use super::store::{from_js, to_js, Store, StoreError};
use rockon_sync_core::catchup::Cursor;
use rockon_sync_core::outbox::ConflictRecord;
use rockon_sync_core::schema::camel_to_snake;
use rockon_sync_core::sync::{
    self, conformance, cursor_key, ApplyBatch, ReadResult, StoreOp, StoreRead,
};
use serde_json::{Map, Value};
use std::rc::Rc;

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
    match from_js::<Value>(value) {
        Ok(Value::Object(row)) => Some(
            row.iter()
                .map(|(k, v)| (camel_to_snake(k), v.clone()))
                .collect(),
        ),
        _ => None,
    }
}

impl SyncStore {
    async fn conflict(&self, table: &str, id: &str) -> Result<Option<ConflictRecord>, StoreError> {
        let key = sync::conflict_key(table, id);
        let records = self.0.conflicts().await?;
        Ok(records
            .iter()
            .filter_map(|value| from_js::<Value>(&value).ok())
            .filter(|stored| stored.get("key").and_then(Value::as_str) == Some(key.as_str()))
            .find_map(|stored| ConflictRecord::from_json(&stored)))
    }

    /// A band's cursors, one per table of the schema. One that does not read back is no
    /// cursor: the table is pulled whole again, which is harmless.
    async fn cursors(&self, band: &str) -> Result<Vec<Option<Cursor>>, StoreError> {
        let mut cursors = Vec::new();
        for table in &self.0.schema().tables {
            let saved = self.0.cursor(&cursor_key(&table.name, band)).await?;
            cursors.push(saved.and_then(|value| from_js::<Cursor>(&value).ok()));
        }
        Ok(cursors)
    }

    /// Answers one of the engine's reads.
    pub async fn read_once(&self, read: &StoreRead) -> Result<ReadResult, sync::StoreError> {
        conformance::Store::read(&mut self.clone(), read).await
    }

    /// Applies server data in one transaction; the browser's JSON parser builds the rows.
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
            rows.push((server_rows.table.clone(), parsed));
        }
        let cursor = (batch.cursor.as_ref()).map(|(key, cursor)| (key.clone(), to_js(cursor)));
        self.0.apply_batch(&rows, &batch.deletions, cursor).await
    }

    async fn band_rows(&self, band: &str) -> Result<Vec<(String, Vec<String>)>, StoreError> {
        let mut tables = Vec::new();
        for table in &self.0.schema().tables {
            let rows = self.0.list(&table.name, band).await?;
            let ids = rows
                .iter()
                .filter_map(|row| js_sys::Reflect::get(&row, &"id".into()).ok()?.as_string())
                .collect();
            tables.push((table.name.clone(), ids));
        }
        Ok(tables)
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
        Ok(match read {
            StoreRead::Row {
                table,
                id,
                with_conflict,
            } => {
                let row = self.0.get(table, id).await?;
                let conflict = match with_conflict {
                    true => self.conflict(table, id).await?,
                    false => None,
                };
                ReadResult::Row {
                    row: row.as_ref().and_then(wire_row),
                    conflict,
                }
            }
            StoreRead::BandRows { band } => ReadResult::BandRows(self.band_rows(band).await?),
            StoreRead::Cursors { band } => ReadResult::Cursors(self.cursors(band).await?),
            StoreRead::Outbox => {
                let entries = self.0.outbox().await?;
                let conflicts = self
                    .0
                    .conflicts()
                    .await?
                    .iter()
                    .filter_map(|r| js_sys::Reflect::get(&r, &"key".into()).ok()?.as_string())
                    .collect();
                ReadResult::Outbox { entries, conflicts }
            }
        })
    }
}
