//! The simulated world: devices (a user's profile: one store, several tabs, one leader), the
//! server, the network between them, and virtual time.

use super::realtime::{SimSocket, SocketHappening};
use super::server::Server;
use super::Settings;
use rockon_sync_core::merge::ConflictPolicy;
use rockon_sync_core::outbox::{HttpRequest, HttpResult};
use rockon_sync_core::realtime::SocketId;
use rockon_sync_core::rng::SplitMix64;
use rockon_sync_core::schema::Schema;
use rockon_sync_core::sync::{
    ChangeSource, CommandId, MemoryStore, OpId, ReadEngine, ReadInput, ReadResult, StoreError,
    StoreRead, WriteCommand, WriteEngine, WriteEvent, WriteInput, WriteOutput, WriteReply,
};
use rockon_sync_core::Millis;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// Unix ms at the start of every schedule (sequence numbers come from the wall clock).
const EPOCH_MS: u64 = 1_790_000_000_000;
/// Faults happen in the first this many ms; then the world heals.
pub(super) const FAULT_WINDOW_MS: u64 = 5_000;
/// A schedule still busy after this many steps is stuck in a loop: a livelock is a failure too.
const MAX_STEPS: u32 = 200_000;
/// A schedule that has not settled this long after the faults stop has diverged.
pub const SETTLE_BOUND_MS: u64 = 60_000;

/// A user's browser profile: one store shared by its tabs, one of which leads.
#[derive(Debug)]
pub struct Device {
    /// The signed-in user.
    pub user: String,
    /// Bands the user is in.
    pub bands: Vec<String>,
    /// The profile's storage.
    pub store: MemoryStore,
    /// The tab that pushes.
    pub leader: Option<usize>,
    /// The leading tab's read path.
    pub reader: Option<ReadEngine>,
    /// Bumped when the reader is replaced: answers to the old one are dropped.
    pub reader_generation: u64,
    /// The reader's socket, as the Realtime server sees it.
    pub socket: Option<SimSocket>,
}

/// A tab: an engine on its device's store.
#[derive(Debug)]
pub struct Tab {
    /// Its device.
    pub device: usize,
    /// Its engine (a reload makes a new one).
    pub engine: WriteEngine,
    generation: u64,
    commands_left: u32,
    next_command: u64,
    pub(super) online: bool,
    /// Store results reach the tab in order: not before this time.
    store_ready_at: u64,
    waiting: BTreeMap<CommandId, usize>,
}

/// A timer: a tab's write engine or a device's reader.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Timer {
    Tab(usize),
    Reader(usize),
}

/// A command as issued, for the record when it is acknowledged.
#[derive(Debug, Clone)]
pub struct Issued {
    /// Wire table.
    pub table: String,
    /// Row id.
    pub id: String,
    /// `create`, `update` or `remove`.
    pub kind: &'static str,
    /// Wire fields set.
    pub fields: Map<String, Value>,
}

/// A write the app made, in the order made.
#[derive(Debug, Clone)]
pub struct Ack {
    /// The device it was made on.
    pub device: usize,
    /// The write.
    pub write: Issued,
    /// Whether the app was told it succeeded.
    pub acknowledged: bool,
    /// When it was (the order of acknowledgements: a command issued earlier may commit later,
    /// and the later commit is the later write).
    pub acknowledged_as: u64,
}

#[derive(Debug)]
pub(super) enum Happening {
    Input {
        tab: usize,
        generation: u64,
        input: WriteInput,
    },
    Arrive {
        tab: usize,
        generation: u64,
        op: OpId,
        request: HttpRequest,
    },
    Command {
        tab: usize,
    },
    Reload {
        tab: usize,
    },
    Online {
        tab: usize,
        online: bool,
    },
    Read {
        device: usize,
        generation: u64,
        input: ReadInput<'static>,
    },
    Socket {
        device: usize,
        generation: u64,
        socket: SocketId,
        event: SocketHappening,
    },
    DropSocket {
        device: usize,
    },
}

/// The world of one schedule.
pub struct World {
    /// The schedule's seed.
    pub seed: u64,
    settings: Settings,
    pub(super) rng: SplitMix64,
    /// Virtual time (ms since the start).
    pub now: u64,
    /// The server.
    pub server: Server,
    /// Devices.
    pub devices: Vec<Device>,
    /// Tabs.
    pub tabs: Vec<Tab>,
    queue: BTreeMap<(u64, u64), Happening>,
    sequence: u64,
    tokens: u64,
    /// What happened, for a failing schedule's report.
    pub trace: Vec<String>,
    /// Writes the app made, in order, and whether each was acknowledged.
    pub writes: Vec<Ack>,
    /// Faults injected.
    pub faults: u32,
    /// The schedule hit the step bound.
    pub livelocked: bool,
    pub(super) schema: Schema,
}

