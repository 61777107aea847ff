//! Other members' activity: unread marks and the activity feed (persisted, so they survive a
//! reload), and batched notifications, all fed by the rows the read path stored.
//!
//! The rules are [`Unread`], [`Feed`] and [`Notifier`]; this engine joins them and says what
//! to persist, which display names to look up, and what to tell the app. The driver carries
//! out its [`ActivityOutput`]s and calls [`ActivityEngine::handle_timeout`] at
//! [`ActivityEngine::poll_timeout`] (toasts held back to batch a burst).

use super::store::StoreError;
use super::OpId;
use crate::feed::{Feed, FeedEffects, FeedEntry, FeedRecord, DEFAULT_CAPACITY};
use crate::notify::{Change, Notifier, NotifyConfig, Toast};
use crate::outbox::{HttpRequest, HttpResult};
use crate::percent_encode;
use crate::sorted::{SortedMap, SortedSet};
use crate::unread::{Mark, MarkEffect, MarkSlot, ObservedRow, SlotId, Unread, UnreadCounts};
use crate::value::Value;
use crate::Millis;
use std::collections::VecDeque;

/// Records to persist, each kind in its own store, in one transaction.
#[derive(Debug, Clone, PartialEq)]
pub enum ActivityWrite {
    /// Unread marks: records rewritten and record keys removed.
    Marks {
        /// Records to put.
        put: Vec<MarkSlot>,
        /// Keys to delete.
        delete: Vec<String>,
    },
    /// The feed: bands' records rewritten and record keys removed.
    Feed {
        /// Records to put.
        put: Vec<FeedRecord>,
        /// Keys to delete.
        delete: Vec<String>,
    },
    /// Display names looked up, as `(user id, name)`.
    Profiles(Vec<(String, String)>),
}

/// What the activity engine asks of its driver.
#[derive(Debug, Clone, PartialEq)]
pub enum ActivityOutput {
    /// Persist; answer with [`ActivityEngine::written`].
    Write {
        /// The write's id.
        op: OpId,
        /// What to persist.
        write: ActivityWrite,
    },
    /// Send a request with the user's token; answer with [`ActivityEngine::answered`].
    Http {
        /// The request's id.
        op: OpId,
        /// The request.
        request: HttpRequest,
    },
    /// Tell the app.
    Event(ActivityEvent),
}

/// What activity tells the app.
#[derive(Debug, Clone, PartialEq)]
pub enum ActivityEvent {
    /// The unread counts changed.
    Unread(UnreadCounts),
    /// A toast to show.
    Toast(Toast),
    /// Persisting marks or feed entries failed.
    Error(StoreError),
    /// Feed entries were persisted (other tabs should reload them).
    Persisted,
    /// These bands' activity feeds changed (new entries, or entries read), with how many of
    /// each band's entries are unread now.
    Feed(Vec<(String, usize)>),
}

/// What a write or request was for.
#[derive(Debug)]
enum Waiting {
    Marks,
    Feed,
    Profiles,
    Names(Vec<String>),
}

/// Unread marks, the feed and notifications of one client.
#[derive(Debug)]
pub struct ActivityEngine {
    unread: Unread,
    feed: Feed,
    notifier: Notifier,
    /// Authors whose display name is known or being looked up.
    named: SortedSet<String>,
    waiting: SortedMap<OpId, Waiting>,
    next_op: u64,
    outputs: VecDeque<ActivityOutput>,
}

