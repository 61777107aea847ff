//! The simulated world: devices (a user's profile: one store, several tabs, one leader), the
//! server, the network between them, and virtual time.

use super::realtime::{SimSocket, SocketHappening};
use super::server::Server;
use super::Settings;
use rockon_sync_core::merge::ConflictPolicy;
use rockon_sync_core::notify::NotifyConfig;
use rockon_sync_core::outbox::HttpRequest;
use rockon_sync_core::realtime::Input as SocketInput;
use rockon_sync_core::realtime::SocketId;
use rockon_sync_core::rng::SplitMix64;
use rockon_sync_core::schema::Schema;
use rockon_sync_core::sync::{
    ActivityEngine, CommandId, Engine, Input, MemoryStore, Op, ReadCommand, ReadEngine, ReadResult,
    StoreRead, WriteCommand, WriteEngine, WriteInput,
};
use rockon_sync_core::value::{json, Map, Value};
use rockon_sync_core::Millis;
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
    /// The leading tab's socket, as the Realtime server sees it.
    pub socket: Option<SimSocket>,
}

/// A tab: an engine on its device's store.
#[derive(Debug)]
pub struct Tab {
    /// Its device.
    pub device: usize,
    /// Its engine (a reload makes a new one).
    pub engine: Engine,
    pub(super) generation: u64,
    commands_left: u32,
    next_command: u64,
    pub(super) online: bool,
    /// Store results reach the tab in order: not before this time.
    pub(super) store_ready_at: u64,
    pub(super) waiting: BTreeMap<CommandId, usize>,
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
    /// The virtual millisecond the app issued it in.
    pub issued_ms: u64,
}

#[derive(Debug)]
pub(super) enum Happening {
    Input {
        tab: usize,
        generation: u64,
        input: Input<'static>,
    },
    Arrive {
        tab: usize,
        generation: u64,
        op: Op,
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
    Socket {
        tab: usize,
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
    /// Outbox entries the app discarded: (device, row id, a delete, the fields it set).
    pub withdrawn: Vec<(usize, String, bool, Map<String, Value>)>,
    /// Discards asked for and not yet stored: (device, entry).
    pub(super) discarding: Vec<(usize, u64)>,
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
            withdrawn: Vec::new(),
            discarding: Vec::new(),
            schema,
        };
        for device in [0, 0, 1, 2] {
            world.open_tab(device, None);
        }
        for device in 0..world.devices.len() {
            if settings.faults {
                for _ in 0..2 {
                    let at = world.rng.up_to(FAULT_WINDOW_MS);
                    world.at(at, Happening::DropSocket { device });
                }
            }
        }
        world
    }

    /// A tab's engine on its device's store: the outbox it holds, no marks yet.
    fn engine(&mut self, device: usize) -> Engine {
        let ReadResult::Outbox { entries, conflicts } =
            self.devices[device].store.read(&StoreRead::Outbox)
        else {
            unreachable!("an outbox read answers with the outbox")
        };
        let policy = ConflictPolicy::default();
        let schema = self.schema.clone();
        let seed = self.rng.next_u64();
        let writes = WriteEngine::new(schema.clone(), entries, conflicts, policy, None, seed);
        let reads = ReadEngine::new(super::outputs::read_config(), schema, seed.rotate_left(7));
        let user = &self.devices[device].user;
        let activity = ActivityEngine::new(user, NotifyConfig::default(), &[], &[], Vec::new());
        Engine::new(writes, reads, activity)
    }

    /// The tab leads: it pushes, and follows the user's bands live.
    fn lead(&mut self, tab: usize, delay: u64) {
        let user = self.devices[self.tabs[tab].device].user.clone();
        self.input_at(delay, tab, Input::Write(WriteInput::Leader(true)));
        for command in [
            ReadCommand::SetToken(format!("token-{user}")),
            ReadCommand::FollowUser(user),
            ReadCommand::Connect,
        ] {
            self.input_at(delay, tab, Input::Read(command));
        }
    }

