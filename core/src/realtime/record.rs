//! [`Record`]: a row as the server sent it in a change, kept as its JSON text or held by the
//! driver.
//!
//! Most rows only pass through the client: into storage and out to listeners, both of which
//! want a JavaScript object. So a row is not turned into a JSON tree here. A driver that parses
//! frames itself (a browser's `JSON.parse` is the fastest parser there) keeps the rows where
//! they are and hands over a [`HeldRows`]; otherwise the row stays text, which the browser
//! parses once on its way to storage. Either way, the few fields the sync logic needs (id,
//! band, author, label) are looked up one pass at a time.

use crate::json_read::{self, Reader};
use crate::json_text::{json_text, WriteJson};
use crate::value::{Map, Value};
use std::any::Any;
use std::borrow::Cow;
use std::fmt;
use std::rc::Rc;

/// The row objects of one frame, held by the driver in its own memory (JavaScript objects, in
/// a browser): the engine routes each by the fields it asks for and hands it back to be stored,
/// never copying it. The frame's rows share one handle, so a change costs one, not one a row.
pub trait HeldRows: fmt::Debug {
    /// The values of the top-level fields `names` of the row in `slot`, in order; absent fields
    /// read as `None` or as `Some(Value::Null)`, as the driver finds cheapest (callers treat
    /// both alike).
    fn fields(&self, slot: RowSlot, names: &[&str]) -> Vec<Option<Value>>;
    /// The row in `slot` as JSON text (slow: for the rare paths that need the whole row).
    fn to_json(&self, slot: RowSlot) -> String;
    /// For the driver to get its own type back.
    fn as_any(&self) -> &dyn Any;
}

/// Which row of a frame a record is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowSlot {
    /// The new row.
    Record,
    /// The old row.
    OldRecord,
    /// A broadcast's whole payload.
    Message,
}

/// One row of a change: an object.
#[derive(Clone)]
pub struct Record(Repr);

#[derive(Clone)]
enum Repr {
    /// A JSON object's text, validated when the record was made.
    Text(Box<str>),
    Held(Rc<dyn HeldRows>, RowSlot),
}

impl Record {
    /// The record in the JSON text `json`, if it is an object (any other JSON is not a row).
    pub fn from_json_text(json: &str) -> Option<Record> {
        if !json_read::is_json(json) {
            return None;
        }
        Record::from_valid_text(json)
    }

    /// The record in `json`, text already known to be one JSON value, if it is an object.
    pub(crate) fn from_valid_text(json: &str) -> Option<Record> {
        // JSON's whitespace is four of ASCII's; a valid text has no form feed to trim.
        let json = json.trim_ascii();
        json.starts_with('{')
            .then(|| Record(Repr::Text(json.into())))
    }

    /// A record holding `row`.
    pub fn from_map(row: &Map<String, Value>) -> Record {
        let text = json_text(row);
        Record(Repr::Text(text.into()))
    }

    /// The row in `slot` of rows the driver holds; the driver vouches that it is an object.
    pub fn held(rows: Rc<dyn HeldRows>, slot: RowSlot) -> Record {
        Record(Repr::Held(rows, slot))
    }

    /// The driver's rows and which of them this is, when it holds it.
    pub fn as_held(&self) -> Option<(&Rc<dyn HeldRows>, RowSlot)> {
        match &self.0 {
            Repr::Held(rows, slot) => Some((rows, *slot)),
            Repr::Text(_) => None,
        }
    }

