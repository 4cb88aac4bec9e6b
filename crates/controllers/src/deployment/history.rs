//! Revision history: old ReplicaSets beyond `revisionHistoryLimit` are deleted, lowest
//! revision first — only those scaled to zero with no pods and whose status is current (one
//! still draining, or not yet seen by its controller, is kept for a later sync).

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use kube::ResourceExt;
use kube::api::{Api, DeleteParams};

use super::Error;
use super::replicasets::{actual, by_revision, replicas};
use super::sync::Controller;

/// `revisionHistoryLimit`, unless unset or "unlimited" (MaxInt32).
pub fn revision_history_limit(d: &Deployment) -> Option<i32> {
    d.spec
        .as_ref()?
        .revision_history_limit
        .filter(|l| *l != i32::MAX)
}

/// The old ReplicaSets to delete to respect the limit.
pub fn to_delete<'a>(d: &Deployment, old: &'a [ReplicaSet]) -> Vec<&'a ReplicaSet> {
    let Some(limit) = revision_history_limit(d) else {
        return Vec::new();
    };
    let mut alive: Vec<&ReplicaSet> = old
        .iter()
        .filter(|rs| rs.metadata.deletion_timestamp.is_none())
        .collect();
    let excess = alive.len() as i64 - i64::from(limit);
    if excess <= 0 {
        return Vec::new();
    }
    alive.sort_by(|a, b| by_revision(a, b));
    alive
        .into_iter()
        .take(excess as usize)
        .filter(|rs| {
            let observed = rs
                .status
                .as_ref()
                .and_then(|s| s.observed_generation)
                .unwrap_or(0);
            actual(rs) == 0 && replicas(rs) == 0 && rs.metadata.generation.unwrap_or(0) <= observed
        })
        .collect()
}

impl Controller {
    /// Deletes old ReplicaSets beyond the history limit.
    pub async fn cleanup(&self, d: &Deployment, old: &[ReplicaSet]) -> Result<(), Error> {
        for rs in to_delete(d, old) {
            let api: Api<ReplicaSet> =
                Api::namespaced(self.client.clone(), &rs.namespace().unwrap_or_default());
            match api.delete(&rs.name_any(), &DeleteParams::default()).await {
                Ok(_) => {}
                Err(kube::Error::Api(s)) if s.code == 404 => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rs(name: &str, rev: i64, replicas: i32, pods: i32) -> ReplicaSet {
        serde_json::from_value(json!({
            "metadata": {"name": name, "generation": 1,
                "annotations": {super::super::annotations::REVISION: rev.to_string()}},
            "spec": {"replicas": replicas, "selector": {}},
            "status": {"replicas": pods, "observedGeneration": 1}
        }))
        .unwrap()
    }

    #[test]
    fn the_lowest_revisions_beyond_the_limit_go_unless_still_running() {
        let d: Deployment = serde_json::from_value(json!({"metadata": {"name": "d"},
            "spec": {"revisionHistoryLimit": 1, "selector": {}, "template": {}}}))
        .unwrap();
        let old = [rs("c", 3, 0, 0), rs("a", 1, 0, 0), rs("b", 2, 0, 1)];
        let names: Vec<String> = to_delete(&d, &old).iter().map(|r| r.name_any()).collect();
        assert_eq!(names, ["a"], "b still has a pod; c is within the limit");
    }
}
