//! Unread tracking: rows another member created or changed since this user last looked.
//!
//! The user's own changes, from this device or any other, never make a row unread, and they
//! clear a mark: whoever edits a row has seen it. Marks are persisted by the shell, one record
//! per band and table ([`MarkSlot`]); this model decides which marks come and go and keeps the
//! counts the app shows.

use crate::notify::Action;
use crate::sorted::SortedMap;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, DefaultHasher};

/// A row that changed on the server, as the read path saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObservedRow {
    /// Wire table name.
    pub table: String,
    /// The row's band.
    pub scope: String,
    /// The row.
    pub id: String,
    /// Who changed it (`last_modified_by`); unknown for a hard delete.
    pub author: Option<String>,
    /// The row's label (title, name), for notifications.
    pub label: Option<String>,
    /// What happened.
    pub action: Action,
}

/// One unread row, as persisted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Mark {
    /// `table:id`.
    pub key: String,
    /// Wire table name.
    pub table: String,
    /// The row's band.
    pub band_id: String,
    /// The row.
    pub id: String,
}

impl Mark {
    /// The key of a row's mark.
    pub fn key_of(table: &str, id: &str) -> String {
        format!("{table}:{id}")
    }
}

/// The unread rows of one band's table, as persisted. One record per band and table, not per
/// row: a burst that marks thousands of rows then writes a handful of records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MarkSlot {
    /// The record's key, [`MarkSlot::key_of`] (never equal to a [`Mark`] key).
    pub key: String,
    /// The band.
    pub band_id: String,
    /// Wire table name.
    pub table: String,
    /// The unread rows.
    pub ids: Vec<String>,
}

impl MarkSlot {
    /// The key of a band's table's record. Mark keys start with a table name, so the `#`
    /// keeps the two apart in one store.
    pub fn key_of(band: &str, table: &str) -> String {
        format!("#{band}/{table}")
    }

    /// The marks the record holds.
    pub fn marks(&self) -> impl Iterator<Item = Mark> + '_ {
        self.ids.iter().map(|id| Mark {
            key: Mark::key_of(&self.table, id),
            table: self.table.clone(),
            band_id: self.band_id.clone(),
            id: id.clone(),
        })
    }
}

/// A change to the marks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MarkEffect {
    /// This mark was added.
    Put(Mark),
    /// This mark was removed.
    Remove(Mark),
}

impl MarkEffect {
    /// The mark added or removed.
    pub fn mark(&self) -> &Mark {
        match self {
            MarkEffect::Put(mark) | MarkEffect::Remove(mark) => mark,
        }
    }
}

/// Unread counts: per band, per table, and in total.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UnreadCounts {
    /// Every unread row.
    pub total: usize,
    /// band → table → count.
    pub by_band: SortedMap<String, SortedMap<String, usize>>,
}

/// The unread marks of one user.
#[derive(Debug, Clone, Default)]
pub struct Unread {
    me: String,
    /// Hashed, not sorted: a burst can mark thousands of rows in random key order.
    marks: HashMap<String, Mark, BuildHasherDefault<DefaultHasher>>,
    /// (band, table) → marks, kept up to date so counts cost nothing per change.
    tally: SortedMap<(String, String), usize>,
}

impl Unread {
    /// The marks of user `me`, as loaded from storage.
    pub fn new(me: impl Into<String>, marks: impl IntoIterator<Item = Mark>) -> Self {
        let mut unread = Self {
            me: me.into(),
            ..Self::default()
        };
        unread.replace(marks);
        unread
    }

    fn insert(&mut self, mark: Mark) {
        let slot = (mark.band_id.clone(), mark.table.clone());
        if self.marks.insert(mark.key.clone(), mark).is_none() {
            *self.tally.get_or_insert_with(slot, || 0) += 1;
        }
    }

    fn remove(&mut self, key: &str) -> Option<Mark> {
        let mark = self.marks.remove(key)?;
        let slot = (mark.band_id.clone(), mark.table.clone());
        if let Some(count) = self.tally.get_mut(&slot) {
            *count -= 1;
            if *count == 0 {
                self.tally.remove(&slot);
            }
        }
        Some(mark)
    }

    /// Replaces the marks with those in storage (another tab changed them).
    pub fn replace(&mut self, marks: impl IntoIterator<Item = Mark>) {
        self.marks.clear();
        self.tally.clear();
        for mark in marks {
            self.insert(mark);
        }
    }

    /// Whether a row is unread.
    pub fn is_unread(&self, table: &str, id: &str) -> bool {
        self.marks.contains_key(&Mark::key_of(table, id))
    }

