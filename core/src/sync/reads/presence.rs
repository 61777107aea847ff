//! Presence on band channels: who of the band is online, what they are viewing and what they
//! are editing (`editing: { table, id }` in the tracked meta). Updates go through
//! [`TrackThrottle`], so a client stays under Supabase's limit however fast the app changes
//! views, and are sent again after every rejoin.

use crate::json_text::{ObjectWriter, WriteJson};
use crate::realtime::presence::{PresenceState, TrackThrottle};
use crate::sorted::SortedMap;
use crate::value::{Map, Value};
use crate::Millis;

/// One member online in a band, over all their tabs and devices.
#[derive(Debug, Clone, PartialEq)]
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
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EditedRow {
    /// Wire table name.
    pub table: String,
    /// The row.
    pub id: String,
}

impl WriteJson for Member {
    fn write_json(&self, out: &mut String) {
        ObjectWriter::new(out)
            .field("userId", &self.user_id)
            .field("sessions", &self.sessions)
            .field("meta", &self.meta)
            .field("editing", &self.editing)
            .end();
    }
}

impl WriteJson for EditedRow {
    fn write_json(&self, out: &mut String) {
        ObjectWriter::new(out)
            .field("table", &self.table)
            .field("id", &self.id)
            .end();
    }
}

/// This client's presence and the band members it sees.
#[derive(Debug, Default)]
pub(super) struct Presence {
    pub(super) key: Option<String>,
    throttle: TrackThrottle,
    members: SortedMap<String, Vec<Member>>,
}

/// The band of a band channel's topic.
pub fn band_of(topic: &str) -> Option<&str> {
    topic.strip_prefix("realtime:band:")
}

/// A band's channel topic.
pub fn topic_of(band: &str) -> String {
    format!("realtime:band:{band}")
}

impl Presence {
    /// The app wants `meta` shown on a band's channel.
    pub(super) fn want(&mut self, band: &str, meta: Value) {
        self.throttle.set(&topic_of(band), meta);
    }

    /// A channel was joined (again): its presence must be sent again.
    pub(super) fn rejoined(&mut self, topic: &str) {
        self.throttle.rejoined(topic);
    }

    /// A band was left.
    pub(super) fn forget(&mut self, band: &str) {
        self.throttle.forget(&topic_of(band));
        self.members.remove(band);
    }

    /// Sends what the budget allows through `track` (false: the channel refused, it waits
    /// for its rejoin); returns when to call again.
    pub(super) fn flush(
        &mut self,
        now: Millis,
        mut track: impl FnMut(&str, Value) -> bool,
    ) -> Option<Millis> {
        while let Some((topic, meta)) = self.throttle.poll_send(now) {
            if !track(&topic, meta) {
                self.throttle.refused();
            }
        }
        self.throttle.poll_timeout()
    }

    /// Takes in a channel's presence state; returns the band's members now.
    pub(super) fn update(&mut self, band: &str, state: &PresenceState) -> Vec<Member> {
        let mut members: Vec<Member> = Vec::new();
        for (key, metas) in state.entries() {
            if metas.is_empty() {
                continue;
            }
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
            members.push(Member {
                user_id: key.clone(),
                sessions: metas.len(),
                meta,
                editing,
            });
        }
        self.members.insert(band.to_owned(), members.clone());
        members
    }

    /// The members other than `me`, in any band, editing row `id` of `table`.
    pub(super) fn editors(&self, table: &str, id: &str, me: &str) -> Vec<Member> {
        let mut editors: Vec<Member> = Vec::new();
        for member in self.members.values().flatten() {
            let edits = (member.editing.as_ref()).is_some_and(|e| e.table == table && e.id == id);
            if edits && member.user_id != me {
                editors.push(member.clone());
            }
        }
        editors.dedup_by(|a, b| a.user_id == b.user_id);
        editors
    }

    /// The members of a band seen online now.
    pub(super) fn members(&self, band: &str) -> Vec<Member> {
        self.members.get(band).cloned().unwrap_or_default()
    }
}
