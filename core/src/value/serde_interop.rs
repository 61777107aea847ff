//! [`Value`] with serde: converted to and from serde_json's, serialized and deserialized. For
//! tests, which build values with `json!` and compare them with serde's derives, and for the
//! dev server, which speaks serde_json.

use super::{Map, Number, Value, N};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

impl From<serde_json::Value> for Value {
    fn from(value: serde_json::Value) -> Value {
        match value {
            serde_json::Value::Null => Value::Null,
            serde_json::Value::Bool(value) => Value::Bool(value),
            serde_json::Value::Number(number) => Value::Number(Number::from(number)),
            serde_json::Value::String(text) => Value::String(text),
            serde_json::Value::Array(items) => items.into_iter().map(Value::from).collect(),
            serde_json::Value::Object(map) => Value::Object(Map::from(map)),
        }
    }
}

impl From<serde_json::Map<String, serde_json::Value>> for Map<String, Value> {
    fn from(map: serde_json::Map<String, serde_json::Value>) -> Self {
        map.into_iter().map(|(k, v)| (k, Value::from(v))).collect()
    }
}

impl From<serde_json::Number> for Number {
    fn from(number: serde_json::Number) -> Number {
        match (number.as_u64(), number.as_i64(), number.as_f64()) {
            (Some(value), _, _) => Number::from(value),
            (None, Some(value), _) => Number::from(value),
            (None, None, value) => Number(N::Float(value.unwrap_or(0.0))),
        }
    }
}

impl From<Value> for serde_json::Value {
    fn from(value: Value) -> serde_json::Value {
        match value {
            Value::Null => serde_json::Value::Null,
            Value::Bool(value) => serde_json::Value::Bool(value),
            Value::Number(number) => serde_json::Value::Number(number.into()),
            Value::String(text) => serde_json::Value::String(text),
            Value::Array(items) => items.into_iter().map(serde_json::Value::from).collect(),
            Value::Object(map) => serde_json::Value::Object(map.into()),
        }
    }
}

impl From<Map<String, Value>> for serde_json::Map<String, serde_json::Value> {
    fn from(map: Map<String, Value>) -> Self {
        map.into_iter().map(|(k, v)| (k, v.into())).collect()
    }
}

impl From<Number> for serde_json::Number {
    fn from(number: Number) -> serde_json::Number {
        match number.0 {
            N::PosInt(value) => value.into(),
            N::NegInt(value) => value.into(),
            N::Float(value) => serde_json::Number::from_f64(value).unwrap_or(0.into()),
        }
    }
}

impl Serialize for Value {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serde_json::Value::from(self.clone()).serialize(serializer)
    }
}

impl Serialize for Map<String, Value> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serde_json::Map::from(self.clone()).serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Value, D::Error> {
        serde_json::Value::deserialize(deserializer).map(Value::from)
    }
}

impl<'de> Deserialize<'de> for Map<String, Value> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        serde_json::Map::deserialize(deserializer).map(Map::from)
    }
}
