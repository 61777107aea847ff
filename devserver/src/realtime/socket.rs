//! One Realtime WebSocket: the server side of the Phoenix channel protocol.

use super::filter::RowFilter;
use super::hub::{channel_key, Membership, OutFrame, Outbox, QueueBudget, Subscription};
use crate::auth::{now_secs, Claims, TokenError};
use crate::faults::SocketAction;
use crate::state::AppState;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use futures_util::{SinkExt, StreamExt};
use rockon_sync_core::realtime::{ChangeFilterEvent, Frame as CoreFrame, PostgresBinding, Vsn};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::{interval, Instant};

/// The server drops a socket that sent nothing for this long.
const IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// Incoming frames larger than this are refused.
const MAX_INCOMING: usize = 1024 * 1024;
/// Channels per connection.
const MAX_CHANNELS: usize = 100;
/// postgres_changes bindings per join: each one is checked for every change of its table.
const MAX_BINDINGS: usize = 100;
/// Joins a connection may make per second (a reconnect rejoins at most MAX_CHANNELS at once):
/// a private join costs a database round trip
/// (the `realtime.messages` policies), and a flood of them would starve every other caller.
const MAX_JOINS_PER_SECOND: usize = 100;

/// `GET /realtime/v1/websocket?apikey=…&vsn=…` and `/socket/websocket`.
pub async fn upgrade(
    State(state): State<Arc<AppState>>,
    Query(params): Query<HashMap<String, String>>,
    ws: WebSocketUpgrade,
) -> Response {
    if state.faults.refusing_sockets() {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "refusing sockets (fault switch)",
        )
            .into_response();
    }
    let Some(slot) = state.hub.claim_socket_slot(state.max_sockets) else {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "too many connections to this server",
        )
            .into_response();
    };
    let key_ok = params
        .get("apikey")
        .is_some_and(|key| state.keys.verify(key, 0).is_ok());
    if !key_ok {
        return (StatusCode::UNAUTHORIZED, "missing or invalid apikey").into_response();
    }
    let vsn = match params.get("vsn").map(String::as_str) {
        None | Some("1.0.0") => Vsn::V1,
        Some("2.0.0") => Vsn::V2,
        Some(_) => return (StatusCode::BAD_REQUEST, "unsupported vsn").into_response(),
    };
    ws.max_message_size(MAX_INCOMING)
        .on_upgrade(move |socket| async move {
            serve(state, socket, vsn).await;
            drop(slot);
        })
}

/// A joined channel of this socket.
/// A received frame, its payload as serde_json's value (what the server speaks).
struct Frame {
    join_ref: Option<String>,
    msg_ref: Option<String>,
    topic: String,
    event: String,
    payload: Value,
}

impl From<CoreFrame> for Frame {
    fn from(frame: CoreFrame) -> Frame {
        Frame {
            join_ref: frame.join_ref,
            msg_ref: frame.msg_ref,
            topic: frame.topic,
            event: frame.event,
            payload: frame.payload.into(),
        }
    }
}

struct Joined {
    join_ref: Option<String>,
    claims: Claims,
    /// Whether it was joined as a private channel (authorized by `realtime.messages`).
    private: bool,
}

struct Session {
    state: Arc<AppState>,
    conn: u64,
    /// When the joins of the last second arrived.
    recent_joins: std::collections::VecDeque<Instant>,
    vsn: Vsn,
    outbox: Outbox,
    channels: BTreeMap<String, Joined>,
}

