//! ServiceManager: supervises one ServiceActor per service. It owns the
//! signal stream (and so the one reaper), the cached views the API reads,
//! the wanted/unwanted decision per service, and the shutdown sequence.
//! Dependency rules are the DependencyResolver's; process life is the
//! ServiceActors'.
//!
//! Files: `mod.rs` set-up and facts from peers, `queries.rs` API messages,
//! `lifecycle.rs` signals, reaping and shutdown, `reload.rs` hot reload,
//! `watch.rs` `remote.watch` and the live log level.

pub mod activation;
pub mod health;
pub mod lifecycle;
pub mod messages;
pub mod process_table;
pub mod queries;
pub mod reload;
pub mod settings;
mod trim;
pub mod watch;

use crate::dependency_resolver::messages::{DependencyChanged, DependencyDecision, SetGraph};
use crate::dependency_resolver::DependencyResolver;
use crate::feed::Feed;
use crate::logging::rotate::{report_to, RotatingFile, RotationPolicy, SharedRotatingFile};
use crate::logging::service_logs::ServiceLogs;
use crate::logging::sink::LogSink;
use crate::metrics_exporter::messages::{ServiceRegistered, ServiceRemoved};
use crate::model::config::{Config, LogFormat, ServiceConfig};
use crate::model::graph::DepGraph;
use crate::model::machine::StopTarget;
use crate::model::view::{GraphEdge, Health, ServiceState, ServiceView, StateChanged};
use crate::service::limits::ServiceLimits;
use crate::service::messages::{ServiceFact, ServiceUpdated, Start, Stop, Wait};
use crate::service::{ServiceActor, ServiceSetup};
use crate::sys::cgroup::CgroupHost;
use actix::prelude::*;
use chrono::Utc;
use lifecycle::ShutdownState;
use process_table::ProcessTable;
use slog::{info, o, Logger};
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
    /// Where the configuration came from (re-read on reload); empty when
    /// there is no config file (tini mode without one).
    pub sources: Vec<String>,
    /// `socket.listen` sockets bound before start, by service name
    /// (`sys::socket::bind_all`).
    pub sockets: BTreeMap<String, Vec<crate::sys::socket::ListenSocket>>,
}

/// One supervised service as the manager sees it.
pub struct Entry {
    pub cfg: Arc<ServiceConfig>,
    pub addr: Addr<ServiceActor>,
    pub view: ServiceView,
    pub logs: Arc<ServiceLogs>,
    pub wanted: bool,
    pub released: bool,
    pub killed: bool,
    pub last_exit_code: Option<i32>,
    pub health: Health,
    /// Shared with the ServiceActor: usage is read at query time.
    pub limits: Arc<ServiceLimits>,
    /// The generation of the actor that currently runs it.
    pub generation: u64,
    /// Reload: removed (None) or changed (Some(new config)); applied once
    /// the current actor has stopped everything.
    pub retiring: Option<Option<Arc<ServiceConfig>>>,
}

pub struct ServiceManager {
    pub(crate) config: Config,
    pub(crate) log: Logger,
    pub(crate) sink: LogSink,
    pub(crate) format: LogFormat,
    pub(crate) facts: Vec<Recipient<ServiceFact>>,
    pub(crate) tini: bool,
    /// Tini mode without a config file: every signal but SIGCHLD is passed
    /// to the services that forward it (`main`), none is oneinit's (SPEC 1).
    pub(crate) pass_signals: bool,
    pub(crate) registrations: Vec<Recipient<ServiceRegistered>>,
    pub(crate) removals: Vec<Recipient<ServiceRemoved>>,
    pub(crate) services: BTreeMap<String, Entry>,
    pub(crate) edges: Vec<GraphEdge>,
    pub(crate) resolver: Option<Addr<DependencyResolver>>,
    pub(crate) procs: ProcessTable,
    pub(crate) events: Feed<StateChanged>,
    pub(crate) log_arbiter: Option<Arbiter>,
    pub(crate) shutdown: Option<ShutdownState>,
    /// The host's cgroups, detected once; parents removed at exit.
    pub(crate) cgroups: Arc<CgroupHost>,
    pub(crate) sources: Vec<String>,
    /// Peers told of every applied configuration (see `health.rs`).
    pub(crate) config_observers: Vec<Recipient<health::ConfigApplied>>,
    pub(crate) next_generation: u64,
    /// `remote.watch` and the live log level (see `watch.rs`).
    pub(crate) watch: watch::WatchState,
    /// The trim of freed memory after a burst (see `trim.rs`).
    pub(crate) trim: trim::TrimState,
    /// Bound activation sockets by service; kept here so a reloaded service
    /// with the same addresses gets the same sockets (`activation.rs`).
    pub(crate) sockets: BTreeMap<String, Vec<std::rc::Rc<crate::sys::socket::ListenSocket>>>,
    /// Applies `api` / `metrics` on reload (the HTTP layer; `settings.rs`).
    pub(crate) settings_hook: Option<std::sync::Arc<dyn settings::SettingsHook>>,
}

