//! JSON text written by hand: what the engine hands the app, persists and sends.
//!
//! serde's derived `Serialize` is generic over the serializer, so every type written brought
//! its own copy of serde_json's writer code into the WebAssembly module. Here a type writes
//! itself into a `String` through [`WriteJson`], objects are built field by field with
//! [`ObjectWriter`] taking `&dyn WriteJson`, and only the leaves (strings, numbers) are code
//! of their own. The text is what serde_json wrote: the same escapes, integers as integers,
//! floats in their shortest form that reads back the same (`1.0`, `0.1`, `1e+21`), and `null`
//! for a float that is not finite.

use crate::sorted::{SortedMap, SortedSet};
use crate::value::{Map, Value};
use std::borrow::Cow;
use std::collections::VecDeque;

/// A value that writes itself as JSON text.
pub trait WriteJson {
    /// Appends this value's JSON text to `out`.
    fn write_json(&self, out: &mut String);
}

/// `value` as JSON text.
pub fn json_text(value: &dyn WriteJson) -> String {
    let mut out = String::new();
    value.write_json(&mut out);
    out
}

/// `value` as a serde_json `Value`, for tests that read what was written.
#[cfg(test)]
pub(crate) fn json_value(value: &dyn WriteJson) -> Value {
    serde_json::from_str(&json_text(value)).expect("the written text is JSON")
}

/// Writes an object's fields, in the order given, between the braces.
pub struct ObjectWriter<'a> {
    out: &'a mut String,
    empty: bool,
}

impl<'a> ObjectWriter<'a> {
    /// Opens an object in `out`; [`ObjectWriter::end`] closes it.
    pub fn new(out: &'a mut String) -> Self {
        out.push('{');
        ObjectWriter { out, empty: true }
    }

    /// Writes `"name": value`. Names are the engine's own (plain ASCII), written unescaped.
    pub fn field(&mut self, name: &str, value: &dyn WriteJson) -> &mut Self {
        self.name(name);
        value.write_json(self.out);
        self
    }

    /// Writes the field if there is a value; leaves it out otherwise (not `null`).
    pub fn field_if_some(&mut self, name: &str, value: Option<&dyn WriteJson>) -> &mut Self {
        if let Some(value) = value {
            self.field(name, value);
        }
        self
    }

    /// Writes a key that is data (a map's key), escaped.
    fn key(&mut self, key: &str) {
        self.separate();
        write_str(self.out, key);
        self.out.push(':');
    }

    fn name(&mut self, name: &str) {
        self.separate();
        self.out.push('"');
        self.out.push_str(name);
        self.out.push_str("\":");
    }

    fn separate(&mut self) {
        if !self.empty {
            self.out.push(',');
        }
        self.empty = false;
    }

    /// Closes the object.
    pub fn end(&mut self) {
        self.out.push('}');
    }
}

/// `text[range]`, for a range whose ends are next to ASCII bytes, where the slice always exists.
/// Read with `get`, not by indexing: indexing brings the panic for an end inside a character
/// into the module, and with it the character escaper and Unicode tables its message is
/// written with.
pub(crate) fn ascii_bounded<R>(text: &str, range: R) -> &str
where
    R: std::slice::SliceIndex<str, Output = str>,
{
    text.get(range).unwrap_or_default()
}

/// Writes `text` as a JSON string: quotes, backslashes and control characters escaped, the
/// rest (non-ASCII included) as it is.
pub fn write_str(out: &mut String, text: &str) {
    out.push('"');
    let mut plain_from = 0;
    for (at, byte) in text.bytes().enumerate() {
        let escape = match byte {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x08 => "\\b",
            0x0c => "\\f",
            0..=0x1f => "",
            _ => continue,
        };
        out.push_str(ascii_bounded(text, plain_from..at));
        plain_from = at + 1;
        if escape.is_empty() {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.push_str("\\u00");
            out.push(HEX[usize::from(byte >> 4)] as char);
            out.push(HEX[usize::from(byte & 0xf)] as char);
        } else {
            out.push_str(escape);
        }
    }
    out.push_str(ascii_bounded(text, plain_from..));
    out.push('"');
}

