//! The scheduler's configuration file (`kubescheduler.config.k8s.io/v1`
//! `KubeSchedulerConfiguration`): profiles by `schedulerName`, plugins enabled and disabled per
//! extension point, score weights and plugin args; resolved into [`Framework`]s.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Deserialize;

use crate::framework::{Framework, Plugin, PluginSet};
use crate::plugins::{self, DEFAULT_PLUGINS};

/// The API version the file must declare.
pub const API_VERSION: &str = "kubescheduler.config.k8s.io/v1";
/// The kind the file must declare.
pub const KIND: &str = "KubeSchedulerConfiguration";
/// The profile pods get when they name no scheduler.
pub const DEFAULT_SCHEDULER_NAME: &str = "default-scheduler";

/// A configuration that cannot be used; the message names the field.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("reading scheduler configuration {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The YAML/JSON does not parse into the configuration's shape (unknown or mistyped field).
    #[error("scheduler configuration: {0}")]
    Parse(String),
    /// A field has a value that is not allowed.
    #[error("scheduler configuration: {field}: Invalid value: {message}")]
    Invalid {
        /// The field path, as upstream prints it (e.g. `profiles[0].plugins.score.enabled[1]`).
        field: String,
        /// What is wrong.
        message: String,
    },
}

fn invalid(field: impl Into<String>, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        field: field.into(),
        message: message.into(),
    }
}

/// The file's top level. Fields upstream has that do not apply here are accepted and ignored.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SchedulerConfiguration {
    /// Must be [`API_VERSION`].
    pub api_version: Option<String>,
    /// Must be [`KIND`].
    pub kind: Option<String>,
    /// Profiles; one default profile when empty.
    #[serde(default)]
    pub profiles: Vec<ProfileConfig>,
    /// Percentage of nodes to find feasible before scoring (0: adaptive).
    pub percentage_of_nodes_to_score: Option<u32>,
    /// Initial backoff of a pod that failed (seconds; default 1).
    pub pod_initial_backoff_seconds: Option<u64>,
    /// Maximum backoff (seconds; default 10).
    pub pod_max_backoff_seconds: Option<u64>,
    /// Leader election settings.
    pub leader_election: Option<LeaderElectionConfig>,
    /// Accepted for compatibility; parallelism here follows the machine's cores.
    pub parallelism: Option<u32>,
    /// Accepted for compatibility (connection settings come from the kubeconfig).
    pub client_connection: Option<serde_json::Value>,
    /// Accepted for compatibility.
    pub enable_profiling: Option<bool>,
    /// Accepted for compatibility.
    pub enable_contention_profiling: Option<bool>,
    /// Accepted for compatibility (extenders are not supported and must be empty).
    #[serde(default)]
    pub extenders: Vec<serde_json::Value>,
    /// Accepted for compatibility.
    pub delay_cache_until_active: Option<bool>,
}

/// Leader election (`leaderElection`).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LeaderElectionConfig {
    /// Whether to elect a leader before scheduling (default true).
    pub leader_elect: Option<bool>,
    /// Lease duration, e.g. "15s".
    pub lease_duration: Option<String>,
    /// How long the leader keeps trying to renew, e.g. "10s".
    pub renew_deadline: Option<String>,
    /// How often candidates retry, e.g. "2s".
    pub retry_period: Option<String>,
    /// Must be "leases" when given.
    pub resource_lock: Option<String>,
    /// The Lease's name (default kube-scheduler).
    pub resource_name: Option<String>,
    /// The Lease's namespace (default kube-system).
    pub resource_namespace: Option<String>,
}

/// One profile.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProfileConfig {
    /// The name pods select it by (default `default-scheduler`).
    pub scheduler_name: Option<String>,
    /// Changes to the default plugins.
    pub plugins: Option<PluginsConfig>,
    /// Per-plugin args.
    #[serde(default)]
    pub plugin_config: Vec<PluginArgs>,
    /// Overrides the top-level percentage for this profile.
    pub percentage_of_nodes_to_score: Option<u32>,
}

/// Plugins enabled/disabled per extension point.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PluginsConfig {
    /// Every extension point the plugin implements.
    pub multi_point: Option<PluginSetConfig>,
    /// Queue sort.
    pub queue_sort: Option<PluginSetConfig>,
    /// PreEnqueue (accepted; SchedulingGates is built in).
    pub pre_enqueue: Option<PluginSetConfig>,
    /// PreFilter.
    pub pre_filter: Option<PluginSetConfig>,
    /// Filter.
    pub filter: Option<PluginSetConfig>,
    /// PostFilter.
    pub post_filter: Option<PluginSetConfig>,
    /// PreScore.
    pub pre_score: Option<PluginSetConfig>,
    /// Score.
    pub score: Option<PluginSetConfig>,
    /// Reserve.
    pub reserve: Option<PluginSetConfig>,
    /// Permit (no in-tree plugin uses it).
    pub permit: Option<PluginSetConfig>,
    /// PreBind (no in-tree plugin here uses it).
    pub pre_bind: Option<PluginSetConfig>,
    /// Bind (DefaultBinder is built in).
    pub bind: Option<PluginSetConfig>,
    /// PostBind.
    pub post_bind: Option<PluginSetConfig>,
}

