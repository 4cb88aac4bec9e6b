//! What the runtime has for one pod: its sandboxes and containers with their states, read from
//! CRI (the source of truth, so a restarted kubelet adopts what is running). Reads reuse a
//! [`Memo`] of the details that cannot change while an instance keeps its state.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use k8s_cri::v1 as cri;

use super::labels;
use crate::cri::Cri;

/// A pod sandbox as the runtime reports it.
#[derive(Clone, Debug, PartialEq)]
pub struct Sandbox {
    /// Runtime ID.
    pub id: String,
    /// Which attempt (a sandbox is recreated with attempt + 1).
    pub attempt: u32,
    /// Whether it is SANDBOX_READY.
    pub ready: bool,
    /// Creation time, ns since the epoch.
    pub created_at: i64,
    /// The pod IP, when the runtime set up networking.
    pub ip: Option<String>,
}

/// A container's state as the runtime reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// Created, never started.
    Created,
    /// Running.
    Running,
    /// Exited.
    Exited,
    /// The runtime does not know.
    Unknown,
}

/// A container as the runtime reports it.
#[derive(Clone, Debug, PartialEq)]
pub struct Container {
    /// Runtime ID.
    pub id: String,
    /// Sandbox it runs in.
    pub sandbox_id: String,
    /// Spec name.
    pub name: String,
    /// Restart attempt (the restart count when it was created).
    pub attempt: u32,
    /// State.
    pub state: State,
    /// Times in ns since the epoch (0 when not yet).
    pub created_at: i64,
    /// When it started.
    pub started_at: i64,
    /// When it finished.
    pub finished_at: i64,
    /// Exit code when exited.
    pub exit_code: i32,
    /// Runtime's reason (`Completed`, `Error`, `OOMKilled`).
    pub reason: String,
    /// Runtime's message.
    pub message: String,
    /// The image as requested.
    pub image: String,
    /// The resolved image reference.
    pub image_ref: String,
    /// The log file.
    pub log_path: String,
    /// Annotations it was created with.
    pub annotations: HashMap<String, String>,
}

/// Everything the runtime holds for one pod.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PodRuntime {
    /// Sandboxes, newest first.
    pub sandboxes: Vec<Sandbox>,
    /// Containers, newest first.
    pub containers: Vec<Container>,
}

impl PodRuntime {
    /// The newest sandbox, if any.
    pub fn latest_sandbox(&self) -> Option<&Sandbox> {
        self.sandboxes.first()
    }

    /// Containers named `name` in sandbox `sandbox_id`, newest first.
    pub fn containers_named<'a>(
        &'a self,
        sandbox_id: &'a str,
        name: &'a str,
    ) -> impl Iterator<Item = &'a Container> + 'a {
        self.containers
            .iter()
            .filter(move |c| c.sandbox_id == sandbox_id && c.name == name)
    }

    /// Whether any container is running or created.
    pub fn any_running(&self) -> bool {
        self.containers
            .iter()
            .any(|c| matches!(c.state, State::Running | State::Created | State::Unknown))
    }
}

/// Reads the runtime's view of pod `uid`.
pub async fn read(cri: &Cri, uid: &str) -> Result<PodRuntime, tonic::Status> {
    let mut listed = list(cri, Some(uid), &Mutex::default()).await?;
    Ok(listed.pods.remove(uid).unwrap_or_default())
}

/// What reads may reuse from earlier ones: details that cannot change while a sandbox or
/// container keeps its state, so a read asks the runtime only about what is new.
#[derive(Debug, Default)]
pub struct Memo {
    /// A ready sandbox's IP by sandbox ID (set up once, by RunPodSandbox).
    sandbox_ips: HashMap<String, Option<String>>,
    /// A container's status by container ID, valid while the runtime lists the same state.
    containers: HashMap<String, Container>,
}

impl Memo {
    /// Keeps only the details of the sandboxes and containers in `keep`.
    pub fn retain(&mut self, keep: &HashSet<&str>) {
        self.sandbox_ips.retain(|id, _| keep.contains(id.as_str()));
        self.containers.retain(|id, _| keep.contains(id.as_str()));
    }
}

/// Pods as one read of the runtime found them.
#[derive(Debug, Default)]
pub struct Listed {
    /// By pod UID.
    pub pods: HashMap<String, PodRuntime>,
    /// (namespace, name) by pod UID, from the sandboxes' labels.
    pub names: HashMap<String, (String, String)>,
}

