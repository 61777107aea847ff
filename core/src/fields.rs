//! Reading JSON by hand: the fields of an object an app passes (options, a schema, a
//! channel's configuration) with errors that name the field, and arrays of rows.
//!
//! They are read from a parsed [`Value`] here rather than through derived `Deserialize`
//! impls or typed containers (`Vec<Map<…>>`): each derived reader and each container type
//! brings its own copy of the JSON parser's typed paths into the WebAssembly module, where
//! reading a [`Value`] costs a few lookups.

use crate::value::{Map, Value};

/// An object of `fields`, in order. serde_json's `json!` hands every value it is given, a
/// string literal included, to serde's serializer into a `Value`: building the object here
/// keeps that serializer out of the module.
pub fn object(fields: Vec<(&str, Value)>) -> Value {
    let mut object = Map::new();
    for (name, value) in fields {
        object.insert(name.to_owned(), value);
    }
    Value::Object(object)
}

/// The fields of one JSON object, read one by one. A field that is absent or `null` is
/// unset; a field of the wrong type is an error naming it.
#[derive(Debug, Clone, Copy)]
pub struct Fields<'a> {
    object: &'a Map<String, Value>,
    /// What the object is, for errors: `options`, `schema.tables[1]`.
    what: &'a str,
}

impl<'a> Fields<'a> {
    /// The fields of `value`, which must be an object; `what` names it in errors.
    pub fn of(value: &'a Value, what: &'a str) -> Result<Self, String> {
        match value {
            Value::Object(object) => Ok(Self { object, what }),
            other => Err(format!("{what} must be an object, not {}", kind(other))),
        }
    }

    /// The value of `key`, unless it is absent or `null`.
    pub fn get(&self, key: &str) -> Option<&'a Value> {
        self.object.get(key).filter(|value| !value.is_null())
    }

    /// A string that must be present.
    pub fn string(&self, key: &str) -> Result<String, String> {
        self.opt_str(key)?
            .map(str::to_owned)
            .ok_or_else(|| format!("{}.{key} is required", self.what))
    }

    /// A string, if set.
    pub fn opt_str(&self, key: &str) -> Result<Option<&'a str>, String> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(text)) => Ok(Some(text)),
            Some(other) => Err(self.wrong(key, "a string", other)),
        }
    }

    /// A string, if set.
    pub fn opt_string(&self, key: &str) -> Result<Option<String>, String> {
        Ok(self.opt_str(key)?.map(str::to_owned))
    }

    /// A boolean; `false` when unset.
    pub fn flag(&self, key: &str) -> Result<bool, String> {
        Ok(self.opt_bool(key)?.unwrap_or(false))
    }

    /// A boolean, if set.
    pub fn opt_bool(&self, key: &str) -> Result<Option<bool>, String> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Bool(flag)) => Ok(Some(*flag)),
            Some(other) => Err(self.wrong(key, "true or false", other)),
        }
    }

    /// A whole number of at least zero, if set.
    pub fn opt_u64(&self, key: &str) -> Result<Option<u64>, String> {
        match self.get(key) {
            None => Ok(None),
            Some(value) => value
                .as_u64()
                .map(Some)
                .ok_or_else(|| self.wrong(key, "a whole number of at least 0", value)),
        }
    }

    /// A whole number of at least zero that fits 32 bits, if set.
    pub fn opt_u32(&self, key: &str) -> Result<Option<u32>, String> {
        match self.opt_u64(key)? {
            None => Ok(None),
            Some(number) => u32::try_from(number)
                .map(Some)
                .map_err(|_| format!("{}.{key} must be at most {}", self.what, u32::MAX)),
        }
    }

    /// A number, if set.
    pub fn opt_f64(&self, key: &str) -> Result<Option<f64>, String> {
        match self.get(key) {
            None => Ok(None),
            Some(value) => value
                .as_f64()
                .map(Some)
                .ok_or_else(|| self.wrong(key, "a number", value)),
        }
    }

    /// An array, if set.
    pub fn opt_array(&self, key: &str) -> Result<Option<&'a [Value]>, String> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Array(items)) => Ok(Some(items)),
            Some(other) => Err(self.wrong(key, "an array", other)),
        }
    }

    /// One of `names`' values, by its name, if set.
    pub fn opt_choice<T: Copy>(&self, key: &str, names: &[(&str, T)]) -> Result<Option<T>, String> {
        let Some(name) = self.opt_str(key)? else {
            return Ok(None);
        };
        match names.iter().find(|(known, _)| *known == name) {
            Some((_, choice)) => Ok(Some(*choice)),
            None => {
                let mut known = String::new();
                for (known_name, _) in names {
                    if !known.is_empty() {
                        known.push_str(", ");
                    }
                    known.push('\'');
                    known.push_str(known_name);
                    known.push('\'');
                }
                let what = self.what;
                Err(format!("{what}.{key} must be one of {known}, not '{name}'"))
            }
        }
    }

    /// The error for `key` holding `value` where `expected` belongs.
    pub fn wrong(&self, key: &str, expected: &str, value: &Value) -> String {
        format!(
            "{}.{key} must be {expected}, not {}",
            self.what,
            kind(value)
        )
    }
}

/// The string field `key` of a stored record; `None` if the record is not an object, or the
/// field is absent or not a string.
pub fn text(record: &Value, key: &str) -> Option<String> {
    record.get(key)?.as_str().map(str::to_owned)
}

