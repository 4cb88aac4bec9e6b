//! The generic registry: one create/get/list/update/delete/watch path for every resource, over
//! the store, with per-kind hooks from [`strategy`] and rules (defaults, validation) from the
//! `api` crate. Objects are JSON; the store holds them without `resourceVersion`, which is
//! the store's mod revision, set on every read.
//!
//! Methods take the requested resource, which may be another version of a stored one
//! (`rkube_api::resources::storage_version`): bodies come in the requested version and are
//! converted on the way in; objects come back in the stored version, and presenting them
//! in the requested one is the caller's job (`handlers::present`).

mod admission_reads;
pub mod allocator;
pub mod allocator_repair;
pub mod binding;
mod binding_json;
mod cache_list;
pub mod default_tolerations;
pub mod deletion;
mod dry_run;
pub mod kubernetes_endpoints;
pub mod limit_ranger;
mod list;
pub mod managed_fields;
pub mod meta;
pub mod priority;
pub mod resource_quota;
pub mod service_account;
pub mod services;
pub mod stored_json;
pub mod strategy;
#[cfg(test)]
mod test_stores;
mod versions;
mod watch;
pub mod watch_cache;
pub mod watch_index;
mod watch_object;

pub use watch::{WatchItem, WatchObject, WatchOptions};

use crate::admission::{AdmissionPlugins, Plugin};
use bytes::Bytes;
use meta::{finalizers, meta_mut, meta_str, name, set_meta, timestamp};
use rkube_api::resources::{ResourceInfo, find, storage_version};
use rkube_api::status::{ApiError, FieldCause};
use rkube_store::{
    CreateOutcome, DeleteOutcome, KeyValue, Revision, Store, StoreError, UpdateOutcome,
};
use serde_json::{Value, json};
use std::sync::Arc;

/// Keeps objects a selector accepts.
pub type Filter = Arc<dyn Fn(&Value) -> bool + Send + Sync>;

/// The clock the registry stamps objects with (injected so tests control time).
pub type Clock = Arc<dyn Fn() -> jiff::Timestamp + Send + Sync>;

/// Store keys of one list: a namespace's objects or all of them.
fn list_prefix(info: &ResourceInfo, namespace: Option<&str>) -> String {
    match namespace {
        Some(ns) if info.namespaced => format!("{}{ns}/", info.storage_prefix()),
        _ => info.storage_prefix(),
    }
}

/// How unknown fields in a body are treated (`fieldValidation`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum FieldValidation {
    /// Dropped silently.
    Ignore,
    /// Dropped with a warning.
    #[default]
    Warn,
    /// Refused.
    Strict,
}

/// Options of a list.
#[derive(Clone, Default)]
pub struct ListOptions {
    /// Keeps only matching objects.
    pub filter: Option<Filter>,
    /// Most objects to return (0 = all).
    pub limit: i64,
    /// Continuation token from the previous page.
    pub continue_token: Option<String>,
    /// `resourceVersion` parameter.
    pub resource_version: Option<String>,
    /// `resourceVersionMatch` parameter.
    pub resource_version_match: Option<String>,
}

/// One page of a list.
#[derive(Debug)]
pub struct ListResult {
    /// The objects, each with its `resourceVersion`.
    pub items: Vec<Value>,
    /// The revision the list was read at.
    pub resource_version: Revision,
    /// Token for the next page.
    pub continue_token: Option<String>,
}

/// What a list was besides its items ([`Registry::list_each`]).
#[derive(Debug)]
pub struct ListSummary {
    /// The revision the list was read at.
    pub resource_version: Revision,
    /// Token for the next page.
    pub continue_token: Option<String>,
}

/// Options of a delete (`DeleteOptions`).
#[derive(Clone, Debug, Default)]
pub struct DeleteOptions {
    /// `gracePeriodSeconds`.
    pub grace_period_seconds: Option<i64>,
    /// `propagationPolicy`: Orphan, Background or Foreground.
    pub propagation_policy: Option<String>,
    /// The deprecated `orphanDependents` (never set together with `propagation_policy`).
    pub orphan_dependents: Option<bool>,
    /// `preconditions.uid`.
    pub precondition_uid: Option<String>,
    /// `preconditions.resourceVersion`.
    pub precondition_resource_version: Option<String>,
    /// `dryRun=All`: answer the deletion without carrying it out.
    pub dry_run: bool,
}

/// A write's result with the warnings the client should see.
#[derive(Debug)]
pub struct Written {
    /// The object as stored.
    pub object: Value,
    /// `Warning` header texts.
    pub warnings: Vec<String>,
    /// The bytes just stored for `object` and their revision, when `object` is exactly them
    /// (a create or an update that wrote): a response can copy them instead of encoding
    /// `object` again.
    pub stored: Option<(Bytes, Revision)>,
}

