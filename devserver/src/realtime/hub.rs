//! Who is connected, on which channels, subscribed to what, and present where.

use super::filter::RowFilter;
use rockon_sync_core::realtime::{ChangeFilterEvent, Frame, Vsn};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::sync::Mutex;
use tokio::sync::mpsc;

/// A frame on its way to one socket; row changes (`postgres_changes`, database broadcasts) may
/// be duplicated or reordered by fault switches.
#[derive(Debug, Clone)]
pub struct OutFrame {
    /// The encoded frame.
    pub text: String,
    /// Whether it is a postgres change.
    pub is_change: bool,
}

/// The sending side of one socket.
#[derive(Debug, Clone)]
pub struct Outbox {
    sender: mpsc::UnboundedSender<OutFrame>,
    vsn: Vsn,
    queue: Arc<QueueBudget>,
}

/// The bytes queued for one socket, and the signal that it went over budget. A client that
/// stops reading (or reads slower than its channels produce) is disconnected rather than
/// buffered without end; it reconnects and catches up over REST, as after any lost socket.
#[derive(Debug)]
pub struct QueueBudget {
    bytes: AtomicUsize,
    max: usize,
    /// Notified when the queue goes over its budget.
    pub overflowed: tokio::sync::Notify,
}

impl QueueBudget {
    /// A budget of `max` bytes.
    pub fn new(max: usize) -> Self {
        Self {
            bytes: AtomicUsize::new(0),
            max,
            overflowed: tokio::sync::Notify::new(),
        }
    }

    /// Marks a frame of `len` bytes as written to the socket.
    pub fn written(&self, len: usize) {
        self.bytes.fetch_sub(len, Ordering::Relaxed);
    }
}

impl Outbox {
    /// An outbox for a socket speaking `vsn`, counting its queue against `queue`.
    pub fn new(sender: mpsc::UnboundedSender<OutFrame>, vsn: Vsn, queue: Arc<QueueBudget>) -> Self {
        Self { sender, vsn, queue }
    }

    /// Encodes and queues a frame; a closed socket drops it. The payload is the core's value,
    /// or serde_json's, converted.
    pub fn send(
        &self,
        join_ref: Option<&str>,
        msg_ref: Option<&str>,
        topic: &str,
        event: &str,
        payload: impl Into<rockon_sync_core::value::Value>,
    ) {
        let frame = Frame {
            join_ref: join_ref.map(str::to_owned),
            msg_ref: msg_ref.map(str::to_owned),
            topic: topic.to_owned(),
            event: event.to_owned(),
            payload: payload.into(),
        };
        self.queue_frame(OutFrame {
            text: frame.encode(self.vsn),
            is_change: event == "postgres_changes",
        });
    }

    /// Queues raw text (for the malformed-frame fault).
    pub fn send_raw(&self, text: &str) {
        self.queue_frame(OutFrame {
            text: text.to_owned(),
            is_change: false,
        });
    }

    fn queue_frame(&self, frame: OutFrame) {
        let len = frame.text.len();
        let before = self.queue.bytes.fetch_add(len, Ordering::Relaxed);
        if before + len > self.queue.max {
            // Over budget: the frame is dropped and the socket told to close.
            self.queue.bytes.fetch_sub(len, Ordering::Relaxed);
            self.queue.overflowed.notify_one();
            return;
        }
        if self.sender.send(frame).is_err() {
            self.queue.bytes.fetch_sub(len, Ordering::Relaxed);
        }
    }
}

/// One postgres_changes binding of one channel of one socket.
#[derive(Debug, Clone)]
pub struct Subscription {
    /// The socket.
    pub conn: u64,
    /// `realtime:<name>`.
    pub topic: String,
    /// The id echoed in the join reply and sent with each change.
    pub binding_id: u64,
    /// Schema of the table.
    pub schema: String,
    /// The table.
    pub table: String,
    /// Which events.
    pub event: ChangeFilterEvent,
    /// The row filter, if any.
    pub filter: Option<RowFilter>,
    /// The subscriber's JWT claims, for the RLS check.
    pub claims: Value,
    /// Where matching changes go.
    pub outbox: Outbox,
}

struct Member {
    conn: u64,
    /// The topic as the client wrote it, which frames to it carry.
    topic: String,
    join_ref: Option<String>,
    broadcast_self: bool,
    outbox: Outbox,
    presence_key: String,
}

/// Who is present on one channel: socket → (presence key, meta with `phx_ref`).
type ChannelPresence = BTreeMap<u64, (String, Map<String, Value>)>;

/// Where the hub files a channel: public and private channels of one topic are different
/// channels, as on hosted Realtime, so a public join never sees a private channel's presence or
/// broadcasts, nor sends into them.
pub fn channel_key(topic: &str, private: bool) -> String {
    let kind = if private { "private" } else { "public" };
    format!("{kind}:{topic}")
}

/// The topic a channel key was made from.
fn wire_topic(key: &str) -> &str {
    key.strip_prefix("private:")
        .or_else(|| key.strip_prefix("public:"))
        .unwrap_or(key)
}

