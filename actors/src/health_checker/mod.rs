//! HealthChecker: a peer of the ServiceManager that runs every service's
//! `health:` checks while the service is running or ready, polls
//! `readiness.check` of each new instance until it passes, and reads the
//! sd_notify sockets of `readiness.notify` services (SPEC 2.3, 2.4, 3).
//!
//! It learns what runs from the ServiceActors' `ServiceFact`s and which
//! actor runs a service from `ServiceActorStarted`, and reports
//! `HealthChanged` (to the ServiceManager and the Notifier), `InstanceReady`
//! and `SetStatusText` (straight to the service's actor), and
//! `HealthCheckObserved` (to metrics). Check runs are futures bounded by
//! their timeout, so a hanging check never blocks anything; a service
//! without checks costs no timer.
//!
//! Files: `checks.rs` one run of one check, `tally.rs` thresholds,
//! `notify.rs` sd_notify; exec checks run as helper processes through the
//! one reaper (`crate::processes::helper`).

pub mod checks;
pub mod messages;
pub mod notify;
pub mod tally;

use crate::facts::ConfigApplied;
use crate::metrics_exporter::messages::HealthCheckObserved;
use crate::model::config::{CheckConfig, ServiceConfig};
use crate::model::view::{Health, ServiceState};
use crate::processes::helper::{ExitWaiters, HelperRunner};
use crate::processes::ProcessTable;
use crate::service::messages::{
    FactKind, InstanceExited, InstanceReady, ServiceActorStarted, ServiceFact, SetStatusText,
};
use actix::prelude::*;
use checks::CheckEnv;
use messages::*;
use slog::{debug, o, Logger};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tally::Tally;

/// How often a readiness check without its own `interval` is polled.
const READINESS_POLL: Duration = Duration::from_secs(1);

/// Everything the HealthChecker is started with.
pub struct HealthSetup {
    pub services: crate::model::config::Services,
    pub procs: ProcessTable,
    /// Told of every health change (ServiceManager, Notifier).
    pub health: Vec<Recipient<HealthChanged>>,
    /// Told of every check run (metrics).
    pub checks: Vec<Recipient<HealthCheckObserved>>,
    pub log: Logger,
}

/// A live instance of a watched service.
struct Inst {
    pid: i32,
    spawned: Instant,
    /// The pending readiness poll (timer or run in flight).
    ready_poll: Option<SpawnHandle>,
    ready_successes: u32,
}

/// One service the HealthChecker follows.
struct Watched {
    cfg: Arc<ServiceConfig>,
    state: ServiceState,
    instances: BTreeMap<u64, Inst>,
    tallies: Vec<Tally>,
    health: Health,
    /// Per health check: its timer or run in flight, while the service is up.
    loops: Vec<Option<SpawnHandle>>,
    /// Bumped whenever the loops stop, so late results are dropped.
    generation: u64,
    /// READY=1 that arrived before the instance's `Spawned` fact.
    early_ready: Vec<(Option<i32>, Instant)>,
}

impl Watched {
    fn new(cfg: Arc<ServiceConfig>) -> Watched {
        let n = cfg.health.len();
        Watched {
            cfg,
            state: ServiceState::Inactive,
            instances: BTreeMap::new(),
            tallies: vec![Tally::default(); n],
            health: Health::Unknown,
            loops: (0..n).map(|_| None).collect(),
            generation: 0,
            early_ready: Vec::new(),
        }
    }

    fn needs_watching(cfg: &ServiceConfig) -> bool {
        !cfg.health.is_empty() || cfg.readiness.check.is_some() || cfg.readiness.notify
    }

    /// Pids of instances 0..N-1 (None where not running), for `process`.
    fn pids(&self) -> Vec<Option<i32>> {
        (0..self.cfg.instances.max(1) as u64)
            .map(|i| self.instances.get(&i).map(|x| x.pid))
            .collect()
    }

    fn last_spawn(&self) -> Option<Instant> {
        self.instances.values().map(|i| i.spawned).max()
    }
}

/// The actors running services now, by service name.
type Actors = BTreeMap<String, ServiceActorStarted>;

/// Tells the actor running `service` that one of its instances is ready.
fn tell_ready(actors: &Actors, service: &str, instance: u64, pid: i32) {
    if let Some(a) = actors.get(service) {
        a.ready.do_send(InstanceReady {
            instance,
            pid: Some(pid),
        });
    }
}

pub struct HealthChecker {
    setup: HealthSetup,
    watched: BTreeMap<String, Watched>,
    actors: Actors,
    waiters: Arc<ExitWaiters>,
    http: Option<reqwest::Client>,
    sockets: notify::Sockets,
}