/// Options of a create or update.
#[derive(Clone, Copy, Debug, Default)]
pub struct WriteOptions {
    /// Unknown-field handling.
    pub field_validation: FieldValidation,
    /// `dryRun=All`: everything but the store write (see [`dry_run`]).
    pub dry_run: bool,
}

/// The registry over one store.
#[derive(Clone)]
pub struct Registry {
    store: Arc<dyn Store>,
    clock: Clock,
    services: services::ServiceAllocators,
    watch_cache: Arc<watch_cache::WatchCaches>,
    /// The resources CRDs serve (kept by `crate::crd::controller`).
    crds: Arc<crate::crd::CrdTable>,
    /// What admission reads, decoded once per stored version ([`admission_reads`]).
    decoded: Arc<admission_reads::DecodedObjects>,
    /// The admission plugins that run.
    admission: AdmissionPlugins,
}

/// Address ranges the registry hands out from.
#[derive(Clone, Debug)]
pub struct Ranges {
    /// Service CIDR (ClusterIPs), e.g. 10.43.0.0/16.
    pub service_cidr: (std::net::Ipv4Addr, u8),
    /// NodePort range, e.g. 30000–32767.
    pub node_ports: (u16, u16),
}

impl Default for Ranges {
    fn default() -> Ranges {
        Ranges {
            service_cidr: (std::net::Ipv4Addr::new(10, 43, 0, 0), 16),
            node_ports: (30000, 32767),
        }
    }
}

fn store_error(e: StoreError) -> ApiError {
    match e {
        StoreError::Compacted {
            requested,
            compacted,
        } => ApiError::expired(format!(
            "too old resource version: {requested} ({compacted})"
        )),
        StoreError::FutureRevision { requested, current } => ApiError::timeout(format!(
            "Too large resource version: {requested}, current: {current}"
        )),
        StoreError::ValueTooLarge { .. } => ApiError::too_large(rkube_store::MAX_VALUE_LEN),
        StoreError::InvalidKey { .. } => ApiError::bad_request(e.to_string()),
        StoreError::Unavailable { .. } | StoreError::Closed => ApiError::unavailable(e.to_string()),
        other => ApiError::internal(other),
    }
}

/// Parses a `resourceVersion` parameter or field.
pub fn parse_resource_version(rv: &str) -> Result<Revision, ApiError> {
    rv.parse::<Revision>()
        .ok()
        .filter(|r| *r >= 0)
        .ok_or_else(|| ApiError::bad_request(format!("invalid resource version: {rv:?}")))
}

fn encode(obj: &Value) -> Bytes {
    Bytes::from(serde_json::to_vec(obj).unwrap_or_default())
}

/// A stored object with its resourceVersion.
pub(crate) fn decode(kv: &KeyValue) -> Result<Value, ApiError> {
    decode_at(&kv.value, kv.mod_revision)
}

pub(crate) fn decode_at(bytes: &[u8], revision: Revision) -> Result<Value, ApiError> {
    let mut obj: Value = serde_json::from_slice(bytes)
        .map_err(|e| ApiError::internal(format!("stored object is not JSON: {e}")))?;
    set_meta(
        &mut obj,
        "resourceVersion",
        Some(revision.to_string().into()),
    );
    Ok(obj)
}

impl Registry {
    /// A registry over `store`.
    pub fn new(store: Arc<dyn Store>, clock: Clock, ranges: Ranges) -> Registry {
        let services = services::ServiceAllocators {
            ips: allocator::ServiceIps::new(Arc::clone(&store), ranges.service_cidr),
            ports: allocator::NodePorts::new(
                Arc::clone(&store),
                ranges.node_ports.0,
                ranges.node_ports.1,
            ),
        };
        Registry {
            watch_cache: Arc::new(watch_cache::WatchCaches::new(Arc::clone(&store))),
            store,
            clock,
            services,
            crds: Default::default(),
            decoded: Default::default(),
            admission: AdmissionPlugins::default(),
        }
    }

    /// The registry with only `admission`'s plugins running (every one by default).
    pub fn with_admission(mut self, admission: AdmissionPlugins) -> Registry {
        self.admission = admission;
        self
    }

    fn runs(&self, plugin: Plugin) -> bool {
        self.admission.runs(plugin)
    }

    /// Adds the watch cache's and the store's metrics to `registry`.
    pub fn register_metrics(&self, registry: &mut prometheus_client::registry::Registry) {
        self.watch_cache.register_metrics(registry);
        self.store.register_metrics(registry);
    }

    /// The resources CustomResourceDefinitions serve through this registry.
    pub fn crds(&self) -> &Arc<crate::crd::CrdTable> {
        &self.crds
    }