/// A socket joining a channel.
pub struct Membership {
    /// The socket.
    pub conn: u64,
    /// The channel's key ([`channel_key`]).
    pub key: String,
    /// The join's ref, sent with channel-wide pushes.
    pub join_ref: Option<String>,
    /// Whether it receives its own broadcasts.
    pub broadcast_self: bool,
    /// Its presence key.
    pub presence_key: String,
    /// Where its frames go.
    pub outbox: Outbox,
}

#[derive(Default)]
struct State {
    subscriptions: Vec<Subscription>,
    members: BTreeMap<String, Vec<Member>>,
    presence: BTreeMap<String, ChannelPresence>,
}

/// One socket's place in the server's socket budget, given back on drop.
pub struct SocketSlot(Arc<AtomicUsize>);

impl Drop for SocketSlot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The registry shared by sockets and the change stream.
pub struct Hub {
    state: Mutex<State>,
    sockets: Arc<AtomicUsize>,
    next_id: AtomicU64,
    /// Whether the change stream's slot exists, so every commit from now on will be decoded.
    stream_ready: tokio::sync::watch::Sender<bool>,
}

impl Default for Hub {
    fn default() -> Self {
        Self {
            state: Mutex::default(),
            sockets: Arc::default(),
            next_id: AtomicU64::default(),
            stream_ready: tokio::sync::watch::channel(false).0,
        }
    }
}

impl Hub {
    /// Records whether the change stream is decoding.
    pub fn set_stream_ready(&self, ready: bool) {
        self.stream_ready.send_replace(ready);
    }

    /// Follows whether the change stream is decoding.
    pub fn stream_ready(&self) -> tokio::sync::watch::Receiver<bool> {
        self.stream_ready.subscribe()
    }

    /// Waits up to `timeout` for the change stream; false if it is not decoding.
    pub async fn wait_for_stream(&self, timeout: std::time::Duration) -> bool {
        let mut ready = self.stream_ready.subscribe();
        tokio::time::timeout(timeout, ready.wait_for(|r| *r))
            .await
            .is_ok_and(|r| r.is_ok())
    }