impl HealthChecker {
    /// Binds the sd_notify sockets at once, so they exist before any
    /// service is spawned; start the actor after the ServiceManager's
    /// context is created (see `oneinit`'s main).
    pub fn new(setup: HealthSetup) -> HealthChecker {
        let log = setup.log.new(o!("actor" => "health_checker"));
        let setup = HealthSetup { log, ..setup };
        let sockets = notify::Sockets::bind(&setup.services, &setup.log);
        let watched = setup
            .services
            .iter()
            .filter(|(_, c)| Watched::needs_watching(c))
            .map(|(n, c)| (n.clone(), Watched::new(c.clone())))
            .collect();
        HealthChecker {
            setup,
            watched,
            actors: Actors::new(),
            waiters: Arc::new(ExitWaiters::default()),
            http: None,
            sockets,
        }
    }

    fn env(&mut self, service: &str, cfg: &Arc<ServiceConfig>, ctx: &Context<Self>) -> CheckEnv {
        let http = self.http.get_or_insert_with(checks::http_client).clone();
        CheckEnv {
            http,
            runner: HelperRunner {
                procs: self.setup.procs.clone(),
                waiters: self.waiters.clone(),
                route: ctx.address().recipient(),
                owner: format!("{service} (check)"),
            },
            service: service.to_string(),
            cfg: cfg.clone(),
        }
    }

    fn on_fact(&mut self, fact: ServiceFact, ctx: &mut Context<Self>) {
        let Some(w) = self.watched.get_mut(&fact.service) else {
            return;
        };
        match fact.kind {
            FactKind::Spawned => {
                let Some(pid) = fact.pid else { return };
                w.instances.insert(
                    fact.instance,
                    Inst {
                        pid,
                        spawned: Instant::now(),
                        ready_poll: None,
                        ready_successes: 0,
                    },
                );
                if w.cfg.readiness.check.is_some() {
                    self.schedule_ready(&fact.service, fact.instance, Duration::ZERO, ctx);
                }
                self.apply_early_ready(&fact.service, fact.instance, pid);
            }
            FactKind::Exited { .. } => {
                if let Some(inst) = w.instances.remove(&fact.instance) {
                    if let Some(h) = inst.ready_poll {
                        ctx.cancel_future(h);
                    }
                }
            }
            FactKind::Ready { .. } => {
                if let Some(inst) = w.instances.get_mut(&fact.instance) {
                    if let Some(h) = inst.ready_poll.take() {
                        ctx.cancel_future(h);
                    }
                }
            }
            FactKind::StateChanged { to, .. } => {
                w.state = to;
                if matches!(to, ServiceState::Running | ServiceState::Ready) {
                    self.start_loops(&fact.service, ctx);
                } else {
                    self.stop_loops(&fact.service, ctx);
                }
            }
            FactKind::Restarting { .. } | FactKind::GaveUp | FactKind::OomKilled => {}
        }
    }

    /// Starts every health check of `service` that is not running yet.
    fn start_loops(&mut self, service: &str, ctx: &mut Context<Self>) {
        let Some(w) = self.watched.get(service) else {
            return;
        };
        let idle: Vec<(usize, Duration)> = (0..w.loops.len())
            .filter(|&i| w.loops[i].is_none())
            .map(|i| (i, w.cfg.health[i].interval.get()))
            .collect();
        for (i, interval) in idle {
            self.schedule_check(service, i, interval, ctx);
        }
    }

    /// Stops the checks (service not up); health goes back to unknown.
    fn stop_loops(&mut self, service: &str, ctx: &mut Context<Self>) {
        let Some(w) = self.watched.get_mut(service) else {
            return;
        };
        w.generation += 1;
        for h in w.loops.iter_mut().filter_map(Option::take) {
            ctx.cancel_future(h);
        }
        for t in &mut w.tallies {
            *t = Tally::default();
        }
        if w.health != Health::Unknown {
            w.health = Health::Unknown;
            let message = format!("checks paused while the service is {}", w.state.as_str());
            self.report(HealthChanged {
                service: service.to_string(),
                health: Health::Unknown,
                check: None,
                message,
            });
        }
    }

    fn schedule_check(
        &mut self,
        service: &str,
        i: usize,
        after: Duration,
        ctx: &mut Context<Self>,
    ) {
        let Some(w) = self.watched.get_mut(service) else {
            return;
        };
        let gen = w.generation;
        let name = service.to_string();
        let h = ctx.run_later(after, move |act, ctx| act.run_check(&name, i, gen, ctx));
        w.loops[i] = Some(h);
    }

