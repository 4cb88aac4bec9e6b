//! Prometheus metrics with kube-proxy's names (`kubeproxy_sync_proxy_rules_duration_seconds`,
//! `kubeproxy_network_programming_duration_seconds`, …) and its healthz rule: healthy unless
//! a sync was queued and has not completed within twice the sync period.

use std::sync::Mutex;
use std::sync::atomic::AtomicU64;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// Label of the no-local-endpoints gauge.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PolicyLabels {
    /// `internal` or `external`.
    pub traffic_policy: String,
}

/// The proxy's metrics.
pub struct Metrics {
    registry: Registry,
    /// Every sync's duration.
    pub sync_duration: Histogram,
    /// Full syncs' duration.
    pub sync_full_duration: Histogram,
    /// Partial syncs' duration.
    pub sync_partial_duration: Histogram,
    /// Unix time of the last successful sync.
    pub last_sync: Gauge<f64, AtomicU64>,
    /// Unix time a sync was last queued.
    pub last_queued: Gauge<f64, AtomicU64>,
    /// From an EndpointSlice's last-change-trigger-time to its rules being in the kernel.
    pub network_programming: Histogram,
    /// Failed nft transactions.
    pub nft_sync_failures: Counter,
    /// Failed removals of stale objects.
    pub nft_cleanup_failures: Counter,
    /// EndpointSlice changes seen.
    pub endpoint_changes: Counter,
    /// Service changes seen.
    pub service_changes: Counter,
    /// EndpointSlice changes not yet synced.
    pub endpoint_changes_pending: Gauge,
    /// Service changes not yet synced.
    pub service_changes_pending: Gauge,
    /// Services with a Local policy and no local endpoint.
    pub no_local_endpoints: Family<PolicyLabels, Gauge>,
    /// Stale conntrack entries deleted.
    pub conntrack_deleted: Counter,
    health: Mutex<Health>,
}

#[derive(Default)]
struct Health {
    queued: Option<SystemTime>,
    updated: Option<SystemTime>,
}

fn unix(t: SystemTime) -> f64 {
    t.duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs_f64()
}

impl Default for Metrics {
    fn default() -> Metrics {
        Metrics::new()
    }
}

impl Metrics {
    /// Registers every metric.
    pub fn new() -> Metrics {
        let mut r = Registry::default();
        let h = || Histogram::new(exponential_buckets(0.001, 2.0, 15));
        let sync_duration = h();
        r.register(
            "kubeproxy_sync_proxy_rules_duration_seconds",
            "SyncProxyRules latency in seconds",
            sync_duration.clone(),
        );
        let sync_full_duration = h();
        r.register(
            "kubeproxy_sync_full_proxy_rules_duration_seconds",
            "SyncProxyRules latency in seconds for full resyncs",
            sync_full_duration.clone(),
        );
        let sync_partial_duration = h();
        r.register(
            "kubeproxy_sync_partial_proxy_rules_duration_seconds",
            "SyncProxyRules latency in seconds for partial resyncs",
            sync_partial_duration.clone(),
        );
        let last_sync = Gauge::<f64, AtomicU64>::default();
        r.register(
            "kubeproxy_sync_proxy_rules_last_timestamp_seconds",
            "The last time proxy rules were successfully synced",
            last_sync.clone(),
        );
        let last_queued = Gauge::<f64, AtomicU64>::default();
        r.register(
            "kubeproxy_sync_proxy_rules_last_queued_timestamp_seconds",
            "The last time a sync of proxy rules was queued",
            last_queued.clone(),
        );
        // Upstream's buckets: 0.25 s, 0.5 s, then 1..59 s, 60..115 s by 5, 120..300 s by 30.
        let mut buckets = vec![0.25, 0.5];
        buckets.extend((1..=59).map(f64::from));
        buckets.extend((0..12).map(|i| 60.0 + 5.0 * f64::from(i)));
        buckets.extend((0..7).map(|i| 120.0 + 30.0 * f64::from(i)));
        let network_programming = Histogram::new(buckets);
        r.register(
            "kubeproxy_network_programming_duration_seconds",
            "In Cluster Network Programming Latency in seconds",
            network_programming.clone(),
        );
        let nft_sync_failures = Counter::default();
        r.register(
            "kubeproxy_sync_proxy_rules_nftables_sync_failures",
            "Cumulative proxy nftables sync failures",
            nft_sync_failures.clone(),
        );
        let nft_cleanup_failures = Counter::default();
        r.register(
            "kubeproxy_sync_proxy_rules_nftables_cleanup_failures",
            "Cumulative proxy nftables cleanup failures",
            nft_cleanup_failures.clone(),
        );
        let endpoint_changes = Counter::default();
        r.register(
            "kubeproxy_sync_proxy_rules_endpoint_changes",
            "Cumulative proxy rules Endpoint changes",
            endpoint_changes.clone(),
        );
        let service_changes = Counter::default();
        r.register(
            "kubeproxy_sync_proxy_rules_service_changes",
            "Cumulative proxy rules Service changes",
            service_changes.clone(),
        );
        let endpoint_changes_pending = Gauge::default();
        r.register(
            "kubeproxy_sync_proxy_rules_endpoint_changes_pending",
            "Pending proxy rules Endpoint changes",
            endpoint_changes_pending.clone(),
        );
        let service_changes_pending = Gauge::default();
        r.register(
            "kubeproxy_sync_proxy_rules_service_changes_pending",
            "Pending proxy rules Service changes",
            service_changes_pending.clone(),
        );
        let no_local_endpoints = Family::<PolicyLabels, Gauge>::default();
        r.register(
            "kubeproxy_sync_proxy_rules_no_local_endpoints_total",
            "Number of services with a Local traffic policy and no endpoints",
            no_local_endpoints.clone(),
        );
        let conntrack_deleted = Counter::default();
        r.register(
            "kubeproxy_conntrack_reconciler_deleted_entries",
            "Cumulative conntrack flows deleted by conntrack reconciler",
            conntrack_deleted.clone(),
        );
        Metrics {
            registry: r,
            sync_duration,
            sync_full_duration,
            sync_partial_duration,
            last_sync,
            last_queued,
            network_programming,
            nft_sync_failures,
            nft_cleanup_failures,
            endpoint_changes,
            service_changes,
            endpoint_changes_pending,
            service_changes_pending,
            no_local_endpoints,
            conntrack_deleted,
            health: Mutex::new(Health::default()),
        }
    }

