//! The sync engine of one client: the write path, the read path and activity joined, with
//! one driving contract and one deadline.
//!
//! [`Engine::handle`] takes an [`Input`] with the page's monotonic time and the wall clock;
//! [`Engine::poll_output`] gives every [`Output`] in order; [`Engine::handle_timeout`] is
//! called at [`Engine::poll_timeout`]. What one part tells another is decided here, not by the
//! driver: rows the read path stored feed unread marks and toasts, a band the user left is
//! purged, an edit marks its row read, a conflict makes a toast, and the read path never
//! overwrites a row with writes waiting in the outbox.

use super::activity::{ActivityEngine, ActivityEvent, ActivityOutput, ActivityWrite};
use super::events::{ChangeAction, ChangeSource, RowsChanged, WriteError, WriteEvent};
use super::reads::{ReadCommand, ReadEngine, ReadEvent, ReadInput, ReadOutput, SocketAction};
use super::store::{ApplyBatch, ReadResult, StoreError, StoreOp, StoreRead};
use super::writes::{
    CommandId, OpId, WriteCommand, WriteEngine, WriteInput, WriteOutput, WriteReply,
};
use crate::outbox::{ConflictRecord, HttpRequest, HttpResult, RowStatus};
use crate::realtime::{ConnectionState, Event as RealtimeEvent, Input as SocketInput};
use crate::schema::Schema;
use crate::sorted::{SortedMap, SortedSet};
use crate::value::{Map, Value};
use crate::Millis;
use std::collections::VecDeque;

/// Which part of the engine an operation belongs to; its result comes back with the same.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Op {
    /// The write path's.
    Write(OpId),
    /// The read path's.
    Read(OpId),
    /// Activity's.
    Activity(OpId),
}

/// The result of a storage output.
#[derive(Debug, Clone, PartialEq)]
pub enum Stored {
    /// What an [`Output::Read`] read.
    Read(Result<ReadResult, StoreError>),
    /// Whether an [`Output::Write`] or [`Output::Persist`] committed.
    Written(Result<(), StoreError>),
    /// The rows an [`Output::Apply`] wrote.
    Applied(Result<Vec<String>, StoreError>),
}

/// An input to the engine.
#[derive(Debug, Clone, PartialEq)]
pub enum Input<'a> {
    /// A write command or write-path news: a command (its reply comes as [`Output::Reply`]),
    /// online, leadership, the outbox changed by another tab, a new token, stop.
    Write(WriteInput),
    /// A read command.
    Read(ReadCommand),
    /// A socket event, or the network or the page's visibility changed.
    Socket(SocketInput<'a>),
    /// A storage output finished.
    Stored {
        /// Its operation.
        op: Op,
        /// What it gave.
        result: Stored,
    },
    /// An HTTP answer (a network error may have committed), with the `Content-Range` total.
    Http {
        /// Its operation.
        op: Op,
        /// The answer.
        result: HttpResult,
        /// The total the server counted, if asked.
        total: Option<u64>,
    },
}

/// News for the other tabs of the app.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TabNews {
    /// This tab (which does not lead) appended to the outbox: the leader pushes it.
    Outbox,
    /// Unread marks or feed entries changed: other tabs reload them.
    Marks,
}

/// What the app is told.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// From the write path.
    Write(WriteEvent),
    /// From the read path.
    Read(ReadEvent),
    /// From activity.
    Activity(ActivityEvent),
}

/// What the engine asks of its driver.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// Open, write to or close the socket.
    Socket(SocketAction),
    /// Read storage.
    Read {
        /// The operation.
        op: Op,
        /// What to read.
        read: StoreRead,
    },
    /// Write a batch in one transaction.
    Write {
        /// The operation.
        op: Op,
        /// The batch.
        ops: Vec<StoreOp>,
    },
    /// Apply server rows in one transaction.
    Apply {
        /// The operation.
        op: Op,
        /// The rows.
        batch: ApplyBatch,
    },
    /// Persist activity records in one transaction.
    Persist {
        /// The operation.
        op: Op,
        /// The records.
        write: ActivityWrite,
    },
    /// Send a request with the user's token.
    Http {
        /// The operation.
        op: Op,
        /// The request.
        request: HttpRequest,
    },
    /// Tell the app.
    Event(Event),
    /// Answer a write command.
    Reply {
        /// The command.
        command: CommandId,
        /// Its result.
        result: Result<WriteReply, WriteError>,
    },
    /// Tell the other tabs.
    Tell(TabNews),
}