    /// The registry's clock.
    pub fn clock_now(&self) -> jiff::Timestamp {
        self.now()
    }

    /// The repair loop of the Service allocators over this registry's store.
    pub fn allocator_repair(&self) -> allocator_repair::AllocatorRepair {
        allocator_repair::AllocatorRepair::new(Arc::clone(&self.store), self.services.clone())
    }

    fn is_service(info: &ResourceInfo) -> bool {
        info.group.is_empty() && info.kind == "Service"
    }

    /// The store underneath (for health checks).
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    fn now(&self) -> jiff::Timestamp {
        (self.clock)()
    }

    /// Reads one object (in the stored version, as every method answers).
    pub async fn get(
        &self,
        info: &'static ResourceInfo,
        namespace: Option<&str>,
        name: &str,
    ) -> Result<Value, ApiError> {
        let key = info.storage_key(namespace, name);
        match self.store.get(&key, 0).await.map_err(store_error)? {
            Some(kv) => decode(&kv),
            None => Err(ApiError::not_found(info, name)),
        }
    }

    /// The stored bytes and revision of the latest version of an object: as current as the
    /// store's answer, served by the resource's watch cache (started on first use, as
    /// upstream's admission plugins run informers) once it has caught up with the store;
    /// `None` when the cache cannot tell (then the store can: [`Registry::get`]).
    async fn get_current_stored(
        &self,
        info: &'static ResourceInfo,
        namespace: Option<&str>,
        name: &str,
    ) -> Result<Option<(bytes::Bytes, Revision)>, ApiError> {
        let key = info.storage_key(namespace, name);
        let at_least = self.store.current_revision().await.map_err(store_error)?;
        match self
            .watch_cache
            .get_consistent(&info.storage_prefix(), &key, at_least)
            .await
        {
            Ok(Some(Some(stored))) => Ok(Some(stored)),
            Ok(Some(None)) => Err(ApiError::not_found(info, name)),
            Ok(None) | Err(_) => Ok(None),
        }
    }

    async fn get_kv(
        &self,
        info: &ResourceInfo,
        namespace: Option<&str>,
        name: &str,
    ) -> Result<(Value, Revision), ApiError> {
        let key = info.storage_key(namespace, name);
        match self.store.get(&key, 0).await.map_err(store_error)? {
            Some(kv) => Ok((decode(&kv)?, kv.mod_revision)),
            None => Err(ApiError::not_found(info, name)),
        }
    }

    /// Creates an object (`obj` already decoded, typed-normalized, defaulted and validated by
    /// [`Registry::admit_create`]).
    pub async fn create(
        &self,
        info: &'static ResourceInfo,
        namespace: Option<&str>,
        obj: Value,
        opts: WriteOptions,
    ) -> Result<Written, ApiError> {
        let (obj, mut warnings) = versions::incoming(info, obj, opts.field_validation)?;
        let generated = meta_str(&obj, "name").is_none_or(str::is_empty);
        let (mut obj, more_warnings) = self.admit_create(info, namespace, obj, opts).await?;
        warnings.extend(more_warnings);
        if info.namespaced
            && let Some(ns) = namespace
            && self.runs(Plugin::NamespaceLifecycle)
        {
            self.check_namespace_open(ns).await?;
        }
        let taken = if Self::is_service(info) {
            self.services
                .on_create(info, &mut obj, opts.dry_run)
                .await?
        } else {
            Default::default()
        };
        if opts.dry_run {
            return self.dry_run_create(info, namespace, obj, warnings).await;
        }
        let result = self
            .create_admitted(info, namespace, obj, warnings, generated)
            .await;
        if result.is_err() {
            self.services.release(&taken).await;
        }
        result
    }

    async fn create_admitted(
        &self,
        info: &ResourceInfo,
        namespace: Option<&str>,
        mut obj: Value,
        warnings: Vec<String>,
        generated: bool,
    ) -> Result<Written, ApiError> {
        for attempt in 0..3 {
            if generated && attempt > 0 {
                // The generated name was taken: try another with the same prefix.
                let prefix = meta_str(&obj, "generateName").unwrap_or("").to_string();
                set_meta(&mut obj, "name", Some(meta::generate_name(&prefix).into()));
            } else if attempt > 0 {
                break;
            }
            let key = info.storage_key(namespace, name(&obj));
            let bytes = encode(&obj);
            match self
                .store
                .create(&key, bytes.clone(), None)
                .await
                .map_err(store_error)?
            {
                CreateOutcome::Created(rev) => {
                    set_meta(&mut obj, "resourceVersion", Some(rev.to_string().into()));
                    return Ok(Written {
                        object: obj,
                        warnings,
                        stored: Some((bytes, rev)),
                    });
                }
                CreateOutcome::AlreadyExists(_) if generated => continue,
                CreateOutcome::AlreadyExists(_) => break,
            }
        }
        Err(ApiError::already_exists(info, name(&obj)))
    }

