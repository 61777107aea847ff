//! Realtime in the simulation: each device's leading tab holds a socket to a model of the
//! Realtime server speaking the Phoenix protocol (joins admitted by band membership,
//! heartbeats, leaves), which hands every committed row change to the sockets subscribed to
//! its band as a Broadcast from Database message. The faults: connects refused, sockets
//! dropped, changes lost (nothing is queued for a socket that is down, and a stream may lose
//! what it carried), duplicated and reordered frames.

use super::world::{Happening, World};
use rockon_sync_core::realtime::{Input as SocketInput, RoutedFrame, SocketId, Vsn};
use rockon_sync_core::sync::Input;
use rockon_sync_core::value::{json, Value};
use std::collections::BTreeSet;

/// A device's socket (its leading tab's) as the server sees it.
#[derive(Debug)]
pub struct SimSocket {
    /// The engine's id of it.
    pub id: SocketId,
    open: bool,
    /// Topics whose changes this socket receives.
    topics: BTreeSet<String>,
}

/// What happens to a socket.
#[derive(Debug)]
pub enum SocketHappening {
    /// The connection opened.
    Opened,
    /// A frame reaches the client.
    ToClient(String),
    /// A frame the client sent reaches the server.
    ToServer(String),
    /// The connection closed (refused, dropped or closed by the client).
    Closed,
}

impl World {
    fn socket_at(&mut self, delay: u64, tab: usize, socket: SocketId, event: SocketHappening) {
        let generation = self.tabs[tab].generation;
        let happening = Happening::Socket {
            tab,
            generation,
            socket,
            event,
        };
        self.at(delay, happening);
    }

    /// The tab's engine opens a socket: it opens, or (offline, or a refusal) closes at once.
    pub(super) fn socket_connect(&mut self, tab: usize, socket: SocketId) {
        let device = self.tabs[tab].device;
        self.devices[device].socket = Some(SimSocket {
            id: socket,
            open: false,
            topics: BTreeSet::new(),
        });
        let refused = !self.tabs[tab].online || self.chance(10);
        if refused {
            self.note(format!("tab {tab}: socket {} refused", socket.0));
        }
        let (delay, event) = match refused {
            true => (1 + self.rng.up_to(200), SocketHappening::Closed),
            false => (5 + self.rng.up_to(50), SocketHappening::Opened),
        };
        self.socket_at(delay, tab, socket, event);
    }

    /// The tab's engine closes its socket.
    pub(super) fn socket_close(&mut self, tab: usize, socket: SocketId) {
        let device = self.tabs[tab].device;
        if (self.devices[device].socket.as_ref()).is_some_and(|s| s.id == socket) {
            self.devices[device].socket = None;
        }
    }

    /// The tab's engine sends a frame: it reaches the server a little later.
    pub(super) fn socket_send(&mut self, tab: usize, socket: SocketId, text: String) {
        let delay = 1 + self.rng.up_to(30);
        self.socket_at(delay, tab, socket, SocketHappening::ToServer(text));
    }

    /// The device's socket drops (a fault, or its tab went offline): pending frames are lost.
    pub(super) fn drop_socket(&mut self, device: usize) {
        let socket = self.devices[device].socket.take();
        let (Some(socket), Some(tab)) = (socket, self.devices[device].leader) else {
            return;
        };
        self.note(format!("tab {tab}: socket {} dropped", socket.id.0));
        self.socket_at(1, tab, socket.id, SocketHappening::Closed);
    }

