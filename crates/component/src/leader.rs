//! Leader election through a `coordination.k8s.io/v1` Lease, as upstream's client-go
//! leaderelection: candidates try every retry period; the holder renews, and a lease counts as
//! expired only when this candidate has seen no change to it for a whole lease duration (local
//! observation, so clock skew between machines does not matter).

use std::future::Future;
use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use kube::Client;
use kube::api::{Api, PostParams};
use tokio::time::Instant;

/// Leader election settings (upstream's defaults: 15 s / 10 s / 2 s).
#[derive(Clone, Debug)]
pub struct LeaderElectionConfig {
    /// The Lease's namespace.
    pub namespace: String,
    /// The Lease's name.
    pub name: String,
    /// This candidate's identity (holderIdentity).
    pub identity: String,
    /// How long a lease is valid without renewal.
    pub lease_duration: Duration,
    /// How long the leader keeps trying to renew before giving up leadership.
    pub renew_deadline: Duration,
    /// How often to try.
    pub retry_period: Duration,
}

impl LeaderElectionConfig {
    /// Upstream's defaults for `kube-system/<name>`.
    pub fn new(name: &str, identity: String) -> LeaderElectionConfig {
        LeaderElectionConfig {
            namespace: "kube-system".into(),
            name: name.into(),
            identity,
            lease_duration: Duration::from_secs(15),
            renew_deadline: Duration::from_secs(10),
            retry_period: Duration::from_secs(2),
        }
    }
}

/// Why leading ended.
#[derive(Debug, thiserror::Error)]
pub enum LeaderError {
    /// The lease could not be renewed within the renew deadline; another candidate may lead now.
    #[error("leader election lost: lease {0} not renewed within the renew deadline")]
    Lost(String),
}

/// A candidate's view of the lease.
pub struct Elector {
    api: Api<Lease>,
    config: LeaderElectionConfig,
    observed: Option<(Option<String>, Option<MicroTime>)>,
    observed_at: Instant,
}

impl Elector {
    /// A candidate on `client`.
    pub fn new(client: Client, config: LeaderElectionConfig) -> Elector {
        Elector {
            api: Api::namespaced(client, &config.namespace),
            config,
            observed: None,
            observed_at: Instant::now(),
        }
    }

    /// One try: takes the lease if free or expired, renews it if ours. Whether we hold it.
    pub async fn try_acquire_or_renew(&mut self) -> bool {
        let now = MicroTime(jiff::Timestamp::now());
        let duration_secs = self.config.lease_duration.as_secs() as i32;
        let me = self.config.identity.clone();
        let current = match self.api.get_opt(&self.config.name).await {
            Ok(c) => c,
            Err(e) => {
                tracing::debug!(error = %e, "reading the leader lease");
                return false;
            }
        };
        let Some(mut lease) = current else {
            let lease = Lease {
                metadata: ObjectMeta {
                    name: Some(self.config.name.clone()),
                    namespace: Some(self.config.namespace.clone()),
                    ..ObjectMeta::default()
                },
                spec: Some(LeaseSpec {
                    holder_identity: Some(me),
                    lease_duration_seconds: Some(duration_secs),
                    acquire_time: Some(now.clone()),
                    renew_time: Some(now),
                    lease_transitions: Some(0),
                    ..LeaseSpec::default()
                }),
            };
            return self
                .api
                .create(&PostParams::default(), &lease)
                .await
                .is_ok();
        };
        let spec = lease.spec.clone().unwrap_or_default();
        let record = (spec.holder_identity.clone(), spec.renew_time.clone());
        if self.observed.as_ref() != Some(&record) {
            self.observed = Some(record);
            self.observed_at = Instant::now();
        }
        let holder = spec.holder_identity.clone().unwrap_or_default();
        let ours = holder == me;
        let expired =
            holder.is_empty() || Instant::now() >= self.observed_at + self.config.lease_duration;
        if !ours && !expired {
            return false;
        }
        let mut new_spec = spec.clone();
        if !ours {
            new_spec.acquire_time = Some(now.clone());
            new_spec.lease_transitions = Some(spec.lease_transitions.unwrap_or(0) + 1);
        }
        new_spec.holder_identity = Some(me);
        new_spec.lease_duration_seconds = Some(duration_secs);
        new_spec.renew_time = Some(now);
        lease.spec = Some(new_spec);
        // The update carries the resourceVersion read above: a racing candidate conflicts.
        match self
            .api
            .replace(&self.config.name, &PostParams::default(), &lease)
            .await
        {
            Ok(updated) => {
                let s = updated.spec.unwrap_or_default();
                self.observed = Some((s.holder_identity, s.renew_time));
                self.observed_at = Instant::now();
                true
            }
            Err(e) => {
                tracing::debug!(error = %e, "updating the leader lease");
                false
            }
        }
    }

    /// Waits until this candidate holds the lease.
    pub async fn acquire(&mut self) {
        loop {
            if self.try_acquire_or_renew().await {
                tracing::info!(lease = %self.config.name, identity = %self.config.identity, "acquired leadership");
                return;
            }
            tokio::time::sleep(self.config.retry_period).await;
        }
    }

    /// Renews until a renewal cannot succeed within the renew deadline.
    pub async fn keep(&mut self) -> LeaderError {
        let mut last_renew = Instant::now();
        loop {
            tokio::time::sleep(self.config.retry_period).await;
            if self.try_acquire_or_renew().await {
                last_renew = Instant::now();
            } else if last_renew.elapsed() >= self.config.renew_deadline {
                return LeaderError::Lost(format!(
                    "{}/{}",
                    self.config.namespace, self.config.name
                ));
            }
        }
    }
}

/// Runs `work` while leading: waits for the lease, then runs `work` until it ends or
/// leadership is lost (then `work` is dropped — stopped — and the error returned).
pub async fn run_while_leading<F: Future<Output = ()>>(
    client: Client,
    config: LeaderElectionConfig,
    work: F,
) -> Result<(), LeaderError> {
    let mut elector = Elector::new(client, config);
    elector.acquire().await;
    tokio::select! {
        () = work => Ok(()),
        lost = elector.keep() => Err(lost),
    }
}
