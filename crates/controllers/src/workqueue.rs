//! A rate-limited work queue with client-go's semantics, and the worker loop every controller
//! runs on it.
//!
//! - A key waiting in the queue is there once, however often it is added (dirty set).
//! - A key being processed is never handed to a second worker; added meanwhile, it is queued
//!   again when its worker calls `done` (so one key is reconciled by one worker at a time).
//! - `add_after` delays an add; `add_rate_limited` delays by the key's failure count with
//!   client-go's default per-item exponential backoff (5 ms · 2ⁿ, at most 1000 s); `forget`
//!   resets it after a success.
//!
//! Delays use tokio's clock, so tests with a paused clock control them. Metrics go to the
//! shared [`Metrics`] under the queue's name.
//!
//! [`run_workers`] is the loop: N workers take keys, call the reconcile function, and
//! requeue by its outcome ([`Requeue`] or an error).

use std::collections::{HashMap, HashSet, VecDeque};
use std::future::Future;
use std::hash::Hash;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

use crate::metrics::{ControllerLabels, Metrics, QueueLabels, ResultLabels};

/// client-go's default per-item backoff base.
const BASE_DELAY: Duration = Duration::from_millis(5);
/// client-go's default per-item backoff cap.
const MAX_DELAY: Duration = Duration::from_secs(1000);

/// A reconcile's successful outcome.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Requeue {
    /// Done until something changes.
    Done,
    /// Look again after this long (e.g. when minReadySeconds will have passed).
    After(Duration),
}

struct State<K> {
    queue: VecDeque<K>,
    dirty: HashSet<K>,
    processing: HashSet<K>,
    added_at: HashMap<K, Instant>,
    failures: HashMap<K, u32>,
    shutting_down: bool,
}

struct Inner<K> {
    name: String,
    state: Mutex<State<K>>,
    notify: Notify,
    metrics: Arc<Metrics>,
}

/// A deduplicating, rate-limited queue of keys (cheap to clone).
pub struct WorkQueue<K> {
    inner: Arc<Inner<K>>,
}

impl<K> Clone for WorkQueue<K> {
    fn clone(&self) -> Self {
        WorkQueue {
            inner: self.inner.clone(),
        }
    }
}