    /// Everything before the write of a create: identity, namespace, name, typed decoding,
    /// system fields, defaults, mutating admission, validation, validating admission.
    async fn admit_create(
        &self,
        info: &'static ResourceInfo,
        namespace: Option<&str>,
        mut obj: Value,
        opts: WriteOptions,
    ) -> Result<(Value, Vec<String>), ApiError> {
        // `obj` is in the stored version; `info` (the requested one) names it in errors.
        let stored = storage_version(info);
        set_type_meta(stored, &mut obj)?;
        match (info.namespaced, namespace) {
            (true, Some(ns)) => match meta_str(&obj, "namespace") {
                Some(body_ns) if !body_ns.is_empty() && body_ns != ns => {
                    return Err(ApiError::bad_request(
                        "the namespace of the provided object does not match the namespace sent on the request",
                    ));
                }
                _ => set_meta(&mut obj, "namespace", Some(ns.into())),
            },
            (true, None) => {
                return Err(ApiError::bad_request(format!(
                    "the server could not find the requested resource: {} must be created in a namespace",
                    info.plural
                )));
            }
            (false, _) => set_meta(&mut obj, "namespace", None),
        }
        // A Pod's defaults are applied as it is decoded, as upstream's decoder does; other
        // kinds get theirs after the preparation below.
        let defaulted = rkube_api::defaults::applied_on_decode(stored.group, stored.kind);
        let (mut obj, warnings) = match crate::crd::custom(info) {
            Some(cv) => crate::crd::admit::normalize(cv, obj, opts.field_validation)?,
            None if defaulted => normalize_defaulted(stored, obj, opts.field_validation)?,
            None => normalize(stored, obj, opts.field_validation)?,
        };
        strategy::prepare_for_create(stored, &mut obj, self.now());
        // Admission errors name the object as sent: its generateName if it has no name yet.
        let shown_name = meta_str(&obj, "name")
            .filter(|n| !n.is_empty())
            .or_else(|| meta_str(&obj, "generateName"))
            .unwrap_or("")
            .to_string();
        if meta_str(&obj, "name").is_none_or(str::is_empty)
            && let Some(prefix) = meta_str(&obj, "generateName").filter(|p| !p.is_empty())
        {
            let name = meta::generate_name(prefix);
            set_meta(&mut obj, "name", Some(name.into()));
        }
        if meta_str(&obj, "name").is_none_or(str::is_empty) {
            return Err(ApiError::invalid(
                info,
                "",
                vec![FieldCause {
                    reason: "FieldValueRequired",
                    field: "metadata.name".into(),
                    message: "Required value: name or generateName is required".into(),
                }],
            ));
        }
        if !defaulted {
            rkube_api::defaults::apply(stored.group, stored.kind, &mut obj);
        }
        rkube_api::defaults::apply_on_create(stored.group, stored.kind, &mut obj);
        managed_fields::on_create(info, stored, &mut obj, self.now());
        if priority::is_pod(stored) {
            if self.runs(Plugin::ServiceAccount) {
                self.admit_pod_service_account(info, &mut obj, &shown_name)
                    .await?;
            }
            if self.runs(Plugin::Priority) {
                self.admit_pod_priority(info, &mut obj, &shown_name).await?;
            }
            if self.runs(Plugin::DefaultTolerationSeconds) {
                default_tolerations::admit(&mut obj);
            }
        }
        if limit_ranger::applies(stored) && self.runs(Plugin::LimitRanger) {
            self.admit_limit_ranges(info, &mut obj, &shown_name).await?;
        }
        let mut causes = rkube_api::validation::validate_create_via(
            info.group,
            info.version,
            stored.group,
            stored.kind,
            &obj,
        );
        causes.extend(crate::crd::admit::validate(info, &obj, None));
        if !causes.is_empty() {
            return Err(ApiError::invalid(info, name(&obj), causes));
        }
        if priority::is_priority_class(stored) && self.runs(Plugin::Priority) {
            self.check_global_default(info, &obj, false).await?;
        }
        if self.runs(Plugin::ResourceQuota) {
            self.admit_quota(info, stored, &obj, &shown_name, opts.dry_run)
                .await?;
        }
        Ok((obj, warnings))
    }

