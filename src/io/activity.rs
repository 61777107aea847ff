//! Carries out the core's activity engine ([`ActivityEngine`]): unread marks, the feed and
//! display names persisted in IndexedDB, names looked up over REST, and one timer for toasts
//! held back to batch a burst.

use super::clock;
use super::http::{self, Endpoint};
use super::store::{from_js, to_js, Store, ACTIVITY, PROFILES, READ_MARKS};
use gloo_timers::callback::Timeout;
use rockon_sync_core::feed::FeedEntry;
use rockon_sync_core::notify::NotifyConfig;
use rockon_sync_core::sync::{ActivityEngine, ActivityOutput, ActivityWrite};
use rockon_sync_core::unread::{Mark, ObservedRow, UnreadCounts};
use serde_json::Value;
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::JsValue;

pub use rockon_sync_core::sync::ActivityEvent;

/// Unread marks and notifications of one client (a handle: clones share it).
#[derive(Clone)]
pub struct Activity {
    inner: Rc<Inner>,
}

struct Inner {
    engine: RefCell<ActivityEngine>,
    store: Rc<Store>,
    endpoint: RefCell<Endpoint>,
    timer: RefCell<Option<Timeout>>,
    on_event: Box<dyn Fn(ActivityEvent)>,
}

/// A store's records as JSON values.
async fn records(store: &Store, name: &str) -> Result<Vec<Value>, super::store::StoreError> {
    let records = store.all(name).await?;
    Ok(records.iter().filter_map(|r| from_js(r).ok()).collect())
}

impl Activity {
    /// Loads the persisted marks, feed and cached names of user `me`.
    pub async fn new(
        store: Rc<Store>,
        endpoint: Endpoint,
        me: &str,
        config: NotifyConfig,
        on_event: Box<dyn Fn(ActivityEvent)>,
    ) -> Result<Activity, super::store::StoreError> {
        let marks = records(&store, READ_MARKS).await?;
        let feed = records(&store, ACTIVITY).await?;
        let names = records(&store, PROFILES)
            .await?
            .into_iter()
            .filter_map(|profile| {
                let text = |key| Some(profile.get(key)?.as_str()?.to_owned());
                Some((text("id")?, text("displayName")?))
            });
        let engine = ActivityEngine::new(me, config, &marks, &feed, names.collect());
        let activity = Activity {
            inner: Rc::new(Inner {
                engine: RefCell::new(engine),
                store,
                endpoint: RefCell::new(endpoint),
                timer: RefCell::new(None),
                on_event,
            }),
        };
        activity.carry_out();
        Ok(activity)
    }

    /// Runs `command` on the engine, then carries out what it asks.
    fn run<R>(&self, command: impl FnOnce(&mut ActivityEngine) -> R) -> R {
        let result = command(&mut self.inner.engine.borrow_mut());
        self.carry_out();
        result
    }

    /// Uses a new access token for name lookups.
    pub fn set_token(&self, token: String) {
        self.inner.endpoint.borrow_mut().token = token;
    }

    /// Rows the read path stored. `quiet` for a band's first download.
    pub fn observe(&self, rows: &[ObservedRow], quiet: bool) {
        let (now, wall) = (clock::now(), js_sys::Date::now());
        self.run(|engine| engine.observe(now, wall, rows, quiet));
    }

    /// The connection went up or down (for "connection lost / back" toasts).
    pub fn connection(&self, connected: bool) {
        let now = clock::now();
        self.run(|engine| engine.connection(now, connected));
    }

    /// The user viewed or edited a row.
    pub fn mark_read(&self, table: &str, id: &str) {
        self.run(|engine| engine.mark_read(table, id));
    }

    /// Another member's change met one of this user's edits: a toast at once.
    pub fn conflict(&self, author: Option<&str>, table: &str, label: Option<&str>, deleted: bool) {
        self.run(|engine| engine.conflict(author, table, label, deleted));
    }

    /// A member's display name, when known.
    pub fn name_of(&self, user: &str) -> Option<String> {
        self.inner.engine.borrow().name_of(user)
    }

    /// The band's activity, newest first: at most `limit` entries, older than `before`.
    pub fn feed_page(&self, band: &str, limit: usize, before: Option<&str>) -> Vec<FeedEntry> {
        let engine = self.inner.engine.borrow();
        let page = engine.feed_page(band, limit, before);
        page.into_iter().cloned().collect()
    }

    /// How many of the band's activity entries are unread.
    pub fn feed_unread(&self, band: &str) -> usize {
        self.inner.engine.borrow().feed_unread(band)
    }

