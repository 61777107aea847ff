//! The activity feed: other members' changes, kept per band (the newest [`Feed::capacity`]
//! entries; older ones are dropped), each with its author, action, row and label, when it was
//! seen, and whether the user has read it.
//!
//! Unread marks ([`Unread`](crate::unread::Unread)) and the feed agree both ways: an entry is
//! unread only while its row is unread (reading a row reads its entries), and reading an entry
//! reads its row. The shell persists a band's entries as one record ([`FeedRecord`]),
//! rewritten whenever [`FeedEffects`] name the band: a burst that brings hundreds of entries
//! and drops as many costs one write per band, not a request per entry.

use crate::fields::text;
use crate::json_text::{ObjectWriter, WriteJson};
use crate::notify::Action;
use crate::sorted::{SortedMap, SortedSet};
use crate::unread::ObservedRow;
use crate::value::Value;

/// Entries kept per band unless configured otherwise.
pub const DEFAULT_CAPACITY: usize = 200;

/// One change by another member.
#[derive(Debug, Clone, PartialEq)]
pub struct FeedEntry {
    /// Unique, and ordered as the entries were seen.
    pub id: String,
    /// The row's band.
    pub band_id: String,
    /// Who made the change (user id).
    pub author: String,
    /// What happened.
    pub action: Action,
    /// Wire table name.
    pub table: String,
    /// The row.
    pub row_id: String,
    /// The row's label (title, name) when it has one.
    pub label: Option<String>,
    /// When the change was seen here, epoch milliseconds.
    pub at: f64,
    /// Whether the user has read it.
    pub read: bool,
}

impl WriteJson for FeedEntry {
    fn write_json(&self, out: &mut String) {
        self.write_fields(&mut ObjectWriter::new(out)).end();
    }
}

impl FeedEntry {
    /// Writes the entry's fields into an object (the app's activity items add the author's
    /// name to them).
    pub fn write_fields<'w, 'o>(
        &self,
        entry: &'w mut ObjectWriter<'o>,
    ) -> &'w mut ObjectWriter<'o> {
        entry
            .field("id", &self.id)
            .field("bandId", &self.band_id)
            .field("author", &self.author)
            .field("action", &self.action)
            .field("table", &self.table)
            .field("rowId", &self.row_id)
            .field("label", &self.label)
            .field("at", &self.at)
            .field("read", &self.read)
    }
}

impl FeedEntry {
    /// An entry as stored (the JSON [`WriteJson`] writes); `None` if it is not one.
    pub fn from_json(stored: &Value) -> Option<FeedEntry> {
        let action = match stored.get("action")?.as_str()? {
            "added" => Action::Added,
            "updated" => Action::Updated,
            "deleted" => Action::Deleted,
            _ => return None,
        };
        Some(FeedEntry {
            id: text(stored, "id")?,
            band_id: text(stored, "bandId")?,
            author: text(stored, "author")?,
            action,
            table: text(stored, "table")?,
            row_id: text(stored, "rowId")?,
            label: text(stored, "label"),
            at: stored.get("at")?.as_f64()?,
            read: stored.get("read")?.as_bool()?,
        })
    }
}

/// A band's entries as persisted, oldest first, under the key [`FeedRecord::key_of`].
#[derive(Debug, Clone, PartialEq)]
pub struct FeedRecord {
    /// The record's key (never equal to an entry id, which starts with a digit).
    pub id: String,
    /// The band.
    pub band_id: String,
    /// The band's entries, oldest first.
    pub entries: Vec<FeedEntry>,
}

impl WriteJson for FeedRecord {
    fn write_json(&self, out: &mut String) {
        ObjectWriter::new(out)
            .field("id", &self.id)
            .field("bandId", &self.band_id)
            .field("entries", &self.entries)
            .end();
    }
}

impl FeedRecord {
    /// The key of a band's record.
    pub fn key_of(band: &str) -> String {
        format!("#{band}")
    }

    /// The entries a stored record holds, and whether the record is one entry as an earlier
    /// version stored each (rather than a band's record). Unreadable entries are skipped.
    pub fn entries_of(stored: &Value) -> (Vec<FeedEntry>, bool) {
        let Some(stored_entries) = stored.get("entries").and_then(Value::as_array) else {
            let one = FeedEntry::from_json(stored);
            return (one.into_iter().collect(), true);
        };
        let mut entries = Vec::with_capacity(stored_entries.len());
        for entry in stored_entries {
            entries.extend(FeedEntry::from_json(entry));
        }
        (entries, false)
    }
}