    /// Refuses writes into a namespace that does not exist or is being deleted.
    async fn check_namespace_open(&self, ns: &str) -> Result<(), ApiError> {
        let namespaces = find("", "v1", "namespaces").expect("namespaces are built in");
        let namespace = self.get_current(namespaces, None, ns).await?;
        if meta_str(&namespace, "deletionTimestamp").is_some()
            || namespace["status"]["phase"] == "Terminating"
        {
            return Err(ApiError {
                code: 403,
                reason: "Forbidden",
                message: format!(
                    "unable to create new content in namespace {ns} because it is being terminated"
                ),
                details: None,
            });
        }
        Ok(())
    }

    /// Replaces an object (PUT), or its status with `subresource = Some("status")`.
    pub async fn update(
        &self,
        info: &'static ResourceInfo,
        namespace: Option<&str>,
        name_in_url: &str,
        obj: Value,
        subresource: Option<&str>,
        opts: WriteOptions,
    ) -> Result<Written, ApiError> {
        let (obj, mut warnings) = versions::incoming(info, obj, opts.field_validation)?;
        let mut written = self
            .update_stored(info, namespace, name_in_url, obj, subresource, opts)
            .await?;
        warnings.append(&mut written.warnings);
        written.warnings = warnings;
        Ok(written)
    }

    /// [`Registry::update`] of `obj` in the stored version (`info` names it in errors).
    async fn update_stored(
        &self,
        info: &'static ResourceInfo,
        namespace: Option<&str>,
        name_in_url: &str,
        mut obj: Value,
        subresource: Option<&str>,
        opts: WriteOptions,
    ) -> Result<Written, ApiError> {
        let stored = storage_version(info);
        set_type_meta(stored, &mut obj)?;
        match meta_str(&obj, "name") {
            Some(n) if n == name_in_url => {}
            Some(n) if !n.is_empty() => {
                return Err(ApiError::bad_request(format!(
                    "the name of the object ({n}) does not match the name on the URL ({name_in_url})"
                )));
            }
            _ => set_meta(&mut obj, "name", Some(name_in_url.into())),
        }
        if let (true, Some(ns), Some(body_ns)) =
            (info.namespaced, namespace, meta_str(&obj, "namespace"))
            && !body_ns.is_empty()
            && body_ns != ns
        {
            return Err(ApiError::bad_request(
                "the namespace of the provided object does not match the namespace sent on the request",
            ));
        }
        let expected_rv = match meta_str(&obj, "resourceVersion") {
            Some(rv) if !rv.is_empty() => Some(parse_resource_version(rv)?),
            _ => None,
        };
        let body_uid = meta_str(&obj, "uid")
            .filter(|u| !u.is_empty())
            .map(String::from);
        let (obj, warnings) = match crate::crd::custom(info) {
            Some(cv) => crate::crd::admit::normalize(cv, obj, opts.field_validation)?,
            None => normalize(stored, obj, opts.field_validation)?,
        };
        let key = info.storage_key(namespace, name_in_url);
        loop {
            let (old, old_rev) = self.get_kv(info, namespace, name_in_url).await?;
            if expected_rv.is_some_and(|rv| rv != old_rev) {
                return Err(ApiError::conflict(info, name_in_url, ApiError::MODIFIED));
            }
            if let Some(uid) = &body_uid
                && meta_str(&old, "uid") != Some(uid.as_str())
            {
                return Err(ApiError::conflict(
                    info,
                    name_in_url,
                    &format!(
                        "Precondition failed: UID in precondition: {uid}, UID in object meta: {}",
                        meta_str(&old, "uid").unwrap_or("")
                    ),
                ));
            }
            let mut new = obj.clone();
            strategy::prepare_for_update(stored, subresource, &mut new, &old);
            if Self::is_service(info) && subresource.is_none() {
                services::drop_type_dependent_fields(&mut new, &old);
            }
            rkube_api::defaults::apply(stored.group, stored.kind, &mut new);
            if subresource.is_none() && priority::is_pod(stored) {
                if self.runs(Plugin::Priority) {
                    priority::keep_pod_priority(&mut new, &old);
                }
                if self.runs(Plugin::DefaultTolerationSeconds) {
                    // Upstream's plugin admits updates too: a replaced pod keeps its defaults.
                    default_tolerations::admit(&mut new);
                }
            }
            managed_fields::on_update(info, stored, subresource, &mut new, &old, self.now());
            // Validated as written against the stored revision; stored without it.
            set_meta(
                &mut new,
                "resourceVersion",
                Some(old_rev.to_string().into()),
            );
            let mut causes = rkube_api::validation::validate_update_via(
                info.group,
                info.version,
                stored.group,
                stored.kind,
                &new,
                &old,
            );
            causes.extend(crate::crd::admit::validate(info, &new, Some(&old)));
            set_meta(&mut new, "resourceVersion", None);
            if !causes.is_empty() {
                return Err(ApiError::invalid(info, name_in_url, causes));
            }
            if subresource.is_none()
                && priority::is_priority_class(stored)
                && self.runs(Plugin::Priority)
            {
                self.check_global_default(info, &new, true).await?;
            }
            // Finalization done: the last finalizer of a deleted object was removed.
            if deletion::update_completes_deletion(&old, &new) && !has_spec_finalizers(info, &new) {
                if opts.dry_run {
                    return Ok(dry_run::at_revision(new, old_rev, warnings));
                }
                return match self
                    .store
                    .delete(&key, Some(old_rev))
                    .await
                    .map_err(store_error)?
                {
                    DeleteOutcome::Deleted { .. } => {
                        self.after_delete(info, &old).await;
                        Ok(Written {
                            object: new,
                            warnings,
                            stored: None,
                        })
                    }
                    DeleteOutcome::NotFound => Err(ApiError::not_found(info, name_in_url)),
                    DeleteOutcome::Conflict(_) => continue,
                };
            }
            let mut old_unversioned = old.clone();
            set_meta(&mut old_unversioned, "resourceVersion", None);
            if new == old_unversioned {
                return Ok(Written {
                    object: old,
                    warnings,
                    stored: None,
                });
            }
            let (taken, freed) = if Self::is_service(info) && subresource.is_none() {
                self.services
                    .on_update(info, &mut new, &old, opts.dry_run)
                    .await?
            } else {
                Default::default()
            };
            if opts.dry_run {
                return Ok(dry_run::at_revision(new, old_rev, warnings));
            }
            let bytes = encode(&new);
            let outcome = self
                .store
                .update(&key, bytes.clone(), old_rev, None)
                .await
                .map_err(store_error);
            if !matches!(outcome, Ok(UpdateOutcome::Updated(_))) {
                self.services.release(&taken).await;
            }
            match outcome? {
                UpdateOutcome::Updated(rev) => {
                    self.services.release(&freed).await;
                    set_meta(&mut new, "resourceVersion", Some(rev.to_string().into()));
                    return Ok(Written {
                        object: new,
                        warnings,
                        stored: Some((bytes, rev)),
                    });
                }
                UpdateOutcome::Conflict(None) => {
                    return Err(ApiError::not_found(info, name_in_url));
                }
                UpdateOutcome::Conflict(Some(_)) if expected_rv.is_some() => {
                    return Err(ApiError::conflict(info, name_in_url, ApiError::MODIFIED));
                }
                UpdateOutcome::Conflict(Some(_)) => continue, // unconditional: retry on the new state
            }
        }
    }