/// `value` in decimal. A loop of the module's own: a formatting crate's would bring its own
/// table of digit pairs and, for its checked conversions, an error type's `Debug`.
fn write_u64(out: &mut String, mut value: u64) {
    let mut digits = [0u8; 20];
    let mut start = digits.len();
    loop {
        start -= 1;
        digits[start] = b'0' + (value % 10) as u8;
        value /= 10;
        if value == 0 {
            break;
        }
    }
    for &digit in &digits[start..] {
        out.push(char::from(digit));
    }
}

fn write_i64(out: &mut String, value: i64) {
    if value < 0 {
        out.push('-');
    }
    write_u64(out, value.unsigned_abs());
}

fn write_f64(out: &mut String, value: f64) {
    if value.is_finite() {
        out.push_str(zmij::Buffer::new().format_finite(value));
    } else {
        out.push_str("null");
    }
}

impl WriteJson for str {
    fn write_json(&self, out: &mut String) {
        write_str(out, self);
    }
}

impl WriteJson for String {
    fn write_json(&self, out: &mut String) {
        write_str(out, self);
    }
}

impl WriteJson for Cow<'_, str> {
    fn write_json(&self, out: &mut String) {
        write_str(out, self);
    }
}

impl WriteJson for bool {
    fn write_json(&self, out: &mut String) {
        out.push_str(if *self { "true" } else { "false" });
    }
}

impl WriteJson for u64 {
    fn write_json(&self, out: &mut String) {
        write_u64(out, *self);
    }
}

impl WriteJson for u32 {
    fn write_json(&self, out: &mut String) {
        write_u64(out, u64::from(*self));
    }
}

impl WriteJson for u16 {
    fn write_json(&self, out: &mut String) {
        write_u64(out, u64::from(*self));
    }
}

impl WriteJson for usize {
    fn write_json(&self, out: &mut String) {
        write_u64(out, *self as u64);
    }
}

impl WriteJson for f64 {
    fn write_json(&self, out: &mut String) {
        write_f64(out, *self);
    }
}

impl<T: WriteJson + ?Sized> WriteJson for &T {
    fn write_json(&self, out: &mut String) {
        (**self).write_json(out);
    }
}

impl<T: WriteJson> WriteJson for Option<T> {
    fn write_json(&self, out: &mut String) {
        match self {
            Some(value) => value.write_json(out),
            None => out.push_str("null"),
        }
    }
}

/// Writes `items` as an array.
fn write_array<'a, T: WriteJson + 'a>(out: &mut String, items: impl IntoIterator<Item = &'a T>) {
    out.push('[');
    for (at, item) in items.into_iter().enumerate() {
        if at > 0 {
            out.push(',');
        }
        item.write_json(out);
    }
    out.push(']');
}

impl<T: WriteJson> WriteJson for [T] {
    fn write_json(&self, out: &mut String) {
        write_array(out, self);
    }
}

impl<T: WriteJson> WriteJson for Vec<T> {
    fn write_json(&self, out: &mut String) {
        self.as_slice().write_json(out);
    }
}

impl<T: WriteJson> WriteJson for VecDeque<T> {
    fn write_json(&self, out: &mut String) {
        write_array(out, self);
    }
}

/// A name and a number as a two-item array (`["title", 3]`), as the outbox stores per-field
/// sequence numbers.
impl WriteJson for (String, u64) {
    fn write_json(&self, out: &mut String) {
        out.push('[');
        write_str(out, &self.0);
        out.push(',');
        write_u64(out, self.1);
        out.push(']');
    }
}

impl WriteJson for Value {
    fn write_json(&self, out: &mut String) {
        match self {
            Value::Null => out.push_str("null"),
            Value::Bool(value) => value.write_json(out),
            Value::Number(number) => match (number.as_u64(), number.as_i64()) {
                (Some(value), _) => write_u64(out, value),
                (None, Some(value)) => write_i64(out, value),
                _ => write_f64(out, number.as_f64().unwrap_or(f64::NAN)),
            },
            Value::String(text) => write_str(out, text),
            Value::Array(items) => items.write_json(out),
            Value::Object(map) => map.write_json(out),
        }
    }
}

