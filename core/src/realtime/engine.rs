//! The connection half of the engine: socket lifecycle, heartbeat, reconnect, timers, and the
//! public commands. Frame handling per channel lives in `dispatch.rs`.

use super::event::{
    CatchUpReason, ChannelState, ConnectionState, Event, Input, Output, PushKind, SocketId,
};
use super::frame::Frame;
use super::messages::{Broadcast, ChannelConfig, ChannelErrorCause, Recovery};
use super::presence::PresenceState;
use super::RealtimeConfig;
use crate::fields::object;
use crate::rng::SplitMix64;
use crate::sorted::SortedMap;
use crate::value::Value;
use crate::Millis;
use std::collections::VecDeque;
use std::fmt;

/// The Supabase Realtime client engine. See the crate docs for how to drive it.
#[derive(Debug)]
pub struct Realtime {
    pub(super) config: RealtimeConfig,
    rng: SplitMix64,
    token: Option<String>,
    socket: SocketId,
    phase: Phase,
    /// The application wants a connection (between `connect` and `disconnect`).
    wanted: bool,
    online: bool,
    state: ConnectionState,
    reconnect_attempt: u32,
    reconnect_at: Option<Millis>,
    heartbeat_at: Option<Millis>,
    heartbeat: Option<PendingHeartbeat>,
    next_ref: u64,
    pub(super) channels: SortedMap<String, Channel>,
    pub(super) pending: SortedMap<String, PendingPush>,
    /// `NeedToken` was emitted and no token has been set since.
    token_requested: bool,
    outputs: VecDeque<Output>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Closed,
    Opening {
        deadline: Millis,
    },
    /// `heard`: a frame arrived on this socket, so it is healthy and the backoff resets.
    Open {
        heard: bool,
    },
}

#[derive(Debug)]
struct PendingHeartbeat {
    msg_ref: String,
    sent: Millis,
    deadline: Millis,
}

#[derive(Debug)]
pub(super) struct PendingPush {
    pub(super) topic: String,
    pub(super) kind: PushKind,
    pub(super) deadline: Millis,
}

#[derive(Debug)]
pub(super) struct Channel {
    pub(super) config: ChannelConfig,
    pub(super) state: ChannelState,
    pub(super) join_ref: Option<String>,
    pub(super) binding_ids: Vec<u64>,
    pub(super) rejoin_attempt: u32,
    pub(super) rejoin_at: Option<Millis>,
    pub(super) presence: PresenceState,
}

/// Why [`Realtime::join`] refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JoinRefused {
    /// The connection already carries the maximum number of channels: leave one first.
    TooManyChannels {
        /// The limit.
        max: usize,
    },
}

impl fmt::Display for JoinRefused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JoinRefused::TooManyChannels { max } => {
                write!(f, "a connection carries at most {max} channels")
            }
        }
    }
}

impl std::error::Error for JoinRefused {}

/// Why a presence or broadcast push was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PushRefused {
    /// No channel with that topic: join it first.
    UnknownChannel(String),
    /// The channel is not joined right now: try again once it is.
    NotJoined(String),
}

impl fmt::Display for PushRefused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PushRefused::UnknownChannel(t) => write!(f, "no channel {t}"),
            PushRefused::NotJoined(t) => write!(f, "channel {t} is not joined"),
        }
    }
}

impl std::error::Error for PushRefused {}

impl Realtime {
    /// A disconnected engine. `seed` feeds the backoff jitter: give each client a random one.
    pub fn new(config: RealtimeConfig, seed: u64) -> Self {
        Self {
            config,
            rng: SplitMix64::new(seed),
            token: None,
            socket: SocketId(0),
            phase: Phase::Closed,
            wanted: false,
            online: true,
            state: ConnectionState::Disconnected,
            reconnect_attempt: 0,
            reconnect_at: None,
            heartbeat_at: None,
            heartbeat: None,
            next_ref: 0,
            channels: SortedMap::new(),
            pending: SortedMap::new(),
            token_requested: false,
            outputs: VecDeque::new(),
        }
    }

    /// The settings.
    pub fn config(&self) -> &RealtimeConfig {
        &self.config
    }

    /// The current connection state.
    pub fn state(&self) -> &ConnectionState {
        &self.state
    }

