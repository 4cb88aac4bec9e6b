//! Test helpers (dev-dependency only): real etcd processes on free loopback ports.
//!
//! [`EtcdCluster`] owns the etcd processes it starts and one temporary directory holding each
//! member's data dir and log file (`<dir>/<member>.log`; etcd's output never reaches the test's
//! stdout). It stops exactly those processes, by PID, when dropped, and removes the directory.
//! Settings are tuned for fast elections but stay durable (fsync is left on); requests up to
//! 2 MiB are accepted so that the store's largest values fit.
//!
//! The etcd binary is `$RKUBE_ETCD` if set, else `/usr/bin/etcd` (Debian's etcd 3.4).

pub mod bench;

use anyhow::{Context, bail};
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// How long a member may take to answer `/health` after being started.
const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// How many times a cluster start is retried when a picked port was taken in the meantime.
const START_ATTEMPTS: usize = 3;

/// A running etcd cluster of one or more members on 127.0.0.1, for tests and benchmarks.
///
/// Members are numbered from 0. Dropping the cluster kills its processes (SIGKILL) and deletes
/// their data.
pub struct EtcdCluster {
    members: Vec<Member>,
    // Declared last: removed after the processes are killed in `Drop`.
    dir: tempfile::TempDir,
}

struct Member {
    name: String,
    client_port: u16,
    peer_port: u16,
    data_dir: PathBuf,
    log_path: PathBuf,
    child: Option<Child>,
}