impl ActivityEngine {
    /// The activity of user `me` from what was persisted: mark records, feed entries, and
    /// `(user id, display name)`s. Marks an earlier version stored one per row are rewritten
    /// into records of their band's table, and so is a record that holds a row another holds;
    /// feed entries stored one per record are rewritten into their band's record.
    pub fn new(
        me: &str,
        config: NotifyConfig,
        mark_records: &[Value],
        feed_records: &[Value],
        names: Vec<(String, String)>,
    ) -> Self {
        let (marks, legacy) = read_marks(mark_records);
        let (entries, legacy_entries) = read_entries(feed_records);
        let mut notifier = Notifier::new(config, me);
        let mut named = SortedSet::new();
        for (id, name) in names {
            notifier.set_name(id.clone(), name);
            named.insert(id);
        }
        let mut unread = Unread::new(me);
        let untidy = unread.replace(marks);
        let mut engine = Self {
            unread,
            feed: Feed::new(me, DEFAULT_CAPACITY, entries),
            notifier,
            named,
            waiting: SortedMap::new(),
            next_op: 0,
            outputs: VecDeque::new(),
        };
        if !untidy.is_empty() || !legacy.is_empty() {
            engine.write_slots(untidy, legacy);
        }
        if !legacy_entries.is_empty() {
            let mut bands = SortedSet::new();
            for band in engine.feed.bands() {
                bands.insert(band.clone());
            }
            engine.write_feed(&bands, legacy_entries);
        }
        engine
    }

    /// The next thing to carry out.
    pub fn poll_output(&mut self) -> Option<ActivityOutput> {
        self.outputs.pop_front()
    }

    /// When [`handle_timeout`](Self::handle_timeout) is due: held-back toasts.
    pub fn poll_timeout(&self) -> Option<Millis> {
        self.notifier.poll_timeout()
    }

    /// Shows the toasts that are due.
    pub fn handle_timeout(&mut self, now: Millis) {
        self.notifier.handle_timeout(now);
        self.deliver();
    }

    /// Rows the read path stored, seen at `wall_ms` (epoch ms). `quiet` for a band's first
    /// download: what was already there is neither unread nor news.
    pub fn observe(&mut self, now: Millis, wall_ms: f64, rows: &[ObservedRow], quiet: bool) {
        if quiet || rows.is_empty() {
            return;
        }
        let effects = self.unread.observe(rows);
        let feed = self.feed.observe(rows, wall_ms);
        self.persist_feed(feed);
        for row in rows {
            if let Some(author) = &row.author {
                let change = Change {
                    author: author.clone(),
                    table: row.table.clone(),
                    label: row.label.clone(),
                    action: row.action,
                };
                self.notifier.push(now, change);
            }
        }
        self.look_up_names(rows);
        self.persist(effects);
        // A known author's first change shows at once.
        self.deliver();
    }

    /// The connection went up or down (for "connection lost / back" toasts).
    pub fn connection(&mut self, now: Millis, connected: bool) {
        self.notifier.connection(now, connected);
        self.deliver();
    }

    /// The user viewed or edited a row.
    pub fn mark_read(&mut self, table: &str, id: &str) {
        if let Some(mark) = self.unread.mark_read(table, id) {
            self.persist(vec![MarkEffect::Remove(mark)]);
        }
    }

    /// Another member's change met one of this user's edits: a toast at once.
    pub fn conflict(&mut self, author: Option<&str>, table: &str, label: Option<&str>, gone: bool) {
        self.notifier.conflict(author, table, label, gone);
        self.deliver();
    }

    /// A member's display name, when known.
    pub fn name_of(&self, user: &str) -> Option<String> {
        self.notifier.name_of(user)
    }

    /// The band's activity, newest first: at most `limit` entries, older than `before`.
    pub fn feed_page(&self, band: &str, limit: usize, before: Option<&str>) -> Vec<&FeedEntry> {
        self.feed.page(band, limit, before)
    }

    /// How many of the band's activity entries are unread.
    pub fn feed_unread(&self, band: &str) -> usize {
        self.feed.unread_count(band)
    }

    /// Marks the band's entries with `ids` read (all when `None`), and their rows with them.
    /// Returns how many entries were unread.
    pub fn mark_feed_read(&mut self, band: &str, ids: Option<&[String]>) -> usize {
        let (effects, rows) = self.feed.mark_read(band, ids);
        let count = effects.entries;
        let mut marks = Vec::new();
        for (table, id) in &rows {
            if let Some(mark) = self.unread.mark_read(table, id) {
                marks.push(MarkEffect::Remove(mark));
            }
        }
        self.persist(marks);
        self.persist_feed(effects);
        count
    }

