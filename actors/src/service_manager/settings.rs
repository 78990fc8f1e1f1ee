//! The run-time settings a reload updates besides services: the level of
//! oneinit's own log. Applied from `reload.rs` (`apply_loaded`).

use super::ServiceManager;
use crate::config_loader::Reload;
use crate::logging::LevelHandle;
use crate::model::config::LogLevel;
use actix::prelude::*;
use slog::info;

/// What the manager keeps for live settings.
#[derive(Default)]
pub struct Settings {
    /// oneinit's own log level; None when `--log-level` fixed it.
    pub level: Option<LevelHandle>,
    /// The level used when the configuration sets none.
    pub default_level: Option<LogLevel>,
}

impl ServiceManager {
    /// Lets a reload change the level of oneinit's own log (`logging.level`);
    /// `default` applies when the new configuration sets no level. Not
    /// called when `--log-level` was given: the flag wins.
    pub fn with_log_level(mut self, handle: LevelHandle, default: LogLevel) -> ServiceManager {
        self.settings.level = Some(handle);
        self.settings.default_level = Some(default);
        self
    }

    /// SIGHUP reloads through `to` (the ConfigLoader).
    pub fn with_reloader(mut self, to: Recipient<Reload>) -> ServiceManager {
        self.reloader = Some(to);
        self
    }

    /// Applies the top-level `logging.level` of the running configuration.
    pub(crate) fn apply_log_level(&mut self) {
        if let (Some(handle), Some(default)) = (&self.settings.level, self.settings.default_level) {
            let level = self.config.logging.level.unwrap_or(default);
            if handle.get() != level {
                handle.set(level);
                info!(self.log, "log level changed"; "level" => format!("{level:?}").to_lowercase());
            }
        }
    }
}
