//! Carrying out what a tab's engine asks: storage on the device's store (which may refuse a
//! batch or a read), requests over a faulty network to the server model, the Realtime socket
//! (`realtime.rs`), events, replies and news for the other tabs.

use super::world::{Happening, World};
use rockon_sync_core::outbox::{HttpRequest, HttpResult};
use rockon_sync_core::realtime::{Event as RealtimeEvent, RealtimeConfig};
use rockon_sync_core::sync::{
    Event, Input, Op, Output, ReadCommand, ReadConfig, ReadEvent, ScheduleConfig, SocketAction,
    StoreError, StoreOp, Stored, TabNews, WriteEvent, WriteInput, WriteReply,
};

/// How the simulated read paths are tuned: polling after three failed connects, every five
/// seconds; anti-entropy every fifteen.
pub fn read_config() -> ReadConfig {
    ReadConfig {
        realtime: RealtimeConfig::new("ws://sim/realtime/v1", "anon"),
        schedule: ScheduleConfig {
            anti_entropy_ms: 15_000,
            poll_after_attempts: 3,
            poll_interval_ms: 5_000,
        },
        delivery: Default::default(),
        report_arrivals: false,
    }
}

impl World {
    /// Carries out what the tab's engine asks.
    pub(super) fn drain(&mut self, tab: usize) {
        while let Some(output) = self.tabs[tab].engine.poll_output() {
            self.carry_out(tab, output);
        }
    }

    fn carry_out(&mut self, tab: usize, output: Output) {
        let device = self.tabs[tab].device;
        let stored = match output {
            Output::Read { op, read } => match self.chance(1) {
                true => Stored::Read(Err(self.store_fault(tab, "cannot read"))),
                false => Stored::Read(Ok(self.devices[device].store.read(&read))),
            }
            .with(op),
            Output::Write { op, ops } => match self.chance(2) {
                true => Stored::Written(Err(self.store_fault(tab, "refuses a batch"))),
                false => {
                    self.withdraw(device, &ops);
                    Stored::Written(self.devices[device].store.write(&ops))
                }
            }
            .with(op),
            Output::Apply { op, batch } => match self.chance(2) {
                true => Stored::Applied(Err(self.store_fault(tab, "refuses server rows"))),
                false => Stored::Applied(self.devices[device].store.apply(&batch)),
            }
            .with(op),
            Output::Persist { op, .. } => Stored::Written(Ok(())).with(op),
            Output::Http { op, request } => return self.send(tab, op, request),
            Output::Socket(SocketAction::Connect { socket, .. }) => {
                return self.socket_connect(tab, socket)
            }
            Output::Socket(SocketAction::Send { socket, text }) => {
                return self.socket_send(tab, socket, text)
            }
            Output::Socket(SocketAction::Close { socket, .. }) => {
                return self.socket_close(tab, socket)
            }
            Output::Event(event) => return self.event(tab, event),
            Output::Tell(TabNews::Outbox) => return self.tell_leader(tab),
            Output::Tell(TabNews::Marks) => return,
            Output::Reply { command, result } => {
                let issued = self.tabs[tab].waiting.remove(&command);
                match (issued, result) {
                    (Some(index), Ok(WriteReply::Row(_))) => self.acknowledged(tab, index),
                    (_, Err(error)) => self.note(format!("tab {tab}: command refused: {error}")),
                    _ => {}
                }
                return;
            }
        };
        self.store_result(tab, stored);
    }

    /// A batch removes an entry the user asked to discard: its values, as stored, are
    /// withdrawn (a discarded creation takes the row's later edits folded into it along).
    fn withdraw(&mut self, device: usize, ops: &[StoreOp]) {
        for op in ops {
            let StoreOp::RemoveEntry(seq) = op else {
                continue;
            };
            let Some(at) = (self.discarding.iter()).position(|d| *d == (device, *seq)) else {
                continue;
            };
            self.discarding.swap_remove(at);
            if let Some(entry) = self.devices[device].store.outbox.get(seq) {
                let delete = entry.op == rockon_sync_core::outbox::Op::Delete;
                let withdrawn = (device, entry.row_id.clone(), delete, entry.fields.clone());
                self.withdrawn.push(withdrawn);
            }
        }
    }

    fn store_fault(&mut self, tab: usize, what: &str) -> StoreError {
        self.faults += 1;
        self.note(format!("tab {tab}: storage {what}"));
        StoreError::QuotaExceeded("simulated".into())
    }

    /// Storage answers reach the tab in order, a little later.
    fn store_result(&mut self, tab: usize, input: Input<'static>) {
        let generation = self.tabs[tab].generation;
        let at = (self.now + self.rng.up_to(2)).max(self.tabs[tab].store_ready_at);
        self.tabs[tab].store_ready_at = at;
        let delay = at - self.now;
        let happening = Happening::Input {
            tab,
            generation,
            input,
        };
        self.at(delay, happening);
    }