impl<K: Clone + Eq + Hash + Send + Sync + 'static> WorkQueue<K> {
    /// An empty queue whose metrics carry `name`.
    pub fn new(name: &str, metrics: Arc<Metrics>) -> WorkQueue<K> {
        WorkQueue {
            inner: Arc::new(Inner {
                name: name.into(),
                state: Mutex::new(State {
                    queue: VecDeque::new(),
                    dirty: HashSet::new(),
                    processing: HashSet::new(),
                    added_at: HashMap::new(),
                    failures: HashMap::new(),
                    shutting_down: false,
                }),
                notify: Notify::new(),
                metrics,
            }),
        }
    }

    fn labels(&self) -> QueueLabels {
        QueueLabels {
            name: self.inner.name.clone(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State<K>> {
        // A panicking holder cannot leave the sets inconsistent: every update is one step.
        self.inner
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Queues `key` now (no-op if it is already waiting).
    pub fn add(&self, key: K) {
        let mut s = self.lock();
        if s.shutting_down || s.dirty.contains(&key) {
            return;
        }
        self.inner.metrics.adds.get_or_create(&self.labels()).inc();
        s.dirty.insert(key.clone());
        s.added_at.entry(key.clone()).or_insert_with(Instant::now);
        if s.processing.contains(&key) {
            return;
        }
        s.queue.push_back(key);
        self.inner
            .metrics
            .depth
            .get_or_create(&self.labels())
            .set(s.queue.len() as i64);
        drop(s);
        self.inner.notify.notify_one();
    }

    /// Queues `key` after `delay`.
    pub fn add_after(&self, key: K, delay: Duration) {
        if delay.is_zero() {
            self.add(key);
            return;
        }
        let q = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            q.add(key);
        });
    }

    /// Queues `key` after its backoff, which doubles with each call until [`WorkQueue::forget`].
    pub fn add_rate_limited(&self, key: K) {
        let delay = {
            let mut s = self.lock();
            let n = s.failures.entry(key.clone()).or_insert(0);
            let exp = (*n).min(30);
            *n += 1;
            BASE_DELAY.saturating_mul(1u32 << exp).min(MAX_DELAY)
        };
        self.inner
            .metrics
            .retries
            .get_or_create(&self.labels())
            .inc();
        self.add_after(key, delay);
    }

    /// Resets `key`'s backoff.
    pub fn forget(&self, key: &K) {
        self.lock().failures.remove(key);
    }

    /// How often `key` has been rate-limited since the last [`WorkQueue::forget`].
    pub fn num_requeues(&self, key: &K) -> u32 {
        self.lock().failures.get(key).copied().unwrap_or(0)
    }

    /// Waits for the next key; `None` once the queue is shut down.
    pub async fn get(&self) -> Option<K> {
        loop {
            let notified = self.inner.notify.notified();
            {
                let mut s = self.lock();
                if s.shutting_down {
                    return None;
                }
                if let Some(key) = s.queue.pop_front() {
                    s.dirty.remove(&key);
                    s.processing.insert(key.clone());
                    let labels = self.labels();
                    self.inner
                        .metrics
                        .depth
                        .get_or_create(&labels)
                        .set(s.queue.len() as i64);
                    if let Some(at) = s.added_at.remove(&key) {
                        self.inner
                            .metrics
                            .queue_duration
                            .get_or_create(&labels)
                            .observe(at.elapsed().as_secs_f64());
                    }
                    return Some(key);
                }
            }
            notified.await;
        }
    }

    /// Marks `key` processed; queues it again if it was added meanwhile.
    pub fn done(&self, key: &K) {
        let mut s = self.lock();
        s.processing.remove(key);
        if s.dirty.contains(key) {
            s.queue.push_back(key.clone());
            self.inner
                .metrics
                .depth
                .get_or_create(&self.labels())
                .set(s.queue.len() as i64);
            drop(s);
            self.inner.notify.notify_one();
        }
    }

    /// Keys waiting (not counting those being processed).
    pub fn len(&self) -> usize {
        self.lock().queue.len()
    }

    /// Whether no key is waiting.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Stops handing out keys; workers waiting in [`WorkQueue::get`] return `None`.
    pub fn shut_down(&self) {
        self.lock().shutting_down = true;
        self.inner.notify.notify_waiters();
    }

    /// The queue's name.
    pub fn name(&self) -> &str {
        &self.inner.name
    }
}

/// Runs `workers` workers on `queue` until it shuts down (or the future is dropped): each takes
/// a key, runs `reconcile`, then forgets it (success), re-adds it after the asked delay, or
/// re-adds it rate-limited (error, logged at debug). Reconcile metrics go under the queue's name.
pub async fn run_workers<K, E, F, Fut>(queue: WorkQueue<K>, workers: usize, reconcile: F)
where
    K: Clone + Eq + Hash + Send + Sync + std::fmt::Debug + 'static,
    E: std::fmt::Display,
    F: Fn(K) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = Result<Requeue, E>> + Send,
{
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..workers.max(1) {
        let queue = queue.clone();
        let reconcile = reconcile.clone();
        set.spawn(async move {
            while let Some(key) = queue.get().await {
                let started = Instant::now();
                let outcome = reconcile(key.clone()).await;
                let took = started.elapsed().as_secs_f64();
                let m = &queue.inner.metrics;
                let name = queue.name().to_string();
                m.work_duration
                    .get_or_create(&QueueLabels { name: name.clone() })
                    .observe(took);
                let controller = ControllerLabels {
                    controller: name.clone(),
                };
                m.reconcile_time.get_or_create(&controller).observe(took);
                let result = match outcome {
                    Ok(Requeue::Done) => {
                        queue.forget(&key);
                        "success"
                    }
                    Ok(Requeue::After(d)) => {
                        queue.forget(&key);
                        queue.add_after(key.clone(), d);
                        "requeue_after"
                    }
                    Err(e) => {
                        tracing::debug!(controller = %name, ?key, error = %e, "reconcile failed; retrying");
                        m.reconcile_errors.get_or_create(&controller).inc();
                        queue.add_rate_limited(key.clone());
                        "error"
                    }
                };
                m.reconciles
                    .get_or_create(&ResultLabels {
                        controller: name,
                        result: result.into(),
                    })
                    .inc();
                queue.done(&key);
            }
        });
    }
    while set.join_next().await.is_some() {}
}

#[cfg(test)]
mod tests {
    use super::*;

    fn queue() -> WorkQueue<String> {
        WorkQueue::new("test", Arc::new(Metrics::new()))
    }

    #[tokio::test]
    async fn a_waiting_key_is_queued_once() {
        let q = queue();
        q.add("a".into());
        q.add("a".into());
        q.add("b".into());
        assert_eq!(q.len(), 2);
        assert_eq!(q.get().await.as_deref(), Some("a"));
        assert_eq!(q.get().await.as_deref(), Some("b"));
    }

    #[tokio::test]
    async fn a_key_added_while_processing_comes_back_after_done() {
        let q = queue();
        q.add("a".into());
        let k = q.get().await.unwrap();
        q.add("a".into());
        assert_eq!(q.len(), 0, "not handed to a second worker meanwhile");
        q.done(&k);
        assert_eq!(q.len(), 1);
        assert_eq!(q.get().await.as_deref(), Some("a"));
    }

    #[tokio::test(start_paused = true)]
    async fn rate_limited_adds_back_off_exponentially_until_forgotten() {
        let q = queue();
        q.add_rate_limited("a".into()); // 5 ms
        q.add_rate_limited("a".into()); // 10 ms
        q.add_rate_limited("a".into()); // 20 ms
        assert_eq!(q.num_requeues(&"a".to_string()), 3);
        tokio::time::sleep(Duration::from_millis(6)).await;
        assert_eq!(q.len(), 1, "the first delay elapsed");
        q.forget(&"a".to_string());
        assert_eq!(q.num_requeues(&"a".to_string()), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn add_after_waits_for_the_delay() {
        let q = queue();
        q.add_after("a".into(), Duration::from_secs(10));
        tokio::time::sleep(Duration::from_secs(9)).await;
        assert!(q.is_empty());
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert_eq!(q.len(), 1);
    }

    #[tokio::test]
    async fn shut_down_releases_waiting_workers() {
        let q = queue();
        let w = tokio::spawn({
            let q = q.clone();
            async move { q.get().await }
        });
        tokio::task::yield_now().await;
        q.shut_down();
        assert_eq!(w.await.unwrap(), None);
    }
}
