//! [`HashedMap`]: a map from strings, hashed, in the order of its entries.
//!
//! The unread marks need one: a burst of changes marks thousands of rows in no particular key
//! order, which a sorted vector would shift for every insert. This is the whole of what they
//! use of a hash map (insert, look up, remove by swapping the last entry in, iterate), written
//! out in one small type rather than a general hash map and its hasher brought into the
//! WebAssembly module for one field.

/// Entries in a vector; a table of their positions, found by the key's hash (open addressing,
/// linear probing, at most half full). Removing swaps the last entry into the gap, so the
/// order is that of insertion until a removal, as with `IndexMap::swap_remove`.
#[derive(Debug, Clone)]
pub struct HashedMap<V> {
    entries: Vec<(String, V)>,
    /// Positions in `entries` plus one; 0 is an empty slot. Its length is a power of two.
    slots: Vec<u32>,
}

impl<V> Default for HashedMap<V> {
    fn default() -> Self {
        HashedMap {
            entries: Vec::new(),
            slots: Vec::new(),
        }
    }
}

/// FNV-1a: a few instructions a byte, and keys here are tens of bytes.
fn hash(key: &str) -> usize {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in key.bytes() {
        hash = (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
    }
    // The high bits are the best mixed; fold them into the low ones the mask keeps.
    (hash ^ (hash >> 32)) as usize
}

impl<V> HashedMap<V> {
    /// An empty map.
    pub fn new() -> Self {
        Self::default()
    }

    /// The number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Removes every entry.
    pub fn clear(&mut self) {
        self.entries.clear();
        self.slots.clear();
    }

    /// The values, in the entries' order.
    pub fn values(&self) -> impl Iterator<Item = &V> {
        self.entries.iter().map(|(_, value)| value)
    }

    /// The slot that holds `key`, or the empty slot where it would go.
    fn slot_of(&self, key: &str) -> (usize, Option<usize>) {
        let mask = self.slots.len() - 1;
        let mut slot = hash(key) & mask;
        loop {
            match self.slots[slot] {
                0 => return (slot, None),
                at if self.entries[at as usize - 1].0 == key => {
                    return (slot, Some(at as usize - 1))
                }
                _ => slot = (slot + 1) & mask,
            }
        }
    }

    fn position(&self, key: &str) -> Option<usize> {
        if self.slots.is_empty() {
            return None;
        }
        self.slot_of(key).1
    }

    /// Whether `key` has an entry.
    pub fn contains_key(&self, key: &str) -> bool {
        self.position(key).is_some()
    }

    /// The value of `key`.
    pub fn get(&self, key: &str) -> Option<&V> {
        self.position(key).map(|at| &self.entries[at].1)
    }

    /// Sets `key` to `value` (in its place, when it had one); answers the value it replaced.
    pub fn insert(&mut self, key: String, value: V) -> Option<V> {
        if (self.entries.len() + 1) * 2 > self.slots.len() {
            self.grow();
        }
        match self.slot_of(&key) {
            (_, Some(at)) => Some(std::mem::replace(&mut self.entries[at].1, value)),
            (slot, None) => {
                self.entries.push((key, value));
                self.slots[slot] = self.entries.len() as u32;
                None
            }
        }
    }

    /// Removes `key`; the last entry takes its place in the order. Answers its value.
    pub fn swap_remove(&mut self, key: &str) -> Option<V> {
        if self.slots.is_empty() {
            return None;
        }
        let (slot, at) = self.slot_of(key);
        let at = at?;
        self.empty_slot(slot);
        let last = self.entries.len() - 1;
        if at != last {
            // The last entry moves to `at`: its slot says so.
            let (moved, _) = self.slot_of(&self.entries[last].0);
            self.slots[moved] = at as u32 + 1;
        }
        Some(self.entries.swap_remove(at).1)
    }

    /// Empties `slot`, moving back the entries after it in its run that probed past it, so
    /// that every entry stays reachable from its hash without tombstones.
    fn empty_slot(&mut self, mut slot: usize) {
        let mask = self.slots.len() - 1;
        let mut next = slot;
        loop {
            self.slots[slot] = 0;
            loop {
                next = (next + 1) & mask;
                let at = self.slots[next];
                if at == 0 {
                    return;
                }
                let home = hash(&self.entries[at as usize - 1].0) & mask;
                // An entry may move back to `slot` unless its home lies after `slot` and up to
                // `next` (cyclically), where it already is as close as it can be.
                let stays = if slot <= next {
                    slot < home && home <= next
                } else {
                    slot < home || home <= next
                };
                if !stays {
                    self.slots[slot] = at;
                    slot = next;
                    break;
                }
            }
        }
    }

    /// Doubles the table (from 8 slots) and places every entry again.
    fn grow(&mut self) {
        let size = (self.slots.len() * 2).max(8);
        self.slots = vec![0; size];
        let mask = size - 1;
        for (at, (key, _)) in self.entries.iter().enumerate() {
            let mut slot = hash(key) & mask;
            while self.slots[slot] != 0 {
                slot = (slot + 1) & mask;
            }
            self.slots[slot] = at as u32 + 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::HashedMap;

    /// Random inserts and removals against a vector doing the same by scanning: the same
    /// entries, in the same order, found the same way.
    #[test]
    fn behaves_as_a_vector_of_entries_with_swap_remove() {
        let mut seed = 7u64;
        let mut next = move |below: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % below
        };
        let mut map = HashedMap::new();
        let mut model: Vec<(String, u64)> = Vec::new();
        for step in 0..20_000u64 {
            let key = format!("songs:{}", next(600));
            if next(3) == 0 {
                let expected = model.iter().position(|(k, _)| *k == key).map(|at| {
                    let (_, value) = model.swap_remove(at);
                    value
                });
                assert_eq!(map.swap_remove(&key), expected, "remove {key} at {step}");
            } else {
                let expected = match model.iter_mut().find(|(k, _)| *k == key) {
                    Some((_, value)) => Some(std::mem::replace(value, step)),
                    None => {
                        model.push((key.clone(), step));
                        None
                    }
                };
                assert_eq!(map.insert(key.clone(), step), expected, "insert {key}");
            }
            assert_eq!(map.len(), model.len());
            if step % 1000 == 0 {
                let values: Vec<u64> = map.values().copied().collect();
                let wanted: Vec<u64> = model.iter().map(|(_, v)| *v).collect();
                assert_eq!(values, wanted, "order at {step}");
                for (key, value) in &model {
                    assert_eq!(map.get(key), Some(value));
                }
                assert!(!map.contains_key("songs:absent"));
            }
        }
        map.clear();
        assert!(map.is_empty() && map.get("songs:1").is_none());
        assert_eq!(map.swap_remove("songs:1"), None);
    }
}
