//! The browser's storage for this origin: asking that it be persistent (not evicted under
//! pressure), and how much of the quota is used.

use js_sys::{Promise, Reflect};
use rockon_sync_core::json_text::{ObjectWriter, WriteJson};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

/// What the browser says of this origin's storage.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StorageEstimate {
    /// Bytes used.
    pub usage: f64,
    /// Bytes the origin may use.
    pub quota: f64,
    /// Whether the browser keeps the data under storage pressure.
    pub persisted: bool,
}

impl WriteJson for StorageEstimate {
    fn write_json(&self, out: &mut String) {
        ObjectWriter::new(out)
            .field("usage", &self.usage)
            .field("quota", &self.quota)
            .field("persisted", &self.persisted)
            .end();
    }
}

impl StorageEstimate {
    /// The share of the quota in use (0 with no quota).
    pub fn ratio(&self) -> f64 {
        if self.quota > 0.0 {
            self.usage / self.quota
        } else {
            0.0
        }
    }
}

/// `navigator.storage`, where the page (or worker) has one.
fn manager() -> Option<JsValue> {
    let navigator = Reflect::get(&js_sys::global(), &"navigator".into()).ok()?;
    let storage = Reflect::get(&navigator, &"storage".into()).ok()?;
    (!storage.is_undefined() && !storage.is_null()).then_some(storage)
}

/// Calls `method` of the storage manager and awaits its promise.
async fn call(method: &str) -> Option<JsValue> {
    let storage = manager()?;
    let function: js_sys::Function = Reflect::get(&storage, &method.into())
        .ok()?
        .dyn_into()
        .ok()?;
    let promise: Promise = function.call0(&storage).ok()?.dyn_into().ok()?;
    JsFuture::from(promise).await.ok()
}

/// Asks the browser to keep this origin's data under storage pressure; whether it does.
pub async fn persist() -> bool {
    call("persist")
        .await
        .is_some_and(|granted| granted.is_truthy())
}

/// Usage, quota and persistence; `None` where the browser does not say.
pub async fn estimate() -> Option<StorageEstimate> {
    let estimate = call("estimate").await?;
    let number = |key: &str| Reflect::get(&estimate, &key.into()).ok()?.as_f64();
    let persisted = call("persisted").await.is_some_and(|p| p.is_truthy());
    Some(StorageEstimate {
        usage: number("usage")?,
        quota: number("quota")?,
        persisted,
    })
}

/// Tells `warn` when more than `ratio` of the quota is in use (once per call).
pub async fn check(ratio: f64, warn: impl FnOnce(StorageEstimate)) {
    if let Some(estimate) = estimate().await {
        if estimate.ratio() >= ratio {
            warn(estimate);
        }
    }
}
