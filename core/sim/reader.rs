//! The read path in the simulation: each device's leading tab runs the shipped [`ReadEngine`]
//! on the device's store. Changes reach it over a simulated Realtime socket (`realtime.rs`)
//! that loses, duplicates and reorders them, and by its own catch-up pulls and memberships
//! reads through the same faulty network as the writes.

use super::realtime::SocketHappening;
use super::world::{Happening, World, FAULT_WINDOW_MS};
use rockon_sync_core::outbox::{HttpRequest, HttpResult};
use rockon_sync_core::realtime::{Input, RealtimeConfig};
use rockon_sync_core::sync::{
    MemoryStore, OpId, ReadCommand, ReadConfig, ReadEngine, ReadInput, ReadOutput, ScheduleConfig,
    StoreError,
};
use rockon_sync_core::Millis;

/// How the simulated readers are tuned: polling starts after three failed connects and runs
/// every five seconds; anti-entropy every fifteen.
fn config() -> ReadConfig {
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

/// Rows with writes in the device's outbox are the write path's (never overwritten).
fn local_edits(store: &MemoryStore) -> impl Fn(&str, &str) -> bool + '_ {
    move |table, id| (store.outbox.values()).any(|entry| entry.table == table && entry.row_id == id)
}

impl World {
    /// Opens a device's read path (again, after its leader reloaded): it follows the user's
    /// bands and starts connecting.
    pub(super) fn open_reader(&mut self, device: usize) {
        let seed = self.rng.next_u64();
        let reader = ReadEngine::new(config(), self.schema.clone(), seed);
        let state = &mut self.devices[device];
        state.reader = Some(reader);
        state.reader_generation += 1;
        // The old reader's socket went with its tab.
        state.socket = None;
        let user = state.user.clone();
        for command in [
            ReadCommand::SetToken(format!("token-{user}")),
            ReadCommand::FollowUser(user),
            ReadCommand::Connect,
        ] {
            self.reader_input(device, ReadInput::Command(command));
        }
    }

    /// Feeds the device's reader and carries out what it asks.
    pub(super) fn reader_input(&mut self, device: usize, input: ReadInput<'_>) {
        let super::world::Device { reader, store, .. } = &mut self.devices[device];
        let Some(reader) = reader.as_mut() else {
            return;
        };
        let result = reader.handle(Millis(self.now), input, &local_edits(store));
        if let Err(refused) = result {
            self.note(format!("device {device}: reader refused: {refused}"));
        }
        self.drain_reader(device);
    }

    /// The leading tab's network went or came back: the socket goes with it.
    pub(super) fn reader_online(&mut self, device: usize, online: bool) {
        if !online {
            if let Some(socket) = self.devices[device].socket.take() {
                let generation = self.devices[device].reader_generation;
                let event = SocketHappening::Closed;
                let happening = Happening::Socket {
                    device,
                    generation,
                    socket: socket.id,
                    event,
                };
                self.at(1, happening);
            }
        }
        let input = if online {
            Input::Online
        } else {
            Input::Offline
        };
        self.reader_input(device, ReadInput::Socket(input));
    }

    /// Fires the device's reader timer.
    pub(super) fn reader_timeout(&mut self, due: u64, device: usize) {
        self.now = self.now.max(due);
        let super::world::Device { reader, store, .. } = &mut self.devices[device];
        if let Some(reader) = reader.as_mut() {
            reader.handle_timeout(Millis(self.now), &local_edits(store));
        }
        self.drain_reader(device);
    }

    fn drain_reader(&mut self, device: usize) {
        loop {
            let state = &mut self.devices[device];
            let Some(output) = state.reader.as_mut().and_then(ReadEngine::poll_output) else {
                return;
            };
            let generation = state.reader_generation;
            let input = match output {
                ReadOutput::Read { op, read } => {
                    let result = match self.chance(1) {
                        true => Err(self.store_fault(device, "cannot read")),
                        false => Ok(self.devices[device].store.read(&read)),
                    };
                    ReadInput::Read { op, result }
                }
                ReadOutput::Apply { op, batch } => {
                    let result = match self.chance(2) {
                        true => Err(self.store_fault(device, "refuses a batch")),
                        false => self.devices[device].store.apply(&batch),
                    };
                    ReadInput::Applied { op, result }
                }
                ReadOutput::Http { op, request } => {
                    self.read_request(device, generation, op, request);
                    continue;
                }
                ReadOutput::Connect { socket, .. } => {
                    self.socket_connect(device, socket);
                    continue;
                }
                ReadOutput::Send { socket, text } => {
                    self.socket_send(device, socket, text);
                    continue;
                }
                ReadOutput::Close { socket, .. } => {
                    self.socket_close(device, socket);
                    continue;
                }
                ReadOutput::Event(_) => continue,
            };
            let delay = 1 + self.rng.up_to(3);
            self.at(
                delay,
                Happening::Read {
                    device,
                    generation,
                    input,
                },
            );
        }
    }

    fn store_fault(&mut self, device: usize, what: &str) -> StoreError {
        self.faults += 1;
        self.note(format!("device {device}: reader's storage {what}"));
        StoreError::Failed("simulated".into())
    }

    /// A read of the read path goes over the same network as the writes: dropped, failing,
    /// or answered by the server with the user's row security.
    fn read_request(&mut self, device: usize, generation: u64, op: OpId, request: HttpRequest) {
        let online = self.devices[device]
            .leader
            .is_some_and(|t| self.tabs[t].online);
        let (result, total) = if !online || self.chance(4) {
            self.faults += u32::from(online);
            (HttpResult::NetworkError("unreachable".into()), None)
        } else if self.chance(4) {
            self.faults += 1;
            let body = r#"{"message":"unavailable"}"#.to_owned();
            (HttpResult::Response { status: 503, body }, None)
        } else if self.chance(2) {
            // An answer that cannot be read: never an empty result.
            self.faults += 1;
            let body = "<html>bad gateway</html>".to_owned();
            (HttpResult::Response { status: 200, body }, None)
        } else {
            let user = self.devices[device].user.clone();
            self.server.serve_counted(&user, &request)
        };
        let delay = 2 + self.rng.up_to(60);
        let input = ReadInput::Http { op, result, total };
        self.at(
            delay,
            Happening::Read {
                device,
                generation,
                input,
            },
        );
    }

    /// The final catch-up after everything settled: every device's reader pulls each band it
    /// follows once more, with the faults over.
    pub fn final_pull(&mut self) {
        debug_assert!(self.now >= FAULT_WINDOW_MS);
        for device in 0..self.devices.len() {
            let bands: Vec<String> = match &self.devices[device].reader {
                Some(reader) => reader.bands().cloned().collect(),
                None => continue,
            };
            for band in bands {
                self.reader_input(device, ReadInput::Command(ReadCommand::Pull(band)));
            }
        }
        self.run_queue();
    }
}
