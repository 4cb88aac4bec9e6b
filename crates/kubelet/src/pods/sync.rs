//! One pod sync: take the pod and the runtime's state, act toward the spec, report status.
//! Called for every change of the pod's spec, of its containers (PLEG) and periodically; safe
//! to repeat. The runtime is read at most twice per sync (before acting, unless the PLEG's
//! relist is fresh, and after acting, only if the sync changed something), every mutating
//! CRI call is reported to the pod cache, and events are queued, never awaited.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use k8s_cri::v1 as cri;
use k8s_openapi::api::core::v1::{Container, Pod, PodStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::Api;
use kube::api::{DeleteParams, Patch, PatchParams, Preconditions};
use kube::runtime::controller::Action;

use super::container::{ContainerInputs, container_config};
use super::env::{PodFacts, environment};
use super::keyring::{Credential, Keyring, KeyringError};
use super::lookups::Lookups;
use super::runtime_state::{self, PodRuntime, State};
use super::status::{StatusInputs, Waiting, pod_status};
use super::{PodError, PodManager, cgroups, hosts, images, kill, probes, resources, sandbox};
use crate::events::EventType::{Normal, Warning};
use crate::volumes;

/// How soon a sync that is waiting on something outside (a volume source, the runtime) retries.
const RETRY: Duration = Duration::from_secs(2);

fn wall_now() -> Duration {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
}

fn pod_key(pod: &Pod) -> String {
    format!(
        "{}_{}({})",
        pod.metadata.name.as_deref().unwrap_or_default(),
        pod.metadata.namespace.as_deref().unwrap_or_default(),
        pod.metadata.uid.as_deref().unwrap_or_default()
    )
}

/// The termination grace period for a pod: the deletion's, else the spec's, else 30 s.
pub fn grace_period(pod: &Pod) -> Duration {
    let secs = pod
        .metadata
        .deletion_grace_period_seconds
        .or_else(|| {
            pod.spec
                .as_ref()
                .and_then(|s| s.termination_grace_period_seconds)
        })
        .unwrap_or(30);
    Duration::from_secs(secs.max(0) as u64)
}

/// Marks pod `uid` changed in the runtime once `call` has returned (whatever it returned),
/// so that no state read before it is taken for current.
async fn mutate<T>(mgr: &PodManager, uid: &str, call: impl Future<Output = T>) -> T {
    let out = call.await;
    mgr.runtime.changed(uid);
    out
}

/// Syncs `pod`; the returned action says when to look again.
pub async fn sync_pod(pod: Arc<Pod>, mgr: Arc<PodManager>) -> Result<Action, PodError> {
    let uid = pod.metadata.uid.clone().unwrap_or_default();
    let rt = mgr.runtime.get(&mgr.cri, &uid).await?;
    if pod.metadata.deletion_timestamp.is_some() {
        return terminate_and_delete(&pod, &mgr, rt).await;
    }
    let phase = pod.status.as_ref().and_then(|s| s.phase.as_deref());
    if matches!(phase, Some("Succeeded") | Some("Failed")) {
        // A finished pod keeps its containers (for logs) but nothing runs.
        if rt.any_running() || rt.sandboxes.iter().any(|s| s.ready) {
            mutate(
                &mgr,
                &uid,
                kill::stop_pod(&mgr.cri, &rt, grace_period(&pod)),
            )
            .await?;
        }
        return Ok(Action::await_change());
    }
    let mut requeue: Option<Duration> = None;
    let outcome = run_pod(&pod, &mgr, &rt, &mut requeue).await;
    // The same state again unless this sync changed the pod (then read once, after acting).
    let rt = mgr.runtime.get(&mgr.cri, &uid).await?;
    sync_probes(&pod, &mgr, &rt);
    let status = report_status(&pod, &mgr, &rt).await?;
    if matches!(status.phase.as_deref(), Some("Succeeded") | Some("Failed")) {
        mutate(
            &mgr,
            &uid,
            kill::stop_pod(&mgr.cri, &rt, grace_period(&pod)),
        )
        .await?;
    }
    outcome?;
    let next = requeue
        .unwrap_or(mgr.config.sync_interval)
        .min(mgr.config.sync_interval);
    Ok(Action::requeue(next))
}

fn want(requeue: &mut Option<Duration>, d: Duration) {
    *requeue = Some(requeue.map_or(d, |r| r.min(d)));
}

/// Sandbox, init containers, containers. Records waiting reasons; never reports status.
async fn run_pod(
    pod: &Pod,
    mgr: &PodManager,
    rt: &PodRuntime,
    requeue: &mut Option<Duration>,
) -> Result<(), PodError> {
    let uid = pod.metadata.uid.clone().unwrap_or_default();
    let ns = pod.metadata.namespace.clone().unwrap_or_default();
    let spec = pod.spec.clone().unwrap_or_default();
    let pod_dir = mgr.config.pod_dir(&uid);
    let mut lookups =
        Lookups::new(mgr.client.clone(), &ns).with_service_cache(mgr.services.clone());
    let host_network = spec.host_network.unwrap_or(false);

    // Volumes first: the containers cannot start without them.
    let facts = PodFacts {
        pod_ip: rt
            .latest_sandbox()
            .and_then(|s| s.ip.clone())
            .unwrap_or_default(),
        host_ip: mgr.config.node_ip.to_string(),
        node_allocatable: mgr.machine.allocatable(mgr.config.max_pods),
    };
    let volumes = match volumes::prepare(pod, &pod_dir, &facts, &mut lookups).await {
        Ok(v) => v,
        Err((name, e)) => {
            let msg = format!("MountVolume.SetUp failed for volume \"{name}\" : {e}");
            mgr.events
                .pod_event(pod, None, Warning, "FailedMount", &msg);
            want(requeue, RETRY);
            return Ok(());
        }
    };

    // The sandbox.
    let current = rt.latest_sandbox().cloned();
    let sandbox = match current.filter(|s| s.ready) {
        Some(s) => s,
        None => {
            if let Some(old) = rt.latest_sandbox() {
                mgr.events.pod_event(
                    pod,
                    None,
                    Normal,
                    "SandboxChanged",
                    "Pod sandbox changed, it will be killed and re-created.",
                );
                let running: Vec<_> = rt
                    .containers
                    .iter()
                    .filter(|c| c.state == State::Running)
                    .collect();
                for c in running {
                    mutate(
                        mgr,
                        &uid,
                        kill::stop_container(&mgr.cri, c, grace_period(pod)),
                    )
                    .await?;
                }
                mutate(mgr, &uid, kill::stop_sandbox(&mgr.cri, &old.id)).await?;
            }
            let attempt = rt.latest_sandbox().map_or(0, |s| s.attempt + 1);
            let config = sandbox::sandbox_config(pod, attempt, &mgr.config);
            let _ = std::fs::create_dir_all(&config.log_directory);
            let mut runtime = mgr.cri.runtime.clone();
            let created = runtime.run_pod_sandbox(cri::RunPodSandboxRequest {
                config: Some(config),
                runtime_handler: String::new(),
            });
            match mutate(mgr, &uid, created).await {
                Ok(r) => {
                    let id = r.into_inner().pod_sandbox_id;
                    // Only the new sandbox's IP is needed: one status, not a full re-read.
                    match runtime_state::sandbox(&mgr.cri, &id, &mgr.runtime.memo).await? {
                        Some(s) => s,
                        None => {
                            want(requeue, RETRY);
                            return Ok(());
                        }
                    }
                }
                Err(e) => {
                    let msg = format!("Failed to create pod sandbox: {}", e.message());
                    mgr.events
                        .pod_event(pod, None, Warning, "FailedCreatePodSandBox", &msg);
                    want(requeue, RETRY);
                    return Ok(());
                }
            }
        }
    };
    let pod_ip = if host_network {
        mgr.config.node_ip.to_string()
    } else {
        sandbox.ip.clone().unwrap_or_default()
    };
    let hosts_file = if host_network {
        None
    } else {
        let path = pod_dir.join("etc-hosts");
        let text = hosts::hosts_file(pod, &pod_ip, &mgr.config.cluster_domain);
        if std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
            let _ = std::fs::create_dir_all(&pod_dir);
            if let Err(e) = std::fs::write(&path, text) {
                tracing::warn!(error = %e, "hosts file not written");
            }
        }
        Some(path)
    };
    let facts = PodFacts { pod_ip, ..facts };
    let sandbox_config = sandbox::sandbox_config(pod, sandbox.attempt, &mgr.config);
    let ctx = StartContext {
        pod,
        mgr,
        sandbox_id: &sandbox.id,
        sandbox_config: &sandbox_config,
        facts: &facts,
        volumes: &volumes,
        hosts_file: hosts_file.as_deref(),
    };
    let policy = spec
        .restart_policy
        .clone()
        .unwrap_or_else(|| "Always".into());

    // Init containers, one at a time, in order.
    for c in spec.init_containers.iter().flatten() {
        let latest = rt.containers_named(&sandbox.id, &c.name).next();
        match latest {
            Some(l) if l.state == State::Exited && l.exit_code == 0 => {
                clear_waiting(mgr, &uid, &c.name);
                continue;
            }
            Some(l) if l.state == State::Exited => {
                if policy != "Never" {
                    restart_with_backoff(&ctx, c, l, &mut lookups, requeue).await?;
                }
                return Ok(());
            }
            Some(l) if l.state == State::Created => {
                start_created(&ctx, c, l).await;
                return Ok(());
            }
            Some(_) => return Ok(()), // running: wait for it
            None => {
                start(&ctx, c, 0, &mut lookups, requeue).await?;
                return Ok(());
            }
        }
    }

    // App containers, all together.
    for c in &spec.containers {
        let latest = rt.containers.iter().find(|x| x.name == c.name);
        match latest {
            None => start(&ctx, c, 0, &mut lookups, requeue).await?,
            Some(l) if l.sandbox_id != sandbox.id => {
                // The sandbox was re-created: the container starts again inside the new one.
                start(&ctx, c, l.attempt + 1, &mut lookups, requeue).await?;
            }
            Some(l) => match l.state {
                State::Running | State::Unknown => clear_waiting(mgr, &uid, &c.name),
                State::Created => start_created(&ctx, c, l).await,
                State::Exited => {
                    let restart = match policy.as_str() {
                        "Never" => false,
                        "OnFailure" => l.exit_code != 0,
                        _ => true,
                    };
                    if restart {
                        restart_with_backoff(&ctx, c, l, &mut lookups, requeue).await?;
                    }
                }
            },
        }
    }
    remove_dead_containers(mgr, &uid, rt).await;
    Ok(())
}

