//! The developer dashboard's figures (`devtools: true` in `SyncClient.open`): the requests the
//! layer made, a sync log kept across reloads with filters, and how long changes took to
//! arrive.

use super::client::SyncClient;
use super::error::SyncError;
use super::events::{json, text};
use crate::io::devtools::Devtools;
use crate::io::task::promise;
use js_sys::{Array, Promise, Reflect};
use std::rc::Rc;
use wasm_bindgen::prelude::*;

fn disabled() -> JsValue {
    SyncError::new(
        "devtools_disabled",
        "open the client with { devtools: true } to collect what the dashboard shows",
    )
    .into()
}

#[wasm_bindgen]
impl SyncClient {
    fn devtools(&self) -> Result<Rc<Devtools>, JsValue> {
        self.inner.devtools.clone().ok_or_else(disabled)
    }

    /// The last 200 requests this client made, oldest first: `{ method, path, status,
    /// durationMs, bytes, at }` (status 0: no answer). Rejects with `devtools_disabled` unless
    /// opened with `devtools: true`.
    #[wasm_bindgen(unchecked_return_type = "RequestRecord[]")]
    pub fn requests(&self) -> Result<JsValue, JsValue> {
        Ok(json(&*self.devtools()?.requests()))
    }

    /// How long other members' changes took from commit to this client, `{ at, ms }`, oldest
    /// first (measured by two clocks: a skewed device clock shows in it).
    #[wasm_bindgen(unchecked_return_type = "LatencySample[]")]
    pub fn latencies(&self) -> Result<JsValue, JsValue> {
        Ok(json(&*self.devtools()?.latencies()))
    }

    /// The sync log as kept in IndexedDB (the last 1,000 entries, across reloads), newest
    /// first: `{ kind?, table?, limit? }` keep the entries of one event type and one table.
    #[wasm_bindgen(js_name = devtoolsLog)]
    #[wasm_bindgen(unchecked_return_type = "Promise<(SyncEvent & { at: number })[]>")]
    pub fn devtools_log(
        &self,
        #[wasm_bindgen(unchecked_param_type = "DevtoolsLogOptions | undefined")] options: JsValue,
    ) -> Promise {
        let devtools = self.devtools();
        promise(async move {
            let devtools = devtools?;
            let field = |name: &str| {
                Reflect::get(&options, &name.into())
                    .ok()
                    .filter(|v| !v.is_undefined() && !v.is_null())
            };
            let kind = field("kind").and_then(|v| v.as_string());
            let table = field("table").and_then(|v| v.as_string());
            let limit = field("limit")
                .and_then(|v| v.as_f64())
                .map_or(usize::MAX, |n| n.max(0.0) as usize);
            let stored = devtools.log_entries().await;
            let entries = Array::new();
            for at in (0..stored.length()).rev() {
                if entries.length() as usize == limit {
                    break;
                }
                let entry = stored.get(at);
                let kept = (kind.is_none() || text(&entry, "type") == kind)
                    && (table.is_none() || text(&entry, "table") == table);
                if kept {
                    entries.push(&entry);
                }
            }
            Ok(entries.into())
        })
    }
}