/// Commands the engine issues itself (purging a band the user left) are numbered from here,
/// far above the driver's.
const OWN_COMMANDS: u64 = 1 << 52;

/// The sync engine of one client.
#[derive(Debug)]
pub struct Engine {
    schema: Schema,
    writes: WriteEngine,
    reads: ReadEngine,
    activity: ActivityEngine,
    now: Millis,
    wall_ms: f64,
    /// Bands being purged, by the engine's own command.
    purging: SortedMap<CommandId, String>,
    next_command: u64,
    outputs: VecDeque<Output>,
}

impl Engine {
    /// Joins the three parts (each made with its own configuration).
    pub fn new(writes: WriteEngine, reads: ReadEngine, activity: ActivityEngine) -> Self {
        Self {
            schema: writes.schema().clone(),
            writes,
            reads,
            activity,
            now: Millis(0),
            wall_ms: 0.0,
            purging: SortedMap::new(),
            next_command: OWN_COMMANDS,
            outputs: VecDeque::new(),
        }
    }

    /// Takes in `input` at `now` (the page's monotonic clock) and `wall_ms` (epoch ms). A
    /// read command that cannot be carried out (a channel refused) is an error.
    pub fn handle(&mut self, now: Millis, wall_ms: f64, input: Input<'_>) -> Result<(), String> {
        self.now = now;
        self.wall_ms = wall_ms;
        match input {
            Input::Write(input) => self.writes.handle(input, now),
            Input::Read(command) => return self.read(ReadInput::Command(command)),
            Input::Socket(input) => self.read(ReadInput::Socket(input))?,
            Input::Stored { op, result } => match (op, result) {
                (Op::Write(op), Stored::Read(result)) => {
                    self.writes.handle(WriteInput::Read { op, result }, now)
                }
                (Op::Write(op), Stored::Written(result)) => {
                    self.writes.handle(WriteInput::Written { op, result }, now)
                }
                (Op::Read(op), Stored::Read(result)) => {
                    self.read(ReadInput::Read { op, result })?
                }
                (Op::Read(op), Stored::Applied(result)) => {
                    self.read(ReadInput::Applied { op, result })?
                }
                (Op::Activity(op), Stored::Written(result)) => self.activity.written(op, result),
                _ => {}
            },
            Input::Http { op, result, total } => match op {
                Op::Write(op) => self.writes.handle(WriteInput::Http { op, result }, now),
                Op::Read(op) => self.read(ReadInput::Http { op, result, total })?,
                Op::Activity(op) => self.activity.answered(op, result),
            },
        }
        Ok(())
    }

    /// Feeds the read path, which asks the write path which rows have local edits.
    fn read(&mut self, input: ReadInput<'_>) -> Result<(), String> {
        let Self { writes, reads, .. } = self;
        reads.handle(self.now, input, &local_edits(writes))
    }

    /// Calls the parts whose deadlines passed.
    pub fn handle_timeout(&mut self, now: Millis, wall_ms: f64) {
        self.now = now;
        self.wall_ms = wall_ms;
        if self.writes.poll_timeout().is_some_and(|at| at <= now) {
            self.writes.handle_timeout(now);
        }
        if self.reads.poll_timeout().is_some_and(|at| at <= now) {
            let Self { writes, reads, .. } = self;
            reads.handle_timeout(now, &local_edits(writes));
        }
        if self.activity.poll_timeout().is_some_and(|at| at <= now) {
            self.activity.handle_timeout(now);
        }
    }

    /// The one deadline: the soonest of the parts'.
    pub fn poll_timeout(&self) -> Option<Millis> {
        let deadlines = [
            self.writes.poll_timeout(),
            self.reads.poll_timeout(),
            self.activity.poll_timeout(),
        ];
        deadlines.into_iter().flatten().min()
    }