struct StartContext<'a> {
    pod: &'a Pod,
    mgr: &'a PodManager,
    sandbox_id: &'a str,
    sandbox_config: &'a cri::PodSandboxConfig,
    facts: &'a PodFacts,
    volumes: &'a HashMap<String, volumes::Prepared>,
    hosts_file: Option<&'a std::path::Path>,
}

fn set_waiting(mgr: &PodManager, uid: &str, name: &str, reason: &str, message: String) {
    mgr.with_state(|s| {
        s.waiting.entry(uid.into()).or_default().insert(
            name.into(),
            Waiting {
                reason: reason.into(),
                message,
            },
        );
    });
}

fn clear_waiting(mgr: &PodManager, uid: &str, name: &str) {
    mgr.with_state(|s| {
        if let Some(m) = s.waiting.get_mut(uid) {
            m.remove(name);
        }
    });
}

/// An exited container that should run again: now, or after its back-off.
async fn restart_with_backoff(
    ctx: &StartContext<'_>,
    c: &Container,
    last: &runtime_state::Container,
    lookups: &mut Lookups,
    requeue: &mut Option<Duration>,
) -> Result<(), PodError> {
    let uid = ctx.pod.metadata.uid.clone().unwrap_or_default();
    let key = format!("{uid}/{}", c.name);
    let finished = Duration::from_nanos(last.finished_at.max(0) as u64);
    let now = wall_now();
    let wait = ctx.mgr.with_state(|s| {
        s.restarts
            .remaining(&key, finished, now)
            .map(|r| (r, s.restarts.delay(&key)))
    });
    if let Some((remaining, delay)) = wait {
        let msg = format!(
            "back-off {} restarting failed container={} pod={}",
            fmt_delay(delay),
            c.name,
            pod_key(ctx.pod)
        );
        let already = ctx.mgr.with_state(|s| {
            s.waiting
                .get(&uid)
                .and_then(|m| m.get(&c.name))
                .is_some_and(|w| w.reason == "CrashLoopBackOff" && w.message == msg)
        });
        set_waiting(ctx.mgr, &uid, &c.name, "CrashLoopBackOff", msg);
        if !already {
            let ev = format!(
                "Back-off restarting failed container {} in pod {}",
                c.name,
                pod_key(ctx.pod)
            );
            ctx.mgr
                .events
                .pod_event(ctx.pod, Some(&c.name), Warning, "BackOff", &ev);
        }
        want(requeue, remaining);
        return Ok(());
    }
    ctx.mgr.with_state(|s| s.restarts.next(&key, finished));
    start(ctx, c, last.attempt + 1, lookups, requeue).await
}