    /// What must follow an object's removal from the store.
    async fn after_delete(&self, info: &ResourceInfo, obj: &Value) {
        if Self::is_service(info) {
            self.services.on_delete(obj).await;
        }
    }

    /// Deletes an object: gracefully (pods), through finalizers, or at once. Returns the
    /// object as it was deleted (or as it now waits for its grace period or finalizers).
    ///
    /// As upstream's generic store: the garbage-collection finalizers are set from the options
    /// (or the kind's default policy) — also on an object already being deleted, unless a pod's
    /// graceful deletion is pending; an object with finalizers is only marked; one without
    /// finalizers or grace goes at once.
    pub async fn delete(
        &self,
        info: &ResourceInfo,
        namespace: Option<&str>,
        name: &str,
        opts: &DeleteOptions,
    ) -> Result<Value, ApiError> {
        let key = info.storage_key(namespace, name);
        loop {
            let (mut obj, rev) = self.get_kv(info, namespace, name).await?;
            check_delete_preconditions(info, name, &obj, rev, opts)?;
            let already_deleting = meta_str(&obj, "deletionTimestamp").is_some();
            // A namespace waiting for its spec finalizers is left as it is (upstream's
            // namespace storage only changes finalizers on the first delete).
            if already_deleting && has_spec_finalizers(info, &obj) {
                return Ok(obj);
            }
            let now = self.now();
            let grace = deletion::grace(info, &obj, opts, now);
            if grace == deletion::Grace::Pending {
                return Ok(obj);
            }
            let original = obj.clone();
            crate::crd::admit::on_delete(info, &mut obj, now);
            if let Some(f) = deletion::gc_finalizers(info, &obj, opts) {
                set_meta(&mut obj, "finalizers", (!f.is_empty()).then(|| json!(f)));
            }
            let pending_finalizers =
                !finalizers(&obj).is_empty() || has_spec_finalizers(info, &obj);
            let meta = meta_mut(&mut obj);
            let graceful_seconds = match grace {
                deletion::Grace::Graceful { at, seconds } => {
                    if !already_deleting {
                        bump_generation(meta);
                    }
                    meta.insert("deletionTimestamp".into(), timestamp(at));
                    meta.insert("deletionGracePeriodSeconds".into(), seconds.into());
                    seconds
                }
                _ if pending_finalizers => {
                    // Marked as deleting: the finalizers' owners finish it.
                    if !already_deleting {
                        bump_generation(meta);
                    }
                    let keep_earlier = meta
                        .get("deletionTimestamp")
                        .and_then(Value::as_str)
                        .and_then(|t| t.parse::<jiff::Timestamp>().ok())
                        .is_some_and(|t| t <= now);
                    if !keep_earlier {
                        meta.insert("deletionTimestamp".into(), timestamp(now));
                    }
                    meta.insert("deletionGracePeriodSeconds".into(), 0.into());
                    0
                }
                _ => 0,
            };
            meta.remove("resourceVersion");
            if !pending_finalizers && graceful_seconds == 0 {
                if opts.dry_run {
                    return Ok(dry_run::at_revision(obj, rev, Vec::new()).object);
                }
                match self
                    .store
                    .delete(&key, Some(rev))
                    .await
                    .map_err(store_error)?
                {
                    DeleteOutcome::Deleted { .. } => {
                        self.after_delete(info, &original).await;
                        set_meta(&mut obj, "resourceVersion", Some(rev.to_string().into()));
                        return Ok(obj);
                    }
                    DeleteOutcome::NotFound => return Err(ApiError::not_found(info, name)),
                    DeleteOutcome::Conflict(_) => continue,
                }
            }
            if info.kind == "Namespace" && info.group.is_empty() {
                obj["status"]["phase"] = "Terminating".into();
            }
            let mut unchanged = original.clone();
            set_meta(&mut unchanged, "resourceVersion", None);
            if obj == unchanged {
                return Ok(original);
            }
            if opts.dry_run {
                return Ok(dry_run::at_revision(obj, rev, Vec::new()).object);
            }
            match self
                .store
                .update(&key, encode(&obj), rev, None)
                .await
                .map_err(store_error)?
            {
                UpdateOutcome::Updated(rev) => {
                    set_meta(&mut obj, "resourceVersion", Some(rev.to_string().into()));
                    return Ok(obj);
                }
                UpdateOutcome::Conflict(None) => return Err(ApiError::not_found(info, name)),
                UpdateOutcome::Conflict(Some(_)) => continue,
            }
        }
    }

