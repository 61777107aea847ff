//! The read engine: band channels on the Realtime socket, remote changes applied in one
//! storage batch per burst, catch-up pulls from saved cursors whenever changes may have been
//! missed, the user's memberships, and presence.
//!
//! Driven like [`WriteEngine`](super::WriteEngine): feed a [`ReadInput`] (a command, a socket
//! event, a storage or HTTP result) with [`ReadEngine::handle`], carry out every
//! [`ReadOutput`] from [`ReadEngine::poll_output`], and call [`ReadEngine::handle_timeout`] at
//! [`ReadEngine::poll_timeout`]. It owns the [`Realtime`] engine, so the driver has one timer
//! and one socket.
//!
//! Rows with local edits are never overwritten: their pending push is conditional on its base
//! version and meets the server's change as a conflict. Which rows have them is the write
//! path's knowledge, asked through [`LocalEdits`] on every input.

use super::catchup_schedule::{CatchUpSchedule, Due, ScheduleConfig};
use super::events::RowsChanged;
use super::store::{ApplyBatch, ReadResult, StoreError, StoreRead};
use super::OpId;
use crate::catchup::PullProgress;
use crate::json_text::{ObjectWriter, WriteJson};
use crate::outbox::{HttpRequest, HttpResult};
use crate::realtime::{
    ChannelConfig, ChannelState, ConnectionState, Event, Input, Output, PostgresBinding, Realtime,
    RealtimeConfig, SocketId,
};
use crate::schema::Schema;
use crate::sorted::{SortedMap, SortedSet};
use crate::unread::ObservedRow;
use crate::value::Value;
use crate::Millis;
use std::collections::VecDeque;

mod changes;
mod memberships;
mod presence;
mod pull;
pub use changes::BATCH_CHANGES;
pub use presence::{band_of, topic_of, EditedRow, Member};

/// Whether a row has local edits waiting in the outbox (those are never overwritten).
pub trait LocalEdits {
    /// Row `id` of wire table `table` has local edits.
    fn has_local_edits(&self, table: &str, id: &str) -> bool;
}

impl<F: Fn(&str, &str) -> bool> LocalEdits for F {
    fn has_local_edits(&self, table: &str, id: &str) -> bool {
        self(table, id)
    }
}

/// How other members' changes reach the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ChangeDelivery {
    /// Broadcast from Database (migration 0004's triggers): one private topic per band and one
    /// per user, admitted by the `realtime.messages` policies once per join. The server does
    /// no work per subscriber and change, so it scales with the number of people online.
    #[default]
    Broadcast,
    /// `postgres_changes`: a binding per table on the band channel and one on the user's
    /// memberships; the server checks every change against every subscriber's row security.
    PostgresChanges,
}