    /// The Prometheus text exposition.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }

    /// Records that a sync was asked for.
    pub fn queued(&self) {
        let now = SystemTime::now();
        self.last_queued.set(unix(now));
        if let Ok(mut h) = self.health.lock()
            && h.queued.is_none_or(|q| h.updated.is_some_and(|u| q <= u))
        {
            h.queued = Some(now);
        }
    }

    /// Records a successful sync.
    pub fn synced(&self) {
        let now = SystemTime::now();
        self.last_sync.set(unix(now));
        if let Ok(mut h) = self.health.lock() {
            h.updated = Some(now);
            h.queued = None;
        }
    }

    /// Upstream's proxy healthz: unhealthy before the first sync completed, and when a
    /// queued sync has been waiting longer than `timeout` (twice the sync period).
    pub fn healthy(&self, timeout: Duration) -> bool {
        let Ok(h) = self.health.lock() else {
            return false;
        };
        let now = SystemTime::now();
        let Some(_) = h.updated else {
            return false;
        };
        match h.queued {
            Some(q) => now.duration_since(q).unwrap_or_default() <= timeout,
            None => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_upstreams() {
        let m = Metrics::new();
        m.nft_sync_failures.inc();
        m.no_local_endpoints
            .get_or_create(&PolicyLabels {
                traffic_policy: "internal".into(),
            })
            .set(2);
        let text = m.encode();
        for name in [
            "kubeproxy_sync_proxy_rules_duration_seconds_bucket",
            "kubeproxy_sync_proxy_rules_last_timestamp_seconds",
            "kubeproxy_network_programming_duration_seconds_bucket{le=\"0.25\"}",
            "kubeproxy_sync_proxy_rules_nftables_sync_failures_total 1",
            "kubeproxy_sync_proxy_rules_no_local_endpoints_total{traffic_policy=\"internal\"} 2",
        ] {
            assert!(text.contains(name), "{name} missing in\n{text}");
        }
    }

    #[test]
    fn healthz_needs_a_sync_and_no_stuck_queue() {
        let m = Metrics::new();
        assert!(
            !m.healthy(Duration::from_secs(60)),
            "not healthy before the first sync"
        );
        m.queued();
        m.synced();
        assert!(m.healthy(Duration::from_secs(60)));
        m.queued();
        assert!(m.healthy(Duration::from_secs(60)), "queued just now");
        std::thread::sleep(Duration::from_millis(5));
        assert!(
            !m.healthy(Duration::from_millis(1)),
            "a queued sync waiting too long is unhealthy"
        );
    }
}