    /// The row's JSON text (written out from a held row: the slow path).
    pub fn json(&self) -> Cow<'_, str> {
        match &self.0 {
            Repr::Text(text) => Cow::Borrowed(text),
            Repr::Held(rows, slot) => Cow::Owned(rows.to_json(*slot)),
        }
    }

    /// The row as a JSON map.
    pub fn to_map(&self) -> Map<String, Value> {
        match json_read::parse(&self.json()) {
            Ok(Value::Object(row)) => row,
            _ => Map::new(),
        }
    }

    /// The value of the top-level field `name`.
    pub fn get(&self, name: &str) -> Option<Value> {
        let [value] = self.fields([name]);
        value
    }

    /// The string value of the top-level field `name`.
    pub fn str_field(&self, name: &str) -> Option<String> {
        match self.get(name)? {
            Value::String(text) => Some(text),
            _ => None,
        }
    }

    /// The values of several top-level fields, found in one pass over the text (or one call
    /// to the driver).
    pub fn fields<const N: usize>(&self, names: [&str; N]) -> [Option<Value>; N] {
        let mut found = std::array::from_fn(|_| None);
        match &self.0 {
            Repr::Text(raw) => scan_fields(raw, &names, &mut found),
            Repr::Held(rows, slot) => {
                for (found, value) in found.iter_mut().zip(rows.fields(*slot, &names)) {
                    *found = value;
                }
            }
        }
        found
    }
}

impl PartialEq for Record {
    /// Records are equal when their rows are, whatever the key order or spacing.
    fn eq(&self, other: &Record) -> bool {
        match (&self.0, &other.0) {
            (Repr::Held(mine, at), Repr::Held(theirs, their_at))
                if Rc::ptr_eq(mine, theirs) && at == their_at =>
            {
                true
            }
            _ => self.json() == other.json() || self.to_map() == other.to_map(),
        }
    }
}

impl Eq for Record {}

impl fmt::Debug for Record {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.json())
    }
}

impl WriteJson for Record {
    /// Written as the JSON text of the row it holds.
    fn write_json(&self, out: &mut String) {
        out.push_str(&self.json());
    }
}

/// Reads the values of the top-level fields `names` of the object `raw` into `found` (at the
/// same places), skipping over the rest. The text was checked as JSON when the record was
/// made; a field given twice keeps its last value.
fn scan_fields(raw: &str, names: &[&str], found: &mut [Option<Value>]) {
    let mut reader = Reader::new(raw);
    let _ = reader.object(|reader, key| {
        match names.iter().position(|name| *name == key) {
            Some(at) => found[at] = Some(reader.value()?),
            None => reader.skip()?,
        }
        Ok(())
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::json;

    fn record(value: Value) -> Record {
        raw_record(&value.to_string())
    }

    fn raw_record(text: &str) -> Record {
        Record::from_json_text(text).expect("an object")
    }

    #[test]
    fn finds_top_level_fields_in_one_pass_and_skips_nested_ones() {
        // An escaped key ("t\u0069tle" is "title") and an escaped value, as the server may send.
        let row = raw_record(
            r#"{"id":"s1","meta":{"id":"nested","title":"no"},"t\u0069tle":"Wonder\"wall\u00e9",
                "version":3,"tags":["a",{"id":1}],"band_id":null}"#,
        );
        let [id, title, version, band, missing] =
            row.fields(["id", "title", "version", "band_id", "nope"]);
        assert_eq!(id, Some(json!("s1")));
        assert_eq!(title, Some(json!("Wonder\"wall\u{e9}")));
        assert_eq!(version, Some(json!(3)));
        assert_eq!(band, Some(Value::Null));
        assert_eq!(missing, None);
        assert_eq!(row.str_field("id").as_deref(), Some("s1"));
        assert_eq!(row.str_field("version"), None, "not a string");
    }

    #[test]
    fn only_objects_are_records_and_they_serialise_as_their_rows() {
        assert!(Record::from_json_text("[1]").is_none());
        assert!(Record::from_json_text("null").is_none());
        assert!(Record::from_json_text(r#"{"id":"#).is_none());
        assert!(Record::from_json_text(r#" {"id":"s1"} "#).is_some());
        let row = record(json!({"b": 1, "a": [true]}));
        assert_eq!(json_text(&row), row.json());
        assert_eq!(row, Record::from_map(&row.to_map()), "equal by content");
    }
}