    fn run_check(&mut self, service: &str, i: usize, gen: u64, ctx: &mut Context<Self>) {
        let Some(w) = self.watched.get(service) else {
            return;
        };
        if w.generation != gen {
            return;
        }
        let check = w.cfg.health[i].clone();
        let pids = w.pids();
        let cfg = w.cfg.clone();
        let env = self.env(service, &cfg, ctx);
        let name = service.to_string();
        let started = Instant::now();
        let fut = async move { checks::run(&check, &env, &pids).await }
            .into_actor(self)
            .map(move |result, act, ctx| act.on_check_result(&name, i, gen, started, result, ctx));
        let h = ctx.spawn(fut);
        if let Some(w) = self.watched.get_mut(service) {
            w.loops[i] = Some(h);
        }
    }

    fn on_check_result(
        &mut self,
        service: &str,
        i: usize,
        gen: u64,
        started: Instant,
        result: Result<(), String>,
        ctx: &mut Context<Self>,
    ) {
        let Some(w) = self.watched.get_mut(service) else {
            return;
        };
        if w.generation != gen {
            return;
        }
        let check: &CheckConfig = &w.cfg.health[i];
        let check_name = check.display_name();
        let in_start_period = w
            .last_spawn()
            .is_some_and(|t| t.elapsed() < check.start_period.get());
        let changed = w.tallies[i].record(
            result.is_ok(),
            in_start_period,
            check.failure_threshold,
            check.success_threshold,
        );
        if let Err(e) = &result {
            debug!(self.setup.log, "health check failed"; "service" => service, "check" => &check_name,
                "error" => e, "start_period" => in_start_period);
        }
        let interval = check.interval.get();
        for r in &self.setup.checks {
            r.do_send(HealthCheckObserved {
                service: service.to_string(),
                check: check_name.clone(),
                success: result.is_ok(),
                duration: started.elapsed(),
            });
        }
        if changed.is_some() {
            let health = tally::combine(w.tallies.iter().map(|t| t.health));
            if health != w.health {
                w.health = health;
                let message = match &result {
                    Ok(()) => format!("check {check_name} passed"),
                    Err(e) => e.clone(),
                };
                self.report(HealthChanged {
                    service: service.to_string(),
                    health,
                    check: Some(check_name),
                    message,
                });
            }
        }
        // The next run starts one interval after this one started.
        let next = interval.saturating_sub(started.elapsed());
        self.schedule_check(service, i, next, ctx);
    }

    fn report(&self, msg: HealthChanged) {
        for r in &self.setup.health {
            r.do_send(msg.clone());
        }
    }

    fn schedule_ready(
        &mut self,
        service: &str,
        instance: u64,
        after: Duration,
        ctx: &mut Context<Self>,
    ) {
        let Some(inst) = self
            .watched
            .get_mut(service)
            .and_then(|w| w.instances.get_mut(&instance))
        else {
            return;
        };
        let pid = inst.pid;
        let name = service.to_string();
        let h = ctx.run_later(after, move |act, ctx| {
            act.run_ready(&name, instance, pid, ctx)
        });
        inst.ready_poll = Some(h);
    }

    fn run_ready(&mut self, service: &str, instance: u64, pid: i32, ctx: &mut Context<Self>) {
        let Some(w) = self.watched.get(service) else {
            return;
        };
        let Some(check) = w.cfg.readiness.check.clone() else {
            return;
        };
        if w.instances.get(&instance).map(|i| i.pid) != Some(pid) {
            return;
        }
        let pids = w.pids();
        let cfg = w.cfg.clone();
        let env = self.env(service, &cfg, ctx);
        let name = service.to_string();
        let started = Instant::now();
        let fut = async move { checks::run(&check, &env, &pids).await }
            .into_actor(self)
            .map(move |result, act, ctx| {
                act.on_ready_result(&name, instance, pid, started, result, ctx)
            });
        let h = ctx.spawn(fut);
        if let Some(inst) = self
            .watched
            .get_mut(service)
            .and_then(|w| w.instances.get_mut(&instance))
        {
            inst.ready_poll = Some(h);
        }
    }

