//! The configuration schema (SPEC 2): plain serde structs, one per section,
//! shared by every format (YAML, TOML, JSON). Defaults live here, next to the
//! field they belong to. Loading, includes, `${VAR}` expansion, `defaults`
//! merging and validation are the config loader's job (`crate::config_loader`);
//! this file only says what a valid document looks like.
//!
//! Split by section: `api` (api, metrics), `logging` (oneinit's log and a
//! service's logs), `notifiers`, `service` (a service and its small
//! sections), `checks`. Everything is re-exported here, so
//! `crate::model::config::X` names every type.

mod api;
mod checks;
mod logging;
mod notifiers;
mod service;

pub use api::*;
pub use checks::*;
pub use logging::*;
pub use notifiers::*;
pub use service::*;

use super::units::ConfDuration;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The whole, merged configuration.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Already followed by the loader; kept so `check --print` shows it.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub include: Vec<IncludeEntry>,
    pub api: ApiConfig,
    pub metrics: MetricsConfig,
    pub logging: LoggingConfig,
    pub notifiers: BTreeMap<String, NotifierConfig>,
    pub remote: RemoteConfig,
    /// Applied by the loader to every service before typing; kept raw.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub defaults: Option<serde_json::Value>,
    pub shutdown: ShutdownConfig,
    /// Environment variables that are secrets: never inherited by a child
    /// unless a service names them in `environment` (see `crate::secrets`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub secrets_env: Vec<String>,
    pub services: Services,
}

/// The merged configuration and what it was read from: what the config
/// loader answers and the manager applies (shared, so neither module
/// imports the other for it).
#[derive(Clone, Debug)]
pub struct LoadedConfig {
    pub config: Config,
    pub sources: Vec<String>,
    pub warnings: Vec<String>,
    /// Hex sha256 of every remote document used, by normalised URL; a
    /// `remote.watch` tick reloads when this changes.
    pub remote_digests: BTreeMap<String, String>,
}

/// The services by name. Shared, not copied: the ServiceManager, its
/// ServiceActors, the HealthChecker and the Notifier all hold the same
/// configs (a copy per holder was ~1.5 KiB per service each).
pub type Services = BTreeMap<String, std::sync::Arc<ServiceConfig>>;

/// One `include` entry: a path, glob or URL, or a URL pinned by its sha256.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(untagged)]
pub enum IncludeEntry {
    Source(String),
    Pinned(PinnedSource),
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PinnedSource {
    pub url: String,
    pub sha256: String,
}

// ------------------------------------------------------------- remote (SPEC 2.2)

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct RemoteConfig {
    pub timeout: ConfDuration,
    pub retries: u32,
    pub cache_dir: String,
    pub allow_http: bool,
    /// Re-fetch remote sources this often and reload when they changed.
    pub watch: Option<ConfDuration>,
    /// Extra CA bundle (PEM) trusted for https sources.
    pub ca_file: Option<String>,
}

impl Default for RemoteConfig {
    fn default() -> Self {
        RemoteConfig {
            timeout: ConfDuration::from_secs(10),
            retries: 3,
            cache_dir: "/var/cache/oneinit".into(),
            allow_http: false,
            watch: None,
            ca_file: None,
        }
    }
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ShutdownConfig {
    /// Upper bound for the whole graceful shutdown.
    pub timeout: ConfDuration,
    /// As PID 1: grace between SIGTERM and SIGKILL of leftover processes.
    pub sweep_grace: ConfDuration,
}

impl Default for ShutdownConfig {
    fn default() -> Self {
        ShutdownConfig {
            timeout: ConfDuration::from_secs(30),
            sweep_grace: ConfDuration::from_secs(2),
        }
    }
}