/// What to persist after a call.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FeedEffects {
    /// The bands whose entries changed: their records are written again, or removed if no
    /// entry is left.
    pub bands: SortedSet<String>,
    /// How many entries were added or changed.
    pub entries: usize,
}

impl FeedEffects {
    /// Whether there is nothing to persist.
    pub fn is_empty(&self) -> bool {
        self.bands.is_empty()
    }

    fn changed(&mut self, band: &str) {
        if !self.bands.contains(band) {
            self.bands.insert(band.to_owned());
        }
        self.entries += 1;
    }
}

/// The feed of one user.
#[derive(Debug, Clone)]
pub struct Feed {
    me: String,
    capacity: usize,
    /// Per band, oldest first.
    bands: SortedMap<String, Vec<FeedEntry>>,
    next: u64,
}

impl Feed {
    /// The feed of user `me` holding `entries` (as persisted), at most `capacity` per band.
    pub fn new(
        me: impl Into<String>,
        capacity: usize,
        entries: impl IntoIterator<Item = FeedEntry>,
    ) -> Self {
        let mut feed = Feed {
            me: me.into(),
            capacity: capacity.max(1),
            bands: SortedMap::new(),
            next: 0,
        };
        feed.replace(entries);
        feed
    }

    /// Entries kept per band.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Replaces every entry (another tab changed them).
    pub fn replace(&mut self, entries: impl IntoIterator<Item = FeedEntry>) {
        self.bands = SortedMap::new();
        for entry in entries {
            self.next = self.next.max(sequence_of(&entry.id) + 1);
            let band = (self.bands).get_or_insert_with(entry.band_id.clone(), Vec::new);
            // Each band's entries in id order, which is the order they were made in. A store
            // lists them by id already, so each one goes at the end.
            let at = band.partition_point(|held| held.id < entry.id);
            band.insert(at, entry);
        }
    }

    /// Adds the changes other members made to `rows`, seen at `at` (epoch ms); drops the
    /// oldest entries of a band over capacity. The user's own changes are not activity.
    pub fn observe(&mut self, rows: &[ObservedRow], at: f64) -> FeedEffects {
        let mut effects = FeedEffects::default();
        for row in rows {
            let Some(author) = row.author.as_ref().filter(|a| **a != self.me) else {
                continue;
            };
            let entry = FeedEntry {
                id: format!("{:013}-{:08}", at.max(0.0) as u64, self.next),
                band_id: row.scope.clone(),
                author: author.clone(),
                action: row.action,
                table: row.table.clone(),
                row_id: row.id.clone(),
                label: row.label.clone(),
                at,
                read: false,
            };
            self.next += 1;
            let band = self.bands.get_or_insert_with(row.scope.clone(), Vec::new);
            band.push(entry);
            effects.changed(&row.scope);
        }
        // Trimmed once, after the rows: a burst moves each band's entries once, not per row.
        for changed in &effects.bands {
            if let Some(band) = self.bands.get_mut(changed.as_str()) {
                let over = band.len().saturating_sub(self.capacity);
                band.drain(..over);
            }
        }
        effects
    }

    /// The record that persists a band's entries; `None` if it has none (its record goes).
    pub fn record(&self, band: &str) -> Option<FeedRecord> {
        let entries = self.bands.get(band).filter(|entries| !entries.is_empty())?;
        Some(FeedRecord {
            id: FeedRecord::key_of(band),
            band_id: band.to_owned(),
            entries: entries.clone(),
        })
    }

    /// Every band that has entries.
    pub fn bands(&self) -> impl Iterator<Item = &String> {
        self.bands.keys()
    }

    /// Marks read every unread entry whose row is no longer unread (the user read the row,
    /// here or in another tab).
    pub fn sync_read(&mut self, is_unread: impl Fn(&str, &str) -> bool) -> FeedEffects {
        let mut effects = FeedEffects::default();
        for (band, entries) in self.bands.iter_mut() {
            for entry in entries.iter_mut() {
                if !entry.read && !is_unread(&entry.table, &entry.row_id) {
                    entry.read = true;
                    effects.changed(band);
                }
            }
        }
        effects
    }

