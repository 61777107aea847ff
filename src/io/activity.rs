//! Other members' activity: unread marks and the activity feed (persisted, so they survive a
//! reload) and batched notifications, all fed by the rows the read path applies. The rules
//! live in the core ([`Unread`], [`Feed`], [`Notifier`]); this drives them with storage,
//! timers and profile lookups.

use super::clock;
use super::http::{self, Endpoint};
use super::store::{from_js, to_js, Store, StoreError, ACTIVITY, PROFILES, READ_MARKS};
use gloo_timers::callback::Timeout;
use rockon_sync_core::feed::{Feed, FeedEffects, FeedEntry, DEFAULT_CAPACITY};
use rockon_sync_core::notify::{Notifier, NotifyConfig, Toast};
use rockon_sync_core::outbox::{HttpRequest, HttpResult};
use rockon_sync_core::sorted::SortedSet;
use rockon_sync_core::unread::{
    Mark, MarkEffect, MarkSlot, ObservedRow, SlotId, Unread, UnreadCounts,
};
use serde_json::Value;
use std::cell::RefCell;
use std::rc::{Rc, Weak};

/// What activity tells the app.
pub enum ActivityEvent {
    /// The unread counts changed.
    Unread(UnreadCounts),
    /// A toast to show.
    Toast(Toast),
    /// Persisting marks failed.
    Error(StoreError),
    /// Marks or feed entries were persisted (other tabs should reload them).
    Persisted,
    /// These bands' activity feeds changed (new entries, or entries read), with how many of
    /// each band's entries are unread now.
    Feed(Vec<(String, usize)>),
}

/// Unread marks and notifications of one client (a handle: clones share it).
#[derive(Clone)]
pub struct Activity {
    inner: Rc<Inner>,
}

struct Inner {
    store: Rc<Store>,
    endpoint: RefCell<Endpoint>,
    unread: RefCell<Unread>,
    feed: RefCell<Feed>,
    notifier: RefCell<Notifier>,
    /// Authors whose display name is known or being fetched.
    named: RefCell<SortedSet<String>>,
    timer: RefCell<Option<Timeout>>,
    on_event: Box<dyn Fn(ActivityEvent)>,
}

impl Activity {
    /// Loads the persisted marks and cached names of user `me`.
    pub async fn new(
        store: Rc<Store>,
        endpoint: Endpoint,
        me: &str,
        config: NotifyConfig,
        on_event: Box<dyn Fn(ActivityEvent)>,
    ) -> Result<Activity, StoreError> {
        let (marks, legacy) = read_marks(store.all(READ_MARKS).await?);
        let entries = read_entries(store.all(ACTIVITY).await?);
        let mut notifier = Notifier::new(config, me);
        let mut named = SortedSet::new();
        for profile in store.all(PROFILES).await? {
            let text = |key: &str| {
                js_sys::Reflect::get(&profile, &key.into())
                    .ok()?
                    .as_string()
            };
            if let (Some(id), Some(name)) = (text("id"), text("displayName")) {
                notifier.set_name(id.clone(), name);
                named.insert(id);
            }
        }
        let activity = Activity {
            inner: Rc::new(Inner {
                store,
                endpoint: RefCell::new(endpoint),
                unread: RefCell::new(Unread::new(me, marks.iter().cloned())),
                feed: RefCell::new(Feed::new(me, DEFAULT_CAPACITY, entries)),
                notifier: RefCell::new(notifier),
                named: RefCell::new(named),
                timer: RefCell::new(None),
                on_event,
            }),
        };
        if !legacy.is_empty() {
            // Marks stored one per row: store them per band and table instead.
            activity.write_slots(marks.iter().map(Mark::slot).collect(), legacy);
        }
        Ok(activity)
    }

    /// Uses a new access token for profile lookups.
    pub fn set_token(&self, token: String) {
        self.inner.endpoint.borrow_mut().token = token;
    }

