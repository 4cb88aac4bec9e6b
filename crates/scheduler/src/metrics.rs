//! Prometheus metrics with upstream's names (`scheduler_schedule_attempts_total`,
//! `scheduler_scheduling_attempt_duration_seconds`, `scheduler_pending_pods`, …).

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::queue::QueueCounts;

/// Labels of an attempt: its result and the profile.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct AttemptLabels {
    /// `scheduled`, `unschedulable` or `error`.
    pub result: String,
    /// The profile's scheduler name.
    pub profile: String,
}

/// Labels of the pending pods gauge.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct QueueLabels {
    /// `active`, `backoff`, `unschedulable` or `gated`.
    pub queue: String,
}

/// Labels of the end-to-end latency histogram.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SliLabels {
    /// How many attempts it took.
    pub attempts: String,
}

/// The scheduler's metrics.
pub struct Metrics {
    registry: Registry,
    /// Attempts by result and profile.
    pub attempts: Family<AttemptLabels, Counter>,
    /// Duration of the scheduling algorithm plus assume, by result and profile.
    pub attempt_duration: Family<AttemptLabels, Histogram>,
    /// Pods waiting, by queue.
    pub pending: Family<QueueLabels, Gauge>,
    /// From first entering the queue to bound, by attempts.
    pub sli_duration: Family<SliLabels, Histogram>,
    /// Preemption attempts.
    pub preemption_attempts: Counter,
    /// Victims of the last preemptions.
    pub preemption_victims: Histogram,
    /// Events dropped because the writer fell behind.
    pub events_dropped: Counter,
    /// Pods bound since start (for benchmarks and tests; the SLI histogram counts the same).
    pub bound: std::sync::atomic::AtomicU64,
}

impl Default for Metrics {
    fn default() -> Metrics {
        Metrics::new()
    }
}

impl Metrics {
    /// Registers every metric.
    pub fn new() -> Metrics {
        let mut registry = Registry::default();
        let attempts = Family::<AttemptLabels, Counter>::default();
        registry.register(
            "scheduler_schedule_attempts",
            "Number of attempts to schedule pods, by the result.",
            attempts.clone(),
        );
        let attempt_duration = Family::<AttemptLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.001, 2.0, 15))
        });
        registry.register(
            "scheduler_scheduling_attempt_duration_seconds",
            "Scheduling attempt latency in seconds (scheduling algorithm + binding)",
            attempt_duration.clone(),
        );
        let pending = Family::<QueueLabels, Gauge>::default();
        registry.register(
            "scheduler_pending_pods",
            "Number of pending pods, by the queue type.",
            pending.clone(),
        );
        let sli_duration = Family::<SliLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.01, 2.0, 20))
        });
        registry.register(
            "scheduler_pod_scheduling_sli_duration_seconds",
            "E2e latency for a pod being scheduled, from the time the pod enters the scheduling queue.",
            sli_duration.clone(),
        );
        let preemption_attempts = Counter::default();
        registry.register(
            "scheduler_preemption_attempts",
            "Total preemption attempts in the cluster till now",
            preemption_attempts.clone(),
        );
        let preemption_victims = Histogram::new(exponential_buckets(1.0, 2.0, 7));
        registry.register(
            "scheduler_preemption_victims",
            "Number of selected preemption victims",
            preemption_victims.clone(),
        );
        let events_dropped = Counter::default();
        registry.register(
            "rkube_scheduler_events_dropped",
            "Events not written because the writer fell behind.",
            events_dropped.clone(),
        );
        Metrics {
            registry,
            attempts,
            attempt_duration,
            pending,
            sli_duration,
            preemption_attempts,
            preemption_victims,
            events_dropped,
            bound: Default::default(),
        }
    }

    /// Records one attempt.
    pub fn attempt(&self, result: &str, profile: &str, seconds: f64) {
        let labels = AttemptLabels {
            result: result.into(),
            profile: profile.into(),
        };
        self.attempts.get_or_create(&labels).inc();
        self.attempt_duration
            .get_or_create(&labels)
            .observe(seconds);
    }

    /// Sets the pending pods gauges.
    pub fn set_pending(&self, counts: QueueCounts) {
        for (queue, n) in [
            ("active", counts.active),
            ("backoff", counts.backoff),
            ("unschedulable", counts.unschedulable),
            ("gated", counts.gated),
        ] {
            self.pending
                .get_or_create(&QueueLabels {
                    queue: queue.into(),
                })
                .set(n as i64);
        }
    }

    /// The Prometheus text exposition.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}
