//! ControllerRevision history, as upstream's `controller/history`, shared by the StatefulSet and
//! DaemonSet controllers: a revision stores the owner's pod template as a patch
//! (`{"spec":{"template":{…,"$patch":"replace"}}}`), is named `<owner>-<hash>`, carries a
//! monotonically increasing `revision` number, and equal revisions are found by their data.
//!
//! - hashing: [`hash_revision`] (upstream's `HashControllerRevision`: FNV-1 of the data, plus
//!   the collision count as decimal text) and [`compute_hash`] (upstream's `ComputeHash` of a
//!   pod template, FNV-1a plus the collision count's bytes), both encoded with
//!   [`safe_encode`] as upstream's `rand.SafeEncodeString`;
//! - pure helpers: [`template_patch`], [`template_of`], [`sort_revisions`], [`next_revision`],
//!   [`find_equal`], [`historic_to_delete`];
//! - [`History`]: claims (adopts/releases) an owner's revisions from the cache and creates
//!   (resolving name collisions), renumbers and deletes them through the apiserver.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use k8s_openapi::api::apps::v1::ControllerRevision;
use k8s_openapi::api::core::v1::PodTemplateSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use k8s_openapi::apimachinery::pkg::runtime::RawExtension;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use kube::runtime::reflector::Store;
use kube::{Client, ResourceExt};
use rkube_api::selector::LabelSelector;

use crate::pod_control::api_message;

/// Upstream's `ControllerRevisionHashLabel`: the hash of a revision's data, on the revision.
pub const HASH_LABEL: &str = "controller.kubernetes.io/hash";
/// Upstream's `apps.ControllerRevisionHashLabelKey`: the revision a pod was made from (and, for
/// DaemonSets, the hash label on the revision itself).
pub const REVISION_LABEL: &str = "controller-revision-hash";

/// Upstream's alphabet for `SafeEncodeString`: no vowels, no look-alikes.
const ALPHANUMS: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

/// A history call the apiserver refused.
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    /// An API call failed.
    #[error("{}", api_message(.0))]
    Api(#[from] kube::Error),
    /// The revision data could not be serialized.
    #[error("encoding revision data: {0}")]
    Encode(#[from] serde_json::Error),
}

/// FNV-1, 32 bits (Go's `fnv.New32`).
pub fn fnv1_32(data: &[&[u8]]) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for chunk in data {
        for b in *chunk {
            h = h.wrapping_mul(0x0100_0193);
            h ^= u32::from(*b);
        }
    }
    h
}

/// FNV-1a, 32 bits (Go's `fnv.New32a`).
pub fn fnv1a_32(data: &[&[u8]]) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for chunk in data {
        for b in *chunk {
            h ^= u32::from(*b);
            h = h.wrapping_mul(0x0100_0193);
        }
    }
    h
}

/// Upstream's `rand.SafeEncodeString`: each byte mapped into an alphabet without vowels, so a
/// hash never spells a word.
pub fn safe_encode(s: &str) -> String {
    s.bytes()
        .map(|b| ALPHANUMS[b as usize % ALPHANUMS.len()] as char)
        .collect()
}

/// `<prefix>-<hash>`, the prefix cut to 223 bytes so the name fits in 253.
pub fn revision_name(prefix: &str, hash: &str) -> String {
    let mut end = prefix.len().min(223);
    while !prefix.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}-{hash}", &prefix[..end])
}

/// Upstream's `HashControllerRevision`: FNV-1 of the raw data and, if given, the collision
/// count as decimal text.
pub fn hash_revision(data: &[u8], collision_count: Option<i32>) -> String {
    let probe = collision_count.map(|c| c.to_string());
    let mut parts: Vec<&[u8]> = vec![data];
    if let Some(p) = &probe {
        parts.push(p.as_bytes());
    }
    safe_encode(&fnv1_32(&parts).to_string())
}

/// Upstream's `ComputeHash` of a pod template (the DaemonSet's revision name and pods' hash
/// label): FNV-1a of the template's JSON and, if given, the collision count's four
/// little-endian bytes padded to eight.
pub fn compute_hash(template: &PodTemplateSpec, collision_count: Option<i32>) -> String {
    let json = serde_json::to_vec(template).unwrap_or_default();
    let mut parts: Vec<&[u8]> = vec![&json];
    let mut bytes = [0u8; 8];
    if let Some(c) = collision_count {
        bytes[..4].copy_from_slice(&(c as u32).to_le_bytes());
        parts.push(&bytes);
    }
    safe_encode(&fnv1a_32(&parts).to_string())
}

