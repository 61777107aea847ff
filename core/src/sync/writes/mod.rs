//! The write engine: the app's writes become local rows and outbox entries, and the leading
//! tab pushes them to the REST API, a wave of requests at a time.
//!
//! Driven like the Realtime engine: [`WriteEngine::handle`] takes an input with the current
//! time, [`WriteEngine::poll_output`] gives what to do (read or write storage, send an HTTP
//! request, tell the app, answer a command), [`WriteEngine::poll_timeout`] when to call again.

use super::events::{ChangeAction, ChangeSource, RowsChanged, WriteError, WriteEvent};
use super::store::{conflict_key, ReadResult, StoreError, StoreOp, StoreRead};
use crate::backoff::BackoffPolicy;
use crate::catchup::format_micros;
use crate::merge::{ConflictPolicy, Resolution};
use crate::outbox::{
    ConflictRecord, Effect, Entry, HttpRequest, HttpResult, Op, Outbox, PushError, RowStatus,
};
use crate::rng::SplitMix64;
use crate::schema::Schema;
use crate::sorted::SortedSet;
use crate::value::{Map, Value};
use crate::Millis;
use std::collections::VecDeque;

mod commands;
mod plans;
mod push;
use push::Flight;

/// Identifies a storage operation or HTTP request the engine asked for; its result comes back
/// with the same id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct OpId(pub u64);

/// Identifies an app command; its [`WriteOutput::Reply`] carries the same id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CommandId(pub u64);

/// What the app asks of the write path.
#[derive(Debug, Clone, PartialEq)]
pub enum WriteCommand {
    /// Create a row from the app's values (camelCase); `new_id` is used unless they hold an id.
    Create {
        /// Wire table name.
        table: String,
        /// The app's values.
        values: Map<String, Value>,
        /// A fresh random id (randomness is an input).
        new_id: String,
    },
    /// Change fields of a row (camelCase).
    Update {
        /// Wire table name.
        table: String,
        /// The row.
        id: String,
        /// The changed fields.
        patch: Map<String, Value>,
    },
    /// Delete a row: a tombstone locally at once, on the server when pushed.
    Remove {
        /// Wire table name.
        table: String,
        /// The row.
        id: String,
    },
    /// Settle a row's conflict as the user chose.
    Resolve {
        /// Wire table name.
        table: String,
        /// The row.
        id: String,
        /// The choice.
        resolution: Resolution,
    },
    /// Acknowledge a row's conflict: its record goes.
    Acknowledge {
        /// Wire table name.
        table: String,
        /// The row.
        id: String,
    },
    /// Retry a failed entry.
    Retry {
        /// The entry.
        seq: u64,
    },
    /// Give up an entry; the row goes back to the server's version (or away, for an insert).
    Discard {
        /// The entry.
        seq: u64,
    },
    /// Forget a band the user left: its rows go; its pending writes are parked as failed
    /// (`not_a_member`) with their rows, so the user's values stay until retried or discarded.
    PurgeBand {
        /// The band.
        band: String,
    },
}

/// A command's answer.
#[derive(Debug, Clone, PartialEq)]
pub enum WriteReply {
    /// The stored row (wire columns).
    Row(Map<String, Value>),
    /// Done.
    Done,
    /// Whether an entry was discarded (one in flight is not).
    Discarded(bool),
    /// The row ids removed per table.
    Purged(Vec<(String, Vec<String>)>),
}