    fn on_ready_result(
        &mut self,
        service: &str,
        instance: u64,
        pid: i32,
        started: Instant,
        result: Result<(), String>,
        ctx: &mut Context<Self>,
    ) {
        let Some(w) = self.watched.get_mut(service) else {
            return;
        };
        let Some(check) = w.cfg.readiness.check.as_ref() else {
            return;
        };
        let Some(inst) = w.instances.get_mut(&instance).filter(|i| i.pid == pid) else {
            return;
        };
        inst.ready_poll = None;
        match &result {
            Ok(()) => inst.ready_successes += 1,
            Err(e) => {
                inst.ready_successes = 0;
                debug!(self.setup.log, "not ready yet"; "service" => service, "instance" => instance, "error" => e);
            }
        }
        if inst.ready_successes >= check.success_threshold.max(1) {
            tell_ready(&self.actors, service, instance, pid);
            return;
        }
        let poll = readiness_poll(check);
        let next = poll.saturating_sub(started.elapsed());
        self.schedule_ready(service, instance, next, ctx);
    }

    fn on_datagram(&mut self, msg: NotifyDatagram) {
        let Some(w) = self.watched.get_mut(&msg.service) else {
            return;
        };
        let fields = notify::parse(&msg.text);
        if let (Some(text), Some(a)) = (fields.status, self.actors.get(&msg.service)) {
            a.status_text.do_send(SetStatusText { text });
        }
        if !fields.ready {
            return;
        }
        match notify::owner_instance(
            msg.pid,
            &w.instances
                .iter()
                .map(|(id, i)| (*id, i.pid))
                .collect::<Vec<_>>(),
        ) {
            Some((instance, pid)) => tell_ready(&self.actors, &msg.service, instance, pid),
            None => {
                // The datagram beat the instance's `Spawned` fact.
                w.early_ready
                    .retain(|(_, t)| t.elapsed() < Duration::from_secs(10));
                w.early_ready.push((msg.pid, Instant::now()));
            }
        }
    }

    fn apply_early_ready(&mut self, service: &str, instance: u64, pid: i32) {
        let Some(w) = self.watched.get_mut(service) else {
            return;
        };
        let found = w.early_ready.iter().position(|(sender, t)| {
            t.elapsed() < Duration::from_secs(10)
                && notify::owner_instance(*sender, &[(instance, pid)]).is_some()
        });
        if let Some(pos) = found {
            w.early_ready.remove(pos);
            tell_ready(&self.actors, service, instance, pid);
        }
    }
}

/// A readiness check is polled at its own `interval` when one was set,
/// else every second (the 10 s default suits health checks, not start-up).
fn readiness_poll(check: &CheckConfig) -> Duration {
    let interval = check.interval.get();
    if interval == CheckConfig::default().interval.get() {
        READINESS_POLL
    } else {
        interval
    }
}

impl Actor for HealthChecker {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        self.sockets
            .listen(ctx.address().recipient(), &self.setup.log);
    }
}

impl Handler<ServiceFact> for HealthChecker {
    type Result = ();
    fn handle(&mut self, msg: ServiceFact, ctx: &mut Context<Self>) {
        self.on_fact(msg, ctx);
    }
}

impl Handler<InstanceExited> for HealthChecker {
    type Result = ();
    fn handle(&mut self, msg: InstanceExited, _: &mut Context<Self>) {
        self.waiters.deliver(msg);
    }
}

impl Handler<NotifyDatagram> for HealthChecker {
    type Result = ();
    fn handle(&mut self, msg: NotifyDatagram, _: &mut Context<Self>) {
        self.on_datagram(msg);
    }
}

impl Handler<ServiceActorStarted> for HealthChecker {
    type Result = ();
    fn handle(&mut self, msg: ServiceActorStarted, _: &mut Context<Self>) {
        self.actors.insert(msg.service.clone(), msg);
    }
}

/// Reload: stop following removed and changed services (a changed one is
/// restarted by the manager and followed afresh from its new facts).
impl Handler<ConfigApplied> for HealthChecker {
    type Result = ();
    fn handle(&mut self, msg: ConfigApplied, ctx: &mut Context<Self>) {
        let services = msg.config.services;
        let names: Vec<String> = self.watched.keys().cloned().collect();
        for name in names {
            let same = match (services.get(&name), self.watched.get(&name)) {
                (Some(new), Some(w)) => **new == *w.cfg,
                _ => false,
            };
            if !same {
                self.stop_loops(&name, ctx);
                if let Some(w) = self.watched.remove(&name) {
                    for h in w.instances.into_values().filter_map(|i| i.ready_poll) {
                        ctx.cancel_future(h);
                    }
                }
            }
        }
        for (name, cfg) in &services {
            if cfg.readiness.notify {
                self.sockets
                    .add(name, cfg, ctx.address().recipient(), &self.setup.log);
            }
            if Watched::needs_watching(cfg) && !self.watched.contains_key(name) {
                self.watched.insert(name.clone(), Watched::new(cfg.clone()));
            }
        }
        self.actors.retain(|name, _| services.contains_key(name));
        self.setup.services = services;
    }
}