    /// Something happens to a socket of the tab's engine.
    pub(super) fn socket_happening(
        &mut self,
        tab: usize,
        socket: SocketId,
        event: SocketHappening,
    ) {
        let device = self.tabs[tab].device;
        let current = (self.devices[device].socket.as_mut()).filter(|s| s.id == socket);
        match event {
            SocketHappening::Opened => {
                let Some(current) = current else { return };
                current.open = true;
                self.tab_input(tab, Input::Socket(SocketInput::Opened(socket)));
            }
            SocketHappening::ToClient(text) => {
                if !current.is_some_and(|s| s.open) {
                    return;
                }
                // Devices of odd index read row changes as a browser does: the driver parses
                // the frame and holds the rows; the others hand the engine the text.
                let routed = (device % 2 == 1)
                    .then(|| RoutedFrame::route(&text, Vsn::V2))
                    .flatten();
                let input = match routed {
                    Some(frame) => SocketInput::Change {
                        socket,
                        frame: Box::new(frame),
                    },
                    None => SocketInput::Text {
                        socket,
                        text: &text,
                    },
                };
                self.tab_input(tab, Input::Socket(input));
            }
            SocketHappening::ToServer(text) => {
                if current.is_some_and(|s| s.open) {
                    self.serve_frame(tab, socket, &text);
                }
            }
            SocketHappening::Closed => {
                if current.is_some() {
                    self.devices[device].socket = None;
                }
                let closed = SocketInput::Closed {
                    socket,
                    code: 1006,
                    reason: "",
                };
                self.tab_input(tab, Input::Socket(closed));
            }
        }
    }

    /// The server's side of the protocol: joins (admitted by membership), leaves, heartbeats;
    /// any other push is acknowledged.
    fn serve_frame(&mut self, tab: usize, socket: SocketId, text: &str) {
        let device = self.tabs[tab].device;
        let Ok(Value::Array(frame)) = serde_json::from_str::<Value>(text) else {
            return;
        };
        let [join_ref, reference, topic, event, _payload] = &frame[..] else {
            return;
        };
        let topic = topic.as_str().unwrap_or_default().to_owned();
        let status = match event.as_str() {
            Some("phx_join") => {
                let user = &self.devices[device].user;
                let admitted = match topic.strip_prefix("realtime:band:") {
                    Some(band) => (self.server.members.get(band)).is_some_and(|m| m.contains(user)),
                    None => topic == format!("realtime:user:{user}"),
                };
                if admitted {
                    // Changes flow to the socket from the moment the server took the join.
                    if let Some(current) = self.devices[device].socket.as_mut() {
                        current.topics.insert(topic.clone());
                    }
                }
                let unauthorized = json!({ "reason": "Unauthorized" });
                admitted.then(|| json!({})).ok_or(unauthorized)
            }
            Some("phx_leave") => {
                if let Some(current) = self.devices[device].socket.as_mut() {
                    current.topics.remove(&topic);
                }
                Ok(json!({}))
            }
            _ => Ok(json!({})),
        };
        if reference.is_null() {
            return;
        }
        let payload = match status {
            Ok(response) => json!({ "status": "ok", "response": response }),
            Err(response) => json!({ "status": "error", "response": response }),
        };
        let reply = json!([join_ref, reference, topic, "phx_reply", payload]).to_string();
        let delay = 1 + self.rng.up_to(30);
        self.socket_at(delay, tab, socket, SocketHappening::ToClient(reply));
    }

    /// Hands the server's committed changes to the sockets subscribed to their bands, as
    /// Broadcast from Database messages: some are lost, some arrive twice, in any order.
    pub(super) fn broadcast_committed(&mut self) {
        for (table, operation, row) in std::mem::take(&mut self.server.committed) {
            let band = row
                .get("band_id")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let topic = format!("realtime:band:{band}");
            let message = json!({ "type": "broadcast", "event": operation, "payload": {
                "schema": "public", "table": table, "operation": operation, "record": row,
                "old_record": null } });
            let frame = json!([null, null, topic, "broadcast", message]).to_string();
            for device in 0..self.devices.len() {
                let listening = self.devices[device].socket.as_ref();
                let listening = listening.filter(|s| s.open && s.topics.contains(&topic));
                let (Some(socket), Some(tab)) =
                    (listening.map(|s| s.id), self.devices[device].leader)
                else {
                    continue;
                };
                if self.chance(8) {
                    self.faults += 1;
                    self.note(format!("tab {tab}: change lost by the stream"));
                    continue;
                }
                let copies = if self.chance(4) { 2 } else { 1 };
                for _ in 0..copies {
                    let delay = 5 + self.rng.up_to(80);
                    let event = SocketHappening::ToClient(frame.clone());
                    self.socket_at(delay, tab, socket, event);
                }
            }
        }
    }
}
