//! Running the helper binaries — `nft`, `conntrack`, `ip`, `sysctl` — in the target network
//! namespace (through `nsenter --net=PATH` when one is configured).

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use tokio::io::AsyncWriteExt;
use tokio::process::Command;

use crate::error::ProxyError;
use crate::script::Existing;

/// Runs commands in one network namespace.
#[derive(Clone, Debug)]
pub struct Runner {
    nft: PathBuf,
    conntrack: PathBuf,
    netns: Option<PathBuf>,
}

/// The script line an nft error message points at (`/dev/stdin:LINE:COL…: Error: …`).
pub fn error_line(stderr: &str, script: &str) -> Option<String> {
    let rest = &stderr[stderr.find("/dev/stdin:")? + "/dev/stdin:".len()..];
    let n: usize = rest.split(':').next()?.parse().ok()?;
    script.lines().nth(n.checked_sub(1)?).map(str::to_string)
}

impl Runner {
    /// A runner for `netns` (`None`: this process's namespace).
    pub fn new(nft: PathBuf, conntrack: PathBuf, netns: Option<PathBuf>) -> Runner {
        Runner {
            nft,
            conntrack,
            netns,
        }
    }

    fn command(&self, program: &Path) -> Command {
        let mut c = match &self.netns {
            Some(ns) => {
                let mut c = Command::new("nsenter");
                c.arg(format!("--net={}", ns.display())).arg(program);
                c
            }
            None => Command::new(program),
        };
        c.kill_on_drop(true)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        c
    }

    async fn output(
        &self,
        program: &Path,
        args: &[&str],
    ) -> Result<std::process::Output, ProxyError> {
        self.command(program)
            .args(args)
            .output()
            .await
            .map_err(|source| ProxyError::Spawn {
                program: program.display().to_string(),
                source,
            })
    }

    /// Applies `script` as one transaction (`nft -f -`).
    pub async fn apply(&self, script: &str) -> Result<(), ProxyError> {
        let mut child = self
            .command(&self.nft)
            .args(["-f", "-"])
            .stdin(Stdio::piped())
            .spawn()
            .map_err(|source| ProxyError::Spawn {
                program: self.nft.display().to_string(),
                source,
            })?;
        if let Some(mut stdin) = child.stdin.take() {
            // A write error shows up as nft's own failure below.
            let _ = stdin.write_all(script.as_bytes()).await;
        }
        let out = child
            .wait_with_output()
            .await
            .map_err(|source| ProxyError::Spawn {
                program: self.nft.display().to_string(),
                source,
            })?;
        if out.status.success() {
            return Ok(());
        }
        let message = String::from_utf8_lossy(&out.stderr).trim().to_string();
        Err(ProxyError::Nft {
            line: error_line(&message, script),
            message,
        })
    }

    /// The chains and sets of `table`; `None` when the table does not exist.
    pub async fn existing(&self, table: &str) -> Result<Option<Existing>, ProxyError> {
        let out = self
            .output(&self.nft, &["-j", "list", "chains", "ip"])
            .await?;
        if !out.status.success() {
            return Err(ProxyError::Command {
                program: "nft list chains".into(),
                message: String::from_utf8_lossy(&out.stderr).trim().into(),
            });
        }
        let mut ex = Existing::default();
        let mut found = collect(&out.stdout, "chain", table, &mut ex.chains);
        if !found {
            // A table without chains is still a table (someone flushed it).
            let t = self
                .output(&self.nft, &["list", "table", "ip", table])
                .await?;
            if !t.status.success() {
                return Ok(None);
            }
            found = true;
        }
        let sets = self
            .output(&self.nft, &["-j", "-t", "list", "sets", "ip"])
            .await?;
        if sets.status.success() {
            collect(&sets.stdout, "set", table, &mut ex.sets);
        }
        Ok(found.then_some(ex))
    }

    /// Deletes the conntrack entries matching `filter` (conntrack arguments after `-D`);
    /// the number deleted.
    pub async fn conntrack_delete(&self, filter: &[String]) -> Result<u64, ProxyError> {
        let mut args: Vec<&str> = vec!["-D"];
        args.extend(filter.iter().map(String::as_str));
        let out = self.output(&self.conntrack, &args).await?;
        let stderr = String::from_utf8_lossy(&out.stderr);
        // "N flow entries have been deleted." — printed with exit status 1 when N is 0.
        let deleted = stderr.lines().find_map(|l| {
            l.split_once(" flow entries have been deleted")
                .and_then(|(n, _)| n.rsplit(' ').next()?.parse().ok())
        });
        match deleted {
            Some(n) => Ok(n),
            None if out.status.success() => Ok(0),
            None => Err(ProxyError::Command {
                program: "conntrack".into(),
                message: stderr.trim().into(),
            }),
        }
    }

    /// Sets a sysctl (`sysctl -w key=value`).
    pub async fn sysctl(&self, key: &str, value: &str) -> Result<(), ProxyError> {
        let out = self
            .output(Path::new("sysctl"), &["-w", &format!("{key}={value}")])
            .await?;
        if out.status.success() {
            Ok(())
        } else {
            Err(ProxyError::Command {
                program: "sysctl".into(),
                message: String::from_utf8_lossy(&out.stderr).trim().into(),
            })
        }
    }

    /// The namespace's IPv4 addresses (`ip -j -4 addr show`).
    pub async fn local_addresses(&self) -> Result<Vec<Ipv4Addr>, ProxyError> {
        let out = self
            .output(Path::new("ip"), &["-j", "-4", "addr", "show"])
            .await?;
        if !out.status.success() {
            return Err(ProxyError::Command {
                program: "ip addr".into(),
                message: String::from_utf8_lossy(&out.stderr).trim().into(),
            });
        }
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
        let ips = v
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|link| link["addr_info"].as_array().cloned().unwrap_or_default())
            .filter_map(|a| a["local"].as_str()?.parse().ok())
            .collect();
        Ok(ips)
    }
}

/// Adds the names of `kind` objects of `table` in nft's JSON listing to `into`; whether any.
fn collect(
    json: &[u8],
    kind: &str,
    table: &str,
    into: &mut std::collections::BTreeSet<String>,
) -> bool {
    let v: serde_json::Value = serde_json::from_slice(json).unwrap_or_default();
    let mut any = false;
    for item in v["nftables"].as_array().into_iter().flatten() {
        let o = &item[kind];
        if o["table"].as_str() == Some(table)
            && o["family"].as_str() == Some("ip")
            && let Some(n) = o["name"].as_str()
        {
            into.insert(n.to_string());
            any = true;
        }
    }
    any
}

/// Deletes `table` (family ip) in the namespace; Ok when it did not exist.
pub async fn delete_table(runner: &Runner, table: &str) -> Result<(), ProxyError> {
    runner
        .apply(&format!("add table ip {table}\ndelete table ip {table}\n"))
        .await
}

#[cfg(test)]
mod tests {
    #[test]
    fn error_line_points_at_the_script_line() {
        let script = "add table ip t\nadd rule ip t c bogus\n";
        let stderr =
            "/dev/stdin:2:18-22: Error: syntax error, unexpected string\nadd rule ip t c bogus\n";
        assert_eq!(
            super::error_line(stderr, script).as_deref(),
            Some("add rule ip t c bogus")
        );
        assert_eq!(super::error_line("Error: no such file", script), None);
    }
}
