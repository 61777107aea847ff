//! Unread tracking: rows another member created or changed since this user last looked.
//!
//! The user's own changes, from this device or any other, never make a row unread, and they
//! clear a mark: whoever edits a row has seen it. Marks are persisted by the shell, a few
//! records per band and table ([`MarkSlot`]); this model decides which marks come and go and
//! keeps the counts the app shows.

use crate::notify::Action;
use crate::sorted::{SortedMap, SortedSet};
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

    /// The record that persists this mark.
    pub fn slot(&self) -> SlotId {
        SlotId {
            band_id: self.band_id.clone(),
            table: self.table.clone(),
            chunk: MarkSlot::chunk_of(&self.id),
        }
    }
}

/// Which record persists a mark: its band, its table, and a chunk of the rows' ids.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct SlotId {
    /// The band.
    pub band_id: String,
    /// Wire table name.
    pub table: String,
    /// Which of [`MarkSlot::CHUNKS`] records of the table.
    pub chunk: u32,
}

/// Some of the unread rows of one band's table, as persisted. A few records per band and
/// table, not one per row: a burst that marks thousands of rows writes a handful of records,
/// and a change to one mark rewrites one chunk's ids, not the table's.
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
    /// How many records a band's table's marks are spread over.
    pub const CHUNKS: u32 = 16;

    /// The key of a record. Mark keys start with a table name, so the `#` keeps the two apart
    /// in one store.
    pub fn key_of(slot: &SlotId) -> String {
        format!("#{}/{}/{}", slot.band_id, slot.table, slot.chunk)
    }

    /// The chunk a row's mark is kept in: a hash of its id (FNV-1a), stable across versions
    /// because it decides where stored marks are found.
    pub fn chunk_of(id: &str) -> u32 {
        let hash = id.bytes().fold(0x811c_9dc5_u32, |hash, byte| {
            (hash ^ u32::from(byte)).wrapping_mul(0x0100_0193)
        });
        hash % Self::CHUNKS
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

    /// The records that persist these slots now, in one pass over the marks (a slot's ids are
    /// empty if none are left: its record is to be removed).
    pub fn slots(&self, wanted: &SortedSet<SlotId>) -> Vec<MarkSlot> {
        let mut slots: Vec<MarkSlot> = wanted
            .iter()
            .map(|slot| MarkSlot {
                key: MarkSlot::key_of(slot),
                band_id: slot.band_id.clone(),
                table: slot.table.clone(),
                ids: Vec::new(),
            })
            .collect();
        for mark in self.marks.values() {
            let chunk = MarkSlot::chunk_of(&mark.id);
            // The chunk first: it rules out most slots without comparing strings.
            let at = wanted.iter().position(|slot| {
                slot.chunk == chunk && slot.table == mark.table && slot.band_id == mark.band_id
            });
            if let Some(at) = at {
                slots[at].ids.push(mark.id.clone());
            }
        }
        for slot in &mut slots {
            // Hashed marks come in no order; a stable record is easier to read and to compare.
            slot.ids.sort_unstable();
        }
        slots
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
        let three = unread.ids(None, None)[0].slot();
        let slots = unread.slots(&[three].into_iter().collect());
        let key = format!("#b1/songs/{}", MarkSlot::chunk_of("3"));
        assert_eq!(
            (&slots[0].key, slots[0].ids.as_slice()),
            (&key, &["3".to_owned()][..])
        );
        let reloaded = Unread::new("me", slots[0].marks());
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
        let setlist_slot = SlotId {
            band_id: "b1".into(),
            table: "setlists".into(),
            chunk: MarkSlot::chunk_of("8"),
        };
        let slots = unread.slots(&[setlist_slot].into_iter().collect());
        assert!(slots[0].ids.is_empty(), "an empty slot: its record goes");
        assert_eq!(unread.counts().total, 0);
    }

    #[test]
    fn chunks_are_stable_and_spread() {
        // Stored marks are found by their chunk: it must never change between versions.
        assert_eq!(
            MarkSlot::chunk_of("641657c9-9f8e-5c07-b44e-4ececddac108"),
            5
        );
        let mut used = [0u32; MarkSlot::CHUNKS as usize];
        for n in 0..1_600 {
            used[MarkSlot::chunk_of(&format!("row-{n}")) as usize] += 1;
        }
        assert!(
            used.iter().all(|&count| (50..=150).contains(&count)),
            "{used:?}"
        );
    }
}