/// Reads the runtime's view of pod `uid`, or of every pod, reusing (and extending) `memo`.
/// Sandboxes and containers without the kubelet's pod-UID label are not the kubelet's.
pub async fn list(
    cri: &Cri,
    uid: Option<&str>,
    memo: &Mutex<Memo>,
) -> Result<Listed, tonic::Status> {
    let selector: HashMap<String, String> = uid
        .map(|u| HashMap::from([(labels::POD_UID.to_string(), u.to_string())]))
        .unwrap_or_default();
    let mut rt = cri.runtime.clone();
    let items = rt
        .list_pod_sandbox(cri::ListPodSandboxRequest {
            filter: Some(cri::PodSandboxFilter {
                label_selector: selector.clone(),
                ..Default::default()
            }),
        })
        .await?
        .into_inner()
        .items;
    let mut out = Listed::default();
    for s in items {
        let Some(pod_uid) = s.labels.get(labels::POD_UID).cloned() else {
            continue;
        };
        out.names.entry(pod_uid.clone()).or_insert_with(|| {
            (
                s.labels
                    .get(labels::POD_NAMESPACE)
                    .cloned()
                    .unwrap_or_default(),
                s.labels.get(labels::POD_NAME).cloned().unwrap_or_default(),
            )
        });
        let ready = s.state == cri::PodSandboxState::SandboxReady as i32;
        let known = lock(memo).sandbox_ips.get(&s.id).cloned();
        let ip = match (ready, known) {
            (false, _) => None,
            (true, Some(ip)) => ip,
            (true, None) => match sandbox_ip(&mut rt, &s.id).await {
                Ok(ip) => {
                    lock(memo).sandbox_ips.insert(s.id.clone(), ip.clone());
                    ip
                }
                // Asked again next time: an IP is only remembered once known.
                Err(_) => None,
            },
        };
        out.pods
            .entry(pod_uid)
            .or_default()
            .sandboxes
            .push(Sandbox {
                id: s.id,
                attempt: s.metadata.map_or(0, |m| m.attempt),
                ready,
                created_at: s.created_at,
                ip,
            });
    }

    let listed = rt
        .list_containers(cri::ListContainersRequest {
            filter: Some(cri::ContainerFilter {
                label_selector: selector,
                ..Default::default()
            }),
        })
        .await?
        .into_inner()
        .containers;
    for c in listed {
        let Some(pod_uid) = c.labels.get(labels::POD_UID).cloned() else {
            continue;
        };
        let listed_state = state_of(c.state);
        let known = lock(memo)
            .containers
            .get(&c.id)
            .filter(|k| k.state == listed_state && listed_state != State::Unknown)
            .cloned();
        let container = match known {
            Some(k) => k,
            None => {
                let status = match rt
                    .container_status(cri::ContainerStatusRequest {
                        container_id: c.id.clone(),
                        verbose: false,
                    })
                    .await
                {
                    Ok(r) => r.into_inner().status,
                    Err(s) if s.code() == tonic::Code::NotFound => continue, // removed meanwhile
                    Err(s) => return Err(s),
                };
                let Some(st) = status else { continue };
                let name = c
                    .labels
                    .get(labels::CONTAINER_NAME)
                    .cloned()
                    .unwrap_or_default();
                let container = from_status(c.id, c.pod_sandbox_id, name, st);
                if container.state != State::Unknown {
                    lock(memo)
                        .containers
                        .insert(container.id.clone(), container.clone());
                }
                container
            }
        };
        out.pods
            .entry(pod_uid)
            .or_default()
            .containers
            .push(container);
    }
    for p in out.pods.values_mut() {
        p.sandboxes
            .sort_by_key(|x| std::cmp::Reverse((x.attempt, x.created_at)));
        p.containers
            .sort_by_key(|x| std::cmp::Reverse((x.attempt, x.created_at)));
    }
    Ok(out)
}

/// One sandbox by ID (one PodSandboxStatus), `None` when the runtime does not have it.
pub async fn sandbox(
    cri: &Cri,
    id: &str,
    memo: &Mutex<Memo>,
) -> Result<Option<Sandbox>, tonic::Status> {
    let status = match cri
        .runtime
        .clone()
        .pod_sandbox_status(cri::PodSandboxStatusRequest {
            pod_sandbox_id: id.to_string(),
            verbose: false,
        })
        .await
    {
        Ok(r) => r.into_inner().status,
        Err(s) if s.code() == tonic::Code::NotFound => None,
        Err(s) => return Err(s),
    };
    let Some(st) = status else { return Ok(None) };
    let ready = st.state == cri::PodSandboxState::SandboxReady as i32;
    let ip = st.network.map(|n| n.ip).filter(|ip| !ip.is_empty());
    if ready {
        lock(memo).sandbox_ips.insert(st.id.clone(), ip.clone());
    }
    Ok(Some(Sandbox {
        id: st.id,
        attempt: st.metadata.map_or(0, |m| m.attempt),
        ready,
        created_at: st.created_at,
        ip: ip.filter(|_| ready),
    }))
}

fn lock(memo: &Mutex<Memo>) -> std::sync::MutexGuard<'_, Memo> {
    memo.lock().unwrap_or_else(|p| p.into_inner())
}

async fn sandbox_ip(
    rt: &mut cri::runtime_service_client::RuntimeServiceClient<tonic::transport::Channel>,
    id: &str,
) -> Result<Option<String>, tonic::Status> {
    Ok(rt
        .pod_sandbox_status(cri::PodSandboxStatusRequest {
            pod_sandbox_id: id.to_string(),
            verbose: false,
        })
        .await?
        .into_inner()
        .status
        .and_then(|st| st.network)
        .map(|n| n.ip)
        .filter(|ip| !ip.is_empty()))
}

fn state_of(raw: i32) -> State {
    match cri::ContainerState::try_from(raw) {
        Ok(cri::ContainerState::ContainerCreated) => State::Created,
        Ok(cri::ContainerState::ContainerRunning) => State::Running,
        Ok(cri::ContainerState::ContainerExited) => State::Exited,
        _ => State::Unknown,
    }
}

fn from_status(
    id: String,
    sandbox_id: String,
    name: String,
    st: cri::ContainerStatus,
) -> Container {
    Container {
        id,
        sandbox_id,
        name,
        attempt: st.metadata.as_ref().map_or(0, |m| m.attempt),
        state: state_of(st.state),
        created_at: st.created_at,
        started_at: st.started_at,
        finished_at: st.finished_at,
        exit_code: st.exit_code,
        reason: st.reason,
        message: st.message,
        image: st.image.map(|i| i.image).unwrap_or_default(),
        image_ref: st.image_ref,
        log_path: st.log_path,
        annotations: st.annotations.into_iter().collect(),
    }
}
