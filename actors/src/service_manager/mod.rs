//! ServiceManager: supervises one ServiceActor per service. It owns the
//! configuration, the signal stream (and so the one reaper), the
//! wanted/unwanted decision per service and the shutdown sequence. Each
//! service's runtime state is its ServiceActor's, told here as
//! `ServiceUpdated`; `view.rs` builds the API's `ServiceView` from it.
//! Dependency rules are `dependency_resolver::decide`, called here.
//!
//! Files: `mod.rs` set-up and facts from peers, `queries.rs` API messages,
//! `lifecycle.rs` signals, reaping and shutdown, `reload.rs` hot reload,
//! `deps.rs` the dependency rules applied, `log_level.rs` the live log level, `settings.rs` api/metrics on reload, `stopping.rs` stops with dependents
//! first, `view.rs` the API's view of a service and the board the API
//! reads views from (published here whenever a service's parts change).

pub mod activation;
mod deps;
pub mod health;
pub mod lifecycle;
pub mod log_level;
pub mod messages;
pub mod queries;
pub mod reload;
pub mod settings;
mod stopping;
#[cfg(test)]
mod tests;
mod trim;
pub mod view;
mod view_json;

use crate::feed::Feed;
use crate::logging::rotate::{report_to, RotatingFile, RotationPolicy, SharedRotatingFile};
use crate::logging::service_logs::ServiceLogs;
use crate::logging::sink::LogSink;
use crate::metrics_exporter::messages::{ServiceRegistered, ServiceRemoved};
use crate::model::config::{Config, LogFormat, ServiceConfig};
use crate::model::graph::DepGraph;
use crate::model::status::ServiceStatus;
use crate::model::view::{Health, ServiceState, StateChanged};
use crate::os::Os;
use crate::processes::ProcessTable;
use crate::service::limits::ServiceLimits;
use crate::service::messages::ServiceFact;
use crate::service::{ServiceActor, ServiceSetup};
use actix::prelude::*;
use messages::ServiceUpdated;
use slog::{debug, info, o, Logger};
use std::collections::BTreeMap;
use std::sync::Arc;

/// What the ServiceManager is started with.
pub struct ManagerSetup {
    pub config: Config,
    pub log: Logger,
    pub sink: LogSink,
    pub format: LogFormat,
    /// Observers of service facts (metrics, notifiers).
    pub facts: Vec<Recipient<ServiceFact>>,
    /// Tini mode: oneinit exits with `main`'s status.
    pub tini: bool,
    /// Told of every service added (the metrics exporter).
    pub registrations: Vec<Recipient<ServiceRegistered>>,
    /// Told of every service a reload removed (the metrics exporter).
    pub removals: Vec<Recipient<ServiceRemoved>>,
    /// `socket.listen` sockets bound before start, by service name
    /// (`sys::socket::bind_all`).
    pub sockets: BTreeMap<String, Vec<crate::sys::socket::ListenSocket>>,
    /// The kernel as the supervisor sees it: spawner, child exits, cgroups,
    /// clock (`Os::real()`, or a fake in tests).
    pub os: Os,
}

impl ManagerSetup {
    /// A manager of `config` on the real OS, with no observers, no
    /// pre-bound sockets and not in tini mode.
    pub fn real(config: Config, log: Logger, sink: LogSink, format: LogFormat) -> ManagerSetup {
        ManagerSetup {
            config,
            log,
            sink,
            format,
            facts: Vec::new(),
            tini: false,
            registrations: Vec::new(),
            removals: Vec::new(),
            sockets: BTreeMap::new(),
            os: Os::real(),
        }
    }
}

/// One supervised service as the manager sees it.
pub struct Entry {
    pub cfg: Arc<ServiceConfig>,
    pub addr: Addr<ServiceActor>,
    /// The runtime status its actor last published (the actor owns it);
    /// shared with the view board.
    pub status: Arc<ServiceStatus>,
    pub logs: Arc<ServiceLogs>,
    pub wanted: bool,
    /// Some instance was ever SIGKILLed (oneinit's exit code, SPEC 1).
    pub killed: bool,
    /// Told by the HealthChecker.
    pub health: Health,
    /// Shared with the ServiceActor and the view board: usage is read when
    /// a view is built.
    pub limits: Arc<ServiceLimits>,
    /// The generation of the actor that currently runs it.
    pub generation: u64,
    /// Reload: removed (None) or changed (Some(new config)); applied once
    /// the current actor has stopped everything.
    pub retiring: Option<Option<Arc<ServiceConfig>>>,
}