    /// Marks the band's entries with `ids` read (all when `None`), and their rows with them.
    /// Returns how many entries were unread.
    pub fn mark_feed_read(&self, band: &str, ids: Option<&[String]>) -> usize {
        self.run(|engine| engine.mark_feed_read(band, ids))
    }

    /// Drops a band's feed (the user left it).
    pub fn forget_band(&self, band: &str) {
        self.run(|engine| engine.forget_band(band));
    }

    /// Marks a band's rows read (all bands when `band` is `None`), optionally of one table.
    /// Returns how many were unread.
    pub fn mark_all_read(&self, band: Option<&str>, table: Option<&str>) -> usize {
        self.run(|engine| engine.mark_all_read(band, table))
    }

    /// Takes in the marks and feed another tab changed, and tells the app the counts.
    pub async fn reload(&self) {
        let Ok(marks) = records(&self.inner.store, READ_MARKS).await else {
            return;
        };
        let feed = records(&self.inner.store, ACTIVITY).await.ok();
        self.run(|engine| engine.reload(&marks, feed.as_deref()));
    }

    /// The unread counts.
    pub fn counts(&self) -> UnreadCounts {
        self.inner.engine.borrow().counts()
    }

    /// The unread rows of a band (all bands when `None`), optionally of one table.
    pub fn unread_rows(&self, band: Option<&str>, table: Option<&str>) -> Vec<Mark> {
        let engine = self.inner.engine.borrow();
        engine
            .unread_rows(band, table)
            .into_iter()
            .cloned()
            .collect()
    }

    /// Carries out the engine's outputs; events go to the app once the engine is free.
    fn carry_out(&self) {
        let mut events = Vec::new();
        loop {
            let output = self.inner.engine.borrow_mut().poll_output();
            match output {
                Some(ActivityOutput::Write { op, write }) => {
                    let (store_name, puts, deletes) = records_of(write);
                    self.spawn(async move |inner: Rc<Inner>| {
                        let result = inner.store.put_and_delete(store_name, &puts, &deletes);
                        let result = result.await.map_err(|e| e.0);
                        inner.engine.borrow_mut().written(op, result);
                    });
                }
                Some(ActivityOutput::Http { op, request }) => {
                    self.spawn(async move |inner: Rc<Inner>| {
                        let endpoint = inner.endpoint.borrow().clone();
                        let result = http::send(&endpoint, &request).await;
                        inner.engine.borrow_mut().answered(op, result);
                    });
                }
                Some(ActivityOutput::Event(event)) => events.push(event),
                None => break,
            }
        }
        self.schedule();
        for event in events {
            (self.inner.on_event)(event);
        }
    }

    /// Runs a storage or HTTP job and carries out what its answer asks, unless the client is
    /// gone.
    fn spawn(&self, job: impl AsyncFnOnce(Rc<Inner>) + 'static) {
        let weak = Rc::downgrade(&self.inner);
        wasm_bindgen_futures::spawn_local(async move {
            let Some(inner) = weak.upgrade() else { return };
            job(inner.clone()).await;
            Activity { inner }.carry_out();
        });
    }

    fn schedule(&self) {
        let due = self.inner.engine.borrow().poll_timeout();
        let timer = due.map(|at| {
            let weak = Rc::downgrade(&self.inner);
            let delay = at.since(clock::now()).min(u64::from(u32::MAX)) as u32;
            Timeout::new(delay, move || {
                if let Some(inner) = weak.upgrade() {
                    let now = clock::now().max(at);
                    Activity { inner }.run(|engine| engine.handle_timeout(now));
                }
            })
        });
        *self.inner.timer.borrow_mut() = timer;
    }
}

/// The object store, records and keys of a write.
fn records_of(write: ActivityWrite) -> (&'static str, Vec<JsValue>, Vec<String>) {
    let all = |value: JsValue| js_sys::Array::from(&value).iter().collect();
    match write {
        ActivityWrite::Marks { put, delete } => (READ_MARKS, all(to_js(&put)), delete),
        ActivityWrite::Feed { put, delete } => (ACTIVITY, all(to_js(&put)), delete),
        ActivityWrite::Profiles(names) => {
            let records = names
                .iter()
                .map(|(id, name)| serde_json::json!({ "id": id, "displayName": name }));
            (
                PROFILES,
                all(to_js(&records.collect::<Vec<_>>())),
                Vec::new(),
            )
        }
    }
}
