//! The sync loop: waits for both lists, then on every change (rate-limited by
//! `min_sync_period`, bursts of 2 as upstream's bounded-frequency runner), every
//! `sync_period` and after failures (exponential backoff up to `sync_period`) it builds the
//! snapshot, generates the desired state and applies the difference to the kernel in one nft
//! transaction. A full sync runs first, after any failure, every `full_sync_period`, and when
//! the periodic check finds the table tampered with.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::runtime::reflector::Store;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::chains::{Generator, RuleContext};
use crate::config::{ProxyConfig, Validated};
use crate::conntrack::{UdpView, stale_flows, udp_views};
use crate::error::ProxyError;
use crate::metrics::{Metrics, PolicyLabels};
use crate::model::{ServicePortName, build_snapshot};
use crate::nft::Runner;
use crate::script::{self, NodePortAddresses, Skeleton};
use crate::state::TableState;
use crate::watch::Shared;

/// How the last syncs went (for tests, benchmarks and logs).
#[derive(Clone, Debug, Default)]
pub struct SyncStats {
    /// Successful full syncs.
    pub full_syncs: u64,
    /// Successful partial syncs (including ones with nothing to change).
    pub partial_syncs: u64,
    /// Failed syncs.
    pub failures: u64,
    /// The last failure's message.
    pub last_error: Option<String>,
    /// Lines in the last applied (non-empty) transaction.
    pub last_script_lines: usize,
    /// Duration of the last successful sync that changed something.
    pub last_duration: Duration,
    /// Whether the last successful sync that changed something was full.
    pub last_was_full: bool,
    /// Where the last sync that changed something spent its time.
    pub last_phases: SyncPhases,
    /// Recent network programming latencies (seconds), newest last, at most 100 000.
    pub programming_latencies: Vec<f64>,
}

/// Time spent in each step of a sync.
#[derive(Clone, Copy, Debug, Default)]
pub struct SyncPhases {
    /// Building the snapshot from the caches.
    pub snapshot: Duration,
    /// Generating the desired state.
    pub generate: Duration,
    /// Listing the kernel table (full or periodic syncs) and rendering the script.
    pub render: Duration,
    /// Running nft.
    pub apply: Duration,
}

/// Minimum-interval limiter allowing short bursts (a token bucket).
struct Limiter {
    period: Duration,
    burst: f64,
    tokens: f64,
    last: Instant,
}

impl Limiter {
    fn new(period: Duration, burst: u32) -> Limiter {
        Limiter {
            period,
            burst: f64::from(burst),
            tokens: f64::from(burst),
            last: Instant::now(),
        }
    }

    /// How long to wait before the next run may start.
    fn delay(&mut self, now: Instant) -> Duration {
        if self.period.is_zero() {
            return Duration::ZERO;
        }
        let refill =
            now.saturating_duration_since(self.last).as_secs_f64() / self.period.as_secs_f64();
        self.tokens = (self.tokens + refill).min(self.burst);
        self.last = now;
        if self.tokens >= 1.0 {
            Duration::ZERO
        } else {
            self.period.mul_f64(1.0 - self.tokens)
        }
    }

    fn take(&mut self) {
        self.tokens -= 1.0;
    }
}

/// A running proxy.
pub struct Proxy {
    metrics: Arc<Metrics>,
    stats: Arc<Mutex<SyncStats>>,
    generation: watch::Receiver<u64>,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
    health_timeout: Duration,
    shared: Arc<Shared>,
}