/// The manager's recipients of `ServiceUpdated` and `ActivateService`.
type OwnRecipients = (
    Arc<Recipient<ServiceUpdated>>,
    Arc<Recipient<crate::facts::ActivateService>>,
);

pub struct ServiceManager {
    pub(crate) config: Config,
    pub(crate) log: Logger,
    pub(crate) sink: LogSink,
    pub(crate) format: LogFormat,
    /// Shared with every ServiceActor (one list, not a copy per service).
    pub(crate) facts: Arc<[Recipient<ServiceFact>]>,
    pub(crate) tini: bool,
    /// Tini mode without a config file: every signal but SIGCHLD is passed
    /// to the services that forward it (`main`), none is oneinit's (SPEC 1).
    pub(crate) pass_signals: bool,
    pub(crate) registrations: Vec<Recipient<ServiceRegistered>>,
    pub(crate) removals: Vec<Recipient<ServiceRemoved>>,
    pub(crate) services: BTreeMap<String, Entry>,
    /// The dependency graph of `config` (rebuilt on reload).
    pub(crate) graph: DepGraph,
    /// Stops in progress, dependents first (`stopping.rs`).
    pub(crate) stop_plans: Vec<crate::model::stop_plan::StopPlan>,
    pub(crate) procs: ProcessTable,
    pub(crate) events: Feed<StateChanged>,
    pub(crate) log_arbiter: Option<Arbiter>,
    pub(crate) shutdown: Option<crate::model::shutdown::Shutdown>,
    /// Spawner, child exits, cgroup host and clock (`crate::os`).
    /// Shared with every ServiceActor (one pointer each, not five).
    pub(crate) os: Arc<Os>,
    /// SIGHUP asks it for a reload (the ConfigLoader).
    pub(crate) reloader: Option<Recipient<crate::config_loader::Reload>>,
    /// Peers told of every applied configuration (see `health.rs`).
    pub(crate) config_observers: Vec<Recipient<health::ConfigApplied>>,
    /// Peers told which actor runs each service (see `health.rs`).
    pub(crate) actor_observers: Vec<Recipient<crate::service::messages::ServiceActorStarted>>,
    pub(crate) next_generation: u64,
    /// The live log level (see `log_level.rs`).
    pub(crate) log_level: log_level::LogLevelState,
    /// The trim of freed memory after a burst (see `trim.rs`).
    pub(crate) trim: trim::TrimState,
    /// Bound activation sockets by service; kept here so a reloaded service
    /// with the same addresses gets the same sockets (`activation.rs`).
    pub(crate) sockets: BTreeMap<String, Vec<std::rc::Rc<crate::sys::socket::ListenSocket>>>,
    /// Applies `api` / `metrics` on reload (the HTTP layer; `settings.rs`).
    pub(crate) settings_hook: Option<std::sync::Arc<dyn settings::SettingsHook>>,
    /// What the API builds service views from (`view.rs`).
    pub(crate) views: view::ViewBoard,
    /// Its own address as the recipients every ServiceActor gets, made
    /// once and shared: a recipient of its own per actor is two
    /// allocations (~0.15 KiB per service with glibc's overhead).
    own_recipients: Option<OwnRecipients>,
}

impl ServiceManager {
    pub fn new(setup: ManagerSetup) -> ServiceManager {
        ServiceManager {
            config: setup.config,
            log: setup.log,
            sink: setup.sink,
            format: setup.format,
            facts: setup.facts.into(),
            tini: setup.tini,
            pass_signals: false,
            registrations: setup.registrations,
            removals: setup.removals,
            services: BTreeMap::new(),
            graph: DepGraph::default(),
            stop_plans: Vec::new(),
            procs: ProcessTable::default(),
            events: Feed::new(4096),
            log_arbiter: None,
            shutdown: None,
            os: Arc::new(setup.os),
            reloader: None,
            config_observers: Vec::new(),
            actor_observers: Vec::new(),
            next_generation: 1,
            log_level: log_level::LogLevelState::default(),
            trim: trim::TrimState::default(),
            sockets: setup
                .sockets
                .into_iter()
                .map(|(k, v)| (k, v.into_iter().map(std::rc::Rc::new).collect()))
                .collect(),
            settings_hook: None,
            views: view::ViewBoard::default(),
            own_recipients: None,
        }
    }