fn fmt_delay(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 60 && s.is_multiple_of(60) {
        format!("{}m0s", s / 60)
    } else if s >= 60 {
        format!("{}m{}s", s / 60, s % 60)
    } else {
        format!("{s}s")
    }
}

/// A container the runtime created but never started (a crash between the two calls).
async fn start_created(ctx: &StartContext<'_>, c: &Container, l: &runtime_state::Container) {
    let uid = ctx.pod.metadata.uid.clone().unwrap_or_default();
    let mut runtime = ctx.mgr.cri.runtime.clone();
    let started = runtime.start_container(cri::StartContainerRequest {
        container_id: l.id.clone(),
    });
    if let Err(e) = mutate(ctx.mgr, &uid, started).await {
        let mut runtime = ctx.mgr.cri.runtime.clone();
        let removed = runtime.remove_container(cri::RemoveContainerRequest {
            container_id: l.id.clone(),
        });
        let _ = mutate(ctx.mgr, &uid, removed).await;
        set_waiting(
            ctx.mgr,
            &uid,
            &c.name,
            "RunContainerError",
            e.message().to_string(),
        );
    }
}

/// Pulls, creates and starts container `c` as restart number `attempt`.
async fn start(
    ctx: &StartContext<'_>,
    c: &Container,
    attempt: u32,
    lookups: &mut Lookups,
    requeue: &mut Option<Duration>,
) -> Result<(), PodError> {
    let (pod, mgr) = (ctx.pod, ctx.mgr);
    let uid = pod.metadata.uid.clone().unwrap_or_default();
    let image = c.image.clone().unwrap_or_default();
    let key = format!("{uid}/{}", c.name);

    // Image, with its own back-off after a failed pull.
    let now = wall_now();
    if let Some(remaining) = mgr.with_state(|s| s.pulls.remaining(&key, now, now)) {
        let waiting_now = mgr.with_state(|s| {
            s.waiting
                .get(&uid)
                .and_then(|m| m.get(&c.name))
                .map(|w| w.reason.clone())
        });
        if matches!(
            waiting_now.as_deref(),
            Some("ErrImagePull") | Some("ImagePullBackOff")
        ) {
            let msg = format!("Back-off pulling image \"{image}\"");
            set_waiting(mgr, &uid, &c.name, "ImagePullBackOff", msg.clone());
            mgr.events
                .pod_event(pod, Some(&c.name), Normal, "BackOff", &msg);
            want(requeue, remaining);
            return Ok(());
        }
    }
    let policy = images::pull_policy(c);
    if policy != "Never" && policy == "Always" {
        mgr.events.pod_event(
            pod,
            Some(&c.name),
            Normal,
            "Pulling",
            &format!("Pulling image \"{image}\""),
        );
    }
    let credentials = pull_credentials(pod, mgr, &image, lookups);
    let image_ref = match images::ensure(&mgr.cri, c, ctx.sandbox_config, credentials).await {
        Ok(p) => {
            let msg = match &p {
                images::Pulled::AlreadyPresent(_) => {
                    format!("Container image \"{image}\" already present on machine")
                }
                images::Pulled::Pulled(_, took) => {
                    format!("Successfully pulled image \"{image}\" in {took:.3?}")
                }
            };
            mgr.events
                .pod_event(pod, Some(&c.name), Normal, "Pulled", &msg);
            p.image_ref().to_string()
        }
        Err(f) => {
            let msg = if f.reason == "ErrImagePull" {
                format!("Failed to pull image \"{image}\": {}", f.message)
            } else {
                f.message.clone()
            };
            mgr.events
                .pod_event(pod, Some(&c.name), Warning, "Failed", &msg);
            mgr.events.pod_event(
                pod,
                Some(&c.name),
                Warning,
                "Failed",
                &format!("Error: {}", f.reason),
            );
            set_waiting(mgr, &uid, &c.name, f.reason, f.message);
            let now = wall_now();
            mgr.with_state(|s| s.pulls.next(&key, now));
            want(requeue, mgr.with_state(|s| s.pulls.delay(&key)));
            return Ok(());
        }
    };

    // Configuration: environment and mounts.
    let env = match environment(pod, c, ctx.facts, lookups).await {
        Ok(e) => e,
        Err(e) => {
            fail_start(ctx, c, "CreateContainerConfigError", e.to_string(), requeue).await;
            return Ok(());
        }
    };
    let inputs = ContainerInputs {
        env: &env,
        volumes: ctx.volumes,
        hosts_file: ctx.hosts_file,
        image_ref: &image_ref,
        attempt,
        memory_capacity: mgr.machine.memory_bytes as i64,
    };
    let config = match container_config(pod, c, &inputs) {
        Ok(cfg) => cfg,
        Err(e) => {
            fail_start(ctx, c, "CreateContainerConfigError", e.to_string(), requeue).await;
            return Ok(());
        }
    };
    let mut runtime = mgr.cri.runtime.clone();
    let create = runtime.create_container(cri::CreateContainerRequest {
        pod_sandbox_id: ctx.sandbox_id.into(),
        config: Some(config),
        sandbox_config: Some(ctx.sandbox_config.clone()),
    });
    let created = mutate(mgr, &uid, create).await;
    let id = match created {
        Ok(r) => r.into_inner().container_id,
        Err(e) => {
            fail_start(
                ctx,
                c,
                "CreateContainerError",
                e.message().to_string(),
                requeue,
            )
            .await;
            return Ok(());
        }
    };
    mgr.events.pod_event(
        pod,
        Some(&c.name),
        Normal,
        "Created",
        &format!("Created container: {}", c.name),
    );
    let mut runtime = mgr.cri.runtime.clone();
    let started = runtime.start_container(cri::StartContainerRequest {
        container_id: id.clone(),
    });
    if let Err(e) = mutate(mgr, &uid, started).await {
        let msg = e.message().to_string();
        mgr.events.pod_event(
            pod,
            Some(&c.name),
            Warning,
            "Failed",
            &format!("Error: {msg}"),
        );
        set_waiting(mgr, &uid, &c.name, "RunContainerError", msg);
        // Counts as a crash for back-off purposes.
        let now = wall_now();
        mgr.with_state(|s| s.restarts.next(&key, now));
        want(requeue, RETRY);
        return Ok(());
    }
    clear_waiting(mgr, &uid, &c.name);
    mgr.events.pod_event(
        pod,
        Some(&c.name),
        Normal,
        "Started",
        &format!("Started container {}", c.name),
    );
    post_start(ctx, c, &id).await;
    Ok(())
}

