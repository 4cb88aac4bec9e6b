//! The workload benchmark on 100 simulated nodes (real apiserver, scheduler and
//! controllers in process): a Deployment of 1000 replicas from create to all available, then
//! a rolling update (default 25 % / 25 %) to completion; then a Job of 1000 completions with
//! parallelism 100 (each simulated pod succeeds 1 s after it runs, as kwok's default stage)
//! from create to Complete.
//!
//! `cargo bench -p rkube-controllers --bench workloads` (release) or with `--profile dev`.
//! `RKUBE_BENCH_REPLICAS` / `RKUBE_BENCH_NODES` / `RKUBE_BENCH_COMPLETIONS` override the sizes.
//!
//! Ends with one `SUMMARY | what | figure | reference or goal` line per headline figure,
//! collected by `scripts/bench.sh` into BENCHMARKS.md (the contract is in that script).

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use anyhow::Context as _;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::batch::v1::Job;
use kube::api::{Api, Patch, PatchParams, PostParams};
use rkube_sim::SimConfig;
use serde_json::json;

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Polls until the rollout of `name` is complete at `n` replicas; how long it took.
async fn wait_complete(
    api: &Api<Deployment>,
    name: &str,
    n: i32,
    since: Instant,
) -> anyhow::Result<Duration> {
    loop {
        let d = api.get(name).await?;
        let s = d.status.clone().unwrap_or_default();
        let progressed = s.conditions.iter().flatten().any(|c| {
            c.type_ == "Progressing" && c.reason.as_deref() == Some("NewReplicaSetAvailable")
        });
        if s.replicas == Some(n)
            && s.updated_replicas == Some(n)
            && s.available_replicas == Some(n)
            && s.observed_generation == d.metadata.generation
            && progressed
        {
            return Ok(since.elapsed());
        }
        anyhow::ensure!(
            since.elapsed() < Duration::from_secs(900),
            "no completion: {s:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    // Quieter than the tests' default (debug logs would dominate the timing), and on stderr:
    // stdout is the report (the controllers' warnings as the server stops are not part of it).
    let _ = tracing_subscriber::fmt()
        .with_env_filter("warn")
        .with_writer(std::io::stderr)
        .try_init();
    let replicas = env_or("RKUBE_BENCH_REPLICAS", 1000);
    let nodes = env_or("RKUBE_BENCH_NODES", 100);
    let c = common::Cluster::with_sim(SimConfig::new(nodes)).await;
    let _cm = rkube_controllers::start(
        c.client.clone(),
        &[
            "deployment-controller",
            "replicaset-controller",
            "job-controller",
        ],
    )?;
    let api: Api<Deployment> = Api::namespaced(c.client.clone(), "default");
    let d: Deployment = serde_json::from_value(json!({
        "metadata": {"name": "bench"},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "bench"}},
            "template": {
                "metadata": {"labels": {"app": "bench"}},
                "spec": {"containers": [{"name": "c", "image": "nginx:1"}]}
            }
        }
    }))?;
    let n = i32::try_from(replicas)?;
    let started = Instant::now();
    api.create(&PostParams::default(), &d)
        .await
        .context("create")?;
    let create = wait_complete(&api, "bench", n, started).await?;
    println!(
        "deployment {replicas} replicas on {nodes} nodes: create → all available: {:.2} s",
        create.as_secs_f64()
    );

    let started = Instant::now();
    let patch = json!({"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "nginx:2"}]}}}});
    api.patch("bench", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .context("update")?;
    let update = wait_complete(&api, "bench", n, started).await?;
    println!(
        "deployment {replicas} replicas on {nodes} nodes: rolling update (25%/25%) → complete: {:.2} s",
        update.as_secs_f64()
    );

    let completions = i32::try_from(env_or("RKUBE_BENCH_COMPLETIONS", 1000))?;
    let jobs: Api<Job> = Api::namespaced(c.client.clone(), "default");
    let job: Job = serde_json::from_value(json!({
        "metadata": {"name": "bench-job"},
        "spec": {
            "completions": completions,
            "parallelism": 100,
            "template": {"spec": {"restartPolicy": "Never",
                "containers": [{"name": "c", "image": "busybox:1"}]}}
        }
    }))?;
    let started = Instant::now();
    jobs.create(&PostParams::default(), &job)
        .await
        .context("create job")?;
    loop {
        let j = jobs.get("bench-job").await?;
        let s = j.status.unwrap_or_default();
        if s.conditions
            .iter()
            .flatten()
            .any(|c| c.type_ == "Complete" && c.status == "True")
        {
            anyhow::ensure!(
                s.succeeded == Some(completions),
                "succeeded {:?}",
                s.succeeded
            );
            break;
        }
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(900),
            "job not complete: {s:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    println!(
        "job {completions} completions, parallelism 100, on {nodes} nodes: create → Complete: {:.2} s",
        started.elapsed().as_secs_f64()
    );
    let job_time = started.elapsed();
    c.stop().await;

    // Headline figures for scripts/bench.sh: `SUMMARY | what | figure | reference or goal`.
    // No upstream figure exists for these; the Job's floor is its waves of 1 s simulated runs.
    println!();
    println!(
        "SUMMARY | controllers: Deployment {replicas} replicas on {nodes} nodes, create → available | {:.2} s | no upstream figure; 4.13 s for 1000 on 100 nodes on 2026-11-22, before managedFields",
        create.as_secs_f64()
    );
    println!(
        "SUMMARY | controllers: rolling update of it (25%/25%) → complete | {:.2} s | no upstream figure; 7.01 s for 1000 on 2026-11-22, before managedFields",
        update.as_secs_f64()
    );
    let waves = (completions as f64 / 100.0).ceil();
    println!(
        "SUMMARY | controllers: Job {completions} completions, parallelism 100, create → Complete | {:.2} s | floor {waves:.0} s ({waves:.0} waves × 1 s simulated run)",
        job_time.as_secs_f64()
    );
    Ok(())
}
