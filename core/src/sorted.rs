//! [`SortedMap`] and [`SortedSet`]: ordered collections kept as one vector sorted by key.
//!
//! The maps of the core are small (channels, pending pushes, authors, bands, tables) or filled
//! in key order. For those a sorted vector is as fast as a B-tree, and far smaller in the
//! WebAssembly build: every key and value type of a `BTreeMap` brings several kilobytes of node
//! code into the module, a sorted vector a few hundred bytes. Iteration is in key order, so
//! everything built on these collections stays deterministic.

use std::borrow::Borrow;
use std::fmt;

/// A map kept as a vector of entries sorted by key. Lookups are binary searches; an insert or
/// remove in the middle moves the entries after it, which is cheap for the sizes used here.
#[derive(Clone, PartialEq, Eq)]
pub struct SortedMap<K, V> {
    entries: Vec<(K, V)>,
}

impl<K, V> Default for SortedMap<K, V> {
    fn default() -> Self {
        Self {
            entries: Vec::new(),
        }
    }
}

impl<K: fmt::Debug, V: fmt::Debug> fmt::Debug for SortedMap<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.entries.iter().map(|(k, v)| (k, v)))
            .finish()
    }
}

impl<K, V> SortedMap<K, V> {
    /// An empty map.
    pub const fn new() -> Self {
        Self {
            entries: Vec::new(),
        }
    }

    /// The number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the map is empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Removes every entry.
    pub fn clear(&mut self) {
        self.entries.clear();
    }

    /// The entries in key order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = (&K, &V)> + ExactSizeIterator {
        self.entries.iter().map(|(k, v)| (k, v))
    }

    /// The keys in order.
    pub fn keys(&self) -> impl DoubleEndedIterator<Item = &K> + ExactSizeIterator {
        self.entries.iter().map(|(k, _)| k)
    }

    /// The keys of the entries `keep` accepts, in order, copied (for a pass that changes the
    /// map). `keep` is taken as `dyn` so that every caller shares one copy of the loop.
    pub fn keys_where(&self, keep: &dyn Fn(&K, &V) -> bool) -> Vec<K>
    where
        K: Clone,
    {
        let mut keys = Vec::new();
        for (key, value) in &self.entries {
            if keep(key, value) {
                keys.push(key.clone());
            }
        }
        keys
    }

    /// Every key, in order, copied.
    pub fn key_list(&self) -> Vec<K>
    where
        K: Clone,
    {
        self.keys_where(&|_, _| true)
    }

    /// The values in key order.
    pub fn values(&self) -> impl DoubleEndedIterator<Item = &V> + ExactSizeIterator {
        self.entries.iter().map(|(_, v)| v)
    }

    /// The entries in key order, values mutably.
    pub fn iter_mut(
        &mut self,
    ) -> impl DoubleEndedIterator<Item = (&K, &mut V)> + ExactSizeIterator {
        self.entries.iter_mut().map(|(k, v)| (&*k, v))
    }

    /// The values in key order, mutably.
    pub fn values_mut(&mut self) -> impl DoubleEndedIterator<Item = &mut V> + ExactSizeIterator {
        self.entries.iter_mut().map(|(_, v)| v)
    }

    /// Keeps the entries for which `keep` returns true.
    pub fn retain(&mut self, mut keep: impl FnMut(&K, &mut V) -> bool) {
        self.entries.retain_mut(|(k, v)| keep(k, v));
    }
}