    /// Rows the read path applied. `quiet` for a band's first download: what was already
    /// there is neither unread nor news.
    pub fn observe(&self, rows: &[ObservedRow], quiet: bool) {
        if quiet || rows.is_empty() {
            return;
        }
        let effects = self.inner.unread.borrow_mut().observe(rows);
        let seen_at = js_sys::Date::now();
        let feed = self.inner.feed.borrow_mut().observe(rows, seen_at);
        self.persist_feed(feed);
        let now = clock::now();
        {
            let mut notifier = self.inner.notifier.borrow_mut();
            for row in rows {
                if let Some(author) = &row.author {
                    notifier.push(
                        now,
                        rockon_sync_core::notify::Change {
                            author: author.clone(),
                            table: row.table.clone(),
                            label: row.label.clone(),
                            action: row.action,
                        },
                    );
                }
            }
        }
        self.fetch_names(rows.iter().filter_map(|r| r.author.as_deref()));
        self.persist(effects);
        // A known author's first change shows at once.
        self.deliver();
        self.schedule();
    }

    /// The connection went up or down (for "connection lost / back" toasts).
    pub fn connection(&self, connected: bool) {
        self.inner
            .notifier
            .borrow_mut()
            .connection(clock::now(), connected);
        self.deliver();
        self.schedule();
    }

    /// The user viewed or edited a row.
    pub fn mark_read(&self, table: &str, id: &str) {
        let mark = self.inner.unread.borrow_mut().mark_read(table, id);
        if let Some(mark) = mark {
            self.persist(vec![MarkEffect::Remove(mark)]);
        }
    }

    /// Another member's change met one of this user's edits: a toast at once.
    pub fn conflict(&self, author: Option<&str>, table: &str, label: Option<&str>, deleted: bool) {
        self.inner
            .notifier
            .borrow_mut()
            .conflict(author, table, label, deleted);
        self.deliver();
    }

    /// A member's display name, when known.
    pub fn name_of(&self, user: &str) -> Option<String> {
        self.inner.notifier.borrow().name_of(user)
    }

    /// The band's activity, newest first: at most `limit` entries, older than `before`.
    pub fn feed_page(&self, band: &str, limit: usize, before: Option<&str>) -> Vec<FeedEntry> {
        let feed = self.inner.feed.borrow();
        feed.page(band, limit, before)
            .into_iter()
            .cloned()
            .collect()
    }

    /// How many of the band's activity entries are unread.
    pub fn feed_unread(&self, band: &str) -> usize {
        self.inner.feed.borrow().unread_count(band)
    }

    /// Marks the band's entries with `ids` read (all when `None`), and their rows with them.
    /// Returns how many entries were unread.
    pub fn mark_feed_read(&self, band: &str, ids: Option<&[String]>) -> usize {
        let (effects, rows) = self.inner.feed.borrow_mut().mark_read(band, ids);
        let count = effects.put.len();
        let marks: Vec<MarkEffect> = {
            let mut unread = self.inner.unread.borrow_mut();
            rows.iter()
                .filter_map(|(table, id)| unread.mark_read(table, id))
                .map(MarkEffect::Remove)
                .collect()
        };
        self.persist(marks);
        self.persist_feed(effects);
        count
    }

    /// Drops a band's feed (the user left it).
    pub fn forget_band(&self, band: &str) {
        let effects = self.inner.feed.borrow_mut().forget_band(band);
        self.persist_feed(effects);
    }

    /// Marks a band's rows read (all bands when `band` is `None`), optionally of one table.
    /// Returns how many were unread.
    pub fn mark_all_read(&self, band: Option<&str>, table: Option<&str>) -> usize {
        let marks = self.inner.unread.borrow_mut().mark_all_read(band, table);
        let count = marks.len();
        self.persist(marks.into_iter().map(MarkEffect::Remove).collect());
        count
    }