/// An input to the write engine.
#[derive(Debug, Clone, PartialEq)]
pub enum WriteInput {
    /// An app command, with the wall clock (Unix ms) for the tombstone time and sequence numbers.
    Command {
        /// Echoed in the reply.
        id: CommandId,
        /// The command.
        command: WriteCommand,
        /// Unix time in ms.
        wall_ms: u64,
    },
    /// The answer to a [`WriteOutput::Read`].
    Read {
        /// The read's id.
        op: OpId,
        /// What was read.
        result: Result<ReadResult, StoreError>,
    },
    /// A [`WriteOutput::Write`] finished.
    Written {
        /// The batch's id.
        op: OpId,
        /// Whether it committed.
        result: Result<(), StoreError>,
    },
    /// The answer to a [`WriteOutput::Http`] (a network error: it may have committed).
    Http {
        /// The request's id.
        op: OpId,
        /// The answer.
        result: HttpResult,
    },
    /// The network came or went.
    Online(bool),
    /// This tab leads (it pushes) or follows (another tab pushes what it appends).
    Leader(bool),
    /// Another tab changed the stored outbox or conflicts.
    OutboxChanged,
    /// A new access token: pushes held by a 401 resume.
    TokenRefreshed,
    /// The client is closing: nothing more is pushed; entries stay stored for the next open.
    Stop,
}

/// What the write engine asks of its driver.
#[derive(Debug, Clone, PartialEq)]
pub enum WriteOutput {
    /// Read storage; answer with [`WriteInput::Read`].
    Read {
        /// The read's id.
        op: OpId,
        /// What to read.
        read: StoreRead,
    },
    /// Write a batch in one transaction; answer with [`WriteInput::Written`].
    Write {
        /// The batch's id.
        op: OpId,
        /// The batch.
        ops: Vec<StoreOp>,
    },
    /// Send a request (the driver adds `apikey`, `Authorization`, `Content-Type`); answer
    /// with [`WriteInput::Http`].
    Http {
        /// The request's id.
        op: OpId,
        /// The request.
        request: HttpRequest,
    },
    /// Tell the app.
    Event(WriteEvent),
    /// Answer a command.
    Reply {
        /// The command.
        command: CommandId,
        /// Its result.
        result: Result<WriteReply, WriteError>,
    },
    /// A row's local edits were given up (discarded, or refused by storage) without the
    /// server's row being written: read the row from the server again. Pulls skip a row with
    /// local edits and their cursors move past it, so a change made meanwhile would not come
    /// again. The joined [`Engine`](crate::sync::Engine) asks its read path.
    Refetch {
        /// Wire table name.
        table: String,
        /// The row id.
        id: String,
        /// The row's scope (band).
        scope: String,
    },
}

/// Sequence numbers are `wall ms * SEQ_SALTS + salt`: below 2^53 (exact in IndexedDB's numbers)
/// for centuries, and different for tabs writing in the same millisecond.
const SEQ_SALTS: u64 = 2048;
/// A write whose sequence number another tab took is queued again this many times.
const KEY_TAKEN_RETRIES: u32 = 8;
/// The leader reads the stored outbox this often: a tab that wrote an entry and closed before
/// it could tell the leader (or whose message was lost) is found within this bound.
pub const OUTBOX_RESCAN_MS: u64 = 10_000;
/// Stands for "no read out" in a reload waiting to read again (operation ids start at 1).
const NO_READ: OpId = OpId(0);
/// A resync whose read of storage failed tries again after this long.
const RESYNC_RETRY_MS: u64 = 1_000;

/// The head command's progress. Commands run one at a time: each reads what it needs and
/// writes one batch, so a read of the next one sees the write of the previous one.
#[derive(Debug)]
enum Running {
    Reading {
        op: OpId,
        command: CommandId,
        body: WriteCommand,
        wall_ms: u64,
    },
    Writing {
        op: OpId,
        command: CommandId,
        done: Box<Done>,
    },
}

/// What follows a command's batch once it committed.
#[derive(Debug)]
struct Done {
    reply: WriteReply,
    events: Vec<WriteEvent>,
    /// A write-through to queue again if its sequence number was taken, with its attempt.
    retry: Option<(Queued, u32)>,
    /// The outbox entry the batch adds.
    added: Option<u64>,
    /// The outbox entries the batch removes.
    removing: Vec<u64>,
    /// The entries the batch changes as they were before, to put back if it is refused.
    undo: Vec<(u64, Option<Entry>)>,
    /// The conflict record (`table:id`) the batch removes: the row counts as settled once it is
    /// stored.
    settles_conflict: Option<String>,
    /// The row (table, id, band) whose local edits the batch gives up: read from the server
    /// again once it is stored.
    refetch: Option<(String, String, String)>,
}