    /// Creates the namespaces every cluster has (`default`, `kube-system`, `kube-public`,
    /// `kube-node-lease`) if they are missing.
    pub async fn ensure_system_namespaces(&self) -> Result<(), ApiError> {
        let namespaces = find("", "v1", "namespaces").expect("namespaces are built in");
        for ns in ["default", "kube-system", "kube-public", "kube-node-lease"] {
            let obj = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}});
            match self
                .create(namespaces, None, obj, WriteOptions::default())
                .await
            {
                Ok(_) => tracing::info!(namespace = ns, "created system namespace"),
                Err(e) if e.reason == "AlreadyExists" => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Creates the `default/kubernetes` Service on the first service IP, as upstream's
    /// bootstrap controller does, if it is missing.
    pub async fn ensure_kubernetes_service(&self, secure_port: u16) -> Result<(), ApiError> {
        let services = find("", "v1", "services").expect("services are built in");
        if self
            .get(services, Some("default"), "kubernetes")
            .await
            .is_ok()
        {
            return Ok(());
        }
        let ip = self.services.ips.nth(1).to_string();
        let svc = json!({
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "kubernetes", "namespace": "default",
                         "labels": {"component": "apiserver", "provider": "kubernetes"}},
            "spec": {"type": "ClusterIP", "clusterIP": ip, "sessionAffinity": "None",
                     "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": secure_port}]},
        });
        match self
            .create(services, Some("default"), svc, WriteOptions::default())
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.reason == "AlreadyExists" => Ok(()),
            Err(e) => Err(e),
        }
    }
}

/// The `preconditions` of a delete.
fn check_delete_preconditions(
    info: &ResourceInfo,
    name: &str,
    obj: &Value,
    rev: Revision,
    opts: &DeleteOptions,
) -> Result<(), ApiError> {
    if let Some(uid) = &opts.precondition_uid
        && meta_str(obj, "uid") != Some(uid.as_str())
    {
        return Err(ApiError::conflict(
            info,
            name,
            &format!(
                "Precondition failed: UID in precondition: {uid}, UID in object meta: {}",
                meta_str(obj, "uid").unwrap_or("")
            ),
        ));
    }
    if let Some(want) = &opts.precondition_resource_version
        && *want != rev.to_string()
    {
        return Err(ApiError::conflict(
            info,
            name,
            &format!(
                "Precondition failed: ResourceVersion in precondition: {want}, ResourceVersion in object meta: {rev}"
            ),
        ));
    }
    Ok(())
}

