//! What the sync engine asks of storage, and an in-memory store that does it.
//!
//! The engine never touches storage: it emits [`StoreRead`]s and batches of [`StoreOp`]s, and
//! the driver executes each batch in one transaction, in the order the engine emitted them
//! (IndexedDB orders transactions on the same stores by creation, so a read emitted after a
//! write sees it). [`MemoryStore`] executes them for native tests and the simulation; the wasm
//! shell executes them on IndexedDB. Both pass the same conformance suite (`sync::conformance`).

use crate::catchup::Cursor;
use crate::outbox::{ConflictRecord, Entry};
use crate::realtime::Record;
use crate::sorted::SortedMap;
use crate::value::{Map, Value};
use std::fmt;

/// A storage failure, with what the app should do about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreError {
    /// The storage quota is full: free space or ask for persistent storage. Nothing was
    /// written.
    QuotaExceeded(String),
    /// The database was deleted or closed underneath (eviction, another tab, "clear site
    /// data"): reopen the client. Nothing was written.
    Closed(String),
    /// Opening waited too long: another tab holds an older version open and does not let go.
    /// Close other tabs of the app and retry.
    Blocked,
    /// A key that must be new was taken (a new outbox entry whose sequence number another tab
    /// used in the same millisecond). Nothing was written.
    KeyTaken(String),
    /// Any other storage failure. Nothing was written.
    Failed(String),
}

impl StoreError {
    /// A stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            StoreError::QuotaExceeded(_) => "quota_exceeded",
            StoreError::Closed(_) => "database_closed",
            StoreError::Blocked => "database_blocked",
            StoreError::KeyTaken(_) => "storage_key_taken",
            StoreError::Failed(_) => "storage_failed",
        }
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::QuotaExceeded(m)
            | StoreError::Closed(m)
            | StoreError::KeyTaken(m)
            | StoreError::Failed(m) => write!(f, "{}: {m}", self.code()),
            StoreError::Blocked => f.write_str(
                "database_blocked: another tab keeps an older version open; close it and retry",
            ),
        }
    }
}

impl std::error::Error for StoreError {}

/// One change in a write batch. Rows are in wire columns (snake_case), as the server has them.
#[derive(Debug, Clone, PartialEq)]
pub enum StoreOp {
    /// Put a row.
    PutRow {
        /// Wire table name.
        table: String,
        /// The row.
        row: Map<String, Value>,
    },
    /// Delete a row.
    DeleteRow {
        /// Wire table name.
        table: String,
        /// The row id.
        id: String,
    },
    /// Add an outbox entry; the whole batch fails with [`StoreError::KeyTaken`] if its sequence
    /// number is in use (another tab's entry), so no tab's entry is ever replaced.
    AddEntry(Entry),
    /// Put an outbox entry.
    PutEntry(Entry),
    /// Remove an outbox entry.
    RemoveEntry(u64),
    /// Put a conflict record (keyed `table:row id`).
    PutConflict(ConflictRecord),
    /// Remove a row's conflict record.
    RemoveConflict {
        /// Wire table name.
        table: String,
        /// The row id.
        id: String,
    },
    /// Forget a table's pull cursor for a band (see [`cursor_key`]): its next pull reads the
    /// band's rows of that table from the start.
    ForgetCursor {
        /// Wire table name.
        table: String,
        /// The band.
        band: String,
    },
}

/// What the engine needs to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreRead {
    /// A row, and its conflict record when `with_conflict`.
    Row {
        /// Wire table name.
        table: String,
        /// The row id.
        id: String,
        /// Whether to read the row's conflict record too.
        with_conflict: bool,
    },
    /// The ids of a band's rows, per table of the schema.
    BandRows {
        /// The band.
        band: String,
    },
    /// The outbox entries (in sequence order) and the keys of the conflict records.
    Outbox,
    /// A band's saved pull cursors, one per table of the schema, in the schema's order.
    Cursors {
        /// The band.
        band: String,
    },
}

/// Server rows of one table (wire columns): a JSON array text, as REST and Realtime deliver
/// them (the browser's own JSON parser turns it into objects in one call), and rows the driver
/// holds already (see [`HeldRows`](crate::realtime::HeldRows)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerRows {
    /// Wire table name.
    pub table: String,
    /// A JSON array of row objects.
    pub json: String,
    /// More rows of the table, held by the driver.
    pub held: Vec<Record>,
}