    /// Drops a band's feed (the user left it).
    pub fn forget_band(&mut self, band: &str) {
        let effects = self.feed.forget_band(band);
        self.persist_feed(effects);
    }

    /// Marks a band's rows read (all bands when `band` is `None`), optionally of one table.
    /// Returns how many were unread.
    pub fn mark_all_read(&mut self, band: Option<&str>, table: Option<&str>) -> usize {
        let marks = self.unread.mark_all_read(band, table);
        let count = marks.len();
        let mut effects = Vec::with_capacity(count);
        for mark in marks {
            effects.push(MarkEffect::Remove(mark));
        }
        self.persist(effects);
        count
    }

    /// Takes in the marks and feed another tab persisted, and tells the app the counts.
    pub fn reload(&mut self, mark_records: &[Value], feed_records: Option<&[Value]>) {
        let untidy = self.unread.replace(read_marks(mark_records).0);
        if !untidy.is_empty() {
            self.write_slots(untidy, Vec::new());
        }
        if let Some(records) = feed_records {
            let (entries, _) = read_entries(records);
            let mut bands = SortedSet::new();
            for entry in &entries {
                bands.insert(entry.band_id.clone());
            }
            self.feed.replace(entries);
            self.tell_feed(bands);
        }
        let counts = self.counts();
        self.emit(ActivityEvent::Unread(counts));
    }

    /// The unread counts.
    pub fn counts(&self) -> UnreadCounts {
        self.unread.counts()
    }

    /// The unread rows of a band (all bands when `None`), optionally of one table.
    pub fn unread_rows(&self, band: Option<&str>, table: Option<&str>) -> Vec<&Mark> {
        self.unread.ids(band, table)
    }

    /// A write finished.
    pub fn written(&mut self, op: OpId, result: Result<(), StoreError>) {
        match (self.waiting.remove(&op), result) {
            (Some(Waiting::Feed), Ok(())) => self.emit(ActivityEvent::Persisted),
            (Some(Waiting::Marks | Waiting::Feed), Err(error)) => {
                self.emit(ActivityEvent::Error(error))
            }
            _ => {}
        }
    }

    /// A names lookup was answered: toasts that waited for the names show now. A failure
    /// leaves them unknown ("Someone"); the next change by them asks again.
    pub fn answered(&mut self, op: OpId, result: HttpResult) {
        let Some(Waiting::Names(asked)) = self.waiting.remove(&op) else {
            return;
        };
        let HttpResult::Response { status: 200, body } = result else {
            for id in &asked {
                self.named.remove(id);
            }
            return;
        };
        let rows = crate::fields::array(&body).unwrap_or_default();
        let mut found = Vec::new();
        for row in rows {
            let text = |key| row.get(key).and_then(Value::as_str);
            if let (Some(id), Some(name)) = (text("id"), text("display_name")) {
                self.notifier.set_name(id, name);
                found.push((id.to_owned(), name.to_owned()));
            }
        }
        self.deliver();
        if !found.is_empty() {
            self.write(Waiting::Profiles, ActivityWrite::Profiles(found));
        }
    }

    fn emit(&mut self, event: ActivityEvent) {
        self.outputs.push_back(ActivityOutput::Event(event));
    }

    fn op(&mut self, waiting: Waiting) -> OpId {
        self.next_op += 1;
        let op = OpId(self.next_op);
        self.waiting.insert(op, waiting);
        op
    }

    fn write(&mut self, waiting: Waiting, write: ActivityWrite) {
        let op = self.op(waiting);
        self.outputs.push_back(ActivityOutput::Write { op, write });
    }

    fn deliver(&mut self) {
        while let Some(toast) = self.notifier.poll_toast() {
            self.emit(ActivityEvent::Toast(toast));
        }
    }

