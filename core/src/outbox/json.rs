//! An entry written as the JSON it is stored as, and read back from it.
//!
//! The stored shape is the one serde's derived `Serialize` wrote, and it was read by a derived
//! `Deserialize` until the derived readers' code was taken out of the module for its size.
//! The tests check this reader against that derived one on every shape of a stored entry:
//! it accepts what the derived reader accepted, with the same values, and is lenient in one
//! way only (`null` where a later version added a field with a default), so an entry the
//! derived reader would have dropped is kept.

use super::{Entry, Op, PushError, RowStatus};
use crate::fields::text;
use crate::json_text::{write_str, ObjectWriter, WriteJson};
use crate::value::{Map, Value};

impl Op {
    /// Every operation, by its stored name.
    pub const NAMED: [(&'static str, Op); 3] = [
        ("insert", Op::Insert),
        ("update", Op::Update),
        ("delete", Op::Delete),
    ];
}

impl WriteJson for Op {
    fn write_json(&self, out: &mut String) {
        let named = Op::NAMED.iter().find(|(_, op)| op == self);
        write_str(out, named.map_or("", |(name, _)| name));
    }
}

impl WriteJson for PushError {
    fn write_json(&self, out: &mut String) {
        ObjectWriter::new(out)
            .field("status", &self.status)
            .field("code", &self.code)
            .field("message", &self.message)
            .end();
    }
}

impl WriteJson for Entry {
    fn write_json(&self, out: &mut String) {
        let field_edits: &dyn WriteJson = &self.field_edits;
        ObjectWriter::new(out)
            .field("seq", &self.seq)
            .field("table", &self.table)
            .field("rowId", &self.row_id)
            .field("op", &self.op)
            .field("fields", &self.fields)
            .field("base", &self.base)
            .field("attempts", &self.attempts)
            .field("failed", &self.failed)
            .field("lastError", &self.last_error)
            .field("edited", &self.edited)
            .field_if_some(
                "fieldEdits",
                (!self.field_edits.is_empty()).then_some(field_edits),
            )
            .end();
    }
}

impl WriteJson for RowStatus {
    fn write_json(&self, out: &mut String) {
        write_str(out, self.as_str());
    }
}

impl Entry {
    /// An entry as stored (the JSON its [`WriteJson`] writes); `None` if it is not one.
    pub fn from_json(record: &Value) -> Option<Entry> {
        let stored = record.as_object()?;
        // A field added by a later version: absent or `null` in older entries.
        let added = |key: &str| stored.get(key).filter(|value| !value.is_null());
        let op = stored.get("op")?.as_str()?;
        Some(Entry {
            seq: stored.get("seq")?.as_u64()?,
            table: text(record, "table")?,
            row_id: text(record, "rowId")?,
            op: Op::NAMED.iter().find(|(name, _)| *name == op)?.1,
            fields: stored.get("fields")?.as_object()?.clone(),
            base: optional(stored.get("base"), |base| base.as_object().cloned())?,
            attempts: u32::try_from(stored.get("attempts")?.as_u64()?).ok()?,
            failed: optional(stored.get("failed"), PushError::from_json)?,
            last_error: optional(stored.get("lastError"), PushError::from_json)?,
            edited: match added("edited") {
                None => 0,
                Some(edited) => edited.as_u64()?,
            },
            field_edits: match added("fieldEdits") {
                None => Vec::new(),
                Some(edits) => {
                    let edits = edits.as_array()?;
                    let mut parsed = Vec::with_capacity(edits.len());
                    for edit in edits {
                        parsed.push(field_edit(edit)?);
                    }
                    parsed
                }
            },
        })
    }
}

impl PushError {
    fn from_json(stored: &Value) -> Option<PushError> {
        let stored: &Map<String, Value> = stored.as_object()?;
        Some(PushError {
            status: u16::try_from(stored.get("status")?.as_u64()?).ok()?,
            code: optional(stored.get("code"), |code| code.as_str().map(str::to_owned))?,
            message: stored.get("message")?.as_str()?.to_owned(),
        })
    }
}

/// An optional field: absent or `null` is `Some(None)`, a value `read` refuses is `None`.
fn optional<T>(value: Option<&Value>, read: impl Fn(&Value) -> Option<T>) -> Option<Option<T>> {
    match value {
        None | Some(Value::Null) => Some(None),
        Some(value) => read(value).map(Some),
    }
}

/// One `[field, position]` pair of `fieldEdits`.
fn field_edit(pair: &Value) -> Option<(String, u64)> {
    match pair.as_array()?.as_slice() {
        [field, at] => Some((field.as_str()?.to_owned(), at.as_u64()?)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fields::variants;
    use crate::value::json;

    fn entries() -> Vec<Entry> {
        let error = |code: Option<&str>| PushError {
            status: 409,
            code: code.map(str::to_owned),
            message: "duplicate key".into(),
        };
        let row = |pairs: Value| pairs.as_object().unwrap().clone();
        let insert = Entry {
            seq: 1,
            table: "songs".into(),
            row_id: "s1".into(),
            op: Op::Insert,
            fields: row(json!({ "id": "s1", "title": "Yellow", "tempo": 120, "tags": ["a"] })),
            base: None,
            attempts: 0,
            failed: None,
            last_error: None,
            edited: 0,
            field_edits: Vec::new(),
        };
        let update = Entry {
            seq: 7,
            op: Op::Update,
            fields: row(json!({ "title": "Fix You", "notes": null })),
            base: Some(row(json!({ "id": "s1", "version": 3, "title": "Yellow" }))),
            attempts: 4,
            failed: Some(error(Some("23505"))),
            last_error: Some(error(None)),
            edited: 9,
            field_edits: vec![("title".into(), 9), ("notes".into(), 8)],
            ..insert.clone()
        };
        let delete = Entry {
            seq: u64::from(u32::MAX) + 5,
            op: Op::Delete,
            fields: row(json!({ "deleted_at": "2026-12-03T01:00:00Z" })),
            base: Some(Map::new()),
            attempts: u32::MAX,
            ..insert.clone()
        };
        vec![insert, update, delete]
    }

    #[test]
    fn a_written_entry_reads_back_as_it_was() {
        for entry in entries() {
            let stored = crate::json_text::json_value(&entry);
            assert_eq!(Entry::from_json(&stored), Some(entry));
        }
    }

    /// Of every shape of a stored entry: what the derived reader read, this reads the same;
    /// what it refused, this refuses too, but for a `null` in a field a later version added.
    #[test]
    fn every_stored_shape_reads_as_the_derived_reader_read_it() {
        let mut lenient = Vec::new();
        let mut shapes = 0;
        for entry in entries() {
            let stored = crate::json_text::json_value(&entry);
            for (shape, value) in variants(&stored) {
                shapes += 1;
                let derived = serde_json::from_value::<Entry>(value.clone().into()).ok();
                let read = Entry::from_json(&value);
                match (&derived, &read) {
                    (None, Some(_)) => lenient.push(shape),
                    _ => assert_eq!(read, derived, "{shape}: {value}"),
                }
            }
        }
        lenient.sort();
        lenient.dedup();
        assert_eq!(lenient, ["edited = null", "fieldEdits = null"]);
        assert!(shapes > 500, "{shapes} shapes");
    }
}