    /// Marks entries of `band` read: those with `ids`, or all of them. Returns what to persist
    /// and the rows (`(table, row id)`) to mark read, so the unread marks agree.
    pub fn mark_read(
        &mut self,
        band: &str,
        ids: Option<&[String]>,
    ) -> (FeedEffects, Vec<(String, String)>) {
        let mut effects = FeedEffects::default();
        let mut rows: Vec<(String, String)> = Vec::new();
        let Some(entries) = self.bands.get_mut(band) else {
            return (effects, rows);
        };
        for entry in entries.iter_mut() {
            let wanted = ids.is_none_or(|ids| ids.contains(&entry.id));
            if wanted {
                let row = (entry.table.clone(), entry.row_id.clone());
                if !rows.contains(&row) {
                    rows.push(row);
                }
            }
        }
        // Reading a row reads every entry about it.
        for entry in entries.iter_mut() {
            let about = rows
                .iter()
                .any(|(table, row)| *table == entry.table && *row == entry.row_id);
            if about && !entry.read {
                entry.read = true;
                effects.changed(band);
            }
        }
        (effects, rows)
    }

    /// The band's entries, newest first: at most `limit`, older than entry `before` if given.
    pub fn page(&self, band: &str, limit: usize, before: Option<&str>) -> Vec<&FeedEntry> {
        let mut page = Vec::new();
        let Some(entries) = self.bands.get(band) else {
            return page;
        };
        for entry in entries.iter().rev() {
            if page.len() == limit {
                break;
            }
            if before.is_none_or(|before| entry.id.as_str() < before) {
                page.push(entry);
            }
        }
        page
    }

    /// How many of the band's entries are unread.
    pub fn unread_count(&self, band: &str) -> usize {
        self.bands
            .get(band)
            .map_or(0, |entries| entries.iter().filter(|e| !e.read).count())
    }

    /// Drops a band's entries (the user left it).
    pub fn forget_band(&mut self, band: &str) -> FeedEffects {
        let mut effects = FeedEffects::default();
        if self.bands.remove(band).is_some() {
            effects.bands.insert(band.to_owned());
        }
        effects
    }
}

