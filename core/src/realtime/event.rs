//! What goes into and comes out of the [`Realtime`](super::Realtime) engine.

use super::frame::FrameError;
use super::messages::{Broadcast, ChannelErrorCause, PayloadError, PostgresChange, Recovery};
use super::presence::{PresenceDiff, PresenceState};
use super::routed::RoutedFrame;
use std::fmt;

/// Identifies one WebSocket the engine asked for. Inputs about an older socket (a late
/// `close` event after a reconnect) are recognised by their id and ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SocketId(pub u64);

/// Something that happened outside the engine.
#[derive(Debug, Clone, PartialEq)]
pub enum Input<'a> {
    /// The socket's `open` event fired.
    Opened(SocketId),
    /// The socket closed (or failed to open: browsers report refusals as code 1006).
    Closed {
        /// Which socket.
        socket: SocketId,
        /// The close code.
        code: u16,
        /// The close reason, often empty.
        reason: &'a str,
    },
    /// A text frame arrived.
    Text {
        /// Which socket.
        socket: SocketId,
        /// The frame.
        text: &'a str,
    },
    /// A text frame holding a row change arrived, and the driver read it itself.
    Change {
        /// Which socket.
        socket: SocketId,
        /// The change, routed (boxed: it is large beside the other inputs).
        frame: Box<RoutedFrame>,
    },
    /// A binary frame arrived (vsn 2.0.0 broadcast); it is ignored.
    Binary {
        /// Which socket.
        socket: SocketId,
        /// Its length in bytes.
        len: usize,
    },
    /// The browser reports the network is back (`online` event).
    Online,
    /// The browser reports the network is gone (`offline` event).
    Offline,
    /// The page became visible.
    Visible,
    /// The page was hidden.
    Hidden,
}

/// Something the driver must do.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// Open a WebSocket to `url`, reporting its events with `socket`.
    Connect {
        /// The id to report inputs with.
        socket: SocketId,
        /// The full socket URL including `apikey` and `vsn`.
        url: String,
    },
    /// Send a text frame on `socket`.
    Send {
        /// Which socket.
        socket: SocketId,
        /// The encoded frame.
        text: String,
    },
    /// Close `socket`. The engine already considers it gone.
    Close {
        /// Which socket.
        socket: SocketId,
        /// Close code (1000).
        code: u16,
        /// Why.
        reason: String,
    },
    /// Tell the application.
    Event(Event),
}

/// The state of the connection, as shown to users.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnectionState {
    /// Not connected and not trying (before `connect`, after `disconnect`).
    Disconnected,
    /// A socket is being opened.
    Connecting,
    /// The socket is open.
    Connected,
    /// The socket was lost; the next attempt is scheduled.
    Reconnecting {
        /// Attempts since the connection was last healthy (1-based).
        attempt: u32,
        /// How long until the next attempt.
        delay_ms: u64,
    },
    /// The browser is offline; the engine reconnects when it comes back.
    Offline,
    /// The engine gave up after the maximum number of attempts; call `retry`.
    Error {
        /// Why.
        reason: String,
    },
}

impl ConnectionState {
    /// A short lowercase name: `disconnected`, `connecting`, `connected`, `reconnecting`,
    /// `offline` or `error`.
    pub fn as_str(&self) -> &'static str {
        match self {
            ConnectionState::Disconnected => "disconnected",
            ConnectionState::Connecting => "connecting",
            ConnectionState::Connected => "connected",
            ConnectionState::Reconnecting { .. } => "reconnecting",
            ConnectionState::Offline => "offline",
            ConnectionState::Error { .. } => "error",
        }
    }
}

/// The state of one channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChannelState {
    /// Waiting for the socket to open.
    Pending,
    /// `phx_join` sent, no reply yet.
    Joining,
    /// Joined; for channels with postgres bindings, not yet receiving changes.
    Joined,
    /// "Subscribed to PostgreSQL": changes flow.
    Subscribed,
    /// Failed; a rejoin is scheduled.
    Errored,
    /// Stopped until a new access token is set.
    AwaitingToken,
    /// `phx_leave` sent.
    Leaving,
    /// Given up (unauthorized, binding mismatch).
    Failed,
    /// Left or closed by the server; the channel is gone.
    Closed,
}

