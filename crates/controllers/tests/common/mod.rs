//! An in-process control plane for controller tests: a real apiserver on the embedded store,
//! optionally the real scheduler and simulated nodes (pods "run" without containers), and the
//! admin kubeconfig for the real kubectl. Controllers under test are started by each test.

#![allow(dead_code)]

use std::path::PathBuf;
use std::time::Duration;

use rkube_apiserver::server::{RunningServer, ServerConfig};
use rkube_scheduler::config::default_frameworks;
use rkube_scheduler::{Scheduler, SchedulerOptions};
use rkube_sim::{SimConfig, SimNodes};
use serde_json::Value;

/// A control plane for one test; dropping it stops the scheduler and nodes, [`Cluster::stop`]
/// also stops the apiserver cleanly.
pub struct Cluster {
    /// Admin client.
    pub client: kube::Client,
    /// The admin kubeconfig (for kubectl).
    pub kubeconfig: PathBuf,
    server: Option<RunningServer>,
    scheduler: Option<tokio::task::JoinHandle<()>>,
    sim: Option<SimNodes>,
    _dir: tempfile::TempDir,
}

impl Cluster {
    /// Starts an apiserver on a free loopback port.
    pub async fn start() -> Cluster {
        let _ = tracing_subscriber::fmt()
            .with_env_filter("rkube_controllers=debug")
            .with_test_writer()
            .try_init();
        let dir = tempfile::tempdir().expect("temp dir");
        let mut sc = ServerConfig::new(dir.path().join("server"));
        sc.bind_address = [127, 0, 0, 1].into();
        sc.https_port = 0;
        sc.include_host_sans = false;
        let server = rkube_apiserver::server::start(sc)
            .await
            .expect("apiserver starts");
        let kubeconfig = server.kubeconfig.clone();
        let client = client_from(&kubeconfig).await;
        Cluster {
            client,
            kubeconfig,
            server: Some(server),
            scheduler: None,
            sim: None,
            _dir: dir,
        }
    }

    /// Starts an apiserver, the default scheduler and `nodes` simulated nodes (4 CPU, 32 GiB,
    /// 110 pods each) that run bound pods to Running and Ready.
    pub async fn with_nodes(nodes: usize) -> Cluster {
        Self::with_sim(SimConfig::new(nodes)).await
    }

    /// Like [`Cluster::with_nodes`] with the simulated nodes configured by `config`.
    pub async fn with_sim(config: SimConfig) -> Cluster {
        let mut c = Cluster::start().await;
        c.sim = Some(
            SimNodes::start(c.client.clone(), config)
                .await
                .expect("simulated nodes start"),
        );
        let s = Scheduler::new(
            c.client.clone(),
            SchedulerOptions::new(default_frameworks()),
        );
        c.scheduler = Some(tokio::spawn(async move {
            let _ = rkube_scheduler::run(s, None).await;
        }));
        c
    }

    /// Runs the real kubectl against this cluster; (success, stdout, stderr).
    pub fn kubectl(&self, args: &[&str]) -> (bool, String, String) {
        let out = std::process::Command::new("kubectl")
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .args(args)
            .output()
            .expect("kubectl runs");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// Stops nodes, scheduler and apiserver.
    pub async fn stop(mut self) {
        if let Some(s) = self.scheduler.take() {
            s.abort();
        }
        if let Some(sim) = self.sim.take() {
            sim.stop().await;
        }
        if let Some(s) = self.server.take() {
            s.shutdown().await;
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if let Some(s) = self.scheduler.take() {
            s.abort();
        }
    }
}

/// A kube client from a kubeconfig file.
pub async fn client_from(kubeconfig: &std::path::Path) -> kube::Client {
    let kc = kube::config::Kubeconfig::read_from(kubeconfig).expect("kubeconfig reads");
    kube::Client::try_from(
        kube::Config::from_custom_kubeconfig(kc, &Default::default())
            .await
            .expect("kubeconfig is valid"),
    )
    .expect("client builds")
}

/// Polls `check` every 50 ms until it returns `Some`, failing the test with `what` after
/// `timeout`.
pub async fn eventually<T, F, Fut>(timeout: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Merges `extra` into `base` (objects recursively, everything else replaced).
pub fn merge(base: &mut Value, extra: Value) {
    match (base, extra) {
        (Value::Object(b), Value::Object(e)) => {
            for (k, v) in e {
                merge(b.entry(k).or_insert(Value::Null), v);
            }
        }
        (b, e) => *b = e,
    }
}