impl World {
    /// Alice has two tabs; Bob and Carol one each. Alice is in both bands, Bob in b1, Carol in
    /// b2, so Alice and Bob share b1's rows and Alice and Carol b2's.
    pub fn new(seed: u64, settings: Settings) -> Self {
        let mut rng = SplitMix64::new(seed);
        let members = BTreeMap::from([
            ("b1".to_owned(), vec!["alice".to_owned(), "bob".to_owned()]),
            (
                "b2".to_owned(),
                vec!["alice".to_owned(), "carol".to_owned()],
            ),
        ]);
        let mut server = Server::new(members, (EPOCH_MS * 1000) as i64);
        server.unconditional_updates = settings.unconditional_updates;
        let schema = Schema::rockon();
        let scopes: Vec<(String, String)> = schema
            .tables
            .iter()
            .map(|t| (t.name.clone(), t.scope.clone()))
            .collect();
        let device = |user: &str, bands: &[&str]| Device {
            user: user.into(),
            bands: bands.iter().map(|b| b.to_string()).collect(),
            store: MemoryStore::new(scopes.clone()),
            leader: None,
            reader: None,
            reader_generation: 0,
            socket: None,
        };
        let devices = vec![
            device("alice", &["b1", "b2"]),
            device("bob", &["b1"]),
            device("carol", &["b2"]),
        ];
        let mut world = World {
            seed,
            settings,
            rng: SplitMix64::new(rng.next_u64()),
            now: 0,
            server,
            devices,
            tabs: Vec::new(),
            queue: BTreeMap::new(),
            sequence: 0,
            tokens: 0,
            trace: Vec::new(),
            writes: Vec::new(),
            faults: 0,
            livelocked: false,
            schema,
        };
        for device in [0, 0, 1, 2] {
            world.open_tab(device, None);
        }
        for device in 0..world.devices.len() {
            world.open_reader(device);
            if settings.faults {
                for _ in 0..2 {
                    let at = world.rng.up_to(FAULT_WINDOW_MS);
                    world.at(at, Happening::DropSocket { device });
                }
            }
        }
        world
    }

    fn engine(&mut self, device: usize) -> WriteEngine {
        let ReadResult::Outbox { entries, conflicts } =
            self.devices[device].store.read(&StoreRead::Outbox)
        else {
            unreachable!("an outbox read answers with the outbox")
        };
        let policy = ConflictPolicy::default();
        WriteEngine::new(
            self.schema.clone(),
            entries,
            conflicts,
            policy,
            None,
            self.rng.next_u64(),
        )
    }

    /// Opens a tab (or reopens `reusing` after a reload); the device's first tab leads.
    fn open_tab(&mut self, device: usize, reusing: Option<usize>) {
        let engine = self.engine(device);
        let tab = match reusing {
            Some(tab) => {
                let old = &mut self.tabs[tab];
                old.engine = engine;
                old.generation += 1;
                old.waiting.clear();
                old.online = true;
                tab
            }
            None => {
                self.tabs.push(Tab {
                    device,
                    engine,
                    generation: 0,
                    commands_left: self.settings.commands_per_tab,
                    next_command: 1,
                    online: true,
                    store_ready_at: 0,
                    waiting: BTreeMap::new(),
                });
                let tab = self.tabs.len() - 1;
                let first = self.rng.up_to(300);
                self.at(first, Happening::Command { tab });
                tab
            }
        };
        if self.devices[device].leader.is_none() {
            self.devices[device].leader = Some(tab);
            let generation = self.tabs[tab].generation;
            self.at(
                0,
                Happening::Input {
                    tab,
                    generation,
                    input: WriteInput::Leader(true),
                },
            );
        }
    }

    pub(super) fn at(&mut self, delay: u64, happening: Happening) {
        self.sequence += 1;
        self.queue
            .insert((self.now + delay, self.sequence), happening);
    }

    pub(super) fn chance(&mut self, percent: u64) -> bool {
        self.settings.faults && self.now < FAULT_WINDOW_MS && self.rng.up_to(99) < percent
    }

    pub(super) fn note(&mut self, line: String) {
        self.trace.push(format!("{:>6}ms {line}", self.now));
    }

