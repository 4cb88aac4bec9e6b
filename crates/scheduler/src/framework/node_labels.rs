//! A node's labels laid out for the lookups the filters make for every node of every cycle
//! (node selectors, required node affinity). In the node object they sit in a
//! `BTreeMap<String, String>` behind two pointers, and finding a key compares it with several
//! keys, each in its own allocation: a cache miss per comparison. Here the entries are one
//! contiguous array with each key's hash, so a lookup scans a few cache lines and compares
//! one key.

use std::collections::BTreeMap;
use std::sync::Arc;

use rkube_api::selector::Labels;

/// One label and its key's hash.
#[derive(Debug)]
struct Entry {
    hash: u64,
    key: Box<str>,
    value: Box<str>,
}

/// A node's labels, cheap to clone (node infos are copied on every pod placed on them).
#[derive(Clone, Debug, Default)]
pub struct NodeLabels {
    entries: Arc<[Entry]>,
}

impl NodeLabels {
    /// The labels of `labels`.
    pub fn new(labels: &BTreeMap<String, String>) -> NodeLabels {
        NodeLabels {
            entries: labels
                .iter()
                .map(|(k, v)| Entry {
                    hash: hash(k),
                    key: k.as_str().into(),
                    value: v.as_str().into(),
                })
                .collect(),
        }
    }

    /// The value of label `key`, if the node has it.
    pub fn get(&self, key: &str) -> Option<&str> {
        let h = hash(key);
        self.entries
            .iter()
            .find(|e| e.hash == h && &*e.key == key)
            .map(|e| &*e.value)
    }
}

impl Labels for NodeLabels {
    fn label(&self, key: &str) -> Option<&str> {
        self.get(key)
    }
}

/// FNV-1a: label keys are short, and this is cheaper than SipHash for them.
fn hash(key: &str) -> u64 {
    key.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookups_agree_with_the_map() {
        let mut map = BTreeMap::new();
        for i in 0..50 {
            map.insert(format!("example.com/key-{i}"), format!("value-{i}"));
        }
        map.insert("topology.kubernetes.io/zone".into(), "zone1".into());
        map.insert("topology.kubernetes.io/region".into(), "r".into());
        map.insert(String::new(), "empty key".into());
        let labels = NodeLabels::new(&map);
        for (k, v) in &map {
            assert_eq!(labels.get(k), Some(v.as_str()), "{k}");
            assert_eq!(labels.label(k), Some(v.as_str()), "{k}");
        }
        for missing in [
            "topology.kubernetes.io/zon",
            "example.com/key-50",
            "zone1",
            "Z",
        ] {
            assert_eq!(labels.get(missing), None, "{missing}");
        }
        assert_eq!(NodeLabels::default().get("a"), None);
    }
}