/// The patch a revision stores: the template, replacing the owner's on restore.
pub fn template_patch(template: &PodTemplateSpec) -> Result<Vec<u8>, serde_json::Error> {
    let mut t = serde_json::to_value(template)?;
    if let Some(o) = t.as_object_mut() {
        o.insert("$patch".into(), "replace".into());
    }
    // serde_json's maps are sorted, so equal templates give equal bytes (as Go's map encoding).
    serde_json::to_vec(&serde_json::json!({"spec": {"template": t}}))
}

/// The template a revision stores (upstream's `ApplyRevision` for the only field revisions
/// keep), if its data has one.
pub fn template_of(revision: &ControllerRevision) -> Option<PodTemplateSpec> {
    let mut t = revision
        .data
        .as_ref()?
        .0
        .get("spec")?
        .get("template")?
        .clone();
    if let Some(o) = t.as_object_mut() {
        o.remove("$patch");
    }
    serde_json::from_value(t).ok()
}

/// The data bytes of a revision (as they would be stored), for comparisons.
pub fn data_bytes(revision: &ControllerRevision) -> Vec<u8> {
    revision
        .data
        .as_ref()
        .and_then(|d| serde_json::to_vec(&d.0).ok())
        .unwrap_or_default()
}

/// Sorts by revision number, then creation time, then name (upstream's `byRevision`).
pub fn sort_revisions(revisions: &mut [Arc<ControllerRevision>]) {
    revisions.sort_by(|a, b| {
        a.revision
            .cmp(&b.revision)
            .then_with(|| {
                let t =
                    |r: &ControllerRevision| r.metadata.creation_timestamp.as_ref().map(|t| t.0);
                t(a).cmp(&t(b))
            })
            .then_with(|| a.name_any().cmp(&b.name_any()))
    });
}

/// One more than the highest revision number of `sorted` (1 when empty).
pub fn next_revision(sorted: &[Arc<ControllerRevision>]) -> i64 {
    sorted.last().map_or(1, |r| r.revision + 1)
}

/// Whether two revisions hold the same data (upstream's `EqualRevision`; its hash-label
/// shortcut never applies to encoded hashes, so only the data counts).
pub fn equal(a: &ControllerRevision, b: &ControllerRevision) -> bool {
    a.data.as_ref().map(|d| &d.0) == b.data.as_ref().map(|d| &d.0)
}

/// The revisions of `revisions` equal to `needle`, in order.
pub fn find_equal(
    revisions: &[Arc<ControllerRevision>],
    needle: &ControllerRevision,
) -> Vec<Arc<ControllerRevision>> {
    revisions
        .iter()
        .filter(|r| equal(r, needle))
        .cloned()
        .collect()
}

/// A new revision of `owner` (namespace `namespace`) holding `data`, labelled with the
/// template's labels and the data's hash, named `<owner>-<hash>` (upstream's
/// `NewControllerRevision`).
pub fn new_revision(
    owner: &OwnerReference,
    namespace: &str,
    template_labels: &BTreeMap<String, String>,
    data: Vec<u8>,
    revision: i64,
    collision_count: Option<i32>,
) -> Result<ControllerRevision, serde_json::Error> {
    let hash = hash_revision(&data, collision_count);
    let mut labels = template_labels.clone();
    labels.insert(HASH_LABEL.into(), hash.clone());
    Ok(ControllerRevision {
        metadata: ObjectMeta {
            name: Some(revision_name(&owner.name, &hash)),
            namespace: Some(namespace.into()),
            labels: Some(labels),
            owner_references: Some(vec![owner.clone()]),
            ..ObjectMeta::default()
        },
        data: Some(RawExtension(serde_json::from_slice(&data)?)),
        revision,
    })
}

/// The historic revisions to delete so at most `limit` remain: `sorted` minus the `live` ones,
/// oldest first (upstream's `truncateHistory`; a negative limit keeps everything).
pub fn historic_to_delete(
    sorted: &[Arc<ControllerRevision>],
    live: &HashSet<String>,
    limit: i32,
) -> Vec<Arc<ControllerRevision>> {
    let historic: Vec<_> = sorted
        .iter()
        .filter(|r| !live.contains(&r.name_any()))
        .cloned()
        .collect();
    if limit < 0 || historic.len() <= limit as usize {
        return Vec::new();
    }
    let n = historic.len() - limit as usize;
    historic.into_iter().take(n).collect()
}

/// An owner's revisions, read from a cache and written through the apiserver.
#[derive(Clone)]
pub struct History {
    client: Client,
    store: Store<ControllerRevision>,
}

impl History {
    /// History on `client`, reading the revision cache `store`.
    pub fn new(client: Client, store: Store<ControllerRevision>) -> History {
        History { client, store }
    }