impl ChangeDelivery {
    /// Every way, by its name in the options.
    pub const NAMED: [(&'static str, ChangeDelivery); 2] = [
        ("broadcast", ChangeDelivery::Broadcast),
        ("postgres_changes", ChangeDelivery::PostgresChanges),
    ];
}

/// How the read engine is set up.
#[derive(Debug, Clone)]
pub struct ReadConfig {
    /// The socket.
    pub realtime: RealtimeConfig,
    /// Anti-entropy, polling and memberships retries.
    pub schedule: ScheduleConfig,
    /// How changes arrive.
    pub delivery: ChangeDelivery,
    /// Tell each change's commit time ([`ReadEvent::Arrived`]), for a latency panel.
    pub report_arrivals: bool,
}

/// What the app asks of the read path.
#[derive(Debug, Clone, PartialEq)]
pub enum ReadCommand {
    /// Open the socket (with the token set before).
    Connect,
    /// A new access token for the socket (pulls use the driver's current one).
    SetToken(String),
    /// Follow exactly the user's bands, as their memberships say, now and from now on.
    FollowUser(String),
    /// Follow one band.
    FollowBand(String),
    /// Pull a band's tables now.
    Pull(String),
    /// Show `meta` (what the user is viewing or editing) to the band's members online.
    SetPresence {
        /// The band.
        band: String,
        /// The app's meta.
        meta: Value,
    },
    /// Reconnect now (after a failure or during a backoff).
    Retry,
    /// Close the socket and stop for good.
    Close,
}

/// An input to the read engine.
#[derive(Debug, Clone, PartialEq)]
pub enum ReadInput<'a> {
    /// An app command.
    Command(ReadCommand),
    /// A socket event, or the network or the page's visibility changed.
    Socket(Input<'a>),
    /// The answer to a [`ReadOutput::Read`].
    Read {
        /// The read's id.
        op: OpId,
        /// What was read.
        result: Result<ReadResult, StoreError>,
    },
    /// The answer to a [`ReadOutput::Apply`]: the ids of the rows written.
    Applied {
        /// The batch's id.
        op: OpId,
        /// Rows written, or why nothing was.
        result: Result<Vec<String>, StoreError>,
    },
    /// The answer to a [`ReadOutput::Http`], with the `Content-Range` total when counted.
    Http {
        /// The request's id.
        op: OpId,
        /// The answer.
        result: HttpResult,
        /// The total the server counted (`Prefer: count=exact`).
        total: Option<u64>,
    },
}

/// What the driver does with the socket: the Realtime engine's socket outputs.
#[derive(Debug, Clone, PartialEq)]
pub enum SocketAction {
    /// Open a WebSocket to `url`, reporting its events with `socket`.
    Connect {
        /// Which socket.
        socket: SocketId,
        /// Where.
        url: String,
    },
    /// Send a text frame.
    Send {
        /// Which socket.
        socket: SocketId,
        /// The frame.
        text: String,
    },
    /// Close a socket.
    Close {
        /// Which socket.
        socket: SocketId,
        /// Close code.
        code: u16,
        /// Close reason.
        reason: String,
    },
}

/// What the read engine asks of its driver.
#[derive(Debug, Clone, PartialEq)]
pub enum ReadOutput {
    /// Open, write to or close the socket.
    Socket(SocketAction),
    /// Read storage; answer with [`ReadInput::Read`].
    Read {
        /// The read's id.
        op: OpId,
        /// What to read.
        read: StoreRead,
    },
    /// Apply server data in one transaction; answer with [`ReadInput::Applied`].
    Apply {
        /// The batch's id.
        op: OpId,
        /// The data.
        batch: ApplyBatch,
    },
    /// Send a request with the user's token; answer with [`ReadInput::Http`].
    Http {
        /// The request's id.
        op: OpId,
        /// The request.
        request: HttpRequest,
    },
    /// Tell the app.
    Event(ReadEvent),
}

/// What the read path tells the app.
#[derive(Debug, Clone, PartialEq)]
pub enum ReadEvent {
    /// Rows changed by others (`remote`) or found by a catch-up pull (`pull`).
    Change(RowsChanged),
    /// Who changed which rows how, for unread marks and notifications. `quiet` for a band's
    /// first download, which is neither unread nor news.
    Observed {
        /// The rows written or deleted.
        rows: Vec<ObservedRow>,
        /// A first download.
        quiet: bool,
    },
    /// The user's bands changed (joined or created elsewhere, left or removed).
    Bands {
        /// Bands now followed.
        joined: Vec<String>,
        /// Bands no longer reachable: their local data must go.
        left: Vec<String>,
        /// All bands followed now.
        current: Vec<String>,
    },
    /// Connection, channel and protocol news from the Realtime engine.
    Realtime(Event),
    /// Who of a band is online now.
    Presence {
        /// The band.
        band: String,
        /// Its members online.
        members: Vec<Member>,
    },
    /// How far a band's catch-up pull has come; `finished` once every table was read.
    Progress {
        /// The band.
        band: String,
        /// Rows read of rows expected.
        progress: PullProgress,
        /// The pull is over.
        finished: bool,
    },
    /// Every table of a band was read to its end and applied: the band is as the server had
    /// it (the driver records the time for `lastSyncedAt`).
    Synced {
        /// The band.
        band: String,
    },
    /// A change committed on the server at this time (µs since the epoch) arrived.
    Arrived {
        /// The commit time.
        commit_micros: i64,
    },
    /// A failure while applying or pulling.
    Error {
        /// Stable code.
        code: &'static str,
        /// Message.
        message: String,
    },
}

/// What the app can show about the connection (the dashboard's connection panel).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ConnectionInfo {
    /// `disconnected`, `connecting`, `connected`, `reconnecting`, `offline` or `error`.
    pub state: String,
    /// The last heartbeat round trip.
    pub latency_ms: Option<u64>,
    /// Reconnect attempts since the client opened.
    pub reconnects: u32,
    /// The last connection or channel error.
    pub last_error: Option<String>,
    /// Whether REST polling stands in for the socket.
    pub polling: bool,
    /// Bands followed.
    pub bands: Vec<String>,
    /// When the server last confirmed this client's state (epoch ms), kept by the driver.
    pub last_synced_at: Option<f64>,
    /// Bands whose catch-up pull is running, with rows read of rows expected.
    pub progress: SortedMap<String, PullProgress>,
}

