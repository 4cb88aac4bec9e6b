//! Facts about this machine the Node reports: CPU, memory and disk capacity, kernel, OS image,
//! machine and boot IDs.

use std::collections::BTreeMap;
use std::path::Path;

use k8s_openapi::api::core::v1::NodeSystemInfo;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

/// What the machine has, as the Node's `capacity`.
#[derive(Clone, Debug, PartialEq)]
pub struct Machine {
    /// Logical CPUs.
    pub cpus: usize,
    /// Total memory in bytes.
    pub memory_bytes: u64,
    /// Size of the filesystem holding the agent's directory, in bytes.
    pub ephemeral_storage_bytes: u64,
    /// Kernel release (`uname -r`).
    pub kernel_version: String,
    /// `PRETTY_NAME` from /etc/os-release.
    pub os_image: String,
    /// /etc/machine-id.
    pub machine_id: String,
    /// This boot's ID.
    pub boot_id: String,
}

impl Machine {
    /// Reads the facts of this machine; `root_dir` is the filesystem whose size counts as
    /// ephemeral storage. Missing files give empty strings, never an error.
    pub fn read(root_dir: &Path) -> Self {
        let text = |p: &str| {
            std::fs::read_to_string(p)
                .map(|s| s.trim().to_string())
                .unwrap_or_default()
        };
        let os_image = text("/etc/os-release")
            .lines()
            .find_map(|l| l.strip_prefix("PRETTY_NAME="))
            .map(|v| v.trim_matches('"').to_string())
            .unwrap_or_else(|| "Linux".into());
        let ephemeral_storage_bytes = nix::sys::statvfs::statvfs(root_dir)
            .map(|s| s.blocks() * s.fragment_size())
            .unwrap_or(0);
        Self {
            cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
            memory_bytes: mem_total(&text("/proc/meminfo")),
            ephemeral_storage_bytes,
            kernel_version: text("/proc/sys/kernel/osrelease"),
            os_image,
            machine_id: text("/etc/machine-id"),
            boot_id: text("/proc/sys/kernel/random/boot_id"),
        }
    }

    /// The Node's `status.capacity`.
    pub fn capacity(&self, max_pods: u32) -> BTreeMap<String, Quantity> {
        BTreeMap::from([
            ("cpu".into(), Quantity(self.cpus.to_string())),
            (
                "memory".into(),
                Quantity(format!("{}Ki", self.memory_bytes / 1024)),
            ),
            (
                "ephemeral-storage".into(),
                Quantity(format!("{}Ki", self.ephemeral_storage_bytes / 1024)),
            ),
            ("pods".into(), Quantity(max_pods.to_string())),
            ("hugepages-2Mi".into(), Quantity("0".into())),
            ("hugepages-1Gi".into(), Quantity("0".into())),
        ])
    }

    /// The Node's `status.allocatable`: capacity less upstream's default hard eviction
    /// threshold for memory (100Mi) and 10% of the disk (nodefs.available).
    pub fn allocatable(&self, max_pods: u32) -> BTreeMap<String, Quantity> {
        let mut a = self.capacity(max_pods);
        let memory = self.memory_bytes.saturating_sub(100 << 20);
        a.insert("memory".into(), Quantity(format!("{}Ki", memory / 1024)));
        let disk = self.ephemeral_storage_bytes - self.ephemeral_storage_bytes / 10;
        a.insert("ephemeral-storage".into(), Quantity(disk.to_string()));
        a
    }

    /// The Node's `status.nodeInfo`; `runtime_version` is e.g. `containerd://1.6.20`.
    pub fn node_info(&self, runtime_version: &str, kubelet_version: &str) -> NodeSystemInfo {
        NodeSystemInfo {
            architecture: std::env::consts::ARCH
                .replace("x86_64", "amd64")
                .replace("aarch64", "arm64"),
            boot_id: self.boot_id.clone(),
            container_runtime_version: runtime_version.into(),
            kernel_version: self.kernel_version.clone(),
            kube_proxy_version: String::new(),
            kubelet_version: kubelet_version.into(),
            machine_id: self.machine_id.clone(),
            operating_system: std::env::consts::OS.into(),
            os_image: self.os_image.clone(),
            system_uuid: self.machine_id.clone(),
            swap: None,
        }
    }
}

fn mem_total(meminfo: &str) -> u64 {
    meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kib| kib * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_this_machine() {
        let m = Machine::read(Path::new("/"));
        assert!(m.cpus >= 1);
        assert!(m.memory_bytes > 100 << 20, "{m:?}");
        assert!(m.ephemeral_storage_bytes > 0);
        assert!(!m.kernel_version.is_empty());
        let cap = m.capacity(110);
        assert_eq!(cap["pods"].0, "110");
        assert!(cap["memory"].0.ends_with("Ki"));
    }

    #[test]
    fn meminfo_parsing() {
        assert_eq!(mem_total("MemFree: 5 kB\nMemTotal:  2048 kB\n"), 2 << 20);
        assert_eq!(mem_total("garbage"), 0);
    }

    #[test]
    fn allocatable_reserves_eviction_thresholds() {
        let m = Machine {
            cpus: 2,
            memory_bytes: 1 << 30,
            ephemeral_storage_bytes: 1000 * 1024,
            kernel_version: String::new(),
            os_image: String::new(),
            machine_id: String::new(),
            boot_id: String::new(),
        };
        let a = m.allocatable(110);
        assert_eq!(a["memory"].0, format!("{}Ki", (1024 - 100) * 1024));
        assert_eq!(a["ephemeral-storage"].0, (900 * 1024).to_string());
    }
}