async fn serve(state: Arc<AppState>, socket: WebSocket, vsn: Vsn) {
    let (mut sink, mut stream) = socket.split();
    let (sender, mut receiver) = mpsc::unbounded_channel::<OutFrame>();
    let queue = Arc::new(QueueBudget::new(state.max_queued_bytes));
    let written = queue.clone();
    let conn = state.hub.next_id();
    let faults = state.faults.clone();
    let mut actions = faults.socket_actions();
    let writer = tokio::spawn(async move {
        let mut held: Option<OutFrame> = None;
        while let Some(frame) = receiver.recv().await {
            written.written(frame.text.len());
            let disturb = faults.frames();
            if disturb.delay_ms > 0 {
                tokio::time::sleep(Duration::from_millis(disturb.delay_ms)).await;
            }
            let mut batch = Vec::with_capacity(3);
            if frame.is_change && disturb.reorder {
                match held.take() {
                    None => {
                        held = Some(frame);
                        // A lone change is not held back forever: flush when nothing follows.
                        match tokio::time::timeout(Duration::from_millis(50), receiver.recv()).await
                        {
                            Ok(Some(next)) => {
                                written.written(next.text.len());
                                batch.push(next);
                                batch.extend(held.take());
                            }
                            Ok(None) => break,
                            Err(_) => batch.extend(held.take()),
                        }
                    }
                    Some(previous) => batch.extend([frame, previous]),
                }
            } else {
                batch.push(frame);
            }
            for frame in batch {
                let copies = if frame.is_change && disturb.duplicate {
                    2
                } else {
                    1
                };
                for _ in 0..copies {
                    if sink
                        .send(Message::Text(frame.text.clone().into()))
                        .await
                        .is_err()
                    {
                        return;
                    }
                }
            }
        }
        let _ = sink.close().await;
    });

    let mut session = Session {
        state: state.clone(),
        conn,
        recent_joins: std::collections::VecDeque::new(),
        vsn,
        outbox: Outbox::new(sender, vsn, queue.clone()),
        channels: BTreeMap::new(),
    };
    let mut last_heard = Instant::now();
    let mut ticker = interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            message = stream.next() => match message {
                Some(Ok(Message::Text(text))) => {
                    last_heard = Instant::now();
                    session.on_text(text.as_str()).await;
                }
                Some(Ok(Message::Binary(_))) => last_heard = Instant::now(),
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => last_heard = Instant::now(),
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
            },
            action = actions.recv() => match action {
                Ok(SocketAction::Drop) => {
                    // Gone without a close frame, as a crashed server or a dead network.
                    writer.abort();
                    break;
                }
                Ok(SocketAction::Malformed) => session.outbox.send_raw("{this is not a frame"),
                Err(_) => {}
            },
            _ = queue.overflowed.notified() => {
                // The client reads slower than its channels produce: drop it (see
                // QueueBudget) instead of buffering without end.
                writer.abort();
                break;
            }
            _ = ticker.tick() => {
                if last_heard.elapsed() >= IDLE_TIMEOUT {
                    break;
                }
                session.enforce_expiry();
            }
        }
    }
    state.hub.disconnect(conn);
    drop(session);
    let _ = writer.await;
}

impl Session {
    async fn on_text(&mut self, text: &str) {
        let Ok(frame) = CoreFrame::decode(text, self.vsn, MAX_INCOMING).map(Frame::from) else {
            return;
        };
        let reply = |outbox: &Outbox, status: &str, response: Value| {
            outbox.send(
                frame.join_ref.as_deref(),
                frame.msg_ref.as_deref(),
                &frame.topic,
                "phx_reply",
                json!({"status": status, "response": response}),
            )
        };
        if frame.topic == "phoenix" {
            if frame.event == "heartbeat" {
                reply(&self.outbox, "ok", json!({}));
            }
            return;
        }
        match frame.event.as_str() {
            "phx_join" => self.join(&frame).await,
            "phx_leave" => {
                if let Some(channel) = self.channels.remove(&frame.topic) {
                    let key = channel_key(&frame.topic, channel.private);
                    self.state.hub.leave(self.conn, &key);
                }
                reply(&self.outbox, "ok", json!({}));
                self.outbox.send(
                    frame.join_ref.as_deref(),
                    frame.msg_ref.as_deref(),
                    &frame.topic,
                    "phx_close",
                    json!({}),
                );
            }
            _ if !self.channels.contains_key(&frame.topic) => {
                reply(&self.outbox, "error", json!({"reason": "unmatched topic"}));
            }
            "access_token" => self.refresh_token(&frame).await,
            "presence" => {
                let payload = &frame.payload;
                match payload.get("event").and_then(Value::as_str) {
                    Some("track") => {
                        let meta = payload
                            .get("payload")
                            .and_then(Value::as_object)
                            .cloned()
                            .unwrap_or_default();
                        // Reply first: Phoenix broadcasts the diff after handling the push.
                        reply(&self.outbox, "ok", json!({}));
                        self.state
                            .hub
                            .track(self.conn, &self.key(&frame.topic), meta);
                    }
                    Some("untrack") => {
                        reply(&self.outbox, "ok", json!({}));
                        self.state.hub.untrack(self.conn, &self.key(&frame.topic));
                    }
                    _ => reply(
                        &self.outbox,
                        "error",
                        json!({"reason": "unknown presence event"}),
                    ),
                }
            }
            "broadcast" => {
                let key = self.key(&frame.topic);
                self.state.hub.broadcast(self.conn, &key, &frame.payload);
                if frame.msg_ref.is_some() {
                    reply(&self.outbox, "ok", json!({}));
                }
            }
            _ => {}
        }
    }

    /// Runs the `realtime.messages` policies for a private channel; the reason as the real
    /// server words it when they refuse.
    async fn authorize(&self, claims: &Claims, wire_topic: &str) -> Result<(), String> {
        let topic = wire_topic.strip_prefix("realtime:").unwrap_or(wire_topic);
        match super::authorize::may_read(&self.state, claims, topic).await {
            Ok(true) => Ok(()),
            Ok(false) => Err(format!(
                "Unauthorized: You do not have permissions to read from this Channel topic: {topic}"
            )),
            Err(error) => Err(format!("Unable to authorize the channel: {error}")),
        }
    }

