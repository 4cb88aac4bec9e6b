//! A map kept as a vector sorted by key: the children of a [`super::set::FieldSet`] node.
//! Field sets are built by walking objects whose members come in key order, so nearly every
//! insertion lands at the end and costs one comparison; a `BTreeMap` compared each new key
//! with several others (string compares were the largest part of recording a create's
//! managed fields). The nodes are small, so the occasional insertion in the middle is cheap;
//! a large one that gets one moves to a `BTreeMap` (a long list whose items come out of key
//! order would otherwise cost a shift of the whole vector per item).

use std::collections::BTreeMap;

/// Past this many entries, an insertion in the middle moves the map to a B-tree.
const LARGE: usize = 256;

/// Entries sorted by key, each key once: in `small` while it is in use, else in `large`
/// (at most one of them holds entries).
#[derive(Clone, Debug)]
pub(crate) struct SortedMap<K, V> {
    small: Vec<(K, V)>,
    large: BTreeMap<K, V>,
}

// Equal when the entries are, whichever of `small` and `large` holds them.
impl<K: Ord, V: PartialEq> PartialEq for SortedMap<K, V> {
    fn eq(&self, other: &Self) -> bool {
        self.iter().eq(other.iter())
    }
}

impl<K: Ord, V: Eq> Eq for SortedMap<K, V> {}

impl<K, V> Default for SortedMap<K, V> {
    fn default() -> Self {
        SortedMap {
            small: Vec::new(),
            large: BTreeMap::new(),
        }
    }
}

impl<K: Ord, V> SortedMap<K, V> {
    /// Whether the map has no entries.
    pub fn is_empty(&self) -> bool {
        self.small.is_empty() && self.large.is_empty()
    }

    /// Where `key` is in `small`, or where it would go.
    fn find(&self, key: &K) -> Result<usize, usize> {
        // The common case first: a key after every other one.
        match self.small.last() {
            None => Err(0),
            Some((last, _)) if *last < *key => Err(self.small.len()),
            _ => self.small.binary_search_by(|(k, _)| k.cmp(key)),
        }
    }

    /// Whether the entries are in `large`, after moving them there if a new entry would
    /// land in the middle of a large `small` at `at`.
    fn use_large(&mut self, at: Result<usize, usize>) -> bool {
        if !self.large.is_empty() {
            return true;
        }
        match at {
            Err(i) if i < self.small.len() && self.small.len() >= LARGE => {
                self.large = std::mem::take(&mut self.small).into_iter().collect();
                true
            }
            _ => false,
        }
    }

    /// The value for `key`.
    pub fn get(&self, key: &K) -> Option<&V> {
        if !self.large.is_empty() {
            return self.large.get(key);
        }
        self.find(key).ok().map(|i| &self.small[i].1)
    }

    /// The value for `key`, to change.
    pub fn get_mut(&mut self, key: &K) -> Option<&mut V> {
        if !self.large.is_empty() {
            return self.large.get_mut(key);
        }
        self.find(key).ok().map(|i| &mut self.small[i].1)
    }

    /// The value for `key`, made with `V::default()` when missing.
    pub fn get_or_default(&mut self, key: K) -> &mut V
    where
        V: Default,
    {
        let at = self.find(&key);
        if self.use_large(at) {
            return self.large.entry(key).or_default();
        }
        let i = match at {
            Ok(i) => i,
            Err(i) => {
                self.small.insert(i, (key, V::default()));
                i
            }
        };
        &mut self.small[i].1
    }

    /// Sets the value for `key`.
    pub fn insert(&mut self, key: K, value: V) {
        let at = self.find(&key);
        if self.use_large(at) {
            self.large.insert(key, value);
            return;
        }
        match at {
            Ok(i) => self.small[i].1 = value,
            Err(i) => self.small.insert(i, (key, value)),
        }
    }

    /// Removes `key`'s entry.
    pub fn remove(&mut self, key: &K) {
        if !self.large.is_empty() {
            self.large.remove(key);
        } else if let Ok(i) = self.find(key) {
            self.small.remove(i);
        }
    }

    /// Keeps the entries `keep` says yes to (it may change their values).
    pub fn retain(&mut self, mut keep: impl FnMut(&K, &mut V) -> bool) {
        self.small.retain_mut(|(k, v)| keep(k, v));
        self.large.retain(|k, v| keep(k, v));
    }

    /// The entries in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&K, &V)> {
        self.small.iter().map(|(k, v)| (k, v)).chain(&self.large)
    }

    /// The values in key order, to change.
    pub fn values_mut(&mut self) -> impl Iterator<Item = &mut V> {
        self.small
            .iter_mut()
            .map(|(_, v)| v)
            .chain(self.large.values_mut())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn it_answers_as_a_btree_map_does_whatever_the_insertion_order() {
        let keys = [5, 1, 9, 3, 3, 7, 0, 9, 2, 8, 4, 6];
        let mut mine = SortedMap::default();
        let mut reference = BTreeMap::new();
        for (n, k) in keys.into_iter().enumerate() {
            *mine.get_or_default(k) += n;
            *reference.entry(k).or_default() += n;
        }
        mine.insert(11, 1);
        reference.insert(11, 1);
        mine.insert(5, 100);
        reference.insert(5, 100);
        mine.remove(&3);
        reference.remove(&3);
        mine.remove(&42);
        mine.retain(|k, v| {
            *v += 1;
            k % 4 != 0
        });
        reference.retain(|k, v| {
            *v += 1;
            k % 4 != 0
        });
        let got: Vec<_> = mine.iter().map(|(k, v)| (*k, *v)).collect();
        let want: Vec<_> = reference.iter().map(|(k, v)| (*k, *v)).collect();
        assert_eq!(got, want);
        for k in 0..12 {
            assert_eq!(mine.get(&k), reference.get(&k), "{k}");
        }
        *mine.get_mut(&9).unwrap() = 0;
        assert_eq!(mine.get(&9), Some(&0));
        assert!(mine.get_mut(&3).is_none());
        assert!(!mine.is_empty() && SortedMap::<u8, u8>::default().is_empty());
    }

    #[test]
    fn a_large_map_filled_out_of_order_moves_to_a_b_tree_and_answers_the_same() {
        let mut mine = SortedMap::default();
        let mut reference = BTreeMap::new();
        // In order first (stays a vector), then keys that land in the middle.
        for k in (0..2 * LARGE).step_by(2) {
            *mine.get_or_default(k) += 1;
            *reference.entry(k).or_default() += 1;
        }
        assert!(mine.large.is_empty(), "appends keep the vector");
        for k in (1..2 * LARGE).step_by(2).rev() {
            mine.insert(k, k);
            reference.insert(k, k);
        }
        assert!(mine.small.is_empty() && !mine.large.is_empty());
        mine.remove(&7);
        reference.remove(&7);
        mine.retain(|k, _| k % 3 != 0);
        reference.retain(|k, _| k % 3 != 0);
        for v in mine.values_mut() {
            *v += 1;
        }
        for v in reference.values_mut() {
            *v += 1;
        }
        let got: Vec<_> = mine.iter().map(|(k, v)| (*k, *v)).collect();
        let want: Vec<_> = reference.iter().map(|(k, v)| (*k, *v)).collect();
        assert_eq!(got, want);
        assert_eq!(mine.get(&8), reference.get(&8));
        assert_eq!(mine.get_mut(&11).copied(), Some(12));
        // The same entries in a vector compare equal to the B-tree's.
        let mut small = SortedMap::default();
        for (k, v) in &reference {
            small.insert(*k, *v);
        }
        assert!(small.large.is_empty());
        assert_eq!(small, mine);
    }
}
