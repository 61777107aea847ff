//! `RealtimeConnection`: a Supabase Realtime connection driven by the sans-IO core.

use super::error::SyncError;
use super::listeners::Listeners;
use crate::io::frames;
use crate::io::realtime_driver::RealtimeDriver;
use crate::io::store::from_js;
use rockon_sync_core::realtime::{ChannelConfig, Input, RealtimeConfig};
use wasm_bindgen::prelude::*;

/// A Realtime connection: `new RealtimeConnection({ url, apiKey })`, then `on('*', listener)`,
/// `setAuth(token)`, `join(name, config)` and `connect()`. Events are objects with a `type`:
/// `connection`, `channel`, `catchUp`, `change`, `channelError`, `needToken`, `latency`,
/// `presence`, `broadcast`, `pushFailed`, `protocolError`.
#[wasm_bindgen]
pub struct RealtimeConnection {
    driver: RealtimeDriver,
    listeners: Listeners,
}

#[wasm_bindgen]
impl RealtimeConnection {
    /// Creates a disconnected connection. `options`: `{ url, apiKey, vsn?: "1.0.0" | "2.0.0",
    /// heartbeatIntervalMs?, maxReconnectAttempts? }`, where `url` is the Realtime base URL such
    /// as `https://<project>.supabase.co/realtime/v1`.
    #[wasm_bindgen(constructor)]
    pub fn new(options: JsValue) -> Result<RealtimeConnection, JsValue> {
        let text = js_sys::JSON::stringify(&options)
            .ok()
            .and_then(|t| t.as_string());
        let config = RealtimeConfig::from_options(text.as_deref().unwrap_or("null"))
            .map_err(|message| SyncError::new("invalid_options", message))?;
        let listeners = Listeners::default();
        let sink = listeners.clone();
        let driver = RealtimeDriver::new(
            config,
            Box::new(move |event| sink.emit(&frames::realtime_event(&event))),
        );
        Ok(RealtimeConnection { driver, listeners })
    }

    /// Calls `listener(event)` for events of type `event` (`"*"` for all); returns the
    /// function that unsubscribes (calling it twice is harmless). A listener that throws is
    /// reported on the console and does not stop delivery.
    #[wasm_bindgen(unchecked_return_type = "() => void")]
    pub fn on(
        &self,
        #[wasm_bindgen(unchecked_param_type = "RealtimeEvent['type'] | '*'")] event: &str,
        #[wasm_bindgen(unchecked_param_type = "(event: RealtimeEvent) => void")]
        listener: js_sys::Function,
    ) -> js_sys::Function {
        self.listeners.subscribe(event, listener)
    }

    /// Connects, and keeps reconnecting with backoff until [`disconnect`](Self::disconnect).
    pub fn connect(&self) {
        self.driver.run(|engine, now| engine.connect(now));
    }

    /// Closes the socket and stops reconnecting; channels rejoin on the next `connect`.
    pub fn disconnect(&self) {
        self.driver.run(|engine, now| engine.disconnect(now));
    }

    /// Reconnects now, resetting the backoff (after the state became `error`).
    pub fn retry(&self) {
        self.driver.run(|engine, now| engine.retry(now));
    }

    /// Sets the user's access token on every channel, now and for every later join.
    #[wasm_bindgen(js_name = setAuth)]
    pub fn set_auth(&self, token: String) {
        self.driver.run(|engine, now| engine.set_token(now, token));
    }

    /// Joins channel `name` with `{ postgresChanges: [{ event, schema, table, filter? }],
    /// presence?: key, broadcastSelf?, broadcastAck?, private?, databaseBroadcasts? }`
    /// (`databaseBroadcasts`: row changes broadcast by the database arrive as `change` events);
    /// returns the topic.
    pub fn join(&self, name: &str, config: JsValue) -> Result<String, JsValue> {
        let config: ChannelConfig = if config.is_undefined() || config.is_null() {
            ChannelConfig::default()
        } else {
            from_js(&config)
                .and_then(|config| ChannelConfig::from_json(&config))
                .map_err(|message| SyncError::new("invalid_channel_config", message))?
        };
        self.driver
            .run(|engine, now| engine.join(now, name, config))
            .map_err(|refused| SyncError::new("too_many_channels", refused.to_string()).into())
    }

    /// Leaves the channel with `topic` (`realtime:<name>`).
    pub fn leave(&self, topic: &str) {
        self.driver.run(|engine, now| engine.leave(now, topic));
    }

    /// Tells the connection the network went away (`false`) or came back (`true`).
    #[wasm_bindgen(js_name = setOnline)]
    pub fn set_online(&self, online: bool) {
        let input = if online {
            Input::Online
        } else {
            Input::Offline
        };
        self.driver
            .run(|engine, now| engine.handle_input(now, input));
    }

    /// Tells the connection the page became visible (`true`) or hidden (`false`).
    #[wasm_bindgen(js_name = setVisible)]
    pub fn set_visible(&self, visible: bool) {
        let input = if visible {
            Input::Visible
        } else {
            Input::Hidden
        };
        self.driver
            .run(|engine, now| engine.handle_input(now, input));
    }

    /// The connection state: `disconnected`, `connecting`, `connected`, `reconnecting`,
    /// `offline` or `error`.
    #[wasm_bindgen(getter)]
    pub fn state(&self) -> String {
        self.driver
            .inspect(|engine| engine.state().as_str().to_owned())
    }
}
