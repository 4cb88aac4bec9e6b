//! The scheduling queue (pure: the caller passes the time). Pending pods wait in one of:
//! active (ordered by priority, then queue time), backoff (after a failure: 1 s doubling to
//! 10 s), unschedulable (until a cluster event one of the plugins that rejected them cares
//! about, or 5 minutes), or gated (non-empty `schedulingGates`).

use std::cmp::Reverse;
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use crate::framework::{ClusterEvent, Nominator, PodInfo};

/// Default initial backoff after a failed attempt.
pub const DEFAULT_INITIAL_BACKOFF: Duration = Duration::from_secs(1);
/// Default maximum backoff.
pub const DEFAULT_MAX_BACKOFF: Duration = Duration::from_secs(10);
/// How long a pod may stay unschedulable before it is retried anyway.
pub const MAX_UNSCHEDULABLE_STAY: Duration = Duration::from_secs(5 * 60);

/// A pod taken from the queue for one scheduling attempt.
#[derive(Clone, Debug)]
pub struct QueuedPod {
    /// The pod.
    pub info: Arc<PodInfo>,
    /// Attempts so far, this one included.
    pub attempts: u32,
    /// When it first entered the queue (for the end-to-end latency metric).
    pub initial_attempt: Instant,
    /// The scheduling cycle this attempt runs in.
    pub cycle: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Place {
    Active,
    Backoff,
    Unschedulable,
    Gated,
    InFlight,
}

#[derive(Debug)]
struct Entry {
    info: Arc<PodInfo>,
    place: Place,
    attempts: u32,
    timestamp: u64,
    initial_attempt: Instant,
    backoff_until: Instant,
    since: Instant,
    rejected_by: Vec<&'static str>,
}

type ActiveKey = (Reverse<i32>, u64, String);

/// Pending pods and where each waits.
#[derive(Debug)]
pub struct SchedulingQueue {
    pods: HashMap<String, Entry>,
    active: BTreeSet<ActiveKey>,
    backoff: BTreeSet<(Instant, u64, String)>,
    /// UIDs waiting in the unschedulable place (events scan only these).
    unschedulable: std::collections::HashSet<String>,
    seq: u64,
    cycle: u64,
    move_request_cycle: u64,
    initial_backoff: Duration,
    max_backoff: Duration,
    nominator: Nominator,
}

/// How many pods wait where (for `scheduler_pending_pods`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct QueueCounts {
    /// Ready to be scheduled.
    pub active: usize,
    /// Waiting out a backoff.
    pub backoff: usize,
    /// Waiting for a cluster change.
    pub unschedulable: usize,
    /// Held by scheduling gates.
    pub gated: usize,
}

fn gated(info: &PodInfo) -> bool {
    info.spec()
        .scheduling_gates
        .as_ref()
        .is_some_and(|g| !g.is_empty())
}

impl SchedulingQueue {
    /// An empty queue with the given backoff bounds.
    pub fn new(initial_backoff: Duration, max_backoff: Duration) -> SchedulingQueue {
        SchedulingQueue {
            pods: HashMap::new(),
            active: BTreeSet::new(),
            backoff: BTreeSet::new(),
            unschedulable: Default::default(),
            seq: 0,
            cycle: 0,
            move_request_cycle: 0,
            initial_backoff,
            max_backoff,
            nominator: Nominator::default(),
        }
    }

    /// The pending pods' nominations (kept here, as upstream, because they follow the queue's
    /// pods: added and updated with them, gone when they are bound or deleted).
    pub fn nominator(&mut self) -> &mut Nominator {
        &mut self.nominator
    }

    fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    fn backoff_for(&self, attempts: u32) -> Duration {
        let mut d = self.initial_backoff;
        for _ in 1..attempts {
            d = d.saturating_mul(2);
            if d >= self.max_backoff {
                return self.max_backoff;
            }
        }
        d.min(self.max_backoff)
    }

    /// Takes `uid` out of whichever waiting structure holds it.
    fn detach(&mut self, uid: &str) {
        let Some(e) = self.pods.get(uid) else { return };
        match e.place {
            Place::Active => {
                self.active
                    .remove(&(Reverse(e.info.priority), e.timestamp, uid.to_string()));
            }
            Place::Backoff => {
                self.backoff
                    .remove(&(e.backoff_until, e.timestamp, uid.to_string()));
            }
            Place::Unschedulable => {
                self.unschedulable.remove(uid);
            }
            Place::Gated | Place::InFlight => {}
        }
    }

