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
        let stored: SortedSet<u64> = entries.iter().map(|e| e.seq).collect();
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
        self.reload_keeping_newer(entries, u64::MAX);
    }

    /// [`reload`](Self::reload) with a read of storage issued when [`next_seq`](Self::next_seq)
    /// was `read_from`: entries this tab queued since (numbered `read_from` or more) were
    /// written after that read, which cannot show them, and stay.
    pub fn reload_keeping_newer(&mut self, entries: Vec<Entry>, read_from: u64) {
        let stored: SortedSet<u64> = entries.iter().map(|e| e.seq).collect();
        self.removed.retain(|seq| stored.contains(seq));
        let mut fresh: SortedMap<u64, Entry> = entries
            .into_iter()
            .filter(|e| !self.removed.contains(&e.seq))
            .map(|e| (e.seq, e))
            .collect();
        for seq in self.in_flight.keys() {
            // This tab's view of an entry it is pushing wins: it alone knows the answer.
            if let Some(entry) = self.entries.get(seq) {
                fresh.insert(*seq, entry.clone());
            }
        }
        let newer = self.entries.iter().skip_while(|(seq, _)| **seq < read_from);
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
