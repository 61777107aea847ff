//! Remote changes from the socket: what arrived while a batch was being stored goes into the
//! next one (up to [`BATCH_CHANGES`]), so a burst costs a handful of transactions, not one per
//! change, and no one task of the page's stores a whole burst.

use super::{LocalEdits, ReadEngine, ReadEvent, Waiting};
use crate::catchup::parse_micros;
use crate::notify::Action;
use crate::outbox::{HttpRequest, HttpResult};
use crate::percent_encode;
use crate::realtime::{ChangeKind, PostgresChange};
use crate::schema::TableSchema;
use crate::sorted::{SortedMap, SortedSet};
use crate::sync::events::{ChangeAction, ChangeSource, RowsChanged};
use crate::sync::store::{ApplyBatch, ServerRows, StoreError};
use crate::unread::ObservedRow;
use crate::value::Value;

/// A batch holds at most this many changes; a burst is stored in several. The longest task a
/// burst of 5,000 gave the page went from 120–140 ms (batches of a thousand and more) to about
/// 70 ms, at the cost of a slower burst (`npm run bench`, row 2); 256 gave 60 ms but slowed the
/// burst further, since each batch waits for the one before it to commit.
pub const BATCH_CHANGES: usize = 512;

/// Changes waiting for storage, and whether a batch is being stored.
#[derive(Debug, Default)]
pub(super) struct Changes {
    pending: Vec<PostgresChange>,
    applying: bool,
}

impl Changes {
    pub(super) fn arrived(&mut self, change: PostgresChange) {
        self.pending.push(change);
    }
}

/// What a batch being stored will tell the app once written: who changed what, and the rows
/// touched per table, band and action.
#[derive(Debug, Default)]
pub(super) struct Applying {
    observed: Vec<ObservedRow>,
    touched: SortedMap<(String, String, ChangeAction), Vec<String>>,
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

    /// Who changed the row how. A hard delete carries no author.
    fn observe(self, spec: &TableSchema, kind: ChangeKind) -> ObservedRow {
        let action = match kind {
            ChangeKind::Delete => Action::Deleted,
            _ if self.deleted => Action::Deleted,
            ChangeKind::Insert => Action::Added,
            ChangeKind::Update => Action::Updated,
        };
        ObservedRow {
            table: spec.name.clone(),
            scope: self.scope,
            id: self.id.unwrap_or_default(),
            author: self.author,
            label: self.label,
            action,
        }
    }
}

impl ReadEngine {
    /// Stores the changes that arrived, unless a batch is being stored (they wait for it).
    pub(super) fn apply_changes(&mut self, local: &dyn LocalEdits) {
        let (batch, applying) = loop {
            if self.changes.applying || self.changes.pending.is_empty() {
                return;
            }
            let count = self.changes.pending.len().min(BATCH_CHANGES);
            let changes: Vec<_> = self.changes.pending.drain(..count).collect();
            let (batch, applying) = self.sort_changes(changes, local);
            // Changes that store nothing (rows with local edits, rows to fetch) let the next
            // ones go at once.
            if !batch.is_empty() {
                break (batch, applying);
            }
        };
        self.changes.applying = true;
        let op = self.op(Waiting::Changes(applying));
        self.outputs
            .push_back(super::ReadOutput::Apply { op, batch });
    }

    /// Sorts changes for one batch. Rows with local edits are skipped (their pending push is
    /// conditional on its base version and meets the change as a conflict); rows too large to
    /// send are fetched.
    fn sort_changes(
        &mut self,
        changes: Vec<PostgresChange>,
        local: &dyn LocalEdits,
    ) -> (ApplyBatch, Applying) {
        let mut rows: SortedMap<String, ServerRows> = SortedMap::new();
        let mut batch = ApplyBatch::default();
        let mut applying = Applying::default();
        // Told and fetched after the loop: the schema stays borrowed through it, rather than
        // a table's schema being copied for every change of a burst.
        let mut told = Vec::new();
        let mut fetches = Vec::new();
        for change in changes {
            let Ok(spec) = self.schema.table(&change.table) else {
                let message = format!(
                    "a change for table '{}', which the schema does not have",
                    change.table
                );
                told.push(ReadEvent::Error {
                    code: "unknown_table",
                    message,
                });
                continue;
            };
            if self.report_arrivals {
                if let Some(commit_micros) = parse_micros(&change.commit_timestamp.text()) {
                    told.push(ReadEvent::Arrived { commit_micros });
                }
            }
            let row = ChangedRow::read(spec, &change);
            let Some(id) = row.id.clone() else { continue };
            if local.has_local_edits(&change.table, &id) {
                continue;
            }
            if change.needs_fetch() {
                fetches.push((change.table.clone(), id));
                continue;
            }
            let scope = row.scope.clone();
            applying.observed.push(row.observe(spec, change.kind));
            let action = match (change.kind, &change.record) {
                (ChangeKind::Delete, _) | (_, None) => {
                    batch.deletions.push((change.table.to_string(), id.clone()));
                    ChangeAction::Delete
                }
                (_, Some(record)) => {
                    let table = change.table.clone();
                    let rows = rows.get_or_insert_with(table.to_string(), || {
                        ServerRows::text(table.to_string(), "[".into())
                    });
                    if record.as_held().is_some() {
                        rows.held.push(record.clone());
                    } else {
                        if rows.json.len() > 1 {
                            rows.json.push(',');
                        }
                        rows.json.push_str(&record.json());
                    }
                    ChangeAction::Upsert
                }
            };
            (applying.touched)
                .get_or_insert_with((change.table.to_string(), scope, action), Vec::new)
                .push(id);
        }
        batch.rows = Vec::with_capacity(rows.len());
        for (_, mut table_rows) in rows {
            table_rows.json.push(']');
            batch.rows.push(table_rows);
        }
        for event in told {
            self.emit(event);
        }
        for (table, id) in fetches {
            self.fetch(table.to_string(), id);
        }
        (batch, applying)
    }

