//! [`Record`]: a row as the server sent it in a change, kept as its JSON text.
//!
//! Most rows only pass through the client: into storage and out to listeners, both of which
//! want a JavaScript object, which the engine's own JSON parser builds fastest from text. So a
//! row is not turned into a JSON tree here; the few fields the sync logic needs (id, band,
//! author, label) are looked up in the text.

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde::{Serialize, Serializer};
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use std::fmt;

/// One row of a `postgres_changes` payload: the JSON text of an object.
#[derive(Clone)]
pub struct Record(Box<RawValue>);

impl Record {
    /// The record in `json`, if it is an object (any other JSON is not a row).
    pub fn from_raw(json: &RawValue) -> Option<Record> {
        json.get()
            .trim_start()
            .starts_with('{')
            .then(|| Record(json.to_owned()))
    }

    /// A record holding `row`.
    pub fn from_map(row: &Map<String, Value>) -> Record {
        let text = serde_json::to_string(row).expect("a JSON map serialises");
        Record(RawValue::from_string(text).expect("serde_json writes valid JSON"))
    }

    /// The row's JSON text.
    pub fn json(&self) -> &str {
        self.0.get()
    }

    /// The row as a JSON map.
    pub fn to_map(&self) -> Map<String, Value> {
        serde_json::from_str(self.json()).unwrap_or_default()
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

    /// The values of several top-level fields, found in one pass over the text.
    pub fn fields<const N: usize>(&self, names: [&str; N]) -> [Option<Value>; N] {
        let mut found = std::array::from_fn(|_| None);
        let mut reader = serde_json::Deserializer::from_str(self.json());
        // The text was validated as a JSON object when the record was made.
        let _ = reader.deserialize_map(FieldScan {
            names: &names,
            found: &mut found,
        });
        found
    }
}

impl PartialEq for Record {
    /// Records are equal when their rows are, whatever the key order or spacing.
    fn eq(&self, other: &Record) -> bool {
        self.json() == other.json() || self.to_map() == other.to_map()
    }
}

impl fmt::Debug for Record {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.json())
    }
}

impl Serialize for Record {
    /// Written as the row itself, byte for byte.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

/// Walks an object's keys, keeping the values of the wanted ones and skipping over the rest.
struct FieldScan<'n, 'f, const N: usize> {
    names: &'n [&'n str; N],
    found: &'f mut [Option<Value>; N],
}

impl<'de, const N: usize> Visitor<'de> for FieldScan<'_, '_, N> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a row object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(slot) = map.next_key_seed(KeyIndex(self.names))? {
            match slot {
                Some(at) => self.found[at] = Some(map.next_value()?),
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

/// Reads a key as the index of the wanted name it equals, without allocating it.
pub(crate) struct KeyIndex<'n, const N: usize>(pub(crate) &'n [&'n str; N]);

impl<'de, const N: usize> DeserializeSeed<'de> for KeyIndex<'_, N> {
    type Value = Option<usize>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Option<usize>, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de, const N: usize> Visitor<'de> for KeyIndex<'_, N> {
    type Value = Option<usize>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a field name")
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<Option<usize>, E> {
        Ok(self.0.iter().position(|name| *name == key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn record(value: Value) -> Record {
        raw_record(&value.to_string())
    }

    fn raw_record(text: &str) -> Record {
        Record::from_raw(&RawValue::from_string(text.into()).unwrap()).expect("an object")
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
    fn only_objects_are_records_and_they_serialise_verbatim() {
        assert!(Record::from_raw(&RawValue::from_string("[1]".into()).unwrap()).is_none());
        assert!(Record::from_raw(&RawValue::from_string("null".into()).unwrap()).is_none());
        let row = record(json!({"b": 1, "a": [true]}));
        assert_eq!(serde_json::to_string(&row).unwrap(), row.json());
        assert_eq!(row, Record::from_map(&row.to_map()), "equal by content");
    }
}