    /// Runs until nothing is left to happen, or until the settle bound after the faults stop
    /// (the leaders' periodic rescans never stop on their own).
    pub fn run(&mut self) {
        for _ in 0..MAX_STEPS {
            let tabs = (self.tabs.iter().enumerate())
                .filter_map(|(tab, t)| Some((t.engine.poll_timeout()?.0, Timer::Tab(tab))));
            let readers = (self.devices.iter().enumerate()).filter_map(|(device, d)| {
                Some((d.reader.as_ref()?.poll_timeout()?.0, Timer::Reader(device)))
            });
            let timer = tabs.chain(readers).min();
            let next = self.queue.keys().next().copied();
            match (next, timer) {
                (Some((at, _)), Some((due, timer))) if due < at => self.fire(due, timer),
                (None, Some((due, timer))) => self.fire(due, timer),
                (Some(key), _) => {
                    let happening = self.queue.remove(&key).expect("listed");
                    self.now = self.now.max(key.0);
                    self.happen(happening);
                }
                (None, None) => return,
            }
            if self.now > FAULT_WINDOW_MS + SETTLE_BOUND_MS {
                return;
            }
        }
        self.livelocked = true;
    }

    fn fire(&mut self, due: u64, timer: Timer) {
        match timer {
            Timer::Tab(tab) => self.fire_timer(due, tab),
            Timer::Reader(device) => self.reader_timeout(due, device),
        }
    }

    /// Carries out what is queued, without firing timers: the last answers come in.
    pub(super) fn run_queue(&mut self) {
        for _ in 0..MAX_STEPS {
            let Some((key, happening)) = self.queue.pop_first() else {
                return;
            };
            self.now = self.now.max(key.0);
            self.happen(happening);
        }
        self.livelocked = true;
    }

    fn fire_timer(&mut self, due: u64, tab: usize) {
        self.now = self.now.max(due);
        self.tabs[tab].engine.handle_timeout(Millis(self.now));
        self.drain(tab);
    }

    fn happen(&mut self, happening: Happening) {
        match happening {
            Happening::Input {
                tab,
                generation,
                input,
            } => {
                if self.tabs[tab].generation == generation {
                    self.tabs[tab].engine.handle(input, Millis(self.now));
                    self.drain(tab);
                }
            }
            Happening::Arrive {
                tab,
                generation,
                op,
                request,
            } => self.arrive(tab, generation, op, request),
            Happening::Command { tab } => self.command(tab),
            Happening::Reload { tab } => self.reload(tab),
            Happening::Online { tab, online } => {
                self.tabs[tab].online = online;
                self.tabs[tab]
                    .engine
                    .handle(WriteInput::Online(online), Millis(self.now));
                self.drain(tab);
                let device = self.tabs[tab].device;
                if self.devices[device].leader == Some(tab) {
                    self.reader_online(device, online);
                }
            }
            Happening::Read {
                device,
                generation,
                input,
            } => {
                if self.devices[device].reader_generation == generation {
                    self.reader_input(device, input);
                }
            }
            Happening::Socket {
                device,
                generation,
                socket,
                event,
            } => {
                if self.devices[device].reader_generation == generation {
                    self.socket_happening(device, socket, event);
                }
            }
            Happening::DropSocket { device } => {
                if self.chance(50) {
                    self.drop_socket(device);
                }
            }
        }
    }

    /// Carries out what the tab's engine asks.
    fn drain(&mut self, tab: usize) {
        while let Some(output) = self.tabs[tab].engine.poll_output() {
            self.carry_out(tab, output);
        }
    }

    fn carry_out(&mut self, tab: usize, output: WriteOutput) {
        let device = self.tabs[tab].device;
        let generation = self.tabs[tab].generation;
        match output {
            WriteOutput::Read { op, read } => {
                let result = if self.chance(1) {
                    self.faults += 1;
                    self.note(format!("tab {tab}: storage cannot read ({})", op.0));
                    Err(StoreError::Closed("simulated".into()))
                } else {
                    Ok(self.devices[device].store.read(&read))
                };
                self.store_result(tab, WriteInput::Read { op, result });
            }
            WriteOutput::Write { op, ops } => {
                let result = if self.chance(2) {
                    self.faults += 1;
                    self.note(format!("tab {tab}: storage refuses batch {}", op.0));
                    Err(StoreError::QuotaExceeded("simulated".into()))
                } else {
                    self.devices[device].store.write(&ops)
                };
                self.store_result(tab, WriteInput::Written { op, result });
            }
            WriteOutput::Http { op, request } => self.send(tab, generation, op, request),
            WriteOutput::Event(event) => self.event(tab, event),
            WriteOutput::Reply { command, result } => {
                let issued = self.tabs[tab].waiting.remove(&command);
                match (issued, result) {
                    (Some(index), Ok(WriteReply::Row(_))) => {
                        let write = &self.writes[index].write;
                        let line = format!(
                            "tab {tab}: acknowledged {} {} {:?}",
                            write.kind, write.id, write.fields
                        );
                        self.note(line);
                        self.writes[index].acknowledged = true;
                        self.sequence += 1;
                        self.writes[index].acknowledged_as = self.sequence;
                    }
                    (_, Err(error)) => self.note(format!("tab {tab}: command refused: {error}")),
                    _ => {}
                }
            }
        }
    }

