//! The outbox: local writes waiting for the server, and the rules for pushing them.
//!
//! Every local write becomes an [`Entry`] persisted with the row in one storage transaction.
//! Entries leave the outbox only when the server has the write. Consecutive edits to one row
//! coalesce while not yet sent; a row's entries go out strictly in order, one push of the row
//! at a time. Pushes go in waves (see [`Outbox::next_wave`]): the new rows of one table as one
//! array upsert, or the edits of several rows side by side.
//! Failures are classified: network errors, 5xx, 408 and 429 retry on a timer with jittered
//! backoff; 401 holds everything until a new token; other 4xx park the entry as failed, visible
//! with the server's message, until the app retries or discards it. A conditional update that
//! matches nothing is a conflict: the engine fetches the server row and three-way merges.
//!
//! Like the Realtime engine, the outbox does no I/O: the driver persists the [`Effect`]s it
//! returns, performs the [`HttpRequest`]s, and reports responses with the current time.

use crate::backoff::BackoffPolicy;
use crate::merge::ConflictPolicy;
use crate::percent_encode;
use crate::rng::SplitMix64;
use crate::schema::TableSchema;
use crate::sorted::{SortedMap, SortedSet};
use crate::value::{Map, Value};
use crate::Millis;
#[cfg(test)]
use serde::Deserialize;

mod answers;
mod conflict;
mod json;
mod requests;
mod stored;

pub use conflict::ConflictRecord;
pub use requests::{Push, MAX_BATCH_ROWS, MAX_SIDE_BY_SIDE};

/// What a write does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(test, derive(Deserialize), serde(rename_all = "camelCase"))]
pub enum Op {
    /// Create the row (an idempotent upsert on its client-generated id).
    Insert,
    /// Change fields, on the condition that the server row is still at the base version.
    Update,
    /// Tombstone the row (`deleted_at`), on the same condition.
    Delete,
}

/// Why an entry is parked.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(test, derive(Deserialize))]
pub struct PushError {
    /// HTTP status (0 when there was no response).
    pub status: u16,
    /// PostgREST's or PostgreSQL's code, when the server sent one.
    pub code: Option<String>,
    /// The server's message.
    pub message: String,
}

/// A write waiting for the server. Persisted as JSON, read back by [`Entry::from_json`].
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(test, derive(Deserialize), serde(rename_all = "camelCase"))]
pub struct Entry {
    /// Position in the outbox; entries are pushed in this order.
    pub seq: u64,
    /// Wire table name.
    pub table: String,
    /// The row's id.
    pub row_id: String,
    /// What to do.
    pub op: Op,
    /// Wire columns: the whole new row for inserts, the changed fields for updates, the
    /// device's `deleted_at` for deletes (shown locally; the server stamps its own).
    pub fields: Map<String, Value>,
    /// The server row the edit builds on (updates and deletes).
    pub base: Option<Map<String, Value>>,
    /// Push attempts so far.
    pub attempts: u32,
    /// Set when the server refused the write for good; the entry waits for retry or discard.
    pub failed: Option<PushError>,
    /// The last retryable failure (network, 5xx, 429), for display while it retries.
    #[cfg_attr(test, serde(default))]
    pub last_error: Option<PushError>,
    /// Where the entry's last edit falls in the outbox's numbering: past its `seq` once an
    /// edit was folded into it (0: never folded).
    #[cfg_attr(test, serde(default))]
    pub edited: u64,
    /// Where each field's last folded edit falls (fields not listed were set when the entry
    /// was made, at its `seq`): of two tabs' edits of one field, the later is the user's.
    #[cfg_attr(test, serde(default))]
    pub field_edits: Vec<(String, u64)>,
}

impl Entry {
    /// Where the entry's values fall in the order of edits: two entries of a row from two tabs
    /// reach the leader in any order, and the later edit's values are the user's.
    pub fn last_edit(&self) -> u64 {
        self.edited.max(self.seq)
    }

    /// Where the last edit of `field` falls in the order of edits.
    pub fn field_edit(&self, field: &str) -> u64 {
        let folded = self.field_edits.iter().find(|(name, _)| name == field);
        folded.map_or(self.seq, |(_, at)| *at)
    }

