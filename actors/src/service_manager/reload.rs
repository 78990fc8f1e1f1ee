//! Hot reload: the ConfigLoader re-reads the sources (SIGHUP, `POST
//! /v1/reload`, `remote.watch`) and pushes `ConfigChanged`; only if the
//! whole new configuration is valid is the difference applied here:
//! added services start, removed ones stop, changed ones are stopped and
//! started again with their new config (their `requires` dependents follow
//! through the usual dependency kill), unchanged ones are not touched.

use super::lifecycle::settled;
use super::messages::ConfigChanged;
use super::ServiceManager;
use crate::config_loader::LoadedConfig;
use crate::metrics_exporter::messages::ServiceRemoved;
use crate::model::config::{Config, ServiceConfig};
use crate::model::machine::StopTarget;
use crate::model::view::ReloadReport;
use crate::service::messages::Stop;
use crate::service::plan;
use actix::prelude::*;
use slog::{error, info, o, warn};
use std::sync::Arc;

impl ServiceManager {
    /// Applies a freshly loaded configuration (reload or `remote.watch`):
    /// its warnings are logged, services diffed, top-level settings
    /// (log level, watch timer) updated.
    pub(crate) fn apply_loaded(
        &mut self,
        loaded: LoadedConfig,
        ctx: &mut Context<Self>,
    ) -> Result<ReloadReport, Vec<String>> {
        for w in &loaded.warnings {
            warn!(self.log, "{w}");
        }
        let report = self.apply(loaded.config, ctx).inspect_err(|errors| {
            for e in errors {
                error!(self.log, "reload refused, nothing changed: {e}");
            }
        })?;
        self.apply_log_level();
        Ok(report)
    }

    /// Applies a validated configuration; returns what changed.
    fn apply(
        &mut self,
        mut new: Config,
        ctx: &mut Context<Self>,
    ) -> Result<ReloadReport, Vec<String>> {
        if self.tini {
            if let Some(main) = self.config.services.get("main") {
                new.services.insert("main".into(), main.clone());
            }
        }
        let mut identity_errors: Vec<String> = new
            .services
            .iter()
            .filter_map(|(n, s)| {
                plan::check_identity(s)
                    .err()
                    .map(|e| format!("service {n:?}: {e}"))
            })
            .collect();
        identity_errors.extend(crate::model::activation::check(&new.services));
        if !identity_errors.is_empty() {
            return Err(identity_errors);
        }
        // API auth, TLS files, metrics: all or nothing, before any service
        // changes, so an invalid token source refuses the whole reload.
        let settings = match &self.settings_hook {
            Some(hook) => hook.apply(&new)?,
            None => Default::default(),
        };
        // New `secrets_env` / `token_env` names before any new child starts.
        crate::secrets::protect(&new);
        let mut report = ReloadReport {
            api: settings.api,
            metrics: settings.metrics,
            restart_needed: settings.restart_needed,
            ..ReloadReport::default()
        };
        if !report.restart_needed.is_empty() {
            warn!(self.log, "some changed settings take effect at the next start only";
                "keys" => report.restart_needed.join(", "));
        }
        for name in self.config.services.keys() {
            if !new.services.contains_key(name) {
                report.removed.push(name.clone());
            }
        }
        for (name, cfg) in &new.services {
            match self.config.services.get(name) {
                None => report.added.push(name.clone()),
                Some(old) if old != cfg => report.changed.push(name.clone()),
                Some(_) => report.unchanged.push(name.clone()),
            }
        }
        self.config = new;
        self.tell_config_observers();
        self.install_graph();
        for name in &report.removed {
            self.retire(name, None);
        }
        for name in &report.changed {
            let cfg = self.config.services.get(name).cloned();
            self.retire(name, cfg);
        }
        for name in &report.added {
            if let Some(cfg) = self.config.services.get(name).cloned() {
                let autostart = cfg.autostart();
                self.add_service(name, cfg, ctx);
                if autostart {
                    self.want(name);
                }
            }
        }
        for name in report
            .removed
            .clone()
            .iter()
            .chain(report.changed.clone().iter())
        {
            self.retire_if_settled(name, ctx);
        }
        info!(self.log, "configuration reloaded"; "event" => "reloaded",
            "added" => report.added.len(), "removed" => report.removed.len(),
            "changed" => report.changed.len(), "unchanged" => report.unchanged.len(),
            "api" => report.api.join(","), "metrics" => report.metrics.join(","));
        Ok(report)
    }

    /// Stops a removed (`next` None) or changed service's current actor.
    fn retire(&mut self, name: &str, next: Option<Arc<ServiceConfig>>) {
        let Some(e) = self.services.get_mut(name) else {
            return;
        };
        let log = self.log.new(o!("service" => name.to_string()));
        info!(
            log,
            "{}",
            if next.is_some() {
                "restarting with its new configuration"
            } else {
                "removed from the configuration, stopping"
            }
        );
        e.retiring = Some(next);
        e.addr.do_send(Stop {
            target: StopTarget::Stopped,
            signal: None,
        });
    }

    /// Once a retiring service's processes are gone: drop it, or start its
    /// replacement with the new config.
    pub(crate) fn retire_if_settled(&mut self, name: &str, ctx: &mut Context<Self>) {
        let Some(e) = self.services.get(name) else {
            return;
        };
        if e.retiring.is_none() || !settled(e.status.state) {
            return;
        }
        let was_wanted = e.wanted;
        let Some(e) = self.services.remove(name) else {
            return;
        };
        // A retired actor and its buffers are gone: give the memory back.
        self.note_activity(ctx);
        match e.retiring.flatten() {
            None => {
                self.views.remove(name);
                for r in &self.removals {
                    r.do_send(ServiceRemoved {
                        service: name.to_string(),
                    });
                }
            }
            Some(cfg) => {
                let autostart = cfg.autostart();
                self.add_service(name, cfg, ctx);
                if autostart || was_wanted {
                    self.want(name);
                }
            }
        }
    }
}

impl Handler<ConfigChanged> for ServiceManager {
    type Result = Result<ReloadReport, Vec<String>>;

    fn handle(&mut self, msg: ConfigChanged, ctx: &mut Context<Self>) -> Self::Result {
        if self.shutdown.is_some() {
            return Err(vec!["oneinit is shutting down".to_string()]);
        }
        self.apply_loaded(msg.loaded, ctx)
    }
}