    fn store_result(&mut self, tab: usize, input: WriteInput) {
        let generation = self.tabs[tab].generation;
        let at = (self.now + self.rng.up_to(2)).max(self.tabs[tab].store_ready_at);
        self.tabs[tab].store_ready_at = at;
        let delay = at - self.now;
        self.at(
            delay,
            Happening::Input {
                tab,
                generation,
                input,
            },
        );
    }

    fn event(&mut self, tab: usize, event: WriteEvent) {
        let device = self.tabs[tab].device;
        match event {
            WriteEvent::Change(change) if change.source == ChangeSource::Local => {
                // A follower tells the leader it appended (the shell's BroadcastChannel).
                if let Some(leader) = self.devices[device].leader.filter(|l| *l != tab) {
                    let generation = self.tabs[leader].generation;
                    let input = WriteInput::OutboxChanged;
                    self.at(
                        1,
                        Happening::Input {
                            tab: leader,
                            generation,
                            input,
                        },
                    );
                }
            }
            WriteEvent::NeedToken => {
                // The app refreshes the token.
                let generation = self.tabs[tab].generation;
                let delay = 20 + self.rng.up_to(400);
                let input = WriteInput::TokenRefreshed;
                self.at(
                    delay,
                    Happening::Input {
                        tab,
                        generation,
                        input,
                    },
                );
            }
            WriteEvent::Conflict(record) => {
                self.note(format!(
                    "tab {tab}: conflict on {} fields {:?}",
                    record.row_id,
                    record.fields.iter().map(|f| &f.field).collect::<Vec<_>>()
                ));
            }
            _ => {}
        }
    }

    fn send(&mut self, tab: usize, generation: u64, op: OpId, request: HttpRequest) {
        self.note(format!(
            "tab {tab}: {} {} {}",
            request.method,
            request.path,
            request.body.as_deref().unwrap_or("")
        ));
        let latency = 1 + self.rng.up_to(40);
        if !self.tabs[tab].online || self.chance(4) {
            self.faults += u32::from(self.tabs[tab].online);
            let input = WriteInput::Http {
                op,
                result: HttpResult::NetworkError("unreachable".into()),
            };
            let delay = if self.tabs[tab].online {
                100 + self.rng.up_to(2_000)
            } else {
                1
            };
            return self.at(
                delay,
                Happening::Input {
                    tab,
                    generation,
                    input,
                },
            );
        }
        self.at(
            latency,
            Happening::Arrive {
                tab,
                generation,
                op,
                request,
            },
        );
    }

    /// A request reaches the server (even from a tab reloaded since it was sent).
    fn arrive(&mut self, tab: usize, generation: u64, op: OpId, request: HttpRequest) {
        let user = self.devices[self.tabs[tab].device].user.clone();
        let result = if self.chance(4) {
            self.faults += 1;
            HttpResult::Response {
                status: 503,
                body: r#"{"message":"unavailable"}"#.into(),
            }
        } else if self.chance(2) {
            self.faults += 1;
            HttpResult::Response {
                status: 401,
                body: r#"{"message":"JWT expired"}"#.into(),
            }
        } else {
            let answer = self.server.serve(&user, &request);
            self.broadcast_committed();
            if self.chance(8) {
                self.faults += 1;
                self.note(format!("tab {tab}: answer lost after commit: {answer:?}"));
                HttpResult::NetworkError("connection reset".into())
            } else {
                answer
            }
        };
        self.note(format!("tab {tab}: answered {result:?}"));
        let delay = 1 + self.rng.up_to(40);
        self.at(
            delay,
            Happening::Input {
                tab,
                generation,
                input: WriteInput::Http { op, result },
            },
        );
    }