    /// Starts the actor of one service (not its processes).
    pub(crate) fn add_service(
        &mut self,
        name: &str,
        cfg: Arc<ServiceConfig>,
        ctx: &mut Context<Self>,
    ) {
        // One logger with the service's key for its logs and its actor.
        let log = self.log.new(o!("service" => name.to_string()));
        let logs = Arc::new(
            ServiceLogs::new(name, cfg.logs.ring, self.format, self.sink.clone())
                .with_limits(cfg.logs.ring, cfg.logs.buffer.0, cfg.logs.on_full)
                .with_log(log.clone()),
        );
        let log_arbiter = match &self.log_arbiter {
            Some(a) => a.handle(),
            None => return,
        };
        if let Some(policy) = RotationPolicy::for_service(&cfg.logs) {
            let file = RotatingFile::open(policy, report_to(log.clone()));
            logs.set_file(Some(Box::new(SharedRotatingFile::new(file))));
        }
        for r in &self.registrations {
            r.do_send(ServiceRegistered {
                service: name.to_string(),
                cfg: cfg.clone(),
                logs: logs.clone(),
            });
        }
        let limits = Arc::new(ServiceLimits::new(name, &cfg, self.os.cgroups.clone()));
        let (manager, activate) = self
            .own_recipients
            .get_or_insert_with(|| {
                (
                    Arc::new(ctx.address().recipient()),
                    Arc::new(ctx.address().recipient()),
                )
            })
            .clone();
        let generation = self.next_generation;
        self.next_generation += 1;
        let setup = ServiceSetup {
            name: name.to_string(),
            generation,
            cfg: cfg.clone(),
            manager,
            facts: self.facts.clone(),
            procs: self.procs.clone(),
            logs: logs.clone(),
            log_arbiter,
            log,
            limits: limits.clone(),
            sockets: self.sockets_for(name, &cfg),
            activate: Some(activate),
            os: self.os.clone(),
        };
        let actor = ServiceActor::new(setup);
        let addr = actor.start();
        self.tell_actor_observers(name, &cfg, &addr);
        self.services.insert(
            name.to_string(),
            Entry {
                cfg,
                addr,
                status: Arc::new(ServiceStatus::inactive()),
                logs,
                wanted: false,
                killed: false,
                health: Health::Unknown,
                limits,
                generation,
                retiring: None,
            },
        );
        self.publish_view(name);
    }

    pub(crate) fn install_graph(&mut self) {
        self.graph = DepGraph::build(&self.config.services);
    }
}

impl Actor for ServiceManager {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        let log_arbiter = Arbiter::new();
        log_arbiter.spawn_fn(crate::sys::priority::lower_this_thread_for_logs);
        self.log_arbiter = Some(log_arbiter);
        self.install_graph();
        self.start_signal_stream(ctx);
        let configs: Vec<(String, Arc<ServiceConfig>)> = self
            .config
            .services
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        for (name, cfg) in &configs {
            self.add_service(name, cfg.clone(), ctx);
        }
        info!(self.log, "oneinit started"; "services" => configs.len(), "version" => env!("CARGO_PKG_VERSION"));
        for (name, cfg) in &configs {
            if cfg.autostart() {
                self.want(name);
            }
        }
        // Children may have exited before the SIGCHLD handler existed.
        self.reap();
    }
}

impl Handler<ServiceUpdated> for ServiceManager {
    type Result = ();
    fn handle(&mut self, msg: ServiceUpdated, ctx: &mut Context<Self>) {
        let name = msg.service;
        let dep_before = self.dep_state(&name);
        let Some(e) = self.services.get_mut(&name) else {
            return;
        };
        if msg.generation != e.generation {
            debug!(self.log, "ignored an update from a retired actor"; "service" => &name,
                "generation" => msg.generation, "current" => e.generation);
            return;
        }
        let previous = e.status.state;
        let health = e.health;
        e.killed |= msg.status.killed;
        e.status = Arc::new(msg.status);
        let state = e.status.state;
        self.views.publish(&name, e.view_parts());
        let changed = previous != state;
        if changed {
            let pid = e.status.instances.iter().find_map(|i| i.pid);
            self.events.send(|| StateChanged {
                ts: self.os.clock.utc(),
                service: name.clone(),
                state,
                previous,
                health,
                pid,
            });
        }
        let ended_for_good = matches!(state, ServiceState::Completed | ServiceState::Failed);
        let critical = e.cfg.critical;
        let code = e.status.last_exit_code.unwrap_or(0);
        self.resolve(&name, dep_before);
        if self.shutdown.is_none() {
            self.advance_stop_plans();
        }
        if changed {
            self.note_activity(ctx);
        }
        if changed && ended_for_good && critical && self.shutdown.is_none() {
            info!(self.log, "critical service ended, shutting down"; "service" => &name, "exit_code" => code);
            self.begin_shutdown(Some(code), ctx);
        }
        if self.shutdown.is_some() {
            self.advance_shutdown(ctx);
        } else {
            self.retire_if_settled(&name, ctx);
        }
    }
}