/// The logins to try for pulling `image`, from the pod's `imagePullSecrets`. Secrets that are
/// missing or not Docker configs get a Warning event (as upstream's), and the pull goes on
/// with the rest.
async fn pull_credentials(
    pod: &Pod,
    mgr: &PodManager,
    image: &str,
    lookups: &mut Lookups,
) -> Vec<Credential> {
    let names: Vec<String> = pod
        .spec
        .iter()
        .flat_map(|s| s.image_pull_secrets.iter().flatten())
        .map(|r| r.name.clone())
        .filter(|n| !n.is_empty())
        .collect();
    if names.is_empty() {
        return Vec::new();
    }
    let mut secrets = Vec::new();
    let mut unusable = Vec::new();
    for name in names {
        match lookups.secret(&name).await {
            Ok(Some(s)) => secrets.push(s),
            Ok(None) => unusable.push(name),
            Err(e) => {
                tracing::warn!(secret = %name, error = %e, "reading an image pull secret failed");
                unusable.push(name);
            }
        }
    }
    let (keyring, errors) = Keyring::from_secrets(&secrets);
    for e in errors {
        tracing::warn!(error = %e, "unusable image pull secret");
        let KeyringError::Malformed { secret, .. } = e;
        unusable.push(secret);
    }
    if !unusable.is_empty() {
        let msg = format!(
            "Unable to retrieve some image pull secrets ({}); attempting to pull the image may not succeed.",
            unusable.join(", ")
        );
        mgr.events
            .pod_event(pod, None, Warning, "FailedToRetrieveImagePullSecret", &msg);
    }
    keyring.lookup(image)
}