    /// The state of the channel with `topic`, if it exists.
    pub fn channel_state(&self, topic: &str) -> Option<ChannelState> {
        self.channels.get(topic).map(|c| c.state)
    }

    /// The topics of all channels.
    pub fn topics(&self) -> impl Iterator<Item = &str> {
        self.channels.keys().map(String::as_str)
    }

    /// The next thing to do, or `None` when everything is done until the next input or timeout.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    /// When [`handle_timeout`](Self::handle_timeout) must next be called.
    pub fn poll_timeout(&self) -> Option<Millis> {
        let mut earliest: Option<Millis> = None;
        let mut consider = |t: Option<Millis>| {
            if let Some(t) = t {
                earliest = Some(earliest.map_or(t, |e| e.min(t)));
            }
        };
        match self.phase {
            Phase::Opening { deadline } => consider(Some(deadline)),
            Phase::Open { .. } => {
                consider(self.heartbeat_at);
                consider(self.heartbeat.as_ref().map(|h| h.deadline));
                self.pending
                    .values()
                    .for_each(|p| consider(Some(p.deadline)));
                self.channels.values().for_each(|c| consider(c.rejoin_at));
            }
            Phase::Closed => consider(self.reconnect_at),
        }
        earliest
    }

    /// Opens the connection (and keeps it open, reconnecting, until
    /// [`disconnect`](Self::disconnect)).
    pub fn connect(&mut self, now: Millis) {
        self.wanted = true;
        self.reconnect_attempt = 0;
        self.reconnect_at = None;
        if self.phase == Phase::Closed {
            if self.online {
                self.open_socket(now);
            } else {
                self.set_state(ConnectionState::Offline);
            }
        }
    }

    /// Closes the connection and stops reconnecting. Channels are kept and rejoin on the next
    /// [`connect`](Self::connect).
    pub fn disconnect(&mut self, now: Millis) {
        self.wanted = false;
        self.reconnect_at = None;
        self.close_socket(now, "client disconnect");
        self.set_state(ConnectionState::Disconnected);
    }

    /// Tries to connect now, resetting the backoff (for a "reconnect" button after
    /// [`ConnectionState::Error`]).
    pub fn retry(&mut self, now: Millis) {
        if self.phase == Phase::Closed {
            self.connect(now);
        }
    }

    /// Sets the user's access token: sent to every joined channel at once and used by every
    /// later join. Channels waiting for a token rejoin.
    pub fn set_token(&mut self, now: Millis, token: impl Into<String>) {
        let token = token.into();
        if self.token.as_deref() == Some(token.as_str()) && !self.token_requested {
            return;
        }
        self.token = Some(token.clone());
        self.token_requested = false;
        let open = matches!(self.phase, Phase::Open { .. });
        let topics = self.channels.key_list();
        for topic in topics {
            let state = self.channels[&topic].state;
            match state {
                ChannelState::Joined | ChannelState::Subscribed if open => {
                    let join_ref = self.channels[&topic].join_ref.clone();
                    let payload = object(vec![("access_token", token.clone().into())]);
                    self.push_frame(join_ref, &topic, "access_token", payload);
                    if state == ChannelState::Subscribed {
                        self.catch_up(&topic, CatchUpReason::TokenRefreshed);
                    }
                }
                ChannelState::AwaitingToken if open => self.send_join(now, &topic),
                ChannelState::AwaitingToken => {
                    self.set_channel_state(&topic, ChannelState::Pending)
                }
                _ => {}
            }
        }
    }

    /// Joins channel `name` (topic `realtime:<name>`) with `config`, now or as soon as the
    /// socket is open. Joining an existing channel again replaces its configuration.
    pub fn join(
        &mut self,
        now: Millis,
        name: &str,
        config: ChannelConfig,
    ) -> Result<String, JoinRefused> {
        let topic = format!("realtime:{name}");
        if let Some(channel) = self.channels.get_mut(&topic) {
            channel.config = config;
            channel.rejoin_attempt = 0;
        } else {
            if self.channels.len() >= self.config.max_channels {
                return Err(JoinRefused::TooManyChannels {
                    max: self.config.max_channels,
                });
            }
            self.channels.insert(
                topic.clone(),
                Channel {
                    config,
                    state: ChannelState::Closed,
                    join_ref: None,
                    binding_ids: Vec::new(),
                    rejoin_attempt: 0,
                    rejoin_at: None,
                    presence: PresenceState::default(),
                },
            );
        }
        if matches!(self.phase, Phase::Open { .. }) {
            self.send_join(now, &topic);
        } else {
            self.set_channel_state(&topic, ChannelState::Pending);
        }
        Ok(topic)
    }

