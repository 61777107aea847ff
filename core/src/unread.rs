//! Unread tracking: rows another member created or changed since this user last looked.
//!
//! The user's own changes, from this device or any other, never make a row unread, and they
//! clear a mark: whoever edits a row has seen it. Marks are persisted by the shell in records
//! of at most [`MarkSlot::CAPACITY`] rows of one band's table ([`MarkSlot`]); this model
//! decides which marks come and go, which record holds each, and keeps the counts the app
//! shows.

use crate::fields::text;
use crate::hashed::HashedMap;
use crate::json_text::{ObjectWriter, WriteJson};
use crate::notify::Action;
use crate::sorted::{SortedMap, SortedSet};
use crate::value::Value;
#[cfg(test)]
use serde::Deserialize;

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
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(test, derive(Deserialize), serde(rename_all = "camelCase"))]
pub struct Mark {
    /// `table:id`.
    pub key: String,
    /// Wire table name.
    pub table: String,
    /// The row's band.
    pub band_id: String,
    /// The row.
    pub id: String,
    /// The number of the record that holds the mark (see [`MarkSlot`]); `None` until the
    /// model places it. Kept out of the mark's own serialised form.
    #[cfg_attr(test, serde(skip))]
    pub chunk: Option<u32>,
}

impl WriteJson for Mark {
    fn write_json(&self, out: &mut String) {
        ObjectWriter::new(out)
            .field("key", &self.key)
            .field("table", &self.table)
            .field("bandId", &self.band_id)
            .field("id", &self.id)
            .end();
    }
}

impl Mark {
    /// A mark as stored, one per record (as an earlier version stored them); `None` if the
    /// record is not one.
    pub fn from_json(stored: &Value) -> Option<Mark> {
        Some(Mark {
            key: text(stored, "key")?,
            table: text(stored, "table")?,
            band_id: text(stored, "bandId")?,
            id: text(stored, "id")?,
            chunk: None,
        })
    }

    /// The key of a row's mark.
    pub fn key_of(table: &str, id: &str) -> String {
        format!("{table}:{id}")
    }

    /// The record that persists this mark, once placed.
    pub fn slot(&self) -> Option<SlotId> {
        Some(SlotId {
            band_id: self.band_id.clone(),
            table: self.table.clone(),
            chunk: self.chunk?,
        })
    }
}

/// Which record persists a mark: its band, its table, and the record's number among the
/// table's.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct SlotId {
    /// The band.
    pub band_id: String,
    /// Wire table name.
    pub table: String,
    /// The record's number.
    pub chunk: u32,
}

/// Some of the unread rows of one band's table, as persisted: a few records per band and
/// table, not one per row, so a burst that marks thousands of rows writes a handful of
/// records. New marks go to the table's newest record until it holds [`MarkSlot::CAPACITY`]
/// rows, so storing a batch of marks rewrites the records it added to, never every record
/// of the table (which cost each batch of a burst more than the one before).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(test, derive(Deserialize), serde(rename_all = "camelCase"))]
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

impl WriteJson for MarkSlot {
    fn write_json(&self, out: &mut String) {
        ObjectWriter::new(out)
            .field("key", &self.key)
            .field("bandId", &self.band_id)
            .field("table", &self.table)
            .field("ids", &self.ids)
            .end();
    }
}

impl MarkSlot {
    /// How many rows a record takes new marks for; a record may hold more (an earlier version
    /// spread a table's marks over 16 records by a hash of their ids, with no limit).
    pub const CAPACITY: usize = 256;

    /// A record as stored; `None` if it is not one.
    pub fn from_json(stored: &Value) -> Option<MarkSlot> {
        Some(MarkSlot {
            key: text(stored, "key")?,
            band_id: text(stored, "bandId")?,
            table: text(stored, "table")?,
            ids: crate::fields::strings(stored.get("ids")?)?,
        })
    }

    /// The key of a record. Mark keys start with a table name, so the `#` keeps the two apart
    /// in one store.
    pub fn key_of(slot: &SlotId) -> String {
        format!("#{}/{}/{}", slot.band_id, slot.table, slot.chunk)
    }

    /// The record's number, from its key.
    pub fn chunk(&self) -> Option<u32> {
        let (_, number) = self.key.rsplit_once('/')?;
        number.parse().ok()
    }