impl<K: Ord, V> SortedMap<K, V> {
    fn position<Q>(&self, key: &Q) -> Result<usize, usize>
    where
        K: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        self.entries.binary_search_by(|(k, _)| k.borrow().cmp(key))
    }

    /// The value of `key`.
    pub fn get<Q>(&self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        let at = self.position(key).ok()?;
        Some(&self.entries[at].1)
    }

    /// The value of `key`, mutably.
    pub fn get_mut<Q>(&mut self, key: &Q) -> Option<&mut V>
    where
        K: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        let at = self.position(key).ok()?;
        Some(&mut self.entries[at].1)
    }

    /// Whether `key` has an entry.
    pub fn contains_key<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        self.position(key).is_ok()
    }

    /// Where `key` is, or where it would go. Keys usually arrive in order (sequence numbers,
    /// sorted input): a key past the last is placed at the end without a search.
    fn slot(&self, key: &K) -> Result<usize, usize> {
        match self.entries.last() {
            Some((last, _)) if last >= key => self.position(key),
            _ => Err(self.entries.len()),
        }
    }

    /// Sets the value of `key`; returns the value it replaced.
    pub fn insert(&mut self, key: K, value: V) -> Option<V> {
        match self.slot(&key) {
            Ok(at) => Some(std::mem::replace(&mut self.entries[at].1, value)),
            Err(at) => {
                self.entries.insert(at, (key, value));
                None
            }
        }
    }

    /// The value of `key`, inserting `make()` first if there is none.
    pub fn get_or_insert_with(&mut self, key: K, make: impl FnOnce() -> V) -> &mut V {
        let at = match self.slot(&key) {
            Ok(at) => at,
            Err(at) => {
                self.entries.insert(at, (key, make()));
                at
            }
        };
        &mut self.entries[at].1
    }

    /// Removes the entry of `key`; returns its value.
    pub fn remove<Q>(&mut self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        let at = self.position(key).ok()?;
        Some(self.entries.remove(at).1)
    }
}

impl<K: Ord, V> FromIterator<(K, V)> for SortedMap<K, V> {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(entries: I) -> Self {
        let mut map = Self::new();
        map.extend(entries);
        map
    }
}

impl<K: Ord, V> Extend<(K, V)> for SortedMap<K, V> {
    fn extend<I: IntoIterator<Item = (K, V)>>(&mut self, entries: I) {
        for (key, value) in entries {
            self.insert(key, value);
        }
    }
}

impl<K, V> IntoIterator for SortedMap<K, V> {
    type Item = (K, V);
    type IntoIter = std::vec::IntoIter<(K, V)>;

    fn into_iter(self) -> Self::IntoIter {
        self.entries.into_iter()
    }
}

impl<'a, K, V> IntoIterator for &'a SortedMap<K, V> {
    type Item = (&'a K, &'a V);
    type IntoIter = std::iter::Map<std::slice::Iter<'a, (K, V)>, fn(&'a (K, V)) -> (&'a K, &'a V)>;

    fn into_iter(self) -> Self::IntoIter {
        self.entries.iter().map(|(k, v)| (k, v))
    }
}

impl<K, V, Q> std::ops::Index<&Q> for SortedMap<K, V>
where
    K: Ord + Borrow<Q>,
    Q: Ord + ?Sized,
{
    type Output = V;

    /// The value of `key`; panics if there is none, like `BTreeMap`'s index.
    fn index(&self, key: &Q) -> &V {
        self.get(key).expect("no entry for this key")
    }
}

/// A set kept as a sorted vector, for the same reasons as [`SortedMap`].
#[derive(Clone, PartialEq, Eq)]
pub struct SortedSet<T> {
    map: SortedMap<T, ()>,
}

impl<T> Default for SortedSet<T> {
    fn default() -> Self {
        Self {
            map: SortedMap::new(),
        }
    }
}

impl<T: fmt::Debug> fmt::Debug for SortedSet<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

impl<T> SortedSet<T> {
    /// An empty set.
    pub const fn new() -> Self {
        Self {
            map: SortedMap::new(),
        }
    }

    /// The number of members.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Removes every member.
    pub fn clear(&mut self) {
        self.map.clear();
    }

