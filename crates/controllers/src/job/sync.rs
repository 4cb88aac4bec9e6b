//! One Job sync as a pure function of what the cache shows and the time: which pods to delete
//! and create, the status to write before touching pod finalizers (new terminal pods recorded
//! in `uncountedTerminatedPods`, interim FailureTarget/SuccessCriteriaMet conditions), which
//! finalizers to remove, and the terminal condition to add once every pod is counted.
//!
//! Order of decisions, as upstream's `syncJob`: a FailJob pod-failure-policy match, then
//! backoffLimit (or container restarts under `OnFailure`), then activeDeadlineSeconds fail the
//! Job; otherwise pods are managed (suspend deletes them, else create up to parallelism and the
//! remaining completions, after the failure backoff) and completion is checked.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::api::batch::v1::{Job, JobCondition, JobStatus, UncountedTerminatedPods};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::backoff::Record;
use super::conditions::{self, reasons, types};
use super::failure_policy::{self, Outcome};
use super::indexes::{Intervals, completion_index};
use super::pods;

/// Upstream's cap on pods created or deleted in one sync.
pub const MAX_POD_CREATE_DELETE_PER_SYNC: usize = 500;
/// Upstream's cap on UIDs in `uncountedTerminatedPods`.
pub const MAX_UNCOUNTED_PODS: usize = 500;

/// What one sync looks at.
pub struct Observed<'a> {
    /// The Job (from the cache).
    pub job: &'a Job,
    /// The pods it controls.
    pub pods: &'a [Arc<Pod>],
    /// Now.
    pub now: Timestamp,
    /// Failures since the last success, as of the previous sync.
    pub backoff: Record,
    /// Whether earlier creates and deletes are all visible in the cache.
    pub expectations_satisfied: bool,
}

/// A pod to delete.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Deletion {
    /// Its name.
    pub name: String,
    /// Whether to remove the tracking finalizer first (pods removed because of suspend or
    /// scale-down are not failures and need not be counted).
    pub remove_finalizer_first: bool,
}

/// An event to record on the Job.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// Warning, else Normal.
    pub warning: bool,
    /// Reason.
    pub reason: String,
    /// Message.
    pub message: String,
}

/// What to do.
#[derive(Debug, Default)]
pub struct Plan {
    /// The status to write before removing finalizers.
    pub status: JobStatus,
    /// Pods to delete.
    pub delete: Vec<Deletion>,
    /// Pods to create: one entry per pod, its completion index for Indexed Jobs.
    pub create: Vec<Option<i32>>,
    /// Pods whose tracking finalizer may go once `status` is written.
    pub unfinalize: Vec<String>,
    /// The terminal condition (Complete/Failed) to add once every finished pod is counted
    /// and none is terminating.
    pub finish: Option<JobCondition>,
    /// Whether `finish` must wait for the deletions of `delete` to succeed.
    pub finish_needs_deletes: bool,
    /// Whether `uncountedTerminatedPods` is full (finish waits for another sync).
    pub uncounted_full: bool,
    /// When to look again (deadline, backoff).
    pub requeue_after: Option<Duration>,
    /// Events to record now.
    pub events: Vec<Event>,
    /// The backoff record after this sync.
    pub backoff: Record,
}

fn min_requeue(cur: &mut Option<Duration>, d: Duration) {
    *cur = Some(cur.map_or(d, |c| c.min(d)));
}

