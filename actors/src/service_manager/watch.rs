//! `remote.watch` (SPEC 2.2 note): when the key is set and the running
//! configuration came partly from remote sources, re-load the configuration
//! at that interval and apply it when the content of a remote document
//! changed (compared by sha256). Also the run-time settings a reload updates
//! besides services: the level of oneinit's own log.
//!
//! Talks to: `config_loader::load` (the same load a reload does) and
//! `reload.rs` (`apply_loaded`).

use super::ServiceManager;
use crate::config_loader;
use crate::logging::LevelHandle;
use crate::model::config::LogLevel;
use actix::prelude::*;
use slog::{info, warn};
use std::collections::BTreeMap;

/// What the manager keeps for `remote.watch` and live settings.
#[derive(Default)]
pub struct WatchState {
    /// sha256 per remote document of the running configuration.
    pub digests: BTreeMap<String, String>,
    /// The interval timer, when armed.
    timer: Option<SpawnHandle>,
    /// A watch load is in flight (ticks do not pile up behind a slow server).
    busy: bool,
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
        self.watch.level = Some(handle);
        self.watch.default_level = Some(default);
        self
    }

    /// The sha256 of each remote document the start-up configuration used
    /// (`LoadedConfig::remote_digests`), the baseline for `remote.watch`.
    pub fn with_remote_digests(mut self, digests: BTreeMap<String, String>) -> ServiceManager {
        self.watch.digests = digests;
        self
    }

    /// Applies the top-level `logging.level` of the running configuration.
    pub(crate) fn apply_log_level(&mut self) {
        if let (Some(handle), Some(default)) = (&self.watch.level, self.watch.default_level) {
            let level = self.config.logging.level.unwrap_or(default);
            if handle.get() != level {
                handle.set(level);
                info!(self.log, "log level changed"; "level" => format!("{level:?}").to_lowercase());
            }
        }
    }

    /// (Re)arms the `remote.watch` timer for the running configuration.
    pub(crate) fn arm_watch(&mut self, ctx: &mut Context<Self>) {
        if let Some(timer) = self.watch.timer.take() {
            ctx.cancel_future(timer);
        }
        let Some(every) = self.config.remote.watch.map(|d| d.get()) else {
            return;
        };
        if every.is_zero() || self.watch.digests.is_empty() || self.sources.is_empty() {
            return;
        }
        info!(self.log, "watching remote configuration sources";
            "every" => format!("{every:?}"), "remote_sources" => self.watch.digests.len());
        self.watch.timer = Some(ctx.run_interval(every, |act, ctx| act.watch_tick(ctx)));
    }

    fn watch_tick(&mut self, ctx: &mut Context<Self>) {
        if self.watch.busy || self.shutdown.is_some() {
            return;
        }
        self.watch.busy = true;
        let sources = self.sources.clone();
        let load = async move { config_loader::load(&sources).await }
            .into_actor(self)
            .map(|loaded, act, ctx| {
                act.watch.busy = false;
                if act.shutdown.is_some() {
                    return;
                }
                match loaded {
                    Ok(loaded) if loaded.remote_digests != act.watch.digests => {
                        info!(act.log, "a remote configuration source changed, reloading");
                        let _ = act.apply_loaded(loaded, ctx);
                    }
                    Ok(_) => {}
                    Err(errors) => {
                        for e in errors {
                            warn!(act.log, "remote.watch: the configuration cannot be loaded, keeping the running one: {e}");
                        }
                    }
                }
            });
        ctx.spawn(load);
    }
}