/// Enabled and disabled plugins at one point.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PluginSetConfig {
    /// Plugins to add (or re-weight).
    #[serde(default)]
    pub enabled: Vec<PluginRef>,
    /// Plugins to remove; `*` removes all defaults.
    #[serde(default)]
    pub disabled: Vec<PluginRef>,
}

/// A plugin named in a set.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PluginRef {
    /// The plugin's name.
    pub name: String,
    /// Score weight (1–100; only for score plugins).
    pub weight: Option<i64>,
}

/// Args for one plugin.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PluginArgs {
    /// The plugin's name.
    pub name: String,
    /// Its args object.
    pub args: Option<serde_json::Value>,
}

impl SchedulerConfiguration {
    /// Parses a file's text (YAML or JSON).
    pub fn parse(text: &str) -> Result<SchedulerConfiguration, ConfigError> {
        let config: SchedulerConfiguration =
            serde_saphyr::from_str(text).map_err(|e| ConfigError::Parse(e.to_string()))?;
        if config.api_version.as_deref() != Some(API_VERSION) {
            return Err(invalid(
                "apiVersion",
                format!(
                    "{:?}: must be {API_VERSION}",
                    config.api_version.as_deref().unwrap_or("")
                ),
            ));
        }
        if config.kind.as_deref() != Some(KIND) {
            return Err(invalid(
                "kind",
                format!("{:?}: must be {KIND}", config.kind.as_deref().unwrap_or("")),
            ));
        }
        if !config.extenders.is_empty() {
            return Err(invalid(
                "extenders",
                "scheduler extenders are not supported",
            ));
        }
        Ok(config)
    }

    /// Reads and parses `path`.
    pub fn load(path: &std::path::Path) -> Result<SchedulerConfiguration, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        SchedulerConfiguration::parse(&text)
    }

    /// Builds one [`Framework`] per profile (the default profile when there are none).
    pub fn frameworks(&self) -> Result<Vec<Framework>, ConfigError> {
        if let Some(p) = self.percentage_of_nodes_to_score
            && p > 100
        {
            return Err(invalid(
                "percentageOfNodesToScore",
                format!("{p}: not in valid range [0-100]"),
            ));
        }
        let default_profile = [ProfileConfig::default()];
        let profiles: &[ProfileConfig] = if self.profiles.is_empty() {
            &default_profile
        } else {
            &self.profiles
        };
        let mut out: Vec<Framework> = Vec::new();
        for (i, profile) in profiles.iter().enumerate() {
            let field = format!("profiles[{i}]");
            let fw = build_profile(profile, &field, self.percentage_of_nodes_to_score)?;
            if out.iter().any(|f| f.scheduler_name == fw.scheduler_name) {
                return Err(invalid(
                    format!("{field}.schedulerName"),
                    format!("{:?}: duplicate profile", fw.scheduler_name),
                ));
            }
            out.push(fw);
        }
        Ok(out)
    }
}

/// The default configuration's frameworks (one `default-scheduler` profile).
pub fn default_frameworks() -> Vec<Framework> {
    SchedulerConfiguration::default()
        .frameworks()
        .expect("the built-in default profile is valid")
}

/// Which extension points a point config refers to.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Point {
    PreFilter,
    Filter,
    PostFilter,
    PreScore,
    Score,
    Reserve,
}

fn implements(p: &dyn Plugin, point: Point) -> bool {
    match point {
        Point::PreFilter => p.as_pre_filter().is_some(),
        Point::Filter => p.as_filter().is_some(),
        Point::PostFilter => p.as_post_filter().is_some(),
        Point::PreScore => p.as_pre_score().is_some(),
        Point::Score => p.as_score().is_some(),
        Point::Reserve => p.as_reserve().is_some(),
    }
}

