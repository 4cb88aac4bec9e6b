//! Counts per topology pair (`topologyKey` → label value → count), a parallel fold over
//! nodes used by PreFilter/PreScore to build them, and a cache that carries such totals from
//! one cycle's snapshot to the next, recomputing only the nodes that changed.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use rayon::prelude::*;

use crate::framework::{NodeInfo, Snapshot};

/// How many shards a [`ShardedMap`] splits its entries into.
const SHARDS: usize = 32;

/// A map from topology value to `V` split into shards that are shared (`Arc`) between copies:
/// copying the map costs [`SHARDS`] reference counts, and a change afterwards copies only the
/// shard it touches. Cycle states share the cached totals this way, and preemption's (or the
/// next cycle's) few changes do not copy thousands of entries.
#[derive(Clone, Debug)]
pub struct ShardedMap<V> {
    shards: Vec<Arc<HashMap<String, V>>>,
    len: usize,
}

impl<V> Default for ShardedMap<V> {
    fn default() -> Self {
        ShardedMap {
            shards: Vec::new(),
            len: 0,
        }
    }
}

/// The shard of `value` (FNV-1a: cheap, and only spreads entries; the shards hash again).
fn shard_of(value: &str) -> usize {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in value.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    (h % SHARDS as u64) as usize
}

impl<V: Clone> ShardedMap<V> {
    /// The number of entries.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there is no entry.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The entry of `value`.
    pub fn get(&self, value: &str) -> Option<&V> {
        self.shards.get(shard_of(value))?.get(value)
    }

    /// Applies `f` to the entry of `value` (starting from `default()` when absent); `f` says
    /// whether to keep the entry, and what to return.
    pub fn update<R>(
        &mut self,
        value: &str,
        default: impl FnOnce() -> V,
        f: impl FnOnce(&mut V) -> (bool, R),
    ) -> R {
        if self.shards.is_empty() {
            self.shards = (0..SHARDS).map(|_| Arc::new(HashMap::new())).collect();
        }
        let shard = Arc::make_mut(&mut self.shards[shard_of(value)]);
        let (keep, out) = match shard.get_mut(value) {
            Some(v) => f(v),
            None => {
                let mut v = default();
                let (keep, out) = f(&mut v);
                if keep {
                    shard.insert(value.to_string(), v);
                    self.len += 1;
                }
                return out;
            }
        };
        if !keep {
            shard.remove(value);
            self.len -= 1;
        }
        out
    }

    /// Every entry, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (&String, &V)> {
        self.shards.iter().flat_map(|s| s.iter())
    }
}

/// Counts per topology pair. Topology keys are few (usually one or two), so they are kept in a
/// short list scanned linearly; values (up to one per node) are hashed, in shards.
#[derive(Clone, Debug, Default)]
pub struct TopologyCounts {
    keys: Vec<(String, ShardedMap<i64>)>,
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
    pub fn values(&self, key: &str) -> Option<&ShardedMap<i64>> {
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
        map.update(
            value,
            || 0,
            |count| {
                *count += delta;
                (*count != 0, ())
            },
        );
        if map.is_empty() {
            self.keys.swap_remove(i);
        }
    }

    /// Adds `delta` to the pair `key=<node's value of key>`, if the node has the label.
    pub fn add_on(&mut self, labels: &BTreeMap<String, String>, key: &str, delta: i64) {
        if let Some(value) = labels.get(key) {
            self.add(key, value, delta);
        }
    }