    /// Reads the feed entries whose rows are no longer unread, so the feed agrees with the
    /// marks.
    fn sync_feed(&self) {
        let effects = {
            let unread = self.inner.unread.borrow();
            let mut feed = self.inner.feed.borrow_mut();
            feed.sync_read(|table, id| unread.is_unread(table, id))
        };
        self.persist_feed(effects);
    }

    fn persist_feed(&self, effects: FeedEffects) {
        if effects.is_empty() {
            return;
        }
        let bands = effects.bands();
        let puts: Vec<wasm_bindgen::JsValue> =
            js_sys::Array::from(&to_js(&effects.put)).iter().collect();
        let weak = Rc::downgrade(&self.inner);
        wasm_bindgen_futures::spawn_local(async move {
            let Some(inner) = weak.upgrade() else { return };
            match inner
                .store
                .put_and_delete(ACTIVITY, &puts, &effects.delete)
                .await
            {
                Ok(()) => (inner.on_event)(ActivityEvent::Persisted),
                Err(error) => (inner.on_event)(ActivityEvent::Error(error)),
            }
        });
        self.tell_feed(bands);
    }

    fn tell_feed(&self, bands: Vec<String>) {
        if bands.is_empty() {
            return;
        }
        let unread: Vec<(String, usize)> = {
            let feed = self.inner.feed.borrow();
            bands
                .into_iter()
                .map(|band| {
                    let count = feed.unread_count(&band);
                    (band, count)
                })
                .collect()
        };
        (self.inner.on_event)(ActivityEvent::Feed(unread));
    }

    /// Takes in the marks another tab changed, and tells the app the counts.
    pub async fn reload(&self) {
        let Ok(records) = self.inner.store.all(READ_MARKS).await else {
            return;
        };
        let (marks, _) = read_marks(records);
        self.inner.unread.borrow_mut().replace(marks);
        if let Ok(records) = self.inner.store.all(ACTIVITY).await {
            let entries = read_entries(records);
            let mut bands: Vec<String> = entries.iter().map(|e| e.band_id.clone()).collect();
            bands.sort_unstable();
            bands.dedup();
            self.inner.feed.borrow_mut().replace(entries);
            self.tell_feed(bands);
        }
        (self.inner.on_event)(ActivityEvent::Unread(self.counts()));
    }

    /// The unread counts.
    pub fn counts(&self) -> UnreadCounts {
        self.inner.unread.borrow().counts()
    }

    /// The unread rows of a band (all bands when `None`), optionally of one table.
    pub fn unread_rows(&self, band: Option<&str>, table: Option<&str>) -> Vec<Mark> {
        self.inner
            .unread
            .borrow()
            .ids(band, table)
            .into_iter()
            .cloned()
            .collect()
    }

    fn persist(&self, effects: Vec<MarkEffect>) {
        if effects.is_empty() {
            return;
        }
        let slots = effects.iter().map(|effect| effect.mark().slot()).collect();
        self.write_slots(slots, Vec::new());
        self.sync_feed();
        let counts = self.counts();
        (self.inner.on_event)(ActivityEvent::Unread(counts));
    }

    /// Rewrites these records of marks (removing those left empty) and removes the records
    /// with keys `stale`.
    fn write_slots(&self, slots: SortedSet<SlotId>, mut stale: Vec<String>) {
        let mut records = Vec::new();
        for slot in self.inner.unread.borrow().slots(&slots) {
            if slot.ids.is_empty() {
                stale.push(slot.key);
            } else {
                records.push(slot);
            }
        }
        // One conversion for the whole batch.
        let puts: Vec<wasm_bindgen::JsValue> =
            js_sys::Array::from(&to_js(&records)).iter().collect();
        let removes = stale;
        let weak = Rc::downgrade(&self.inner);
        wasm_bindgen_futures::spawn_local(async move {
            let Some(inner) = weak.upgrade() else { return };
            if let Err(error) = inner
                .store
                .put_and_delete(READ_MARKS, &puts, &removes)
                .await
            {
                (inner.on_event)(ActivityEvent::Error(error));
            }
        });
    }

