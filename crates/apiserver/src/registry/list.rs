//! Lists: one page of objects read at one revision, from the store in pages of keys (with
//! `limit` and `continue` as upstream pages), or from the watch cache for
//! `resourceVersion=0`. Objects reach the caller decoded ([`Registry::list_each`]) or as
//! their stored bytes ([`Registry::list_each_raw`], for a response that copies them); both
//! share one paging loop, which hands on each stored object as bytes and mod revision.

use super::{ListOptions, ListResult, ListSummary, Registry, decode_at, list_prefix};
use super::{parse_resource_version, store_error};
use rkube_api::resources::ResourceInfo;
use rkube_api::status::ApiError;
use rkube_store::{RangeRequest, Revision, StoreError};
use serde_json::{Value, json};

/// What a list does with each stored object it reads (its bytes and mod revision): `true`
/// when the object is taken, `false` when a selector dropped it (it does not count toward
/// `limit`).
pub(super) type Visit<'a> = dyn FnMut(&[u8], Revision) -> Result<bool, ApiError> + Send + 'a;

/// What [`Registry::list_each_raw`] hands each object to: its stored bytes and mod revision.
pub type RawSink<'a> = dyn FnMut(&[u8], Revision) -> Result<(), ApiError> + Send + 'a;

/// The continue token: opaque to clients (base64 JSON, as upstream).
fn encode_continue(revision: Revision, after_key: &str) -> String {
    use base64::Engine;
    let raw = json!({"v": "meta.k8s.io/v1", "rv": revision, "start": after_key}).to_string();
    base64::engine::general_purpose::STANDARD.encode(raw)
}

fn decode_continue(token: &str) -> Result<(Revision, String), ApiError> {
    use base64::Engine;
    let bad = || ApiError::bad_request(format!("invalid continue token: {token:?}"));
    let raw = base64::engine::general_purpose::STANDARD
        .decode(token)
        .map_err(|_| bad())?;
    let v: Value = serde_json::from_slice(&raw).map_err(|_| bad())?;
    match (v["rv"].as_i64(), v["start"].as_str()) {
        (Some(rv), Some(start)) if rv > 0 => Ok((rv, start.to_string())),
        _ => Err(bad()),
    }
}

impl Registry {
    /// Lists objects (a namespace's, or all), one page at a time.
    pub async fn list(
        &self,
        info: &'static ResourceInfo,
        namespace: Option<&str>,
        opts: &ListOptions,
    ) -> Result<ListResult, ApiError> {
        let mut items = Vec::new();
        let summary = self
            .list_each(info, namespace, opts, &mut |obj| {
                items.push(obj);
                Ok(())
            })
            .await?;
        Ok(ListResult {
            items,
            resource_version: summary.resource_version,
            continue_token: summary.continue_token,
        })
    }

    /// [`Registry::list`], handing each object to `sink` as soon as it is read instead of
    /// collecting them: a LIST of every pod then holds one decoded object at a time, not
    /// all of them (decoded JSON is several times its encoded size).
    pub async fn list_each(
        &self,
        info: &'static ResourceInfo,
        namespace: Option<&str>,
        opts: &ListOptions,
        sink: &mut (dyn FnMut(Value) -> Result<(), ApiError> + Send),
    ) -> Result<ListSummary, ApiError> {
        self.list_stored(info, namespace, opts, &mut |bytes, revision| {
            let obj = decode_at(bytes, revision)?;
            if opts.filter.as_ref().is_some_and(|f| !f(&obj)) {
                return Ok(false);
            }
            sink(obj)?;
            Ok(true)
        })
        .await
    }

    /// [`Registry::list_each`] without decoding: `sink` gets each object's stored bytes and
    /// mod revision (its `resourceVersion`: the stored bytes do not carry it up to date),
    /// for a response that copies them as they are. Selecting needs decoded objects: `opts`
    /// must have no filter.
    pub async fn list_each_raw(
        &self,
        info: &'static ResourceInfo,
        namespace: Option<&str>,
        opts: &ListOptions,
        sink: &mut RawSink<'_>,
    ) -> Result<ListSummary, ApiError> {
        if opts.filter.is_some() {
            return Err(ApiError::internal("a list of stored bytes cannot select"));
        }
        self.list_stored(info, namespace, opts, &mut |bytes, revision| {
            sink(bytes, revision).map(|()| true)
        })
        .await
    }