    /// Takes in rows that changed on the server; returns what to persist.
    pub fn observe<'a>(
        &mut self,
        rows: impl IntoIterator<Item = &'a ObservedRow>,
    ) -> Vec<MarkEffect> {
        let mut effects = Vec::new();
        for row in rows {
            let key = Mark::key_of(&row.table, &row.id);
            let by_other = row.author.as_deref().is_some_and(|a| a != self.me);
            let own = row.author.as_deref() == Some(self.me.as_str());
            if row.action == Action::Deleted || own {
                // Gone, or seen by whoever just edited it: nothing left to read.
                if let Some(mark) = self.remove(&key) {
                    effects.push(MarkEffect::Remove(mark));
                }
            } else if by_other && !self.marks.contains_key(&key) {
                let mark = Mark {
                    key,
                    table: row.table.clone(),
                    band_id: row.scope.clone(),
                    id: row.id.clone(),
                };
                self.insert(mark.clone());
                effects.push(MarkEffect::Put(mark));
            }
        }
        effects
    }

    /// The user viewed or edited a row; returns its mark if it was unread.
    pub fn mark_read(&mut self, table: &str, id: &str) -> Option<Mark> {
        self.remove(&Mark::key_of(table, id))
    }

    /// Marks every row read, or only a band's, or only one table's of a band; returns the
    /// marks removed.
    pub fn mark_all_read(&mut self, band: Option<&str>, table: Option<&str>) -> Vec<Mark> {
        let keys: Vec<String> = self
            .marks
            .values()
            .filter(|m| band.is_none_or(|b| m.band_id == b))
            .filter(|m| table.is_none_or(|t| m.table == t))
            .map(|m| m.key.clone())
            .collect();
        keys.iter().filter_map(|key| self.remove(key)).collect()
    }

    /// Forgets a band's marks (the user left it); returns the marks removed.
    pub fn forget_band(&mut self, band: &str) -> Vec<Mark> {
        self.mark_all_read(Some(band), None)
    }

    /// The record that persists a band's table's marks now (its ids empty if none are left).
    pub fn slot(&self, band: &str, table: &str) -> MarkSlot {
        let mut ids: Vec<String> = self
            .marks
            .values()
            .filter(|m| m.band_id == band && m.table == table)
            .map(|m| m.id.clone())
            .collect();
        // Hashed marks come in no order; a stable record is easier to read and to compare.
        ids.sort_unstable();
        MarkSlot {
            key: MarkSlot::key_of(band, table),
            band_id: band.to_owned(),
            table: table.to_owned(),
            ids,
        }
    }

    /// The unread rows of a band (or all), for lists that show badges, in no particular order.
    pub fn ids(&self, band: Option<&str>, table: Option<&str>) -> Vec<&Mark> {
        self.marks
            .values()
            .filter(|m| band.is_none_or(|b| m.band_id == b))
            .filter(|m| table.is_none_or(|t| m.table == t))
            .collect()
    }

    /// The counts the app shows.
    pub fn counts(&self) -> UnreadCounts {
        let mut counts = UnreadCounts {
            total: self.marks.len(),
            ..UnreadCounts::default()
        };
        for ((band, table), count) in &self.tally {
            counts
                .by_band
                .get_or_insert_with(band.clone(), SortedMap::new)
                .insert(table.clone(), *count);
        }
        counts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: &str, author: Option<&str>, action: Action) -> ObservedRow {
        ObservedRow {
            table: "songs".into(),
            scope: "b1".into(),
            id: id.into(),
            author: author.map(Into::into),
            label: None,
            action,
        }
    }

    #[test]
    fn others_changes_are_unread_until_read_and_own_changes_never() {
        let mut unread = Unread::new("me", []);
        let effects = unread.observe(&[
            row("1", Some("alice"), Action::Added),
            row("2", Some("me"), Action::Added),
            row("3", None, Action::Updated),
        ]);
        assert_eq!(effects.len(), 1);
        assert!(unread.is_unread("songs", "1"));
        assert!(!unread.is_unread("songs", "2"), "own change, any device");
        assert!(!unread.is_unread("songs", "3"), "unknown author");
        assert!(
            unread
                .observe(&[row("1", Some("bob"), Action::Updated)])
                .is_empty(),
            "already unread: nothing to persist"
        );
        assert_eq!(unread.counts().total, 1);
        assert_eq!(unread.counts().by_band["b1"]["songs"], 1);
        let read = unread.mark_read("songs", "1").map(|mark| mark.key);
        assert_eq!(read.as_deref(), Some("songs:1"));
        assert_eq!(unread.mark_read("songs", "1"), None, "twice is harmless");
        assert_eq!(unread.counts(), UnreadCounts::default());
    }

    #[test]
    fn editing_or_deleting_clears_and_marks_survive_a_reload() {
        let mut unread = Unread::new("me", []);
        unread.observe(&[
            row("1", Some("alice"), Action::Added),
            row("2", Some("alice"), Action::Added),
            row("3", Some("alice"), Action::Added),
        ]);
        let effects = unread.observe(&[
            row("1", Some("me"), Action::Updated),
            row("2", Some("bob"), Action::Deleted),
        ]);
        let removed: Vec<&str> = effects.iter().map(|e| e.mark().key.as_str()).collect();
        assert_eq!(removed, ["songs:1", "songs:2"]);
        assert!(matches!(effects[0], MarkEffect::Remove(_)));
        let slot = unread.slot("b1", "songs");
        assert_eq!(
            (slot.key.as_str(), slot.ids.as_slice()),
            ("#b1/songs", &["3".to_owned()][..])
        );
        let reloaded = Unread::new("me", slot.marks());
        assert!(reloaded.is_unread("songs", "3"));
        assert_eq!(reloaded.counts().total, 1);
    }

    #[test]
    fn mark_all_read_by_band_and_table() {
        let mut unread = Unread::new("me", []);
        let mut other = row("9", Some("alice"), Action::Added);
        other.scope = "b2".into();
        let mut setlist = row("8", Some("alice"), Action::Added);
        setlist.table = "setlists".into();
        unread.observe(&[row("1", Some("alice"), Action::Added), other, setlist]);
        let keys = |marks: Vec<Mark>| marks.into_iter().map(|m| m.key).collect::<Vec<_>>();
        assert_eq!(
            keys(unread.mark_all_read(Some("b1"), Some("songs"))),
            ["songs:1"]
        );
        assert_eq!(keys(unread.forget_band("b2")), ["songs:9"]);
        assert_eq!(keys(unread.mark_all_read(None, None)), ["setlists:8"]);
        assert!(unread.slot("b1", "setlists").ids.is_empty());
        assert_eq!(unread.counts().total, 0);
    }
}
