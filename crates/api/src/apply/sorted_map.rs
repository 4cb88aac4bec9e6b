//! A map kept as a vector sorted by key: the children of a [`super::set::FieldSet`] node.
//! Field sets are built by walking objects whose members come in key order, so nearly every
//! insertion lands at the end and costs one comparison; a `BTreeMap` compared each new key
//! with several others (string compares were the largest part of recording a create's
//! managed fields). The nodes are small, so the occasional insertion in the middle is cheap.

/// Entries sorted by key, each key once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct SortedMap<K, V> {
    entries: Vec<(K, V)>,
}

impl<K, V> Default for SortedMap<K, V> {
    fn default() -> Self {
        SortedMap {
            entries: Vec::new(),
        }
    }
}

impl<K: Ord, V> SortedMap<K, V> {
    /// Whether the map has no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Where `key` is, or where it would go.
    fn find(&self, key: &K) -> Result<usize, usize> {
        // The common case first: a key after every other one.
        match self.entries.last() {
            None => Err(0),
            Some((last, _)) if *last < *key => Err(self.entries.len()),
            _ => self.entries.binary_search_by(|(k, _)| k.cmp(key)),
        }
    }

    /// The value for `key`.
    pub fn get(&self, key: &K) -> Option<&V> {
        self.find(key).ok().map(|i| &self.entries[i].1)
    }

    /// The value for `key`, to change.
    pub fn get_mut(&mut self, key: &K) -> Option<&mut V> {
        self.find(key).ok().map(|i| &mut self.entries[i].1)
    }

    /// The value for `key`, made with `V::default()` when missing.
    pub fn get_or_default(&mut self, key: K) -> &mut V
    where
        V: Default,
    {
        let i = match self.find(&key) {
            Ok(i) => i,
            Err(i) => {
                self.entries.insert(i, (key, V::default()));
                i
            }
        };
        &mut self.entries[i].1
    }

    /// Sets the value for `key`.
    pub fn insert(&mut self, key: K, value: V) {
        match self.find(&key) {
            Ok(i) => self.entries[i].1 = value,
            Err(i) => self.entries.insert(i, (key, value)),
        }
    }

    /// Removes `key`'s entry.
    pub fn remove(&mut self, key: &K) {
        if let Ok(i) = self.find(key) {
            self.entries.remove(i);
        }
    }

    /// Keeps the entries `keep` says yes to (it may change their values).
    pub fn retain(&mut self, mut keep: impl FnMut(&K, &mut V) -> bool) {
        self.entries.retain_mut(|(k, v)| keep(k, v));
    }

    /// The entries in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&K, &V)> {
        self.entries.iter().map(|(k, v)| (k, v))
    }

    /// The values in key order, to change.
    pub fn values_mut(&mut self) -> impl Iterator<Item = &mut V> {
        self.entries.iter_mut().map(|(_, v)| v)
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
}
