//! `metadata.managedFields`: who owns which fields, and how writes change that. An `Update`
//! (create, replace, patch) gives its manager the fields it changed and takes them from
//! everyone else; an `Apply` makes the applied configuration's fields its manager's set,
//! refuses (or with `force` takes) fields others own with other values, and removes the
//! fields its manager applied before and no one owns any more. Entries of one manager,
//! operation and subresource (and, for updates, API version) are one entry.

use super::merge::{merge, prune};
use super::set::{FieldSet, Path, PathElement, display};
use super::walk::{compare, extract};
use crate::status::{ApiError, ErrorDetails, FieldCause};
use serde_json::{Map, Value, json};

/// Upstream's cap on `Update` entries; older ones are merged into [`ANCIENT_CHANGES`].
pub const MAX_UPDATE_MANAGERS: usize = 10;

/// The manager of the merged-away oldest `Update` entries.
pub const ANCIENT_CHANGES: &str = "ancient-changes";

/// What kind of write an entry records.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Operation {
    /// Server-side apply.
    Apply,
    /// Create, update or a non-apply patch.
    Update,
}

impl Operation {
    fn as_str(self) -> &'static str {
        match self {
            Operation::Apply => "Apply",
            Operation::Update => "Update",
        }
    }
}

/// One `managedFields` entry.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    /// `manager`.
    pub manager: String,
    /// `operation`.
    pub operation: Operation,
    /// `apiVersion` the fields are in.
    pub api_version: String,
    /// `time` (RFC 3339, seconds), when known.
    pub time: Option<String>,
    /// `subresource` (empty for the main resource).
    pub subresource: String,
    /// `fieldsV1`.
    pub fields: FieldSet,
}

impl Entry {
    /// Whether `self` and `other` are the same manager (upstream's manager identifier:
    /// appliers are one entry across API versions).
    pub(super) fn same_manager(&self, other: &Entry) -> bool {
        self.manager == other.manager
            && self.operation == other.operation
            && self.subresource == other.subresource
            && (self.operation == Operation::Apply || self.api_version == other.api_version)
    }

    /// How conflict messages name the manager.
    fn describe(&self) -> String {
        let mut out = format!("{:?}", self.manager);
        if !self.subresource.is_empty() {
            out.push_str(&format!(" with subresource {:?}", self.subresource));
        }
        if self.operation == Operation::Update {
            out.push_str(&format!(" using {}", self.api_version));
        }
        out
    }

    pub(super) fn decode(value: &Value) -> Result<Entry, String> {
        let mut entry = Entry::decode_header(value)?;
        if let Some(v) = value.get("fieldsV1").filter(|v| !v.is_null()) {
            entry.fields = FieldSet::from_fields_v1(v)?;
        }
        Ok(entry)
    }

    /// Everything but the fields (left empty).
    pub(super) fn decode_header(value: &Value) -> Result<Entry, String> {
        let s = |k: &str| {
            value
                .get(k)
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string()
        };
        let operation = match value.get("operation").and_then(Value::as_str) {
            Some("Apply") => Operation::Apply,
            Some("Update") => Operation::Update,
            other => return Err(format!("invalid operation {other:?}")),
        };
        match value.get("fieldsType").and_then(Value::as_str) {
            Some("FieldsV1") | None => {}
            Some(other) => return Err(format!("invalid fieldsType {other:?}")),
        }
        Ok(Entry {
            manager: s("manager"),
            operation,
            api_version: s("apiVersion"),
            time: value.get("time").and_then(Value::as_str).map(String::from),
            subresource: s("subresource"),
            fields: FieldSet::new(),
        })
    }

    /// Upstream's order of entries: appliers first, then by time, manager, API version and
    /// subresource.
    pub(super) fn order(&self) -> impl Ord + '_ {
        (
            self.operation,
            &self.time,
            &self.manager,
            &self.api_version,
            &self.subresource,
        )
    }

    pub(super) fn encode(&self) -> Value {
        let mut map = Map::new();
        map.insert("manager".into(), self.manager.clone().into());
        map.insert("operation".into(), self.operation.as_str().into());
        map.insert("apiVersion".into(), self.api_version.clone().into());
        if let Some(time) = &self.time {
            map.insert("time".into(), time.clone().into());
        }
        map.insert("fieldsType".into(), "FieldsV1".into());
        map.insert("fieldsV1".into(), self.fields.to_fields_v1());
        if !self.subresource.is_empty() {
            map.insert("subresource".into(), self.subresource.clone().into());
        }
        Value::Object(map)
    }
}

