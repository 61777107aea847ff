//! The JavaScript surface: everything here is `#[wasm_bindgen]`, and nothing else is.

mod client;
mod dashboard;
mod error;
mod events;
mod listeners;
mod options;
mod realtime;
mod tabs;
mod types;

pub use client::SyncClient;
pub use error::SyncError;
pub use realtime::RealtimeConnection;

use wasm_bindgen::prelude::wasm_bindgen;

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