impl ServerRows {
    /// Rows as a JSON array text.
    pub fn text(table: String, json: String) -> Self {
        Self {
            table,
            json,
            held: Vec::new(),
        }
    }
}

/// Server data applied in one transaction: rows (each written only if newer than the stored
/// copy, by `version`; within the batch the newest of a row wins), deletions, and the pull
/// cursor the rows bring a table to, so a cursor never gets ahead of the rows it covers.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ApplyBatch {
    /// Rows per table.
    pub rows: Vec<ServerRows>,
    /// `(table, id)` of rows deleted on the server.
    pub deletions: Vec<(String, String)>,
    /// `(cursor key, cursor)` to save with the rows (see [`cursor_key`]).
    pub cursor: Option<(String, Cursor)>,
}

impl ApplyBatch {
    /// Whether applying it would change nothing.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty() && self.deletions.is_empty() && self.cursor.is_none()
    }
}

/// The key of a table's pull cursor for a band.
pub fn cursor_key(table: &str, band: &str) -> String {
    format!("{table}:{band}")
}

/// Whether a server row replaces the stored copy: the stored copy has no version, or the
/// server's is higher. An equal version (the echo of this client's own write) is not news.
pub fn is_newer(incoming: &Map<String, Value>, stored: Option<&Map<String, Value>>) -> bool {
    let version = |row: &Map<String, Value>| row.get("version").and_then(Value::as_f64);
    match stored.map(version) {
        None | Some(None) => true,
        Some(Some(mine)) => version(incoming).is_some_and(|theirs| theirs > mine),
    }
}

/// The answer to a [`StoreRead`].
#[derive(Debug, Clone, PartialEq)]
pub enum ReadResult {
    /// The row (wire columns) and its conflict record.
    Row {
        /// The row, if stored.
        row: Option<Map<String, Value>>,
        /// Its conflict record, if asked for and stored (boxed: it is large and rare).
        conflict: Option<Box<ConflictRecord>>,
    },
    /// Row ids per table.
    BandRows(Vec<(String, Vec<String>)>),
    /// Saved cursors per table, in the schema's order.
    Cursors(Vec<Option<Cursor>>),
    /// The outbox.
    Outbox {
        /// Entries in sequence order.
        entries: Vec<Entry>,
        /// Conflict record keys (`table:row id`).
        conflicts: Vec<String>,
    },
}

/// The key of a row's conflict record.
pub fn conflict_key(table: &str, id: &str) -> String {
    format!("{table}:{id}")
}

/// A store held in memory: what the engine's persisted state looks like, for native tests and
/// the simulation (a reload is a new engine on the same store).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MemoryStore {
    /// Tables → row id → row (wire columns).
    pub rows: SortedMap<String, SortedMap<String, Map<String, Value>>>,
    /// The outbox, by sequence number.
    pub outbox: SortedMap<u64, Entry>,
    /// Conflict records by key.
    pub conflicts: SortedMap<String, ConflictRecord>,
    /// Pull cursors by key.
    pub cursors: SortedMap<String, Cursor>,
    /// The scope column of each table (for [`StoreRead::BandRows`]).
    pub scopes: Vec<(String, String)>,
}

impl MemoryStore {
    /// An empty store for tables with these `(name, scope column)`s.
    pub fn new(scopes: Vec<(String, String)>) -> Self {
        Self {
            scopes,
            ..Self::default()
        }
    }

    /// Executes a batch atomically: all of it, or (on error) none of it.
    pub fn write(&mut self, ops: &[StoreOp]) -> Result<(), StoreError> {
        for op in ops {
            if let StoreOp::AddEntry(entry) = op {
                if self.outbox.contains_key(&entry.seq) {
                    return Err(StoreError::KeyTaken(format!("outbox entry {}", entry.seq)));
                }
            }
        }
        for op in ops {
            self.apply_op(op.clone());
        }
        Ok(())
    }

