//! One profile's instantiated plugins in extension-point order, and how each point is run.

use std::sync::Arc;

use super::cycle_state::CycleState;
use super::node_info::{NodeInfo, PREFETCH_DISTANCE};
use super::plugin::{
    Filter, NodeScore, NodeStatuses, Plugin, PostFilterResult, PreFilter, PreFilterResult, Score,
};
use super::pod_info::PodInfo;
use super::status::{Code, Status};

/// A scheduling profile: the plugins enabled at each extension point, with score weights.
pub struct Framework {
    /// The `schedulerName` pods select this profile by.
    pub scheduler_name: String,
    /// Percentage of nodes to find feasible before scoring (`None`: adaptive).
    pub percentage_of_nodes_to_score: Option<u32>,
    pub(crate) pre_filter: Vec<Arc<dyn Plugin>>,
    pub(crate) filter: Vec<Arc<dyn Plugin>>,
    pub(crate) post_filter: Vec<Arc<dyn Plugin>>,
    pub(crate) pre_score: Vec<Arc<dyn Plugin>>,
    pub(crate) score: Vec<(Arc<dyn Plugin>, i64)>,
    pub(crate) reserve: Vec<Arc<dyn Plugin>>,
    pub(crate) all: Vec<Arc<dyn Plugin>>,
}

/// The plugins for each extension point, in run order (what a profile's configuration
/// resolves to).
#[derive(Default)]
pub struct PluginSet {
    /// PreFilter plugins.
    pub pre_filter: Vec<Arc<dyn Plugin>>,
    /// Filter plugins.
    pub filter: Vec<Arc<dyn Plugin>>,
    /// PostFilter plugins.
    pub post_filter: Vec<Arc<dyn Plugin>>,
    /// PreScore plugins.
    pub pre_score: Vec<Arc<dyn Plugin>>,
    /// Score plugins with their weights.
    pub score: Vec<(Arc<dyn Plugin>, i64)>,
    /// Reserve plugins.
    pub reserve: Vec<Arc<dyn Plugin>>,
}

impl Framework {
    /// A profile named `scheduler_name` running `plugins`.
    pub fn new(scheduler_name: impl Into<String>, plugins: PluginSet) -> Framework {
        let mut all: Vec<Arc<dyn Plugin>> = Vec::new();
        let lists = [
            &plugins.pre_filter,
            &plugins.filter,
            &plugins.post_filter,
            &plugins.pre_score,
            &plugins.reserve,
        ];
        for p in lists
            .into_iter()
            .flatten()
            .chain(plugins.score.iter().map(|(p, _)| p))
        {
            if !all.iter().any(|q| q.name() == p.name()) {
                all.push(p.clone());
            }
        }
        Framework {
            scheduler_name: scheduler_name.into(),
            percentage_of_nodes_to_score: None,
            pre_filter: plugins.pre_filter,
            filter: plugins.filter,
            post_filter: plugins.post_filter,
            pre_score: plugins.pre_score,
            score: plugins.score,
            reserve: plugins.reserve,
            all,
        }
    }

    /// Every distinct plugin of the profile.
    pub fn plugins(&self) -> &[Arc<dyn Plugin>] {
        &self.all
    }

    /// The plugin called `name`, if the profile has it.
    pub fn plugin(&self, name: &str) -> Option<&Arc<dyn Plugin>> {
        self.all.iter().find(|p| p.name() == name)
    }

    /// Whether any PostFilter plugin is enabled.
    pub fn has_post_filter(&self) -> bool {
        !self.post_filter.is_empty()
    }

    /// Whether any Score plugin is enabled.
    pub fn has_score(&self) -> bool {
        !self.score.is_empty()
    }