    /// Leaves the channel with `topic`. It is gone once [`ChannelState::Closed`] is emitted.
    pub fn leave(&mut self, now: Millis, topic: &str) {
        let Some(channel) = self.channels.get(topic) else {
            return;
        };
        let joined = matches!(
            channel.state,
            ChannelState::Joining | ChannelState::Joined | ChannelState::Subscribed
        );
        if joined && matches!(self.phase, Phase::Open { .. }) {
            let join_ref = channel.join_ref.clone();
            // Whatever the channel still has in flight no longer matters.
            self.pending.retain(|_, p| p.topic != topic);
            let msg_ref = self.push_frame(join_ref, topic, "phx_leave", object(Vec::new()));
            self.track_push(now, msg_ref, topic, PushKind::Leave);
            self.channels
                .get_mut(topic)
                .expect("checked above")
                .rejoin_at = None;
            self.set_channel_state(topic, ChannelState::Leaving);
        } else {
            self.remove_channel(topic);
        }
    }

    /// Tracks this client's presence on a joined channel with `meta` (e.g. the page viewed).
    pub fn track(&mut self, now: Millis, topic: &str, meta: Value) -> Result<(), PushRefused> {
        let payload = object(vec![
            ("type", "presence".into()),
            ("event", "track".into()),
            ("payload", meta),
        ]);
        self.channel_push(now, topic, "presence", payload, Some(PushKind::Presence))
    }

    /// Stops tracking this client's presence on a channel.
    pub fn untrack(&mut self, now: Millis, topic: &str) -> Result<(), PushRefused> {
        let payload = object(vec![
            ("type", "presence".into()),
            ("event", "untrack".into()),
        ]);
        self.channel_push(now, topic, "presence", payload, Some(PushKind::Presence))
    }

    /// Sends a broadcast to the members of a joined channel.
    pub fn broadcast(
        &mut self,
        now: Millis,
        topic: &str,
        message: &Broadcast,
    ) -> Result<(), PushRefused> {
        let ack = self
            .channels
            .get(topic)
            .is_some_and(|c| c.config.broadcast_ack);
        let kind = ack.then_some(PushKind::Broadcast);
        self.channel_push(now, topic, "broadcast", message.to_payload(), kind)
    }

    fn channel_push(
        &mut self,
        now: Millis,
        topic: &str,
        event: &str,
        payload: Value,
        tracked: Option<PushKind>,
    ) -> Result<(), PushRefused> {
        let channel = self
            .channels
            .get(topic)
            .ok_or_else(|| PushRefused::UnknownChannel(topic.to_owned()))?;
        let joined = matches!(
            channel.state,
            ChannelState::Joined | ChannelState::Subscribed
        );
        if !joined || !matches!(self.phase, Phase::Open { .. }) {
            return Err(PushRefused::NotJoined(topic.to_owned()));
        }
        let join_ref = channel.join_ref.clone();
        let msg_ref = self.push_frame(join_ref, topic, event, payload);
        if let Some(kind) = tracked {
            self.track_push(now, msg_ref, topic, kind);
        }
        Ok(())
    }

