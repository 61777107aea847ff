//! What the outbox makes of the server's answers: settling a write the server has, and
//! resolving an empty answer (a duplicate insert, our own commit whose answer was lost, or
//! someone else's change to merge with).

use super::*;
use crate::merge::three_way;

/// Tries an edit of a row whose creation is not in sight makes before it is parked.
const AWAIT_INSERT_ATTEMPTS: u32 = 5;

impl Outbox {
    /// The server has the write: drop the entry, store the server's row.
    pub(super) fn settle(&mut self, entry: &Entry, server_row: Map<String, Value>) -> Vec<Effect> {
        self.paused_until = None;
        self.forget(entry.seq);
        // Later entries of the row now build on this server row, unless already sent: one
        // another tab pushed first may have committed, and its retry must go exactly as it went
        // (on its own base, so it cannot apply twice).
        for later in self.entries.values_mut() {
            if later.table == entry.table && later.row_id == entry.row_id && later.attempts == 0 {
                later.base = Some(server_row.clone());
            }
        }
        let mut laters: Vec<Entry> = Vec::new();
        for later in self.row_entries(&entry.table, &entry.row_id) {
            laters.push(later.clone());
        }
        let stored = if laters.is_empty() {
            Effect::StoreServerRow {
                table: entry.table.clone(),
                row: server_row,
            }
        } else {
            Effect::StoreMergedRow {
                table: entry.table.clone(),
                row: self.with_later_edits(entry, server_row),
            }
        };
        let mut effects = vec![Effect::RemoveEntry(entry.seq), stored];
        for later in laters {
            effects.push(Effect::PutEntry(later));
        }
        effects.extend(self.status_effect(entry));
        effects
    }

    /// `row` with the row's entries after `entry` on top: later edits are still only local,
    /// and the local row keeps them over the server's (never show the server row alone while
    /// the user's newer values wait).
    pub fn with_later_edits(
        &self,
        entry: &Entry,
        mut row: Map<String, Value>,
    ) -> Map<String, Value> {
        let laters = self
            .row_entries(&entry.table, &entry.row_id)
            .filter(|later| later.seq > entry.seq);
        for later in laters {
            match later.op {
                Op::Delete => {
                    // The device's time of the delete, until the server stamps its own.
                    let stamp = later
                        .fields
                        .get("deleted_at")
                        .cloned()
                        .unwrap_or_else(|| Value::String("1970-01-01T00:00:00Z".into()));
                    if row.get("deleted_at").is_none_or(Value::is_null) {
                        row.insert("deleted_at".into(), stamp);
                    }
                }
                _ => row.extend(later.fields.clone()),
            }
        }
        row
    }

    /// After an empty answer: the row as the server has it now decides.
    pub(super) fn resolve(
        &mut self,
        now: Millis,
        entry: &Entry,
        remote: Option<Map<String, Value>>,
        table: &TableSchema,
    ) -> Vec<Effect> {
        let deleted =
            |row: &Map<String, Value>| row.get("deleted_at").is_some_and(|v| !v.is_null());
        if remote.is_none() && entry.op != Op::Insert && entry.base_version() == Some(0) {
            return self.await_insert(now, entry);
        }
        match (entry.op, remote) {
            // The insert was already there (a retry after a lost response): it is ours.
            (Op::Insert, Some(server_row)) => self.settle(entry, server_row),
            (Op::Insert, None) => self.park(
                entry,
                403,
                r#"{"message":"the row exists but is not visible to this user"}"#,
            ),
            // Deleted on the server already: the local delete is done.
            (Op::Delete, None) => self.drop_entry(entry),
            (Op::Delete, Some(server_row)) if deleted(&server_row) => {
                self.settle(entry, server_row)
            }
            // Someone changed it meanwhile; the local delete still wins, on the new version.
            (Op::Delete, Some(server_row)) => {
                self.rebase(entry, server_row, Map::new(), Vec::new())
            }
            // The update committed and only its answer was lost: the server's row is exactly
            // one version past the base and holds every value sent. Ours; nothing to merge.
            (Op::Update, Some(server_row)) if is_own_commit(entry, &server_row) => {
                self.settle(entry, server_row)
            }
            (Op::Update, Some(server_row)) if !deleted(&server_row) => {
                self.merge_update(entry, server_row, table)
            }
            // Deleted remotely while edited locally: the delete stands, the local values are
            // kept in the conflict record.
            (Op::Update, remote) => {
                let mut effects = vec![Effect::Conflict(ConflictRecord {
                    table: entry.table.clone(),
                    row_id: entry.row_id.clone(),
                    local: own_edit(entry),
                    remote: remote.clone(),
                    fields: Vec::new(),
                    deleted_remotely: true,
                    seq: entry.last_edit(),
                    field_seqs: entry.field_positions(),
                })];
                effects.extend(match remote {
                    Some(server_row) => self.settle(entry, server_row),
                    None => self.drop_entry(entry),
                });
                effects
            }
        }
    }