impl ServiceManager {
    pub fn new(setup: ManagerSetup) -> ServiceManager {
        ServiceManager {
            config: setup.config,
            log: setup.log,
            sink: setup.sink,
            format: setup.format,
            facts: setup.facts,
            tini: setup.tini,
            pass_signals: false,
            registrations: setup.registrations,
            removals: setup.removals,
            services: BTreeMap::new(),
            edges: Vec::new(),
            resolver: None,
            procs: ProcessTable::default(),
            events: Feed::new(4096),
            log_arbiter: None,
            shutdown: None,
            cgroups: Arc::new(CgroupHost::detect()),
            sources: setup.sources,
            config_observers: Vec::new(),
            next_generation: 1,
            watch: watch::WatchState::default(),
            trim: trim::TrimState::default(),
            sockets: setup
                .sockets
                .into_iter()
                .map(|(k, v)| (k, v.into_iter().map(std::rc::Rc::new).collect()))
                .collect(),
            settings_hook: None,
        }
    }

    /// Starts the actor of one service (not its processes).
    pub(crate) fn add_service(
        &mut self,
        name: &str,
        cfg: Arc<ServiceConfig>,
        ctx: &mut Context<Self>,
    ) {
        let logs = Arc::new(
            ServiceLogs::new(name, cfg.logs.ring, self.format, self.sink.clone())
                .with_limits(cfg.logs.ring, cfg.logs.buffer.0, cfg.logs.on_full)
                .with_log(self.log.new(o!("service" => name.to_string()))),
        );
        let log_arbiter = match &self.log_arbiter {
            Some(a) => a.handle(),
            None => return,
        };
        if let Some(policy) = RotationPolicy::for_service(&cfg.logs) {
            let file_log = self.log.new(o!("service" => name.to_string()));
            let file = RotatingFile::open(policy, report_to(file_log));
            logs.set_file(Some(Box::new(SharedRotatingFile::new(file))));
        }
        for r in &self.registrations {
            r.do_send(ServiceRegistered {
                service: name.to_string(),
                cfg: cfg.clone(),
                logs: logs.clone(),
            });
        }
        let limits = Arc::new(ServiceLimits::new(name, &cfg, self.cgroups.clone()));
        let generation = self.next_generation;
        self.next_generation += 1;
        let setup = ServiceSetup {
            name: name.to_string(),
            generation,
            cfg: cfg.clone(),
            manager: ctx.address().recipient(),
            facts: self.facts.clone(),
            procs: self.procs.clone(),
            logs: logs.clone(),
            log_arbiter,
            log: self.log.clone(),
            limits: limits.clone(),
            sockets: self.sockets_for(name, &cfg),
            activate: Some(ctx.address().recipient()),
        };
        let actor = ServiceActor::new(setup);
        let view = actor_view_placeholder(name, &cfg);
        let addr = actor.start();
        self.services.insert(
            name.to_string(),
            Entry {
                cfg,
                addr,
                view,
                logs,
                wanted: false,
                released: false,
                killed: false,
                last_exit_code: None,
                health: Health::Unknown,
                limits,
                generation,
                retiring: None,
            },
        );
    }