    /// Feeds something that happened outside the engine.
    pub fn handle_input(&mut self, now: Millis, input: Input<'_>) {
        match input {
            Input::Opened(socket) if socket == self.socket => self.on_open(now),
            Input::Closed {
                socket,
                code,
                reason,
            } if socket == self.socket && self.phase != Phase::Closed => {
                let why = if reason.is_empty() {
                    format!("socket closed ({code})")
                } else {
                    format!("socket closed ({code}: {reason})")
                };
                self.socket_lost(now, &why);
            }
            Input::Text { socket, text } if socket == self.socket && self.heard() => {
                self.on_text(now, text)
            }
            Input::Change { socket, frame } if socket == self.socket && self.heard() => {
                self.on_routed(*frame)
            }
            Input::Online => self.on_online(now),
            Input::Offline => self.on_offline(now),
            Input::Visible => self.on_visible(now),
            // Binary frames carry broadcasts only; a postgres_changes client ignores them.
            // Hidden pages keep their socket: the heartbeat decides whether it survived.
            Input::Binary { .. } | Input::Hidden => {}
            // Late events of a socket the engine already gave up on (or that is not open).
            Input::Opened(_) | Input::Closed { .. } | Input::Text { .. } | Input::Change { .. } => {
            }
        }
    }

    /// Whether the socket is open, noting that it was heard from: a frame proves the
    /// connection works, so reconnects start over from the shortest delay.
    fn heard(&mut self) -> bool {
        let Phase::Open { heard } = &mut self.phase else {
            return false;
        };
        if !*heard {
            *heard = true;
            self.reconnect_attempt = 0;
        }
        true
    }

    /// Runs everything that is due at `now`.
    pub fn handle_timeout(&mut self, now: Millis) {
        match self.phase {
            Phase::Opening { deadline } if deadline <= now => {
                self.close_output("connect timeout");
                self.socket_lost(now, "connect timeout");
            }
            Phase::Closed => {
                if self.reconnect_at.is_some_and(|t| t <= now) {
                    self.reconnect_at = None;
                    self.open_socket(now);
                }
            }
            Phase::Open { .. } => {
                if self.heartbeat.as_ref().is_some_and(|h| h.deadline <= now) {
                    self.close_output("heartbeat timeout");
                    self.socket_lost(now, "heartbeat timeout");
                    return;
                }
                if self.heartbeat_at.is_some_and(|t| t <= now) {
                    self.heartbeat_at = Some(now + self.config.heartbeat_interval_ms);
                    if self.heartbeat.is_none() {
                        self.send_heartbeat(now, now + self.config.heartbeat_interval_ms);
                    }
                }
                self.expire_pushes(now);
                let due = (self.channels)
                    .keys_where(&|_, channel| channel.rejoin_at.is_some_and(|t| t <= now));
                for topic in due {
                    self.send_join(now, &topic);
                }
            }
            Phase::Opening { .. } => {}
        }
    }

    fn open_socket(&mut self, now: Millis) {
        self.socket = SocketId(self.socket.0 + 1);
        self.phase = Phase::Opening {
            deadline: now + self.config.connect_timeout_ms,
        };
        let url = self.config.socket_url();
        self.outputs.push_back(Output::Connect {
            socket: self.socket,
            url,
        });
        self.set_state(ConnectionState::Connecting);
    }

    fn on_open(&mut self, now: Millis) {
        if !matches!(self.phase, Phase::Opening { .. }) {
            return;
        }
        self.phase = Phase::Open { heard: false };
        self.heartbeat = None;
        self.heartbeat_at = Some(now + self.config.heartbeat_interval_ms);
        self.set_state(ConnectionState::Connected);
        let topics =
            (self.channels).keys_where(&|_, channel| channel.state == ChannelState::Pending);
        for topic in topics {
            self.send_join(now, &topic);
        }
    }

    /// The current socket is gone: forget what was in flight, park the channels until the next
    /// socket opens, and schedule a reconnect.
    fn socket_lost(&mut self, now: Millis, reason: &str) {
        self.forget_socket();
        if !self.wanted {
            self.set_state(ConnectionState::Disconnected);
        } else if !self.online {
            self.set_state(ConnectionState::Offline);
        } else {
            self.reconnect_attempt += 1;
            let max = self.config.max_reconnect_attempts;
            if self.reconnect_attempt > max {
                let reason = format!("gave up after {max} attempts: {reason}");
                self.set_state(ConnectionState::Error { reason });
            } else {
                let policy = self.config.reconnect_backoff;
                let delay_ms = policy.delay(self.reconnect_attempt, &mut self.rng);
                self.reconnect_at = Some(now + delay_ms);
                self.set_state(ConnectionState::Reconnecting {
                    attempt: self.reconnect_attempt,
                    delay_ms,
                });
            }
        }
    }