    /// Runs every PreFilter; stops at the first rejection. The node sets plugins return are
    /// intersected.
    pub fn run_pre_filter(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
    ) -> (Option<PreFilterResult>, Status) {
        let mut result: Option<PreFilterResult> = None;
        for p in &self.pre_filter {
            let Some(pf) = p.as_pre_filter() else {
                continue;
            };
            let (r, status) = pf.pre_filter(state, pod);
            match status.code {
                Code::Skip => {
                    state.skip_filter.push(p.name());
                    continue;
                }
                Code::Success => {}
                _ => return (None, status.with_plugin(p.name())),
            }
            if let Some(r) = r {
                result = Some(match result {
                    None => r,
                    Some(prev) => prev.merge(r),
                });
                if result
                    .as_ref()
                    .and_then(|r| r.node_names.as_ref())
                    .is_some_and(|n| n.is_empty())
                {
                    return (
                        result,
                        Status::unresolvable(
                            "node(s) didn't satisfy plugin(s) [".to_string() + p.name() + "]",
                        )
                        .with_plugin(p.name()),
                    );
                }
            }
        }
        (result, Status::success())
    }

    /// Runs every Filter not skipped by its PreFilter on one node, counting the pods
    /// nominated there (see [`Framework::run_filters_with`]); the first rejection wins.
    pub fn run_filters(&self, state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status {
        self.run_filters_with(&self.active_filters(state), state, pod, node)
    }

    /// Runs `active` on one node as upstream's `RunFilterPluginsWithNominatedPods`: first as
    /// if the pods nominated to the node at `pod`'s priority or above already ran there (they
    /// keep the room they preempted for), then, if there were any, without them (a nominated
    /// pod may never arrive, so it must not be what lets `pod` fit, e.g. through affinity).
    pub fn run_filters_with(
        &self,
        active: &[(&'static str, &dyn Filter)],
        state: &CycleState,
        pod: &PodInfo,
        node: &NodeInfo,
    ) -> Status {
        // Without nominations, the node's name (a cache line no filter reads) stays untouched.
        if !state.has_nominations() {
            return Framework::run_active_filters(active, state, pod, node);
        }
        let mut nominated = state
            .nominated_on(&node.name)
            .iter()
            .filter(|p| p.uid != pod.uid && p.priority >= pod.priority)
            .peekable();
        if nominated.peek().is_none() {
            return Framework::run_active_filters(active, state, pod, node);
        }
        let mut with_state = state.clone();
        let mut with_node = node.clone();
        for added in nominated {
            with_node.add_pod(added.clone());
            let status = self.run_pre_filter_add_pod(&mut with_state, pod, added, &with_node);
            if !status.is_success() {
                return status;
            }
        }
        let status = Framework::run_active_filters(active, &with_state, pod, &with_node);
        if !status.is_success() {
            return status;
        }
        Framework::run_active_filters(active, state, pod, node)
    }

    /// The Filters that run this cycle (those whose PreFilter did not skip them), resolved
    /// once per cycle rather than once per node.
    pub fn active_filters(&self, state: &CycleState) -> Vec<(&'static str, &dyn Filter)> {
        self.filter
            .iter()
            .filter(|p| !state.skip_filter.contains(&p.name()))
            .filter_map(|p| Some((p.name(), p.as_filter()?)))
            .collect()
    }

    /// Runs `active` (from [`Framework::active_filters`]) on one node; the first rejection wins.
    pub fn run_active_filters(
        active: &[(&'static str, &dyn Filter)],
        state: &CycleState,
        pod: &PodInfo,
        node: &NodeInfo,
    ) -> Status {
        for (name, f) in active {
            let status = f.filter(state, pod, node);
            if !status.is_success() {
                return status.with_plugin(name);
            }
        }
        Status::success()
    }

    /// Tells every PreFilter extension that `added` now runs on `node` (preemption).
    pub fn run_pre_filter_add_pod(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        added: &Arc<PodInfo>,
        node: &NodeInfo,
    ) -> Status {
        self.each_pre_filter(state, |pf, state| pf.add_pod(state, pod, added, node))
    }

    /// Tells every PreFilter extension that `removed` left `node` (preemption).
    pub fn run_pre_filter_remove_pod(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        removed: &Arc<PodInfo>,
        node: &NodeInfo,
    ) -> Status {
        self.each_pre_filter(state, |pf, state| pf.remove_pod(state, pod, removed, node))
    }

    /// Calls `f` on every PreFilter not skipped this cycle; the first failure wins.
    fn each_pre_filter(
        &self,
        state: &mut CycleState,
        mut f: impl FnMut(&dyn PreFilter, &mut CycleState) -> Status,
    ) -> Status {
        for p in &self.pre_filter {
            if state.skip_filter.contains(&p.name()) {
                continue;
            }
            if let Some(pf) = p.as_pre_filter() {
                let s = f(pf, state);
                if !s.is_success() {
                    return s.with_plugin(p.name());
                }
            }
        }
        Status::success()
    }

    /// Runs PostFilter plugins until one nominates a node.
    pub fn run_post_filter(
        &self,
        state: &CycleState,
        pod: &PodInfo,
        statuses: &NodeStatuses,
    ) -> (Option<PostFilterResult>, Status) {
        let mut last = Status::unschedulable("no PostFilter plugin");
        // A rejection may still carry a result (e.g. "clear the nomination"): the last kept.
        let mut result = None;
        for p in &self.post_filter {
            let Some(pf) = p.as_post_filter() else {
                continue;
            };
            let (r, status) = pf.post_filter(self, state, pod, statuses);
            if status.is_success() {
                return (r, status.with_plugin(p.name()));
            }
            if status.code == Code::Error {
                return (None, status.with_plugin(p.name()));
            }
            if r.is_some() {
                result = r;
            }
            last = status.with_plugin(p.name());
        }
        (result, last)
    }

    /// Runs every PreScore over the feasible nodes.
    pub fn run_pre_score(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        nodes: &[Arc<NodeInfo>],
    ) -> Status {
        for p in &self.pre_score {
            let Some(ps) = p.as_pre_score() else { continue };
            let status = ps.pre_score(state, pod, nodes);
            match status.code {
                Code::Skip => state.skip_score.push(p.name()),
                Code::Success => {}
                _ => return status.with_plugin(p.name()),
            }
        }
        Status::success()
    }

    /// Scores every feasible node with every Score plugin (normalized, weighted, summed).
    /// Returns the total per node, in `nodes` order.
    pub fn run_score(
        &self,
        state: &CycleState,
        pod: &PodInfo,
        nodes: &[Arc<NodeInfo>],
    ) -> Result<Vec<i64>, Status> {
        let scorers: Vec<(&'static str, &dyn Score, i64)> = self
            .score
            .iter()
            .filter(|(p, _)| !state.skip_score.contains(&p.name()))
            .filter_map(|(p, weight)| Some((p.name(), p.as_score()?, *weight)))
            .collect();
        // Node by node, every plugin on each: a node's data is brought into the first-level
        // cache once per cycle rather than once per plugin (~500 nodes do not fit in it).
        let mut scores: Vec<Vec<NodeScore>> = scorers
            .iter()
            .map(|_| Vec::with_capacity(nodes.len()))
            .collect();
        for (i, node) in nodes.iter().enumerate() {
            if let Some(ahead) = nodes.get(i + PREFETCH_DISTANCE) {
                ahead.prefetch();
            }
            for ((name, s, _), out) in scorers.iter().zip(&mut scores) {
                let score = s
                    .score(state, pod, node)
                    .map_err(|st| st.with_plugin(name))?;
                out.push(NodeScore { node: i, score });
            }
        }
        let mut totals = vec![0i64; nodes.len()];
        for ((name, s, weight), mut scores) in scorers.into_iter().zip(scores) {
            let status = s.normalize(state, pod, &mut scores);
            if !status.is_success() {
                return Err(status.with_plugin(name));
            }
            for ns in scores {
                totals[ns.node] += ns.score * weight;
            }
        }
        Ok(totals)
    }

    /// Runs every Reserve; on a failure, unreserves them all and returns it.
    pub fn run_reserve(&self, state: &mut CycleState, pod: &PodInfo, node: &str) -> Status {
        for p in &self.reserve {
            let Some(r) = p.as_reserve() else { continue };
            let status = r.reserve(state, pod, node);
            if !status.is_success() {
                self.run_unreserve(state, pod, node);
                return status.with_plugin(p.name());
            }
        }
        Status::success()
    }

    /// Runs every Unreserve, in reverse order.
    pub fn run_unreserve(&self, state: &mut CycleState, pod: &PodInfo, node: &str) {
        for p in self.reserve.iter().rev() {
            if let Some(r) = p.as_reserve() {
                r.unreserve(state, pod, node);
            }
        }
    }
}
