//! The JavaScript surface: everything here is `#[wasm_bindgen]`, and nothing else is.

mod client;
mod collaboration;
mod coordinator;
mod dashboard;
mod devtools;
mod error;
mod events;
mod listeners;
mod open;
mod options;
mod realtime;
mod session;
mod tabs;
mod types;

pub use client::SyncClient;
pub use error::SyncError;
pub use realtime::RealtimeConnection;

use rockon_sync_core::realtime::{Event, RoutedFrame, Vsn, MAX_FRAME_BYTES};
use rockon_sync_core::sync::{decoded_frame_json, realtime_event_json};
use wasm_bindgen::prelude::*;

/// Installs a panic hook that reports a panic on the console with its message instead of a bare
/// `unreachable` trap, so a bug is diagnosable from a user's console log.
#[wasm_bindgen(start)]
pub fn start() {
    std::panic::set_hook(Box::new(|info| {
        web_sys::console::error_1(&format!("rockon-sync panicked: {info}").into());
    }));
}

/// The version of the rockon-sync package.
#[wasm_bindgen]
pub fn version() -> String {
    env!("CARGO_PKG_VERSION").to_owned()
}

/// Decodes one Realtime frame as the client does on its socket — the frame, and for a
/// `postgres_changes` push the typed change — and returns the event `RealtimeConnection`
/// delivers for it: the `change` event object for a change, `{ type: 'protocolError', message
/// }` for a frame it cannot read, and other frames as `{ topic, event, payload }`. `vsn` is
/// `"1.0.0"` or `"2.0.0"` (the default). For tools and for measuring the cost of a change
/// crossing into the module. It returns rather than throws, as the connection reports rather
/// than fails: and a thrown error would cost every frame a result checked in the glue.
#[wasm_bindgen(js_name = decodeRealtimeFrame, unchecked_return_type = "RealtimeEvent | { topic: string; event: string; payload: unknown }")]
pub fn decode_realtime_frame(
    #[wasm_bindgen(unchecked_param_type = "string")] text: JsValue,
    #[wasm_bindgen(unchecked_optional_param_type = "string")] vsn: JsValue,
) -> JsValue {
    // A change is read as the socket reads it: by `JSON.parse`, its rows left where they are.
    // Database broadcasts are messages like any other here (no channel says what they are).
    // The version's name is compared in JavaScript: it is not copied in for every frame.
    match crate::io::frames::route_in(&text, &vsn, MAX_FRAME_BYTES) {
        Some(RoutedFrame {
            change,
            broadcast: None,
            ..
        }) => crate::io::frames::change_object(&change),
        _ => {
            let v1 = vsn.as_string().is_some_and(|name| name == "1.0.0");
            let vsn = if v1 { Vsn::V1 } else { Vsn::V2 };
            let text = text.as_string().unwrap_or_default();
            let event = decoded_frame_json(&text, vsn)
                .unwrap_or_else(|error| realtime_event_json(&Event::ProtocolError(error)));
            events::parse(&event)
        }
    }
}

/// The size of the module's linear memory in bytes (WebAssembly memory only grows; a steady
/// figure under load means no leak inside the module).
#[wasm_bindgen(js_name = memoryBytes)]
pub fn memory_bytes() -> f64 {
    let memory: js_sys::WebAssembly::Memory = wasm_bindgen::memory().unchecked_into();
    memory
        .buffer()
        .unchecked_into::<js_sys::ArrayBuffer>()
        .byte_length() as f64
}