    /// Counts a new socket against `max`; `None` when the server already holds that many. The
    /// slot is given back when the returned guard drops.
    pub fn claim_socket_slot(&self, max: usize) -> Option<SocketSlot> {
        let sockets = self.sockets.clone();
        sockets
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                (n < max).then_some(n + 1)
            })
            .ok()
            .map(|_| SocketSlot(sockets))
    }

    /// A fresh id for a socket, a binding or a presence ref.
    pub fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// Adds a socket to a channel (replacing an earlier join of the same topic) with its
    /// subscriptions, and returns the presence state to send it.
    pub fn join(&self, membership: Membership, subscriptions: Vec<Subscription>) -> Value {
        let mut state = self.state.lock().expect("not poisoned");
        let key = membership.key.clone();
        remove_member(&mut state, membership.conn, &key);
        state.subscriptions.extend(subscriptions);
        state.members.entry(key.clone()).or_default().push(Member {
            conn: membership.conn,
            topic: wire_topic(&key).to_owned(),
            join_ref: membership.join_ref,
            broadcast_self: membership.broadcast_self,
            outbox: membership.outbox,
            presence_key: membership.presence_key,
        });
        presence_json(state.presence.get(&key))
    }

    /// Removes a socket from the channel `key`; returns whether it was there.
    pub fn leave(&self, conn: u64, key: &str) -> bool {
        let mut state = self.state.lock().expect("not poisoned");
        let had = remove_member(&mut state, conn, key);
        self.untrack_locked(&mut state, conn, key);
        had
    }

    /// Removes a socket from everything.
    pub fn disconnect(&self, conn: u64) {
        let mut state = self.state.lock().expect("not poisoned");
        let keys: Vec<String> = state.members.keys().cloned().collect();
        for key in keys {
            remove_member(&mut state, conn, &key);
            self.untrack_locked(&mut state, conn, &key);
        }
    }

    /// Number of channels the socket is on.
    pub fn channel_count(&self, conn: u64) -> usize {
        let state = self.state.lock().expect("not poisoned");
        state
            .members
            .values()
            .filter(|members| members.iter().any(|m| m.conn == conn))
            .count()
    }

    /// Replaces the claims of a socket's subscriptions on a channel (after `access_token`);
    /// `topic` is the wire topic (a socket joins a topic once, public or private).
    pub fn set_claims(&self, conn: u64, topic: &str, claims: &Value) {
        let mut state = self.state.lock().expect("not poisoned");
        for sub in state.subscriptions.iter_mut() {
            if sub.conn == conn && sub.topic == topic {
                sub.claims = claims.clone();
            }
        }
    }

    /// The subscriptions that want a change of `kind` on `schema.table` with this row.
    pub fn candidates(
        &self,
        schema: &str,
        table: &str,
        kind: &str,
        row: &Map<String, Value>,
    ) -> Vec<Subscription> {
        let state = self.state.lock().expect("not poisoned");
        state
            .subscriptions
            .iter()
            .filter(|s| s.schema == schema && (s.table == table || s.table == "*"))
            .filter(|s| match s.event {
                ChangeFilterEvent::All => true,
                ChangeFilterEvent::Insert => kind == "INSERT",
                ChangeFilterEvent::Update => kind == "UPDATE",
                ChangeFilterEvent::Delete => kind == "DELETE",
            })
            .filter(|s| s.filter.as_ref().is_none_or(|f| f.matches(row)))
            .cloned()
            .collect()
    }

    /// Tracks a socket's presence on the channel `key` and tells every member.
    pub fn track(&self, conn: u64, key: &str, meta: Map<String, Value>) {
        let mut state = self.state.lock().expect("not poisoned");
        let presence_key = state
            .members
            .get(key)
            .and_then(|ms| ms.iter().find(|m| m.conn == conn))
            .map(|m| m.presence_key.clone())
            .unwrap_or_else(|| conn.to_string());
        let mut meta = meta;
        meta.insert(
            "phx_ref".into(),
            Value::String(format!("p{}", self.next_id())),
        );
        let previous = state
            .presence
            .entry(key.to_owned())
            .or_default()
            .insert(conn, (presence_key.clone(), meta.clone()));
        let leaves = previous.map_or(json!({}), |(k, m)| json!({ k: {"metas": [m]} }));
        let diff = json!({"joins": { presence_key: {"metas": [meta]} }, "leaves": leaves});
        send_to_members(&state, key, "presence_diff", &diff, None);
    }

    /// Stops tracking a socket's presence on a channel.
    pub fn untrack(&self, conn: u64, key: &str) {
        let mut state = self.state.lock().expect("not poisoned");
        self.untrack_locked(&mut state, conn, key);
    }

    fn untrack_locked(&self, state: &mut State, conn: u64, key: &str) {
        let removed = state
            .presence
            .get_mut(key)
            .and_then(|entries| entries.remove(&conn));
        if let Some((presence_key, meta)) = removed {
            let diff = json!({"joins": {}, "leaves": { presence_key: {"metas": [meta]} }});
            send_to_members(state, key, "presence_diff", &diff, None);
        }
    }

    /// Sends a message committed to `realtime.messages` to the members of its channel, as a
    /// `broadcast` frame (server pushes carry no refs).
    pub fn broadcast_from_database(&self, wire_topic: &str, private: bool, payload: &Value) {
        let state = self.state.lock().expect("not poisoned");
        let key = channel_key(wire_topic, private);
        // The frame is the same for every member (no refs, one topic): encoded once per
        // serializer version, not once per socket.
        let frame = Frame {
            join_ref: None,
            msg_ref: None,
            topic: wire_topic.to_owned(),
            event: "broadcast".to_owned(),
            payload: payload.clone().into(),
        };
        let mut encoded: [Option<String>; 2] = [None, None];
        for member in state.members.get(&key).into_iter().flatten() {
            let vsn = member.outbox.vsn;
            let slot = &mut encoded[usize::from(vsn == Vsn::V2)];
            let text = slot.get_or_insert_with(|| frame.encode(vsn)).clone();
            member.outbox.queue_frame(OutFrame {
                text,
                is_change: true,
            });
        }
    }

    /// Sends a broadcast to the channel's members (to the sender only if it asked for `self`).
    pub fn broadcast(&self, conn: u64, key: &str, payload: &Value) {
        let state = self.state.lock().expect("not poisoned");
        let self_too = state
            .members
            .get(key)
            .and_then(|ms| ms.iter().find(|m| m.conn == conn))
            .is_some_and(|m| m.broadcast_self);
        let skip = if self_too { None } else { Some(conn) };
        send_to_members(&state, key, "broadcast", payload, skip);
    }
}

fn remove_member(state: &mut State, conn: u64, key: &str) -> bool {
    let topic = wire_topic(key);
    state
        .subscriptions
        .retain(|s| !(s.conn == conn && s.topic == topic));
    let Some(members) = state.members.get_mut(key) else {
        return false;
    };
    let before = members.len();
    members.retain(|m| m.conn != conn);
    let removed = members.len() != before;
    if members.is_empty() {
        state.members.remove(key);
    }
    removed
}

fn send_to_members(state: &State, key: &str, event: &str, payload: &Value, skip: Option<u64>) {
    for member in state.members.get(key).into_iter().flatten() {
        if Some(member.conn) != skip {
            member.outbox.send(
                member.join_ref.as_deref(),
                None,
                &member.topic,
                event,
                payload.clone(),
            );
        }
    }
}

fn presence_json(entries: Option<&ChannelPresence>) -> Value {
    let mut state: Map<String, Value> = Map::new();
    for (key, meta) in entries.into_iter().flat_map(|e| e.values()) {
        let slot = state
            .entry(key.clone())
            .or_insert_with(|| json!({"metas": []}));
        if let Some(metas) = slot.get_mut("metas").and_then(Value::as_array_mut) {
            metas.push(Value::Object(meta.clone()));
        }
    }
    Value::Object(state)
}
