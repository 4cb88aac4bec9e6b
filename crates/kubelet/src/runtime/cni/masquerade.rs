//! Pod egress NAT (iptables-nft): traffic from the cluster CIDR to anywhere outside it is
//! masqueraded, pod-to-pod traffic keeps its source IP. The rule is inserted *first* in nat
//! POSTROUTING (an earlier terminal rule would otherwise end the chain before it, RUNTIME.md
//! §4) and only when `-C` says it is absent, so [`EgressMasquerade::ensure`] is idempotent.

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use super::{CniError, Ipv4Cidr};
use crate::runtime::command;

/// How long one iptables call may take (it waits up to 5 s for the xtables lock).
const IPTABLES_TIMEOUT: Duration = Duration::from_secs(30);
/// The exit code of `iptables -C` when the rule does not exist.
const RULE_ABSENT: i32 = 1;

/// The egress masquerade rule for a cluster CIDR.
#[derive(Clone, Debug)]
pub struct EgressMasquerade {
    /// The cluster CIDR (all nodes' pod CIDRs), e.g. `10.42.0.0/16`.
    pub cluster_cidr: Ipv4Cidr,
    /// The iptables binary (`iptables`, the nf_tables backend here).
    pub iptables: PathBuf,
    /// The rule's comment, which tells the rule apart from others with the same match.
    pub comment: String,
}

impl EgressMasquerade {
    /// The rule for `cluster_cidr` with comment `rkube pod egress`.
    pub fn new(cluster_cidr: &str) -> Result<Self, CniError> {
        Ok(Self {
            cluster_cidr: cluster_cidr.parse()?,
            iptables: PathBuf::from("iptables"),
            comment: "rkube pod egress".into(),
        })
    }

    /// Whether the rule is installed.
    pub async fn present(&self) -> Result<bool, CniError> {
        let args = self.args("-C", None);
        let out = command::run(self.iptables.as_os_str(), &args, IPTABLES_TIMEOUT).await?;
        match out.status.code() {
            Some(0) => Ok(true),
            Some(RULE_ABSENT) => Ok(false),
            _ => Err(self.failed(&args, out)),
        }
    }

    /// Inserts the rule at the top of nat POSTROUTING unless it is there; returns whether it
    /// inserted it.
    pub async fn ensure(&self) -> Result<bool, CniError> {
        if self.present().await? {
            return Ok(false);
        }
        self.exec(self.args("-I", Some("1"))).await?;
        Ok(true)
    }

    /// Deletes every copy of the rule; returns how many there were.
    pub async fn remove(&self) -> Result<u32, CniError> {
        let mut removed = 0;
        while self.present().await? {
            self.exec(self.args("-D", None)).await?;
            removed += 1;
        }
        Ok(removed)
    }

    async fn exec(&self, args: Vec<OsString>) -> Result<(), CniError> {
        let out = command::run(self.iptables.as_os_str(), &args, IPTABLES_TIMEOUT).await?;
        if out.status.success() {
            Ok(())
        } else {
            Err(self.failed(&args, out))
        }
    }

    fn failed(&self, args: &[OsString], out: command::CommandOutput) -> CniError {
        let args = args
            .iter()
            .map(|a| a.to_string_lossy())
            .collect::<Vec<_>>()
            .join(" ");
        CniError::Iptables {
            args,
            status: out.status,
            stderr: out.stderr.trim().to_owned(),
        }
    }

    /// `-w 5 -t nat <op> POSTROUTING [pos] -s C ! -d C -m comment --comment … -j MASQUERADE`.
    fn args(&self, op: &str, position: Option<&str>) -> Vec<OsString> {
        let cidr = self.cluster_cidr.to_string();
        let mut args: Vec<OsString> = vec!["-w".into(), "5".into(), "-t".into(), "nat".into()];
        args.push(op.into());
        args.push("POSTROUTING".into());
        if let Some(pos) = position {
            args.push(pos.into());
        }
        for a in [
            "-s",
            &cidr,
            "!",
            "-d",
            &cidr,
            "-m",
            "comment",
            "--comment",
            &self.comment,
        ] {
            args.push(a.into());
        }
        args.extend(["-j".into(), "MASQUERADE".into()]);
        args
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_the_insert_rule() {
        let m = EgressMasquerade::new("10.42.0.0/16").expect("rule");
        let args: Vec<String> = m
            .args("-I", Some("1"))
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            args.join(" "),
            "-w 5 -t nat -I POSTROUTING 1 -s 10.42.0.0/16 ! -d 10.42.0.0/16 -m comment --comment rkube pod egress -j MASQUERADE"
        );
    }
}