    fn command(&mut self, tab: usize) {
        if self.tabs[tab].commands_left == 0 {
            return;
        }
        self.tabs[tab].commands_left -= 1;
        let gap = 5 + self.rng.up_to(400);
        self.at(gap, Happening::Command { tab });
        if self.chance(3) {
            self.faults += 1;
            let delay = self.rng.up_to(50);
            self.at(delay, Happening::Reload { tab });
        }
        if self.chance(3) {
            self.faults += 1;
            self.at(0, Happening::Online { tab, online: false });
            let back = 200 + self.rng.up_to(3_000);
            self.at(back, Happening::Online { tab, online: true });
        }
        let Some((command, issued)) = self.pick_command(tab) else {
            return;
        };
        let id = CommandId(self.tabs[tab].next_command);
        self.tabs[tab].next_command += 1;
        if let Some(write) = issued {
            let device = self.tabs[tab].device;
            self.writes.push(Ack {
                device,
                write,
                acknowledged: false,
                acknowledged_as: 0,
            });
            self.tabs[tab].waiting.insert(id, self.writes.len() - 1);
        }
        let input = WriteInput::Command {
            id,
            command,
            wall_ms: EPOCH_MS + self.now,
        };
        self.tabs[tab].engine.handle(input, Millis(self.now));
        self.drain(tab);
    }

    fn token(&mut self, tab: usize) -> String {
        self.tokens += 1;
        format!("t{tab}-{}", self.tokens)
    }

    /// A create, an edit of a live row the device holds, a delete, or a retry of a failed write.
    fn pick_command(&mut self, tab: usize) -> Option<(WriteCommand, Option<Issued>)> {
        let device = self.tabs[tab].device;
        let roll = self.rng.up_to(99);
        let live: Vec<String> = self.devices[device]
            .store
            .rows
            .get("songs")
            .map(|rows| {
                rows.iter()
                    .filter(|(_, row)| row.get("deleted_at").is_none_or(Value::is_null))
                    .map(|(id, _)| id.clone())
                    .collect()
            })
            .unwrap_or_default();
        if roll < 30 || live.is_empty() {
            let bands = self.devices[device].bands.clone();
            let band = bands[self.rng.up_to(bands.len() as u64 - 1) as usize].clone();
            let title = self.token(tab);
            let id = format!("s{}", self.tokens);
            let values = json!({ "bandId": band, "title": title });
            let values = values.as_object().cloned().unwrap_or_default();
            let fields = json!({ "id": id, "band_id": band, "title": title });
            let issued = Issued {
                table: "songs".into(),
                id: id.clone(),
                kind: "create",
                fields: fields.as_object().cloned().unwrap_or_default(),
            };
            let command = WriteCommand::Create {
                table: "songs".into(),
                values,
                new_id: id,
            };
            return Some((command, Some(issued)));
        }
        let id = live[self.rng.up_to(live.len() as u64 - 1) as usize].clone();
        if roll < 88 {
            let field = if self.rng.up_to(1) == 0 {
                "title"
            } else {
                "notes"
            };
            let value = self.token(tab);
            let patch = Map::from_iter([(field.to_owned(), Value::String(value.clone()))]);
            let issued = Issued {
                table: "songs".into(),
                id: id.clone(),
                kind: "update",
                fields: patch.clone(),
            };
            let command = WriteCommand::Update {
                table: "songs".into(),
                id,
                patch,
            };
            return Some((command, Some(issued)));
        }
        if roll < 94 {
            let issued = Issued {
                table: "songs".into(),
                id: id.clone(),
                kind: "remove",
                fields: Map::new(),
            };
            return Some((
                WriteCommand::Remove {
                    table: "songs".into(),
                    id,
                },
                Some(issued),
            ));
        }
        let failed = self.tabs[tab]
            .engine
            .entries()
            .find(|e| e.failed.is_some())
            .map(|e| e.seq)?;
        Some((WriteCommand::Retry { seq: failed }, None))
    }

    /// The tab reloads: its engine goes (answers to it are lost), a new one opens on the store.
    /// A leader hands over to another tab of the device, if there is one.
    fn reload(&mut self, tab: usize) {
        let device = self.tabs[tab].device;
        self.note(format!("tab {tab}: reload"));
        let led = self.devices[device].leader == Some(tab);
        if led {
            let other = (0..self.tabs.len()).find(|t| *t != tab && self.tabs[*t].device == device);
            self.devices[device].leader = other;
            if let Some(other) = other {
                let generation = self.tabs[other].generation;
                self.at(
                    1,
                    Happening::Input {
                        tab: other,
                        generation,
                        input: WriteInput::Leader(true),
                    },
                );
            }
        }
        self.open_tab(device, Some(tab));
        if led {
            // The read path goes with the tab; the next leader's starts on the same store.
            self.open_reader(device);
        }
    }
}
