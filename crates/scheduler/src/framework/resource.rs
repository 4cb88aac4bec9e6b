//! Amounts of compute resources as integers (milli-CPU, bytes, counts), and what a pod requests
//! as upstream's resource helpers compute it: containers summed, init containers as a peak,
//! restartable (sidecar) init containers running alongside, plus pod overhead.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Container, PodSpec};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use rkube_api::validation::quantity::Quantity as Parsed;

/// The CPU a container without a CPU request counts as when spreading load (upstream's
/// `DefaultMilliCPURequest`, 0.1 core).
pub const DEFAULT_MILLI_CPU_REQUEST: i64 = 100;
/// The memory a container without a memory request counts as when spreading load (upstream's
/// `DefaultMemoryRequest`, 200 MiB).
pub const DEFAULT_MEMORY_REQUEST: i64 = 200 * 1024 * 1024;

/// Resource amounts: the well-known ones as fields, everything else (extended resources,
/// hugepages) by name.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Resource {
    /// CPU in thousandths of a core.
    pub milli_cpu: i64,
    /// Memory in bytes.
    pub memory: i64,
    /// Local ephemeral storage in bytes.
    pub ephemeral_storage: i64,
    /// How many pods (only meaningful for allocatable).
    pub allowed_pod_number: i64,
    /// Other resources by name, in their base unit.
    pub scalar: BTreeMap<String, i64>,
}

/// The integer amount of `q` for resource `name`: milli-units for CPU, whole units otherwise.
/// Unparseable quantities count as zero (the apiserver validated them).
pub fn amount(name: &str, q: &Quantity) -> i64 {
    match Parsed::parse(&q.0) {
        Ok(Some(p)) if name == "cpu" => p.scaled_value(-3),
        Ok(Some(p)) => p.scaled_value(0),
        _ => 0,
    }
}

impl Resource {
    /// The amounts in a resource list (requests, limits, allocatable, overhead).
    pub fn from_list(list: Option<&BTreeMap<String, Quantity>>) -> Resource {
        let mut r = Resource::default();
        for (name, q) in list.into_iter().flatten() {
            r.set(name, amount(name, q));
        }
        r
    }

    /// The amount of resource `name`.
    pub fn get(&self, name: &str) -> i64 {
        match name {
            "cpu" => self.milli_cpu,
            "memory" => self.memory,
            "ephemeral-storage" => self.ephemeral_storage,
            "pods" => self.allowed_pod_number,
            other => self.scalar.get(other).copied().unwrap_or(0),
        }
    }

    /// Sets the amount of resource `name`.
    pub fn set(&mut self, name: &str, value: i64) {
        match name {
            "cpu" => self.milli_cpu = value,
            "memory" => self.memory = value,
            "ephemeral-storage" => self.ephemeral_storage = value,
            "pods" => self.allowed_pod_number = value,
            other => {
                self.scalar.insert(other.to_string(), value);
            }
        }
    }

    /// Adds `other` to these amounts.
    pub fn add(&mut self, other: &Resource) {
        self.milli_cpu += other.milli_cpu;
        self.memory += other.memory;
        self.ephemeral_storage += other.ephemeral_storage;
        self.allowed_pod_number += other.allowed_pod_number;
        for (k, v) in &other.scalar {
            *self.scalar.entry(k.clone()).or_default() += v;
        }
    }

    /// Subtracts `other` from these amounts.
    pub fn sub(&mut self, other: &Resource) {
        self.milli_cpu -= other.milli_cpu;
        self.memory -= other.memory;
        self.ephemeral_storage -= other.ephemeral_storage;
        self.allowed_pod_number -= other.allowed_pod_number;
        for (k, v) in &other.scalar {
            *self.scalar.entry(k.clone()).or_default() -= v;
        }
    }

    /// Raises each amount to at least `other`'s.
    pub fn set_max(&mut self, other: &Resource) {
        self.milli_cpu = self.milli_cpu.max(other.milli_cpu);
        self.memory = self.memory.max(other.memory);
        self.ephemeral_storage = self.ephemeral_storage.max(other.ephemeral_storage);
        self.allowed_pod_number = self.allowed_pod_number.max(other.allowed_pod_number);
        for (k, v) in &other.scalar {
            let e = self.scalar.entry(k.clone()).or_default();
            *e = (*e).max(*v);
        }
    }

