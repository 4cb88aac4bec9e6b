//! The controller manager's Prometheus metrics, one registry for every controller, served on
//! `/metrics`. Names are upstream's where they exist:
//! - client-go's workqueue metrics, labelled by queue `name` (the controller's name):
//!   `workqueue_depth`, `workqueue_adds_total`, `workqueue_queue_duration_seconds`,
//!   `workqueue_work_duration_seconds`, `workqueue_retries_total`;
//! - reconcile outcomes by `controller`, named as controller-runtime does (kube-controller-manager
//!   has no generic one): `controller_runtime_reconcile_total{result}`,
//!   `controller_runtime_reconcile_errors_total`, `controller_runtime_reconcile_time_seconds`;
//! - client-go's `leader_election_master_status{name}`.
//!
//! A controller with metrics of its own registers them with [`Metrics::register`].

use std::sync::Mutex;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::{Metric, Registry};

/// Labels of the workqueue metrics.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct QueueLabels {
    /// The queue's (controller's) name.
    pub name: String,
}

/// Labels of the reconcile counters and histogram.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ControllerLabels {
    /// The controller's name.
    pub controller: String,
}

/// Labels of the reconcile total: controller and result.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ResultLabels {
    /// The controller's name.
    pub controller: String,
    /// `success`, `requeue_after` or `error`.
    pub result: String,
}

/// Every controller's metrics.
pub struct Metrics {
    registry: Mutex<Registry>,
    /// Items waiting in each queue.
    pub depth: Family<QueueLabels, Gauge>,
    /// Items added to each queue.
    pub adds: Family<QueueLabels, Counter>,
    /// Seconds an item waits in a queue before being processed.
    pub queue_duration: Family<QueueLabels, Histogram>,
    /// Seconds processing an item takes.
    pub work_duration: Family<QueueLabels, Histogram>,
    /// Rate-limited re-adds (retries after a failure).
    pub retries: Family<QueueLabels, Counter>,
    /// Reconciles by controller and result.
    pub reconciles: Family<ResultLabels, Counter>,
    /// Failed reconciles by controller.
    pub reconcile_errors: Family<ControllerLabels, Counter>,
    /// Reconcile durations by controller.
    pub reconcile_time: Family<ControllerLabels, Histogram>,
    /// 1 while this manager leads (label `name`: the lease name).
    pub leader: Family<QueueLabels, Gauge>,
}

impl Default for Metrics {
    fn default() -> Metrics {
        Metrics::new()
    }
}

fn seconds_histogram() -> Histogram {
    // client-go's workqueue buckets: 10^-8 s … 10 s.
    Histogram::new(exponential_buckets(1e-8, 10.0, 10))
}

impl Metrics {
    /// Registers the shared metrics.
    pub fn new() -> Metrics {
        let mut r = Registry::default();
        let depth = Family::<QueueLabels, Gauge>::default();
        r.register(
            "workqueue_depth",
            "Current depth of workqueue",
            depth.clone(),
        );
        let adds = Family::<QueueLabels, Counter>::default();
        r.register(
            "workqueue_adds",
            "Total number of adds handled by workqueue",
            adds.clone(),
        );
        let queue_duration =
            Family::<QueueLabels, Histogram>::new_with_constructor(seconds_histogram);
        r.register(
            "workqueue_queue_duration_seconds",
            "How long in seconds an item stays in workqueue before being requested",
            queue_duration.clone(),
        );
        let work_duration =
            Family::<QueueLabels, Histogram>::new_with_constructor(seconds_histogram);
        r.register(
            "workqueue_work_duration_seconds",
            "How long in seconds processing an item from workqueue takes",
            work_duration.clone(),
        );
        let retries = Family::<QueueLabels, Counter>::default();
        r.register(
            "workqueue_retries",
            "Total number of retries handled by workqueue",
            retries.clone(),
        );
        let reconciles = Family::<ResultLabels, Counter>::default();
        r.register(
            "controller_runtime_reconcile",
            "Total number of reconciliations per controller",
            reconciles.clone(),
        );
        let reconcile_errors = Family::<ControllerLabels, Counter>::default();
        r.register(
            "controller_runtime_reconcile_errors",
            "Total number of reconciliation errors per controller",
            reconcile_errors.clone(),
        );
        let reconcile_time = Family::<ControllerLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.001, 2.0, 16))
        });
        r.register(
            "controller_runtime_reconcile_time_seconds",
            "Length of time per reconciliation per controller",
            reconcile_time.clone(),
        );
        let leader = Family::<QueueLabels, Gauge>::default();
        r.register(
            "leader_election_master_status",
            "Gauge of if the reporting system is master of the relevant lease, 0 indicates backup, 1 indicates master. 'name' is the string used to identify the lease",
            leader.clone(),
        );
        Metrics {
            registry: Mutex::new(r),
            depth,
            adds,
            queue_duration,
            work_duration,
            retries,
            reconciles,
            reconcile_errors,
            reconcile_time,
            leader,
        }
    }

    /// Registers a controller's own metric (served with the rest).
    pub fn register(&self, name: &str, help: &str, metric: impl Metric) {
        if let Ok(mut r) = self.registry.lock() {
            r.register(name, help, metric);
        }
    }

    /// The OpenMetrics text of every metric.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        if let Ok(r) = self.registry.lock() {
            let _ = prometheus_client::encoding::text::encode(&mut out, &r);
        }
        out
    }
}
