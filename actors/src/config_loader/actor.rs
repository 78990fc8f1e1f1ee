//! The ConfigLoader actor: the one owner of where the configuration comes
//! from. It keeps the sources a start read (so a reload re-reads exactly
//! those), the sha256 of each remote document the running configuration
//! used, and the `remote.watch` timer (SPEC 2.2). Remote documents are read
//! through `remote.rs`, which keeps the last good copy of each in the cache
//! (`cache.rs`); validation is `load`'s.
//!
//! It answers `Load` (read and validate, change nothing) and `Reload`
//! (SIGHUP from the ServiceManager, `POST /v1/reload` from the API: load,
//! then push `ConfigChanged` to the manager, which applies it and answers
//! what changed). A `remote.watch` tick that finds a remote document
//! changed pushes `ConfigChanged` the same way.

use super::{load, ConfigError, LoadedConfig};
use crate::facts::ConfigChanged;
use crate::model::view::ReloadReport;
use actix::prelude::*;
use slog::{error, info, warn, Logger};
use std::collections::BTreeMap;
use std::time::Duration;

/// Read the sources again and return the merged, validated configuration
/// (nothing is applied).
#[derive(Message, Clone, Debug, Default)]
#[rtype(result = "Result<LoadedConfig, Vec<ConfigError>>")]
pub struct Load;

/// Re-read the configuration and have the ServiceManager apply the
/// difference. Errors are the config errors, one per line, and nothing
/// changed.
#[derive(Message)]
#[rtype(result = "Result<ReloadReport, Vec<String>>")]
pub struct Reload;

/// What the ConfigLoader is started with.
pub struct LoaderSetup {
    /// Where the configuration came from; empty when oneinit runs without
    /// a configuration file (tini mode), and then nothing can be reloaded.
    pub sources: Vec<String>,
    /// The start-up load's `remote_digests`: the baseline for `remote.watch`.
    pub digests: BTreeMap<String, String>,
    /// The start-up configuration's `remote.watch`.
    pub watch: Option<Duration>,
    /// Applies a new configuration (the ServiceManager).
    pub manager: Recipient<ConfigChanged>,
    pub log: Logger,
}

pub struct ConfigLoader {
    s: LoaderSetup,
    /// The `remote.watch` interval timer, when armed.
    timer: Option<SpawnHandle>,
    /// A watch load is in flight (ticks do not pile up behind a slow server).
    busy: bool,
}

impl ConfigLoader {
    pub fn new(setup: LoaderSetup) -> ConfigLoader {
        ConfigLoader {
            s: setup,
            timer: None,
            busy: false,
        }
    }

    /// (Re)arms the `remote.watch` timer for the running configuration:
    /// only when it came partly from remote sources.
    fn arm_watch(&mut self, ctx: &mut Context<Self>) {
        if let Some(timer) = self.timer.take() {
            ctx.cancel_future(timer);
        }
        let Some(every) = self.s.watch else {
            return;
        };
        if every.is_zero() || self.s.digests.is_empty() || self.s.sources.is_empty() {
            return;
        }
        info!(self.s.log, "watching remote configuration sources";
            "every" => format!("{every:?}"), "remote_sources" => self.s.digests.len());
        self.timer = Some(ctx.run_interval(every, |act, ctx| act.watch_tick(ctx)));
    }

    /// A new configuration was applied: it is the baseline from now on.
    fn applied(
        &mut self,
        digests: BTreeMap<String, String>,
        watch: Option<Duration>,
        ctx: &mut Context<Self>,
    ) {
        self.s.digests = digests;
        self.s.watch = watch;
        self.arm_watch(ctx);
    }

    fn watch_tick(&mut self, ctx: &mut Context<Self>) {
        if self.busy {
            return;
        }
        self.busy = true;
        let sources = self.s.sources.clone();
        let manager = self.s.manager.clone();
        let run = async move { load(&sources).await }
            .into_actor(self)
            .then(move |loaded, act, _| {
                let changed = match loaded {
                    Ok(loaded) if loaded.remote_digests != act.s.digests => {
                        info!(act.s.log, "a remote configuration source changed, reloading");
                        Some(loaded)
                    }
                    Ok(_) => None,
                    Err(errors) => {
                        for e in errors {
                            warn!(act.s.log, "remote.watch: the configuration cannot be loaded, keeping the running one: {e}");
                        }
                        None
                    }
                };
                async move {
                    let loaded = changed?;
                    let digests = loaded.remote_digests.clone();
                    let watch = loaded.config.remote.watch.map(|d| d.get());
                    match manager.send(ConfigChanged { loaded }).await {
                        Ok(Ok(_)) => Some((digests, watch)),
                        _ => None,
                    }
                }
                .into_actor(act)
            })
            .map(|applied, act, ctx| {
                act.busy = false;
                if let Some((digests, watch)) = applied {
                    act.applied(digests, watch, ctx);
                }
            });
        ctx.spawn(run);
    }
}

impl Actor for ConfigLoader {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        self.arm_watch(ctx);
    }
}

