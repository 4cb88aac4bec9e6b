//! Completion indexes of Indexed Jobs: a pod's index (annotation, else label) and the ordered
//! interval sets upstream writes to `status.completedIndexes` / `status.failedIndexes`
//! (`"1,3-5,7"`).

use std::fmt;

use k8s_openapi::api::core::v1::Pod;

/// Annotation (and, since PodIndexLabel, label) holding a pod's completion index.
pub const COMPLETION_INDEX: &str = "batch.kubernetes.io/job-completion-index";

/// The pod's completion index, if it has a valid one.
pub fn completion_index(pod: &Pod) -> Option<i32> {
    let m = &pod.metadata;
    let raw = m
        .annotations
        .as_ref()
        .and_then(|a| a.get(COMPLETION_INDEX))
        .or_else(|| m.labels.as_ref().and_then(|l| l.get(COMPLETION_INDEX)))?;
    raw.parse::<i32>().ok().filter(|i| *i >= 0)
}

/// Disjoint, ordered, non-adjacent closed intervals of indexes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Intervals(Vec<(i32, i32)>);

impl Intervals {
    /// Parses `"1,3-5"`, keeping only indexes below `completions` (malformed parts are skipped,
    /// as upstream logs and ignores them).
    pub fn parse(s: Option<&str>, completions: i32) -> Intervals {
        let mut out = Intervals::default();
        for part in s.unwrap_or_default().split(',').filter(|p| !p.is_empty()) {
            let (a, b) = match part.split_once('-') {
                Some((a, b)) => (a.parse::<i32>(), b.parse::<i32>()),
                None => (part.parse::<i32>(), part.parse::<i32>()),
            };
            let (Ok(a), Ok(b)) = (a, b) else { continue };
            for i in a.max(0)..=b.min(completions - 1) {
                out.insert(i);
            }
        }
        out
    }

    /// Adds one index.
    pub fn insert(&mut self, i: i32) {
        let v = &mut self.0;
        let pos = v.partition_point(|(_, last)| *last < i - 1);
        if pos < v.len() && v[pos].0 <= i + 1 {
            let (first, last) = &mut v[pos];
            if i >= *first && i <= *last {
                return;
            }
            if i == *first - 1 {
                *first = i;
            } else {
                *last = i;
                // Joined the next interval?
                if pos + 1 < v.len() && v[pos + 1].0 == i + 1 {
                    let next_last = v[pos + 1].1;
                    v[pos].1 = next_last;
                    v.remove(pos + 1);
                }
            }
        } else {
            v.insert(pos, (i, i));
        }
    }

    /// Whether `i` is in the set.
    pub fn has(&self, i: i32) -> bool {
        self.0.iter().any(|(a, b)| (*a..=*b).contains(&i))
    }

    /// How many indexes the set holds.
    pub fn total(&self) -> i32 {
        self.0.iter().map(|(a, b)| b - a + 1).sum()
    }
}

impl fmt::Display for Intervals {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (n, (a, b)) in self.0.iter().enumerate() {
            if n > 0 {
                f.write_str(",")?;
            }
            if a == b {
                write!(f, "{a}")?;
            } else {
                write!(f, "{a}-{b}")?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_round_trip_and_merge() {
        let table: &[(&[i32], &str)] = &[
            (&[], ""),
            (&[0], "0"),
            (&[1, 2], "1-2"),
            (&[3, 1, 5, 4], "1,3-5"),
            (&[0, 2, 1], "0-2"),
            (&[7, 3, 5, 4, 9, 8, 1], "1,3-5,7-9"),
            (&[2, 2, 2], "2"),
        ];
        for (insert, want) in table {
            let mut s = Intervals::default();
            for i in *insert {
                s.insert(*i);
            }
            assert_eq!(s.to_string(), *want, "{insert:?}");
            assert_eq!(s.total() as usize, {
                let mut u = insert.to_vec();
                u.sort();
                u.dedup();
                u.len()
            });
            assert_eq!(Intervals::parse(Some(want), 100), s);
        }
    }

    #[test]
    fn parse_drops_out_of_range_and_garbage() {
        let s = Intervals::parse(Some("1,3-6,x,9"), 5);
        assert_eq!(s.to_string(), "1,3-4");
        assert!(s.has(3) && !s.has(2));
    }
}
