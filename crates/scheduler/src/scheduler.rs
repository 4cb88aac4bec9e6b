//! The scheduler's main loop: pop a pod, run its profile's algorithm on a fresh snapshot,
//! assume it on the chosen node and bind it in the background — or record why it cannot run
//! and park it until the cluster changes.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kube::Client;
use tokio::sync::{Notify, Semaphore};
use tokio::time::Instant;

use crate::actions::{self, Nomination};
use crate::algorithm::{self, NextStart, ScheduleFailure};
use crate::cache::Cache;
use crate::config::DEFAULT_SCHEDULER_NAME;
use crate::events::EventSink;
use crate::framework::{ClusterEvent, CycleState, Framework, PodInfo};
use crate::metrics::Metrics;
use crate::queue::{DEFAULT_INITIAL_BACKOFF, DEFAULT_MAX_BACKOFF, QueuedPod, SchedulingQueue};

/// How often backoffs are checked and the queue gauges refreshed.
const FLUSH_PERIOD: Duration = Duration::from_secs(1);

/// What a scheduler runs with.
pub struct SchedulerOptions {
    /// One framework per profile.
    pub frameworks: Vec<Framework>,
    /// Backoff after the first failure.
    pub initial_backoff: Duration,
    /// Backoff cap.
    pub max_backoff: Duration,
    /// This instance's name (events' reportingInstance, leader election identity).
    pub identity: String,
    /// How many API writes (bindings, status updates) may be in flight.
    pub write_concurrency: usize,
}

impl SchedulerOptions {
    /// Defaults around the given profiles.
    pub fn new(frameworks: Vec<Framework>) -> SchedulerOptions {
        SchedulerOptions {
            frameworks,
            initial_backoff: DEFAULT_INITIAL_BACKOFF,
            max_backoff: DEFAULT_MAX_BACKOFF,
            identity: format!("rkube-scheduler-{}", std::process::id()),
            write_concurrency: 64,
        }
    }
}

/// A running scheduler's shared state.
pub struct Scheduler {
    pub(crate) client: Client,
    pub(crate) frameworks: HashMap<String, Arc<Framework>>,
    interests: HashMap<&'static str, &'static [ClusterEvent]>,
    pub(crate) queue: Mutex<SchedulingQueue>,
    pub(crate) wake: Notify,
    pub(crate) cache: Mutex<Cache>,
    next_start: NextStart,
    pub(crate) events: EventSink,
    /// The scheduler's metrics (serve [`Metrics::encode`]).
    pub metrics: Arc<Metrics>,
    pub(crate) writes: Semaphore,
    pub(crate) synced: tokio::sync::watch::Sender<u8>,
}

/// How many informers must finish their initial list before scheduling starts.
pub(crate) const INFORMERS: u8 = 8;

impl Scheduler {
    /// A scheduler on `client` (call [`Scheduler::run`]).
    pub fn new(client: Client, options: SchedulerOptions) -> Arc<Scheduler> {
        let mut interests = HashMap::new();
        let mut frameworks = HashMap::new();
        for fw in options.frameworks {
            for p in fw.plugins() {
                interests.insert(p.name(), p.events());
            }
            frameworks.insert(fw.scheduler_name.clone(), Arc::new(fw));
        }
        Arc::new(Scheduler {
            events: EventSink::start(client.clone(), options.identity),
            client,
            frameworks,
            interests,
            queue: Mutex::new(SchedulingQueue::new(
                options.initial_backoff,
                options.max_backoff,
            )),
            wake: Notify::new(),
            cache: Mutex::new(Cache::new()),
            next_start: NextStart::default(),
            metrics: Arc::new(Metrics::new()),
            writes: Semaphore::new(options.write_concurrency.max(1)),
            synced: tokio::sync::watch::channel(0).0,
        })
    }

    /// Whether pods naming `scheduler_name` are ours.
    pub(crate) fn serves(&self, scheduler_name: Option<&str>) -> bool {
        self.frameworks
            .contains_key(scheduler_name.unwrap_or(DEFAULT_SCHEDULER_NAME))
    }

    /// Moves unschedulable pods that `event` may help.
    pub(crate) fn cluster_event(&self, event: ClusterEvent) {
        let interests = &self.interests;
        self.queue.lock().expect("queue lock").on_event(
            event,
            |plugin, ev| interests.get(plugin).is_none_or(|evs| evs.contains(&ev)),
            Instant::now(),
        );
        self.wake.notify_one();
    }

    /// Runs the informers and the scheduling loop until the returned future is dropped.
    pub async fn run(self: Arc<Self>) {
        let mut tasks = tokio::task::JoinSet::new();
        crate::informers::start(&self, &mut tasks);
        let mut synced = self.synced.subscribe();
        while *synced.borrow_and_update() < INFORMERS {
            if synced.changed().await.is_err() {
                return;
            }
        }
        tracing::info!(profiles = self.frameworks.len(), "scheduler caches synced");
        let flusher = self.clone();
        tasks.spawn(async move { flusher.flush_loop().await });
        loop {
            let pod = self.pop().await;
            self.schedule_one(pod);
        }
    }

    async fn flush_loop(&self) {
        let mut tick = tokio::time::interval(FLUSH_PERIOD);
        loop {
            tick.tick().await;
            let (moved, counts) = {
                let mut q = self.queue.lock().expect("queue lock");
                (q.flush(Instant::now()), q.counts())
            };
            if moved > 0 {
                self.wake.notify_one();
            }
            self.metrics.set_pending(counts);
            self.metrics
                .events_dropped
                .inner()
                .store(self.events.dropped(), std::sync::atomic::Ordering::Relaxed);
        }
    }

