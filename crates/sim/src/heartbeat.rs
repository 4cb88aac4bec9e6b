//! The heartbeats of all nodes from two loops (Lease renewals, status reports), each spreading
//! its writes evenly over its interval: node `i` of `n` writes at `start + k·interval +
//! i·interval/n`, so 5000 nodes renewing every 10 s make a steady 500 writes/s, never a burst
//! of 5000. A failed write is logged and retried in the next round, as the interval is short.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::Client;
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::config::SimConfig;
use crate::node::{self, Nodes};
use crate::util::Throttled;
use crate::{Counters, util};

/// Calls `write(i)` for every `i < count` once per `interval`, evenly spread, first round
/// starting at `first`; at most `concurrency` calls in flight (the schedule waits for a free
/// slot, and catches up when it fell behind). Runs until dropped; dropping it aborts the
/// writes in flight.
pub(crate) async fn spread<F, Fut>(
    count: usize,
    interval: Duration,
    first: Instant,
    concurrency: usize,
    write: F,
) where
    F: Fn(usize) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let mut in_flight = JoinSet::new();
    let count_u32 = u32::try_from(count).unwrap_or(u32::MAX);
    let mut round_start = first;
    loop {
        for i in 0..count {
            let at = round_start + interval.mul_f64(i as f64 / f64::from(count_u32));
            // Timers tick in milliseconds: don't sleep for less.
            if at > Instant::now() + Duration::from_millis(1) {
                tokio::time::sleep_until(at).await;
            }
            while in_flight.try_join_next().is_some() {}
            while in_flight.len() >= concurrency {
                in_flight.join_next().await;
            }
            in_flight.spawn(write(i));
        }
        round_start += interval;
    }
}

/// Renews every node's Lease every `lease_renew_interval`; the first round starts half an
/// interval after registration (which created the Leases).
pub(crate) async fn leases(
    client: Client,
    config: Arc<SimConfig>,
    nodes: Nodes,
    counters: Arc<Counters>,
) {
    static WARN: Throttled = Throttled::new("node lease renewal");
    let first = Instant::now() + config.lease_renew_interval / 2;
    let interval = config.lease_renew_interval;
    let concurrency = config.write_concurrency;
    spread(nodes.len(), interval, first, concurrency, |i| {
        let (client, config, nodes, counters) = (
            client.clone(),
            config.clone(),
            nodes.clone(),
            counters.clone(),
        );
        async move {
            let node = &nodes[i];
            match node::renew_lease(&client, &config, node).await {
                Ok(()) => counters.lease_renewals.fetch_add(1, Ordering::Relaxed),
                Err(e) => {
                    WARN.warn(&node.name, &e);
                    counters.lease_failures.fetch_add(1, Ordering::Relaxed)
                }
            };
        }
    })
    .await;
}

/// Reports every node's conditions every `status_report_interval`; `since` is the conditions'
/// transition time (registration).
pub(crate) async fn statuses(
    client: Client,
    config: Arc<SimConfig>,
    nodes: Nodes,
    since: Time,
    counters: Arc<Counters>,
) {
    static WARN: Throttled = Throttled::new("node status report");
    let interval = config.status_report_interval;
    let since = Arc::new(since);
    spread(
        nodes.len(),
        interval,
        Instant::now() + interval,
        config.write_concurrency,
        |i| {
            let (client, nodes, since, counters) = (
                client.clone(),
                nodes.clone(),
                since.clone(),
                counters.clone(),
            );
            async move {
                let node = &nodes[i];
                match util::retry(2, || node::report_status(&client, node, &since)).await {
                    Ok(()) => counters.status_reports.fetch_add(1, Ordering::Relaxed),
                    Err(e) => {
                        WARN.warn(&node.name, &e);
                        counters.status_failures.fetch_add(1, Ordering::Relaxed)
                    }
                };
            }
        },
    )
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[tokio::test(start_paused = true)]
    async fn writes_are_spread_evenly_over_the_interval() {
        let start = Instant::now();
        let log = Arc::new(Mutex::new(Vec::new()));
        let l = log.clone();
        let task = tokio::spawn(spread(4, Duration::from_secs(8), start, 2, move |i| {
            let l = l.clone();
            async move { l.lock().unwrap().push((i, start.elapsed().as_secs())) }
        }));
        tokio::time::sleep(Duration::from_millis(16_500)).await;
        task.abort();
        let log = log.lock().unwrap().clone();
        assert_eq!(
            log,
            [
                (0, 0),
                (1, 2),
                (2, 4),
                (3, 6),
                (0, 8),
                (1, 10),
                (2, 12),
                (3, 14),
                (0, 16)
            ]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_slow_write_holds_a_slot_and_the_schedule_catches_up() {
        let start = Instant::now();
        let log = Arc::new(Mutex::new(Vec::new()));
        let l = log.clone();
        let task = tokio::spawn(spread(4, Duration::from_secs(4), start, 1, move |i| {
            let l = l.clone();
            async move {
                if i == 0 {
                    tokio::time::sleep(Duration::from_secs(3)).await;
                }
                l.lock().unwrap().push((i, start.elapsed().as_secs()));
            }
        }));
        tokio::time::sleep(Duration::from_millis(4_500)).await;
        task.abort();
        let log = log.lock().unwrap().clone();
        // 1 and 2 were due at 1 s and 2 s but waited for 0's slot; 3 then ran on time.
        assert_eq!(log, [(0, 3), (1, 3), (2, 3), (3, 3)]);
    }
}
