//! Presence on band channels: who of the band is online, what they are viewing and what they
//! are editing (`editing: { table, id }` in the tracked meta). Updates
//! go through the core's [`TrackThrottle`], so a client stays under Supabase's limit however
//! fast the app changes views, and are sent again after every rejoin.

use rockon_sync_core::realtime::presence::{PresenceState, TrackThrottle};
use rockon_sync_core::sorted::SortedMap;
use rockon_sync_core::Millis;
use serde::Serialize;
use serde_json::{Map, Value};
use std::cell::RefCell;

/// One member online in a band, over all their tabs and devices.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Member {
    /// The user id (the presence key).
    pub user_id: String,
    /// Tabs and devices they are present with.
    pub sessions: usize,
    /// What the newest session shows (`view`, `itemId`, …, as the app tracked it).
    pub meta: Map<String, Value>,
    /// The row one of their sessions is editing, if any.
    pub editing: Option<EditedRow>,
}

/// A row someone is editing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EditedRow {
    /// Wire table name.
    pub table: String,
    /// The row.
    pub id: String,
}

/// This client's presence and the band members it sees.
#[derive(Default)]
pub struct PresenceTracker {
    key: RefCell<Option<String>>,
    throttle: RefCell<TrackThrottle>,
    members: RefCell<SortedMap<String, Vec<Member>>>,
}

/// The band of a band channel's topic.
pub fn band_of(topic: &str) -> Option<&str> {
    topic.strip_prefix("realtime:band:")
}

/// A band's channel topic.
pub fn topic_of(band: &str) -> String {
    format!("realtime:band:{band}")
}

impl PresenceTracker {
    /// The presence key this client tracks under (the user id), once known.
    pub fn key(&self) -> Option<String> {
        self.key.borrow().clone()
    }

    /// Sets the presence key.
    pub fn set_key(&self, key: &str) {
        *self.key.borrow_mut() = Some(key.to_owned());
    }

    /// The app wants `meta` shown on a band's channel.
    pub fn want(&self, band: &str, meta: Value) {
        self.throttle.borrow_mut().set(&topic_of(band), meta);
    }

    /// A channel was joined (again): its presence must be sent again.
    pub fn rejoined(&self, topic: &str) {
        self.throttle.borrow_mut().rejoined(topic);
    }

    /// A band was left.
    pub fn forget(&self, band: &str) {
        self.throttle.borrow_mut().forget(&topic_of(band));
        self.members.borrow_mut().remove(band);
    }

    /// Sends what the budget allows through `track` (false: the channel refused, it waits
    /// for its rejoin); returns when to call again.
    pub fn flush(&self, now: Millis, mut track: impl FnMut(&str, Value) -> bool) -> Option<Millis> {
        loop {
            let next = self.throttle.borrow_mut().poll_send(now);
            let Some((topic, meta)) = next else { break };
            if !track(&topic, meta) {
                self.throttle.borrow_mut().refused();
            }
        }
        self.throttle.borrow().poll_timeout()
    }

    /// Takes in a channel's presence state; returns the band's members now.
    pub fn update(&self, band: &str, state: &PresenceState) -> Vec<Member> {
        let members: Vec<Member> = state
            .entries()
            .iter()
            .filter(|(_, metas)| !metas.is_empty())
            .map(|(key, metas)| {
                let mut meta = metas.last().cloned().unwrap_or_default();
                meta.remove("phx_ref");
                meta.remove("phx_ref_prev");
                // Any of their tabs or devices may be the one editing.
                let editing = metas.iter().rev().find_map(|m| {
                    let edited = m.get("editing")?;
                    Some(EditedRow {
                        table: edited.get("table")?.as_str()?.to_owned(),
                        id: edited.get("id")?.as_str()?.to_owned(),
                    })
                });
                Member {
                    user_id: key.clone(),
                    sessions: metas.len(),
                    meta,
                    editing,
                }
            })
            .collect();
        self.members
            .borrow_mut()
            .insert(band.to_owned(), members.clone());
        members
    }

    /// The members other than `me`, in any band, editing row `id` of `table`.
    pub fn editors(&self, table: &str, id: &str, me: &str) -> Vec<Member> {
        let members = self.members.borrow();
        let mut editors: Vec<Member> = members
            .values()
            .flatten()
            .filter(|m| m.user_id != me)
            .filter(|m| {
                m.editing
                    .as_ref()
                    .is_some_and(|e| e.table == table && e.id == id)
            })
            .cloned()
            .collect();
        editors.dedup_by(|a, b| a.user_id == b.user_id);
        editors
    }

    /// The members of a band seen online now.
    pub fn members(&self, band: &str) -> Vec<Member> {
        self.members.borrow().get(band).cloned().unwrap_or_default()
    }
}