/// Where a write happens and how its fields are filtered.
#[derive(Clone, Copy, Debug)]
pub struct Write<'a> {
    /// The field manager.
    pub manager: &'a str,
    /// The request's `group/version`.
    pub api_version: &'a str,
    /// The subresource written (empty for the main resource).
    pub subresource: &'a str,
    /// Now, RFC 3339 to the second.
    pub time: &'a str,
    /// The object's definition (for list merge keys), if built in.
    pub definition: Option<&'a str>,
    /// Whether the kind has a `status` subresource, whose fields the main resource's
    /// writes neither change nor own.
    pub has_status: bool,
}

/// The paths upstream never tracks: the type fields, and identity and server-set metadata.
/// Built once: every write filters its field sets with them.
fn untracked_paths() -> &'static [Path] {
    static PATHS: std::sync::LazyLock<Vec<Path>> = std::sync::LazyLock::new(|| {
        let field = |name: &str| PathElement::Field(name.into());
        let mut paths = vec![
            vec![field("apiVersion")],
            vec![field("kind")],
            vec![field("metadata")],
        ];
        for name in [
            "name",
            "namespace",
            "creationTimestamp",
            "selfLink",
            "uid",
            "clusterName",
            "generation",
            "managedFields",
            "resourceVersion",
        ] {
            paths.push(vec![field("metadata"), field(name)]);
        }
        paths
    });
    &PATHS
}

impl Write<'_> {
    /// Leaves out what upstream never tracks (identity and server-set metadata) and what
    /// this endpoint cannot change (status on the main resource, all but status on
    /// `/status`).
    pub(super) fn filter(&self, set: &mut FieldSet) {
        for path in untracked_paths() {
            set.remove(path);
        }
        static STATUS: std::sync::LazyLock<PathElement> =
            std::sync::LazyLock::new(|| PathElement::Field("status".into()));
        let status = &*STATUS;
        match self.subresource {
            "" if self.has_status => set.remove_subtree(status),
            "status" => {
                let kept = set.child(status).cloned();
                *set = FieldSet::new();
                if let Some(kept) = kept {
                    *set.child_mut(status.clone()) = kept;
                }
            }
            _ => {}
        }
    }

    pub(super) fn entry(&self, operation: Operation) -> Entry {
        Entry {
            manager: self.manager.to_string(),
            operation,
            api_version: self.api_version.to_string(),
            time: Some(self.time.to_string()),
            subresource: self.subresource.to_string(),
            fields: FieldSet::new(),
        }
    }
}

/// One field another manager owns with another value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Conflict {
    /// The owner, as messages name it (`"mgr" using apps/v1`).
    pub manager: String,
    /// The field, e.g. `.spec.replicas`.
    pub field: String,
}

/// The 409 upstream answers a conflicting apply with.
pub fn conflict_error(conflicts: &[Conflict]) -> ApiError {
    let message = match conflicts {
        [one] => format!(
            "Apply failed with 1 conflict: conflict with {}: {}",
            one.manager, one.field
        ),
        _ => {
            let mut managers: Vec<&str> = conflicts.iter().map(|c| c.manager.as_str()).collect();
            managers.sort_unstable();
            managers.dedup();
            let mut lines = Vec::new();
            for manager in managers {
                lines.push(format!("conflicts with {manager}:"));
                for c in conflicts.iter().filter(|c| c.manager == manager) {
                    lines.push(format!("- {}", c.field));
                }
            }
            format!(
                "Apply failed with {} conflicts: {}",
                conflicts.len(),
                lines.join("\n")
            )
        }
    };
    ApiError {
        code: 409,
        reason: "Conflict",
        message,
        details: Some(Box::new(ErrorDetails {
            causes: conflicts
                .iter()
                .map(|c| FieldCause {
                    reason: "FieldManagerConflict",
                    field: c.field.clone(),
                    message: format!("conflict with {}", c.manager),
                })
                .collect(),
            ..Default::default()
        })),
    }
}

