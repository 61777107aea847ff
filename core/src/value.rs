//! JSON values as the engine holds them.

pub use serde_json::{Map, Number, Value};

/// A [`Value`] written as JSON, for tests: `json!({"id": id, "tags": ["a"]})`. It builds the
/// value with `serde_json` (which the calling crate must have), then converts it.
#[macro_export]
macro_rules! json {
    ($($json:tt)+) => {
        $crate::value::Value::from(::serde_json::json!($($json)+))
    };
}

pub use crate::json;