impl EtcdCluster {
    /// Starts a cluster of `members` members (usually 1 or 3) with a static initial cluster and
    /// waits until every member reports healthy.
    pub async fn start(members: usize) -> anyhow::Result<EtcdCluster> {
        if members == 0 {
            bail!("an etcd cluster needs at least one member");
        }
        let mut last_err = None;
        for _ in 0..START_ATTEMPTS {
            match Self::try_start(members).await {
                Ok(cluster) => return Ok(cluster),
                // Another process may have grabbed a port between our probe and etcd's bind.
                Err(e) if format!("{e:#}").contains("address already in use") => last_err = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(last_err.unwrap_or_else(|| anyhow::anyhow!("etcd did not start")))
    }

    async fn try_start(n: usize) -> anyhow::Result<EtcdCluster> {
        let dir = tempfile::Builder::new()
            .prefix("rkube-etcd-")
            .tempdir()
            .context("creating the etcd temp dir")?;
        let ports = free_ports(2 * n)?;
        let members: Vec<Member> = (0..n)
            .map(|i| {
                let name = format!("m{i}");
                Member {
                    data_dir: dir.path().join(&name),
                    log_path: dir.path().join(format!("{name}.log")),
                    name,
                    client_port: ports[2 * i],
                    peer_port: ports[2 * i + 1],
                    child: None,
                }
            })
            .collect();
        let mut cluster = EtcdCluster { members, dir };
        for i in 0..n {
            cluster.spawn(i)?;
        }
        for i in 0..n {
            cluster.wait_ready(i).await?;
        }
        Ok(cluster)
    }

    /// The client URLs of all members (`http://127.0.0.1:PORT`), running or not.
    pub fn endpoints(&self) -> Vec<String> {
        (0..self.members.len())
            .map(|i| self.member_endpoint(i))
            .collect()
    }

    /// The client URL of member `i`.
    ///
    /// # Panics
    /// If `i` is not a member index.
    pub fn member_endpoint(&self, i: usize) -> String {
        format!("http://127.0.0.1:{}", self.members[i].client_port)
    }

    /// Number of members.
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// Whether the cluster has no members (never true for a started cluster).
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// The last lines of member `i`'s log (etcd's stdout and stderr), for failure messages.
    ///
    /// # Panics
    /// If `i` is not a member index.
    pub fn log_tail(&self, i: usize) -> String {
        tail(&self.members[i].log_path, 4096)
    }

    /// Kills member `i` with SIGKILL and waits for it to exit. Does nothing if it is not running.
    ///
    /// # Panics
    /// If `i` is not a member index.
    pub fn kill_member(&mut self, i: usize) {
        if let Some(mut child) = self.members[i].child.take() {
            // `kill` fails only if the process has already exited; `wait` reaps it either way.
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts member `i` again with the same data dir and ports (killing it first if it still
    /// runs) and waits until it reports healthy, which needs a quorum of members running.
    ///
    /// # Panics
    /// If `i` is not a member index.
    pub async fn restart_member(&mut self, i: usize) -> anyhow::Result<()> {
        self.kill_member(i);
        self.spawn(i)?;
        self.wait_ready(i).await
    }

    fn spawn(&mut self, i: usize) -> anyhow::Result<()> {
        let initial_cluster = self
            .members
            .iter()
            .map(|m| format!("{}=http://127.0.0.1:{}", m.name, m.peer_port))
            .collect::<Vec<_>>()
            .join(",");
        // Unique per cluster, so members of two test clusters can never join each other.
        let token = self
            .dir
            .path()
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "rkube-test".to_string());
        let m = &mut self.members[i];
        let log = File::options()
            .create(true)
            .append(true)
            .open(&m.log_path)
            .with_context(|| format!("opening {}", m.log_path.display()))?;
        let client_url = format!("http://127.0.0.1:{}", m.client_port);
        let peer_url = format!("http://127.0.0.1:{}", m.peer_port);
        let child = Command::new(etcd_binary())
            .arg("--name")
            .arg(&m.name)
            .arg("--data-dir")
            .arg(&m.data_dir)
            .args(["--listen-client-urls", &client_url])
            .args(["--advertise-client-urls", &client_url])
            .args(["--listen-peer-urls", &peer_url])
            .args(["--initial-advertise-peer-urls", &peer_url])
            .args(["--initial-cluster", &initial_cluster])
            .args(["--initial-cluster-state", "new"])
            .args(["--initial-cluster-token", &token])
            .args(["--heartbeat-interval", "50", "--election-timeout", "500"])
            // The limit counts the whole request: the default (1.5 MiB) refuses a value of
            // exactly `rkube_store::MAX_VALUE_LEN` once the key is added.
            .args(["--max-request-bytes", "2097152"])
            .args(["--logger", "zap", "--log-outputs", "stderr"])
            .stdin(Stdio::null())
            .stdout(log.try_clone().context("duplicating the log file handle")?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("starting {} for member {}", etcd_binary(), m.name))?;
        m.child = Some(child);
        Ok(())
    }

    async fn wait_ready(&mut self, i: usize) -> anyhow::Result<()> {
        let deadline = Instant::now() + READY_TIMEOUT;
        let addr = format!("127.0.0.1:{}", self.members[i].client_port);
        loop {
            let m = &mut self.members[i];
            let Some(child) = m.child.as_mut() else {
                bail!("etcd member {} is not running", m.name);
            };
            if let Some(status) = child.try_wait().context("checking the etcd process")? {
                m.child = None;
                bail!(
                    "etcd member {} exited with {status} while starting; log tail:\n{}",
                    m.name,
                    tail(&m.log_path, 4096)
                );
            }
            if healthy(&addr).await {
                return Ok(());
            }
            if Instant::now() >= deadline {
                bail!(
                    "etcd member {} did not become healthy on {addr} within {READY_TIMEOUT:?}; \
                     log tail:\n{}",
                    m.name,
                    tail(&m.log_path, 4096)
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for EtcdCluster {
    fn drop(&mut self) {
        for i in 0..self.members.len() {
            self.kill_member(i);
        }
    }
}

/// `$RKUBE_ETCD`, else Debian's `/usr/bin/etcd`.
fn etcd_binary() -> String {
    std::env::var("RKUBE_ETCD").unwrap_or_else(|_| "/usr/bin/etcd".to_string())
}

/// Picks `n` distinct free loopback ports by binding port 0 (all held until every one is picked).
fn free_ports(n: usize) -> anyhow::Result<Vec<u16>> {
    let listeners = (0..n)
        .map(|_| TcpListener::bind("127.0.0.1:0"))
        .collect::<Result<Vec<_>, _>>()
        .context("binding a free loopback port")?;
    listeners
        .iter()
        .map(|l| Ok(l.local_addr()?.port()))
        .collect()
}

/// Whether the member at `addr` answers `GET /health` with `"health":"true"` within a second.
async fn healthy(addr: &str) -> bool {
    let probe = async {
        let mut conn = tokio::net::TcpStream::connect(addr).await?;
        let req = format!("GET /health HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
        conn.write_all(req.as_bytes()).await?;
        let mut resp = Vec::new();
        conn.read_to_end(&mut resp).await?;
        Ok::<_, std::io::Error>(resp)
    };
    match tokio::time::timeout(Duration::from_secs(1), probe).await {
        Ok(Ok(resp)) => {
            let text: String = String::from_utf8_lossy(&resp)
                .chars()
                .filter(|c| !c.is_whitespace())
                .collect();
            text.starts_with("HTTP/1.1200") && text.contains("\"health\":\"true\"")
        }
        _ => false,
    }
}

/// The last `max` bytes of a file (lossy UTF-8), or why it could not be read.
fn tail(path: &Path, max: u64) -> String {
    let read = || -> std::io::Result<String> {
        let mut f = File::open(path)?;
        let len = f.metadata()?.len();
        f.seek(SeekFrom::Start(len.saturating_sub(max)))?;
        let mut buf = Vec::new();
        f.read_to_end(&mut buf)?;
        Ok(String::from_utf8_lossy(&buf).into_owned())
    };
    read().unwrap_or_else(|e| format!("(cannot read {}: {e})", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pid(cluster: &EtcdCluster, i: usize) -> Option<u32> {
        cluster.members[i].child.as_ref().map(Child::id)
    }

    fn alive(pid: u32) -> bool {
        Path::new(&format!("/proc/{pid}")).exists()
    }

    #[tokio::test]
    async fn members_stop_restart_and_are_cleaned_up() -> anyhow::Result<()> {
        let mut cluster = EtcdCluster::start(1).await?;
        let endpoint = cluster.member_endpoint(0);
        assert_eq!(cluster.endpoints(), std::slice::from_ref(&endpoint));
        let addr = endpoint.trim_start_matches("http://").to_string();
        let first = pid(&cluster, 0).context("running")?;
        assert!(alive(first) && healthy(&addr).await);

        cluster.kill_member(0);
        assert!(!alive(first), "killed and reaped");
        assert!(!healthy(&addr).await);

        cluster.restart_member(0).await?;
        let second = pid(&cluster, 0).context("running")?;
        assert_ne!(first, second);
        assert!(healthy(&addr).await, "same port after restart");
        assert!(cluster.log_tail(0).contains("serving client traffic"));

        let dir = cluster.dir.path().to_path_buf();
        drop(cluster);
        assert!(!alive(second), "dropping the cluster kills its process");
        assert!(!dir.exists(), "and removes its files");
        Ok(())
    }
}