    /// Someone else changed the row since the entry's base: a three-way merge by field, what
    /// both changed settled by the policy and recorded, the rest pushed again on the new
    /// version.
    fn merge_update(
        &mut self,
        entry: &Entry,
        server_row: Map<String, Value>,
        table: &TableSchema,
    ) -> Vec<Effect> {
        let base = entry.base.clone().unwrap_or_default();
        let local = own_edit(entry);
        let fields = table.field_names();
        let merge = three_way(&base, &local, &server_row, &fields, self.policy);
        let mut effects = Vec::new();
        if !merge.conflicts.is_empty() {
            effects.push(Effect::Conflict(ConflictRecord {
                table: entry.table.clone(),
                row_id: entry.row_id.clone(),
                local,
                remote: Some(server_row.clone()),
                fields: merge.conflicts.clone(),
                deleted_remotely: false,
                seq: entry.last_edit(),
                field_seqs: entry.field_positions(),
            }));
        }
        effects.push(Effect::StoreMergedRow {
            table: entry.table.clone(),
            row: self.with_later_edits(entry, merge.row.clone()),
        });
        if merge.patch.is_empty() {
            effects.extend(self.settle(entry, server_row));
        } else {
            effects.extend(self.rebase(entry, server_row, merge.patch, Vec::new()));
        }
        effects
    }

    /// Re-targets the entry at the server's current version with `patch` and pushes it again.
    fn rebase(
        &mut self,
        entry: &Entry,
        server_row: Map<String, Value>,
        patch: Map<String, Value>,
        mut effects: Vec<Effect>,
    ) -> Vec<Effect> {
        let current = self.entries.get_mut(&entry.seq).expect("entry in outbox");
        current.base = Some(server_row);
        if current.op == Op::Update {
            current.fields = patch;
        }
        current.attempts = 0;
        effects.push(Effect::PutEntry(current.clone()));
        effects.extend(self.status_effect(entry));
        effects
    }

    /// An edit of a row created on this device found no row on the server: its insert has not
    /// landed yet (another tab may hold it, not yet adopted here). The edit waits for it; after
    /// a few tries with no insert in sight it is parked, visible, rather than read as a
    /// remote delete.
    fn await_insert(&mut self, now: Millis, entry: &Entry) -> Vec<Effect> {
        let insert_waits = self
            .row_entries(&entry.table, &entry.row_id)
            .any(|e| e.op == Op::Insert);
        if insert_waits || entry.attempts < AWAIT_INSERT_ATTEMPTS {
            let message = "the row is not on the server yet; waiting for its creation";
            return self.retry_all(now, std::slice::from_ref(entry), 0, message);
        }
        self.park(
            entry,
            404,
            r#"{"code":"row_not_created","message":"the row was never created on the server"}"#,
        )
    }

    fn drop_entry(&mut self, entry: &Entry) -> Vec<Effect> {
        self.forget(entry.seq);
        let mut effects = vec![Effect::RemoveEntry(entry.seq)];
        effects.extend(self.status_effect(entry));
        effects
    }
}

/// The entry's edit alone: its base with its fields. The stored row may hold later entries'
/// edits, which go in their own pushes (merging them here would send them twice), or a server
/// row another tab's push or a pull stored before this tab knew of the entry.
fn own_edit(entry: &Entry) -> Map<String, Value> {
    let mut local = entry.base.clone().unwrap_or_default();
    local.extend(entry.fields.clone());
    local
}

/// Whether `server_row` is exactly what `entry` (an update) would have made of its base: one
/// version further, with every field it sent. A lost answer leaves this to be recognised.
fn is_own_commit(entry: &Entry, server_row: &Map<String, Value>) -> bool {
    let (Some(base), Some(version)) = (
        entry.base_version(),
        server_row.get("version").and_then(Value::as_i64),
    ) else {
        return false;
    };
    version == base + 1
        && entry
            .fields
            .iter()
            .all(|(field, sent)| server_row.get(field) == Some(sent))
}