    /// Where the last edit of each of the entry's fields falls.
    pub fn field_positions(&self) -> Vec<(String, u64)> {
        let mut positions = Vec::with_capacity(self.fields.len());
        for field in self.fields.keys() {
            positions.push((field.clone(), self.field_edit(field)));
        }
        positions
    }

    fn base_version(&self) -> Option<i64> {
        self.base.as_ref()?.get("version")?.as_i64()
    }
}

/// The sync status of a row, as shown next to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowStatus {
    /// The server has every local change.
    Synced,
    /// A push of this row is in flight.
    Syncing,
    /// Local changes wait to be pushed.
    Pending,
    /// The server refused a change; see the entry's error.
    Error,
}

impl RowStatus {
    /// `synced`, `syncing`, `pending` or `error`, as the app sees it.
    pub fn as_str(self) -> &'static str {
        match self {
            RowStatus::Synced => "synced",
            RowStatus::Syncing => "syncing",
            RowStatus::Pending => "pending",
            RowStatus::Error => "error",
        }
    }
}

/// How long a driver waits for the whole answer to a request before it gives the request up
/// (aborting it) and reports [`HttpResult::NetworkError`]: a connection that stalls, as a
/// phone's can between networks, must not hold a push, a pull or the memberships read forever.
/// The engines treat the timeout as any lost answer: a write may have committed, and is
/// retried idempotently.
pub const REQUEST_TIMEOUT_MS: u32 = 30_000;

/// An HTTP request for the driver, relative to the project URL. The driver adds `apikey`,
/// `Authorization` and `Content-Type`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRequest {
    /// `GET`, `POST` or `PATCH`.
    pub method: &'static str,
    /// Path and query, e.g. `/rest/v1/songs?id=eq.…`.
    pub path: String,
    /// The `Prefer` header.
    pub prefer: &'static str,
    /// JSON body.
    pub body: Option<String>,
}

impl HttpRequest {
    /// A plain `GET` of `path`.
    pub fn get(path: String) -> Self {
        Self {
            method: "GET",
            path,
            prefer: "",
            body: None,
        }
    }
}

/// What the server answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HttpResult {
    /// A response with its status and body.
    Response {
        /// HTTP status.
        status: u16,
        /// Body text.
        body: String,
    },
    /// No response, or not all of it: offline, DNS, connection refused, aborted, timed out.
    NetworkError(String),
}

/// What the driver must do after a call.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Persist this new entry; fail if its sequence number is taken (see
    /// [`Outbox::forget_unstored`]).
    AddEntry(Entry),
    /// Persist this entry (changed).
    PutEntry(Entry),
    /// Remove the entry with this seq.
    RemoveEntry(u64),
    /// Store the server's row as the local row.
    StoreServerRow {
        /// Wire table name.
        table: String,
        /// The row from the server (wire columns).
        row: Map<String, Value>,
    },
    /// Store a merged row locally (server row plus surviving local changes).
    StoreMergedRow {
        /// Wire table name.
        table: String,
        /// The merged row (wire columns).
        row: Map<String, Value>,
    },
    /// Persist a conflict and tell the app.
    Conflict(ConflictRecord),
    /// A row's status changed.
    Status {
        /// Wire table name.
        table: String,
        /// The row.
        row_id: String,
        /// The new status.
        status: RowStatus,
    },
    /// Pushes stopped on 401: ask the app for a new token.
    NeedToken,
}

/// Why a local write was refused. Nothing was queued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteRefused {
    /// The row was deleted locally; it cannot be changed.
    RowDeleted,
}

/// What an entry in flight waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flight {
    /// The write itself.
    Push,
    /// The GET that follows an empty answer (conflict or duplicate insert).
    Fetch,
}