impl WriteJson for ConnectionInfo {
    fn write_json(&self, out: &mut String) {
        ObjectWriter::new(out)
            .field("state", &self.state)
            .field("latencyMs", &self.latency_ms)
            .field("reconnects", &self.reconnects)
            .field("lastError", &self.last_error)
            .field("polling", &self.polling)
            .field("bands", &self.bands)
            .field("lastSyncedAt", &self.last_synced_at)
            .field("progress", &self.progress)
            .end();
    }
}

/// What an operation the engine asked for is for.
#[derive(Debug)]
enum Waiting {
    Pull(String),
    Changes(changes::Applying),
    Memberships,
    Fetch {
        table: String,
        id: String,
    },
    Fetched {
        table: String,
        scope: String,
    },
    /// A row read again that the server does not have (or no longer shows this user).
    Gone {
        table: String,
        id: String,
        scope: String,
    },
}

/// The read path of one client.
#[derive(Debug)]
pub struct ReadEngine {
    schema: Schema,
    delivery: ChangeDelivery,
    report_arrivals: bool,
    realtime: Realtime,
    schedule: CatchUpSchedule,
    presence: presence::Presence,
    presence_due: Option<Millis>,
    user: Option<String>,
    bands: SortedSet<String>,
    info: ConnectionInfo,
    pulls: SortedMap<String, pull::BandPull>,
    changes: changes::Changes,
    memberships: memberships::Memberships,
    waiting: SortedMap<OpId, Waiting>,
    /// Rows (table, id, band) read again because their local edits were given up, until the
    /// server answers: a failed read is asked again with the pulls' retries.
    refetching: Vec<(String, String, String)>,
    next_op: u64,
    outputs: VecDeque<ReadOutput>,
    closed: bool,
}

impl ReadEngine {
    /// An engine for `schema`'s tables; nothing happens until commands arrive. `seed` drives
    /// the jitter of reconnects and anti-entropy pulls.
    pub fn new(config: ReadConfig, schema: Schema, seed: u64) -> Self {
        Self {
            schema,
            delivery: config.delivery,
            report_arrivals: config.report_arrivals,
            realtime: Realtime::new(config.realtime, seed),
            schedule: CatchUpSchedule::new(config.schedule, seed.rotate_left(17)),
            presence: presence::Presence::default(),
            presence_due: None,
            user: None,
            bands: SortedSet::new(),
            info: ConnectionInfo {
                state: "disconnected".into(),
                ..ConnectionInfo::default()
            },
            pulls: SortedMap::new(),
            changes: changes::Changes::default(),
            memberships: memberships::Memberships::default(),
            waiting: SortedMap::new(),
            refetching: Vec::new(),
            next_op: 0,
            outputs: VecDeque::new(),
            closed: false,
        }
    }

