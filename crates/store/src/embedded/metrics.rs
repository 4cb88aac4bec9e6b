//! Timings of the embedded store's own work, for `/metrics`: how long each group commit took
//! (its fsync included), each compaction step, and each WAL checkpoint. A write's latency is
//! its queueing behind these plus its own commit, so a stall shows in one of them.

use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use std::time::Instant;

/// The store's histograms. Cheap to clone: the series are shared.
#[derive(Clone)]
pub(crate) struct StoreMetrics {
    /// One group commit: BEGIN to COMMIT, fsync included.
    pub commit: Histogram,
    /// Jobs in one group commit.
    pub batch_jobs: Histogram,
    /// One compaction step sweeping superseded rows.
    pub compaction_step: Histogram,
    /// One step giving free pages back to the OS after a sweep.
    pub reclaim_step: Histogram,
    /// One background WAL checkpoint (copying the log into the database file, fsync
    /// included), beside the writer.
    pub checkpoint: Histogram,
    /// The writer copying the frames committed during a background checkpoint.
    pub checkpoint_tail: Histogram,
}

/// 1 ms to ~8 s, as etcd's disk histograms.
fn duration_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.001, 2.0, 14))
}

impl Default for StoreMetrics {
    fn default() -> StoreMetrics {
        StoreMetrics {
            commit: duration_histogram(),
            batch_jobs: Histogram::new(exponential_buckets(1.0, 2.0, 11)),
            compaction_step: duration_histogram(),
            reclaim_step: duration_histogram(),
            checkpoint: duration_histogram(),
            checkpoint_tail: duration_histogram(),
        }
    }
}

impl StoreMetrics {
    /// Adds the series to `registry`.
    pub fn register(&self, registry: &mut Registry) {
        let series: [(&str, &str, &Histogram); 6] = [
            (
                "rkube_store_commit_duration_seconds",
                "Duration of the embedded store's group commits, fsync included",
                &self.commit,
            ),
            (
                "rkube_store_commit_batch_jobs",
                "Writes committed together in one group commit",
                &self.batch_jobs,
            ),
            (
                "rkube_store_compaction_step_duration_seconds",
                "Duration of one compaction step (a sweep of superseded rows) run between write batches",
                &self.compaction_step,
            ),
            (
                "rkube_store_reclaim_step_duration_seconds",
                "Duration of one step giving free pages back to the OS after a compaction's sweep",
                &self.reclaim_step,
            ),
            (
                "rkube_store_checkpoint_duration_seconds",
                "Duration of one WAL checkpoint, run beside the writer",
                &self.checkpoint,
            ),
            (
                "rkube_store_checkpoint_tail_duration_seconds",
                "Duration of the writer copying the log frames committed during a background checkpoint",
                &self.checkpoint_tail,
            ),
        ];
        for (name, help, histogram) in series {
            registry.register(name, help, histogram.clone());
        }
    }
}

/// Observes the seconds since `started` into `histogram`.
pub(crate) fn observe_since(histogram: &Histogram, started: Instant) {
    histogram.observe(started.elapsed().as_secs_f64());
}