    /// The hub's key of a joined channel of this socket.
    fn key(&self, topic: &str) -> String {
        let private = self.channels.get(topic).is_some_and(|c| c.private);
        channel_key(topic, private)
    }

    async fn join(&mut self, frame: &Frame) {
        let reply_error = |outbox: &Outbox, reason: String| {
            outbox.send(
                frame.join_ref.as_deref(),
                frame.msg_ref.as_deref(),
                &frame.topic,
                "phx_reply",
                json!({"status": "error", "response": {"reason": reason}}),
            )
        };
        // Cheap refusals first: a full connection, then a flood of joins (a private join
        // costs a database round trip).
        if !self.channels.contains_key(&frame.topic) && self.channels.len() >= MAX_CHANNELS {
            return reply_error(
                &self.outbox,
                "ChannelRateLimitReached: Too many channels".into(),
            );
        }
        let now = Instant::now();
        while self
            .recent_joins
            .front()
            .is_some_and(|t| now.duration_since(*t) >= Duration::from_secs(1))
        {
            self.recent_joins.pop_front();
        }
        if self.recent_joins.len() >= MAX_JOINS_PER_SECOND {
            return reply_error(
                &self.outbox,
                "ClientJoinRateLimitReached: Too many joins per second".into(),
            );
        }
        self.recent_joins.push_back(now);
        let token = frame
            .payload
            .get("access_token")
            .and_then(Value::as_str)
            .unwrap_or("");
        let claims = if token.is_empty() {
            Err(TokenError::Missing)
        } else {
            self.state
                .keys
                .verify(token, self.state.faults.expired_before())
        };
        let claims = match claims {
            Ok(claims) => claims,
            Err(error) => return reply_error(&self.outbox, error.realtime_reason()),
        };
        let private = frame
            .payload
            .pointer("/config/private")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        if private {
            if let Err(reason) = self.authorize(&claims, &frame.topic).await {
                return reply_error(&self.outbox, reason);
            }
        }
        let already = self.channels.contains_key(&frame.topic);
        if !already && self.state.hub.channel_count(self.conn) >= MAX_CHANNELS {
            return reply_error(
                &self.outbox,
                "ChannelRateLimitReached: Too many channels".into(),
            );
        }
        let config = frame.payload.get("config").cloned().unwrap_or(Value::Null);
        let bindings: Vec<Value> = config
            .get("postgres_changes")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        if bindings.len() > MAX_BINDINGS {
            return reply_error(
                &self.outbox,
                format!("Too many postgres_changes bindings: at most {MAX_BINDINGS} per channel"),
            );
        }
        let mut echoed = Vec::new();
        let mut subscriptions = Vec::new();
        let mut invalid = None;
        let claims_json = serde_json::to_value(&claims).expect("claims serialize");
        for binding in &bindings {
            let id = self.state.hub.next_id();
            let mut entry = binding.clone();
            if let Some(object) = entry.as_object_mut() {
                object.insert("id".into(), json!(id));
            }
            echoed.push(entry);
            match PostgresBinding::from_json(&binding.clone().into(), "postgres_changes") {
                Ok(parsed) => {
                    let filter = parsed.filter.as_deref().map(RowFilter::parse);
                    let known = parsed.schema == "public"
                        && (parsed.table == "*"
                            || self.state.schema.table(&parsed.table).is_some());
                    if !known || matches!(filter, Some(None)) {
                        invalid = Some(describe_binding(&parsed));
                        continue;
                    }
                    subscriptions.push(Subscription {
                        conn: self.conn,
                        topic: frame.topic.clone(),
                        binding_id: id,
                        schema: parsed.schema,
                        table: parsed.table,
                        event: parsed.event,
                        filter: filter.flatten(),
                        claims: claims_json.clone(),
                        outbox: self.outbox.clone(),
                    });
                }
                Err(_) => invalid = Some(binding.to_string()),
            }
        }
        let presence = config.get("presence");
        let presence_enabled = presence
            .and_then(|p| p.get("enabled"))
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let presence_key = presence
            .and_then(|p| p.get("key"))
            .and_then(Value::as_str)
            .filter(|k| !k.is_empty())
            .map_or_else(|| format!("c{}", self.conn), str::to_owned);
        let broadcast_self = config
            .pointer("/broadcast/self")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        // A rejoin may switch between public and private: leave the old channel first.
        if let Some(previous) = self.channels.get(&frame.topic) {
            let key = channel_key(&frame.topic, previous.private);
            self.state.hub.leave(self.conn, &key);
        }
        let membership = Membership {
            conn: self.conn,
            key: channel_key(&frame.topic, private),
            join_ref: frame.join_ref.clone(),
            broadcast_self,
            presence_key,
            outbox: self.outbox.clone(),
        };
        let presence_state = self.state.hub.join(membership, subscriptions);
        self.channels.insert(
            frame.topic.clone(),
            Joined {
                join_ref: frame.join_ref.clone(),
                claims,
                private,
            },
        );
        let topic = &frame.topic;
        let join_ref = frame.join_ref.as_deref();
        self.outbox.send(
            join_ref,
            frame.msg_ref.as_deref(),
            topic,
            "phx_reply",
            json!({"status": "ok", "response": {"postgres_changes": echoed}}),
        );
        if presence_enabled {
            self.outbox
                .send(join_ref, None, topic, "presence_state", presence_state);
        }
        if bindings.is_empty() {
            return;
        }
        let channel = topic.strip_prefix("realtime:").unwrap_or(topic);
        // The subscriptions are registered, and the stream's slot exists, before this is sent: every
        // change committed from now on reaches this socket.
        let streaming = self.state.hub.wait_for_stream(Duration::from_secs(5)).await;
        let system = match invalid {
            None if !streaming => json!({"extension": "postgres_changes", "status": "error",
                "message": "Realtime was unable to connect to the project database", "channel": channel}),
            None => json!({"extension": "postgres_changes", "status": "ok",
                           "message": "Subscribed to PostgreSQL", "channel": channel}),
            Some(binding) => json!({"extension": "postgres_changes", "status": "error",
                "message": format!("Unable to subscribe to changes with given parameters. Please check Realtime is enabled for the given connect parameters: [{binding}]"),
                "channel": channel}),
        };
        self.outbox.send(None, None, topic, "system", system);
    }

