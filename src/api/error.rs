//! Errors crossing into JavaScript: real `Error` objects with a stable `code`.

use std::fmt;
use wasm_bindgen::JsValue;

/// An error for JavaScript callers. It becomes an `Error` whose `code` property is one of the
/// stable strings below, and whose message keeps the underlying cause.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncError {
    /// A stable, machine-readable code, e.g. `invalid_options`.
    pub code: &'static str,
    /// What went wrong, for people.
    pub message: String,
}

impl SyncError {
    /// An error with `code` and `message`.
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

impl fmt::Display for SyncError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl From<SyncError> for JsValue {
    fn from(error: SyncError) -> JsValue {
        let js = js_sys::Error::new(&error.message);
        let _ = js_sys::Reflect::set(&js, &"code".into(), &error.code.into());
        js.into()
    }
}