    /// The paging both lists share: `visit` gets each stored object of the page `opts`
    /// asks for, from the watch cache when it can serve the list, else from the store.
    async fn list_stored(
        &self,
        info: &'static ResourceInfo,
        namespace: Option<&str>,
        opts: &ListOptions,
        visit: &mut Visit<'_>,
    ) -> Result<ListSummary, ApiError> {
        // From memory: any revision will do (`resourceVersion=0`, never paged, as upstream),
        // or the latest one unpaged (the cache waits until it has caught up with the store).
        let from_cache = match opts.resource_version.as_deref() {
            _ if opts.continue_token.is_some() => None,
            Some("0") => Some(false),
            None | Some("") if opts.limit == 0 && opts.resource_version_match.is_none() => {
                Some(true)
            }
            _ => None,
        };
        if let Some(consistent) = from_cache
            && let Some(cached) = self
                .list_from_cache(info, namespace, consistent, visit)
                .await?
        {
            return Ok(cached);
        }
        let prefix = list_prefix(info, namespace);
        let (mut revision, mut start_after) = match &opts.continue_token {
            Some(token) => {
                if opts
                    .resource_version
                    .as_deref()
                    .is_some_and(|rv| !rv.is_empty())
                {
                    return Err(ApiError::bad_request(
                        "specifying resource version is not allowed when using continue",
                    ));
                }
                let (rv, key) = decode_continue(token)?;
                (rv, Some(key))
            }
            None => (self.list_revision(opts).await?, None),
        };
        let mut count = 0i64;
        let page = if opts.limit > 0 {
            opts.limit.max(100)
        } else {
            1000
        };
        loop {
            let resp = self
                .store
                .range(RangeRequest {
                    prefix: prefix.clone(),
                    start_after: start_after.clone(),
                    limit: page,
                    revision,
                })
                .await
                .map_err(|e| match (e, &opts.continue_token) {
                    (StoreError::Compacted { .. }, Some(_)) => ApiError::expired(
                        "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.",
                    ),
                    (e, _) => store_error(e),
                })?;
            revision = resp.revision;
            let mut last_key = None;
            for kv in &resp.kvs {
                last_key = Some(kv.key.clone());
                if visit(&kv.value, kv.mod_revision)? {
                    count += 1;
                    if opts.limit > 0 && count == opts.limit {
                        break;
                    }
                }
            }
            let consumed_all = last_key.as_ref() == resp.kvs.last().map(|kv| &kv.key);
            let more = resp.more || !consumed_all;
            if opts.limit > 0 && count == opts.limit {
                let continue_token = more
                    .then(|| encode_continue(revision, last_key.as_deref().unwrap_or_default()));
                return Ok(ListSummary {
                    resource_version: revision,
                    continue_token,
                });
            }
            if !resp.more {
                return Ok(ListSummary {
                    resource_version: revision,
                    continue_token: None,
                });
            }
            start_after = last_key;
        }
    }

    async fn list_revision(&self, opts: &ListOptions) -> Result<Revision, ApiError> {
        let rv = match opts.resource_version.as_deref() {
            None | Some("") | Some("0") => return Ok(0),
            Some(rv) => parse_resource_version(rv)?,
        };
        match opts.resource_version_match.as_deref() {
            Some("Exact") => Ok(rv),
            None | Some("") | Some("NotOlderThan") => {
                let current = self.store.current_revision().await.map_err(store_error)?;
                if rv > current {
                    return Err(ApiError::timeout(format!(
                        "Too large resource version: {rv}, current: {current}"
                    )));
                }
                Ok(0)
            }
            Some(other) => Err(ApiError::bad_request(format!(
                "resourceVersionMatch: Unsupported value: {other:?}: supported values: \"Exact\", \"NotOlderThan\""
            ))),
        }
    }
}
