//! Turning the endpoints a Service should have into EndpointSlice writes (pure), shared by the
//! EndpointSlice and the mirroring controllers, in the spirit of upstream's reconciler: slices
//! are grouped by address type and port set; endpoints stay in the slice they are in (updated
//! in place when they change), gone ones are removed, new ones fill slices with room before new
//! slices are created, and emptied slices are deleted. Only slices whose content or metadata
//! changed are written.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use k8s_openapi::api::discovery::v1::{Endpoint, EndpointPort, EndpointSlice};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};

/// At most this many endpoints in one slice (upstream's `--max-endpoints-per-slice` default).
pub const MAX_ENDPOINTS_PER_SLICE: usize = 100;

/// Endpoints serving the same ports, of one address type.
#[derive(Clone, Debug, PartialEq)]
pub struct Group {
    /// `IPv4` or `IPv6`.
    pub address_type: String,
    /// The ports (canonical order).
    pub ports: Vec<EndpointPort>,
    /// The endpoints.
    pub endpoints: Vec<Endpoint>,
}

/// What every slice of the owner carries.
#[derive(Clone, Debug)]
pub struct SliceMeta {
    /// Namespace.
    pub namespace: String,
    /// `generateName` of new slices.
    pub generate_name: String,
    /// Labels (exactly these).
    pub labels: BTreeMap<String, String>,
    /// Annotations written on slices that change.
    pub annotations: BTreeMap<String, String>,
    /// The owner.
    pub owner: OwnerReference,
}

/// One write.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    /// Create this slice.
    Create(EndpointSlice),
    /// Replace this slice.
    Update(EndpointSlice),
    /// Delete the slice of this name.
    Delete(String),
}

type GroupKey = (String, String);

fn group_key(address_type: &str, ports: &[EndpointPort]) -> GroupKey {
    (
        address_type.to_string(),
        serde_json::to_string(ports).unwrap_or_default(),
    )
}

/// An endpoint's identity inside a group: its first address.
fn ep_key(e: &Endpoint) -> String {
    e.addresses.first().cloned().unwrap_or_default()
}

fn slice_ports(s: &EndpointSlice) -> Vec<EndpointPort> {
    s.ports.clone().unwrap_or_default()
}

fn new_slice(
    meta: &SliceMeta,
    address_type: &str,
    ports: &[EndpointPort],
    eps: Vec<Endpoint>,
) -> EndpointSlice {
    EndpointSlice {
        metadata: ObjectMeta {
            generate_name: Some(meta.generate_name.clone()),
            namespace: Some(meta.namespace.clone()),
            labels: Some(meta.labels.clone()),
            annotations: (!meta.annotations.is_empty()).then(|| meta.annotations.clone()),
            owner_references: Some(vec![meta.owner.clone()]),
            ..Default::default()
        },
        address_type: address_type.to_string(),
        endpoints: eps,
        ports: (!ports.is_empty()).then(|| ports.to_vec()),
    }
}

/// Whether `s` carries `meta`'s labels and owner.
fn meta_current(s: &EndpointSlice, meta: &SliceMeta) -> bool {
    s.metadata.labels.as_ref() == Some(&meta.labels)
        && s.metadata.owner_references.as_deref() == Some(std::slice::from_ref(&meta.owner))
}

fn updated(s: &EndpointSlice, meta: &SliceMeta, eps: Vec<Endpoint>) -> EndpointSlice {
    let mut s = s.clone();
    s.metadata.labels = Some(meta.labels.clone());
    s.metadata.owner_references = Some(vec![meta.owner.clone()]);
    let a = s.metadata.annotations.get_or_insert_with(BTreeMap::new);
    a.extend(meta.annotations.clone());
    s.endpoints = eps;
    s
}