    /// Whether every amount is zero.
    pub fn is_zero(&self) -> bool {
        self.milli_cpu == 0
            && self.memory == 0
            && self.ephemeral_storage == 0
            && self.allowed_pod_number == 0
            && self.scalar.values().all(|v| *v == 0)
    }
}

fn container_requests(c: &Container, non_zero: bool) -> Resource {
    let mut r = Resource::from_list(c.resources.as_ref().and_then(|r| r.requests.as_ref()));
    // A limit without a request means the request equals the limit (the apiserver defaults it,
    // but objects written before defaulting existed may lack it).
    let limits = Resource::from_list(c.resources.as_ref().and_then(|r| r.limits.as_ref()));
    for name in ["cpu", "memory", "ephemeral-storage"] {
        let requested = c
            .resources
            .as_ref()
            .and_then(|r| r.requests.as_ref())
            .is_some_and(|l| l.contains_key(name));
        if !requested && limits.get(name) != 0 {
            r.set(name, limits.get(name));
        }
    }
    for (k, v) in &limits.scalar {
        r.scalar.entry(k.clone()).or_insert(*v);
    }
    if non_zero {
        let has = |name: &str| {
            c.resources
                .as_ref()
                .and_then(|r| r.requests.as_ref())
                .is_some_and(|l| l.contains_key(name))
                || limits.get(name) != 0
        };
        if !has("cpu") {
            r.milli_cpu = DEFAULT_MILLI_CPU_REQUEST;
        }
        if !has("memory") {
            r.memory = DEFAULT_MEMORY_REQUEST;
        }
    }
    r
}

fn is_sidecar(c: &Container) -> bool {
    c.restart_policy.as_deref() == Some("Always")
}

/// What a pod requests of a node. With `non_zero`, containers without a CPU or memory request
/// count as the defaults above (used for scoring, so empty pods still spread).
pub fn pod_requests(spec: &PodSpec, non_zero: bool) -> Resource {
    let mut total = Resource::default();
    for c in &spec.containers {
        total.add(&container_requests(c, non_zero));
    }
    let mut sidecars = Resource::default();
    let mut init_peak = Resource::default();
    for c in spec.init_containers.iter().flatten() {
        let r = container_requests(c, non_zero);
        if is_sidecar(c) {
            sidecars.add(&r);
            init_peak.set_max(&sidecars);
        } else {
            let mut during = r;
            during.add(&sidecars);
            init_peak.set_max(&during);
        }
    }
    total.add(&sidecars);
    total.set_max(&init_peak);
    if let Some(overhead) = &spec.overhead {
        total.add(&Resource::from_list(Some(overhead)));
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec(v: serde_json::Value) -> PodSpec {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn containers_add_and_init_containers_peak() {
        let s = spec(json!({
            "initContainers": [
                {"name": "i1", "resources": {"requests": {"cpu": "2", "memory": "1Gi"}}},
                {"name": "side", "restartPolicy": "Always", "resources": {"requests": {"cpu": "100m"}}},
                {"name": "i2", "resources": {"requests": {"cpu": "1"}}}
            ],
            "containers": [
                {"name": "a", "resources": {"requests": {"cpu": "250m", "memory": "64Mi"}}},
                {"name": "b", "resources": {"limits": {"cpu": "500m", "nvidia.com/gpu": "1"}}}
            ],
            "overhead": {"cpu": "10m"}
        }));
        let r = pod_requests(&s, false);
        // containers 750m + sidecar 100m = 850m; init peak max(2000, 1000+100) = 2000; + 10m.
        assert_eq!(r.milli_cpu, 2010);
        assert_eq!(r.memory, 1 << 30);
        assert_eq!(r.get("nvidia.com/gpu"), 1);
    }

    #[test]
    fn non_zero_defaults_apply_per_container() {
        let s = spec(json!({"containers": [
            {"name": "a"},
            {"name": "b", "resources": {"requests": {"cpu": "1"}}}
        ]}));
        let r = pod_requests(&s, true);
        assert_eq!(r.milli_cpu, 1000 + DEFAULT_MILLI_CPU_REQUEST);
        assert_eq!(r.memory, 2 * DEFAULT_MEMORY_REQUEST);
        assert!(pod_requests(&s, false).memory == 0);
    }
}