    /// The next thing to carry out. What one part tells another is passed on here.
    pub fn poll_output(&mut self) -> Option<Output> {
        loop {
            if let Some(output) = self.outputs.pop_front() {
                return Some(output);
            }
            // Activity first: what an edit or a pull told it goes to storage as soon after as
            // it can, not after the write path's next requests.
            if let Some(output) = self.activity.poll_output() {
                self.pass_activity_output(output);
            } else if let Some(output) = self.writes.poll_output() {
                self.pass_write_output(output);
            } else if let Some(output) = self.reads.poll_output() {
                self.pass_read_output(output);
            } else {
                return None;
            }
        }
    }

    /// The write path.
    pub fn writes(&self) -> &WriteEngine {
        &self.writes
    }

    /// The read path.
    pub fn reads(&self) -> &ReadEngine {
        &self.reads
    }

    /// The read path, for settings that decide nothing at once (the presence key).
    pub fn reads_mut(&mut self) -> &mut ReadEngine {
        &mut self.reads
    }

    /// Activity.
    pub fn activity(&self) -> &ActivityEngine {
        &self.activity
    }

    /// Activity, for the app's commands (mark read, reload); their outputs follow from
    /// [`poll_output`](Self::poll_output).
    pub fn activity_mut(&mut self) -> &mut ActivityEngine {
        &mut self.activity
    }

    /// Activity's commands that need the time (rows observed, the connection).
    pub fn now(&self) -> (Millis, f64) {
        (self.now, self.wall_ms)
    }

    fn emit(&mut self, event: Event) {
        self.outputs.push_back(Output::Event(event));
    }

    fn pass_write_output(&mut self, output: WriteOutput) {
        let output = match output {
            WriteOutput::Read { op, read } => Output::Read {
                op: Op::Write(op),
                read,
            },
            WriteOutput::Write { op, ops } => Output::Write {
                op: Op::Write(op),
                ops,
            },
            WriteOutput::Http { op, request } => Output::Http {
                op: Op::Write(op),
                request,
            },
            WriteOutput::Reply { command, result } if command.0 >= OWN_COMMANDS => {
                return self.purged(command, result);
            }
            WriteOutput::Reply { command, result } => Output::Reply { command, result },
            WriteOutput::Refetch { table, id, scope } => {
                return self.reads.refetch(table, id, scope)
            }
            WriteOutput::Event(event) => {
                match &event {
                    WriteEvent::Change(rows) if rows.source == ChangeSource::Local => {
                        if !self.writes.is_leader() {
                            self.outputs.push_back(Output::Tell(TabNews::Outbox));
                        }
                        // Whoever edits a row has seen it.
                        for id in &rows.ids {
                            self.activity.mark_read(&rows.table, id);
                        }
                    }
                    WriteEvent::Conflict(record) => self.conflict_toast(record),
                    _ => {}
                }
                Output::Event(Event::Write(event))
            }
        };
        self.outputs.push_back(output);
    }

    fn pass_read_output(&mut self, output: ReadOutput) {
        let output = match output {
            ReadOutput::Socket(action) => Output::Socket(action),
            ReadOutput::Read { op, read } => Output::Read {
                op: Op::Read(op),
                read,
            },
            ReadOutput::Apply { op, batch } => Output::Apply {
                op: Op::Read(op),
                batch,
            },
            ReadOutput::Http { op, request } => Output::Http {
                op: Op::Read(op),
                request,
            },
            ReadOutput::Event(event) => {
                match &event {
                    ReadEvent::Observed { rows, quiet } => {
                        let (now, wall) = (self.now, self.wall_ms);
                        self.activity.observe(now, wall, rows, *quiet);
                        return;
                    }
                    ReadEvent::Bands { left, .. } => {
                        for band in left.clone() {
                            self.purge(band);
                        }
                    }
                    ReadEvent::Realtime(RealtimeEvent::Connection(state)) => {
                        let connected = matches!(state, ConnectionState::Connected);
                        self.activity.connection(self.now, connected);
                    }
                    _ => {}
                }
                Output::Event(Event::Read(event))
            }
        };
        self.outputs.push_back(output);
    }