/// Plans one sync of an unfinished Job.
pub fn plan(o: &Observed<'_>) -> Plan {
    let job = o.job;
    let spec = job.spec.clone().unwrap_or_default();
    let mut status = job.status.clone().unwrap_or_default();
    let indexed = spec.completion_mode.as_deref() == Some("Indexed");
    let suspended = spec.suspend == Some(true);
    let parallelism = spec.parallelism.unwrap_or(1);
    let backoff_limit = spec.backoff_limit.unwrap_or(6);
    let completions = spec.completions;
    let policy = spec.pod_failure_policy.as_ref();
    let uid = |p: &Pod| p.metadata.uid.clone().unwrap_or_default();
    let mut plan = Plan::default();

    // UIDs whose finalizer is gone are counted now (a previous sync removed it).
    let finalized: HashSet<String> = o
        .pods
        .iter()
        .filter(|p| pods::has_finalizer(p))
        .map(|p| uid(p))
        .collect();
    let mut uncounted = status.uncounted_terminated_pods.take().unwrap_or_default();
    count_unfinalized(&mut status, &mut uncounted, &finalized);
    let unc_s: HashSet<String> = uncounted.succeeded.iter().flatten().cloned().collect();
    let unc_f: HashSet<String> = uncounted.failed.iter().flatten().cloned().collect();

    let active_pods: Vec<&Arc<Pod>> = o.pods.iter().filter(|p| pods::is_active(p)).collect();
    let mut active = active_pods.len() as i32;
    let mut ready = active_pods.iter().filter(|p| pods::is_ready(p)).count() as i32;
    let mut terminating = o.pods.iter().filter(|p| pods::is_terminating(p)).count() as i32;
    let is_new = |p: &Pod| {
        let u = uid(p);
        pods::has_finalizer(p) && !unc_s.contains(&u) && !unc_f.contains(&u)
    };
    let new_succeeded: Vec<&Pod> = o
        .pods
        .iter()
        .map(|p| &**p)
        .filter(|p| is_new(p) && pods::is_succeeded(p))
        .collect();
    let new_failed: Vec<&Pod> = o
        .pods
        .iter()
        .map(|p| &**p)
        .filter(|p| is_new(p) && !pods::is_succeeded(p) && pods::is_failed(p, job))
        .collect();
    let counted_new_failed = new_failed
        .iter()
        .filter(|p| failure_policy::evaluate(policy, p).counts())
        .count() as i32;
    let mut succeeded =
        status.succeeded.unwrap_or(0) + new_succeeded.len() as i32 + unc_s.len() as i32;
    let failed = status.failed.unwrap_or(0) + counted_new_failed + unc_f.len() as i32;

    if status.start_time.is_none() && !suspended {
        status.start_time = Some(Time(o.now));
    }
    plan.backoff = o.backoff.next(&new_succeeded, &new_failed);

    // The finish decision: (final type, reason, message).
    let mut finish: Option<(&str, String, String)> = None;
    if let Some(c) =
        conditions::find(&status, types::SUCCESS_CRITERIA_MET).filter(|c| c.status == "True")
    {
        finish = Some((types::COMPLETE, reason_of(c), message_of(c)));
    } else if let Some(c) =
        conditions::find(&status, types::FAILURE_TARGET).filter(|c| c.status == "True")
    {
        finish = Some((types::FAILED, reason_of(c), message_of(c)));
    } else if let Some(msg) = o
        .pods
        .iter()
        .filter(|p| pods::is_failed(p, job))
        .find_map(|p| match failure_policy::evaluate(policy, p) {
            Outcome::FailJob(m) => Some(m),
            _ => None,
        })
    {
        finish = Some((types::FAILED, reasons::POD_FAILURE_POLICY.into(), msg));
    }
    if finish.is_none() {
        if failed > backoff_limit || past_backoff_limit_on_failure(job, &active_pods, backoff_limit)
        {
            finish = Some((
                types::FAILED,
                reasons::BACKOFF_LIMIT_EXCEEDED.into(),
                reasons::BACKOFF_LIMIT_MESSAGE.into(),
            ));
        } else if let Some(left) = deadline_left(job, &status, o.now) {
            if left.is_zero() {
                finish = Some((
                    types::FAILED,
                    reasons::DEADLINE_EXCEEDED.into(),
                    reasons::DEADLINE_MESSAGE.into(),
                ));
            } else {
                min_requeue(&mut plan.requeue_after, left);
            }
        }
    }

    let mut succeeded_indexes = Intervals::default();
    if indexed {
        let c = completions.unwrap_or(0);
        succeeded_indexes = Intervals::parse(status.completed_indexes.as_deref(), c);
        for p in o.pods.iter().filter(|p| pods::is_succeeded(p)) {
            if let Some(i) = completion_index(p).filter(|i| *i < c) {
                succeeded_indexes.insert(i);
            }
        }
        succeeded = succeeded_indexes.total();
    }

    if finish.is_some() {
        for p in &active_pods {
            plan.delete.push(Deletion {
                name: p.metadata.name.clone().unwrap_or_default(),
                remove_finalizer_first: false,
            });
            if pods::is_ready(p) {
                ready -= 1;
            }
        }
        terminating += active;
        active = 0;
        plan.finish_needs_deletes = true;
        if !o.expectations_satisfied {
            // Pods may exist that the cache does not show yet: decide again later.
            finish = None;
        }
    } else {
        let mut managed = false;
        if o.expectations_satisfied && job.metadata.deletion_timestamp.is_none() {
            let m = Manage {
                job,
                active_pods: &active_pods,
                all: o.pods,
                succeeded,
                succeeded_indexes: &succeeded_indexes,
                terminating,
                parallelism,
                backoff: plan.backoff,
                now: o.now,
            };
            active = m.run(&mut plan);
            managed = true;
        }
        let complete = match completions {
            None => succeeded > 0 && active == 0,
            Some(c) => succeeded >= c && active == 0,
        };
        if complete {
            finish = Some((
                types::COMPLETE,
                reasons::COMPLETIONS_REACHED.into(),
                reasons::COMPLETIONS_MESSAGE.into(),
            ));
        } else if managed {
            suspend_condition(&mut status, suspended, o.now, &mut plan.events);
        }
    }
    status.active = Some(active);
    status.ready = Some(ready.max(0));
    status.terminating = Some(terminating);

    // Tracking: record newly finished pods before their finalizers go.
    let finishing_failed = finish.as_ref().is_some_and(|f| f.0 == types::FAILED);
    let mut ordered: Vec<&Arc<Pod>> = o.pods.iter().collect();
    if indexed {
        ordered.sort_by_key(|p| completion_index(p).unwrap_or(i32::MAX));
    }
    let c = completions.unwrap_or(0);
    for p in ordered {
        if !pods::has_finalizer(p) {
            continue;
        }
        let failed_pod = pods::is_failed(p, job);
        let removable = job.metadata.deletion_timestamp.is_some()
            || finish.is_some()
            || pods::is_succeeded(p)
            || failed_pod;
        if !removable {
            continue;
        }
        plan.unfinalize
            .push(p.metadata.name.clone().unwrap_or_default());
        let u = uid(p);
        if pods::is_succeeded(p) && !unc_f.contains(&u) {
            if !indexed && !unc_s.contains(&u) {
                uncounted.succeeded.get_or_insert_with(Vec::new).push(u);
            }
        } else if (failed_pod || finishing_failed) && !unc_f.contains(&u) {
            let index_ok = !indexed || completion_index(p).is_some_and(|i| i < c);
            if index_ok && failure_policy::evaluate(policy, p).counts() {
                uncounted.failed.get_or_insert_with(Vec::new).push(u);
            }
        }
        let n = uncounted.succeeded.as_ref().map_or(0, Vec::len)
            + uncounted.failed.as_ref().map_or(0, Vec::len);
        if n >= MAX_UNCOUNTED_PODS {
            plan.uncounted_full = true;
            break;
        }
    }
    if indexed {
        status.completed_indexes = Some(succeeded_indexes.to_string());
        status.succeeded = Some(succeeded_indexes.total());
    }
    status.uncounted_terminated_pods = Some(uncounted);

    if let Some((type_, reason, message)) = finish {
        let interim = if type_ == types::FAILED {
            types::FAILURE_TARGET
        } else {
            types::SUCCESS_CRITERIA_MET
        };
        conditions::ensure(&mut status, interim, "True", &reason, &message, o.now);
        plan.finish = Some(conditions::new(type_, "True", &reason, &message, o.now));
    }
    plan.status = status;
    plan
}