    fn api(&self, namespace: &str) -> Api<ControllerRevision> {
        Api::namespaced(self.client.clone(), namespace)
    }

    /// The revisions `owner` controls in `namespace` after claiming: owned ones that still
    /// match `selector` are kept, owned ones that stopped matching are released, matching
    /// orphans are adopted (unless `deleting`). Unsorted.
    pub async fn claim(
        &self,
        namespace: &str,
        owner: &OwnerReference,
        selector: &LabelSelector,
        deleting: bool,
    ) -> Result<Vec<Arc<ControllerRevision>>, HistoryError> {
        let mut out = Vec::new();
        for r in self.store.state() {
            if r.namespace().as_deref() != Some(namespace) {
                continue;
            }
            let controller = r
                .owner_references()
                .iter()
                .find(|o| o.controller == Some(true));
            let matches = selector.matches(r.labels());
            match controller {
                Some(c) if c.uid == owner.uid => {
                    if matches {
                        out.push(r);
                    } else if !deleting {
                        let refs: Vec<_> = r
                            .owner_references()
                            .iter()
                            .filter(|o| o.uid != owner.uid)
                            .cloned()
                            .collect();
                        self.patch_owners(&r, refs).await?;
                    }
                }
                Some(_) => {}
                None if matches && !deleting && r.metadata.deletion_timestamp.is_none() => {
                    let mut refs = r.owner_references().to_vec();
                    refs.push(owner.clone());
                    if let Some(adopted) = self.patch_owners(&r, refs).await? {
                        out.push(Arc::new(adopted));
                    }
                }
                None => {}
            }
        }
        Ok(out)
    }

