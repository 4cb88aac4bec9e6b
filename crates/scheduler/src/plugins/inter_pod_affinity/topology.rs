//! Counts per topology pair (`topologyKey` → label value → count), and a parallel fold over
//! nodes used by PreFilter/PreScore to build them.

use std::collections::{BTreeMap, HashMap};

use rayon::prelude::*;

/// Counts per topology pair. Topology keys are few (usually one or two), so they are kept in a
/// short list scanned linearly; values (up to one per node) are hashed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TopologyCounts {
    keys: Vec<(String, HashMap<String, i64>)>,
}

impl TopologyCounts {
    /// Whether no pair is recorded.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The number of recorded pairs.
    pub fn len(&self) -> usize {
        self.keys.iter().map(|(_, v)| v.len()).sum()
    }

    /// The count of `key=value` (0 when absent).
    pub fn get(&self, key: &str, value: &str) -> i64 {
        self.values(key)
            .and_then(|m| m.get(value))
            .copied()
            .unwrap_or(0)
    }

    /// Every value of `key` with its count.
    pub fn values(&self, key: &str) -> Option<&HashMap<String, i64>> {
        self.keys.iter().find(|(k, _)| k == key).map(|(_, m)| m)
    }

    /// Adds `delta` to `key=value`, dropping the pair when it reaches zero (and the key when
    /// it has no pair left), so [`TopologyCounts::is_empty`] means "nothing matched".
    pub fn add(&mut self, key: &str, value: &str, delta: i64) {
        if delta == 0 {
            return;
        }
        let i = self.key_index(key);
        let map = &mut self.keys[i].1;
        match map.get_mut(value) {
            Some(c) => {
                *c += delta;
                if *c == 0 {
                    map.remove(value);
                    if map.is_empty() {
                        self.keys.swap_remove(i);
                    }
                }
            }
            None => {
                map.insert(value.to_string(), delta);
            }
        }
    }

    /// Adds `delta` to `key=value`, keeping the pair even when it nets to zero (scoring: a
    /// recorded pair, even at zero, makes the scores normalized).
    pub fn accumulate(&mut self, key: &str, value: &str, delta: i64) {
        let i = self.key_index(key);
        let map = &mut self.keys[i].1;
        match map.get_mut(value) {
            Some(c) => *c += delta,
            None => {
                map.insert(value.to_string(), delta);
            }
        }
    }

    /// Adds `delta` to the pair `key=<node's value of key>`, if the node has the label.
    pub fn add_on(&mut self, labels: &BTreeMap<String, String>, key: &str, delta: i64) {
        if let Some(value) = labels.get(key) {
            self.add(key, value, delta);
        }
    }

    /// Adds every pair of `other` into `self` (pruning zeros if `prune`).
    pub fn merge(&mut self, other: TopologyCounts, prune: bool) {
        if self.keys.is_empty() {
            *self = other;
            return;
        }
        for (key, values) in other.keys {
            for (value, count) in values {
                if prune {
                    self.add(&key, &value, count);
                } else {
                    self.accumulate(&key, &value, count);
                }
            }
        }
    }

    /// Whether a node with `labels` lies in a recorded pair with a positive count.
    pub fn any_positive_on(&self, labels: &BTreeMap<String, String>) -> bool {
        self.keys.iter().any(|(key, values)| {
            labels
                .get(key)
                .and_then(|v| values.get(v))
                .is_some_and(|c| *c > 0)
        })
    }

    /// The sum of the counts of every pair a node with `labels` lies in.
    pub fn sum_on(&self, labels: &BTreeMap<String, String>) -> i64 {
        self.keys
            .iter()
            .filter_map(|(key, values)| labels.get(key).and_then(|v| values.get(v)))
            .sum()
    }

    fn key_index(&mut self, key: &str) -> usize {
        match self.keys.iter().position(|(k, _)| k == key) {
            Some(i) => i,
            None => {
                self.keys.push((key.to_string(), HashMap::new()));
                self.keys.len() - 1
            }
        }
    }
}

/// Below this many items a fold runs on the calling thread.
const PARALLEL_MIN: usize = 1024;

/// Folds `f` over `items` into per-chunk accumulators (in parallel when there are many items)
/// and merges them. Upstream's `parallelizer.Until` over nodes, without a lock.
pub(crate) fn par_fold<I, T, Init, F, M>(items: &[I], init: Init, f: F, merge: M) -> T
where
    I: Sync,
    T: Send,
    Init: Fn() -> T + Sync + Send,
    F: Fn(&mut T, &I) + Sync + Send,
    M: Fn(T, T) -> T + Sync + Send,
{
    if items.len() < PARALLEL_MIN {
        let mut acc = init();
        for item in items {
            f(&mut acc, item);
        }
        return acc;
    }
    let chunk = (items.len() / (rayon::current_num_threads().max(1) * 4)).max(256);
    items
        .par_chunks(chunk)
        .map(|part| {
            let mut acc = init();
            for item in part {
                f(&mut acc, item);
            }
            acc
        })
        .reduce(&init, &merge)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn add_prunes_zero_pairs_and_accumulate_keeps_them() {
        let mut c = TopologyCounts::default();
        c.add("zone", "a", 1);
        c.add("zone", "a", -1);
        assert!(c.is_empty());
        c.accumulate("zone", "a", 1);
        c.accumulate("zone", "a", -1);
        assert!(!c.is_empty());
        assert_eq!(c.get("zone", "a"), 0);
        assert_eq!(c.len(), 1);
    }

    #[test]
    fn lookups_by_node_labels() {
        let mut c = TopologyCounts::default();
        c.add("zone", "a", 2);
        c.add("host", "n1", 3);
        let labels: BTreeMap<String, String> = [
            ("zone".to_string(), "a".to_string()),
            ("host".to_string(), "n2".to_string()),
        ]
        .into();
        assert!(c.any_positive_on(&labels));
        assert_eq!(c.sum_on(&labels), 2);
        let other: BTreeMap<String, String> = [("zone".to_string(), "b".to_string())].into();
        assert!(!c.any_positive_on(&other));
    }

    #[test]
    fn par_fold_matches_sequential() {
        let items: Vec<i64> = (0..5000).collect();
        let sum = par_fold(&items, || 0i64, |acc, x| *acc += x, |a, b| a + b);
        assert_eq!(sum, items.iter().sum::<i64>());
    }
}
