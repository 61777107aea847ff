//! JSON values as the engine holds them: [`Value`], its objects ([`Map`]) and numbers
//! ([`Number`]).
//!
//! The engine reads JSON with [`json_read`](crate::json_read) and writes it with
//! [`json_text`](crate::json_text); what it holds in between is this tree. It is the shape of
//! serde_json's, with the methods the engine uses, and an object is a vector of its entries in
//! the order they came: the objects here are rows and messages of a few dozen fields, where a
//! short scan finds a key as fast as hashing it, and a WebAssembly module carries no hash map
//! for them (serde_json's `Map` brought one, its hasher and its index map: 3.5 KB of the
//! module, gzipped).
//!
//! With the `serde` feature (tests and the dev server), values convert to and from
//! serde_json's and [`json!`](crate::json) builds one from JSON syntax.

use std::fmt;

/// Any JSON value.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum Value {
    /// `null`.
    #[default]
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A number.
    Number(Number),
    /// A string.
    String(String),
    /// An array.
    Array(Vec<Value>),
    /// An object.
    Object(Map<String, Value>),
}

impl Value {
    /// The member `key` of an object; `None` for a missing key or any other value.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.as_object()?.get(key)
    }

    /// The member `key` of an object, to change.
    pub fn get_mut(&mut self, key: &str) -> Option<&mut Value> {
        self.as_object_mut()?.get_mut(key)
    }

    /// The string, when this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(text) => Some(text),
            _ => None,
        }
    }

    /// The boolean, when this is one.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(value) => Some(*value),
            _ => None,
        }
    }

    /// The number as a `u64`, when it is a non-negative integer.
    pub fn as_u64(&self) -> Option<u64> {
        self.as_number()?.as_u64()
    }

    /// The number as an `i64`, when it is an integer in its range.
    pub fn as_i64(&self) -> Option<i64> {
        self.as_number()?.as_i64()
    }

    /// The number as an `f64`, when this is a number.
    pub fn as_f64(&self) -> Option<f64> {
        self.as_number()?.as_f64()
    }

    /// The number, when this is one.
    pub fn as_number(&self) -> Option<&Number> {
        match self {
            Value::Number(number) => Some(number),
            _ => None,
        }
    }

    /// The items, when this is an array.
    pub fn as_array(&self) -> Option<&Vec<Value>> {
        match self {
            Value::Array(items) => Some(items),
            _ => None,
        }
    }

    /// The items, when this is an array, to change.
    pub fn as_array_mut(&mut self) -> Option<&mut Vec<Value>> {
        match self {
            Value::Array(items) => Some(items),
            _ => None,
        }
    }

    /// The object, when this is one.
    pub fn as_object(&self) -> Option<&Map<String, Value>> {
        match self {
            Value::Object(map) => Some(map),
            _ => None,
        }
    }

    /// The object, when this is one, to change.
    pub fn as_object_mut(&mut self) -> Option<&mut Map<String, Value>> {
        match self {
            Value::Object(map) => Some(map),
            _ => None,
        }
    }

    /// Whether this is `null`.
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// Whether this is a string.
    pub fn is_string(&self) -> bool {
        matches!(self, Value::String(_))
    }

    /// Whether this is a number.
    pub fn is_number(&self) -> bool {
        matches!(self, Value::Number(_))
    }

    /// Whether this is an integer that fits a `u64`.
    pub fn is_u64(&self) -> bool {
        self.as_number().is_some_and(Number::is_u64)
    }

    /// Whether this is an integer that fits an `i64`.
    pub fn is_i64(&self) -> bool {
        self.as_number().is_some_and(Number::is_i64)
    }

    /// Whether this is a float.
    pub fn is_f64(&self) -> bool {
        self.as_number().is_some_and(Number::is_f64)
    }

    /// Whether this is a boolean.
    pub fn is_boolean(&self) -> bool {
        matches!(self, Value::Bool(_))
    }

    /// Whether this is an object.
    pub fn is_object(&self) -> bool {
        matches!(self, Value::Object(_))
    }

    /// Whether this is an array.
    pub fn is_array(&self) -> bool {
        matches!(self, Value::Array(_))
    }

    /// Takes the value, leaving `null`.
    pub fn take(&mut self) -> Value {
        std::mem::take(self)
    }
}

/// The value as JSON text.
impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&crate::json_text::json_text(self))
    }
}

/// `value["key"]`: the member, or `null` when there is none (as serde_json's).
impl std::ops::Index<&str> for Value {
    type Output = Value;

    fn index(&self, key: &str) -> &Value {
        const NULL: Value = Value::Null;
        self.get(key).unwrap_or(&NULL)
    }
}