    /// Tells the app what a batch wrote. The echo of this client's own write was not written
    /// (its version is not newer): it is neither news nor a change.
    pub(super) fn changes_applied(
        &mut self,
        applying: Applying,
        result: Result<Vec<String>, StoreError>,
    ) {
        self.changes.applying = false;
        let written: SortedSet<String> = match result {
            Ok(written) => SortedSet::from_vec(written),
            Err(error) => return self.error(error.code(), error.to_string()),
        };
        let Applying {
            mut observed,
            touched,
        } = applying;
        observed.retain(|row| row.action == Action::Deleted || written.contains(&row.id));
        if !observed.is_empty() {
            self.emit(ReadEvent::Observed {
                rows: observed,
                quiet: false,
            });
        }
        for ((table, scope, action), mut ids) in touched {
            if action == ChangeAction::Upsert {
                ids.retain(|id| written.contains(id));
            }
            if !ids.is_empty() {
                self.emit(ReadEvent::Change(RowsChanged {
                    table,
                    scope,
                    ids,
                    action,
                    source: ChangeSource::Remote,
                }));
            }
        }
    }

    /// Reads a row again whose local edits were given up (see
    /// [`WriteOutput::Refetch`](crate::sync::WriteOutput::Refetch)), until the server answers.
    pub fn refetch(&mut self, table: String, id: String, scope: String) {
        if self.refetching_at(&table, &id).is_none() {
            self.refetching.push((table.clone(), id.clone(), scope));
        }
        self.fetch(table, id);
    }

    /// Where the row is among those read again.
    pub(super) fn refetching_at(&self, table: &str, id: &str) -> Option<usize> {
        (self.refetching.iter()).position(|(t, i, _)| t == table && i == id)
    }

    /// Reads a row whose change was too large to send, or to read again.
    pub(super) fn fetch(&mut self, table: String, id: String) {
        let request = HttpRequest::get(format!(
            "/rest/v1/{table}?id=eq.{}&select=*",
            percent_encode(&id)
        ));
        self.http(Waiting::Fetch { table, id }, request);
    }

    /// Stores a fetched row unless it was edited meanwhile. A failed fetch of a changed row is
    /// left to the next catch-up pull; a row read again is asked for again (see `answered`).
    pub(super) fn fetch_answered(
        &mut self,
        table: String,
        id: String,
        result: HttpResult,
        local: &dyn LocalEdits,
    ) {
        let HttpResult::Response { status: 200, body } = result else {
            return;
        };
        if local.has_local_edits(&table, &id) {
            // Edited again meanwhile (or this tab's copy of the outbox is behind): a row read
            // again is asked for once more with the next pulls.
            return;
        }
        let at = self.refetching_at(&table, &id);
        let refetched = at.map(|at| self.refetching.swap_remove(at));
        let Ok(rows) = crate::fields::objects(&body) else {
            return;
        };
        if let (true, Some((_, _, scope))) = (rows.is_empty(), refetched) {
            // The server has no such row for this user (say a creation given up in another
            // tab, whose later edit was then given up here): neither does the cache.
            let batch = ApplyBatch {
                deletions: vec![(table.clone(), id.clone())],
                ..ApplyBatch::default()
            };
            let op = self.op(Waiting::Gone { table, id, scope });
            return self
                .outputs
                .push_back(super::ReadOutput::Apply { op, batch });
        }
        let scope_column = self.schema.table(&table).map(|t| t.scope.as_str());
        let scope = rows
            .first()
            .zip(scope_column.ok())
            .and_then(|(row, column)| row.get(column)?.as_str())
            .unwrap_or_default()
            .to_owned();
        let batch = ApplyBatch {
            rows: vec![ServerRows::text(table.clone(), body)],
            ..ApplyBatch::default()
        };
        let op = self.op(Waiting::Fetched { table, scope });
        self.outputs
            .push_back(super::ReadOutput::Apply { op, batch });
    }

    /// A row read again that the server does not have is out of the cache: told as a removal.
    pub(super) fn fetched_gone(
        &mut self,
        table: String,
        id: String,
        scope: String,
        result: Result<(), StoreError>,
    ) {
        match result {
            Ok(()) => self.emit(ReadEvent::Change(RowsChanged {
                table,
                scope,
                ids: vec![id],
                action: ChangeAction::Delete,
                source: ChangeSource::Remote,
            })),
            Err(error) => self.error(error.code(), error.to_string()),
        }
    }

    pub(super) fn fetched_applied(
        &mut self,
        table: String,
        scope: String,
        result: Result<Vec<String>, StoreError>,
    ) {
        match result {
            Ok(ids) if !ids.is_empty() => self.emit(ReadEvent::Change(RowsChanged {
                table,
                scope,
                ids,
                action: ChangeAction::Upsert,
                source: ChangeSource::Remote,
            })),
            Ok(_) => {}
            Err(error) => self.error(error.code(), error.to_string()),
        }
    }
}