    /// The marks the record holds.
    pub fn marks(&self) -> impl Iterator<Item = Mark> + '_ {
        let chunk = self.chunk();
        self.ids.iter().map(move |id| Mark {
            key: Mark::key_of(&self.table, id),
            table: self.table.clone(),
            band_id: self.band_id.clone(),
            id: id.clone(),
            chunk,
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
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UnreadCounts {
    /// Every unread row.
    pub total: usize,
    /// band → table → count.
    pub by_band: SortedMap<String, SortedMap<String, usize>>,
}

impl WriteJson for UnreadCounts {
    fn write_json(&self, out: &mut String) {
        ObjectWriter::new(out)
            .field("total", &self.total)
            .field("byBand", &self.by_band)
            .end();
    }
}

/// A band's table's marks by the record that holds them: record number → row ids.
type Chunks = SortedMap<u32, SortedSet<String>>;

/// The unread marks of one user.
#[derive(Debug, Clone, Default)]
pub struct Unread {
    me: String,
    /// Hashed, not sorted: a burst can mark thousands of rows in random key order.
    marks: HashedMap<Mark>,
    /// band → table → the records' rows, kept up to date so that neither a record to persist
    /// nor the counts cost a pass over every mark.
    chunks: SortedMap<String, SortedMap<String, Chunks>>,
}

impl Unread {
    /// The marks of user `me`: none until [`replace`](Self::replace) loads them.
    pub fn new(me: impl Into<String>) -> Self {
        Self {
            me: me.into(),
            ..Self::default()
        }
    }

    /// The records of a band's table, created empty if it has none.
    fn chunks_mut(&mut self, band: &str, table: &str) -> &mut Chunks {
        if !self.chunks.contains_key(band) {
            self.chunks.insert(band.to_owned(), SortedMap::new());
        }
        let tables = self.chunks.get_mut(band).expect("inserted above");
        if !tables.contains_key(table) {
            tables.insert(table.to_owned(), Chunks::new());
        }
        tables.get_mut(table).expect("inserted above")
    }

    /// Adds a mark, in the record it names or else the table's newest record with room.
    /// Returns the mark's record, or `None` if the row was marked already.
    fn insert(&mut self, mut mark: Mark) -> Option<u32> {
        if self.marks.contains_key(&mark.key) {
            return None;
        }
        let chunks = self.chunks_mut(&mark.band_id, &mark.table);
        let chunk = mark
            .chunk
            .unwrap_or_else(|| match chunks.iter().next_back() {
                Some((&last, ids)) if ids.len() < MarkSlot::CAPACITY => last,
                Some((&last, _)) => last + 1,
                None => 0,
            });
        chunks
            .get_or_insert_with(chunk, SortedSet::new)
            .insert(mark.id.clone());
        mark.chunk = Some(chunk);
        self.marks.insert(mark.key.clone(), mark);
        Some(chunk)
    }

    fn remove(&mut self, key: &str) -> Option<Mark> {
        let mark = self.marks.swap_remove(key)?;
        self.unplace(&mark);
        Some(mark)
    }

    /// Takes a removed mark's row out of its record, and drops what that leaves empty.
    fn unplace(&mut self, mark: &Mark) {
        let Some(tables) = self.chunks.get_mut(mark.band_id.as_str()) else {
            return;
        };
        if let Some(chunks) = tables.get_mut(mark.table.as_str()) {
            let chunk = mark
                .chunk
                .and_then(|chunk| Some((chunk, chunks.get_mut(&chunk)?)));
            if let Some((chunk, ids)) = chunk {
                ids.remove(mark.id.as_str());
                if ids.is_empty() {
                    chunks.remove(&chunk);
                }
            }
            if chunks.is_empty() {
                tables.remove(mark.table.as_str());
            }
        }
        if tables.is_empty() {
            self.chunks.remove(mark.band_id.as_str());
        }
    }

    /// Replaces the marks with those in storage (on start, or another tab changed them).
    /// Returns the records to write again: those that take marks stored without one (as an
    /// earlier version stored them), and those that hold a row another record holds too.
    pub fn replace(&mut self, marks: impl IntoIterator<Item = Mark>) -> SortedSet<SlotId> {
        self.marks.clear();
        self.chunks.clear();
        let mut untidy = SortedSet::new();
        for mark in marks {
            if self.marks.contains_key(&mark.key) {
                // Marked twice: the later record is written again without it.
                untidy.extend(mark.slot());
                continue;
            }
            // Only a mark stored without a record is copied: loading stays a move per mark.
            let unplaced =
                (mark.chunk.is_none()).then(|| (mark.band_id.clone(), mark.table.clone()));
            let placed = self.insert(mark);
            if let (Some((band_id, table)), Some(chunk)) = (unplaced, placed) {
                untidy.insert(SlotId {
                    band_id,
                    table,
                    chunk,
                });
            }
        }
        untidy
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
                let mut mark = Mark {
                    key,
                    table: row.table.clone(),
                    band_id: row.scope.clone(),
                    id: row.id.clone(),
                    chunk: None,
                };
                mark.chunk = self.insert(mark.clone());
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
        let mut keys: Vec<String> = Vec::new();
        for mark in self.ids(band, table) {
            keys.push(mark.key.clone());
        }
        let mut removed = Vec::with_capacity(keys.len());
        for key in &keys {
            removed.extend(self.remove(key));
        }
        removed
    }

    /// Forgets a band's marks (the user left it); returns the marks removed.
    pub fn forget_band(&mut self, band: &str) -> Vec<Mark> {
        self.mark_all_read(Some(band), None)
    }

    /// The records that persist these slots now (a slot's ids are empty if none are left:
    /// its record is to be removed). Each costs its own rows, not a pass over every mark.
    pub fn slots(&self, wanted: &SortedSet<SlotId>) -> Vec<MarkSlot> {
        let mut slots = Vec::with_capacity(wanted.len());
        for slot in wanted {
            let held = (self.chunks.get(slot.band_id.as_str()))
                .and_then(|tables| tables.get(slot.table.as_str()))
                .and_then(|chunks| chunks.get(&slot.chunk));
            let mut ids = Vec::new();
            for id in held.into_iter().flatten() {
                ids.push(id.clone());
            }
            slots.push(MarkSlot {
                key: MarkSlot::key_of(slot),
                band_id: slot.band_id.clone(),
                table: slot.table.clone(),
                ids,
            });
        }
        slots
    }

    /// The unread rows of a band (or all), for lists that show badges, in no particular order.
    pub fn ids(&self, band: Option<&str>, table: Option<&str>) -> Vec<&Mark> {
        let mut marks = Vec::new();
        for mark in self.marks.values() {
            if band.is_none_or(|b| mark.band_id == b) && table.is_none_or(|t| mark.table == t) {
                marks.push(mark);
            }
        }
        marks
    }

    /// The counts the app shows.
    pub fn counts(&self) -> UnreadCounts {
        let mut counts = UnreadCounts {
            total: self.marks.len(),
            ..UnreadCounts::default()
        };
        for (band, tables) in &self.chunks {
            let mut by_table = SortedMap::new();
            for (table, chunks) in tables {
                let mut count = 0;
                for ids in chunks.values() {
                    count += ids.len();
                }
                by_table.insert(table.clone(), count);
            }
            counts.by_band.insert(band.clone(), by_table);
        }
        counts
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fields::variants;
    use crate::json_text::json_value;

    /// Of every shape of a stored record, a mark or a record of marks reads as the derived
    /// reader it replaces read it.
    #[test]
    fn stored_marks_read_as_the_derived_reader_read_them() {
        let mark = Mark {
            key: "songs:s1".into(),
            table: "songs".into(),
            band_id: "b1".into(),
            id: "s1".into(),
            chunk: None,
        };
        let slot = MarkSlot {
            key: "#b1/songs/0".into(),
            band_id: "b1".into(),
            table: "songs".into(),
            ids: vec!["s1".into(), "s2".into()],
        };
        let mut shapes = 0;
        for stored in [json_value(&mark), json_value(&slot)] {
            for (shape, value) in variants(&stored) {
                shapes += 1;
                let derived = serde_json::from_value::<Mark>(value.clone().into()).ok();
                assert_eq!(Mark::from_json(&value), derived, "mark, {shape}: {value}");
                let derived = serde_json::from_value::<MarkSlot>(value.clone().into()).ok();
                assert_eq!(
                    MarkSlot::from_json(&value),
                    derived,
                    "slot, {shape}: {value}"
                );
            }
        }
        assert!(shapes > 100, "{shapes} shapes");
        assert_eq!(Mark::from_json(&json_value(&mark)), Some(mark));
        assert_eq!(MarkSlot::from_json(&json_value(&slot)), Some(slot));
    }

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

    fn slot(chunk: u32) -> SlotId {
        SlotId {
            band_id: "b1".into(),
            table: "songs".into(),
            chunk,
        }
    }

    /// The records a set of effects rewrites.
    fn touched(effects: &[MarkEffect]) -> SortedSet<SlotId> {
        effects.iter().filter_map(|e| e.mark().slot()).collect()
    }

    #[test]
    fn others_changes_are_unread_until_read_and_own_changes_never() {
        let mut unread = Unread::new("me");
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
        let mut unread = Unread::new("me");
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
        let slots = unread.slots(&touched(&effects));
        assert_eq!(
            (slots[0].key.as_str(), slots[0].ids.as_slice()),
            ("#b1/songs/0", &["3".to_owned()][..])
        );
        let mut reloaded = Unread::new("me");
        assert!(reloaded.replace(slots[0].marks()).is_empty(), "tidy");
        assert!(reloaded.is_unread("songs", "3"));
        assert_eq!(reloaded.counts().total, 1);
        let read = reloaded
            .mark_read("songs", "3")
            .and_then(|mark| mark.slot());
        assert_eq!(read, Some(slot(0)), "a reloaded mark knows its record");
    }

    #[test]
    fn a_batch_of_marks_rewrites_only_the_records_it_added_to() {
        let mut unread = Unread::new("me");
        let ids: Vec<String> = (0..1_000).map(|n| format!("row-{n}")).collect();
        let batch = |range: std::ops::Range<usize>| -> Vec<ObservedRow> {
            ids[range]
                .iter()
                .map(|id| row(id, Some("alice"), Action::Added))
                .collect()
        };
        let first = unread.observe(&batch(0..300));
        assert_eq!(touched(&first), [slot(0), slot(1)].into_iter().collect());
        // The next batch fills the newest record, then opens new ones; the full ones stay.
        let second = unread.observe(&batch(300..1_000));
        assert_eq!(
            touched(&second),
            [slot(1), slot(2), slot(3)].into_iter().collect()
        );
        let slots = unread.slots(&touched(&second));
        let sizes: Vec<usize> = slots.iter().map(|s| s.ids.len()).collect();
        assert_eq!(sizes, [MarkSlot::CAPACITY, MarkSlot::CAPACITY, 232]);
        // A record that lost rows keeps its number; new marks go to the newest with room.
        let read = unread
            .mark_read("songs", "row-0")
            .and_then(|mark| mark.slot());
        assert_eq!(read, Some(slot(0)));
        let more = unread.observe(&batch(0..1));
        assert_eq!(touched(&more), [slot(3)].into_iter().collect());
        assert_eq!(unread.counts().by_band["b1"]["songs"], 1_000);
    }

    #[test]
    fn marks_stored_without_a_record_or_twice_are_written_again() {
        let stored = MarkSlot {
            key: "#b1/songs/4".into(),
            band_id: "b1".into(),
            table: "songs".into(),
            ids: vec!["1".into(), "2".into()],
        };
        let twice = MarkSlot {
            key: "#b1/songs/7".into(),
            ids: vec!["2".into(), "3".into()],
            ..stored.clone()
        };
        let legacy = Mark {
            key: "songs:9".into(),
            table: "songs".into(),
            band_id: "b1".into(),
            id: "9".into(),
            chunk: None,
        };
        let mut unread = Unread::new("me");
        let marks = stored.marks().chain(twice.marks()).chain([legacy]);
        let untidy = unread.replace(marks.collect::<Vec<_>>());
        assert_eq!(untidy, [slot(7)].into_iter().collect(), "9 joins record 7");
        let slots = unread.slots(&untidy);
        assert_eq!(slots[0].ids, ["3", "9"], "2 is kept in record 4 only");
        assert_eq!(unread.counts().total, 4);
        // The sibling: records as this version writes them need nothing.
        let mut reloaded = Unread::new("me");
        let tidy = stored.marks().chain(slots[0].marks()).collect::<Vec<_>>();
        assert!(reloaded.replace(tidy).is_empty());
        assert_eq!(reloaded.counts().total, 4);
    }

    #[test]
    fn mark_all_read_by_band_and_table() {
        let mut unread = Unread::new("me");
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
            table: "setlists".into(),
            ..slot(0)
        };
        let slots = unread.slots(&[setlist_slot].into_iter().collect());
        assert!(slots[0].ids.is_empty(), "an empty slot: its record goes");
        assert_eq!(unread.counts(), UnreadCounts::default());
    }
}