/// A container that could not be created or started: a `Failed` event, the waiting reason
/// in its status, and another try soon.
async fn fail_start(
    ctx: &StartContext<'_>,
    c: &Container,
    reason: &str,
    msg: String,
    requeue: &mut Option<Duration>,
) {
    let uid = ctx.pod.metadata.uid.clone().unwrap_or_default();
    ctx.mgr.events.pod_event(
        ctx.pod,
        Some(&c.name),
        Warning,
        "Failed",
        &format!("Error: {msg}"),
    );
    set_waiting(ctx.mgr, &uid, &c.name, reason, msg);
    want(requeue, RETRY);
}

/// Runs the postStart exec hook; a failure kills the container (it is then restarted per policy).
async fn post_start(ctx: &StartContext<'_>, c: &Container, id: &str) {
    let Some(cmd) = c
        .lifecycle
        .as_ref()
        .and_then(|l| l.post_start.as_ref())
        .and_then(|h| h.exec.as_ref())
        .and_then(|e| e.command.clone())
    else {
        return;
    };
    let req = cri::ExecSyncRequest {
        container_id: id.into(),
        cmd,
        timeout: grace_period(ctx.pod).as_secs() as i64,
    };
    let failed = match ctx.mgr.cri.runtime.clone().exec_sync(req).await {
        Ok(r) if r.get_ref().exit_code == 0 => None,
        Ok(r) => Some(format!(
            "command exited with {}: {}",
            r.get_ref().exit_code,
            String::from_utf8_lossy(&r.get_ref().stderr)
        )),
        Err(e) => Some(e.message().to_string()),
    };
    if let Some(why) = failed {
        let msg = format!("PostStartHook failed: {why}");
        ctx.mgr
            .events
            .pod_event(ctx.pod, Some(&c.name), Warning, "FailedPostStartHook", &msg);
        let uid = ctx.pod.metadata.uid.clone().unwrap_or_default();
        let mut runtime = ctx.mgr.cri.runtime.clone();
        let stopped = runtime.stop_container(cri::StopContainerRequest {
            container_id: id.into(),
            timeout: 0,
        });
        let _ = mutate(ctx.mgr, &uid, stopped).await;
    }
}