/// The writes turning `existing` (the owner's slices) into `groups`. With `placeholder`, an
/// owner without endpoints keeps one empty slice (as upstream's EndpointSlice controller).
pub fn plan(
    existing: &[Arc<EndpointSlice>],
    groups: &[Group],
    meta: &SliceMeta,
    max: usize,
    placeholder: bool,
) -> Vec<Action> {
    let max = max.max(1);
    let mut actions = Vec::new();
    let mut by_key: HashMap<GroupKey, Vec<&EndpointSlice>> = HashMap::new();
    let mut sorted: Vec<&EndpointSlice> = existing.iter().map(|s| &**s).collect();
    sorted.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
    for s in sorted {
        by_key
            .entry(group_key(&s.address_type, &slice_ports(s)))
            .or_default()
            .push(s);
    }
    if groups.iter().all(|g| g.endpoints.is_empty()) && placeholder {
        // Keep one empty slice: reuse an empty one with no ports if there is one.
        let key = group_key(
            groups.first().map_or("IPv4", |g| g.address_type.as_str()),
            &[],
        );
        let keep = by_key
            .get(&key)
            .and_then(|v| v.iter().find(|s| s.endpoints.is_empty()).copied());
        for s in existing {
            if keep.is_some_and(|k| k.metadata.name == s.metadata.name) {
                continue;
            }
            actions.push(Action::Delete(s.metadata.name.clone().unwrap_or_default()));
        }
        match keep {
            Some(k) if meta_current(k, meta) => {}
            Some(k) => actions.push(Action::Update(updated(k, meta, Vec::new()))),
            None => actions.push(Action::Create(new_slice(meta, &key.0, &[], Vec::new()))),
        }
        return actions;
    }
    for g in groups.iter().filter(|g| !g.endpoints.is_empty()) {
        let key = group_key(&g.address_type, &g.ports);
        let mut wanted: HashMap<String, &Endpoint> =
            g.endpoints.iter().map(|e| (ep_key(e), e)).collect();
        let order: Vec<String> = g.endpoints.iter().map(ep_key).collect();
        let mut slices: Vec<(&EndpointSlice, Vec<Endpoint>, bool)> = Vec::new();
        for s in by_key.remove(&key).unwrap_or_default() {
            let mut kept = Vec::new();
            let mut changed = !meta_current(s, meta);
            for e in &s.endpoints {
                match wanted.remove(&ep_key(e)) {
                    Some(w) => {
                        changed |= w != e;
                        kept.push(w.clone());
                    }
                    None => changed = true,
                }
            }
            slices.push((s, kept, changed));
        }
        let mut fresh: Vec<Endpoint> = order
            .iter()
            .filter_map(|k| wanted.remove(k).cloned())
            .collect();
        for (_, kept, changed) in slices.iter_mut() {
            while kept.len() < max && !fresh.is_empty() {
                kept.push(fresh.remove(0));
                *changed = true;
            }
        }
        for (s, kept, changed) in slices {
            let name = s.metadata.name.clone().unwrap_or_default();
            if kept.is_empty() {
                actions.push(Action::Delete(name));
            } else if changed {
                actions.push(Action::Update(updated(s, meta, kept)));
            }
        }
        for chunk in fresh.chunks(max) {
            actions.push(Action::Create(new_slice(
                meta,
                &g.address_type,
                &g.ports,
                chunk.to_vec(),
            )));
        }
    }
    for (_, rest) in by_key {
        for s in rest {
            actions.push(Action::Delete(s.metadata.name.clone().unwrap_or_default()));
        }
    }
    actions
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ep(ip: &str, ready: bool) -> Endpoint {
        Endpoint {
            addresses: vec![ip.into()],
            conditions: Some(k8s_openapi::api::discovery::v1::EndpointConditions {
                ready: Some(ready),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn meta() -> SliceMeta {
        SliceMeta {
            namespace: "ns".into(),
            generate_name: "svc-".into(),
            labels: BTreeMap::from([("kubernetes.io/service-name".into(), "svc".into())]),
            annotations: BTreeMap::new(),
            owner: OwnerReference {
                api_version: "v1".into(),
                kind: "Service".into(),
                name: "svc".into(),
                uid: "u".into(),
                controller: Some(true),
                block_owner_deletion: Some(true),
            },
        }
    }

    fn group(eps: Vec<Endpoint>) -> Group {
        Group {
            address_type: "IPv4".into(),
            ports: vec![EndpointPort {
                name: Some("".into()),
                port: Some(80),
                protocol: Some("TCP".into()),
                app_protocol: None,
            }],
            endpoints: eps,
        }
    }

    fn as_existing(actions: &[Action]) -> Vec<Arc<EndpointSlice>> {
        actions
            .iter()
            .enumerate()
            .filter_map(|(i, a)| match a {
                Action::Create(s) | Action::Update(s) => {
                    let mut s = s.clone();
                    s.metadata.name.get_or_insert(format!("svc-{i:03}"));
                    Some(Arc::new(s))
                }
                Action::Delete(_) => None,
            })
            .collect()
    }

    #[test]
    fn splits_at_the_limit_and_updates_only_what_changed() {
        let eps: Vec<Endpoint> = (0..250)
            .map(|i| ep(&format!("10.0.{}.{}", i / 200, i % 200), true))
            .collect();
        let first = plan(&[], &[group(eps.clone())], &meta(), 100, true);
        assert_eq!(first.len(), 3);
        let existing = as_existing(&first);
        assert!(plan(&existing, &[group(eps.clone())], &meta(), 100, true).is_empty());
        let mut changed = eps.clone();
        changed[5] = ep("10.0.0.5", false);
        let second = plan(&existing, &[group(changed)], &meta(), 100, true);
        assert_eq!(second.len(), 1, "{second:?}");
        assert!(matches!(&second[0], Action::Update(s) if s.endpoints.len() == 100));
    }

    #[test]
    fn an_owner_without_endpoints_keeps_one_placeholder() {
        let first = plan(
            &[],
            &[group(vec![ep("10.0.0.1", true)])],
            &meta(),
            100,
            true,
        );
        let existing = as_existing(&first);
        let empty = plan(&existing, &[], &meta(), 100, true);
        assert!(matches!(&empty[0], Action::Delete(_)));
        assert!(
            matches!(&empty[1], Action::Create(s) if s.endpoints.is_empty() && s.ports.is_none())
        );
        assert_eq!(plan(&existing, &[], &meta(), 100, false).len(), 1);
    }
}