/// Moves UIDs whose pods no longer carry the finalizer (or are gone) from
/// `uncountedTerminatedPods` into the counters. Whether any moved.
pub fn count_unfinalized(
    status: &mut JobStatus,
    uncounted: &mut UncountedTerminatedPods,
    finalized: &HashSet<String>,
) -> bool {
    let mut moved = false;
    for (list, counter) in [
        (&mut uncounted.succeeded, &mut status.succeeded),
        (&mut uncounted.failed, &mut status.failed),
    ] {
        let Some(list) = list.as_mut() else { continue };
        let before = list.len();
        list.retain(|u| finalized.contains(u));
        let gone = (before - list.len()) as i32;
        if gone > 0 {
            *counter = Some(counter.unwrap_or(0) + gone);
            moved = true;
        }
    }
    moved
}

/// Adds the terminal condition when nothing is left uncounted or terminating; whether it did.
pub fn enact_finish(status: &mut JobStatus, finish: &JobCondition) -> bool {
    let uncounted = status.uncounted_terminated_pods.as_ref().map_or(0, |u| {
        u.succeeded.as_ref().map_or(0, Vec::len) + u.failed.as_ref().map_or(0, Vec::len)
    });
    if uncounted > 0 || status.terminating.unwrap_or(0) > 0 {
        return false;
    }
    let now = finish
        .last_transition_time
        .as_ref()
        .map(|t| t.0)
        .unwrap_or_default();
    conditions::ensure(
        status,
        &finish.type_,
        "True",
        finish.reason.as_deref().unwrap_or_default(),
        finish.message.as_deref().unwrap_or_default(),
        now,
    );
    if finish.type_ == types::COMPLETE {
        status.completion_time = Some(Time(now));
    }
    true
}