/// The sequence number in an entry id (`<ms>-<seq>`), 0 if it has none.
fn sequence_of(id: &str) -> u64 {
    id.rsplit('-').next().and_then(crate::decimal).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(author: &str, band: &str, id: &str, action: Action) -> ObservedRow {
        ObservedRow {
            table: "songs".into(),
            scope: band.into(),
            id: id.into(),
            author: Some(author.into()),
            label: Some(format!("Song {id}")),
            action,
        }
    }

    #[test]
    fn other_members_changes_are_kept_newest_first_and_own_ones_are_not() {
        let mut feed = Feed::new("me", 10, []);
        let effects = feed.observe(
            &[
                change("alice", "b1", "s1", Action::Added),
                change("me", "b1", "s2", Action::Updated),
                change("alice", "b1", "s1", Action::Updated),
            ],
            1_000.0,
        );
        assert_eq!(effects.entries, 2);
        assert_eq!(effects.bands, ["b1".to_owned()].into_iter().collect());
        let page = feed.page("b1", 10, None);
        let actions: Vec<Action> = page.iter().map(|e| e.action).collect();
        assert_eq!(actions, [Action::Updated, Action::Added]);
        assert_eq!(feed.unread_count("b1"), 2);
        // Paging: older than the newest.
        let older = feed.page("b1", 10, Some(&page[0].id));
        assert_eq!(older.len(), 1);
        assert_eq!(older[0].action, Action::Added);
    }

    #[test]
    fn a_band_keeps_its_newest_entries_in_one_record_and_drops_the_oldest() {
        let mut feed = Feed::new("me", 3, []);
        feed.observe(&[change("alice", "b2", "t1", Action::Added)], 1.0);
        feed.observe(&[change("alice", "b1", "s1", Action::Added)], 1.0);
        let rows: Vec<ObservedRow> = (2..=6)
            .map(|n| change("bob", "b1", &format!("s{n}"), Action::Added))
            .collect();
        let effects = feed.observe(&rows, 2.0);
        assert_eq!(effects.bands, ["b1".to_owned()].into_iter().collect());
        let record = feed.record("b1").expect("b1 has entries");
        assert_eq!(record.id, "#b1");
        let stored: Vec<&str> = record.entries.iter().map(|e| e.row_id.as_str()).collect();
        assert_eq!(stored, ["s4", "s5", "s6"], "oldest first, s1 to s3 dropped");
        // Another band is not touched.
        assert_eq!(feed.page("b2", 10, None).len(), 1);
        assert_eq!(feed.record("b3"), None);
        // Stored with more entries than it keeps now: the next change trims it to capacity.
        let stored = feed.record("b1").unwrap().entries;
        let mut smaller = Feed::new("me", 2, stored);
        smaller.observe(&[change("bob", "b1", "s7", Action::Added)], 3.0);
        let kept: Vec<&str> = (smaller.page("b1", 10, None).iter())
            .map(|e| e.row_id.as_str())
            .collect();
        assert_eq!(kept, ["s7", "s6"]);
    }

    #[test]
    fn reading_an_entry_reads_its_row_and_reading_a_row_reads_its_entries() {
        let mut feed = Feed::new("me", 10, []);
        feed.observe(
            &[
                change("alice", "b1", "s1", Action::Added),
                change("alice", "b1", "s2", Action::Added),
                change("bob", "b1", "s1", Action::Updated),
            ],
            5.0,
        );
        let newest = feed.page("b1", 1, None)[0].id.clone();
        let (effects, rows) = feed.mark_read("b1", Some(&[newest]));
        assert_eq!(rows, [("songs".to_owned(), "s1".to_owned())]);
        // Both entries about s1 are read; s2's is not.
        assert_eq!(effects.entries, 2);
        assert_eq!(feed.unread_count("b1"), 1);

        // The user opened s2 (its mark went away): its entry is read too.
        let effects = feed.sync_read(|_, row| row == "s1");
        assert_eq!(effects.entries, 1);
        assert_eq!(feed.unread_count("b1"), 0);
        assert!(feed.sync_read(|_, _| false).is_empty());
    }

    #[test]
    fn reloaded_entries_keep_their_order_and_new_ids_follow_them() {
        let mut feed = Feed::new("me", 10, []);
        feed.observe(&[change("alice", "b1", "s1", Action::Added)], 7.0);
        let record = crate::json_text::json_value(&feed.record("b1"));
        let (stored, one) = FeedRecord::entries_of(&record);
        assert!(!one, "a band's record");
        assert_eq!(stored[0].label.as_deref(), Some("Song s1"));
        // An entry as an earlier version stored it, one per record.
        let entry = crate::json_text::json_value(&stored[0]);
        assert_eq!(FeedRecord::entries_of(&entry), (stored.clone(), true));
        assert_eq!(FeedEntry::from_json(&crate::json!({"id": "x"})), None);
        let mut reloaded = Feed::new("me", 10, stored);
        reloaded.observe(&[change("alice", "b1", "s2", Action::Added)], 7.0);
        let page = reloaded.page("b1", 10, None);
        let rows: Vec<&str> = page.iter().map(|e| e.row_id.as_str()).collect();
        assert_eq!(rows, ["s2", "s1"], "the new entry is the newest");
        assert!(page[0].id > page[1].id, "{page:?}");
        let forgotten = reloaded.forget_band("b1");
        assert_eq!(forgotten.bands, ["b1".to_owned()].into_iter().collect());
        assert_eq!(reloaded.record("b1"), None, "its record goes");
        assert_eq!(reloaded.unread_count("b1"), 0);
    }

    #[test]
    fn entries_given_in_any_order_are_kept_in_the_order_they_were_made() {
        let mut feed = Feed::new("me", 10, []);
        let rows = ["s1", "s2", "s3", "s4"].map(|id| change("alice", "b1", id, Action::Added));
        for (at, row) in rows.iter().enumerate() {
            feed.observe(std::slice::from_ref(row), at as f64);
        }
        let made: Vec<FeedEntry> = feed.page("b1", 10, None).into_iter().cloned().collect();
        let shuffled = [1, 3, 0, 2].map(|at| made[at].clone());
        let reloaded = Feed::new("me", 10, shuffled);
        let page: Vec<FeedEntry> = reloaded.page("b1", 10, None).into_iter().cloned().collect();
        assert_eq!(page, made);
    }
}