/// `value["key"] = …`: sets a member, making `null` an object first (as serde_json's). For
/// tests: panics on any value but an object or `null`.
impl std::ops::IndexMut<&str> for Value {
    fn index_mut(&mut self, key: &str) -> &mut Value {
        if self.is_null() {
            *self = Value::Object(Map::new());
        }
        let Value::Object(map) = self else {
            panic!("cannot set member {key:?} of a value that is not an object");
        };
        if !map.contains_key(key) {
            map.insert(key.to_owned(), Value::Null);
        }
        map.get_mut(key).expect("inserted above")
    }
}

/// `value[n]`: the item, or `null` when there is none (as serde_json's).
impl std::ops::Index<usize> for Value {
    type Output = Value;

    fn index(&self, at: usize) -> &Value {
        const NULL: Value = Value::Null;
        self.as_array()
            .and_then(|items| items.get(at))
            .unwrap_or(&NULL)
    }
}

/// A JSON number: an integer as `u64` or `i64` when it fits, any other as a finite `f64`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Number(N);

#[derive(Clone, Copy, Debug, PartialEq)]
enum N {
    PosInt(u64),
    NegInt(i64),
    Float(f64),
}

impl Number {
    /// The number `value`; `None` for infinities and NaN, which JSON has no text for.
    pub fn from_f64(value: f64) -> Option<Number> {
        value.is_finite().then_some(Number(N::Float(value)))
    }

    /// As a `u64`, when it is a non-negative integer.
    pub fn as_u64(&self) -> Option<u64> {
        match self.0 {
            N::PosInt(value) => Some(value),
            N::NegInt(_) | N::Float(_) => None,
        }
    }

    /// As an `i64`, when it is an integer in its range.
    pub fn as_i64(&self) -> Option<i64> {
        match self.0 {
            N::PosInt(value) => i64::try_from(value).ok(),
            N::NegInt(value) => Some(value),
            N::Float(_) => None,
        }
    }

    /// As an `f64` (always: a large integer rounds).
    pub fn as_f64(&self) -> Option<f64> {
        Some(match self.0 {
            N::PosInt(value) => value as f64,
            N::NegInt(value) => value as f64,
            N::Float(value) => value,
        })
    }

    /// Whether it is an integer that fits a `u64`.
    pub fn is_u64(&self) -> bool {
        matches!(self.0, N::PosInt(_))
    }

    /// Whether it is an integer that fits an `i64`.
    pub fn is_i64(&self) -> bool {
        self.as_i64().is_some()
    }

    /// Whether it is a float.
    pub fn is_f64(&self) -> bool {
        matches!(self.0, N::Float(_))
    }
}

/// The number as JSON writes it.
impl fmt::Display for Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&crate::json_text::json_text(&Value::Number(*self)))
    }
}

impl From<u64> for Number {
    fn from(value: u64) -> Number {
        Number(N::PosInt(value))
    }
}

impl From<i64> for Number {
    fn from(value: i64) -> Number {
        match u64::try_from(value) {
            Ok(value) => Number(N::PosInt(value)),
            Err(_) => Number(N::NegInt(value)),
        }
    }
}

/// An object: its entries in the order they were first inserted. Keys are unique; lookups
/// scan (objects here are small), and reading an object of many keys stays linear in them
/// ([`Map::from_entries`]).
#[derive(Clone)]
pub struct Map<K, V> {
    entries: Vec<(K, V)>,
}

impl Map<String, Value> {
    /// An empty object.
    pub fn new() -> Self {
        Map {
            entries: Vec::new(),
        }
    }

    /// An empty object with room for `capacity` entries.
    pub fn with_capacity(capacity: usize) -> Self {
        Map {
            entries: Vec::with_capacity(capacity),
        }
    }

    /// The object of `entries`; of keys given twice, the last value at the first place (as
    /// inserting them in turn would). Sorts an index of keys rather than scanning for each
    /// (a hostile object of many keys costs n log n, not n²).
    pub fn from_entries(mut entries: Vec<(String, Value)>) -> Self {
        let count = entries.len();
        if count > 8 {
            let mut order: Vec<usize> = (0..count).collect();
            sort_by_key_then_place(&mut order, &entries);
            let mut dropped = vec![false; count];
            let mut run = 0;
            for at in 1..=count {
                if at < count && entries[order[at]].0 == entries[order[run]].0 {
                    continue;
                }
                // `order[run..at]` is one key's entries, first to last.
                let (first, last) = (order[run], order[at - 1]);
                if first != last {
                    entries[first].1 = std::mem::take(&mut entries[last].1);
                    for &later in &order[run + 1..at] {
                        dropped[later] = true;
                    }
                }
                run = at;
            }
            let mut at = 0;
            entries.retain(|_| {
                at += 1;
                !dropped[at - 1]
            });
            return Map { entries };
        }
        let mut map = Map::with_capacity(entries.len());
        for (key, value) in entries {
            map.insert(key, value);
        }
        map
    }

