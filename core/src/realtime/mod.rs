//! The client side of Supabase Realtime (Phoenix channels, `postgres_changes`, presence,
//! broadcast) as a sans-IO state machine. See the crate docs for the driving contract.

pub mod commit_time;
mod dispatch;
mod engine;
mod event;
pub mod frame;
pub mod messages;
pub mod presence;
mod received;
pub mod record;
pub mod routed;

pub use commit_time::{CommitTime, HeldCommitTime};
pub use engine::{JoinRefused, PushRefused, Realtime};
pub use event::{
    CatchUpReason, ChannelState, ConnectionState, Event, Input, Output, ProtocolError, PushKind,
    SocketId,
};
pub use frame::{Frame, FrameError, Vsn};
pub use messages::{
    Broadcast, ChangeFilterEvent, ChangeKind, ChannelConfig, ChannelErrorCause, PostgresBinding,
    PostgresChange, Recovery,
};
pub use received::Received;
pub use record::{HeldRows, Record, RowSlot};
pub use routed::{Carrier, HeldMap, RouteParts, RoutedFrame};

use crate::backoff::BackoffPolicy;
use crate::percent_encode;

/// The longest frame read by default (Supabase caps a change at 1,024 KB).
pub const MAX_FRAME_BYTES: usize = 2 * 1024 * 1024;

/// Settings of the engine. [`RealtimeConfig::new`] gives realtime-js's timings with jittered
/// backoff.
#[derive(Debug, Clone, PartialEq)]
pub struct RealtimeConfig {
    /// The Realtime base URL, e.g. `wss://<project>.supabase.co/realtime/v1`
    /// (`http(s)://` is turned into `ws(s)://`).
    pub endpoint: String,
    /// The project's anon key, sent as the `apikey` query parameter, and as the access token
    /// until a user token is set.
    pub api_key: String,
    /// Serializer version.
    pub vsn: Vsn,
    /// Heartbeat period; a heartbeat still unanswered at the next tick means the socket is dead.
    pub heartbeat_interval_ms: u64,
    /// How long a push (join, leave, presence) may wait for its reply.
    pub push_timeout_ms: u64,
    /// How long opening a socket may take.
    pub connect_timeout_ms: u64,
    /// Delays between reconnect attempts.
    pub reconnect_backoff: BackoffPolicy,
    /// Reconnect attempts before the state becomes [`ConnectionState::Error`].
    pub max_reconnect_attempts: u32,
    /// Delays between channel rejoin attempts.
    pub rejoin_backoff: BackoffPolicy,
    /// Channels per connection (Supabase allows 100).
    pub max_channels: usize,
    /// Frames longer than this are dropped unparsed. Supabase caps a change at 1,024 KB.
    pub max_frame_bytes: usize,
}

impl RealtimeConfig {
    /// Defaults for `endpoint` and `api_key`.
    pub fn new(endpoint: impl Into<String>, api_key: impl Into<String>) -> Self {
        Self {
            endpoint: endpoint.into(),
            api_key: api_key.into(),
            vsn: Vsn::V2,
            heartbeat_interval_ms: 25_000,
            push_timeout_ms: 10_000,
            connect_timeout_ms: 10_000,
            reconnect_backoff: BackoffPolicy {
                initial_ms: 1_000,
                max_ms: 30_000,
            },
            max_reconnect_attempts: 10,
            rejoin_backoff: BackoffPolicy {
                initial_ms: 1_000,
                max_ms: 10_000,
            },
            max_channels: 100,
            max_frame_bytes: MAX_FRAME_BYTES,
        }
    }

    /// The configuration a standalone connection's options describe, as JSON: `{ url, apiKey,
    /// vsn?: "1.0.0" | "2.0.0", heartbeatIntervalMs?, maxReconnectAttempts? }`. The error
    /// says what is wrong.
    pub fn from_options(options: &str) -> Result<Self, String> {
        let value = crate::json_read::parse(options).map_err(|e| e.to_string())?;
        let options = crate::fields::Fields::of(&value, "options")?;
        let mut config = RealtimeConfig::new(options.string("url")?, options.string("apiKey")?);
        config.vsn = match options.opt_str("vsn")? {
            None | Some("2.0.0") => Vsn::V2,
            Some("1.0.0") => Vsn::V1,
            Some(other) => {
                return Err(format!(
                    "vsn must be \"1.0.0\" or \"2.0.0\", not \"{other}\""
                ))
            }
        };
        if let Some(ms) = options.opt_u64("heartbeatIntervalMs")? {
            config.heartbeat_interval_ms = ms;
        }
        if let Some(attempts) = options.opt_u32("maxReconnectAttempts")? {
            config.max_reconnect_attempts = attempts;
        }
        Ok(config)
    }

    /// The WebSocket URL: `<endpoint>/websocket?apikey=<key>&vsn=<vsn>`.
    pub fn socket_url(&self) -> String {
        let base = self.endpoint.trim_end_matches('/');
        let base = if let Some(rest) = base.strip_prefix("https://") {
            format!("wss://{rest}")
        } else if let Some(rest) = base.strip_prefix("http://") {
            format!("ws://{rest}")
        } else {
            base.to_owned()
        };
        format!(
            "{base}/websocket?apikey={}&vsn={}",
            percent_encode(&self.api_key),
            self.vsn.as_str()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn socket_url_follows_the_endpoint_scheme() {
        let mut config = RealtimeConfig::new("https://abc.supabase.co/realtime/v1/", "k+y");
        assert_eq!(
            config.socket_url(),
            "wss://abc.supabase.co/realtime/v1/websocket?apikey=k%2By&vsn=2.0.0"
        );
        config.endpoint = "http://127.0.0.1:5000/realtime/v1".into();
        config.vsn = Vsn::V1;
        assert_eq!(
            config.socket_url(),
            "ws://127.0.0.1:5000/realtime/v1/websocket?apikey=k%2By&vsn=1.0.0"
        );
    }

    #[test]
    fn options_are_read_by_their_names() {
        let options = r#"{"url": "http://h/realtime/v1", "apiKey": "k", "vsn": "1.0.0",
            "heartbeatIntervalMs": 5000, "maxReconnectAttempts": 3}"#;
        let config = RealtimeConfig::from_options(options).unwrap();
        assert_eq!(config.endpoint, "http://h/realtime/v1");
        assert_eq!(config.api_key, "k");
        assert_eq!(config.vsn, Vsn::V1);
        assert_eq!(config.heartbeat_interval_ms, 5000);
        assert_eq!(config.max_reconnect_attempts, 3);
        let defaults = RealtimeConfig::new("u", "k");
        let unset = RealtimeConfig::from_options(r#"{"url": "u", "apiKey": "k"}"#).unwrap();
        assert_eq!(unset.vsn, Vsn::V2);
        assert_eq!(unset.heartbeat_interval_ms, defaults.heartbeat_interval_ms);
        assert_eq!(
            unset.max_reconnect_attempts,
            defaults.max_reconnect_attempts
        );
        for (options, error) in [
            (r#"{"apiKey": "k"}"#, "options.url is required"),
            (
                r#"{"url": "u", "apiKey": "k", "vsn": "3"}"#,
                r#"vsn must be "1.0.0" or "2.0.0", not "3""#,
            ),
            (
                r#"{"url": "u", "apiKey": "k", "heartbeatIntervalMs": "5"}"#,
                "options.heartbeatIntervalMs must be a whole number of at least 0, not a string",
            ),
            ("null", "options must be an object, not null"),
        ] {
            assert_eq!(RealtimeConfig::from_options(options).unwrap_err(), error);
        }
    }
}