    fn pass_activity_output(&mut self, output: ActivityOutput) {
        let output = match output {
            ActivityOutput::Write { op, write } => Output::Persist {
                op: Op::Activity(op),
                write,
            },
            ActivityOutput::Http { op, request } => Output::Http {
                op: Op::Activity(op),
                request,
            },
            ActivityOutput::Event(ActivityEvent::Persisted) => Output::Tell(TabNews::Marks),
            ActivityOutput::Event(event) => Output::Event(Event::Activity(event)),
        };
        self.outputs.push_back(output);
    }

    /// A band the user left or was removed from: its unread marks and feed go, its rows go,
    /// its pending writes are parked as failed (`not_a_member`) with their rows.
    fn purge(&mut self, band: String) {
        self.activity.mark_all_read(Some(&band), None);
        self.activity.forget_band(&band);
        self.next_command += 1;
        let id = CommandId(self.next_command);
        self.purging.insert(id, band.clone());
        let input = WriteInput::Command {
            id,
            command: WriteCommand::PurgeBand { band },
            wall_ms: self.wall_ms as u64,
        };
        self.writes.handle(input, self.now);
    }

    /// The purge of a band is done: its removed rows are told, per table.
    fn purged(&mut self, command: CommandId, result: Result<WriteReply, WriteError>) {
        let Some(band) = self.purging.remove(&command) else {
            return;
        };
        match result {
            Ok(WriteReply::Purged(tables)) => {
                for (table, ids) in tables {
                    let change = RowsChanged {
                        table,
                        scope: band.clone(),
                        ids,
                        action: ChangeAction::Delete,
                        source: ChangeSource::Purge,
                    };
                    self.emit(Event::Write(WriteEvent::Change(change)));
                }
            }
            Ok(_) => {}
            Err(error) => self.emit(Event::Write(WriteEvent::Error {
                code: error.code(),
                message: error.to_string(),
            })),
        }
    }

    /// The rows an emptied cache keeps (`table:id`): those with writes in the outbox, which
    /// stay with their entries.
    pub fn cache_keeps(&self) -> SortedSet<String> {
        let mut keeps = SortedSet::new();
        for entry in self.writes.entries() {
            keeps.insert(format!("{}:{}", entry.table, entry.row_id));
        }
        keeps
    }

    /// The cache was emptied but for [`cache_keeps`](Self::cache_keeps): `removed` are the
    /// rows it held, per table and band. They are told as deleted, nothing stays unread, and
    /// every band followed is downloaded again.
    pub fn cache_purged(&mut self, removed: Vec<(String, String, Vec<String>)>) {
        for (table, scope, ids) in removed {
            let change = RowsChanged {
                table,
                scope,
                ids,
                action: ChangeAction::Delete,
                source: ChangeSource::Purge,
            };
            self.emit(Event::Write(WriteEvent::Change(change)));
        }
        self.activity.mark_all_read(None, None);
        for band in self.reads.bands().to_vec() {
            // A pull of a band already pulling runs once after it.
            let _ = self.read(ReadInput::Command(ReadCommand::Pull(band)));
        }
    }

    /// Tells the user at once that another member's change met one of their edits.
    fn conflict_toast(&mut self, record: &ConflictRecord) {
        let text = |row: Option<&Map<String, Value>>, column: &str| {
            row.and_then(|r| r.get(column))
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        let remote = record.remote.as_ref();
        let author = text(remote, "last_modified_by");
        let label = (self.schema.table(&record.table).ok())
            .and_then(|spec| spec.label.clone())
            .and_then(|column| {
                text(remote, &column).or_else(|| text(Some(&record.local), &column))
            });
        self.activity.conflict(
            author.as_deref(),
            &record.table,
            label.as_deref(),
            record.deleted_remotely,
        );
    }
}

/// Rows with writes waiting in the outbox: the read path never overwrites them (their push is
/// conditional on its base version and meets the server's change as a conflict).
fn local_edits(writes: &WriteEngine) -> impl Fn(&str, &str) -> bool + '_ {
    move |table, id| writes.status(table, id) != RowStatus::Synced
}
