//! Events as plain JavaScript objects with a `type` field. The core writes each event's JSON
//! text (`rockon_sync_core::sync::app_events_json`, where the shapes are defined and tested);
//! here it is parsed once and handed over. Only the browser's own news (storage) is built here.

pub use crate::io::idb::text;
use crate::io::store::{to_js as value_to_js, StoreState};
use js_sys::{Object, Reflect};
use rockon_sync_core::json_text::WriteJson;
use wasm_bindgen::JsValue;

/// One event object from the core's JSON text.
pub fn parse(text: &str) -> JsValue {
    js_sys::JSON::parse(text).unwrap_or(JsValue::NULL)
}

/// `{ key: value, … }`.
pub fn object(fields: &[(&str, JsValue)]) -> JsValue {
    let object = Object::new();
    for (key, value) in fields {
        let _ = Reflect::set(&object, &(*key).into(), value);
    }
    object.into()
}

/// `value[key]`, `undefined` when absent.
pub fn field(value: &JsValue, key: &str) -> JsValue {
    Reflect::get(value, &key.into()).unwrap_or(JsValue::UNDEFINED)
}

/// `{ type: 'storage', state: 'nearlyFull', usage, quota, persisted }`: most of the quota is
/// used; writes may soon fail with `quota_exceeded`.
pub fn storage_warning(estimate: &crate::io::storage::StorageEstimate) -> JsValue {
    object(&[
        ("type", "storage".into()),
        ("state", "nearlyFull".into()),
        ("usage", estimate.usage.into()),
        ("quota", estimate.quota.into()),
        ("persisted", estimate.persisted.into()),
    ])
}

/// `{ type: 'storage', state: 'closed' | 'reopened' | 'outdated', message? }`.
pub fn storage_event(state: &StoreState) -> JsValue {
    let kind = ("type", JsValue::from("storage"));
    match state {
        StoreState::Closed => object(&[kind, ("state", "closed".into())]),
        StoreState::Reopened => object(&[kind, ("state", "reopened".into())]),
        StoreState::Outdated(message) => object(&[
            kind,
            ("state", "outdated".into()),
            ("message", message.into()),
        ]),
    }
}

/// JSON data as plain objects and arrays (not `Map`s).
pub fn json(value: &dyn WriteJson) -> JsValue {
    value_to_js(value)
}