impl Proxy {
    /// Validates the configuration, enables localhost NodePorts (`route_localnet`) when
    /// asked, starts the Service and EndpointSlice reflectors and the sync loop. Returns at
    /// once; [`Proxy::wait_synced`] waits for rules to be in the kernel.
    pub async fn start(config: ProxyConfig, client: kube::Client) -> Result<Proxy, ProxyError> {
        let valid = config.validate()?;
        let runner = Runner::new(
            config.nft_path.clone(),
            config.conntrack_path.clone(),
            config.netns.clone(),
        );
        let loopback_nodeports = valid
            .nodeport_cidrs
            .as_ref()
            .is_none_or(|c| c.iter().any(|c| c.contains(Ipv4Addr::LOCALHOST)));
        if config.localhost_nodeports
            && loopback_nodeports
            && let Err(e) = runner.sysctl("net.ipv4.conf.all.route_localnet", "1").await
        {
            tracing::warn!(error = %e, "could not enable route_localnet; NodePorts on 127.0.0.1 will not work");
        }
        let metrics = Arc::new(Metrics::new());
        let shared = Arc::new(Shared::new(metrics.clone()));
        let (svc_store, svc_task) = crate::watch::services(client.clone(), shared.clone());
        let (slice_store, slice_task) = crate::watch::slices(client, shared.clone());
        let (gen_tx, generation) = watch::channel(0);
        let (shutdown, shutdown_rx) = watch::channel(false);
        let stats = Arc::new(Mutex::new(SyncStats::default()));
        let health_timeout = config.sync_period * 2;
        let ctx = RuleContext {
            cluster_cidrs: valid.cluster_cidrs.clone(),
            masquerade_all: config.masquerade_all,
            node_ips: config
                .node_ips
                .iter()
                .filter_map(|ip| match ip {
                    IpAddr::V4(v4) => Some(*v4),
                    IpAddr::V6(_) => None,
                })
                .collect(),
        };
        let syncer = Syncer {
            config,
            valid,
            runner,
            shared: shared.clone(),
            svc_store,
            slice_store,
            applied: None,
            generator: Generator::new(ctx.clone()),
            last_full: None,
            udp: BTreeMap::new(),
            stats: stats.clone(),
            generation: gen_tx,
        };
        let sync_task = tokio::spawn(syncer.run(shutdown_rx));
        Ok(Proxy {
            metrics,
            stats,
            generation,
            shutdown,
            tasks: vec![sync_task, svc_task, slice_task],
            health_timeout,
            shared,
        })
    }

    /// Stops watching and syncing. The rules stay in place (upstream's behaviour: traffic
    /// keeps flowing across a proxy restart); [`cleanup`] removes them.
    pub async fn stop(mut self) {
        let _ = self.shutdown.send(true);
        self.shared.notify.notify_one();
        let sync = self.tasks.remove(0);
        for t in &self.tasks {
            t.abort();
        }
        let _ = sync.await;
        for t in self.tasks {
            let _ = t.await;
        }
    }

    /// The metrics (serve [`Metrics::encode`] on `/metrics`).
    pub fn metrics(&self) -> Arc<Metrics> {
        self.metrics.clone()
    }

    /// The Prometheus text exposition of the metrics.
    pub fn metrics_text(&self) -> String {
        self.metrics.encode()
    }

    /// Upstream's `/healthz` rule (see [`Metrics::healthy`]).
    pub fn healthy(&self) -> bool {
        self.metrics.healthy(self.health_timeout)
    }

    /// A copy of the sync statistics.
    pub fn stats(&self) -> SyncStats {
        self.stats.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// The number of successful syncs so far.
    pub fn sync_generation(&self) -> u64 {
        *self.generation.borrow()
    }

    /// Waits until a sync after generation `after` succeeded (or `timeout` passed); whether
    /// one did.
    pub async fn wait_synced(&self, after: u64, timeout: Duration) -> bool {
        let mut rx = self.generation.clone();
        tokio::time::timeout(timeout, rx.wait_for(|g| *g > after))
            .await
            .is_ok_and(|r| r.is_ok())
    }
}

/// Deletes the proxy's table (`nft delete table ip TABLE`) in `netns` (or this namespace);
/// Ok when there was none.
pub async fn cleanup(table: &str, netns: Option<&std::path::Path>) -> Result<(), ProxyError> {
    let runner = Runner::new("nft".into(), "conntrack".into(), netns.map(Into::into));
    crate::nft::delete_table(&runner, table).await
}

struct Syncer {
    config: ProxyConfig,
    valid: Validated,
    runner: Runner,
    shared: Arc<Shared>,
    svc_store: Store<Service>,
    slice_store: Store<EndpointSlice>,
    /// What the kernel holds, as far as we know; `None` forces a full sync.
    applied: Option<TableState>,
    generator: Generator,
    last_full: Option<Instant>,
    udp: BTreeMap<ServicePortName, UdpView>,
    stats: Arc<Mutex<SyncStats>>,
    generation: watch::Sender<u64>,
}

/// Why a sync runs.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Reason {
    Change,
    Periodic,
    Retry,
}