    /// Feeds the tab's engine now and carries out what follows.
    pub(super) fn tab_input(&mut self, tab: usize, input: Input<'_>) {
        let wall = (EPOCH_MS + self.now) as f64;
        if let Err(refused) = self.tabs[tab].engine.handle(Millis(self.now), wall, input) {
            self.note(format!("tab {tab}: refused: {refused}"));
        }
        self.drain(tab);
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
            self.lead(tab, 0);
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
            let timer = (self.tabs.iter().enumerate())
                .filter_map(|(tab, t)| Some((t.engine.poll_timeout()?.0, tab)))
                .min();
            let next = self.queue.keys().next().copied();
            match (next, timer) {
                (Some((at, _)), Some((due, tab))) if due < at => self.fire_timer(due, tab),
                (None, Some((due, tab))) => self.fire_timer(due, tab),
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
        let wall = (EPOCH_MS + self.now) as f64;
        self.tabs[tab].engine.handle_timeout(Millis(self.now), wall);
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
                    self.tab_input(tab, input);
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
                let device = self.tabs[tab].device;
                if !online && self.devices[device].leader == Some(tab) {
                    self.drop_socket(device);
                }
                self.tab_input(tab, Input::Write(WriteInput::Online(online)));
                let network = if online {
                    SocketInput::Online
                } else {
                    SocketInput::Offline
                };
                self.tab_input(tab, Input::Socket(network));
            }
            Happening::Socket {
                tab,
                generation,
                socket,
                event,
            } => {
                if self.tabs[tab].generation == generation {
                    self.socket_happening(tab, socket, event);
                }
            }
            Happening::DropSocket { device } => {
                if self.chance(50) {
                    self.faults += 1;
                    self.drop_socket(device);
                }
            }
        }
    }

    /// The app was told a write succeeded.
    pub(super) fn acknowledged(&mut self, tab: usize, index: usize) {
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
        let device = self.tabs[tab].device;
        let leader = self.devices[device].leader.filter(|leader| *leader != tab);
        if let (WriteCommand::Retry { .. } | WriteCommand::Discard { .. }, Some(leader)) =
            (&command, leader)
        {
            // As the shell does: a tab that does not lead asks the leading tab to retry or
            // discard (its own copy of the outbox may be behind).
            let id = CommandId(self.tabs[leader].next_command);
            self.tabs[leader].next_command += 1;
            let wall_ms = EPOCH_MS + self.now;
            let input = WriteInput::Command {
                id,
                command,
                wall_ms,
            };
            return self.input_at(1, leader, Input::Write(input));
        }
        let id = CommandId(self.tabs[tab].next_command);
        self.tabs[tab].next_command += 1;
        if let Some(write) = issued {
            let device = self.tabs[tab].device;
            self.writes.push(Ack {
                device,
                write,
                acknowledged: false,
                acknowledged_as: 0,
                issued_ms: self.now,
            });
            self.tabs[tab].waiting.insert(id, self.writes.len() - 1);
        }
        let input = WriteInput::Command {
            id,
            command,
            wall_ms: EPOCH_MS + self.now,
        };
        self.tab_input(tab, Input::Write(input));
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
        let entries = self.tabs[tab].engine.writes().entries();
        let entries: Vec<(u64, bool)> = entries.map(|e| (e.seq, e.failed.is_some())).collect();
        if roll < 97 {
            let failed = entries.iter().find(|(_, failed)| *failed)?.0;
            return Some((WriteCommand::Retry { seq: failed }, None));
        }
        // The user gives up a write, failed or not (one being sent is refused). What it
        // withdraws is known when storage removes the entry (`outputs.rs`): edits made
        // meanwhile may have been folded into it.
        let at = self.rng.up_to(entries.len().checked_sub(1)? as u64) as usize;
        let seq = entries[at].0;
        self.note(format!("tab {tab}: discard {seq}"));
        self.discarding.push((device, seq));
        Some((WriteCommand::Discard { seq }, None))
    }

    /// The tab reloads: its engine goes (answers to it are lost), a new one opens on the store.
    /// A leader hands over to another tab of the device, if there is one.
    fn reload(&mut self, tab: usize) {
        let device = self.tabs[tab].device;
        self.note(format!("tab {tab}: reload"));
        if self.devices[device].leader == Some(tab) {
            // The socket goes with the tab; the next leader opens its own.
            self.devices[device].socket = None;
            let other = (0..self.tabs.len()).find(|t| *t != tab && self.tabs[*t].device == device);
            self.devices[device].leader = other;
            if let Some(other) = other {
                self.lead(other, 1);
            }
        }
        self.open_tab(device, Some(tab));
    }
}
