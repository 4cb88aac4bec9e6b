//! What the runtime has for one pod: its sandboxes and containers with their states, read from
//! CRI (the source of truth, so a restarted kubelet adopts what is running).

use std::collections::HashMap;

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
    let selector = HashMap::from([(labels::POD_UID.to_string(), uid.to_string())]);
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
    let mut sandboxes = Vec::new();
    for s in items {
        let ready = s.state == cri::PodSandboxState::SandboxReady as i32;
        let ip = if ready {
            rt.pod_sandbox_status(cri::PodSandboxStatusRequest {
                pod_sandbox_id: s.id.clone(),
                verbose: false,
            })
            .await
            .ok()
            .and_then(|r| r.into_inner().status)
            .and_then(|st| st.network)
            .map(|n| n.ip)
            .filter(|ip| !ip.is_empty())
        } else {
            None
        };
        sandboxes.push(Sandbox {
            id: s.id,
            attempt: s.metadata.map_or(0, |m| m.attempt),
            ready,
            created_at: s.created_at,
            ip,
        });
    }
    sandboxes.sort_by_key(|x| std::cmp::Reverse((x.attempt, x.created_at)));

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
    let mut containers = Vec::new();
    for c in listed {
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
        let state = match cri::ContainerState::try_from(st.state) {
            Ok(cri::ContainerState::ContainerCreated) => State::Created,
            Ok(cri::ContainerState::ContainerRunning) => State::Running,
            Ok(cri::ContainerState::ContainerExited) => State::Exited,
            _ => State::Unknown,
        };
        containers.push(Container {
            id: c.id,
            sandbox_id: c.pod_sandbox_id,
            name: c
                .labels
                .get(labels::CONTAINER_NAME)
                .cloned()
                .unwrap_or_default(),
            attempt: st.metadata.as_ref().map_or(0, |m| m.attempt),
            state,
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
        });
    }
    containers.sort_by_key(|x| std::cmp::Reverse((x.attempt, x.created_at)));
    Ok(PodRuntime {
        sandboxes,
        containers,
    })
}