/// What a command does once it has what it reads.
#[derive(Debug)]
enum Planned {
    /// Write this batch, then do the rest.
    Write(Vec<StoreOp>, Box<Done>),
    /// Answer at once: nothing to write.
    Answer(WriteReply),
}

/// A local write as queued: enough to queue it again.
#[derive(Debug, Clone)]
struct Queued {
    table: String,
    id: String,
    op: Op,
    fields: Map<String, Value>,
    base: Option<Map<String, Value>>,
    row: Map<String, Value>,
    wall_ms: u64,
}

/// A pending reload of the stored outbox, and the leadership it settles.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Reload {
    Idle,
    Reading {
        op: OpId,
        then_lead: Option<bool>,
        /// A batch failed and memory is ahead of storage: memory becomes what storage holds,
        /// and commands wait until it has (so none changes an entry the read will replace).
        resync: bool,
    },
}

/// An answer to the push path held while a command's batch adds an entry.
#[derive(Debug)]
enum HeldAnswer {
    Http(OpId, HttpResult),
    ConflictRead(OpId, Result<ReadResult, StoreError>),
}

/// A command whose read came back while a resync was under way.
type Deferred = (CommandId, WriteCommand, u64, Result<ReadResult, StoreError>);

/// The write path of one client.
#[derive(Debug)]
pub struct WriteEngine {
    schema: Schema,
    outbox: Outbox,
    conflicted: SortedSet<String>,
    leader: bool,
    online: bool,
    stopped: bool,
    rng: SplitMix64,
    salt: u64,
    next_op: u64,
    commands: VecDeque<(CommandId, WriteCommand, u64)>,
    running: Option<Running>,
    flight: Flight,
    reload: Reload,
    deferred: Option<Deferred>,
    /// When the leader next reads the stored outbox.
    rescan_at: Option<Millis>,
    /// When a resync whose read failed tries again.
    resync_at: Option<Millis>,
    /// The entry a command's batch is adding, until storage answers.
    adding: Option<u64>,
    /// The outbox's next number when the pending reload's read was issued: entries numbered
    /// from there on were queued after it, and the read cannot show them.
    reload_from: u64,
    /// Entries this tab stored a change of since the pending reload's read was issued: the
    /// read may not show the change yet.
    changed_since_read: SortedSet<u64>,
    /// A push changed that entry meanwhile: put it again once it is stored.
    reput: bool,
    /// Push answers, and the conflict reads that settle them, that came while a command's
    /// batch adds an entry: they are taken once storage answers the batch, because settling
    /// writes a row with the row's later entries, and the entry being added may yet be refused.
    held_answers: Vec<HeldAnswer>,
    last_confirmed: Option<Millis>,
    outputs: VecDeque<WriteOutput>,
}

impl WriteEngine {
    /// A write engine on the stored `entries` and conflict record keys, following until told
    /// it leads (another tab may be pushing the stored entries, and folding an edit into one of
    /// them would be lost when that push settles). `seed` drives jitter and sequence salts.
    pub fn new(
        schema: Schema,
        entries: Vec<Entry>,
        conflicts: Vec<String>,
        policy: ConflictPolicy,
        backoff: Option<BackoffPolicy>,
        seed: u64,
    ) -> Self {
        let mut rng = SplitMix64::new(seed);
        let mut outbox = Outbox::new(entries, policy, rng.next_u64());
        outbox.set_append_only(true);
        if let Some(backoff) = backoff {
            outbox.set_backoff(backoff);
        }
        let salt = rng.up_to(SEQ_SALTS - 1);
        Self {
            schema,
            outbox,
            conflicted: SortedSet::from_vec(conflicts),
            leader: false,
            online: true,
            stopped: false,
            rng,
            salt,
            next_op: 1,
            commands: VecDeque::new(),
            running: None,
            flight: Flight::Idle,
            reload: Reload::Idle,
            deferred: None,
            rescan_at: None,
            resync_at: None,
            adding: None,
            reload_from: 0,
            changed_since_read: SortedSet::new(),
            reput: false,
            held_answers: Vec::new(),
            last_confirmed: None,
            outputs: VecDeque::new(),
        }
    }