    fn position(&self, key: &str) -> Option<usize> {
        self.entries.iter().position(|(k, _)| k == key)
    }

    /// The value of `key`.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.entries.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// The value of `key`, to change.
    pub fn get_mut(&mut self, key: &str) -> Option<&mut Value> {
        let at = self.position(key)?;
        Some(&mut self.entries[at].1)
    }

    /// Whether the object has `key`.
    pub fn contains_key(&self, key: &str) -> bool {
        self.position(key).is_some()
    }

    /// Sets `key` to `value`, in its place when it had one, last otherwise; answers the value
    /// it replaced.
    pub fn insert(&mut self, key: String, value: Value) -> Option<Value> {
        match self.position(&key) {
            Some(at) => Some(std::mem::replace(&mut self.entries[at].1, value)),
            None => {
                self.entries.push((key, value));
                None
            }
        }
    }

    /// Removes `key`, keeping the order of the rest; answers its value.
    pub fn remove(&mut self, key: &str) -> Option<Value> {
        let at = self.position(key)?;
        Some(self.entries.remove(at).1)
    }

    /// Keeps the entries `keep` approves of, in order.
    pub fn retain(&mut self, mut keep: impl FnMut(&String, &mut Value) -> bool) {
        self.entries.retain_mut(|(key, value)| keep(key, value));
    }

    /// The entry of `key`, to read or fill: `map.entry("id").or_insert(value)`.
    pub fn entry<'a>(&'a mut self, key: &'a str) -> Entry<'a> {
        Entry {
            at: self.position(key),
            key,
            map: self,
        }
    }

    /// The number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The entries, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&String, &Value)> {
        self.entries.iter().map(|(k, v)| (k, v))
    }

    /// The entries, in order, their values to change.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = (&String, &mut Value)> {
        self.entries.iter_mut().map(|(k, v)| (&*k, v))
    }

    /// The keys, in order.
    pub fn keys(&self) -> impl Iterator<Item = &String> {
        self.entries.iter().map(|(k, _)| k)
    }

    /// The values, in order.
    pub fn values(&self) -> impl Iterator<Item = &Value> {
        self.entries.iter().map(|(_, v)| v)
    }

    /// The values, in order, to change.
    pub fn values_mut(&mut self) -> impl Iterator<Item = &mut Value> {
        self.entries.iter_mut().map(|(_, v)| v)
    }
}

/// A key of a [`Map`], present or not: see [`Map::entry`].
pub struct Entry<'a> {
    map: &'a mut Map<String, Value>,
    key: &'a str,
    at: Option<usize>,
}

impl<'a> Entry<'a> {
    /// The value, `value` inserted first when the key had none.
    pub fn or_insert(self, value: Value) -> &'a mut Value {
        self.or_insert_with(|| value)
    }

    /// The value, the one `make` makes inserted first when the key had none.
    pub fn or_insert_with(self, make: impl FnOnce() -> Value) -> &'a mut Value {
        let entries = &mut self.map.entries;
        let at = self.at.unwrap_or_else(|| {
            entries.push((self.key.to_owned(), make()));
            entries.len() - 1
        });
        &mut entries[at].1
    }
}

/// `map["key"]`: the member, or `null` when there is none.
impl std::ops::Index<&str> for Map<String, Value> {
    type Output = Value;

    fn index(&self, key: &str) -> &Value {
        const NULL: Value = Value::Null;
        self.get(key).unwrap_or(&NULL)
    }
}

/// Sorts `order`, places in `entries`, by their keys, then by place: a heap sort, a few
/// hundred bytes of code where the standard library's sorts bring kilobytes to the module.
fn sort_by_key_then_place(order: &mut [usize], entries: &[(String, Value)]) {
    let less = |a: usize, b: usize| (entries[a].0.as_str(), a) < (entries[b].0.as_str(), b);
    let sift_down = |order: &mut [usize], mut root: usize, end: usize| loop {
        let mut child = 2 * root + 1;
        if child >= end {
            return;
        }
        if child + 1 < end && less(order[child], order[child + 1]) {
            child += 1;
        }
        if !less(order[root], order[child]) {
            return;
        }
        order.swap(root, child);
        root = child;
    };
    let count = order.len();
    for root in (0..count / 2).rev() {
        sift_down(order, root, count);
    }
    for end in (1..count).rev() {
        order.swap(0, end);
        sift_down(order, 0, end);
    }
}