impl Handler<Load> for ConfigLoader {
    type Result = ResponseFuture<Result<LoadedConfig, Vec<ConfigError>>>;

    fn handle(&mut self, _: Load, _: &mut Context<Self>) -> Self::Result {
        let sources = self.s.sources.clone();
        Box::pin(async move { load(&sources).await })
    }
}

impl Handler<Reload> for ConfigLoader {
    type Result = ResponseActFuture<Self, Result<ReloadReport, Vec<String>>>;

    fn handle(&mut self, _: Reload, _: &mut Context<Self>) -> Self::Result {
        if self.s.sources.is_empty() {
            return Box::pin(fut::ready(Err(vec![
                "nothing to reload: oneinit was started without a configuration file".to_string(),
            ])));
        }
        let sources = self.s.sources.clone();
        let manager = self.s.manager.clone();
        let log = self.s.log.clone();
        info!(log, "reloading the configuration"; "sources" => sources.join(", "));
        let run = async move {
            let loaded = load(&sources).await.map_err(|errors| {
                let errors: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
                for e in &errors {
                    error!(log, "reload refused, nothing changed: {e}");
                }
                errors
            })?;
            let digests = loaded.remote_digests.clone();
            let watch = loaded.config.remote.watch.map(|d| d.get());
            let report = manager
                .send(ConfigChanged { loaded })
                .await
                .map_err(|_| vec!["oneinit is shutting down".to_string()])??;
            Ok::<_, Vec<String>>((report, digests, watch))
        };
        Box::pin(run.into_actor(self).map(|result, act, ctx| {
            let (report, digests, watch) = result?;
            act.applied(digests, watch, ctx);
            Ok(report)
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    /// Stands in for the ServiceManager: records what it is told to apply
    /// and answers a report naming the services.
    struct Applier(Arc<Mutex<Vec<usize>>>);

    impl Actor for Applier {
        type Context = Context<Self>;
    }

    impl Handler<ConfigChanged> for Applier {
        type Result = Result<ReloadReport, Vec<String>>;
        fn handle(&mut self, msg: ConfigChanged, _: &mut Context<Self>) -> Self::Result {
            let names: Vec<String> = msg.loaded.config.services.keys().cloned().collect();
            self.0.lock().map_err(|_| vec![])?.push(names.len());
            Ok(ReloadReport {
                unchanged: names,
                ..Default::default()
            })
        }
    }

    fn loader(sources: Vec<String>, applied: Arc<Mutex<Vec<usize>>>) -> Addr<ConfigLoader> {
        ConfigLoader::new(LoaderSetup {
            sources,
            digests: BTreeMap::new(),
            watch: None,
            manager: Applier(applied).start().recipient(),
            log: Logger::root(slog::Discard, slog::o!()),
        })
        .start()
    }

    #[actix_rt::test]
    async fn load_rereads_the_sources_and_applies_nothing() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("c.yaml");
        std::fs::write(&path, "services:\n  a: {command: x}\n").expect("write");
        let applied = Arc::new(Mutex::new(Vec::new()));
        let addr = loader(vec![path.display().to_string()], applied.clone());
        let first = addr.send(Load).await.expect("answers").expect("valid");
        assert_eq!(first.config.services.len(), 1);
        std::fs::write(&path, "services:\n  a: {command: x}\n  b: {command: y}\n").expect("write");
        let second = addr.send(Load).await.expect("answers").expect("valid");
        assert_eq!(second.config.services.len(), 2);
        assert!(applied.lock().expect("lock").is_empty());
    }

    #[actix_rt::test]
    async fn reload_pushes_the_new_config_to_the_manager_and_answers_its_report() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("c.yaml");
        std::fs::write(&path, "services:\n  a: {command: x}\n  b: {command: y}\n").expect("write");
        let applied = Arc::new(Mutex::new(Vec::new()));
        let addr = loader(vec![path.display().to_string()], applied.clone());
        let report = addr.send(Reload).await.expect("answers").expect("applied");
        assert_eq!(report.unchanged, vec!["a", "b"]);
        assert_eq!(*applied.lock().expect("lock"), vec![2]);
    }

    #[actix_rt::test]
    async fn a_bad_config_is_refused_and_never_reaches_the_manager() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("c.yaml");
        std::fs::write(&path, "services:\n  a: {comand: x}\n").expect("write");
        let applied = Arc::new(Mutex::new(Vec::new()));
        let addr = loader(vec![path.display().to_string()], applied.clone());
        let errors = addr
            .send(Reload)
            .await
            .expect("answers")
            .expect_err("refused");
        assert!(errors.iter().any(|e| e.contains("c.yaml")), "{errors:?}");
        assert!(applied.lock().expect("lock").is_empty());
    }

    #[actix_rt::test]
    async fn without_sources_there_is_nothing_to_reload() {
        let applied = Arc::new(Mutex::new(Vec::new()));
        let errors = loader(Vec::new(), applied)
            .send(Reload)
            .await
            .expect("answers")
            .expect_err("refused");
        assert!(errors[0].starts_with("nothing to reload"), "{errors:?}");
    }
}