    /// The schema rows are shaped by.
    pub fn schema(&self) -> &Schema {
        &self.schema
    }

    /// Takes an input at `now` (the driver's monotonic clock).
    pub fn handle(&mut self, input: WriteInput, now: Millis) {
        match input {
            WriteInput::Command {
                id,
                command,
                wall_ms,
            } => {
                self.commands.push_back((id, command, wall_ms));
                self.next_command();
            }
            WriteInput::Read { op, result } => self.on_read(op, result, now),
            WriteInput::Written { op, result } => self.on_written(op, result, now),
            WriteInput::Http { op, result } => self.on_http(op, result, now),
            WriteInput::Online(online) => {
                self.online = online;
                if online {
                    self.outbox.resume();
                }
            }
            WriteInput::Leader(lead) => {
                // Storage as it is now: as a follower this tab has nothing in flight.
                self.leader = false;
                self.rescan_at = lead.then_some(now + OUTBOX_RESCAN_MS);
                self.start_reload(Some(lead), false);
            }
            WriteInput::OutboxChanged => self.start_reload(None, false),
            WriteInput::TokenRefreshed => self.outbox.resume(),
            WriteInput::Stop => {
                self.stopped = true;
                self.reload = Reload::Idle;
                self.resync_at = None;
                for (command, _, _) in std::mem::take(&mut self.commands) {
                    self.reply(command, Err(closed()));
                }
            }
        }
        self.push_next(now);
    }

    /// Takes the time: a retry, or the leader's rescan of the stored outbox, may be due.
    pub fn handle_timeout(&mut self, now: Millis) {
        if self.resync_at.is_some_and(|at| at <= now) && !self.stopped {
            self.resync_at = None;
            let (then_lead, resync) = match self.reload {
                Reload::Reading {
                    then_lead, resync, ..
                } => (then_lead, resync),
                Reload::Idle => (None, false),
            };
            self.reload = Reload::Idle;
            self.start_reload(then_lead, resync);
        }
        if self.rescan_at.is_some_and(|at| at <= now) && !self.stopped {
            self.rescan_at = Some(now + OUTBOX_RESCAN_MS);
            if self.reload == Reload::Idle {
                self.start_reload(None, false);
            }
        }
        self.push_next(now);
    }

    /// The next thing to do, in order.
    pub fn poll_output(&mut self) -> Option<WriteOutput> {
        self.outputs.pop_front()
    }

    /// When the engine next needs [`handle_timeout`](Self::handle_timeout).
    pub fn poll_timeout(&self) -> Option<Millis> {
        if self.stopped {
            return None;
        }
        let retry = if self.pushing() && matches!(self.flight, Flight::Idle) {
            self.outbox.poll_timeout()
        } else {
            None
        };
        [retry, self.rescan_at, self.resync_at]
            .into_iter()
            .flatten()
            .min()
    }

    /// The outbox entries, in push order.
    pub fn entries(&self) -> impl Iterator<Item = &Entry> {
        self.outbox.entries()
    }

    /// Writes waiting for the server, and writes it refused (parked until retried or
    /// discarded).
    pub fn counts(&self) -> (usize, usize) {
        let failed = self.entries().filter(|e| e.failed.is_some()).count();
        (self.entries().count() - failed, failed)
    }

    /// A row's sync status.
    pub fn status(&self, table: &str, id: &str) -> RowStatus {
        self.outbox.status(table, id)
    }