/// The items of the JSON array `text`.
pub fn array(text: &str) -> Result<Vec<Value>, String> {
    match crate::json_read::parse(text).map_err(|e| e.to_string())? {
        Value::Array(items) => Ok(items),
        other => Err(format!("expected an array, not {}", kind(&other))),
    }
}

/// The strings of a JSON array; `None` if it is not an array of strings only.
pub fn strings(value: &Value) -> Option<Vec<String>> {
    let items = value.as_array()?;
    let mut strings = Vec::with_capacity(items.len());
    for item in items {
        strings.push(item.as_str()?.to_owned());
    }
    Some(strings)
}

/// The objects of the JSON array `text` (rows); an error if any item is not an object.
pub fn objects(text: &str) -> Result<Vec<Map<String, Value>>, String> {
    let items = array(text)?;
    let mut objects = Vec::with_capacity(items.len());
    for item in items {
        match item {
            Value::Object(object) => objects.push(object),
            other => return Err(format!("expected objects, not {}", kind(&other))),
        }
    }
    Ok(objects)
}

/// What kind of JSON value `value` is, for errors (never the value itself: it may be a token).
pub fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Shapes of a stored record for checking a hand reader against the derived reader that
/// defined the stored format: the record with each field (and each field of an object or array
/// inside it) missing, `null`, or of every other JSON type.
#[cfg(test)]
pub(crate) fn variants(record: &Value) -> Vec<(String, Value)> {
    let others = [
        Value::Null,
        Value::Bool(true),
        Value::from(7),
        Value::from(-3),
        Value::from(1.5),
        Value::from(u64::MAX),
        Value::from("text"),
        Value::Array(vec![]),
        Value::Array(vec![Value::from("a"), Value::from(1)]),
        Value::Object(Map::new()),
    ];
    let mut out = vec![("as written".to_owned(), record.clone())];
    let children: Vec<(String, &Value)> = match record {
        Value::Object(object) => object.iter().map(|(k, v)| (k.clone(), v)).collect(),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, v)| (i.to_string(), v))
            .collect(),
        _ => return out,
    };
    for (key, child) in children {
        let with = |child: Value| {
            let mut record = record.clone();
            match &mut record {
                Value::Object(object) => {
                    object.insert(key.clone(), child);
                }
                Value::Array(items) => items[key.parse::<usize>().unwrap()] = child,
                _ => unreachable!(),
            }
            record
        };
        if let Value::Object(object) = record {
            let mut without = object.clone();
            without.remove(&key);
            out.push((format!("{key} missing"), Value::Object(without)));
        }
        for other in &others {
            out.push((format!("{key} = {other}"), with(other.clone())));
        }
        for (inner, changed) in variants(child).into_iter().skip(1) {
            out.push((format!("{key}.{inner}"), with(changed)));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::json;

    #[test]
    fn set_fields_are_read_and_unset_ones_are_none() {
        let value = json!({ "url": "u", "on": true, "n": 7, "r": 0.5, "list": [1], "gone": null });
        let fields = Fields::of(&value, "options").unwrap();
        assert_eq!(fields.string("url").unwrap(), "u");
        assert_eq!(fields.opt_bool("on").unwrap(), Some(true));
        assert_eq!(fields.opt_u64("n").unwrap(), Some(7));
        assert_eq!(fields.opt_u32("n").unwrap(), Some(7));
        assert_eq!(fields.opt_f64("r").unwrap(), Some(0.5));
        assert_eq!(
            fields.opt_array("list").unwrap().map(<[Value]>::len),
            Some(1)
        );
        assert_eq!(fields.opt_str("gone").unwrap(), None);
        assert_eq!(fields.opt_u64("absent").unwrap(), None);
        assert!(!fields.flag("absent").unwrap());
    }

    #[test]
    fn arrays_and_rows_are_read_whole_or_not_at_all() {
        assert_eq!(array(r#"[1, "a"]"#).unwrap(), vec![json!(1), json!("a")]);
        assert_eq!(array("{}").unwrap_err(), "expected an array, not an object");
        assert!(array("[1,").is_err());
        let rows = objects(r#"[{"id": "a"}, {}]"#).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0]["id"], "a");
        assert_eq!(
            objects(r#"[{}, 2]"#).unwrap_err(),
            "expected objects, not a number"
        );
        assert_eq!(objects("[]").unwrap(), vec![]);
    }

    #[test]
    fn a_wrong_or_missing_field_is_an_error_naming_it() {
        let value = json!({ "url": 3, "n": -1, "big": 5_000_000_000u64, "mode": "x" });
        let fields = Fields::of(&value, "options").unwrap();
        assert_eq!(
            fields.string("url").unwrap_err(),
            "options.url must be a string, not a number"
        );
        assert_eq!(fields.string("key").unwrap_err(), "options.key is required");
        assert!(fields
            .opt_u64("n")
            .unwrap_err()
            .starts_with("options.n must be"));
        assert!(fields
            .opt_u32("big")
            .unwrap_err()
            .starts_with("options.big must be"));
        assert_eq!(
            fields
                .opt_choice("mode", &[("a", 1), ("b", 2)])
                .unwrap_err(),
            "options.mode must be one of 'a', 'b', not 'x'"
        );
        assert_eq!(fields.opt_choice("url2", &[("a", 1)]).unwrap(), None);
        assert_eq!(
            Fields::of(&json!([1]), "options").unwrap_err(),
            "options must be an object, not an array"
        );
    }
}