/// Keeps the latest two containers per name (the current one and the previous, for
/// `logs --previous`); removes older exited ones.
async fn remove_dead_containers(mgr: &PodManager, uid: &str, rt: &PodRuntime) {
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for c in &rt.containers {
        let n = seen.entry(c.name.as_str()).or_default();
        *n += 1;
        if *n > 2 && c.state == State::Exited {
            let mut runtime = mgr.cri.runtime.clone();
            let removed = runtime.remove_container(cri::RemoveContainerRequest {
                container_id: c.id.clone(),
            });
            let _ = mutate(mgr, uid, removed).await;
        }
    }
    // Sandboxes other than the newest are dead and their containers replaced.
    for s in rt.sandboxes.iter().skip(1).filter(|s| !s.ready) {
        if !rt.containers.iter().any(|c| c.sandbox_id == s.id) {
            let mut runtime = mgr.cri.runtime.clone();
            let removed = runtime.remove_pod_sandbox(cri::RemovePodSandboxRequest {
                pod_sandbox_id: s.id.clone(),
            });
            let _ = mutate(mgr, uid, removed).await;
        }
    }
}

/// Starts probe workers for newly running containers and stops those of gone ones.
fn sync_probes(pod: &Arc<Pod>, mgr: &Arc<PodManager>, rt: &PodRuntime) {
    let uid = pod.metadata.uid.clone().unwrap_or_default();
    let host_network = pod
        .spec
        .as_ref()
        .and_then(|s| s.host_network)
        .unwrap_or(false);
    let pod_ip = if host_network {
        mgr.config.node_ip.to_string()
    } else {
        rt.latest_sandbox()
            .and_then(|s| s.ip.clone())
            .unwrap_or_default()
    };
    mgr.probes.sync(&uid, pod, rt, |id, name, kind| {
        let container = pod
            .spec
            .iter()
            .flat_map(|s| s.containers.iter())
            .find(|c| c.name == name)
            .cloned()
            .unwrap_or_default();
        let started_at = rt
            .containers
            .iter()
            .find(|c| c.id == id)
            .map_or(0, |c| c.started_at);
        let target = probes::worker::Target {
            pod: (**pod).clone(),
            container,
            container_id: id.into(),
            pod_ip: pod_ip.clone(),
            started_at,
        };
        tokio::spawn(probes::worker::run(mgr.clone(), target, kind))
    });
}