/// The outbox engine.
#[derive(Debug)]
pub struct Outbox {
    entries: SortedMap<u64, Entry>,
    next_seq: u64,
    /// The entries of the wave out, by sequence number.
    in_flight: SortedMap<u64, Flight>,
    /// Inserts whose array upsert the server refused as a whole: each goes alone next, so the
    /// one at fault is parked on its own and the rest land.
    solo: SortedSet<u64>,
    retry_at: SortedMap<u64, Millis>,
    /// After a retryable failure the whole outbox waits: an unreachable or overloaded server
    /// fails every request alike, and hammering it helps nobody.
    paused_until: Option<Millis>,
    held: bool,
    backoff: BackoffPolicy,
    policy: ConflictPolicy,
    rng: SplitMix64,
    /// Another tab may be pushing these entries: never change an existing one.
    append_only: bool,
    /// Entries this outbox removed whose removal storage may not show yet: a reload must not
    /// bring them back (a settled write would go twice, a withdrawn one would go at all).
    removed: SortedSet<u64>,
}

impl Outbox {
    /// An outbox holding the persisted `entries` (after a reload everything is due at once).
    pub fn new(entries: Vec<Entry>, policy: ConflictPolicy, seed: u64) -> Self {
        let mut by_seq = SortedMap::new();
        let mut next_seq = 1;
        for entry in entries {
            next_seq = next_seq.max(entry.seq + 1);
            by_seq.insert(entry.seq, entry);
        }
        Self {
            next_seq,
            entries: by_seq,
            in_flight: SortedMap::new(),
            solo: SortedSet::new(),
            retry_at: SortedMap::new(),
            paused_until: None,
            held: false,
            backoff: BackoffPolicy {
                initial_ms: 1_000,
                max_ms: 60_000,
            },
            policy,
            rng: SplitMix64::new(seed),
            append_only: false,
            removed: SortedSet::new(),
        }
    }

    /// Removes an entry for good (it settled, was withdrawn or discarded).
    fn forget(&mut self, seq: u64) {
        if self.entries.remove(&seq).is_some() {
            self.removed.insert(seq);
        }
        self.solo.remove(&seq);
    }

    /// In a tab that does not push (another tab leads), writes are appended as new entries
    /// and never coalesced into stored ones, which the leading tab may have in flight.
    pub fn set_append_only(&mut self, append_only: bool) {
        self.append_only = append_only;
    }

    /// Sequence numbers from now on are at least `floor`. Tabs sharing one outbox pass a
    /// floor from the wall clock (with a per-tab salt), so their entries never collide and
    /// order by time.
    pub fn raise_seq_floor(&mut self, floor: u64) {
        self.next_seq = self.next_seq.max(floor);
    }

    /// The number the next queued entry gets at the least.
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// Changes the delays between retries (default 1 s doubling to 60 s, with jitter).
    pub fn set_backoff(&mut self, backoff: BackoffPolicy) {
        self.backoff = backoff;
    }

    /// The entries, in push order.
    pub fn entries(&self) -> impl Iterator<Item = &Entry> {
        self.entries.values()
    }

    /// The entry with `seq`.
    pub fn entry(&self, seq: u64) -> Option<&Entry> {
        self.entries.get(&seq)
    }

    /// Whether pushes wait for a new token.
    pub fn is_held(&self) -> bool {
        self.held
    }

    /// The status of a row.
    pub fn status(&self, table: &str, row_id: &str) -> RowStatus {
        let mut status = RowStatus::Synced;
        for entry in self.row_entries(table, row_id) {
            if entry.failed.is_some() {
                return RowStatus::Error;
            }
            status = if self.in_flight.contains_key(&entry.seq) {
                RowStatus::Syncing
            } else {
                RowStatus::Pending
            };
        }
        status
    }

