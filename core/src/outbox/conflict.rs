//! A settled conflict, as kept for the user.

use crate::merge::FieldConflict;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A settled conflict, kept so no value is lost.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConflictRecord {
    /// Wire table name.
    pub table: String,
    /// The row.
    pub row_id: String,
    /// The local row when the conflict was found.
    pub local: Map<String, Value>,
    /// The server's row (`None` when it was deleted).
    pub remote: Option<Map<String, Value>>,
    /// The fields both sides changed, with the value kept.
    pub fields: Vec<FieldConflict>,
    /// The server deleted the row while it was edited locally.
    pub deleted_remotely: bool,
    /// Where the edit whose push met the conflict falls in the order of edits
    /// ([`Entry::last_edit`](super::Entry::last_edit)): of two conflicts on one field, the later edit's is the user's
    /// current value.
    #[serde(default)]
    pub seq: u64,
    /// Where the last edit of each field of the local edit falls (a field not listed: at
    /// `seq`), so two records of one row keep each field's later value.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub field_seqs: Vec<(String, u64)>,
}

impl ConflictRecord {
    /// Takes in the row's earlier record, which the user has not settled, so a second conflict
    /// on a row never replaces what the first one kept. On a field both are about, or one the
    /// user edited again (`edited`: the fields this record's edit wrote), the later edit's
    /// value counts: tabs hand their edits to the leader late, so the record met second may
    /// hold the older edit.
    pub fn absorb(&mut self, earlier: ConflictRecord, edited: &[String]) {
        let this_is_later = self.seq >= earlier.seq;
        // Per field: this record's edit of it is the later one.
        let later_here = |field: &str| self.position(field) >= earlier.position(field);
        let keep: Vec<bool> = (earlier.fields.iter())
            .map(|conflict| {
                let here = self.fields.iter().any(|f| f.field == conflict.field);
                later_here(&conflict.field) && (here || edited.contains(&conflict.field))
            })
            .collect();
        let kept_here: Vec<String> = (earlier.local.keys())
            .filter(|field| edited.contains(field) && later_here(field))
            .cloned()
            .collect();
        let positions: Vec<u64> = (earlier.fields.iter())
            .map(|conflict| earlier.position(&conflict.field))
            .collect();
        for ((conflict, keep), at) in earlier.fields.into_iter().zip(keep).zip(positions) {
            if keep {
                continue;
            }
            self.local
                .insert(conflict.field.clone(), conflict.local.clone());
            self.set_position(&conflict.field, at);
            match self.fields.iter().position(|f| f.field == conflict.field) {
                Some(index) => self.fields[index] = conflict,
                None => self.fields.push(conflict),
            }
        }
        if earlier.deleted_remotely && (!self.deleted_remotely || !this_is_later) {
            // The earlier record kept a whole row the server deleted: keep its values, but
            // for the fields this record's edit wrote later.
            for (field, value) in earlier.local {
                if !kept_here.contains(&field) {
                    self.local.insert(field, value);
                }
            }
            self.deleted_remotely = true;
        }
        self.seq = self.seq.max(earlier.seq);
    }

    /// Where the last local edit of `field` falls.
    fn position(&self, field: &str) -> u64 {
        match self.field_seqs.iter().find(|(name, _)| name == field) {
            Some((_, at)) => *at,
            // A record stored before positions were kept counts every field at its edit; a
            // newer one lists every field its edit wrote, so any other holds the row's base
            // value, older than any edit.
            None if self.field_seqs.is_empty() => self.seq,
            None => 0,
        }
    }

    fn set_position(&mut self, field: &str, at: u64) {
        self.field_seqs.retain(|(name, _)| name != field);
        self.field_seqs.push((field.to_owned(), at));
    }

    /// A record as stored (the JSON its `Serialize` writes); `None` if it is not one.
    pub fn from_json(stored: &Value) -> Option<ConflictRecord> {
        let object = |value: &Value| value.as_object().cloned();
        let field = |f: &Value| {
            let side = |key: &str| f.get(key).cloned().unwrap_or(Value::Null);
            Some(FieldConflict {
                field: f.get("field")?.as_str()?.to_owned(),
                base: side("base"),
                local: side("local"),
                remote: side("remote"),
                kept: side("kept"),
            })
        };
        Some(ConflictRecord {
            table: stored.get("table")?.as_str()?.to_owned(),
            row_id: stored.get("rowId")?.as_str()?.to_owned(),
            local: object(stored.get("local")?)?,
            remote: stored.get("remote").and_then(object),
            fields: stored
                .get("fields")?
                .as_array()?
                .iter()
                .map(field)
                .collect::<Option<_>>()?,
            deleted_remotely: stored.get("deletedRemotely")?.as_bool()?,
            seq: stored.get("seq").and_then(Value::as_u64).unwrap_or(0),
            field_seqs: (stored
                .get("fieldSeqs")
                .and_then(Value::as_array)
                .into_iter())
            .flatten()
            .filter_map(|pair| {
                let [name, at] = pair.as_array()?.as_slice() else {
                    return None;
                };
                Some((name.as_str()?.to_owned(), at.as_u64()?))
            })
            .collect(),
        })
    }
}
