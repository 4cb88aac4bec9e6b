//! One scheduling decision: PreFilter, Filter over (a bounded, rotating share of) the nodes in
//! parallel, PreScore/Score over the feasible ones, then the best node with random tie-break.
//! Pure over a snapshot: no IO, so the benchmark can time the algorithm alone.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use rayon::prelude::*;

use crate::framework::node_info::PREFETCH_DISTANCE;
use crate::framework::{CycleState, Framework, NodeInfo, NodeStatuses, PodInfo, Snapshot, Status};

/// Below this many nodes every node is evaluated (upstream's `minFeasibleNodesToFind`).
pub const MIN_FEASIBLE_NODES_TO_FIND: usize = 100;
/// The adaptive percentage never goes below this (upstream's `minFeasibleNodesPercentageToFind`).
pub const MIN_FEASIBLE_PERCENTAGE: usize = 5;
/// Filter work is split across threads only from this many nodes per chunk up: below it,
/// waking the worker threads costs more than it saves (measured on 2 cores).
const PARALLEL_THRESHOLD: usize = 1024;

/// Where a pod fits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScheduleResult {
    /// The chosen node.
    pub node: String,
    /// How many nodes were filtered.
    pub evaluated: usize,
    /// How many of them fit.
    pub feasible: usize,
}

/// Why no node fits, per node and overall (upstream's `FitError`).
#[derive(Clone, Debug, Default)]
pub struct FitError {
    /// Nodes in the snapshot.
    pub num_all_nodes: usize,
    /// Nodes the filters rejected, with why.
    pub statuses: NodeStatuses,
    /// Set when PreFilter rejected the pod outright.
    pub pre_filter_message: Option<String>,
    /// What preemption said, appended to the message.
    pub post_filter_message: Option<String>,
    /// The plugins that rejected the pod (to requeue it on events they care about).
    pub plugins: Vec<&'static str>,
}

impl FitError {
    /// Upstream's message: "0/3 nodes are available: 1 node(s) had untolerated taint {…},
    /// 2 Insufficient cpu. preemption: …".
    pub fn message(&self) -> String {
        let mut msg = format!("0/{} nodes are available:", self.num_all_nodes);
        if let Some(m) = &self.pre_filter_message {
            // PreFilter rejected every node for one reason: say it once.
            msg.push_str(&format!(" {m}."));
            if let Some(m) = &self.post_filter_message {
                msg.push_str(&format!(" {m}"));
            }
            return msg;
        }
        let mut histogram: BTreeMap<&str, usize> = BTreeMap::new();
        for status in self.statuses.values() {
            for reason in &status.reasons {
                *histogram.entry(reason).or_default() += 1;
            }
        }
        let mut parts: Vec<String> = histogram
            .into_iter()
            .map(|(reason, n)| format!("{n} {reason}"))
            .collect();
        parts.sort();
        if !parts.is_empty() {
            msg.push_str(&format!(" {}.", parts.join(", ")));
        }
        if let Some(m) = &self.post_filter_message {
            msg.push_str(&format!(" {m}"));
        }
        msg
    }
}

/// Why scheduling a pod failed.
#[derive(Debug)]
pub enum ScheduleFailure {
    /// No node fits (an expected outcome: the pod waits).
    Unfit(Box<FitError>),
    /// A plugin failed unexpectedly; the pod is retried with backoff.
    Error(Status),
}

/// How many feasible nodes to look for before scoring (upstream's `numFeasibleNodesToFind`).
pub fn num_feasible_nodes_to_find(percentage: Option<u32>, num_all_nodes: usize) -> usize {
    if num_all_nodes < MIN_FEASIBLE_NODES_TO_FIND {
        return num_all_nodes;
    }
    let pct = match percentage {
        Some(p) if p > 0 => (p as usize).min(100),
        _ => (50usize.saturating_sub(num_all_nodes / 125)).max(MIN_FEASIBLE_PERCENTAGE),
    };
    (num_all_nodes * pct / 100).max(MIN_FEASIBLE_NODES_TO_FIND)
}

/// The rotating start position of the filter, kept between cycles so every node gets looked
/// at in turn.
#[derive(Debug, Default)]
pub struct NextStart(AtomicUsize);

