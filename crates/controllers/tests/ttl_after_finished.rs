//! The TTL-after-finished controller deletes a finished Job once its TTL passes (the clock is
//! injected and jumped), and leaves it before.

use crate::common;

use std::time::Duration;

use common::{Cluster, eventually};
use k8s_openapi::api::batch::v1::Job;
use kube::api::{Api, PostParams};
use rkube_controllers::Context;
use rkube_controllers::clock::Clock;
use rkube_sim::SimConfig;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_finished_job_is_deleted_after_its_ttl() {
    let mut sim = SimConfig::new(1);
    sim.job_pod_run_time = Duration::from_millis(200);
    let c = Cluster::with_sim(sim).await;
    let clock = Clock::system();
    let ctx = Context::new(c.client.clone(), "test".into());
    let jobs_ctl = tokio::spawn(rkube_controllers::job::run_with_clock(
        ctx.clone(),
        clock.clone(),
    ));
    let ttl_ctl = tokio::spawn(rkube_controllers::ttl_after_finished::run_with_clock(
        ctx,
        clock.clone(),
    ));
    let job: Job = serde_json::from_value(json!({"metadata": {"name": "short"}, "spec": {
        "ttlSecondsAfterFinished": 60,
        "template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "i"}]}}}}))
    .unwrap();
    let jobs: Api<Job> = Api::namespaced(c.client.clone(), "default");
    jobs.create(&PostParams::default(), &job).await.unwrap();
    eventually(Duration::from_secs(30), "the job to complete", || async {
        let j = jobs.get("short").await.ok()?;
        j.status?.completion_time.map(|_| ())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let j = jobs.get("short").await.unwrap();
    assert!(
        j.metadata.deletion_timestamp.is_none(),
        "kept before the TTL"
    );
    clock.advance(Duration::from_secs(61));
    // Foreground deletion: without the garbage collector the Job stays, marked for deletion.
    eventually(Duration::from_secs(30), "the job to be deleted", || async {
        match jobs.get_opt("short").await.unwrap() {
            None => Some(()),
            Some(j) => j.metadata.deletion_timestamp.map(|_| ()),
        }
    })
    .await;
    jobs_ctl.abort();
    ttl_ctl.abort();
    c.stop().await;
}