/// The events upstream records when a Job finishes.
pub fn finish_events(job: &Job, status: &JobStatus, finish: &JobCondition) -> Vec<Event> {
    if finish.type_ == types::COMPLETE {
        let mut out = Vec::new();
        let completions = job.spec.as_ref().and_then(|s| s.completions);
        if completions.is_some_and(|c| status.succeeded.unwrap_or(0) > c) {
            out.push(Event {
                warning: true,
                reason: "TooManySucceededPods".into(),
                message: "Too many succeeded pods running after completion count reached".into(),
            });
        }
        out.push(Event {
            warning: false,
            reason: "Completed".into(),
            message: "Job completed".into(),
        });
        return out;
    }
    vec![Event {
        warning: true,
        reason: finish.reason.clone().unwrap_or_default(),
        message: finish.message.clone().unwrap_or_default(),
    }]
}

fn reason_of(c: &JobCondition) -> String {
    c.reason.clone().unwrap_or_default()
}

fn message_of(c: &JobCondition) -> String {
    c.message.clone().unwrap_or_default()
}

/// Under `restartPolicy: OnFailure`, whether container restarts of running pods reached the
/// backoff limit.
fn past_backoff_limit_on_failure(job: &Job, active: &[&Arc<Pod>], limit: i32) -> bool {
    let policy = job
        .spec
        .as_ref()
        .and_then(|s| s.template.spec.as_ref())
        .and_then(|s| s.restart_policy.as_deref());
    if policy != Some("OnFailure") {
        return false;
    }
    let restarts: i32 = active
        .iter()
        .filter(|p| {
            let phase = p.status.as_ref().and_then(|s| s.phase.as_deref());
            matches!(phase, Some("Running" | "Pending"))
        })
        .map(|p| pods::restarts(p))
        .sum();
    if limit == 0 {
        restarts > 0
    } else {
        restarts >= limit
    }
}

/// Time left before activeDeadlineSeconds (zero when passed); `None` without a deadline, a
/// start time, or while suspended.
fn deadline_left(job: &Job, status: &JobStatus, now: Timestamp) -> Option<Duration> {
    let spec = job.spec.as_ref()?;
    let secs = spec.active_deadline_seconds?;
    if spec.suspend == Some(true) {
        return None;
    }
    let start = status.start_time.as_ref()?.0;
    let deadline = Duration::from_secs(u64::try_from(secs).unwrap_or(0));
    let elapsed = Duration::try_from(now.duration_since(start)).unwrap_or(Duration::ZERO);
    Some(deadline.saturating_sub(elapsed))
}

fn suspend_condition(
    status: &mut JobStatus,
    suspended: bool,
    now: Timestamp,
    events: &mut Vec<Event>,
) {
    let (st, reason, message, event) = if suspended {
        ("True", reasons::JOB_SUSPENDED, "Job suspended", "Suspended")
    } else {
        ("False", reasons::JOB_RESUMED, "Job resumed", "Resumed")
    };
    if conditions::ensure(status, types::SUSPENDED, st, reason, message, now) {
        events.push(Event {
            warning: false,
            reason: event.into(),
            message: message.into(),
        });
        if !suspended {
            // activeDeadlineSeconds counts continuous activity: a resumed Job starts anew.
            status.start_time = Some(Time(now));
        }
    }
}