/// An object's managed fields.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ManagedFields {
    /// The entries, in no particular order until encoded.
    pub entries: Vec<Entry>,
}

impl ManagedFields {
    /// Decodes a `managedFields` list.
    pub fn decode(value: &Value) -> Result<ManagedFields, String> {
        let items = value
            .as_array()
            .ok_or_else(|| "managedFields must be a list".to_string())?;
        let mut out = ManagedFields::default();
        for item in items {
            let entry = Entry::decode(item)?;
            // Duplicates are merged as upstream's decoding keys them by manager.
            match out.entries.iter_mut().find(|e| e.same_manager(&entry)) {
                Some(existing) => existing.fields.union_with(&entry.fields),
                None => out.entries.push(entry),
            }
        }
        Ok(out)
    }

    /// The managed fields stored in `obj` (none when absent or unreadable).
    pub fn of(obj: &Value) -> ManagedFields {
        obj.get("metadata")
            .and_then(|m| m.get("managedFields"))
            .and_then(|v| ManagedFields::decode(v).ok())
            .unwrap_or_default()
    }

    /// The entries an update starts from, as upstream: a subresource write keeps the
    /// stored ones; `managedFields: []` (or one empty entry) resets them; other valid,
    /// non-empty ones sent by the client replace them; anything else keeps the stored ones.
    pub fn for_update(old: &Value, new: &Value, subresource: &str) -> ManagedFields {
        if !subresource.is_empty() {
            return ManagedFields::of(old);
        }
        match new.get("metadata").and_then(|m| m.get("managedFields")) {
            Some(Value::Array(items)) if items.is_empty() => ManagedFields::default(),
            Some(Value::Array(items))
                if items.len() == 1 && items[0].as_object().is_some_and(Map::is_empty) =>
            {
                ManagedFields::default()
            }
            Some(sent) => match ManagedFields::decode(sent) {
                Ok(m) if !m.entries.is_empty() => m,
                _ => ManagedFields::of(old),
            },
            None => ManagedFields::of(old),
        }
    }

    /// The `managedFields` list, sorted as upstream (appliers first, then by time,
    /// manager, API version and subresource).
    pub fn encode(&self) -> Value {
        let mut entries: Vec<&Entry> = self.entries.iter().collect();
        entries.sort_by(|a, b| a.order().cmp(&b.order()));
        Value::Array(entries.into_iter().map(Entry::encode).collect())
    }

    /// Stores the entries in `obj`'s metadata (removing the field when there are none).
    pub fn write_to(&self, obj: &mut Value) {
        let Some(obj) = obj.as_object_mut() else {
            return;
        };
        let meta = obj.entry("metadata").or_insert_with(|| json!({}));
        if let Some(meta) = meta.as_object_mut() {
            if self.entries.is_empty() {
                meta.remove("managedFields");
            } else {
                meta.insert("managedFields".into(), self.encode());
            }
        }
    }

    /// Records an `Update` by `w.manager` from `old` (`None` for a create) to `new`.
    pub fn update(&mut self, old: Option<&Value>, new: &Value, w: &Write) {
        // A create compares with an empty object, which (as Go's zero value) has its
        // top-level structs.
        let empty = json!({"metadata": {}, "spec": {}, "status": {}});
        let mut cmp = compare(old.unwrap_or(&empty), new, w.definition);
        cmp.map_sets(|s| w.filter(s));
        if cmp.is_empty() {
            return;
        }
        let mut changed = cmp.added;
        changed.union_with(&cmp.modified);
        for entry in &mut self.entries {
            entry.fields = entry.fields.difference(&cmp.removed).difference(&changed);
        }
        let mine = w.entry(Operation::Update);
        let index = match self.entries.iter().position(|e| e.same_manager(&mine)) {
            Some(i) => i,
            None => {
                self.entries.push(mine);
                self.entries.len() - 1
            }
        };
        if !changed.is_empty() {
            let entry = &mut self.entries[index];
            if entry.fields.is_empty() {
                // A new entry (every create): the changed fields as they are, not a copy.
                entry.fields = changed;
            } else {
                entry.fields.union_with(&changed);
            }
            entry.time = Some(w.time.to_string());
        }
        self.entries.retain(|e| !e.fields.is_empty());
        self.cap_updaters();
    }

