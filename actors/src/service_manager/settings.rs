//! Settings outside the services that a reload applies too (SPEC 9): the
//! API's `api.auth`, `api.allowed_hosts`, TLS files and the `metrics`
//! section. They belong to the HTTP layer in the binary crate, so the
//! ServiceManager only holds a `SettingsHook` and calls it once per reload,
//! after the new configuration validated and before any service changes:
//! an error refuses the whole reload, nothing changed.

use crate::model::config::Config;
use serde::{Deserialize, Serialize};

/// What a reload changed outside the services: key names only, never values
/// (so never a secret). Part of the reload answer.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
pub struct SettingsChanges {
    /// Changed `api` keys applied live: `auth`, `tls`, `allowed_hosts`.
    pub api: Vec<String>,
    /// Changed `metrics` keys applied live: `enabled`, `path`, `auth`.
    pub metrics: Vec<String>,
    /// Changed keys that only take effect at the next start
    /// (`api.listen`, `metrics.listen`, ...).
    pub restart_needed: Vec<String>,
}

/// Applies the non-service settings of a new configuration, all or nothing.
pub trait SettingsHook {
    /// Checks and applies; errors are config errors naming the key.
    fn apply(&self, config: &Config) -> Result<SettingsChanges, Vec<String>>;
}

impl super::ServiceManager {
    /// The hook that applies `api` / `metrics` on every reload.
    pub fn with_settings_hook(
        mut self,
        hook: std::sync::Arc<dyn SettingsHook>,
    ) -> super::ServiceManager {
        self.settings_hook = Some(hook);
        self
    }
}