    /// Marks a service wanted and lets the resolver start it when its
    /// dependencies allow.
    pub(crate) fn want(&mut self, name: &str) {
        if let Some(e) = self.services.get_mut(name) {
            e.wanted = true;
            e.addr.do_send(Wait);
            self.tell_resolver(name);
        }
    }

    pub(crate) fn tell_resolver(&self, name: &str) {
        if let (Some(r), Some(e)) = (&self.resolver, self.services.get(name)) {
            r.do_send(DependencyChanged {
                service: name.to_string(),
                state: e.view.state,
                released: e.released,
                wanted: e.wanted,
            });
        }
    }

    pub(crate) fn install_graph(&mut self) {
        let graph = DepGraph::build(&self.config.services);
        self.edges = graph.edges();
        if let Some(r) = &self.resolver {
            r.do_send(SetGraph { graph });
        }
    }
}

/// The view of a service before its actor has published anything.
fn actor_view_placeholder(name: &str, cfg: &ServiceConfig) -> ServiceView {
    ServiceView {
        name: name.to_string(),
        description: cfg.description.clone(),
        kind: cfg.kind.as_str().into(),
        state: ServiceState::Inactive,
        health: Health::Unknown,
        status_text: None,
        instances: Vec::new(),
        restarts: 0,
        uptime_seconds: None,
        last_exit: None,
        requires: cfg.requires.clone(),
        wants: cfg.wants.clone(),
        after: cfg.after.clone(),
        before: cfg.before.clone(),
        autostart: cfg.autostart(),
        critical: cfg.critical,
        next_run: None,
        listen: Vec::new(),
        runs_total: None,
        memory_bytes: None,
        cpu_seconds: None,
        limits: Default::default(),
    }
}

impl Actor for ServiceManager {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        self.log_arbiter = Some(Arbiter::new());
        self.resolver = Some(DependencyResolver::new(ctx.address().recipient()).start());
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
        self.arm_watch(ctx);
    }
}

impl Handler<ServiceUpdated> for ServiceManager {
    type Result = ();
    fn handle(&mut self, msg: ServiceUpdated, ctx: &mut Context<Self>) {
        let name = msg.view.name.clone();
        let Some(e) = self.services.get_mut(&name) else {
            return;
        };
        let previous = e.view.state;
        let health = e.health;
        e.view = msg.view;
        e.view.health = health;
        e.released = msg.released;
        e.killed |= msg.killed;
        e.last_exit_code = msg.last_exit_code;
        let state = e.view.state;
        let changed = previous != state;
        if changed {
            let pid = e.view.instances.iter().find_map(|i| i.pid);
            self.events.send(|| StateChanged {
                ts: Utc::now(),
                service: name.clone(),
                state,
                previous,
                health,
                pid,
            });
        }
        let ended_for_good = matches!(state, ServiceState::Completed | ServiceState::Failed);
        let critical = e.cfg.critical;
        let code = e.last_exit_code.unwrap_or(0);
        self.tell_resolver(&name);
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

impl Handler<DependencyDecision> for ServiceManager {
    type Result = ();
    fn handle(&mut self, msg: DependencyDecision, _: &mut Context<Self>) {
        if self.shutdown.is_some() {
            return;
        }
        for name in &msg.pull {
            let log = self.log.new(o!("service" => name.clone()));
            info!(log, "started as a dependency");
            self.want(name);
        }
        for name in &msg.start {
            if let Some(e) = self.services.get(name) {
                if e.wanted && e.view.state == ServiceState::Waiting {
                    e.addr.do_send(Start);
                }
            }
        }
        for name in &msg.stop_dependents {
            if let Some(e) = self.services.get(name) {
                let log = self.log.new(o!("service" => name.clone()));
                info!(log, "stopping: a service it requires went away");
                e.addr.do_send(Stop {
                    target: StopTarget::Waiting,
                    signal: None,
                });
            }
        }
    }
}