    /// Adds every pair of `other` into `self`.
    pub fn merge(&mut self, other: TopologyCounts) {
        if self.keys.is_empty() {
            *self = other;
            return;
        }
        for (key, values) in &other.keys {
            for (value, count) in values.iter() {
                self.add(key, value, *count);
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
                self.keys.push((key.to_string(), ShardedMap::default()));
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

/// How many recent (key, snapshot) entries a [`SnapshotCache`] keeps (pods of a few workloads
/// interleaved in the queue each find theirs).
const CACHE_ENTRIES: usize = 4;

/// Totals over every node of a snapshot for one cache key (what the incoming pod looks like
/// to the plugin), carried from one cycle to the next.
///
/// The scheduler's cache copies a node on write, so between two snapshots a node whose
/// `Arc<NodeInfo>` is the same object is unchanged. Each entry keeps the node list it was
/// computed over (holding those objects alive, so pointer equality cannot be fooled by a
/// reused address, and without holding the snapshot itself, which would make the scheduler's
/// cache copy it). A new snapshot then costs one pointer comparison per node plus the changed
/// nodes' contributions (subtracted as they were, added as they are), instead of a visit to
/// every pod of the cluster. The totals are shared (`Arc`) with the cycle state; preemption's
/// changes copy them.
pub(crate) struct SnapshotCache<K, T> {
    entries: Mutex<Vec<Cached<K, T>>>,
}

struct Cached<K, T> {
    /// The nodes the totals are over.
    nodes: Vec<Arc<NodeInfo>>,
    key: K,
    totals: Arc<T>,
}

impl<K, T> Default for SnapshotCache<K, T> {
    fn default() -> Self {
        SnapshotCache {
            entries: Mutex::new(Vec::new()),
        }
    }
}

impl<K, T> std::fmt::Debug for SnapshotCache<K, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SnapshotCache")
    }
}

impl<K: PartialEq, T: Clone> SnapshotCache<K, T> {
    /// The totals for `key` over `snapshot`: `full(key)` computes them from scratch;
    /// `update(totals, key, node, sign)` adds (`sign` 1) or subtracts (-1) one node's
    /// contribution, and must agree with `full`.
    pub(crate) fn totals(
        &self,
        snapshot: &Arc<Snapshot>,
        key: K,
        full: impl FnOnce(&K) -> T,
        update: impl Fn(&mut T, &K, &NodeInfo, i64),
    ) -> Arc<T> {
        // Contended or poisoned: compute without the cache.
        let Ok(mut entries) = self.entries.try_lock() else {
            return Arc::new(full(&key));
        };
        if let Some(pos) = entries.iter().position(|c| c.key == key) {
            let mut c = entries.remove(pos);
            if let Some(totals) = refresh(&mut c, snapshot, &update) {
                entries.insert(0, c);
                return totals;
            }
        }
        let totals = Arc::new(full(&key));
        entries.insert(
            0,
            Cached {
                nodes: snapshot.nodes.clone(),
                key,
                totals: totals.clone(),
            },
        );
        entries.truncate(CACHE_ENTRIES);
        totals
    }
}

/// Brings `c` up to `snapshot` node by node; `None` when too many nodes changed (a full
/// computation, in parallel, is then cheaper).
fn refresh<K, T: Clone>(
    c: &mut Cached<K, T>,
    snapshot: &Snapshot,
    update: &impl Fn(&mut T, &K, &NodeInfo, i64),
) -> Option<Arc<T>> {
    let after = &snapshot.nodes;
    let limit = (after.len() / 8).max(16);
    let mut changed = Vec::new();
    for i in 0..c.nodes.len().max(after.len()) {
        let same =
            matches!((c.nodes.get(i), after.get(i)), (Some(a), Some(b)) if Arc::ptr_eq(a, b));
        if !same {
            if changed.len() == limit {
                return None;
            }
            changed.push(i);
        }
    }
    if changed.is_empty() {
        return Some(c.totals.clone());
    }
    let totals = Arc::make_mut(&mut c.totals);
    for &i in &changed {
        if let Some(n) = c.nodes.get(i) {
            update(totals, &c.key, n, -1);
        }
        if let Some(n) = after.get(i) {
            update(totals, &c.key, n, 1);
        }
    }
    c.nodes.truncate(after.len());
    for i in changed {
        match (c.nodes.get_mut(i), after.get(i)) {
            (Some(slot), Some(n)) => *slot = n.clone(),
            (None, Some(n)) => c.nodes.push(n.clone()),
            _ => {}
        }
    }
    Some(c.totals.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn add_prunes_zero_pairs() {
        let mut c = TopologyCounts::default();
        c.add("zone", "a", 1);
        c.add("zone", "a", -1);
        assert!(c.is_empty());
        c.add("zone", "a", 2);
        c.add("zone", "b", 1);
        assert_eq!(c.len(), 2);
        assert_eq!(c.get("zone", "a"), 2);
    }

    #[test]
    fn sharded_map_copies_are_independent() {
        let mut a: ShardedMap<i64> = ShardedMap::default();
        for i in 0..100 {
            a.update(
                &format!("v{i}"),
                || 0,
                |n| {
                    *n += i;
                    (true, ())
                },
            );
        }
        let b = a.clone();
        a.update(
            "v5",
            || 0,
            |n| {
                *n += 1;
                (true, ())
            },
        );
        a.update("v7", || 0, |_| (false, ()));
        a.update("new", || 0, |_| (false, ()));
        assert_eq!((a.len(), b.len()), (99, 100));
        assert_eq!((a.get("v5"), b.get("v5")), (Some(&6), Some(&5)));
        assert_eq!((a.get("v7"), b.get("v7")), (None, Some(&7)));
        assert_eq!(a.get("new"), None);
        assert_eq!(
            b.iter().map(|(_, v)| *v).sum::<i64>(),
            (0..100).sum::<i64>()
        );
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

    #[test]
    fn snapshot_cache_updates_only_changed_nodes() {
        use crate::plugins::testing::node;
        use std::cell::Cell;
        // Totals: the number of nodes per zone label.
        let n = |name: &str, zone: &str| {
            Arc::new(node(
                serde_json::json!({"metadata": {"name": name, "labels": {"zone": zone}}}),
            ))
        };
        let count = |acc: &mut TopologyCounts, node: &NodeInfo, sign: i64| {
            acc.add_on(node.labels(), "zone", sign)
        };
        let mut snapshot = Snapshot::from_nodes(
            (0..40)
                .map(|i| (*n(&format!("n{i}"), "a")).clone())
                .collect(),
        );
        let cache: SnapshotCache<&str, TopologyCounts> = SnapshotCache::default();
        let fulls = Cell::new(0);
        let get = |snap: &Arc<Snapshot>, key: &'static str| {
            cache.totals(
                snap,
                key,
                |_| {
                    fulls.set(fulls.get() + 1);
                    let mut acc = TopologyCounts::default();
                    for node in &snap.nodes {
                        count(&mut acc, node, 1);
                    }
                    acc
                },
                |acc, _, node, sign| count(acc, node, sign),
            )
        };
        let s1 = Arc::new(snapshot.clone());
        assert_eq!(get(&s1, "k").get("zone", "a"), 40);
        assert_eq!(get(&s1, "k").get("zone", "a"), 40);
        assert_eq!(fulls.get(), 1);
        // Two nodes move to zone b, one node is added.
        snapshot.replace(3, n("n3", "b"));
        snapshot.replace(7, n("n7", "b"));
        snapshot.nodes.push(n("n40", "c"));
        let s2 = Arc::new(snapshot.clone());
        let t = get(&s2, "k");
        assert_eq!(
            (t.get("zone", "a"), t.get("zone", "b"), t.get("zone", "c")),
            (38, 2, 1)
        );
        assert_eq!(fulls.get(), 1);
        // Another key computes in full; the first is still cached.
        assert_eq!(get(&s2, "other").get("zone", "b"), 2);
        assert_eq!(fulls.get(), 2);
        assert_eq!(get(&s2, "k").get("zone", "b"), 2);
        assert_eq!(fulls.get(), 2);
        // Nodes removed and most replaced: a full computation.
        snapshot.nodes.truncate(20);
        for i in 0..20 {
            snapshot.replace(i, n(&format!("n{i}"), "d"));
        }
        let s3 = Arc::new(snapshot.clone());
        assert_eq!(get(&s3, "k").get("zone", "d"), 20);
        assert_eq!(get(&s3, "k").len(), 1);
        assert_eq!(fulls.get(), 3);
    }
}