async fn report_status(
    pod: &Pod,
    mgr: &PodManager,
    rt: &PodRuntime,
) -> Result<PodStatus, PodError> {
    let uid = pod.metadata.uid.clone().unwrap_or_default();
    let waiting = mgr.with_state(|s| s.waiting.get(&uid).cloned().unwrap_or_default());
    let host_network = pod
        .spec
        .as_ref()
        .and_then(|s| s.host_network)
        .unwrap_or(false);
    let pod_ip = if host_network {
        rt.latest_sandbox()
            .filter(|s| s.ready)
            .map(|_| mgr.config.node_ip.to_string())
    } else {
        rt.latest_sandbox().and_then(|s| s.ip.clone())
    };
    let readiness = mgr.probes.readiness(pod, rt);
    let not_started: Vec<String> = pod
        .spec
        .iter()
        .flat_map(|s| s.containers.iter())
        .filter(|c| {
            c.startup_probe.is_some()
                && rt
                    .containers
                    .iter()
                    .find(|x| x.name == c.name && x.state == State::Running)
                    .is_some_and(|x| !mgr.probes.started(&x.id, true))
        })
        .map(|c| c.name.clone())
        .collect();
    let status = pod_status(&StatusInputs {
        pod,
        runtime: rt,
        pod_ip,
        host_ip: mgr.config.node_ip.to_string(),
        waiting: &waiting,
        readiness: &readiness,
        not_started: &not_started,
        now: Time(jiff::Timestamp::now()),
    });
    write_status(pod, mgr, &status).await?;
    Ok(status)
}

async fn write_status(pod: &Pod, mgr: &PodManager, status: &PodStatus) -> Result<(), PodError> {
    if !super::status::differs(pod.status.as_ref(), status) {
        return Ok(());
    }
    let api: Api<Pod> = Api::namespaced(
        mgr.client.clone(),
        pod.metadata.namespace.as_deref().unwrap_or("default"),
    );
    let patch = serde_json::json!({ "status": status });
    match api
        .patch_status(
            pod.metadata.name.as_deref().unwrap_or_default(),
            &PatchParams::default(),
            &Patch::Merge(&patch),
        )
        .await
    {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(()), // deleted meanwhile
        Err(e) => Err(e.into()),
    }
}

