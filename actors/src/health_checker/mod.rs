//! HealthChecker: a peer of the ServiceManager that runs every service's
//! `health:` checks while the service is running or ready, polls
//! `readiness.check` of each new instance until it passes, and reads the
//! sd_notify sockets of `readiness.notify` services (SPEC 2.3, 2.4, 3).
//!
//! It learns what runs from the ServiceActors' `ServiceFact`s and which
//! actor runs a service from `ServiceActorStarted`, and reports
//! `HealthChanged` (to the ServiceManager and the Notifier), `InstanceReady`
//! and `SetStatusText` (straight to the service's actor), and
//! `HealthChecksObserved` (to metrics, batched). Check runs are bounded by
//! their timeout, so a hanging check never blocks anything; a service
//! without checks costs no timer.
//!
//! Files: `watched.rs` what is known of one service, `loops.rs` the
//! periodic health checks, `readiness.rs` readiness polls and sd_notify
//! datagrams, `checks.rs` one run of one check (`http.rs` the HTTP ones),
//! `tally.rs` thresholds, `notify.rs` sd_notify sockets; exec checks run
//! as helper processes through the one reaper (`crate::processes::helper`).

pub mod checks;
pub mod http;
mod loops;
pub mod messages;
pub mod notify;
mod readiness;
pub mod tally;
mod watched;

use crate::facts::ConfigApplied;
use crate::metrics_exporter::messages::{HealthCheckObserved, HealthChecksObserved};
use crate::model::view::ServiceState;
use crate::processes::helper::{ExitWaiters, HelperRunner};
use crate::processes::ProcessTable;
use crate::service::messages::{FactKind, InstanceExited, ServiceActorStarted, ServiceFact};
use actix::prelude::*;
use checks::CheckEnv;
use messages::*;
use slog::{o, Logger};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use watched::{Actors, Inst, Watched};

/// Everything the HealthChecker is started with.
pub struct HealthSetup {
    pub services: crate::model::config::Services,
    pub procs: ProcessTable,
    /// Told of every health change (ServiceManager, Notifier).
    pub health: Vec<Recipient<HealthChanged>>,
    /// Told of every check run (metrics), in batches.
    pub checks: Vec<Recipient<HealthChecksObserved>>,
    pub log: Logger,
}

pub struct HealthChecker {
    setup: HealthSetup,
    watched: BTreeMap<String, Watched>,
    actors: Actors,
    waiters: Arc<ExitWaiters>,
    /// The client of `https` checks, made when the first one runs.
    https: Option<reqwest::Client>,
    /// Check runs not yet told to `setup.checks` (sent every
    /// `loops::OBSERVED_BATCH`, while there are some).
    observed: Vec<HealthCheckObserved>,
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
            https: None,
            observed: Vec::new(),
            sockets,
        }
    }

    /// What the check runs of `service` share, made at its first run.
    fn env(&mut self, service: &str, ctx: &Context<Self>) -> Option<Arc<CheckEnv>> {
        let w = self.watched.get_mut(service)?;
        if let Some(env) = &w.env {
            return Some(env.clone());
        }
        if w.needs_https() && self.https.is_none() {
            self.https = http::client();
        }
        let env = Arc::new(CheckEnv {
            https: self.https.clone(),
            runner: HelperRunner {
                procs: self.setup.procs.clone(),
                waiters: self.waiters.clone(),
                route: ctx.address().recipient(),
                owner: format!("{service} (check)"),
            },
            service: service.to_string(),
            cfg: w.cfg.clone(),
        });
        w.env = Some(env.clone());
        Some(env)
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
                w.refresh_pids();
                if w.cfg.readiness.check.is_some() {
                    self.schedule_ready(&fact.service, fact.instance, Duration::ZERO, ctx);
                }
                self.apply_early_ready(&fact.service, fact.instance, pid);
            }
            FactKind::Exited { .. } => {
                if let Some(inst) = w.instances.remove(&fact.instance) {
                    w.refresh_pids();
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
                    self.stop_loops(&fact.service);
                }
            }
            FactKind::Restarting { .. } | FactKind::GaveUp | FactKind::OomKilled => {}
        }
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

impl Handler<CheckRan> for HealthChecker {
    type Result = ();
    fn handle(&mut self, msg: CheckRan, ctx: &mut Context<Self>) {
        self.on_check_ran(msg, ctx);
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
        // Only a watched service is ever told it is ready or given a status
        // text; keeping the others' recipients cost ~300 bytes a service.
        if Watched::needs_watching(&msg.cfg) {
            self.actors.insert(msg.service.clone(), msg);
        } else {
            self.actors.remove(&msg.service);
        }
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
                self.stop_loops(&name);
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