    /// The status the app shows for a row: its outbox status, or `conflict` while a settled
    /// conflict awaits acknowledgement (a refused write, `error`, still shows first).
    pub fn shown_status(&self, table: &str, id: &str) -> &'static str {
        match self.status(table, id) {
            RowStatus::Error => "error",
            _ if self.has_conflict(table, id) => "conflict",
            status => status.as_str(),
        }
    }

    /// Whether the row has a conflict the user has not acknowledged.
    pub fn has_conflict(&self, table: &str, id: &str) -> bool {
        self.conflicted.contains(&conflict_key(table, id))
    }

    /// Whether this tab leads (pushes).
    pub fn is_leader(&self) -> bool {
        self.leader
    }

    /// When a push of this tab last settled with the server's row.
    pub fn last_confirmed(&self) -> Option<Millis> {
        self.last_confirmed
    }

    /// Whether nothing is running or waiting: no command, push, reload or output.
    pub fn is_idle(&self) -> bool {
        self.commands.is_empty()
            && self.running.is_none()
            && self.deferred.is_none()
            && matches!(self.flight, Flight::Idle)
            && self.reload == Reload::Idle
            && self.outputs.is_empty()
    }

    /// Whether a push may start. Not while a command's batch adds an entry: the push would
    /// record that entry's first send with a put, which storage keeps even when it refuses
    /// the add (another tab's entry holds the sequence number) — replacing that tab's entry.
    fn pushing(&self) -> bool {
        let adding = self.adding.is_some();
        self.leader && self.online && !self.stopped && self.reload == Reload::Idle && !adding
    }

    fn op_id(&mut self) -> OpId {
        let op = OpId(self.next_op);
        self.next_op += 1;
        op
    }

    fn read(&mut self, read: StoreRead) -> OpId {
        let op = self.op_id();
        self.outputs.push_back(WriteOutput::Read { op, read });
        op
    }

    fn write(&mut self, ops: Vec<StoreOp>) -> OpId {
        for op in &ops {
            if let StoreOp::AddEntry(Entry { seq, .. })
            | StoreOp::PutEntry(Entry { seq, .. })
            | StoreOp::RemoveEntry(seq) = op
            {
                self.changed_since_read.insert(*seq);
            }
        }
        let op = self.op_id();
        self.outputs.push_back(WriteOutput::Write { op, ops });
        op
    }

    fn emit(&mut self, event: WriteEvent) {
        self.outputs.push_back(WriteOutput::Event(event));
    }

    fn reply(&mut self, command: CommandId, result: Result<WriteReply, WriteError>) {
        self.outputs
            .push_back(WriteOutput::Reply { command, result });
    }

    fn start_reload(&mut self, then_lead: Option<bool>, resync: bool) {
        if self.stopped {
            return;
        }
        let (then_lead, resync) = match self.reload {
            // A reload under way settles leadership (and resyncs) unless this one does.
            Reload::Reading {
                then_lead: t,
                resync: r,
                ..
            } => (then_lead.or(t), resync || r),
            Reload::Idle => (then_lead, resync),
        };
        let op = self.read(StoreRead::Outbox);
        self.reload_from = self.outbox.next_seq();
        self.changed_since_read.clear();
        self.reload = Reload::Reading {
            op,
            then_lead,
            resync,
        };
    }

    /// Whether commands wait for a resync.
    fn resyncing(&self) -> bool {
        matches!(self.reload, Reload::Reading { resync: true, .. })
    }

    /// Takes in the stored outbox: memory becomes what storage holds, but for what this tab
    /// changed since the read was issued (not committed when read) and the entries it is
    /// pushing (it alone knows their answers). So the leader takes in what other tabs did:
    /// entries they appended, and a retry or discard of an entry it holds.
    fn finish_reload(&mut self, result: Result<ReadResult, StoreError>, now: Millis) {
        let Reload::Reading {
            then_lead, resync, ..
        } = self.reload
        else {
            return;
        };
        self.reload = Reload::Idle;
        match result {
            Ok(ReadResult::Outbox { entries, conflicts }) => {
                // This tab's writes queued during the read are kept: dropping them until the
                // next read would show their rows as synced meanwhile.
                let changed = &self.changed_since_read;
                self.outbox
                    .reload_keeping(entries, self.reload_from, changed);
                self.conflicted = SortedSet::from_vec(conflicts);
            }
            // Storage cannot be read. On a resync memory stays ahead, and commands wait, until a
            // later read succeeds; a tab about to lead must not push from its follower's memory
            // (entries other tabs settled long ago). Either keeps its place and reads again in a
            // while.
            _ if resync || then_lead.is_some() => {
                self.reload = Reload::Reading {
                    op: NO_READ,
                    then_lead,
                    resync,
                };
                self.resync_at = Some(now + RESYNC_RETRY_MS);
                return;
            }
            _ => {}
        }
        if let Some(lead) = then_lead {
            self.leader = lead;
            self.outbox.set_append_only(!lead);
            if lead {
                // Entries other tabs appended during the read above are in storage by the
                // next read.
                self.start_reload(None, false);
            }
        }
        if resync {
            if let Some((command, body, wall_ms, read)) = self.deferred.take() {
                self.continue_command(command, body, wall_ms, read);
            }
            self.next_command();
        }
    }

    fn on_read(&mut self, op: OpId, result: Result<ReadResult, StoreError>, now: Millis) {
        if matches!(self.reload, Reload::Reading { op: o, .. } if o == op) {
            self.finish_reload(result, now);
        } else if matches!(self.running, Some(Running::Reading { op: o, .. }) if o == op) {
            let Some(Running::Reading {
                command,
                body,
                wall_ms,
                ..
            }) = self.running.take()
            else {
                return;
            };
            if self.resyncing() {
                self.deferred = Some((command, body, wall_ms, result));
            } else {
                self.continue_command(command, body, wall_ms, result);
            }
        } else if self.adding.is_some() {
            self.held_answers.push(HeldAnswer::ConflictRead(op, result));
        } else {
            self.push_read(op, result, now);
        }
    }

    fn on_written(&mut self, op: OpId, result: Result<(), StoreError>, now: Millis) {
        if matches!(self.running, Some(Running::Writing { op: o, .. }) if o == op) {
            let Some(Running::Writing { command, done, .. }) = self.running.take() else {
                return;
            };
            self.command_written(command, *done, result);
            if self.adding.is_none() {
                for held in std::mem::take(&mut self.held_answers) {
                    match held {
                        HeldAnswer::Http(op, answer) => self.on_http(op, answer, now),
                        HeldAnswer::ConflictRead(op, result) => self.on_read(op, result, now),
                    }
                }
            }
        } else {
            self.push_written(op, result, now);
        }
    }
}

