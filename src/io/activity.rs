//! Activity's commands and queries over the [`Driver`]: unread marks, the activity feed and
//! display names. The core's activity engine decides; what it persists and looks up is
//! carried out by the driver.

use super::driver::Driver;
use super::store::{from_js, Store, StoreError, ACTIVITY, PROFILES, READ_MARKS};
use rockon_sync_core::feed::FeedEntry;
use rockon_sync_core::notify::NotifyConfig;
use rockon_sync_core::sync::ActivityEngine;
use rockon_sync_core::unread::{Mark, UnreadCounts};
use rockon_sync_core::value::Value;

pub use rockon_sync_core::sync::ActivityEvent;

/// A store's records as JSON values.
async fn records(store: &Store, name: &str) -> Result<Vec<Value>, StoreError> {
    let stored = store.all(name).await?;
    let mut records = Vec::with_capacity(stored.length() as usize);
    for record in stored.iter() {
        records.extend(from_js(&record).ok());
    }
    Ok(records)
}

/// The activity of user `me` as persisted: marks, feed and cached display names.
pub async fn load(
    store: &Store,
    me: &str,
    config: NotifyConfig,
) -> Result<ActivityEngine, StoreError> {
    let marks = records(store, READ_MARKS).await?;
    let feed = records(store, ACTIVITY).await?;
    let mut names = Vec::new();
    for profile in records(store, PROFILES).await? {
        let text = |key| profile.get(key).and_then(Value::as_str).map(str::to_owned);
        if let (Some(id), Some(name)) = (text("id"), text("displayName")) {
            names.push((id, name));
        }
    }
    Ok(ActivityEngine::new(me, config, &marks, &feed, names))
}

/// Unread marks, the feed and notifications of one client (a handle: clones share it).
#[derive(Clone)]
pub struct Activity {
    driver: Driver,
}

impl Activity {
    /// The activity of the client `driver` carries out.
    pub fn new(driver: Driver) -> Activity {
        Activity { driver }
    }

    fn run<R>(&self, command: impl FnOnce(&mut ActivityEngine) -> R) -> R {
        self.driver.run(|engine| command(engine.activity_mut()))
    }

    /// The user viewed or edited a row.
    pub fn mark_read(&self, table: &str, id: &str) {
        self.run(|activity| activity.mark_read(table, id));
    }

    /// A member's display name, when known.
    pub fn name_of(&self, user: &str) -> Option<String> {
        self.driver.engine().activity().name_of(user)
    }

    /// The band's activity, newest first: at most `limit` entries, older than `before`.
    pub fn feed_page(&self, band: &str, limit: usize, before: Option<&str>) -> Vec<FeedEntry> {
        let engine = self.driver.engine();
        let page = engine.activity().feed_page(band, limit, before);
        let mut entries = Vec::with_capacity(page.len());
        for entry in page {
            entries.push(entry.clone());
        }
        entries
    }

    /// How many of the band's activity entries are unread.
    pub fn feed_unread(&self, band: &str) -> usize {
        self.driver.engine().activity().feed_unread(band)
    }

    /// Marks the band's entries with `ids` read (all when `None`), and their rows with them.
    /// Returns how many entries were unread.
    pub fn mark_feed_read(&self, band: &str, ids: Option<&[String]>) -> usize {
        self.run(|activity| activity.mark_feed_read(band, ids))
    }

    /// Marks a band's rows read (all bands when `band` is `None`), optionally of one table.
    /// Returns how many were unread.
    pub fn mark_all_read(&self, band: Option<&str>, table: Option<&str>) -> usize {
        self.run(|activity| activity.mark_all_read(band, table))
    }

    /// Takes in the marks and feed another tab changed, and tells the app the counts.
    pub async fn reload(&self) {
        let store = self.driver.store().clone();
        let Ok(marks) = records(&store, READ_MARKS).await else {
            return;
        };
        let feed = records(&store, ACTIVITY).await.ok();
        self.run(|activity| activity.reload(&marks, feed.as_deref()));
    }

    /// The unread counts.
    pub fn counts(&self) -> UnreadCounts {
        self.driver.engine().activity().counts()
    }

    /// The unread rows of a band (all bands when `None`), optionally of one table.
    pub fn unread_rows(&self, band: Option<&str>, table: Option<&str>) -> Vec<Mark> {
        let engine = self.driver.engine();
        let rows = engine.activity().unread_rows(band, table);
        let mut marks = Vec::with_capacity(rows.len());
        for mark in rows {
            marks.push(mark.clone());
        }
        marks
    }
}