    /// Looks up display names not known yet; a toast waits for them briefly (see
    /// `rockon_sync_core::notify`).
    fn fetch_names<'a>(&self, authors: impl Iterator<Item = &'a str>) {
        let missing: Vec<String> = {
            let mut named = self.inner.named.borrow_mut();
            // Only authors not seen before are copied: a burst is mostly one or two people.
            authors
                .filter(|a| !named.contains(*a) && named.insert((*a).to_owned()))
                .map(str::to_owned)
                .collect()
        };
        if missing.is_empty() {
            return;
        }
        let weak: Weak<Inner> = Rc::downgrade(&self.inner);
        wasm_bindgen_futures::spawn_local(async move {
            let Some(inner) = weak.upgrade() else { return };
            let ids: Vec<String> = missing
                .iter()
                .map(|id| rockon_sync_core::percent_encode(id))
                .collect();
            let request = HttpRequest::get(format!(
                "/rest/v1/profiles?select=id,display_name&id=in.({})",
                ids.join(",")
            ));
            let endpoint = inner.endpoint.borrow().clone();
            let HttpResult::Response { status: 200, body } = http::send(&endpoint, &request).await
            else {
                // Unknown for now ("Someone"); the next change by them asks again.
                let mut named = inner.named.borrow_mut();
                for id in &missing {
                    named.remove(id);
                }
                return;
            };
            let rows: Vec<Value> = serde_json::from_str(&body).unwrap_or_default();
            let mut cached = Vec::new();
            for row in rows {
                let (Some(id), Some(name)) = (
                    row.get("id").and_then(Value::as_str),
                    row.get("display_name").and_then(Value::as_str),
                ) else {
                    continue;
                };
                inner.notifier.borrow_mut().set_name(id, name);
                let record = serde_json::json!({"id": id, "displayName": name});
                cached.push(to_js(&record));
            }
            // Toasts that waited for these names show now.
            let activity = Activity {
                inner: inner.clone(),
            };
            activity.deliver();
            activity.schedule();
            let _ = inner.store.put_and_delete(PROFILES, &cached, &[]).await;
        });
    }

    fn deliver(&self) {
        loop {
            let toast = self.inner.notifier.borrow_mut().poll_toast();
            let Some(toast) = toast else { break };
            (self.inner.on_event)(ActivityEvent::Toast(toast));
        }
    }

    fn schedule(&self) {
        let due = self.inner.notifier.borrow().poll_timeout();
        let timer = due.map(|at| {
            let weak = Rc::downgrade(&self.inner);
            let delay = at.since(clock::now()).min(u64::from(u32::MAX)) as u32;
            Timeout::new(delay, move || {
                if let Some(inner) = weak.upgrade() {
                    let activity = Activity { inner };
                    activity
                        .inner
                        .notifier
                        .borrow_mut()
                        .handle_timeout(clock::now());
                    activity.deliver();
                    activity.schedule();
                }
            })
        });
        *self.inner.timer.borrow_mut() = timer;
    }
}

/// The marks in the stored records, and the keys of records that hold one mark each (as an
/// earlier version stored them).
fn read_marks(records: Vec<wasm_bindgen::JsValue>) -> (Vec<Mark>, Vec<String>) {
    let mut marks = Vec::new();
    let mut legacy = Vec::new();
    for record in records {
        if let Ok(slot) = from_js::<MarkSlot>(&record) {
            marks.extend(slot.marks());
        } else if let Ok(mark) = from_js::<Mark>(&record) {
            legacy.push(mark.key.clone());
            marks.push(mark);
        }
    }
    (marks, legacy)
}

/// The feed entries in the stored records (unreadable ones are skipped).
fn read_entries(records: Vec<wasm_bindgen::JsValue>) -> Vec<FeedEntry> {
    records
        .iter()
        .filter_map(|record| from_js::<Value>(record).ok())
        .filter_map(|stored| FeedEntry::from_json(&stored))
        .collect()
}
