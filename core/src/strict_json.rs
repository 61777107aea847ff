//! Typed reads of JSON text whose refusals never write out the value they refuse.
//!
//! serde's own refusals ("invalid type: floating point `1.5`, expected …") format the value
//! refused, and formatting a float brings Rust's float formatter into the WebAssembly module:
//! about 23 KB of code for error messages nobody reads. A [`Read`] takes the JSON types it
//! names and refuses every other with what it expected. A derived `Deserialize`, or serde's
//! own readers of `String`, `Vec`, `Option` or `Map`, used on `serde_json` text would bring
//! the formatter back; `Value` accepts every type and does not.

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use std::fmt;

/// What a reader makes of a string or an object (the two the engine reads typed); any other
/// JSON type, and whichever of those two it does not read, is refused.
pub(crate) trait Read<'de>: Sized {
    /// What it reads.
    type Value;
    /// What it expected, for a refusal.
    const EXPECTED: &'static str;

    /// A string.
    fn str<E: de::Error>(self, _text: &str) -> Result<Self::Value, E> {
        Err(E::custom(Self::EXPECTED))
    }
    /// An object.
    fn map<A: MapAccess<'de>>(self, _fields: A) -> Result<Self::Value, A::Error> {
        Err(de::Error::custom(Self::EXPECTED))
    }
}

/// A [`Read`] as serde's visitor and seed: it asks the reader for whatever type comes.
pub(crate) struct Strict<R>(pub(crate) R);

impl<R> Strict<R> {
    fn refuse<'de, E: de::Error>(self) -> Result<R::Value, E>
    where
        R: Read<'de>,
    {
        Err(E::custom(R::EXPECTED))
    }
}

impl<'de, R: Read<'de>> Visitor<'de> for Strict<R> {
    type Value = R::Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(R::EXPECTED)
    }
    fn visit_unit<E: de::Error>(self) -> Result<R::Value, E> {
        self.refuse()
    }
    fn visit_bool<E: de::Error>(self, _value: bool) -> Result<R::Value, E> {
        self.refuse()
    }
    fn visit_i64<E: de::Error>(self, _value: i64) -> Result<R::Value, E> {
        self.refuse()
    }
    fn visit_u64<E: de::Error>(self, _value: u64) -> Result<R::Value, E> {
        self.refuse()
    }
    fn visit_f64<E: de::Error>(self, _value: f64) -> Result<R::Value, E> {
        self.refuse()
    }
    fn visit_str<E: de::Error>(self, text: &str) -> Result<R::Value, E> {
        self.0.str(text)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, _items: A) -> Result<R::Value, A::Error> {
        self.refuse()
    }
    fn visit_map<A: MapAccess<'de>>(self, fields: A) -> Result<R::Value, A::Error> {
        self.0.map(fields)
    }
}

impl<'de, R: Read<'de>> DeserializeSeed<'de> for Strict<R> {
    type Value = R::Value;

    fn deserialize<D: Deserializer<'de>>(self, reader: D) -> Result<R::Value, D::Error> {
        reader.deserialize_any(self)
    }
}

/// Reads `text` whole with `read`: `None` if it does not read, or if anything follows.
pub(crate) fn read_text<'de, R: Read<'de>>(text: &'de str, read: R) -> Option<R::Value> {
    let mut reader = serde_json::Deserializer::from_str(text);
    let value = Strict(read).deserialize(&mut reader).ok()?;
    reader.end().ok()?;
    Some(value)
}

/// The items of a JSON array, each as its text; `None` if `text` is not a JSON array.
///
/// The text is checked as JSON first (by a reader that keeps nothing), so the items are found
/// by their commas at the top level alone.
pub(crate) fn array_items(text: &str) -> Option<Vec<&str>> {
    serde_json::from_str::<de::IgnoredAny>(text).ok()?;
    let inner = text.trim_matches(JSON_SPACE).strip_prefix('[')?;
    let inner = inner.strip_suffix(']')?;
    let mut items = Vec::new();
    let (mut depth, mut start) = (0usize, 0);
    let (mut in_string, mut escaped) = (false, false);
    for (at, byte) in inner.bytes().enumerate() {
        if in_string {
            match byte {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'[' | b'{' => depth += 1,
            b']' | b'}' => depth -= 1,
            b',' if depth == 0 => {
                items.push(inner[start..at].trim_matches(JSON_SPACE));
                start = at + 1;
            }
            _ => {}
        }
    }
    let last = inner[start..].trim_matches(JSON_SPACE);
    if !last.is_empty() {
        items.push(last);
    }
    Some(items)
}

/// Whitespace between JSON tokens.
pub(crate) const JSON_SPACE: [char; 4] = [' ', '\t', '\n', '\r'];

#[cfg(test)]
mod tests {
    use super::*;

    /// A string, read strictly.
    struct Text;

    impl Read<'_> for Text {
        type Value = String;
        const EXPECTED: &'static str = "a string";

        fn str<E: de::Error>(self, text: &str) -> Result<String, E> {
            Ok(text.to_owned())
        }
    }

    #[test]
    fn a_reader_takes_its_type_and_refuses_the_others() {
        let texts = [
            "null",
            "true",
            "-1",
            "7",
            "1.5",
            r#""a""#,
            r#""\u0041""#,
            "[]",
            "[1,2]",
            "{}",
        ];
        for text in texts {
            let derived = serde_json::from_str::<String>(text).ok();
            assert_eq!(read_text(text, Text), derived, "{text}");
        }
        assert_eq!(read_text(r#""\u0041""#, Text).as_deref(), Some("A"));
        assert_eq!(read_text(r#""a" x"#, Text), None);
    }

    #[test]
    fn array_items_are_each_value_as_its_text() {
        let text = r#" [ {"id":"s1","t":"a,b]}\"{"} , 2,null,[1,[2]],"x\\"] "#;
        assert_eq!(
            array_items(text).unwrap(),
            [
                r#"{"id":"s1","t":"a,b]}\"{"}"#,
                "2",
                "null",
                "[1,[2]]",
                r#""x\\""#
            ]
        );
        assert_eq!(array_items("[]").unwrap(), Vec::<&str>::new());
        assert_eq!(array_items(" [ ] ").unwrap(), Vec::<&str>::new());
        for not_an_array in [r#"{"id":"s1"}"#, "[1,", "[1] [2]", "", "null", "[1,]"] {
            assert_eq!(array_items(not_an_array), None, "{not_an_array}");
        }
    }
}