    /// Applies server data in one step; returns the ids of the rows written (older or equal
    /// versions are not). A batch whose rows do not read as JSON arrays of objects fails whole.
    pub fn apply(&mut self, batch: &ApplyBatch) -> Result<Vec<String>, StoreError> {
        let mut incoming = Vec::with_capacity(batch.rows.len());
        for rows in &batch.rows {
            let mut parsed = crate::fields::objects(&rows.json)
                .map_err(|e| StoreError::Failed(format!("rows of {}: {e}", rows.table)))?;
            parsed.extend(rows.held.iter().map(Record::to_map));
            incoming.push((&rows.table, parsed));
        }
        let mut written = Vec::new();
        for (table, rows) in incoming {
            // Within a batch too the newest version of a row wins, whatever the order.
            let mut newest: SortedMap<String, Map<String, Value>> = SortedMap::new();
            for row in rows {
                let id = row.get("id").and_then(Value::as_str).unwrap_or_default();
                if is_newer(&row, newest.get(id)) {
                    newest.insert(id.to_owned(), row);
                }
            }
            let stored = self.rows.get_or_insert_with(table.clone(), SortedMap::new);
            for (id, row) in newest {
                if is_newer(&row, stored.get(&id)) {
                    stored.insert(id.clone(), row);
                    written.push(id);
                }
            }
        }
        for (table, id) in &batch.deletions {
            if let Some(rows) = self.rows.get_mut(table) {
                rows.remove(id);
            }
        }
        if let Some((key, cursor)) = &batch.cursor {
            self.cursors.insert(key.clone(), cursor.clone());
        }
        Ok(written)
    }

    fn apply_op(&mut self, op: StoreOp) {
        match op {
            StoreOp::PutRow { table, row } => {
                let id = row.get("id").and_then(Value::as_str).unwrap_or_default();
                let id = id.to_owned();
                self.rows
                    .get_or_insert_with(table, SortedMap::new)
                    .insert(id, row);
            }
            StoreOp::DeleteRow { table, id } => {
                if let Some(rows) = self.rows.get_mut(&table) {
                    rows.remove(&id);
                }
            }
            StoreOp::AddEntry(entry) | StoreOp::PutEntry(entry) => {
                self.outbox.insert(entry.seq, entry);
            }
            StoreOp::RemoveEntry(seq) => {
                self.outbox.remove(&seq);
            }
            StoreOp::PutConflict(record) => {
                let key = conflict_key(&record.table, &record.row_id);
                self.conflicts.insert(key, record);
            }
            StoreOp::RemoveConflict { table, id } => {
                self.conflicts.remove(&conflict_key(&table, &id));
            }
            StoreOp::ForgetCursor { table, band } => {
                self.cursors.remove(&cursor_key(&table, &band));
            }
        }
    }

    /// Answers a read.
    pub fn read(&self, read: &StoreRead) -> ReadResult {
        match read {
            StoreRead::Row {
                table,
                id,
                with_conflict,
            } => ReadResult::Row {
                row: self.row(table, id).cloned(),
                conflict: with_conflict
                    .then(|| self.conflicts.get(&conflict_key(table, id)).cloned())
                    .flatten()
                    .map(Box::new),
            },
            StoreRead::BandRows { band } => ReadResult::BandRows(
                self.scopes
                    .iter()
                    .map(|(table, scope)| {
                        let ids = self.rows.get(table).into_iter().flat_map(|rows| {
                            rows.iter()
                                .filter(|(_, row)| {
                                    row.get(scope).and_then(Value::as_str) == Some(band)
                                })
                                .map(|(id, _)| id.clone())
                        });
                        (table.clone(), ids.collect())
                    })
                    .collect(),
            ),
            StoreRead::Outbox => ReadResult::Outbox {
                entries: self.outbox.values().cloned().collect(),
                conflicts: self.conflicts.keys().cloned().collect(),
            },
            StoreRead::Cursors { band } => ReadResult::Cursors(
                self.scopes
                    .iter()
                    .map(|(table, _)| self.cursors.get(&cursor_key(table, band)).cloned())
                    .collect(),
            ),
        }
    }

    /// A stored row.
    pub fn row(&self, table: &str, id: &str) -> Option<&Map<String, Value>> {
        self.rows.get(table)?.get(id)
    }
}
