//! The runtime layer against the real containerd, runc and CNI plugins: a private supervised
//! containerd per test (own directory, CNI bridge, subnet and cgroup parent, derived from the
//! PID so test runs and tests can go in parallel), the pause and busybox images, a pod with a
//! container, its log, exec, a containerd crash and restart, and a clean stop. Every CRI call
//! is timed (`[timing]` lines, shown with `--nocapture`). Needs root.

use std::collections::HashMap;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use k8s_cri::v1 as cri;
use rkube_kubelet::cri::Cri;
use rkube_kubelet::runtime::cni::{CniNetwork, EgressMasquerade};
use rkube_kubelet::runtime::containerd::{Containerd, ContainerdConfig, ContainerdError};
use rkube_kubelet::runtime::images::{
    self, ArchiveFormat, Ensured, ExtraFile, ImageError, ImageSpec, PAUSE_IMAGE,
};

const BUSYBOX: &str = "localhost/rkube/busybox:1";

/// Shows the library's tracing lines (restart warnings, readiness) in the test output.
fn init_logs() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter("rkube_kubelet=info")
        .with_test_writer()
        .with_ansi(false)
        .try_init();
}

/// Runs `fut`, printing how long it took.
async fn timed<T>(what: &str, fut: impl Future<Output = T>) -> T {
    let start = Instant::now();
    let out = fut.await;
    println!(
        "[timing] {what}: {:.1} ms",
        start.elapsed().as_secs_f64() * 1000.0
    );
    out
}

/// Names and addresses unique to this process and test number `n`.
struct Names {
    net: String,
    bridge: String,
    pod_cidr: String,
    cgroup_root: String,
}

impl Names {
    fn new(n: u32) -> Self {
        let pid = std::process::id();
        Self {
            net: format!("rkt-{pid}-{n}"),
            bridge: format!("rkt{}b{n}", pid % 100_000),
            pod_cidr: format!("10.231.{}.0/24", (pid * 4 + n) % 256),
            cgroup_root: format!("rkube-test-{pid}-{n}"),
        }
    }
}

/// Removes what the host keeps after a test: the bridge, libcni's cached results for the
/// network and the pod cgroup directories. Runs on drop, so also after a failed test.
struct HostCleanup<'a>(&'a Names);

impl Drop for HostCleanup<'_> {
    fn drop(&mut self) {
        let names = self.0;
        let _ = std::process::Command::new("ip")
            .args(["link", "del", &names.bridge])
            .stderr(std::process::Stdio::null())
            .status();
        if let Ok(entries) = std::fs::read_dir("/var/lib/cni/results") {
            for e in entries.flatten() {
                if e.file_name()
                    .to_string_lossy()
                    .starts_with(&format!("{}-", names.net))
                {
                    let _ = std::fs::remove_file(e.path());
                }
            }
        }
        if let Ok(hierarchies) = std::fs::read_dir("/sys/fs/cgroup") {
            for h in hierarchies.flatten() {
                remove_cgroup_tree(&h.path().join(&names.cgroup_root));
            }
        }
    }
}

/// rmdir depth-first (cgroup dirs hold only pseudo files, which rmdir ignores).
fn remove_cgroup_tree(dir: &Path) {
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                remove_cgroup_tree(&e.path());
            }
        }
        let _ = std::fs::remove_dir(dir);
    }
}

/// PIDs of processes whose command line mentions `needle`.
fn processes_mentioning(needle: &str) -> Vec<u32> {
    let mut pids = Vec::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return pids;
    };
    for e in entries.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        if let Ok(cmdline) = std::fs::read(e.path().join("cmdline"))
            && String::from_utf8_lossy(&cmdline).contains(needle)
        {
            pids.push(pid);
        }
    }
    pids
}

/// `sh -c <cmd>` in the container, 10 s timeout.
async fn exec_sync(cri: &Cri, cid: &str, cmd: &str) -> Result<cri::ExecSyncResponse> {
    let req = cri::ExecSyncRequest {
        container_id: cid.to_owned(),
        cmd: vec!["sh".into(), "-c".into(), cmd.into()],
        timeout: 10,
    };
    Ok(cri.runtime.clone().exec_sync(req).await?.into_inner())
}

fn config_in(dir: &Path, conf_dir: PathBuf) -> ContainerdConfig {
    let mut cfg = ContainerdConfig::new(
        dir.join("containerd"),
        "/usr/lib/cni",
        conf_dir,
        PAUSE_IMAGE,
    );
    cfg.restart_backoff_initial = Duration::from_millis(200);
    cfg
}

