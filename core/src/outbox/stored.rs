//! Keeping the outbox in memory and the stored one in agreement: other tabs append to
//! storage, this tab's changes may fail to be stored, and reads of storage may be older than
//! this tab's last change.

use super::*;

impl Outbox {
    /// Takes in entries other tabs appended to storage (those whose sequence numbers this
    /// outbox does not know); its own entries stay as they are, even if storage does not
    /// hold them yet.
    pub fn adopt(&mut self, entries: Vec<Entry>) -> usize {
        let mut adopted = 0;
        // A removal storage shows is done: its number is never seen again.
        let stored = seqs_of(&entries);
        self.removed.retain(|seq| stored.contains(seq));
        for entry in entries {
            if !self.entries.contains_key(&entry.seq) && !self.removed.contains(&entry.seq) {
                self.next_seq = self.next_seq.max(entry.seq + 1);
                self.entries.insert(entry.seq, entry);
                adopted += 1;
            }
        }
        adopted
    }

    /// Replaces the entries with what storage holds now (another tab wrote or removed some).
    /// Entries in flight stay in flight; retry times of entries still present are kept.
    pub fn reload(&mut self, entries: Vec<Entry>) {
        // Whether the read was issued before a removal is unknown: a removal stays until
        // storage shows it.
        let stored = seqs_of(&entries);
        self.removed.retain(|seq| stored.contains(seq));
        self.take_stored(entries, u64::MAX, &SortedSet::new());
    }

    /// [`reload`](Self::reload) with a read of storage issued when [`next_seq`](Self::next_seq)
    /// was `read_from`: entries this tab queued since (numbered `read_from` or more), and the
    /// entries it stored a change of since (`changed`), were written after that read, which
    /// cannot show them, and stay as this tab has them. Every other entry is as storage holds
    /// it: another tab may have retried or discarded it.
    pub fn reload_keeping(
        &mut self,
        entries: Vec<Entry>,
        read_from: u64,
        changed: &SortedSet<u64>,
    ) {
        // A removal stored before the read was issued shows in it: an entry it shows anyway was
        // stored again by another tab (say the leader recording a send of an entry this tab
        // discarded), and is taken in, or nobody would ever push it.
        self.removed.retain(|seq| changed.contains(seq));
        self.take_stored(entries, read_from, changed);
    }

    fn take_stored(&mut self, entries: Vec<Entry>, read_from: u64, changed: &SortedSet<u64>) {
        let mut fresh: SortedMap<u64, Entry> = SortedMap::new();
        for entry in entries {
            if !self.removed.contains(&entry.seq) {
                fresh.insert(entry.seq, entry);
            }
        }
        for seq in self.in_flight.keys() {
            // This tab's view of an entry it is pushing wins: it alone knows the answer.
            if let Some(entry) = self.entries.get(seq) {
                fresh.insert(*seq, entry.clone());
            }
        }
        let newer = self.entries.iter();
        let newer = newer.filter(|(seq, _)| **seq >= read_from || changed.contains(*seq));
        for (seq, entry) in newer {
            fresh.insert(*seq, entry.clone());
        }
        self.retry_at.retain(|seq, _| fresh.contains_key(seq));
        self.solo.retain(|seq| fresh.contains_key(seq));
        self.next_seq = self
            .next_seq
            .max(fresh.keys().next_back().map_or(1, |s| s + 1));
        self.entries = fresh;
    }

    /// Puts entries back as they were (`None`: not held) before a change storage refused:
    /// memory must not run ahead of storage.
    pub fn undo(&mut self, snapshot: Vec<(u64, Option<Entry>)>) {
        for (seq, prior) in snapshot {
            self.retry_at.remove(&seq);
            match prior {
                Some(entry) => {
                    self.removed.remove(&seq);
                    self.entries.insert(seq, entry);
                }
                None => {
                    self.entries.remove(&seq);
                }
            }
        }
    }

    /// Storage did not take the removal of these entries (the batch failed): a reload brings
    /// them back.
    pub fn unforget(&mut self, seqs: &[u64]) {
        self.removed.retain(|seq| !seqs.contains(seq));
    }
}

/// The sequence numbers of `entries`. Storage lists them in order, so each is appended.
fn seqs_of(entries: &[Entry]) -> SortedSet<u64> {
    let mut seqs = SortedSet::new();
    for entry in entries {
        seqs.insert(entry.seq);
    }
    seqs
}