impl Default for Map<String, Value> {
    fn default() -> Self {
        Map::new()
    }
}

/// Two objects are equal when they have the same keys with equal values, in any order.
impl PartialEq for Map<String, Value> {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && (self.iter()).all(|(key, value)| other.get(key) == Some(value))
    }
}

impl fmt::Debug for Map<String, Value> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl Extend<(String, Value)> for Map<String, Value> {
    fn extend<I: IntoIterator<Item = (String, Value)>>(&mut self, entries: I) {
        for (key, value) in entries {
            self.insert(key, value);
        }
    }
}

impl FromIterator<(String, Value)> for Map<String, Value> {
    fn from_iter<I: IntoIterator<Item = (String, Value)>>(entries: I) -> Self {
        Map::from_entries(entries.into_iter().collect())
    }
}

impl IntoIterator for Map<String, Value> {
    type Item = (String, Value);
    type IntoIter = std::vec::IntoIter<(String, Value)>;

    fn into_iter(self) -> Self::IntoIter {
        self.entries.into_iter()
    }
}

impl<'a> IntoIterator for &'a Map<String, Value> {
    type Item = (&'a String, &'a Value);
    type IntoIter = std::iter::Map<
        std::slice::Iter<'a, (String, Value)>,
        fn(&'a (String, Value)) -> (&'a String, &'a Value),
    >;

    fn into_iter(self) -> Self::IntoIter {
        self.entries.iter().map(|(k, v)| (k, v))
    }
}

macro_rules! from_integers {
    ($($integer:ty => $wide:ty),*) => {$(
        impl From<$integer> for Value {
            fn from(value: $integer) -> Value {
                Value::Number(Number::from(value as $wide))
            }
        }
    )*};
}

from_integers!(u64 => u64, u32 => u64, u16 => u64, usize => u64, i64 => i64, i32 => i64);

/// A finite float as a number; an infinity or NaN as `null` (as serde_json's).
impl From<f64> for Value {
    fn from(value: f64) -> Value {
        Number::from_f64(value).map_or(Value::Null, Value::Number)
    }
}

impl From<bool> for Value {
    fn from(value: bool) -> Value {
        Value::Bool(value)
    }
}

impl From<String> for Value {
    fn from(text: String) -> Value {
        Value::String(text)
    }
}

impl From<&str> for Value {
    fn from(text: &str) -> Value {
        Value::String(text.to_owned())
    }
}

impl From<Number> for Value {
    fn from(number: Number) -> Value {
        Value::Number(number)
    }
}

impl From<Vec<Value>> for Value {
    fn from(items: Vec<Value>) -> Value {
        Value::Array(items)
    }
}

impl From<Map<String, Value>> for Value {
    fn from(map: Map<String, Value>) -> Value {
        Value::Object(map)
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(value: Option<T>) -> Value {
        value.map_or(Value::Null, Into::into)
    }
}

impl FromIterator<Value> for Value {
    fn from_iter<I: IntoIterator<Item = Value>>(items: I) -> Value {
        Value::Array(items.into_iter().collect())
    }
}

impl PartialEq<str> for Value {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == Some(other)
    }
}

impl PartialEq<&str> for Value {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == Some(*other)
    }
}

impl PartialEq<String> for Value {
    fn eq(&self, other: &String) -> bool {
        self.as_str() == Some(other)
    }
}

impl PartialEq<bool> for Value {
    fn eq(&self, other: &bool) -> bool {
        self.as_bool() == Some(*other)
    }
}

impl PartialEq<u64> for Value {
    fn eq(&self, other: &u64) -> bool {
        self.as_u64() == Some(*other)
    }
}

impl PartialEq<i64> for Value {
    fn eq(&self, other: &i64) -> bool {
        self.as_i64() == Some(*other)
    }
}

impl PartialEq<i32> for Value {
    fn eq(&self, other: &i32) -> bool {
        self.as_i64() == Some(i64::from(*other))
    }
}

impl PartialEq<f64> for Value {
    fn eq(&self, other: &f64) -> bool {
        self.as_f64() == Some(*other)
    }
}

#[cfg(any(test, feature = "serde"))]
mod serde_interop;

/// A [`Value`] written as JSON, for tests: `json!({"id": id, "tags": ["a"]})`. It builds the
/// value with `serde_json` (which the calling crate must have, and this one's `serde`
/// feature), then converts it.
#[macro_export]
macro_rules! json {
    ($($json:tt)+) => {
        $crate::value::Value::from(::serde_json::json!($($json)+))
    };
}

pub use crate::json;

#[cfg(test)]
#[path = "value_tests.rs"]
mod tests;