/// Stops and removes every sandbox, then stops containerd and checks nothing of it runs on.
async fn teardown(cri: &Cri, ctd: Containerd) -> Result<()> {
    let mut rt = cri.runtime.clone();
    let pods = rt
        .list_pod_sandbox(cri::ListPodSandboxRequest { filter: None })
        .await;
    for pod in pods.map(|r| r.into_inner().items).unwrap_or_default() {
        let id = pod.id;
        let stop = rt.stop_pod_sandbox(cri::StopPodSandboxRequest {
            pod_sandbox_id: id.clone(),
        });
        timed("StopPodSandbox", stop)
            .await
            .context("StopPodSandbox")?;
        let rm = rt.remove_pod_sandbox(cri::RemovePodSandboxRequest { pod_sandbox_id: id });
        timed("RemovePodSandbox", rm)
            .await
            .context("RemovePodSandbox")?;
    }
    let config_file = ctd.config().config_file();
    let pid_file = ctd.config().pid_file();
    let status = timed("Containerd::stop", ctd.stop())
        .await
        .context("stop")?;
    println!("containerd stopped: {status:?}");
    let left = processes_mentioning(&config_file.to_string_lossy());
    ensure!(
        left.is_empty(),
        "containerd processes still running: {left:?}"
    );
    ensure!(!pid_file.exists(), "pid file left behind");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pod_lifecycle_survives_a_containerd_restart() -> Result<()> {
    init_logs();
    let names = Names::new(1);
    let _host = HostCleanup(&names);
    let dir = tempfile::tempdir()?;
    let conf_dir = dir.path().join("cni/net.d");
    let mut net = CniNetwork::new(&names.pod_cidr, dir.path().join("cni/ipam"))?;
    net.name = names.net.clone();
    net.bridge = names.bridge.clone();
    net.write(&conf_dir).await?;

    let ctd = timed(
        "Containerd::start",
        Containerd::start(config_in(dir.path(), conf_dir)),
    )
    .await?;
    let cri = ctd.connect(Duration::from_secs(5)).await?;
    let result = pod_scenario(&names, dir.path(), &ctd, &cri).await;
    let down = teardown(&cri, ctd).await;
    result.and(down)
}

async fn pod_scenario(names: &Names, dir: &Path, ctd: &Containerd, cri: &Cri) -> Result<()> {
    let mut rt = cri.runtime.clone();
    let version = timed(
        "Version",
        rt.version(cri::VersionRequest {
            version: "v1".into(),
        }),
    )
    .await?;
    println!("runtime: {:?}", version.into_inner());

    let work = dir.join("work");
    let pause = timed(
        "ensure_pause_image (build+import)",
        images::ensure_pause_image(cri, PAUSE_IMAGE, &work),
    )
    .await?;
    ensure!(
        matches!(pause, Ensured::Imported(_)),
        "pause image should be new: {pause:?}"
    );
    let again = timed(
        "ensure_pause_image (present)",
        images::ensure_pause_image(cri, PAUSE_IMAGE, &work),
    )
    .await?;
    ensure!(again == Ensured::Present, "second ensure should find it");
    let script = ExtraFile::new("bin/hello.sh", "#!/bin/sh\necho \"hello from $0\"\n", 0o755);
    let busybox = images::import_busybox_image(cri, BUSYBOX, vec![script], &work);
    timed("import_busybox_image", busybox).await?;

    // CRI picks the conflist up within a second or so of start.
    let start = Instant::now();
    loop {
        let status = timed("Status", rt.status(cri::StatusRequest { verbose: false }))
            .await?
            .into_inner();
        let conditions = status.status.map(|s| s.conditions).unwrap_or_default();
        if conditions.iter().filter(|c| c.status).count() == 2 {
            break;
        }
        ensure!(
            start.elapsed() < Duration::from_secs(15),
            "runtime/network not ready: {conditions:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    let uid = format!("uid-{}", names.net);
    let log_dir = dir.join("logs/pods").join(format!("default_pod1_{uid}"));
    std::fs::create_dir_all(log_dir.join("c1"))?;
    let sandbox = cri::PodSandboxConfig {
        metadata: Some(cri::PodSandboxMetadata {
            name: "pod1".into(),
            uid: uid.clone(),
            namespace: "default".into(),
            attempt: 0,
        }),
        hostname: "pod1".into(),
        log_directory: log_dir.to_string_lossy().into_owned(),
        labels: HashMap::from([("app".into(), "pod1".into())]),
        linux: Some(cri::LinuxPodSandboxConfig {
            cgroup_parent: format!("/{}/pod{uid}", names.cgroup_root),
            ..Default::default()
        }),
        ..Default::default()
    };
    let run = rt.run_pod_sandbox(cri::RunPodSandboxRequest {
        config: Some(sandbox.clone()),
        runtime_handler: String::new(),
    });
    let pod_id = timed("RunPodSandbox", run)
        .await?
        .into_inner()
        .pod_sandbox_id;
    let status = rt.pod_sandbox_status(cri::PodSandboxStatusRequest {
        pod_sandbox_id: pod_id.clone(),
        verbose: false,
    });
    let status = timed("PodSandboxStatus", status)
        .await?
        .into_inner()
        .status
        .context("no status")?;
    let ip = status.network.map(|n| n.ip).unwrap_or_default();
    println!("pod {pod_id} ip {ip}");
    let prefix = names.pod_cidr.trim_end_matches("0/24");
    ensure!(
        ip.starts_with(prefix),
        "pod IP {ip} outside {}",
        names.pod_cidr
    );

    let container = cri::ContainerConfig {
        metadata: Some(cri::ContainerMetadata {
            name: "c1".into(),
            attempt: 0,
        }),
        image: Some(cri::ImageSpec {
            image: BUSYBOX.into(),
            ..Default::default()
        }),
        command: vec!["sh".into(), "-c".into(), "echo hello; sleep 1000".into()],
        log_path: "c1/0.log".into(),
        ..Default::default()
    };
    let create = rt.create_container(cri::CreateContainerRequest {
        pod_sandbox_id: pod_id.clone(),
        config: Some(container),
        sandbox_config: Some(sandbox),
    });
    let cid = timed("CreateContainer", create)
        .await?
        .into_inner()
        .container_id;
    let start_c = rt.start_container(cri::StartContainerRequest {
        container_id: cid.clone(),
    });
    timed("StartContainer", start_c).await?;

    let log_file = log_dir.join("c1/0.log");
    let start = Instant::now();
    let log = loop {
        let text = std::fs::read_to_string(&log_file).unwrap_or_default();
        if text.contains("hello") || start.elapsed() > Duration::from_secs(10) {
            break text;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    println!("container log: {log:?}");
    ensure!(
        log.lines().any(|l| l.ends_with(" stdout F hello")),
        "log line missing: {log:?}"
    );

    let exec = |cmd: &'static str| exec_sync(cri, &cid, cmd);
    let out = timed(
        "ExecSync",
        exec("hello.sh; echo err >&2; ip -4 addr show eth0; exit 3"),
    )
    .await?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    println!(
        "exec: exit {} stdout {stdout:?} stderr {:?}",
        out.exit_code,
        String::from_utf8_lossy(&out.stderr)
    );
    ensure!(out.exit_code == 3, "exit code {}", out.exit_code);
    ensure!(
        stdout.contains("hello from /bin/hello.sh"),
        "script output missing"
    );
    ensure!(
        stdout.contains(&format!("inet {ip}/24")),
        "pod IP not inside the pod"
    );
    ensure!(out.stderr == b"err\n", "stderr {:?}", out.stderr);

    // Crash containerd: the supervisor restarts it and the pod lives on in its shim.
    let old_pid = ctd.pid().context("no containerd pid")?;
    let mut status = ctd.watch_status();
    let kill = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(i32::try_from(old_pid)?),
        nix::sys::signal::Signal::SIGKILL,
    );
    kill.context("kill containerd")?;
    let restarted = status.wait_for(|s| s.restarts == 1 && s.ready);
    let restarted = timed(
        "supervisor restart after SIGKILL",
        tokio::time::timeout(Duration::from_secs(30), restarted),
    )
    .await
    .context("containerd not restarted in 30 s")??
    .clone();
    ensure!(
        restarted.pid.is_some_and(|p| p != old_pid),
        "same pid after restart: {restarted:?}"
    );
    ensure!(
        !Path::new(&format!("/proc/{old_pid}")).exists(),
        "old containerd still there"
    );
    println!("containerd restarted: {old_pid} -> {:?}", restarted.pid);
    let log = std::fs::read_to_string(ctd.config().log_file())?;
    ensure!(
        log.matches("--- rkube: starting").count() == 2,
        "both runs should log to {:?}",
        ctd.config().log_file()
    );

    // The old channel reconnects on its own.
    let status = rt.pod_sandbox_status(cri::PodSandboxStatusRequest {
        pod_sandbox_id: pod_id.clone(),
        verbose: false,
    });
    let status = timed("PodSandboxStatus after restart", status)
        .await?
        .into_inner()
        .status
        .context("no status")?;
    ensure!(
        status.state == cri::PodSandboxState::SandboxReady as i32,
        "sandbox not ready: {status:?}"
    );
    let out = timed("ExecSync after restart", exec("echo still-here")).await?;
    ensure!(out.stdout == b"still-here\n", "exec after restart: {out:?}");

    let stop = rt.stop_container(cri::StopContainerRequest {
        container_id: cid.clone(),
        timeout: 1,
    });
    timed("StopContainer (1 s grace)", stop).await?;
    let cstatus = rt.container_status(cri::ContainerStatusRequest {
        container_id: cid.clone(),
        verbose: false,
    });
    let cstatus = timed("ContainerStatus", cstatus)
        .await?
        .into_inner()
        .status
        .context("no status")?;
    ensure!(
        cstatus.state == cri::ContainerState::ContainerExited as i32,
        "not exited: {cstatus:?}"
    );
    let rm = rt.remove_container(cri::RemoveContainerRequest { container_id: cid });
    timed("RemoveContainer", rm).await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn startup_clears_a_stale_socket_and_a_left_behind_instance() -> Result<()> {
    init_logs();
    let dir = tempfile::tempdir()?;
    let cfg = config_in(dir.path(), dir.path().join("net.d"));
    let socket = cfg.socket_path();

    // A socket file whose listener is gone (as after a crash).
    std::fs::create_dir_all(&cfg.root)?;
    drop(std::os::unix::net::UnixListener::bind(&socket)?);
    ensure!(socket.exists(), "stale socket file not created");
    let ctd = timed(
        "Containerd::start over a stale socket",
        Containerd::start(cfg.clone()),
    )
    .await?;
    let cri = ctd.connect(Duration::from_secs(5)).await?;
    timed(
        "Version",
        cri.runtime.clone().version(cri::VersionRequest {
            version: "v1".into(),
        }),
    )
    .await?;
    teardown(&cri, ctd).await?;

    // An instance an earlier agent left running, named by the pid file.
    let mut orphan = std::process::Command::new("containerd")
        .arg("--config")
        .arg(cfg.config_file())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()?;
    std::fs::write(cfg.pid_file(), format!("{}\n", orphan.id()))?;
    let old = Cri::connect(&socket, Duration::from_secs(10)).await?;
    timed(
        "Version (left-behind instance)",
        old.runtime.clone().version(cri::VersionRequest {
            version: "v1".into(),
        }),
    )
    .await?;
    let ctd = timed(
        "Containerd::start over a running instance",
        Containerd::start(cfg),
    )
    .await;
    // Reap the orphan (it is our child here), whatever happened.
    let exited = orphan.try_wait()?;
    let _ = orphan.kill();
    let _ = orphan.wait();
    let ctd = ctd?;
    println!("left-behind instance exit: {exited:?}");
    ensure!(exited.is_some(), "left-behind containerd was not stopped");
    ensure!(
        ctd.pid() != Some(orphan.id()),
        "new instance has the old pid"
    );
    let cri = ctd.connect(Duration::from_secs(5)).await?;
    timed(
        "Version (new instance)",
        cri.runtime.clone().version(cri::VersionRequest {
            version: "v1".into(),
        }),
    )
    .await?;
    teardown(&cri, ctd).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn airgap_directory_imports_oci_and_docker_archives() -> Result<()> {
    init_logs();
    let dir = tempfile::tempdir()?;
    let ctd = timed(
        "Containerd::start",
        Containerd::start(config_in(dir.path(), dir.path().join("net.d"))),
    )
    .await?;
    let cri = ctd.connect(Duration::from_secs(5)).await?;
    let result = airgap_scenario(dir.path(), &ctd, &cri).await;
    let down = teardown(&cri, ctd).await;
    result.and(down)
}

async fn airgap_scenario(dir: &Path, ctd: &Containerd, cri: &Cri) -> Result<()> {
    let images_dir = dir.join("images");
    std::fs::create_dir_all(&images_dir)?;
    let oci = ImageSpec::busybox("localhost/rkube/airgap-oci:1").with_file(ExtraFile::new(
        "etc/which",
        "oci",
        0o644,
    ));
    let docker = ImageSpec::busybox("localhost/rkube/airgap-docker:1").with_file(ExtraFile::new(
        "etc/which",
        "docker",
        0o644,
    ));
    let (a, b) = (images_dir.join("a.tar"), images_dir.join("b.tar"));
    let built = tokio::task::spawn_blocking(move || -> Result<_, ImageError> {
        Ok((
            images::build_archive(&oci, ArchiveFormat::Oci, &a)?,
            images::build_archive(&docker, ArchiveFormat::Docker, &b)?,
        ))
    });
    let (oci, docker) = timed("build_archive x2", built).await??;
    std::fs::write(images_dir.join("c-broken.tar"), b"not a tar at all")?;
    std::fs::write(images_dir.join("readme.txt"), b"ignored")?;

    let results = timed("import_dir", images::import_dir(&ctd.socket(), &images_dir)).await?;
    for r in &results {
        println!(
            "{:?}: {:?}",
            r.archive.file_name().unwrap_or_default(),
            r.result
        );
    }
    ensure!(results.len() == 3, "three archives expected: {results:?}");
    let imported = |i: usize| results[i].result.as_ref().map(|r| r.images.clone()).ok();
    ensure!(
        imported(0) == Some(vec![oci.name.clone()]),
        "OCI archive: {:?}",
        results[0]
    );
    ensure!(
        imported(1) == Some(vec![docker.name.clone()]),
        "docker archive: {:?}",
        results[1]
    );
    ensure!(
        matches!(results[2].result, Err(ImageError::ImportFailed { .. })),
        "broken archive: {:?}",
        results[2]
    );
    for name in [&oci.name, &docker.name] {
        let present = timed("ImageStatus", images::image_present(cri, name)).await?;
        ensure!(present, "{name} not visible to CRI");
    }
    let status = cri
        .images
        .clone()
        .image_status(cri::ImageStatusRequest {
            image: Some(cri::ImageSpec {
                image: oci.name.clone(),
                ..Default::default()
            }),
            verbose: false,
        })
        .await?
        .into_inner();
    let id = status.image.map(|i| i.id).unwrap_or_default();
    ensure!(
        id == oci.config_digest,
        "CRI image id {id} != config digest {}",
        oci.config_digest
    );
    let missing = images::import_dir(&ctd.socket(), &dir.join("no-such-dir")).await?;
    ensure!(missing.is_empty(), "a missing directory imports nothing");
    Ok(())
}

#[tokio::test]
async fn start_failures_are_typed() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let mut cfg = config_in(dir.path(), dir.path().join("net.d"));
    cfg.containerd_bin = dir.path().join("no-such-containerd");
    let err = Containerd::start(cfg.clone())
        .await
        .err()
        .context("start should fail")?;
    ensure!(matches!(err, ContainerdError::Spawn { .. }), "{err}");
    cfg.containerd_bin = "/bin/false".into();
    let err = Containerd::start(cfg.clone())
        .await
        .err()
        .context("start should fail")?;
    ensure!(
        matches!(err, ContainerdError::ExitedDuringStartup { .. }),
        "{err}"
    );
    cfg.root = dir.path().join("x".repeat(120));
    let err = Containerd::start(cfg)
        .await
        .err()
        .context("start should fail")?;
    ensure!(
        matches!(err, ContainerdError::SocketPathTooLong { .. }),
        "{err}"
    );
    Ok(())
}

#[tokio::test]
async fn egress_masquerade_is_inserted_first_and_idempotent() -> Result<()> {
    let mut rule = EgressMasquerade::new("10.232.0.0/16")?;
    rule.comment = format!("rkube test {}", std::process::id());
    let inserted = timed("EgressMasquerade::ensure (insert)", rule.ensure()).await;
    let result = async {
        ensure!(inserted?, "first ensure inserts");
        let rules = std::process::Command::new("iptables")
            .args(["-t", "nat", "-S", "POSTROUTING"])
            .output()?;
        let rules = String::from_utf8_lossy(&rules.stdout).into_owned();
        let first = rules
            .lines()
            .find(|l| l.starts_with("-A "))
            .unwrap_or_default();
        ensure!(
            first.contains(&rule.comment),
            "rule not first in POSTROUTING:\n{rules}"
        );
        ensure!(
            !timed("EgressMasquerade::ensure (present)", rule.ensure()).await?,
            "second ensure is a no-op"
        );
        ensure!(rule.present().await?, "present");
        Ok::<(), anyhow::Error>(())
    }
    .await;
    let removed = timed("EgressMasquerade::remove", rule.remove()).await?;
    result?;
    ensure!(removed == 1, "removed {removed} copies");
    ensure!(!rule.present().await?, "rule still present after remove");
    Ok(())
}