    /// Feeds the tab's engine later (if it was not reloaded meanwhile).
    pub(super) fn input_at(&mut self, delay: u64, tab: usize, input: Input<'static>) {
        let generation = self.tabs[tab].generation;
        let happening = Happening::Input {
            tab,
            generation,
            input,
        };
        self.at(delay, happening);
    }

    /// A tab that does not lead appended to the outbox: the leader takes it in (the shell's
    /// BroadcastChannel).
    fn tell_leader(&mut self, tab: usize) {
        let device = self.tabs[tab].device;
        if let Some(leader) = self.devices[device].leader.filter(|l| *l != tab) {
            self.input_at(1, leader, Input::Write(WriteInput::OutboxChanged));
        }
    }

    fn event(&mut self, tab: usize, event: Event) {
        match event {
            // The app refreshes the token.
            Event::Write(WriteEvent::NeedToken) => {
                let delay = 20 + self.rng.up_to(400);
                self.input_at(delay, tab, Input::Write(WriteInput::TokenRefreshed));
            }
            Event::Read(ReadEvent::Realtime(RealtimeEvent::NeedToken)) => {
                let delay = 20 + self.rng.up_to(400);
                let token = format!("token-{}", self.now);
                self.input_at(delay, tab, Input::Read(ReadCommand::SetToken(token)));
            }
            Event::Write(WriteEvent::Conflict(record)) => {
                let fields: Vec<_> = record.fields.iter().map(|f| &f.field).collect();
                let line = format!("tab {tab}: conflict on {} fields {fields:?}", record.row_id);
                self.note(line);
            }
            Event::Read(ReadEvent::Bands { joined, left, .. }) => {
                self.note(format!("tab {tab}: bands joined {joined:?} left {left:?}"));
            }
            _ => {}
        }
    }

    /// A request goes out: it may be dropped (the tab offline, or the network), or reach the
    /// server a little later.
    fn send(&mut self, tab: usize, op: Op, request: HttpRequest) {
        let body = request.body.as_deref().unwrap_or("");
        self.note(format!(
            "tab {tab}: {} {} {body}",
            request.method, request.path
        ));
        let online = self.tabs[tab].online;
        if !online || self.chance(4) {
            self.faults += u32::from(online);
            let result = HttpResult::NetworkError("unreachable".into());
            let delay = if online {
                100 + self.rng.up_to(2_000)
            } else {
                1
            };
            let input = Input::Http {
                op,
                result,
                total: None,
            };
            return self.input_at(delay, tab, input);
        }
        let generation = self.tabs[tab].generation;
        let latency = 1 + self.rng.up_to(40);
        let happening = Happening::Arrive {
            tab,
            generation,
            op,
            request,
        };
        self.at(latency, happening);
    }

    /// A request reaches the server (even from a tab reloaded since it was sent); its answer
    /// may fail, be lost after the commit, or (for the read path's reads) be unreadable.
    pub(super) fn arrive(&mut self, tab: usize, generation: u64, op: Op, request: HttpRequest) {
        let user = self.devices[self.tabs[tab].device].user.clone();
        let answer = |status: u16, body: &str| HttpResult::Response {
            status,
            body: body.into(),
        };
        let (result, total) = if self.chance(4) {
            self.faults += 1;
            (answer(503, r#"{"message":"unavailable"}"#), None)
        } else if self.chance(2) {
            self.faults += 1;
            (answer(401, r#"{"message":"JWT expired"}"#), None)
        } else if matches!(op, Op::Read(_)) && self.chance(2) {
            // An answer that cannot be read: never an empty result.
            self.faults += 1;
            (answer(200, "<html>bad gateway</html>"), None)
        } else {
            let answered = self.server.serve_counted(&user, &request);
            self.broadcast_committed();
            if self.chance(8) {
                self.faults += 1;
                self.note(format!(
                    "tab {tab}: answer lost after commit: {:?}",
                    answered.0
                ));
                (HttpResult::NetworkError("connection reset".into()), None)
            } else {
                answered
            }
        };
        self.note(format!("tab {tab}: answered {result:?}"));
        let delay = 1 + self.rng.up_to(40);
        let happening = Happening::Input {
            tab,
            generation,
            input: Input::Http { op, result, total },
        };
        self.at(delay, happening);
    }

    /// The final catch-up after everything settled: every leading tab pulls each band it
    /// follows once more, with the faults over.
    pub fn final_pull(&mut self) {
        for device in 0..self.devices.len() {
            let Some(tab) = self.devices[device].leader else {
                continue;
            };
            let bands: Vec<String> = self.tabs[tab].engine.reads().bands().to_vec();
            for band in bands {
                self.input_at(0, tab, Input::Read(ReadCommand::Pull(band)));
            }
        }
        self.run_queue();
    }
}

/// A storage result as the input that carries it.
trait With {
    fn with(self, op: Op) -> Input<'static>;
}

impl With for Stored {
    fn with(self, op: Op) -> Input<'static> {
        Input::Stored { op, result: self }
    }
}