/// Writes `entries` as an object whose keys are data.
fn write_object<'a, K, V>(out: &mut String, entries: impl IntoIterator<Item = (&'a K, &'a V)>)
where
    K: AsRef<str> + 'a,
    V: WriteJson + 'a,
{
    let mut object = ObjectWriter::new(out);
    for (key, value) in entries {
        object.key(key.as_ref());
        value.write_json(object.out);
    }
    object.end();
}

impl WriteJson for Map<String, Value> {
    fn write_json(&self, out: &mut String) {
        write_object(out, self);
    }
}

impl<K: AsRef<str>, V: WriteJson> WriteJson for SortedMap<K, V> {
    fn write_json(&self, out: &mut String) {
        write_object(out, self);
    }
}

impl<T: WriteJson> WriteJson for SortedSet<T> {
    fn write_json(&self, out: &mut String) {
        write_array(out, self);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::json;

    /// The text serde_json writes for the same value, which the app and the stored records
    /// have always read.
    fn same_as_serde(value: Value) {
        assert_eq!(json_text(&value), serde_json::to_string(&value).unwrap());
    }

    #[test]
    fn values_are_written_as_serde_json_writes_them() {
        same_as_serde(json!(null));
        same_as_serde(json!([true, false, 0, 7, -7, u64::MAX, i64::MIN]));
        same_as_serde(json!([1.0, 0.1, -2.5, 1e21, 1.5e-7, 123456789.125]));
        same_as_serde(json!({"b": "x", "a": [], "c": {}, "d": {"e": [null]}}));
        same_as_serde(json!("quote \" backslash \\ slash / é ☃ 😀"));
        same_as_serde(json!("\n\r\t\u{8}\u{c}\u{0}\u{1f}\u{7f}"));
        // Characters of two, three and four bytes right against what is escaped.
        same_as_serde(json!("é\n☃\"😀\\é\u{1}"));
    }

    #[test]
    fn integers_at_every_power_of_ten_are_written_as_serde_json_writes_them() {
        let mut power: u64 = 1;
        loop {
            for value in [power - 1, power, power + 1] {
                same_as_serde(json!(value));
                if let Ok(value) = i64::try_from(value) {
                    same_as_serde(json!(-value));
                }
            }
            let Some(next) = power.checked_mul(10) else {
                break;
            };
            power = next;
        }
        same_as_serde(json!([u64::MAX - 1, i64::MAX, i64::MIN + 1]));
    }

    #[test]
    fn every_control_character_is_escaped_as_serde_json_escapes_it() {
        let all: String = (0u8..0x80).map(char::from).collect();
        same_as_serde(Value::String(all));
    }

    #[test]
    fn objects_leave_out_absent_optional_fields() {
        let mut out = String::new();
        ObjectWriter::new(&mut out)
            .field("a", &1u64)
            .field_if_some("b", None)
            .field_if_some("c", Some(&"x"))
            .field("d", &None::<u64>)
            .end();
        assert_eq!(out, r#"{"a":1,"c":"x","d":null}"#);
        let mut empty = String::new();
        ObjectWriter::new(&mut empty).field_if_some("b", None).end();
        assert_eq!(empty, "{}");
    }

    #[test]
    fn floats_that_are_not_finite_are_null() {
        assert_eq!(
            json_text(&[f64::NAN, f64::INFINITY, 2.0].as_slice()),
            "[null,null,2.0]"
        );
    }

    #[test]
    fn sorted_maps_and_sets_are_objects_and_arrays() {
        let mut map = SortedMap::default();
        map.insert("z".to_owned(), 1u64);
        map.insert("a\"".to_owned(), 2u64);
        assert_eq!(json_text(&map), r#"{"a\"":2,"z":1}"#);
        let set = SortedSet::from_vec(vec!["b".to_owned(), "a".to_owned()]);
        assert_eq!(json_text(&set), r#"["a","b"]"#);
        assert_eq!(json_text(&("f".to_owned(), 3u64)), r#"["f",3]"#);
    }
}