fn closed() -> WriteError {
    WriteError::Store(StoreError::Closed("the client was closed".into()))
}

/// `ms` since the Unix epoch as an ISO timestamp.
fn iso_time(wall_ms: u64) -> String {
    format_micros(i64::try_from(wall_ms).unwrap_or(i64::MAX / 1000) * 1000)
}

/// The row's scope (band) from its scope column.
fn scope_of(schema: &Schema, table: &str, row: &Map<String, Value>) -> String {
    schema
        .table(table)
        .ok()
        .and_then(|spec| row.get(&spec.scope))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

/// An entry's row's scope: from the row it was made on, or (a creation) its own values.
fn entry_scope(schema: &Schema, entry: &Entry) -> String {
    let row = entry.base.as_ref().unwrap_or(&entry.fields);
    scope_of(schema, &entry.table, row)
}

fn is_deleted(row: &Map<String, Value>) -> bool {
    row.get("deleted_at").is_some_and(|v| !v.is_null())
}

fn changed(
    table: &str,
    scope: String,
    id: &str,
    action: ChangeAction,
    source: ChangeSource,
) -> WriteEvent {
    WriteEvent::Change(RowsChanged {
        table: table.to_owned(),
        scope,
        ids: vec![id.to_owned()],
        action,
        source,
    })
}

/// The error that parks a band's writes once the user is no longer a member.
fn not_a_member(band: &str) -> PushError {
    PushError {
        status: 403,
        code: Some("not_a_member".into()),
        message: format!(
            "no longer a member of band {band}: retry once re-added, or discard the write"
        ),
    }
}