    /// Applies `config` for `w.manager` to `live` (`None` when the object does not exist
    /// yet): the new object, or the conflicts with other managers unless `force`.
    pub fn apply(
        &mut self,
        live: Option<&Value>,
        config: &Value,
        force: bool,
        w: &Write,
    ) -> Result<Value, Vec<Conflict>> {
        let empty = json!({});
        let live = live.unwrap_or(&empty);
        let mut applied = extract(config, w.definition);
        w.filter(&mut applied);
        let mut merged = merge(live, config, w.definition);
        let mut cmp = compare(live, &merged, w.definition);
        cmp.map_sets(|s| w.filter(s));
        let mut changed = cmp.added;
        changed.union_with(&cmp.modified);

        let mine = w.entry(Operation::Apply);
        let own = self.entries.iter().position(|e| e.same_manager(&mine));
        let mut conflicts = Vec::new();
        for (i, entry) in self.entries.iter().enumerate() {
            if Some(i) == own {
                continue;
            }
            for path in entry.fields.intersection(&changed).paths() {
                conflicts.push(Conflict {
                    manager: entry.describe(),
                    field: display(&path),
                });
            }
        }
        if !force && !conflicts.is_empty() {
            return Err(conflicts);
        }
        for (i, entry) in self.entries.iter_mut().enumerate() {
            if Some(i) != own {
                entry.fields = entry.fields.difference(&changed).difference(&cmp.removed);
            }
        }
        let mut others = FieldSet::new();
        for (i, entry) in self.entries.iter().enumerate() {
            if Some(i) != own {
                others.union_with(&entry.fields);
            }
        }
        let previous = own.map(|i| self.entries[i].clone());
        if let Some(previous) = &previous {
            let removable = previous.fields.difference(&applied).difference(&others);
            if !removable.is_empty() {
                let mut keep = others;
                keep.union_with(&applied);
                prune(&mut merged, &removable, &keep, w.definition);
            }
        }
        let mut entry = Entry {
            fields: applied,
            ..mine
        };
        // Time moves only when the object changes (or the entry is new).
        if let Some(previous) = previous
            && merged == *live
        {
            entry.time = previous.time;
        }
        self.entries
            .retain(|e| !e.fields.is_empty() && !e.same_manager(&entry));
        self.entries.push(entry);
        self.cap_updaters();
        Ok(merged)
    }

    /// Merges the oldest `Update` entries into [`ANCIENT_CHANGES`] (one per API version)
    /// until at most [`MAX_UPDATE_MANAGERS`] remain.
    fn cap_updaters(&mut self) {
        let count = |entries: &[Entry]| {
            entries
                .iter()
                .filter(|e| e.operation == Operation::Update)
                .count()
        };
        while count(&self.entries) > MAX_UPDATE_MANAGERS {
            let Some(oldest) = self
                .entries
                .iter()
                .enumerate()
                .filter(|(_, e)| e.operation == Operation::Update && e.manager != ANCIENT_CHANGES)
                .min_by(|(_, a), (_, b)| a.time.cmp(&b.time))
                .map(|(i, _)| i)
            else {
                return;
            };
            let old = self.entries.remove(oldest);
            match self.entries.iter_mut().find(|e| {
                e.manager == ANCIENT_CHANGES
                    && e.operation == Operation::Update
                    && e.api_version == old.api_version
                    && e.subresource.is_empty()
            }) {
                Some(bucket) => bucket.fields.union_with(&old.fields),
                None => self.entries.push(Entry {
                    manager: ANCIENT_CHANGES.into(),
                    operation: Operation::Update,
                    api_version: old.api_version.clone(),
                    time: old.time.clone(),
                    subresource: String::new(),
                    fields: old.fields,
                }),
            }
        }
    }
}
