//! Three-way merge of a row edited locally while someone else changed it on the server.
//!
//! Per field, with `base` the server row the local edit started from: a field only one side
//! changed takes that side's value; a field both sides changed to different values is a
//! conflict, settled by the [`ConflictPolicy`], and the losing value is kept so nothing is lost.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Who wins a field both sides changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ConflictPolicy {
    /// The server's value stays; the local value is kept in the conflict record.
    #[default]
    ServerWins,
    /// The local value is pushed again on top of the server's row.
    ClientWins,
}

/// A field both sides changed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldConflict {
    /// The wire column.
    pub field: String,
    /// Its value in the common base.
    pub base: Value,
    /// The local value.
    pub local: Value,
    /// The server's value.
    pub remote: Value,
    /// The value that won.
    pub kept: Value,
}

/// The outcome of a merge.
#[derive(Debug, Clone, PartialEq)]
pub struct Merge {
    /// The row to show locally: the server row with the surviving local changes.
    pub row: Map<String, Value>,
    /// The local changes still to push, on top of the server row's version.
    pub patch: Map<String, Value>,
    /// Fields both sides changed.
    pub conflicts: Vec<FieldConflict>,
}

/// Merges `local` (the edited row) and `remote` (the server's row) against `base` over the
/// `fields` users may edit.
pub fn three_way(
    base: &Map<String, Value>,
    local: &Map<String, Value>,
    remote: &Map<String, Value>,
    fields: &[&str],
    policy: ConflictPolicy,
) -> Merge {
    let mut row = remote.clone();
    let mut patch = Map::new();
    let mut conflicts = Vec::new();
    for &field in fields {
        let get = |m: &Map<String, Value>| m.get(field).cloned().unwrap_or(Value::Null);
        let (b, l, r) = (get(base), get(local), get(remote));
        if l == b || l == r {
            continue; // Unchanged locally, or both arrived at the same value.
        }
        if r == b {
            row.insert(field.to_owned(), l.clone());
            patch.insert(field.to_owned(), l);
            continue;
        }
        let kept = match policy {
            ConflictPolicy::ServerWins => r.clone(),
            ConflictPolicy::ClientWins => {
                row.insert(field.to_owned(), l.clone());
                patch.insert(field.to_owned(), l.clone());
                l.clone()
            }
        };
        conflicts.push(FieldConflict {
            field: field.to_owned(),
            base: b,
            local: l,
            remote: r,
            kept,
        });
    }
    Merge {
        row,
        patch,
        conflicts,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn object(value: Value) -> Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    const FIELDS: &[&str] = &["title", "key", "tempo", "notes"];

    #[test]
    fn fields_changed_on_one_side_merge_cleanly() {
        let base = object(json!({"title": "Yellow", "key": "B", "tempo": 88, "version": 1}));
        let local = object(json!({"title": "Yellow", "key": "C", "tempo": 88, "version": 1}));
        let remote =
            object(json!({"title": "Yellow (live)", "key": "B", "tempo": 88, "version": 2}));
        let merge = three_way(&base, &local, &remote, FIELDS, ConflictPolicy::ServerWins);
        assert!(merge.conflicts.is_empty());
        assert_eq!(merge.row["title"], "Yellow (live)");
        assert_eq!(merge.row["key"], "C");
        assert_eq!(merge.row["version"], 2);
        assert_eq!(merge.patch, object(json!({"key": "C"})));
    }

    #[test]
    fn fields_changed_on_both_sides_follow_the_policy_and_keep_the_loser() {
        let base = object(json!({"title": "Yellow", "tempo": 88}));
        let local = object(json!({"title": "Yellow!", "tempo": 90}));
        let remote = object(json!({"title": "Yellow?", "tempo": 90}));
        let server = three_way(&base, &local, &remote, FIELDS, ConflictPolicy::ServerWins);
        assert_eq!(server.row["title"], "Yellow?");
        assert!(
            server.patch.is_empty(),
            "same tempo on both sides is no conflict"
        );
        assert_eq!(server.conflicts.len(), 1);
        assert_eq!(server.conflicts[0].local, "Yellow!");
        let client = three_way(&base, &local, &remote, FIELDS, ConflictPolicy::ClientWins);
        assert_eq!(client.row["title"], "Yellow!");
        assert_eq!(client.patch, object(json!({"title": "Yellow!"})));
        assert_eq!(client.conflicts[0].remote, "Yellow?");
    }
}