/// upstream's `manageJob`: pods to delete or create for an unfinished Job.
struct Manage<'a> {
    job: &'a Job,
    active_pods: &'a [&'a Arc<Pod>],
    all: &'a [Arc<Pod>],
    succeeded: i32,
    succeeded_indexes: &'a Intervals,
    terminating: i32,
    parallelism: i32,
    backoff: Record,
    now: Timestamp,
}

impl Manage<'_> {
    /// Fills `plan.delete`/`plan.create`; the active count once they are done.
    fn run(&self, plan: &mut Plan) -> i32 {
        let spec = self.job.spec.clone().unwrap_or_default();
        let indexed = spec.completion_mode.as_deref() == Some("Indexed");
        let active = self.active_pods.len() as i32;
        if spec.suspend == Some(true) {
            for p in self.removal_order(active as usize, indexed) {
                plan.delete.push(self.delete(p));
            }
            return active - plan.delete.len() as i32;
        }
        let want = match spec.completions {
            None if self.succeeded > 0 => active,
            None => self.parallelism,
            Some(c) => (c - self.succeeded).min(self.parallelism).max(0),
        };
        let rm_at_least = (active - want).max(0) as usize;
        let mut to_delete = self.removal_order(rm_at_least, indexed);
        to_delete.truncate(MAX_POD_CREATE_DELETE_PER_SYNC);
        if !to_delete.is_empty() {
            for p in &to_delete {
                plan.delete.push(self.delete(p));
            }
            return active - to_delete.len() as i32;
        }
        let terminating = if pods::only_replace_failed(self.job) {
            self.terminating
        } else {
            0
        };
        let diff = want - terminating - active;
        if diff <= 0 {
            return active;
        }
        let wait = self.backoff.remaining(self.now);
        if !wait.is_zero() {
            min_requeue(&mut plan.requeue_after, wait);
            return active;
        }
        let diff = (diff as usize).min(MAX_POD_CREATE_DELETE_PER_SYNC);
        if indexed {
            let indexes = self.first_pending_indexes(diff, spec.completions.unwrap_or(0));
            plan.create = indexes.iter().map(|i| Some(*i)).collect();
        } else {
            plan.create = vec![None; diff];
        }
        active + plan.create.len() as i32
    }

    fn delete(&self, p: &Pod) -> Deletion {
        Deletion {
            name: p.metadata.name.clone().unwrap_or_default(),
            remove_finalizer_first: true,
        }
    }

    /// At least `n` active pods to remove: for Indexed Jobs first those with a duplicate or
    /// out-of-range index, then by upstream's deletion order.
    fn removal_order(&self, n: usize, indexed: bool) -> Vec<&Pod> {
        let mut rm: Vec<&Pod> = Vec::new();
        let mut left: Vec<&Pod> = Vec::new();
        if indexed {
            let completions = self
                .job
                .spec
                .as_ref()
                .and_then(|s| s.completions)
                .unwrap_or(0);
            let mut seen = HashSet::new();
            let mut sorted: Vec<&Pod> = self.active_pods.iter().map(|p| &***p).collect();
            sorted.sort_by_key(|p| completion_index(p));
            for p in sorted {
                match completion_index(p) {
                    Some(i) if i < completions && seen.insert(i) => left.push(p),
                    _ => rm.push(p),
                }
            }
        } else {
            left = self.active_pods.iter().map(|p| &***p).collect();
        }
        if rm.len() < n {
            left.sort_by(|a, b| pods::deletion_order(a, b));
            let more = n - rm.len();
            rm.extend(left.into_iter().take(more));
        }
        rm
    }

    /// The lowest `n` indexes that neither succeeded nor have a pod running (or, when pods are
    /// replaced only once failed, terminating).
    fn first_pending_indexes(&self, n: usize, completions: i32) -> Vec<i32> {
        let wait_terminating = pods::only_replace_failed(self.job);
        let busy: HashSet<i32> = self
            .all
            .iter()
            .filter(|p| pods::is_active(p) || (wait_terminating && pods::is_terminating(p)))
            .filter_map(|p| completion_index(p))
            .collect();
        (0..completions)
            .filter(|i| !self.succeeded_indexes.has(*i) && !busy.contains(i))
            .take(n)
            .collect()
    }
}
