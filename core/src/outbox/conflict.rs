//! A settled conflict, as kept for the user.

use crate::json_text::{ObjectWriter, WriteJson};
use crate::merge::FieldConflict;
use crate::value::{Map, Value};

/// A settled conflict, kept so no value is lost.
#[derive(Debug, Clone, PartialEq)]
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
    pub seq: u64,
    /// Where the last edit of each field of the local edit falls (a field not listed: at
    /// `seq`), so two records of one row keep each field's later value.
    pub field_seqs: Vec<(String, u64)>,
}

impl WriteJson for ConflictRecord {
    fn write_json(&self, out: &mut String) {
        let field_seqs: &dyn WriteJson = &self.field_seqs;
        ObjectWriter::new(out)
            .field("table", &self.table)
            .field("rowId", &self.row_id)
            .field("local", &self.local)
            .field("remote", &self.remote)
            .field("fields", &self.fields)
            .field("deletedRemotely", &self.deleted_remotely)
            .field("seq", &self.seq)
            .field_if_some(
                "fieldSeqs",
                (!self.field_seqs.is_empty()).then_some(field_seqs),
            )
            .end();
    }
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
        // Each earlier field's conflict: whether this record's stays, and the earlier position.
        let mut keep: Vec<(bool, u64)> = Vec::with_capacity(earlier.fields.len());
        for conflict in &earlier.fields {
            let here = self.fields.iter().any(|f| f.field == conflict.field);
            let stays = later_here(&conflict.field) && (here || edited.contains(&conflict.field));
            keep.push((stays, earlier.position(&conflict.field)));
        }
        let mut kept_here: Vec<String> = Vec::new();
        for field in earlier.local.keys() {
            if edited.contains(field) && later_here(field) {
                kept_here.push(field.clone());
            }
        }
        for (conflict, (stays, at)) in earlier.fields.into_iter().zip(keep) {
            if stays {
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

    /// A record as stored (the JSON its [`WriteJson`] writes); `None` if it is not one.
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
        let stored_fields = stored.get("fields")?.as_array()?;
        let mut fields = Vec::with_capacity(stored_fields.len());
        for stored_field in stored_fields {
            fields.push(field(stored_field)?);
        }
        let mut field_seqs = Vec::new();
        for pair in stored
            .get("fieldSeqs")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some([name, at]) = pair.as_array().map(Vec::as_slice) {
                if let (Some(name), Some(at)) = (name.as_str(), at.as_u64()) {
                    field_seqs.push((name.to_owned(), at));
                }
            }
        }
        Some(ConflictRecord {
            table: stored.get("table")?.as_str()?.to_owned(),
            row_id: stored.get("rowId")?.as_str()?.to_owned(),
            local: object(stored.get("local")?)?,
            remote: stored.get("remote").and_then(object),
            fields,
            deleted_remotely: stored.get("deletedRemotely")?.as_bool()?,
            seq: stored.get("seq").and_then(Value::as_u64).unwrap_or(0),
            field_seqs,
        })
    }
}