    /// Takes in `input` at `now`. A command that cannot be carried out (a channel refused)
    /// is an error; nothing else is.
    pub fn handle(
        &mut self,
        now: Millis,
        input: ReadInput<'_>,
        local: &dyn LocalEdits,
    ) -> Result<(), String> {
        if self.closed {
            return Ok(());
        }
        let mut result = Ok(());
        match input {
            ReadInput::Command(command) => result = self.command(now, command),
            ReadInput::Socket(input) => {
                match input {
                    Input::Visible => self.schedule.set_visible(true),
                    Input::Hidden => self.schedule.set_visible(false),
                    _ => {}
                }
                self.realtime.handle_input(now, input);
            }
            ReadInput::Read { op, result } => {
                if let Some(Waiting::Pull(band)) = self.waiting.remove(&op) {
                    self.pull_read(&band, result);
                }
            }
            ReadInput::Applied { op, result } => self.applied(op, result),
            ReadInput::Http { op, result, total } => self.answered(now, op, result, total, local),
        }
        self.drain_realtime(now, local);
        result
    }

    fn command(&mut self, now: Millis, command: ReadCommand) -> Result<(), String> {
        match command {
            ReadCommand::Connect => self.realtime.connect(now),
            ReadCommand::SetToken(token) => self.realtime.set_token(now, token),
            ReadCommand::FollowUser(user) => return self.follow_user(now, user),
            ReadCommand::FollowBand(band) => return self.follow_band(now, &band),
            ReadCommand::Pull(band) => self.start_pull(band),
            ReadCommand::SetPresence { band, meta } => {
                self.presence.want(&band, meta);
                self.flush_presence(now);
            }
            ReadCommand::Retry => self.realtime.retry(now),
            ReadCommand::Close => {
                self.realtime.disconnect(now);
                // The socket's close goes out; then nothing more.
                while let Some(output) = self.realtime.poll_output() {
                    if let Some(output) = socket_output(output) {
                        self.outputs.push_back(output);
                    }
                }
                self.closed = true;
            }
        }
        Ok(())
    }

    /// Calls due timers (socket heartbeats and reconnects, the catch-up schedule, held-back
    /// presence).
    pub fn handle_timeout(&mut self, now: Millis, local: &dyn LocalEdits) {
        if self.closed {
            return;
        }
        if self.realtime.poll_timeout().is_some_and(|at| at <= now) {
            self.realtime.handle_timeout(now);
        }
        let dues = self.schedule.handle_timeout(now);
        self.carry_out(now, &dues);
        if self.presence_due.is_some_and(|at| at <= now) {
            self.flush_presence(now);
        }
        self.drain_realtime(now, local);
    }

    /// The next thing to carry out.
    pub fn poll_output(&mut self) -> Option<ReadOutput> {
        self.outputs.pop_front()
    }