    fn forget_socket(&mut self) {
        self.phase = Phase::Closed;
        self.heartbeat = None;
        self.heartbeat_at = None;
        self.pending.clear();
        let topics = self.channels.key_list();
        for topic in topics {
            let channel = self.channels.get_mut(&topic).expect("listed above");
            channel.rejoin_at = None;
            match channel.state {
                ChannelState::Leaving => self.remove_channel(&topic),
                ChannelState::Joining
                | ChannelState::Joined
                | ChannelState::Subscribed
                | ChannelState::Errored => self.set_channel_state(&topic, ChannelState::Pending),
                _ => {}
            }
        }
    }

    fn close_socket(&mut self, _now: Millis, reason: &str) {
        if self.phase != Phase::Closed {
            self.close_output(reason);
            self.forget_socket();
        }
    }

    fn close_output(&mut self, reason: &str) {
        self.outputs.push_back(Output::Close {
            socket: self.socket,
            code: 1000,
            reason: reason.to_owned(),
        });
    }

    fn on_online(&mut self, now: Millis) {
        self.online = true;
        if !self.wanted {
            return;
        }
        match self.phase {
            Phase::Closed => self.connect(now),
            Phase::Open { .. } => self.probe(now, CatchUpReason::Online),
            Phase::Opening { .. } => {}
        }
    }

    fn on_offline(&mut self, now: Millis) {
        self.online = false;
        if !self.wanted {
            return;
        }
        self.reconnect_at = None;
        self.close_socket(now, "offline");
        self.set_state(ConnectionState::Offline);
    }

    fn on_visible(&mut self, now: Millis) {
        if !self.wanted || !self.online {
            return;
        }
        match self.phase {
            // The user is back: try now instead of waiting out the backoff.
            Phase::Closed => self.connect(now),
            Phase::Open { .. } => self.probe(now, CatchUpReason::Visible),
            Phase::Opening { .. } => {}
        }
    }

    /// After a pause (hidden page, network flap) the socket may be dead without a close event:
    /// send a heartbeat that must be answered within the push timeout, and catch up.
    fn probe(&mut self, now: Millis, reason: CatchUpReason) {
        if self.heartbeat.is_none() {
            self.send_heartbeat(now, now + self.config.push_timeout_ms);
        }
        let subscribed =
            (self.channels).keys_where(&|_, channel| channel.state == ChannelState::Subscribed);
        for topic in subscribed {
            self.catch_up(&topic, reason);
        }
    }

    fn send_heartbeat(&mut self, now: Millis, deadline: Millis) {
        let msg_ref = self.push_frame(None, "phoenix", "heartbeat", object(Vec::new()));
        self.heartbeat = Some(PendingHeartbeat {
            msg_ref,
            sent: now,
            deadline,
        });
    }

    pub(super) fn on_heartbeat_reply(&mut self, now: Millis, msg_ref: Option<&str>) {
        if let Some(h) = &self.heartbeat {
            if msg_ref == Some(h.msg_ref.as_str()) {
                let ms = now.since(h.sent);
                self.heartbeat = None;
                self.emit(Event::Latency { ms });
            }
        }
    }

    fn expire_pushes(&mut self, now: Millis) {
        let expired = self.pending.keys_where(&|_, push| push.deadline <= now);
        for msg_ref in expired {
            let push = self.pending.remove(&msg_ref).expect("listed above");
            match push.kind {
                PushKind::Join => self.channel_failed(now, &push.topic, ChannelErrorCause::Timeout),
                PushKind::Leave => self.remove_channel(&push.topic),
                kind => self.emit(Event::PushFailed {
                    topic: push.topic,
                    kind,
                    reason: "timeout".into(),
                }),
            }
        }
    }

    pub(super) fn send_join(&mut self, now: Millis, topic: &str) {
        let token = self
            .token
            .clone()
            .unwrap_or_else(|| self.config.api_key.clone());
        let Some(channel) = self.channels.get_mut(topic) else {
            return;
        };
        let payload = channel.config.join_payload(&token);
        channel.rejoin_at = None;
        let msg_ref = self.next_ref();
        self.channels
            .get_mut(topic)
            .expect("checked above")
            .join_ref = Some(msg_ref.clone());
        // A rejoin supersedes whatever the previous join still had in flight.
        self.pending.retain(|_, p| p.topic != topic);
        self.send_frame(Frame {
            join_ref: Some(msg_ref.clone()),
            msg_ref: Some(msg_ref.clone()),
            topic: topic.to_owned(),
            event: "phx_join".into(),
            payload,
        });
        self.track_push(now, msg_ref, topic, PushKind::Join);
        self.set_channel_state(topic, ChannelState::Joining);
    }