    /// A new token for a channel. As hosted Realtime does, a private channel's policies run again
    /// with the new claims, and the channel closes if they now refuse (a member removed from
    /// the band stops receiving its broadcasts and presence).
    async fn refresh_token(&mut self, frame: &Frame) {
        let token = frame
            .payload
            .get("access_token")
            .and_then(Value::as_str)
            .unwrap_or("");
        let verified = self
            .state
            .keys
            .verify(token, self.state.faults.expired_before());
        let claims = match verified {
            Ok(claims) => claims,
            Err(error) => {
                let message = match error {
                    TokenError::Expired(ago) => format!("Token has expired {ago} seconds ago"),
                    other => other.realtime_reason(),
                };
                return self.close_channel(&frame.topic, &message);
            }
        };
        let private = self.channels.get(&frame.topic).is_some_and(|c| c.private);
        if private {
            if let Err(reason) = self.authorize(&claims, &frame.topic).await {
                return self.close_channel(&frame.topic, &reason);
            }
        }
        let json = serde_json::to_value(&claims).expect("claims serialize");
        self.state.hub.set_claims(self.conn, &frame.topic, &json);
        if let Some(channel) = self.channels.get_mut(&frame.topic) {
            channel.claims = claims;
        }
    }

    /// Closes channels whose token has expired, as the real server does at expiry.
    fn enforce_expiry(&mut self) {
        let now = now_secs();
        let expired_before = self.state.faults.expired_before();
        let expired: Vec<(String, u64)> = self
            .channels
            .iter()
            .filter(|(_, c)| {
                c.claims.exp <= now || (c.claims.iat < expired_before && c.claims.role != "anon")
            })
            .map(|(t, c)| (t.clone(), now.saturating_sub(c.claims.exp)))
            .collect();
        for (topic, ago) in expired {
            self.close_channel(&topic, &format!("Token has expired {ago} seconds ago"));
        }
    }

    fn close_channel(&mut self, topic: &str, message: &str) {
        let Some(channel) = self.channels.remove(topic) else {
            return;
        };
        self.state
            .hub
            .leave(self.conn, &channel_key(topic, channel.private));
        let join_ref = channel.join_ref.as_deref();
        let channel_name = topic.strip_prefix("realtime:").unwrap_or(topic);
        self.outbox.send(
            join_ref,
            None,
            topic,
            "system",
            json!({"extension": "system", "status": "error", "message": message, "channel": channel_name}),
        );
        self.outbox
            .send(join_ref, None, topic, "phx_close", json!({}));
    }
}

fn describe_binding(binding: &PostgresBinding) -> String {
    let event = match binding.event {
        ChangeFilterEvent::All => "*",
        ChangeFilterEvent::Insert => "INSERT",
        ChangeFilterEvent::Update => "UPDATE",
        ChangeFilterEvent::Delete => "DELETE",
    };
    format!(
        "event: {event}, schema: {}, table: {}, filters: [{}]",
        binding.schema,
        binding.table,
        binding.filter.as_deref().unwrap_or("")
    )
}