    /// When [`handle_timeout`](Self::handle_timeout) is due next.
    pub fn poll_timeout(&self) -> Option<Millis> {
        if self.closed {
            return None;
        }
        [
            self.realtime.poll_timeout(),
            self.schedule.poll_timeout(),
            self.presence_due,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// The connection as the app shows it (`last_synced_at` is the driver's).
    pub fn info(&self) -> ConnectionInfo {
        let mut info = self.info.clone();
        info.polling = self.schedule.is_polling();
        info.bands = self.bands.to_vec();
        info
    }

    /// The socket's settings.
    pub fn realtime_config(&self) -> &RealtimeConfig {
        self.realtime.config()
    }

    /// The bands followed.
    pub fn bands(&self) -> &SortedSet<String> {
        &self.bands
    }

    /// The band's members online now.
    pub fn members(&self, band: &str) -> Vec<Member> {
        self.presence.members(band)
    }

    /// The members other than `me` editing row `id` of `table` now.
    pub fn editors(&self, table: &str, id: &str, me: &str) -> Vec<Member> {
        self.presence.editors(table, id, me)
    }

    /// Sets the presence key (the user id) for band channels joined from now on.
    pub fn set_presence_key(&mut self, key: &str) {
        self.presence.key = Some(key.to_owned());
    }

    fn op(&mut self, waiting: Waiting) -> OpId {
        self.next_op += 1;
        let op = OpId(self.next_op);
        self.waiting.insert(op, waiting);
        op
    }

    fn emit(&mut self, event: ReadEvent) {
        self.outputs.push_back(ReadOutput::Event(event));
    }

    fn error(&mut self, code: &'static str, message: String) {
        self.emit(ReadEvent::Error { code, message });
    }

    fn http(&mut self, waiting: Waiting, request: HttpRequest) {
        let op = self.op(waiting);
        self.outputs.push_back(ReadOutput::Http { op, request });
    }

    fn applied(&mut self, op: OpId, result: Result<Vec<String>, StoreError>) {
        match self.waiting.remove(&op) {
            Some(Waiting::Pull(band)) => self.page_stored(&band, result),
            Some(Waiting::Changes(applying)) => self.changes_applied(applying, result),
            Some(Waiting::Fetched { table, scope }) => self.fetched_applied(table, scope, result),
            Some(Waiting::Gone { table, id, scope }) => {
                self.fetched_gone(table, id, scope, result.map(|_| ()))
            }
            _ => {}
        }
    }

    fn answered(
        &mut self,
        now: Millis,
        op: OpId,
        result: HttpResult,
        total: Option<u64>,
        local: &dyn LocalEdits,
    ) {
        match self.waiting.remove(&op) {
            Some(Waiting::Pull(band)) => {
                // Asked again soon (a 401 waits for a token, and an unreadable page for the
                // next catch-up).
                if no_answer(&result) {
                    self.schedule.pull_failed(now);
                }
                self.pull_answered(&band, result, total, local)
            }
            Some(Waiting::Memberships) => self.memberships_answered(now, result),
            Some(Waiting::Fetch { table, id }) => {
                if self.refetching_at(&table, &id).is_some() && no_answer(&result) {
                    self.schedule.pull_failed(now);
                }
                self.fetch_answered(table, id, result, local)
            }
            _ => {}
        }
    }

    /// Carries out the Realtime engine's outputs; its events are routed here, and whatever
    /// they start (joins, pulls, presence) is carried out in the same pass. Changes that
    /// arrived go to storage in one batch, unless one is being applied (they wait for it).
    fn drain_realtime(&mut self, now: Millis, local: &dyn LocalEdits) {
        while let Some(output) = self.realtime.poll_output() {
            match output {
                Output::Event(event) => self.on_realtime(now, event),
                other => self.outputs.extend(socket_output(other)),
            }
        }
        self.apply_changes(local);
    }

    fn on_realtime(&mut self, now: Millis, event: Event) {
        match event {
            // Membership changes (joined, added, removed, left) re-read the user's bands.
            Event::Change(change) if &*change.table == "band_memberships" => {
                self.reconcile_memberships()
            }
            Event::Change(change) => self.changes.arrived(change),
            Event::CatchUp { topic, .. } => {
                if let Some(band) = band_of(&topic) {
                    self.start_pull(band.to_owned());
                } else if topic.starts_with("realtime:user:") {
                    self.reconcile_memberships();
                }
            }
            Event::Connection(state) => {
                match &state {
                    ConnectionState::Reconnecting { .. } => self.info.reconnects += 1,
                    ConnectionState::Error { reason } => {
                        self.info.last_error = Some(reason.clone())
                    }
                    _ => {}
                }
                self.info.state = state.as_str().to_owned();
                let dues = self.schedule.connection(now, &state);
                self.carry_out(now, &dues);
                self.emit(ReadEvent::Realtime(Event::Connection(state)));
            }
            Event::Presence { topic, state, .. } => {
                if let Some(band) = band_of(&topic) {
                    let members = self.presence.update(band, &state);
                    let band = band.to_owned();
                    self.emit(ReadEvent::Presence { band, members });
                }
            }
            other => {
                match &other {
                    Event::Channel {
                        topic,
                        state: ChannelState::Joined,
                    } => {
                        self.presence.rejoined(topic);
                        self.flush_presence(now);
                    }
                    Event::Latency { ms } => self.info.latency_ms = Some(*ms),
                    Event::ChannelError { cause, .. } => {
                        self.info.last_error = Some(cause.to_string())
                    }
                    _ => {}
                }
                self.emit(ReadEvent::Realtime(other))
            }
        }
    }

    /// Pulls every followed band from its cursor (a keyset query: cheap when nothing
    /// changed), and re-reads the memberships, as the schedule says.
    fn carry_out(&mut self, _now: Millis, dues: &[Due]) {
        for due in dues {
            match due {
                Due::Memberships => self.reconcile_memberships(),
                Due::PullBands => {
                    for band in self.bands.to_vec() {
                        self.start_pull(band);
                    }
                    for (table, id, _) in self.refetching.clone() {
                        self.fetch(table, id);
                    }
                }
            }
        }
    }

    /// Sends the presence updates the budget allows; the rest wait for the timeout.
    fn flush_presence(&mut self, now: Millis) {
        let realtime = &mut self.realtime;
        self.presence_due = self
            .presence
            .flush(now, |topic, meta| realtime.track(now, topic, meta).is_ok());
    }

    /// Joins a channel: `band:<id>` or `user:<id>`.
    fn join(&mut self, now: Millis, name: &str, config: ChannelConfig) -> Result<(), String> {
        self.realtime
            .join(now, name, config)
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    /// The channel of a band: private, so only members may join, and presence (and, with
    /// database broadcasts, the band's changes) stays within the band.
    fn band_channel(&self, band: &str) -> ChannelConfig {
        let database_broadcasts = self.delivery == ChangeDelivery::Broadcast;
        let bindings = match database_broadcasts {
            true => Vec::new(),
            false => {
                let mut bindings = Vec::with_capacity(self.schema.tables.len());
                for table in &self.schema.tables {
                    bindings.push(PostgresBinding::table_eq(&table.name, &table.scope, band));
                }
                bindings
            }
        };
        ChannelConfig {
            postgres_changes: bindings,
            presence: self.presence.key.clone(),
            private: true,
            database_broadcasts,
            ..ChannelConfig::default()
        }
    }

    /// The user's own channel: told when a membership of theirs changes (a band joined, left
    /// or removed from), whichever way changes arrive.
    fn user_channel(&self, user: &str) -> ChannelConfig {
        match self.delivery {
            ChangeDelivery::Broadcast => ChannelConfig {
                private: true,
                database_broadcasts: true,
                ..ChannelConfig::default()
            },
            ChangeDelivery::PostgresChanges => ChannelConfig {
                postgres_changes: vec![PostgresBinding::table_eq(
                    "band_memberships",
                    "user_id",
                    user,
                )],
                ..ChannelConfig::default()
            },
        }
    }
}

/// No answer, or a server error: worth asking again soon.
fn no_answer(result: &HttpResult) -> bool {
    match result {
        HttpResult::NetworkError(_) => true,
        HttpResult::Response { status, .. } => matches!(status, 408 | 429 | 500..=599),
    }
}

/// A socket action of the Realtime engine (its events are routed, not passed on).
fn socket_output(output: Output) -> Option<ReadOutput> {
    let action = match output {
        Output::Connect { socket, url } => SocketAction::Connect { socket, url },
        Output::Send { socket, text } => SocketAction::Send { socket, text },
        Output::Close {
            socket,
            code,
            reason,
        } => SocketAction::Close {
            socket,
            code,
            reason,
        },
        Output::Event(_) => return None,
    };
    Some(ReadOutput::Socket(action))
}