    /// Applies what a channel error's [`Recovery`] calls for.
    pub(super) fn channel_failed(&mut self, now: Millis, topic: &str, cause: ChannelErrorCause) {
        // A channel being left has nothing left to recover.
        if !self
            .channels
            .get(topic)
            .is_some_and(|c| c.state != ChannelState::Leaving)
        {
            return;
        }
        let recovery = cause.recovery();
        self.emit(Event::ChannelError {
            topic: topic.to_owned(),
            cause,
            recovery,
        });
        match recovery {
            Recovery::NeedToken => {
                self.set_channel_state(topic, ChannelState::AwaitingToken);
                if !self.token_requested {
                    self.token_requested = true;
                    self.emit(Event::NeedToken);
                }
            }
            Recovery::Backoff => {
                let policy = self.config.rejoin_backoff;
                if let Some(channel) = self.channels.get_mut(topic) {
                    channel.rejoin_attempt += 1;
                    let delay = policy.delay(channel.rejoin_attempt, &mut self.rng);
                    channel.rejoin_at = Some(now + delay);
                }
                self.set_channel_state(topic, ChannelState::Errored);
            }
            Recovery::Stop => {
                if matches!(self.phase, Phase::Open { .. }) {
                    let join_ref = self.channels.get(topic).and_then(|c| c.join_ref.clone());
                    self.push_frame(join_ref, topic, "phx_leave", object(Vec::new()));
                }
                self.set_channel_state(topic, ChannelState::Failed);
            }
        }
    }

    pub(super) fn catch_up(&mut self, topic: &str, reason: CatchUpReason) {
        self.emit(Event::CatchUp {
            topic: topic.to_owned(),
            reason,
        });
    }

    pub(super) fn remove_channel(&mut self, topic: &str) {
        if self.channels.remove(topic).is_some() {
            self.pending.retain(|_, p| p.topic != topic);
            self.emit(Event::Channel {
                topic: topic.to_owned(),
                state: ChannelState::Closed,
            });
        }
    }

    pub(super) fn set_channel_state(&mut self, topic: &str, state: ChannelState) {
        if let Some(channel) = self.channels.get_mut(topic) {
            if channel.state != state {
                channel.state = state;
                self.emit(Event::Channel {
                    topic: topic.to_owned(),
                    state,
                });
            }
        }
    }

    fn set_state(&mut self, state: ConnectionState) {
        if self.state != state {
            self.state = state.clone();
            self.emit(Event::Connection(state));
        }
    }

    pub(super) fn emit(&mut self, event: Event) {
        self.outputs.push_back(Output::Event(event));
    }

    fn next_ref(&mut self) -> String {
        self.next_ref += 1;
        self.next_ref.to_string()
    }

    fn track_push(&mut self, now: Millis, msg_ref: String, topic: &str, kind: PushKind) {
        let deadline = now + self.config.push_timeout_ms;
        let topic = topic.to_owned();
        self.pending.insert(
            msg_ref,
            PendingPush {
                topic,
                kind,
                deadline,
            },
        );
    }

    /// Sends `event` on `topic` with a fresh ref and returns the ref.
    fn push_frame(
        &mut self,
        join_ref: Option<String>,
        topic: &str,
        event: &str,
        payload: Value,
    ) -> String {
        let msg_ref = self.next_ref();
        self.send_frame(Frame {
            join_ref,
            msg_ref: Some(msg_ref.clone()),
            topic: topic.to_owned(),
            event: event.to_owned(),
            payload,
        });
        msg_ref
    }

    fn send_frame(&mut self, frame: Frame) {
        let text = frame.encode(self.config.vsn);
        self.outputs.push_back(Output::Send {
            socket: self.socket,
            text,
        });
    }
}