    fn row_entries<'a>(
        &'a self,
        table: &'a str,
        row_id: &'a str,
    ) -> impl Iterator<Item = &'a Entry> {
        self.entries
            .values()
            .filter(move |e| e.table == table && e.row_id == row_id)
    }

    /// Queues a local write. `fields` are wire columns (checked by the schema); `base` is the
    /// server row the local row was last synced to. Coalesces with the row's last entry while
    /// that has never been sent (`attempts == 0`, which the driver persists before the first
    /// send, so it holds across reloads and tabs).
    pub fn enqueue(
        &mut self,
        table: &str,
        row_id: &str,
        op: Op,
        fields: Map<String, Value>,
        base: Option<Map<String, Value>>,
    ) -> Result<Vec<Effect>, WriteRefused> {
        let last = self
            .row_entries(table, row_id)
            .last()
            .map(|e| (e.seq, e.op, e.attempts, e.failed.is_some()));
        let in_flight = |seq| self.in_flight.contains_key(&seq);
        if let Some((seq, last_op, attempts, failed)) = last {
            if last_op == Op::Delete {
                return Err(WriteRefused::RowDeleted);
            }
            // Only into an entry never sent: one that was may have committed with its answer
            // lost, and its retry must send exactly what it sent before (a retried insert is
            // ignored as a duplicate; anything folded into it would be lost).
            if attempts == 0 && !in_flight(seq) && !failed && !self.append_only {
                match (last_op, op) {
                    (_, Op::Update) | (Op::Update, Op::Delete) => {
                        return Ok(self.fold(seq, op, fields));
                    }
                    // Created and deleted before the server ever saw it: nothing to send.
                    (Op::Insert, Op::Delete) => {
                        self.forget(seq);
                        self.retry_at.remove(&seq);
                        return Ok(vec![
                            Effect::RemoveEntry(seq),
                            Effect::Status {
                                table: table.to_owned(),
                                row_id: row_id.to_owned(),
                                status: RowStatus::Synced,
                            },
                        ]);
                    }
                    _ => {}
                }
            }
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        let entry = Entry {
            seq,
            table: table.to_owned(),
            row_id: row_id.to_owned(),
            op,
            fields,
            base,
            attempts: 0,
            failed: None,
            last_error: None,
            edited: 0,
            field_edits: Vec::new(),
        };
        self.entries.insert(seq, entry.clone());
        // A new entry is added, never put: tabs of one profile share the stored outbox, and
        // a sequence number another tab took must fail the write rather than replace its entry.
        Ok(self.entry_effects(entry, Effect::AddEntry))
    }

    /// Folds an edit into the unsent entry `seq`, which keeps its place (rows are created in
    /// the order they were made) and records that its values are as new as this edit.
    fn fold(&mut self, seq: u64, op: Op, fields: Map<String, Value>) -> Vec<Effect> {
        let edited = self.next_seq;
        self.next_seq += 1;
        let Some(entry) = self.entries.get_mut(&seq) else {
            return Vec::new();
        };
        for field in fields.keys() {
            entry.field_edits.retain(|(name, _)| name != field);
            entry.field_edits.push((field.clone(), edited));
        }
        if op == Op::Delete {
            entry.op = Op::Delete;
            entry.fields = fields;
        } else {
            entry.fields.extend(fields);
        }
        entry.edited = edited;
        let entry = entry.clone();
        self.effects_for_put(entry)
    }

    /// Forgets a new entry whose storage refused its sequence number (another tab's entry
    /// holds it) and moves this outbox's numbers past it; the driver enqueues the write again.
    pub fn forget_unstored(&mut self, seq: u64) {
        self.entries.remove(&seq);
        self.retry_at.remove(&seq);
        self.next_seq = self.next_seq.max(seq + 1);
    }

    fn effects_for_put(&self, entry: Entry) -> Vec<Effect> {
        self.entry_effects(entry, Effect::PutEntry)
    }

    /// The row's status, then storing `entry` the way `store` says (added or put).
    fn entry_effects(&self, entry: Entry, store: fn(Entry) -> Effect) -> Vec<Effect> {
        let status = self.status(&entry.table, &entry.row_id);
        vec![
            Effect::Status {
                table: entry.table.clone(),
                row_id: entry.row_id.clone(),
                status,
            },
            store(entry),
        ]
    }

    /// When the next retry is due, if one is waiting.
    pub fn poll_timeout(&self) -> Option<Millis> {
        if self.held || !self.in_flight.is_empty() {
            return None;
        }
        // Only entries a push could take: parked ones wait for the user and the entries behind
        // them for those, not for a time (waking the driver for them would spin).
        let mut next: Option<Millis> = None;
        for entry in self.candidates() {
            let retry = self.retry_at.get(&entry.seq).copied().unwrap_or_default();
            let due = retry.max(self.paused_until.unwrap_or_default());
            next = Some(next.map_or(due, |next| next.min(due)));
        }
        next
    }

    /// The entries a push may take next: each row's first (its creation, if another tab's
    /// creation came late), unless parked.
    fn candidates(&self) -> Vec<&Entry> {
        let mut seen_rows: Vec<(&str, &str)> = Vec::new();
        let mut candidates = Vec::new();
        for entry in self.entries.values() {
            let row = (entry.table.as_str(), entry.row_id.as_str());
            if seen_rows.contains(&row) {
                continue;
            }
            // Later entries of this row wait for this one, whatever happens to it.
            seen_rows.push(row);
            // A row's creation goes before its edits, even one appended by another tab after
            // them (tabs number entries by their clocks, not by what they saw).
            let entry = match self.row_entries(row.0, row.1).find(|e| e.op == Op::Insert) {
                Some(insert) if entry.op != Op::Insert && entry.base_version() == Some(0) => insert,
                _ => entry,
            };
            if entry.failed.is_none() {
                candidates.push(entry);
            }
        }
        candidates
    }

    /// A new token arrived, or the network came back: pushes resume now.
    pub fn resume(&mut self) {
        self.held = false;
        self.paused_until = None;
        self.retry_at.clear();
    }

    /// Parks every entry `unreachable` picks as failed with `error` (except those in flight,
    /// which settle on their own): for rows the user can no longer write, e.g. after leaving
    /// their band. The writes stay visible, with the user's values, until the app retries
    /// them (say, once re-added) or discards them; nothing is dropped silently.
    pub fn fail_where(
        &mut self,
        unreachable: impl Fn(&Entry) -> bool,
        error: &PushError,
    ) -> Vec<Effect> {
        let mut parked = Vec::new();
        for entry in self.entries.values_mut() {
            let flying = self.in_flight.contains_key(&entry.seq);
            if !flying && entry.failed.is_none() && unreachable(entry) {
                entry.failed = Some(error.clone());
                parked.push(entry.clone());
            }
        }
        let mut effects = Vec::new();
        for entry in parked {
            self.retry_at.remove(&entry.seq);
            effects.extend(self.status_effect(&entry));
            effects.push(Effect::PutEntry(entry));
        }
        effects
    }

    /// Retries a failed entry now.
    pub fn retry(&mut self, seq: u64) -> Vec<Effect> {
        let Some(entry) = self.entries.get_mut(&seq) else {
            return Vec::new();
        };
        entry.failed = None;
        entry.attempts = 0;
        let entry = entry.clone();
        self.retry_at.remove(&seq);
        self.effects_for_put(entry)
    }

    /// Gives up a write: the entry is removed. The driver restores the row from the base.
    /// The row's later entries were made on a row showing this one's values: their bases
    /// take back the values this one changed, or discarding them later would bring those
    /// values back.
    pub fn discard(&mut self, seq: u64) -> Option<(Entry, Vec<Effect>)> {
        if self.in_flight.contains_key(&seq) {
            return None;
        }
        let entry = self.entries.get(&seq).cloned()?;
        self.forget(seq);
        self.retry_at.remove(&seq);
        let mut effects = vec![Effect::RemoveEntry(seq)];
        if let Some(original) = &entry.base {
            let same_row = |e: &Entry| e.table == entry.table && e.row_id == entry.row_id;
            let laters = self
                .entries
                .values_mut()
                .filter(|e| same_row(e) && e.seq > seq);
            for later in laters {
                let Some(base) = later.base.as_mut() else {
                    continue;
                };
                for field in entry.fields.keys() {
                    match original.get(field) {
                        Some(value) => base.insert(field.clone(), value.clone()),
                        None => base.remove(field),
                    };
                }
                effects.push(Effect::PutEntry(later.clone()));
            }
        }
        effects.extend(self.status_effect(&entry));
        Some((entry, effects))
    }
}