fn build_profile(
    profile: &ProfileConfig,
    field: &str,
    global_percentage: Option<u32>,
) -> Result<Framework, ConfigError> {
    let name = profile
        .scheduler_name
        .clone()
        .unwrap_or_else(|| DEFAULT_SCHEDULER_NAME.to_string());
    if name.is_empty() {
        return Err(invalid(
            format!("{field}.schedulerName"),
            "\"\": must not be empty",
        ));
    }
    // Args by plugin name.
    let mut args: BTreeMap<&str, &serde_json::Value> = BTreeMap::new();
    for (j, a) in profile.plugin_config.iter().enumerate() {
        if plugins::factory(&a.name).is_none() {
            return Err(invalid(
                format!("{field}.pluginConfig[{j}].name"),
                format!("{:?}: plugin not found", a.name),
            ));
        }
        if let Some(v) = &a.args {
            args.insert(&a.name, v);
        }
    }
    let mut instances: BTreeMap<String, Arc<dyn Plugin>> = BTreeMap::new();
    let mut instance = |plugin: &str, at: &str| -> Result<Arc<dyn Plugin>, ConfigError> {
        if let Some(p) = instances.get(plugin) {
            return Ok(p.clone());
        }
        let factory = plugins::factory(plugin)
            .ok_or_else(|| invalid(at.to_string(), format!("{plugin:?}: plugin not found")))?;
        let built = factory(args.get(plugin).copied())
            .map_err(|m| invalid(format!("{field}.pluginConfig[{plugin}].args"), m))?;
        instances.insert(plugin.to_string(), built.clone());
        Ok(built)
    };

    let cfg = profile.plugins.as_ref();
    let multi = cfg.and_then(|c| c.multi_point.as_ref());
    // Multi-point plugins: the defaults minus disabled, plus enabled.
    let mut multi_point: Vec<(String, i64)> = Vec::new();
    let all_disabled = multi.is_some_and(|m| m.disabled.iter().any(|d| d.name == "*"));
    if !all_disabled {
        for (p, w) in DEFAULT_PLUGINS {
            if multi.is_some_and(|m| m.disabled.iter().any(|d| d.name == *p)) {
                continue;
            }
            multi_point.push((p.to_string(), *w));
        }
    }
    for (j, e) in multi
        .map(|m| m.enabled.as_slice())
        .unwrap_or_default()
        .iter()
        .enumerate()
    {
        let at = format!("{field}.plugins.multiPoint.enabled[{j}]");
        check_weight(e, &at)?;
        instance(&e.name, &at)?;
        match multi_point.iter_mut().find(|(n, _)| *n == e.name) {
            Some(slot) => slot.1 = e.weight.unwrap_or(slot.1.max(1)),
            None => multi_point.push((e.name.clone(), e.weight.unwrap_or(1))),
        }
    }

    let mut set = PluginSet::default();
    let points: [(Point, &str, Option<&PluginSetConfig>); 6] = [
        (
            Point::PreFilter,
            "preFilter",
            cfg.and_then(|c| c.pre_filter.as_ref()),
        ),
        (Point::Filter, "filter", cfg.and_then(|c| c.filter.as_ref())),
        (
            Point::PostFilter,
            "postFilter",
            cfg.and_then(|c| c.post_filter.as_ref()),
        ),
        (
            Point::PreScore,
            "preScore",
            cfg.and_then(|c| c.pre_score.as_ref()),
        ),
        (Point::Score, "score", cfg.and_then(|c| c.score.as_ref())),
        (
            Point::Reserve,
            "reserve",
            cfg.and_then(|c| c.reserve.as_ref()),
        ),
    ];
    for (point, point_name, specific) in points {
        let disabled_all = specific.is_some_and(|s| s.disabled.iter().any(|d| d.name == "*"));
        let mut chosen: Vec<(Arc<dyn Plugin>, i64)> = Vec::new();
        if !disabled_all {
            for (name, weight) in &multi_point {
                if plugins::factory(name).is_none()
                    || specific.is_some_and(|s| s.disabled.iter().any(|d| &d.name == name))
                {
                    continue;
                }
                let p = instance(name, &format!("{field}.plugins.multiPoint"))?;
                if implements(p.as_ref(), point) {
                    chosen.push((p, (*weight).max(1)));
                }
            }
        }
        // Enabled at this point: re-weights a plugin already there, else appends it (upstream
        // keeps defaults in place and appends custom plugins).
        for (j, e) in specific
            .map(|s| s.enabled.as_slice())
            .unwrap_or_default()
            .iter()
            .enumerate()
        {
            let at = format!("{field}.plugins.{point_name}.enabled[{j}]");
            check_weight(e, &at)?;
            let p = instance(&e.name, &at)?;
            if !implements(p.as_ref(), point) {
                return Err(invalid(
                    at,
                    format!("{:?}: plugin does not implement {point_name}", e.name),
                ));
            }
            match chosen.iter_mut().find(|(c, _)| c.name() == p.name()) {
                Some(slot) => slot.1 = e.weight.unwrap_or(slot.1),
                None => chosen.push((p, e.weight.unwrap_or(1))),
            }
        }
        match point {
            Point::PreFilter => set.pre_filter = chosen.into_iter().map(|(p, _)| p).collect(),
            Point::Filter => set.filter = chosen.into_iter().map(|(p, _)| p).collect(),
            Point::PostFilter => set.post_filter = chosen.into_iter().map(|(p, _)| p).collect(),
            Point::PreScore => set.pre_score = chosen.into_iter().map(|(p, _)| p).collect(),
            Point::Score => set.score = chosen,
            Point::Reserve => set.reserve = chosen.into_iter().map(|(p, _)| p).collect(),
        }
    }
    let mut fw = Framework::new(name, set);
    fw.percentage_of_nodes_to_score = profile.percentage_of_nodes_to_score.or(global_percentage);
    Ok(fw)
}

fn check_weight(e: &PluginRef, at: &str) -> Result<(), ConfigError> {
    match e.weight {
        Some(w) if !(1..=100).contains(&w) => Err(invalid(
            format!("{at}.weight"),
            format!("{w}: must be in the range [1, 100]"),
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
