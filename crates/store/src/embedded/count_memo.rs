//! The counts of recent listings, by prefix and revision. A range page reports how many keys
//! the whole listing has; counting is a scan of the prefix, so counting on every page made
//! reading a prefix page by page quadratic (150 pages of 1000 keys: 150 scans of 150 000).
//! A count at a revision never changes (later writes have later revisions), so the first
//! page's count serves the listing's other pages, which read at the same revision.

use crate::Revision;
use std::collections::VecDeque;
use std::sync::Mutex;

/// Listings remembered: more than are ever paged through at once.
const CAPACITY: usize = 64;

/// Recent `(prefix, revision) → count`.
#[derive(Default)]
pub(crate) struct CountMemo {
    recent: Mutex<VecDeque<(String, Revision, i64)>>,
}

impl CountMemo {
    /// The count of `prefix` at `revision`, if remembered.
    pub fn get(&self, prefix: &str, revision: Revision) -> Option<i64> {
        let recent = self.recent.lock().unwrap_or_else(|p| p.into_inner());
        recent
            .iter()
            .find(|(p, r, _)| *r == revision && p == prefix)
            .map(|(_, _, n)| *n)
    }

    /// Remembers a count, forgetting the oldest beyond the capacity.
    pub fn put(&self, prefix: &str, revision: Revision, count: i64) {
        let mut recent = self.recent.lock().unwrap_or_else(|p| p.into_inner());
        if recent.iter().any(|(p, r, _)| *r == revision && p == prefix) {
            return;
        }
        if recent.len() == CAPACITY {
            recent.pop_front();
        }
        recent.push_back((prefix.to_owned(), revision, count));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_by_prefix_and_revision_and_forgets_the_oldest() {
        let memo = CountMemo::default();
        memo.put("/a/", 5, 10);
        assert_eq!(memo.get("/a/", 5), Some(10));
        assert_eq!(memo.get("/a/", 6), None);
        assert_eq!(memo.get("/b/", 5), None);
        for r in 100..100 + CAPACITY as i64 {
            memo.put("/c/", r, r);
        }
        assert_eq!(memo.get("/a/", 5), None, "the oldest was forgotten");
        assert_eq!(memo.get("/c/", 100), Some(100));
    }
}
