//! Three-way merge of a row edited locally while someone else changed it on the server.
//!
//! Per field, with `base` the server row the local edit started from: a field only one side
//! changed takes that side's value; a field both sides changed to different values is a
//! conflict, settled by the [`ConflictPolicy`], and the losing value is kept so nothing is lost.

use crate::json_text::{write_str, ObjectWriter, WriteJson};
use crate::value::{Map, Value};

/// Who wins a field both sides changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ConflictPolicy {
    /// The server's value stays; the local value is kept in the conflict record.
    #[default]
    ServerWins,
    /// The local value is pushed again on top of the server's row.
    ClientWins,
}

impl ConflictPolicy {
    /// Every policy, by its name in the options.
    pub const NAMED: [(&'static str, ConflictPolicy); 2] = [
        ("serverWins", ConflictPolicy::ServerWins),
        ("clientWins", ConflictPolicy::ClientWins),
    ];
}

impl WriteJson for ConflictPolicy {
    fn write_json(&self, out: &mut String) {
        let named = Self::NAMED.iter().find(|(_, policy)| policy == self);
        write_str(out, named.map_or("", |(name, _)| name));
    }
}

/// A field both sides changed.
#[derive(Debug, Clone, PartialEq)]
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

impl WriteJson for FieldConflict {
    fn write_json(&self, out: &mut String) {
        ObjectWriter::new(out)
            .field("field", &self.field)
            .field("base", &self.base)
            .field("local", &self.local)
            .field("remote", &self.remote)
            .field("kept", &self.kept)
            .end();
    }
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

/// How the user settles a conflict.
#[derive(Debug, Clone, PartialEq)]
pub enum Resolution {
    /// Their own values, for every field both sides changed (and the row back, if the server
    /// deleted it).
    KeepMine,
    /// The server's values (and its delete).
    KeepTheirs,
    /// These values (wire columns) for these conflicting fields; the others stay as they are.
    Fields(Map<String, Value>),
}

/// A resolution that names a field the conflict is not about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotInConflict(pub String);

impl std::fmt::Display for NotInConflict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} is not a field of this conflict", self.0)
    }
}

/// The fields to write (wire columns) so the row holds what the user chose, given the
/// conflict's `fields`, whether the server deleted the row, the local row when the conflict was
/// found, the row as it is now, and the fields users may edit. Empty when the row already
/// holds the choice. The result is pushed as an ordinary conditional update.
pub fn resolve(
    conflicts: &[FieldConflict],
    deleted_remotely: bool,
    local: &Map<String, Value>,
    current: &Map<String, Value>,
    editable: &[&str],
    resolution: &Resolution,
) -> Result<Map<String, Value>, NotInConflict> {
    let mut wanted = Map::new();
    match resolution {
        Resolution::KeepMine if deleted_remotely => {
            // Bring the row back with the user's values.
            wanted.insert("deleted_at".into(), Value::Null);
            for &field in editable {
                wanted.insert(
                    field.to_owned(),
                    local.get(field).cloned().unwrap_or(Value::Null),
                );
            }
        }
        Resolution::KeepMine => {
            for conflict in conflicts {
                wanted.insert(conflict.field.clone(), conflict.local.clone());
            }
        }
        Resolution::KeepTheirs => {
            for conflict in conflicts {
                wanted.insert(conflict.field.clone(), conflict.remote.clone());
            }
        }
        Resolution::Fields(values) => {
            for (field, value) in values {
                if !conflicts.iter().any(|c| c.field == *field) {
                    return Err(NotInConflict(field.clone()));
                }
                wanted.insert(field.clone(), value.clone());
            }
        }
    }
    wanted.retain(|field, value| current.get(field).unwrap_or(&Value::Null) != value);
    Ok(wanted)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::json;

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

    fn conflict(field: &str, local: Value, remote: Value) -> FieldConflict {
        FieldConflict {
            field: field.into(),
            base: Value::Null,
            kept: remote.clone(),
            local,
            remote,
        }
    }

    #[test]
    fn a_resolution_writes_only_what_the_row_does_not_hold_yet() {
        let conflicts = [
            conflict("title", json!("Mine"), json!("Theirs")),
            conflict("key", json!("C"), json!("D")),
        ];
        let local = object(json!({"title": "Mine", "key": "C", "tempo": 90}));
        // The server won (the default policy): the row holds their values.
        let current = object(json!({"title": "Theirs", "key": "D", "tempo": 90}));
        let editable = ["title", "key", "tempo"];
        let mine = resolve(
            &conflicts,
            false,
            &local,
            &current,
            &editable,
            &Resolution::KeepMine,
        );
        assert_eq!(mine, Ok(object(json!({"title": "Mine", "key": "C"}))));
        let theirs = resolve(
            &conflicts,
            false,
            &local,
            &current,
            &editable,
            &Resolution::KeepTheirs,
        );
        assert_eq!(theirs, Ok(Map::new()), "nothing to push");
        let pick = Resolution::Fields(object(json!({"title": "Mine", "key": "E"})));
        let picked = resolve(&conflicts, false, &local, &current, &editable, &pick);
        assert_eq!(picked, Ok(object(json!({"title": "Mine", "key": "E"}))));
        let stray = Resolution::Fields(object(json!({"tempo": 100})));
        assert_eq!(
            resolve(&conflicts, false, &local, &current, &editable, &stray),
            Err(NotInConflict("tempo".into()))
        );
    }

    #[test]
    fn keeping_mine_brings_back_a_row_the_server_deleted() {
        let local = object(json!({"title": "Mine", "key": "C", "deleted_at": null}));
        let current =
            object(json!({"title": "Old", "key": "C", "deleted_at": "2026-12-01T10:00:00Z"}));
        let editable = ["title", "key"];
        let mine = resolve(
            &[],
            true,
            &local,
            &current,
            &editable,
            &Resolution::KeepMine,
        );
        assert_eq!(
            mine,
            Ok(object(json!({"deleted_at": null, "title": "Mine"})))
        );
        let theirs = resolve(
            &[],
            true,
            &local,
            &current,
            &editable,
            &Resolution::KeepTheirs,
        );
        assert_eq!(theirs, Ok(Map::new()));
    }
}