/// A kind that counts generations counts the start of its deletion as one.
fn bump_generation(meta: &mut serde_json::Map<String, Value>) {
    if let Some(g) = meta
        .get("generation")
        .and_then(Value::as_i64)
        .filter(|g| *g > 0)
    {
        meta.insert("generation".into(), (g + 1).into());
    }
}

/// A namespace being deleted waits for its `spec.finalizers` (the namespace controller's
/// `kubernetes` finalizer) as other objects wait for `metadata.finalizers`.
fn has_spec_finalizers(info: &ResourceInfo, obj: &Value) -> bool {
    info.group.is_empty()
        && info.kind == "Namespace"
        && obj["spec"]["finalizers"]
            .as_array()
            .is_some_and(|f| !f.is_empty())
}

/// Fills in `apiVersion` and `kind` from the URL, refusing a body of another type.
fn set_type_meta(info: &ResourceInfo, obj: &mut Value) -> Result<(), ApiError> {
    let Some(map) = obj.as_object_mut() else {
        return Err(ApiError::bad_request(
            "the request body must be a JSON object",
        ));
    };
    let api_version = info.api_version();
    match map.get("apiVersion").and_then(Value::as_str) {
        None | Some("") => {
            map.insert("apiVersion".into(), api_version.clone().into());
        }
        Some(v) if v == api_version => {}
        Some(v) => {
            return Err(ApiError::bad_request(format!(
                "the API version in the data ({v}) does not match the expected API version ({api_version})"
            )));
        }
    }
    match map.get("kind").and_then(Value::as_str) {
        None | Some("") => {
            map.insert("kind".into(), info.kind.into());
        }
        Some(k) if k == info.kind => {}
        Some(k) => {
            return Err(ApiError::bad_request(format!(
                "the kind in the data ({k}) does not match the expected kind ({})",
                info.kind
            )));
        }
    }
    Ok(())
}

/// Typed decoding; unknown fields per `fieldValidation`.
fn normalize(
    info: &ResourceInfo,
    obj: Value,
    validation: FieldValidation,
) -> Result<(Value, Vec<String>), ApiError> {
    let normalized = rkube_api::typed::normalize_version(info.group, info.version, info.kind, obj);
    normalized_verdict(info, validation, normalized)
}

/// [`normalize`] with the kind's defaults applied in the same pass (for the kinds
/// `rkube_api::defaults::applied_on_decode` names; `info` is the stored version).
fn normalize_defaulted(
    info: &ResourceInfo,
    obj: Value,
    validation: FieldValidation,
) -> Result<(Value, Vec<String>), ApiError> {
    let normalized = rkube_api::defaults::normalize_defaulted(info.group, info.kind, obj);
    normalized_verdict(info, validation, normalized)
}

fn normalized_verdict(
    info: &ResourceInfo,
    validation: FieldValidation,
    normalized: Result<rkube_api::typed::Normalized, rkube_api::typed::DecodeError>,
) -> Result<(Value, Vec<String>), ApiError> {
    let normalized = normalized.map_err(|e| {
        ApiError::bad_request(format!(
            "{} in version {:?} cannot be handled as a {}: {e}",
            info.kind, info.version, info.kind
        ))
    })?;
    let unknown: Vec<String> = normalized
        .unknown_fields
        .iter()
        .map(|f| format!("unknown field {:?}", f.trim_start_matches('.')))
        .collect();
    unknown_fields_verdict(info, validation, normalized.object, unknown)
}

/// `fieldValidation`'s verdict on `obj`'s unknown fields (as `unknown field "…"` texts):
/// `Strict` refuses the body naming them all, `Warn` returns them as warnings, `Ignore`
/// keeps quiet.
pub(crate) fn unknown_fields_verdict(
    info: &ResourceInfo,
    validation: FieldValidation,
    obj: Value,
    unknown: Vec<String>,
) -> Result<(Value, Vec<String>), ApiError> {
    match validation {
        FieldValidation::Strict if !unknown.is_empty() => Err(ApiError::bad_request(format!(
            "{} in version {:?} cannot be handled as a {}: strict decoding error: {}",
            info.kind,
            info.version,
            info.kind,
            unknown.join(", ")
        ))),
        FieldValidation::Warn => Ok((obj, unknown)),
        _ => Ok((obj, Vec::new())),
    }
}

/// A fresh embedded store under `dir`, for the registry's unit tests.
#[cfg(test)]
pub(crate) async fn test_store(dir: &std::path::Path) -> Arc<dyn Store> {
    use rkube_store::embedded::{EmbeddedOptions, EmbeddedStore};
    Arc::new(
        EmbeddedStore::open(EmbeddedOptions::new(dir.join("db")))
            .await
            .expect("embedded store opens"),
    )
}
