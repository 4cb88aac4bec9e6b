//! PrioritySort: the queue order — higher `spec.priority` first, then whoever waited longest.

use crate::framework::{Plugin, QueueKey, QueueSort};

/// The plugin's name.
pub const NAME: &str = "PrioritySort";

/// Orders the active queue by priority, then by queue time.
pub struct PrioritySort;

impl Plugin for PrioritySort {
    fn name(&self) -> &'static str {
        NAME
    }
    fn as_queue_sort(&self) -> Option<&dyn QueueSort> {
        Some(self)
    }
}

impl QueueSort for PrioritySort {
    fn less(&self, a: &QueueKey, b: &QueueKey) -> bool {
        a.cmp_default(b).is_lt()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn higher_priority_then_earlier_first() {
        let cases = [
            ((10, 5), (1, 1), true),
            ((1, 1), (10, 5), false),
            ((3, 1), (3, 2), true),
            ((3, 2), (3, 1), false),
            ((3, 2), (3, 2), false),
        ];
        for ((pa, ta), (pb, tb), want) in cases {
            let a = QueueKey {
                priority: pa,
                timestamp: ta,
            };
            let b = QueueKey {
                priority: pb,
                timestamp: tb,
            };
            assert_eq!(PrioritySort.less(&a, &b), want, "{a:?} < {b:?}");
        }
    }
}