    /// Persists changed marks, reads the feed entries whose rows are no longer unread (so
    /// the feed agrees with the marks), and tells the counts.
    fn persist(&mut self, effects: Vec<MarkEffect>) {
        if effects.is_empty() {
            return;
        }
        let mut slots = SortedSet::new();
        for effect in &effects {
            if let Some(slot) = effect.mark().slot() {
                slots.insert(slot);
            }
        }
        self.write_slots(slots, Vec::new());
        let unread = &self.unread;
        let feed = self.feed.sync_read(|table, id| unread.is_unread(table, id));
        self.persist_feed(feed);
        let counts = self.counts();
        self.emit(ActivityEvent::Unread(counts));
    }

    fn persist_feed(&mut self, effects: FeedEffects) {
        if effects.is_empty() {
            return;
        }
        self.write_feed(&effects.bands, Vec::new());
        self.tell_feed(effects.bands);
    }

    /// Rewrites these bands' feed records (removing those left empty) and removes the records
    /// with keys `stale`.
    fn write_feed(&mut self, bands: &SortedSet<String>, mut stale: Vec<String>) {
        let mut put = Vec::new();
        for band in bands {
            match self.feed.record(band) {
                Some(record) => put.push(record),
                None => stale.push(FeedRecord::key_of(band)),
            }
        }
        self.write(Waiting::Feed, ActivityWrite::Feed { put, delete: stale });
    }

    fn tell_feed(&mut self, bands: SortedSet<String>) {
        if bands.is_empty() {
            return;
        }
        let mut unread = Vec::with_capacity(bands.len());
        for band in bands {
            let count = self.feed.unread_count(&band);
            unread.push((band, count));
        }
        self.emit(ActivityEvent::Feed(unread));
    }

    /// Rewrites these records of marks (removing those left empty) and removes the records
    /// with keys `stale`.
    fn write_slots(&mut self, slots: SortedSet<SlotId>, mut stale: Vec<String>) {
        let mut put = Vec::new();
        for slot in self.unread.slots(&slots) {
            if slot.ids.is_empty() {
                stale.push(slot.key);
            } else {
                put.push(slot);
            }
        }
        let write = ActivityWrite::Marks { put, delete: stale };
        self.write(Waiting::Marks, write);
    }

    /// Looks up display names not known yet; a toast waits for them briefly (see
    /// [`Notifier`]).
    fn look_up_names(&mut self, rows: &[ObservedRow]) {
        // Only authors not seen before are copied: a burst is mostly one or two people.
        let mut missing: Vec<String> = Vec::new();
        let mut ids = String::new();
        for row in rows {
            let Some(author) = row.author.as_deref() else {
                continue;
            };
            if self.named.contains(author) || !self.named.insert(author.to_owned()) {
                continue;
            }
            if !ids.is_empty() {
                ids.push(',');
            }
            ids.push_str(&percent_encode(author));
            missing.push(author.to_owned());
        }
        if missing.is_empty() {
            return;
        }
        let request = HttpRequest::get(format!(
            "/rest/v1/profiles?select=id,display_name&id=in.({ids})"
        ));
        let op = self.op(Waiting::Names(missing));
        self.outputs.push_back(ActivityOutput::Http { op, request });
    }
}

/// The marks in the stored records, and the keys of records that hold one mark each (as an
/// earlier version stored them).
fn read_marks(records: &[Value]) -> (Vec<Mark>, Vec<String>) {
    let mut marks = Vec::new();
    let mut legacy = Vec::new();
    for record in records {
        if let Some(slot) = MarkSlot::from_json(record) {
            marks.extend(slot.marks());
        } else if let Some(mark) = Mark::from_json(record) {
            legacy.push(mark.key.clone());
            marks.push(mark);
        }
    }
    (marks, legacy)
}

/// The feed entries in the stored records (unreadable ones are skipped), and the keys of
/// records that hold one entry each (as an earlier version stored them).
fn read_entries(records: &[Value]) -> (Vec<FeedEntry>, Vec<String>) {
    let mut entries = Vec::new();
    let mut legacy = Vec::new();
    for record in records {
        let (held, one) = FeedRecord::entries_of(record);
        if one {
            for entry in &held {
                legacy.push(entry.id.clone());
            }
        }
        entries.extend(held);
    }
    (entries, legacy)
}