    async fn pop(&self) -> QueuedPod {
        loop {
            let notified = self.wake.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if let Some(p) = self.queue.lock().expect("queue lock").pop() {
                return p;
            }
            notified.await;
        }
    }

    /// One scheduling cycle. The algorithm runs inline; API writes are spawned.
    fn schedule_one(self: &Arc<Self>, qp: QueuedPod) {
        let start = Instant::now();
        let pod = qp.info.clone();
        let name = pod
            .spec()
            .scheduler_name
            .as_deref()
            .unwrap_or(DEFAULT_SCHEDULER_NAME);
        let Some(fw) = self.frameworks.get(name).cloned() else {
            self.queue.lock().expect("queue lock").delete(&pod.uid);
            return;
        };
        if pod.pod.metadata.deletion_timestamp.is_some()
            || self.cache.lock().expect("cache lock").has_pod(&pod.uid)
        {
            self.queue.lock().expect("queue lock").delete(&pod.uid);
            return;
        }
        let snapshot = self.cache.lock().expect("cache lock").snapshot();
        let mut state = CycleState::new(snapshot);
        state.set_nominated(self.queue.lock().expect("queue lock").nominator().view());
        match algorithm::schedule_pod(&fw, &mut state, &pod, &self.next_start) {
            Ok(result) => {
                let status = fw.run_reserve(&mut state, &pod, &result.node);
                if !status.is_success() {
                    self.failed(&fw, &qp, start, status.message(), "SchedulerError");
                    return;
                }
                self.cache
                    .lock()
                    .expect("cache lock")
                    .assume(pod.clone(), &result.node);
                self.queue.lock().expect("queue lock").done(&pod.uid);
                self.metrics.attempt(
                    "scheduled",
                    &fw.scheduler_name,
                    start.elapsed().as_secs_f64(),
                );
                state.release_snapshot();
                let me = self.clone();
                tokio::spawn(async move { actions::bind(me, fw, qp, state, result.node).await });
            }
            Err(ScheduleFailure::Unfit(mut fit)) => {
                let mut nomination = Nomination::Keep;
                if fw.has_post_filter() {
                    self.metrics.preemption_attempts.inc();
                    let (res, status) = fw.run_post_filter(&state, &pod, &fit.statuses);
                    match res {
                        Some(res) if status.is_success() && res.nominated_node.is_some() => {
                            let node = res.nominated_node.clone().unwrap_or_default();
                            {
                                let mut q = self.queue.lock().expect("queue lock");
                                q.nominator().nominate(pod.clone(), node.clone());
                                for other in &res.clear_nominations {
                                    q.nominator().remove(&other.uid);
                                }
                            }
                            nomination = Nomination::Set(node);
                            self.metrics
                                .preemption_victims
                                .observe(res.victims.len() as f64);
                            let me = self.clone();
                            let preemptor = pod.clone();
                            let name = fw.scheduler_name.clone();
                            tokio::spawn(async move {
                                actions::preempt(me, preemptor, res, name).await
                            });
                        }
                        other => {
                            // A result without a node: preemption found no candidate, so a
                            // nomination from an earlier attempt no longer holds.
                            if other.is_some_and(|r| r.nominated_node.is_none()) {
                                let mut q = self.queue.lock().expect("queue lock");
                                let had = q.nominator().node_of(&pod.uid).is_some()
                                    || pod_nominated_node(&pod).is_some();
                                q.nominator().remove(&pod.uid);
                                if had {
                                    nomination = Nomination::Clear;
                                }
                            }
                            let m = status.message();
                            if !m.is_empty() {
                                fit.post_filter_message = Some(m);
                            }
                        }
                    }
                }
                let message = fit.message();
                self.queue
                    .lock()
                    .expect("queue lock")
                    .requeue_unschedulable(&qp, fit.plugins.clone(), Instant::now());
                self.metrics.attempt(
                    "unschedulable",
                    &fw.scheduler_name,
                    start.elapsed().as_secs_f64(),
                );
                self.report_failure(&pod, message, "Unschedulable", nomination);
            }
            Err(ScheduleFailure::Error(status)) => {
                self.failed(&fw, &qp, start, status.message(), "SchedulerError");
            }
        }
    }

    fn failed(
        self: &Arc<Self>,
        fw: &Framework,
        qp: &QueuedPod,
        start: Instant,
        message: String,
        reason: &str,
    ) {
        self.queue
            .lock()
            .expect("queue lock")
            .requeue_backoff(qp, Instant::now());
        self.metrics
            .attempt("error", &fw.scheduler_name, start.elapsed().as_secs_f64());
        self.report_failure(&qp.info, message, reason, Nomination::Keep);
    }

    /// A FailedScheduling event and the PodScheduled=False condition.
    pub(crate) fn report_failure(
        self: &Arc<Self>,
        pod: &Arc<PodInfo>,
        message: String,
        reason: &str,
        nomination: Nomination,
    ) {
        self.events.record(
            actions::pod_ref(&pod.pod),
            true,
            "FailedScheduling",
            "Scheduling",
            message.clone(),
        );
        actions::spawn_condition_update(
            self,
            pod.pod.clone(),
            reason.to_string(),
            message,
            nomination,
        );
    }
}

fn pod_nominated_node(pod: &PodInfo) -> Option<&str> {
    pod.pod
        .status
        .as_ref()
        .and_then(|s| s.nominated_node_name.as_deref())
        .filter(|n| !n.is_empty())
}