impl ChannelState {
    /// A short lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            ChannelState::Pending => "pending",
            ChannelState::Joining => "joining",
            ChannelState::Joined => "joined",
            ChannelState::Subscribed => "subscribed",
            ChannelState::Errored => "errored",
            ChannelState::AwaitingToken => "awaiting-token",
            ChannelState::Leaving => "leaving",
            ChannelState::Failed => "failed",
            ChannelState::Closed => "closed",
        }
    }
}

/// Why the application should pull a channel's rows over REST now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CatchUpReason {
    /// The server confirmed the subscription ("Subscribed to PostgreSQL"): anything written
    /// before this moment, including while disconnected, was not delivered.
    Subscribed,
    /// The page became visible again (timers and sockets may have been throttled).
    Visible,
    /// The network came back.
    Online,
    /// A new access token was set.
    TokenRefreshed,
}

impl CatchUpReason {
    /// A short lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            CatchUpReason::Subscribed => "subscribed",
            CatchUpReason::Visible => "visible",
            CatchUpReason::Online => "online",
            CatchUpReason::TokenRefreshed => "token-refreshed",
        }
    }
}

/// A push the server did not acknowledge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushKind {
    /// `phx_join`.
    Join,
    /// `phx_leave`.
    Leave,
    /// Presence track or untrack.
    Presence,
    /// Broadcast with `ack`.
    Broadcast,
}

impl PushKind {
    /// The name the app sees.
    pub fn as_str(self) -> &'static str {
        match self {
            PushKind::Join => "join",
            PushKind::Leave => "leave",
            PushKind::Presence => "presence",
            PushKind::Broadcast => "broadcast",
        }
    }
}

/// Input the engine could not understand. It was dropped; nothing else changed.
#[derive(Debug, Clone, PartialEq)]
pub enum ProtocolError {
    /// The frame itself was unreadable or too large.
    Frame(FrameError),
    /// The envelope was fine but the payload did not fit its event.
    Payload {
        /// The topic it arrived on.
        topic: String,
        /// What was wrong.
        error: PayloadError,
    },
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProtocolError::Frame(e) => e.fmt(f),
            ProtocolError::Payload { topic, error } => write!(f, "{error} on {topic}"),
        }
    }
}

/// News for the application.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// The connection state changed.
    Connection(ConnectionState),
    /// A heartbeat round trip completed.
    Latency {
        /// Milliseconds from send to reply.
        ms: u64,
    },
    /// A channel changed state.
    Channel {
        /// `realtime:<name>`.
        topic: String,
        /// The new state.
        state: ChannelState,
    },
    /// Pull this channel's rows over REST from the saved cursor: realtime is a hint, not a log.
    CatchUp {
        /// `realtime:<name>`.
        topic: String,
        /// Why now.
        reason: CatchUpReason,
    },
    /// A channel failed.
    ChannelError {
        /// `realtime:<name>`.
        topic: String,
        /// Why.
        cause: ChannelErrorCause,
        /// What the engine does about it.
        recovery: Recovery,
    },
    /// The access token is expired or invalid: call `set_token` with a fresh one.
    NeedToken,
    /// A row changed.
    Change(PostgresChange),
    /// Presence on a channel changed.
    Presence {
        /// `realtime:<name>`.
        topic: String,
        /// Everyone present now.
        state: PresenceState,
        /// What changed, for `presence_diff`; `None` for a full `presence_state`.
        diff: Option<PresenceDiff>,
    },
    /// A broadcast arrived.
    Broadcast {
        /// `realtime:<name>`.
        topic: String,
        /// The message.
        message: Broadcast,
    },
    /// A push failed or timed out.
    PushFailed {
        /// `realtime:<name>`.
        topic: String,
        /// Which push.
        kind: PushKind,
        /// The server's reason, or `timeout`.
        reason: String,
    },
    /// Unreadable input was dropped.
    ProtocolError(ProtocolError),
}