/// Schedules `pod` against `state`'s snapshot with `framework`'s plugins.
pub fn schedule_pod(
    framework: &Framework,
    state: &mut CycleState,
    pod: &PodInfo,
    next_start: &NextStart,
) -> Result<ScheduleResult, ScheduleFailure> {
    let snapshot = state.snapshot().clone();
    let num_all = snapshot.nodes.len();
    if num_all == 0 {
        return Err(ScheduleFailure::Unfit(Box::new(FitError {
            pre_filter_message: Some("no nodes available to schedule pods".into()),
            ..FitError::default()
        })));
    }
    if let Some(e) = &pod.parse_error {
        return Err(ScheduleFailure::Error(Status::error(e.clone())));
    }
    let (feasible, statuses) = find_nodes_that_fit(framework, state, pod, &snapshot, next_start)?;
    if feasible.is_empty() {
        let mut plugins: Vec<&'static str> = statuses.values().map(|s| s.plugin).collect();
        plugins.sort_unstable();
        plugins.dedup();
        return Err(ScheduleFailure::Unfit(Box::new(FitError {
            num_all_nodes: num_all,
            statuses,
            plugins,
            ..FitError::default()
        })));
    }
    let evaluated = feasible.len() + statuses.len();
    if feasible.len() == 1 {
        return Ok(ScheduleResult {
            node: feasible[0].name.clone(),
            evaluated,
            feasible: 1,
        });
    }
    let status = framework.run_pre_score(state, pod, &feasible);
    if !status.is_success() {
        return Err(ScheduleFailure::Error(status));
    }
    let totals = framework
        .run_score(state, pod, &feasible)
        .map_err(ScheduleFailure::Error)?;
    Ok(ScheduleResult {
        node: feasible[select_host(&totals)].name.clone(),
        evaluated,
        feasible: feasible.len(),
    })
}

/// The highest total, ties broken uniformly at random (reservoir sampling).
pub fn select_host(totals: &[i64]) -> usize {
    let mut best = 0;
    let mut ties = 0u32;
    for (i, t) in totals.iter().enumerate() {
        if i == 0 || *t > totals[best] {
            best = i;
            ties = 1;
        } else if *t == totals[best] {
            ties += 1;
            if rand::random_range(0..ties) == 0 {
                best = i;
            }
        }
    }
    best
}

type FitResult = (Vec<Arc<NodeInfo>>, NodeStatuses);

fn find_nodes_that_fit(
    framework: &Framework,
    state: &mut CycleState,
    pod: &PodInfo,
    snapshot: &Arc<Snapshot>,
    next_start: &NextStart,
) -> Result<FitResult, ScheduleFailure> {
    let num_all = snapshot.nodes.len();
    let (pre, status) = framework.run_pre_filter(state, pod);
    if !status.is_success() {
        if status.code == crate::framework::Code::Error {
            return Err(ScheduleFailure::Error(status));
        }
        // Every node is rejected for the same reason.
        let statuses = snapshot
            .nodes
            .iter()
            .map(|n| (n.name.clone(), status.clone()))
            .collect();
        return Err(ScheduleFailure::Unfit(Box::new(FitError {
            num_all_nodes: num_all,
            statuses,
            pre_filter_message: Some(status.message()).filter(|m| !m.is_empty()),
            plugins: vec![status.plugin],
            ..FitError::default()
        })));
    }
    let state: &CycleState = state;

    // A pod nominated by an earlier preemption tries its nominated node first.
    if let Some(nominated) = pod
        .pod
        .status
        .as_ref()
        .and_then(|s| s.nominated_node_name.as_deref())
        .and_then(|n| snapshot.get(n))
        && framework.run_filters(state, pod, nominated).is_success()
    {
        return Ok((vec![nominated.clone()], NodeStatuses::new()));
    }

    // Every node, from the rotating start (no list of them is built: a cycle usually looks at
    // a tenth of the nodes), or the nodes PreFilter named.
    let named: Option<Vec<&Arc<NodeInfo>>> = pre
        .and_then(|p| p.node_names)
        .map(|names| names.iter().filter_map(|n| snapshot.get(n)).collect());
    let start = next_start.0.load(Ordering::Relaxed) % num_all;
    let count = named.as_ref().map_or(num_all, Vec::len);
    let candidate = |i: usize| -> &Arc<NodeInfo> {
        match &named {
            Some(nodes) => nodes[i],
            None => &snapshot.nodes[(start + i) % num_all],
        }
    };
    let want = num_feasible_nodes_to_find(framework.percentage_of_nodes_to_score, count);
    let mut feasible = Vec::with_capacity(want.min(count));
    let mut statuses = NodeStatuses::new();
    let mut processed = 0;
    // Chunks of what is still needed: when most nodes fit, one chunk is enough and no node is
    // filtered in vain.
    let mut chunk_start = 0;
    let active = framework.active_filters(state);
    while chunk_start < count && feasible.len() < want {
        let missing = want - feasible.len();
        let end = (chunk_start + missing).min(count);
        let part: Vec<&Arc<NodeInfo>> = (chunk_start..end).map(candidate).collect();
        chunk_start = end;
        let results: Vec<Status> = if part.len() >= PARALLEL_THRESHOLD {
            part.par_iter()
                .map(|n| framework.run_filters_with(&active, state, pod, n))
                .collect()
        } else {
            part.iter()
                .enumerate()
                .map(|(i, n)| {
                    if let Some(ahead) = part.get(i + PREFETCH_DISTANCE) {
                        ahead.prefetch();
                    }
                    framework.run_filters_with(&active, state, pod, n)
                })
                .collect()
        };
        for (node, status) in part.iter().zip(results) {
            processed += 1;
            if status.is_success() {
                feasible.push((*node).clone());
            } else {
                statuses.insert(node.name.clone(), status);
            }
        }
    }
    next_start.0.fetch_add(processed, Ordering::Relaxed);
    Ok((feasible, statuses))
}