    /// Puts `uid` (already in `pods`, detached) into `place`.
    fn attach(&mut self, uid: &str, place: Place, now: Instant) {
        let seq = self.next_seq();
        self.unschedulable.remove(uid);
        let Some(e) = self.pods.get_mut(uid) else {
            return;
        };
        let place = if gated(&e.info) { Place::Gated } else { place };
        e.place = place;
        e.since = now;
        e.timestamp = seq;
        match place {
            Place::Active => {
                self.active
                    .insert((Reverse(e.info.priority), seq, uid.to_string()));
            }
            Place::Backoff => {
                self.backoff.insert((e.backoff_until, seq, uid.to_string()));
            }
            Place::Unschedulable => {
                self.unschedulable.insert(uid.to_string());
            }
            Place::Gated | Place::InFlight => {}
        }
    }

    /// A new pending pod (or an update of one already queued).
    pub fn add(&mut self, info: Arc<PodInfo>, now: Instant) {
        self.nominator.observe(&info);
        if self.pods.contains_key(&info.uid) {
            self.update(info, now);
            return;
        }
        let uid = info.uid.clone();
        self.pods.insert(
            uid.clone(),
            Entry {
                info,
                place: Place::Active,
                attempts: 0,
                timestamp: 0,
                initial_attempt: now,
                backoff_until: now,
                since: now,
                rejected_by: Vec::new(),
            },
        );
        self.attach(&uid, Place::Active, now);
    }

    /// A queued pod changed: keep the newest object; an unschedulable or gated pod gets another
    /// chance (its spec may now fit, or its gates are gone).
    pub fn update(&mut self, info: Arc<PodInfo>, now: Instant) {
        self.nominator.observe(&info);
        let uid = info.uid.clone();
        let Some(place) = self.pods.get(&uid).map(|e| e.place) else {
            self.add(info, now);
            return;
        };
        if place == Place::Unschedulable {
            let e = self.pods.get_mut(&uid).expect("present");
            // A status-only change (e.g. the scheduler's own PodScheduled condition coming
            // back through the watch) cannot make the pod fit: it keeps waiting.
            if e.info.pod.spec == info.pod.spec && e.info.labels == info.labels {
                e.info = info;
                return;
            }
        }
        self.detach(&uid);
        let e = self.pods.get_mut(&uid).expect("present");
        e.info = info;
        let target = match place {
            Place::InFlight => {
                return;
            }
            Place::Active => Place::Active,
            Place::Backoff => Place::Backoff,
            Place::Unschedulable | Place::Gated => {
                if e.backoff_until > now {
                    Place::Backoff
                } else {
                    Place::Active
                }
            }
        };
        self.attach(&uid, target, now);
    }

    /// The pod is gone or was bound by someone else.
    pub fn delete(&mut self, uid: &str) {
        self.nominator.remove(uid);
        self.detach(uid);
        self.pods.remove(uid);
    }

    /// Whether `uid` is queued (anywhere, including in flight).
    pub fn contains(&self, uid: &str) -> bool {
        self.pods.contains_key(uid)
    }

    /// The next pod to schedule, if one is active. It stays known (in flight) until
    /// [`SchedulingQueue::done`] or a requeue.
    pub fn pop(&mut self) -> Option<QueuedPod> {
        let key = self.active.pop_first()?;
        let uid = key.2;
        self.cycle += 1;
        let cycle = self.cycle;
        let e = self.pods.get_mut(&uid)?;
        e.place = Place::InFlight;
        e.attempts += 1;
        Some(QueuedPod {
            info: e.info.clone(),
            attempts: e.attempts,
            initial_attempt: e.initial_attempt,
            cycle,
        })
    }

    /// The attempt succeeded (the pod is assumed): forget it.
    pub fn done(&mut self, uid: &str) {
        self.nominator.remove(uid);
        if self
            .pods
            .get(uid)
            .is_some_and(|e| e.place == Place::InFlight)
        {
            self.pods.remove(uid);
        }
    }