/// The pod is being deleted: stop everything within its grace period, report the final
/// status, then remove the object (grace 0, same UID) and everything on the node.
async fn terminate_and_delete(
    pod: &Pod,
    mgr: &PodManager,
    rt: PodRuntime,
) -> Result<Action, PodError> {
    let uid = pod.metadata.uid.clone().unwrap_or_default();
    for name in rt
        .containers
        .iter()
        .filter(|c| c.state == State::Running)
        .map(|c| c.name.clone())
    {
        mgr.events.pod_event(
            pod,
            Some(&name),
            Normal,
            "Killing",
            &format!("Stopping container {name}"),
        );
    }
    mutate(mgr, &uid, kill::stop_pod(&mgr.cri, &rt, grace_period(pod))).await?;
    let rt = mgr.runtime.read(&mgr.cri, &uid).await?;
    let mut status = pod_status(&StatusInputs {
        pod,
        runtime: &rt,
        pod_ip: None,
        host_ip: mgr.config.node_ip.to_string(),
        waiting: &HashMap::new(),
        readiness: &HashMap::new(),
        not_started: &[],
        now: Time(jiff::Timestamp::now()),
    });
    if !matches!(status.phase.as_deref(), Some("Succeeded") | Some("Failed")) {
        let all_ok = status.container_statuses.iter().flatten().all(|s| {
            s.state
                .as_ref()
                .and_then(|st| st.terminated.as_ref())
                .is_some_and(|t| t.exit_code == 0)
        });
        status.phase = Some(if all_ok { "Succeeded" } else { "Failed" }.into());
    }
    write_status(pod, mgr, &status).await?;
    let api: Api<Pod> = Api::namespaced(
        mgr.client.clone(),
        pod.metadata.namespace.as_deref().unwrap_or("default"),
    );
    let params = DeleteParams {
        grace_period_seconds: Some(0),
        preconditions: Some(Preconditions {
            uid: Some(uid.clone()),
            resource_version: None,
        }),
        ..Default::default()
    };
    // Once the object is gone the PLEG would take the pod for an orphan and remove it at the
    // same time as this worker: it leaves pods being removed here alone.
    mgr.with_state(|s| s.removing.insert(uid.clone()));
    let removed = async {
        match api
            .delete(pod.metadata.name.as_deref().unwrap_or_default(), &params)
            .await
        {
            Ok(_) => {}
            Err(kube::Error::Api(s)) if s.code == 404 || s.code == 409 => {}
            Err(e) => return Err(e.into()),
        }
        cleanup_node(mgr, &uid, pod, &rt).await
    }
    .await;
    mgr.with_state(|s| s.removing.remove(&uid));
    removed?;
    Ok(Action::await_change())
}

/// Removes the pod's containers, sandboxes, volumes, logs and cgroup from the node.
pub async fn cleanup_node(
    mgr: &PodManager,
    uid: &str,
    pod: &Pod,
    rt: &PodRuntime,
) -> Result<(), PodError> {
    kill::remove_pod(&mgr.cri, rt).await?;
    volumes::cleanup(&mgr.config.pod_dir(uid));
    let (ns, name) = (
        pod.metadata.namespace.as_deref().unwrap_or_default(),
        pod.metadata.name.as_deref().unwrap_or_default(),
    );
    let _ = std::fs::remove_dir_all(mgr.config.pod_log_dir(ns, name, uid));
    cgroups::remove_pod_cgroup(&resources::cgroup_parent(pod));
    mgr.with_state(|s| {
        s.waiting.remove(uid);
        s.restarts.forget_prefix(&format!("{uid}/"));
        s.pulls.forget_prefix(&format!("{uid}/"));
    });
    mgr.events.forget_pod(uid);
    mgr.runtime.forget(uid);
    Ok(())
}