    /// Sets `r`'s ownerReferences, conditional on its uid and resourceVersion; `None` if it is
    /// gone.
    async fn patch_owners(
        &self,
        r: &ControllerRevision,
        refs: Vec<OwnerReference>,
    ) -> Result<Option<ControllerRevision>, HistoryError> {
        let patch = serde_json::json!({"metadata": {
            "ownerReferences": (!refs.is_empty()).then_some(refs),
            "uid": r.metadata.uid,
            "resourceVersion": r.metadata.resource_version,
        }});
        let ns = r.namespace().unwrap_or_default();
        match self
            .api(&ns)
            .patch(
                &r.name_any(),
                &PatchParams::default(),
                &Patch::Merge(&patch),
            )
            .await
        {
            Ok(r) => Ok(Some(r)),
            Err(kube::Error::Api(s)) if s.code == 404 => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Creates `revision` for `owner`, renaming it with a bumped `collision_count` while a
    /// different revision holds its name (upstream's `CreateControllerRevision`); an equal
    /// revision already there is returned as is.
    pub async fn create(
        &self,
        owner: &OwnerReference,
        revision: &ControllerRevision,
        collision_count: &mut i32,
    ) -> Result<ControllerRevision, HistoryError> {
        let ns = revision.namespace().unwrap_or_default();
        let data = data_bytes(revision);
        loop {
            let hash = hash_revision(&data, Some(*collision_count));
            let mut r = revision.clone();
            r.metadata.name = Some(revision_name(&owner.name, &hash));
            r.metadata
                .labels
                .get_or_insert_with(Default::default)
                .insert(HASH_LABEL.into(), hash);
            match self.api(&ns).create(&PostParams::default(), &r).await {
                Ok(created) => return Ok(created),
                Err(kube::Error::Api(s)) if s.code == 409 => {
                    let existing = self.api(&ns).get(&r.name_any()).await?;
                    if data_bytes(&existing) == data {
                        return Ok(existing);
                    }
                    *collision_count = collision_count.saturating_add(1);
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Sets `revision`'s number to `number` (upstream's `UpdateControllerRevision`).
    pub async fn renumber(
        &self,
        revision: &ControllerRevision,
        number: i64,
    ) -> Result<ControllerRevision, HistoryError> {
        if revision.revision == number {
            return Ok(revision.clone());
        }
        let ns = revision.namespace().unwrap_or_default();
        Ok(self
            .api(&ns)
            .patch(
                &revision.name_any(),
                &PatchParams::default(),
                &Patch::Merge(serde_json::json!({"revision": number})),
            )
            .await?)
    }

    /// Deletes `revision` (already gone is fine).
    pub async fn delete(&self, revision: &ControllerRevision) -> Result<(), HistoryError> {
        let ns = revision.namespace().unwrap_or_default();
        match self
            .api(&ns)
            .delete(&revision.name_any(), &DeleteParams::default())
            .await
        {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv_matches_the_reference_vectors() {
        // Published FNV test vectors for "a".
        assert_eq!(fnv1_32(&[b"a"]), 0x050c_5d7e);
        assert_eq!(fnv1a_32(&[b"a"]), 0xe40c_292c);
        assert_eq!(fnv1a_32(&[b"fo", b"obar"]), fnv1a_32(&[b"foobar"]));
    }

    #[test]
    fn safe_encoding_uses_only_the_safe_alphabet() {
        let s = safe_encode("1234567890");
        assert_eq!(s.len(), 10);
        assert!(s.bytes().all(|b| ALPHANUMS.contains(&b)));
        // '0' is byte 48; 48 % 27 = 21 → '4'.
        assert_eq!(safe_encode("0"), "4");
    }

    #[test]
    fn names_are_prefix_dash_hash_and_fit() {
        assert_eq!(revision_name("web", "abc"), "web-abc");
        let long = "x".repeat(300);
        assert_eq!(revision_name(&long, "h").len(), 225);
    }

    #[test]
    fn the_collision_count_changes_the_hash() {
        let d = br#"{"spec":{}}"#;
        assert_ne!(hash_revision(d, Some(0)), hash_revision(d, Some(1)));
        assert_eq!(hash_revision(d, Some(3)), hash_revision(d, Some(3)));
    }

    fn template(image: &str) -> PodTemplateSpec {
        serde_json::from_value(serde_json::json!({
            "metadata": {"labels": {"app": "w"}},
            "spec": {"containers": [{"name": "c", "image": image}]}
        }))
        .unwrap()
    }

    fn owner() -> OwnerReference {
        OwnerReference {
            api_version: "apps/v1".into(),
            kind: "StatefulSet".into(),
            name: "web".into(),
            uid: "u".into(),
            controller: Some(true),
            block_owner_deletion: Some(true),
        }
    }

    #[test]
    fn revisions_round_trip_their_template_and_compare_by_data() {
        let t = template("nginx:1");
        let patch = template_patch(&t).unwrap();
        let s = String::from_utf8(patch.clone()).unwrap();
        assert!(
            s.starts_with(r#"{"spec":{"template":{"$patch":"replace""#),
            "{s}"
        );
        let labels = t.metadata.clone().unwrap().labels.unwrap();
        let r1 = new_revision(&owner(), "ns", &labels, patch.clone(), 1, None).unwrap();
        assert!(r1.metadata.name.as_deref().unwrap().starts_with("web-"));
        assert_eq!(r1.labels()["app"], "w");
        assert_eq!(template_of(&r1), Some(t));
        let r2 = new_revision(&owner(), "ns", &labels, patch, 2, None).unwrap();
        assert!(equal(&r1, &r2));
        let other = template_patch(&template("nginx:2")).unwrap();
        let r3 = new_revision(&owner(), "ns", &labels, other, 3, None).unwrap();
        assert!(!equal(&r1, &r3));
        let all = vec![Arc::new(r1), Arc::new(r3.clone()), Arc::new(r2)];
        assert_eq!(find_equal(&all, &r3).len(), 1);
    }

    #[test]
    fn sorting_numbering_and_truncation() {
        let mk = |name: &str, n: i64| {
            let mut r = ControllerRevision {
                revision: n,
                ..Default::default()
            };
            r.metadata.name = Some(name.into());
            Arc::new(r)
        };
        let mut rs = vec![mk("c", 3), mk("a", 1), mk("b", 2), mk("d", 4)];
        sort_revisions(&mut rs);
        let names: Vec<_> = rs.iter().map(|r| r.name_any()).collect();
        assert_eq!(names, ["a", "b", "c", "d"]);
        assert_eq!(next_revision(&rs), 5);
        assert_eq!(next_revision(&[]), 1);
        let live: HashSet<String> = ["d".to_string(), "a".to_string()].into();
        let gone: Vec<_> = historic_to_delete(&rs, &live, 1)
            .iter()
            .map(|r| r.name_any())
            .collect();
        assert_eq!(
            gone,
            ["b"],
            "live revisions are never deleted; oldest first"
        );
        assert!(historic_to_delete(&rs, &live, 2).is_empty());
        assert!(historic_to_delete(&rs, &live, -1).is_empty());
    }

    #[test]
    fn template_hashes_depend_on_the_template_and_collisions() {
        let a = compute_hash(&template("a"), None);
        assert_eq!(a, compute_hash(&template("a"), None));
        assert_ne!(a, compute_hash(&template("b"), None));
        assert_ne!(a, compute_hash(&template("a"), Some(1)));
    }
}