    /// The attempt found no node. `rejected_by` are the plugins that said no; the pod waits for
    /// an event they care about — or backs off right away if such an event already arrived
    /// while it was being scheduled.
    pub fn requeue_unschedulable(
        &mut self,
        pod: &QueuedPod,
        rejected_by: Vec<&'static str>,
        now: Instant,
    ) {
        let uid = pod.info.uid.clone();
        let backoff = self.backoff_for(pod.attempts);
        let move_requested = self.move_request_cycle >= pod.cycle;
        let Some(e) = self.pods.get_mut(&uid) else {
            return;
        };
        if e.place != Place::InFlight {
            return;
        }
        e.backoff_until = now + backoff;
        e.rejected_by = rejected_by;
        let place = if move_requested {
            Place::Backoff
        } else {
            Place::Unschedulable
        };
        self.attach(&uid, place, now);
    }

    /// The attempt failed with an error (or the bind failed): retry after the backoff.
    pub fn requeue_backoff(&mut self, pod: &QueuedPod, now: Instant) {
        let uid = pod.info.uid.clone();
        let backoff = self.backoff_for(pod.attempts);
        if let Some(e) = self.pods.get_mut(&uid) {
            e.backoff_until = now + backoff;
        } else {
            // Bind failures come after `done`: the pod re-enters.
            self.pods.insert(
                uid.clone(),
                Entry {
                    info: pod.info.clone(),
                    place: Place::InFlight,
                    attempts: pod.attempts,
                    timestamp: 0,
                    initial_attempt: pod.initial_attempt,
                    backoff_until: now + backoff,
                    since: now,
                    rejected_by: Vec::new(),
                },
            );
        }
        self.detach(&uid);
        self.attach(&uid, Place::Backoff, now);
    }

    /// A cluster event: unschedulable pods rejected by a plugin `interested` in it move to
    /// active (or backoff if still backing off).
    pub fn on_event(
        &mut self,
        event: ClusterEvent,
        interested: impl Fn(&str, ClusterEvent) -> bool,
        now: Instant,
    ) {
        self.move_request_cycle = self.cycle;
        let movers: Vec<String> = self
            .unschedulable
            .iter()
            .filter(|uid| {
                self.pods.get(*uid).is_some_and(|e| {
                    e.rejected_by.is_empty() || e.rejected_by.iter().any(|p| interested(p, event))
                })
            })
            .cloned()
            .collect();
        for uid in movers {
            let until = self.pods[&uid].backoff_until;
            let place = if until > now {
                Place::Backoff
            } else {
                Place::Active
            };
            self.attach(&uid, place, now);
        }
    }

    /// Moves pods whose backoff ended to active, and pods unschedulable for longer than
    /// [`MAX_UNSCHEDULABLE_STAY`] back to active. Returns how many moved.
    pub fn flush(&mut self, now: Instant) -> usize {
        let mut moved = 0;
        while let Some(first) = self.backoff.first().cloned() {
            if first.0 > now {
                break;
            }
            self.backoff.remove(&first);
            self.attach(&first.2, Place::Active, now);
            moved += 1;
        }
        let stale: Vec<String> = self
            .unschedulable
            .iter()
            .filter(|uid| {
                self.pods
                    .get(*uid)
                    .is_some_and(|e| now.duration_since(e.since) >= MAX_UNSCHEDULABLE_STAY)
            })
            .cloned()
            .collect();
        for uid in stale {
            self.attach(&uid, Place::Active, now);
            moved += 1;
        }
        moved
    }

    /// How many pods wait where.
    pub fn counts(&self) -> QueueCounts {
        let mut c = QueueCounts::default();
        for e in self.pods.values() {
            match e.place {
                Place::Active => c.active += 1,
                Place::Backoff => c.backoff += 1,
                Place::Unschedulable => c.unschedulable += 1,
                Place::Gated => c.gated += 1,
                Place::InFlight => {}
            }
        }
        c
    }

    /// The earliest time a backoff ends, if any pod is backing off.
    pub fn next_backoff_expiry(&self) -> Option<Instant> {
        self.backoff.first().map(|b| b.0)
    }
}

#[cfg(test)]
#[path = "queue_tests.rs"]
mod tests;
