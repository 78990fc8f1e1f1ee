//! The level of oneinit's own log, which a reload updates (`logging.level`).
//! Applied from `reload.rs` (`apply_loaded`).

use super::ServiceManager;
use crate::config_loader::Reload;
use crate::logging::LevelHandle;
use crate::model::config::LogLevel;
use actix::prelude::*;
use slog::info;

/// What the manager keeps to change its own log level.
#[derive(Default)]
pub struct LogLevelState {
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
        self.log_level.level = Some(handle);
        self.log_level.default_level = Some(default);
        self
    }

    /// SIGHUP reloads through `to` (the ConfigLoader).
    pub fn with_reloader(mut self, to: Recipient<Reload>) -> ServiceManager {
        self.reloader = Some(to);
        self
    }

    /// Applies the top-level `logging.level` of the running configuration.
    pub(crate) fn apply_log_level(&mut self) {
        if let (Some(handle), Some(default)) = (&self.log_level.level, self.log_level.default_level)
        {
            let level = self.config.logging.level.unwrap_or(default);
            if handle.get() != level {
                handle.set(level);
                info!(self.log, "log level changed"; "level" => format!("{level:?}").to_lowercase());
            }
        }
    }
}