    /// The members in order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &T> + ExactSizeIterator {
        self.map.keys()
    }

    /// The members in order, copied.
    pub fn to_vec(&self) -> Vec<T>
    where
        T: Clone,
    {
        self.map.key_list()
    }

    /// Keeps the members for which `keep` returns true.
    pub fn retain(&mut self, mut keep: impl FnMut(&T) -> bool) {
        self.map.retain(|member, ()| keep(member));
    }
}

impl<T: Ord> SortedSet<T> {
    /// The set of `members` (each once): `collect` for a vector, with one copy of the loop per
    /// member type rather than one per iterator type.
    pub fn from_vec(members: Vec<T>) -> Self {
        let mut set = Self::new();
        for member in members {
            set.insert(member);
        }
        set
    }

    /// Adds `member`; returns whether it was new.
    pub fn insert(&mut self, member: T) -> bool {
        self.map.insert(member, ()).is_none()
    }

    /// Whether `member` is in the set.
    pub fn contains<Q>(&self, member: &Q) -> bool
    where
        T: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        self.map.contains_key(member)
    }

    /// Removes `member`; returns whether it was there.
    pub fn remove<Q>(&mut self, member: &Q) -> bool
    where
        T: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        self.map.remove(member).is_some()
    }

    /// Removes and returns the smallest member.
    pub fn pop_first(&mut self) -> Option<T> {
        if self.map.is_empty() {
            return None;
        }
        Some(self.map.entries.remove(0).0)
    }
}

impl<T: Ord> FromIterator<T> for SortedSet<T> {
    fn from_iter<I: IntoIterator<Item = T>>(members: I) -> Self {
        let mut set = Self::new();
        set.extend(members);
        set
    }
}

impl<T: Ord> Extend<T> for SortedSet<T> {
    fn extend<I: IntoIterator<Item = T>>(&mut self, members: I) {
        for member in members {
            self.insert(member);
        }
    }
}

impl<T> IntoIterator for SortedSet<T> {
    type Item = T;
    type IntoIter = std::iter::Map<std::vec::IntoIter<(T, ())>, fn((T, ())) -> T>;

    fn into_iter(self) -> Self::IntoIter {
        self.map.entries.into_iter().map(|(member, ())| member)
    }
}

impl<'a, T> IntoIterator for &'a SortedSet<T> {
    type Item = &'a T;
    type IntoIter = std::iter::Map<std::slice::Iter<'a, (T, ())>, fn(&'a (T, ())) -> &'a T>;

    fn into_iter(self) -> Self::IntoIter {
        self.map.entries.iter().map(|(member, ())| member)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_keys_sorted_and_unique_whatever_the_insert_order() {
        let mut map = SortedMap::new();
        for (key, value) in [(5, "e"), (1, "a"), (3, "c"), (9, "i"), (3, "C"), (7, "g")] {
            map.insert(key, value);
        }
        assert_eq!(map.keys().copied().collect::<Vec<_>>(), [1, 3, 5, 7, 9]);
        assert_eq!(map[&3], "C", "a second insert replaces");
        assert_eq!(map.remove(&5), Some("e"));
        assert_eq!(map.remove(&5), None);
        assert_eq!(map.get(&9), Some(&"i"));
        *map.get_or_insert_with(4, || "d") = "D";
        assert_eq!(map.get(&4), Some(&"D"));
        map.retain(|key, _| key % 2 == 1);
        assert_eq!(
            map.into_iter().collect::<Vec<_>>(),
            [(1, "a"), (3, "C"), (7, "g"), (9, "i")]
        );
    }

    #[test]
    fn sets_borrow_lookups_and_pop_in_order() {
        let mut set: SortedSet<String> =
            ["b", "c", "a", "b"].map(String::from).into_iter().collect();
        assert_eq!(set.len(), 3);
        assert!(set.contains("a"));
        assert!(!set.insert("c".into()));
        assert_eq!(set.pop_first().as_deref(), Some("a"));
        assert!(set.remove("c"));
        assert_eq!(set.iter().collect::<Vec<_>>(), ["b"]);
    }
}