impl Syncer {
    async fn run(mut self, mut shutdown: watch::Receiver<bool>) {
        let mut limiter = Limiter::new(self.config.min_sync_period, 2);
        let mut next_periodic = Instant::now() + self.config.sync_period;
        let mut retry: Option<(Instant, Duration)> = None;
        let mut reason = None;
        loop {
            if *shutdown.borrow() {
                return;
            }
            if reason.is_none() || !self.shared.initialized() {
                let deadline = retry.map_or(next_periodic, |(at, _)| at.min(next_periodic));
                tokio::select! {
                    _ = self.shared.notify.notified() => reason = reason.or(Some(Reason::Change)),
                    _ = tokio::time::sleep_until(deadline) => {
                        reason = Some(if retry.is_some_and(|(at, _)| at <= Instant::now()) { Reason::Retry } else { Reason::Periodic });
                    }
                    _ = shutdown.changed() => return,
                }
                if !self.shared.initialized() {
                    // Upstream: never program from a partial view after (re)start.
                    continue;
                }
            }
            let wait = limiter.delay(Instant::now());
            if !wait.is_zero() {
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = shutdown.changed() => return,
                }
                limiter.delay(Instant::now());
            }
            limiter.take();
            let why = reason.take().unwrap_or(Reason::Change);
            if why == Reason::Periodic {
                next_periodic = Instant::now() + self.config.sync_period;
            }
            match self.sync(why).await {
                Ok(()) => retry = None,
                Err(e) => {
                    let backoff = retry.map_or(
                        self.config.min_sync_period.max(Duration::from_millis(500)),
                        |(_, b)| b * 2,
                    );
                    let backoff = backoff.min(self.config.sync_period);
                    tracing::error!(error = %e, retry_in = ?backoff, "nftables sync failed");
                    retry = Some((Instant::now() + backoff, backoff));
                }
            }
        }
    }

    /// Node addresses accepting NodePorts, when restricted by `nodeport_addresses`.
    async fn nodeport_addresses(&self) -> NodePortAddresses {
        let Some(cidrs) = &self.valid.nodeport_cidrs else {
            return NodePortAddresses::All;
        };
        let local = match self.runner.local_addresses().await {
            Ok(l) => l,
            Err(e) => {
                tracing::error!(error = %e, "listing node addresses for NodePorts failed");
                Vec::new()
            }
        };
        NodePortAddresses::Only(
            local
                .into_iter()
                .filter(|ip| cidrs.iter().any(|c| c.contains(*ip)))
                .collect(),
        )
    }

    /// Whether the kernel table still has exactly the chains we expect.
    async fn intact(&self, desired: &TableState) -> bool {
        match self.runner.existing(&self.config.table).await {
            Ok(Some(ex)) => {
                // Every chain we own is there, and no per-service chain we don't know of
                // (chains someone else added to our table are left alone).
                let mut want: BTreeSet<String> =
                    script::fixed_chain_names().map(String::from).collect();
                want.extend(desired.chain_names().cloned());
                want.is_subset(&ex.chains)
                    && ex
                        .chains
                        .iter()
                        .all(|c| !crate::names::is_service_chain(c) || want.contains(c))
            }
            Ok(None) => false,
            Err(e) => {
                tracing::warn!(error = %e, "could not list the nftables table");
                false
            }
        }
    }

    async fn sync(&mut self, why: Reason) -> Result<(), ProxyError> {
        let start = Instant::now();
        let triggers: Vec<SystemTime> = std::mem::take(
            &mut *self
                .shared
                .triggers
                .lock()
                .unwrap_or_else(|e| e.into_inner()),
        );
        let m = self.shared.metrics.clone();
        m.endpoint_changes_pending.set(0);
        m.service_changes_pending.set(0);

        let mut skipped = Vec::new();
        let services = self.svc_store.state();
        let slices = self.slice_store.state();
        let snap = build_snapshot(
            services.iter().map(|s| s.as_ref()),
            slices.iter().map(|s| s.as_ref()),
            &self.config.node_name,
            &mut skipped,
        );
        for note in &skipped {
            tracing::debug!(note, "service port not programmed");
        }
        let t_snapshot = start.elapsed();
        let generated = self.generator.generate(&snap);
        let t_generate = start.elapsed();
        for c in &generated.conflicts {
            tracing::warn!(conflict = %c, "service port not fully programmed");
        }
        let mut full = self.applied.is_none()
            || self
                .last_full
                .is_none_or(|t| t.elapsed() >= self.config.full_sync_period);
        if !full
            && why == Reason::Periodic
            && !self
                .intact(self.applied.as_ref().unwrap_or(&generated.state))
                .await
        {
            tracing::warn!(table = %self.config.table, "nftables table was modified outside the proxy; rewriting it");
            full = true;
        }
        let script = if full {
            let existing = self
                .runner
                .existing(&self.config.table)
                .await
                .ok()
                .flatten()
                .unwrap_or_default();
            let skeleton = Skeleton {
                table: self.config.table.clone(),
                mark: self.valid.masquerade_mark,
                service_cidrs: self.valid.service_cidrs.clone(),
                nodeports: self.nodeport_addresses().await,
            };
            script::full(&skeleton, &generated.state, &existing)
        } else {
            script::partial(
                &self.config.table,
                self.applied.as_ref().unwrap_or(&TableState::default()),
                &generated.state,
            )
        };
        let lines = script.lines().count();
        let t_render = start.elapsed();
        if !script.is_empty()
            && let Err(e) = self.runner.apply(&script).await
        {
            m.nft_sync_failures.inc();
            self.applied = None;
            // Keep the trigger times: they are programmed when a later sync succeeds.
            self.shared
                .triggers
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .extend(triggers);
            if let Ok(mut s) = self.stats.lock() {
                s.failures += 1;
                s.last_error = Some(e.to_string());
            }
            return Err(e);
        }
        let elapsed = start.elapsed();
        let phases = SyncPhases {
            snapshot: t_snapshot,
            generate: t_generate - t_snapshot,
            render: t_render - t_generate,
            apply: elapsed - t_render,
        };
        let now = SystemTime::now();
        m.sync_duration.observe(elapsed.as_secs_f64());
        if full {
            m.sync_full_duration.observe(elapsed.as_secs_f64());
            self.last_full = Some(Instant::now());
        } else {
            m.sync_partial_duration.observe(elapsed.as_secs_f64());
        }
        m.synced();
        let latencies: Vec<f64> = triggers
            .iter()
            .filter_map(|t| now.duration_since(*t).ok())
            .map(|d| d.as_secs_f64())
            .collect();
        for l in &latencies {
            m.network_programming.observe(*l);
        }
        for (policy, n) in [
            ("internal", generated.no_local_internal),
            ("external", generated.no_local_external),
        ] {
            m.no_local_endpoints
                .get_or_create(&PolicyLabels {
                    traffic_policy: policy.into(),
                })
                .set(n as i64);
        }
        tracing::debug!(
            full,
            services = snap.services.len(),
            endpoint_chains = generated.endpoint_chains,
            lines,
            ?elapsed,
            "synced nftables rules"
        );
        self.applied = Some(generated.state);
        if let Ok(mut s) = self.stats.lock() {
            if full {
                s.full_syncs += 1;
            } else {
                s.partial_syncs += 1;
            }
            if lines > 0 {
                s.last_script_lines = lines;
                s.last_duration = elapsed;
                s.last_was_full = full;
                s.last_phases = phases;
            }
            s.programming_latencies.extend(latencies);
            let excess = s.programming_latencies.len().saturating_sub(100_000);
            s.programming_latencies.drain(..excess);
        }
        self.generation.send_modify(|g| *g += 1);

        // Stale UDP flows: only after the new rules are in, so new packets hit them.
        let udp = udp_views(&snap);
        for filter in stale_flows(&self.udp, &udp) {
            match self.runner.conntrack_delete(&filter).await {
                Ok(n) => {
                    m.conntrack_deleted.inc_by(n);
                }
                Err(e) => {
                    tracing::warn!(error = %e, filter = ?filter, "deleting stale conntrack entries failed")
                }
            }
        }
        self.udp = udp;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn limiter_allows_a_burst_of_two_then_spaces_runs() {
        let mut l = Limiter::new(Duration::from_secs(1), 2);
        let now = Instant::now();
        assert_eq!(l.delay(now), Duration::ZERO);
        l.take();
        assert_eq!(l.delay(now), Duration::ZERO);
        l.take();
        let d = l.delay(now);
        assert!(
            d > Duration::from_millis(990) && d <= Duration::from_secs(1),
            "{d:?}"
        );
        tokio::time::advance(Duration::from_millis(500)).await;
        let d = l.delay(Instant::now());
        assert!(
            d > Duration::from_millis(490) && d <= Duration::from_millis(500),
            "{d:?}"
        );
        tokio::time::advance(Duration::from_secs(10)).await;
        assert_eq!(
            l.delay(Instant::now()),
            Duration::ZERO,
            "refills, capped at the burst"
        );
        l.take();
        l.take();
        assert!(!l.delay(Instant::now()).is_zero());
    }
}
