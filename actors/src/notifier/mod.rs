//! Notifier: tells the notifiers a service lists in `notify:` (SPEC 5.3)
//! of `failed`, `unhealthy`, `recovered` and `gave_up`. It observes the
//! ServiceActors' `ServiceFact`s and the HealthChecker's `HealthChanged`,
//! decides which events happened (`track.rs`), and queues them to one
//! delivery worker per notifier (`deliver.rs`), so a slow or dead endpoint
//! never blocks supervision. Each delivery's outcome is published as
//! `NotificationDelivered` for `oneinit_notifications_total`.

pub mod deliver;
pub mod event;
pub mod track;

use crate::facts::ConfigApplied;
use crate::health_checker::messages::HealthChanged;
use crate::metrics_exporter::messages::NotificationDelivered;
use crate::model::config::NotifierConfig;
use crate::processes::helper::{ExitWaiters, HelperRunner};
use crate::processes::ProcessTable;
use crate::service::messages::{InstanceExited, ServiceFact};
use actix::prelude::*;
use deliver::{RetryPolicy, Worker};
use event::Event;
use slog::{o, warn, Logger};
use std::collections::BTreeMap;
use std::sync::Arc;
use tokio::sync::mpsc;
use track::{Outcome, Tracker};

/// Everything the Notifier is started with.
pub struct NotifierSetup {
    pub notifiers: BTreeMap<String, NotifierConfig>,
    pub services: crate::model::config::Services,
    pub procs: ProcessTable,
    pub delivered: Vec<Recipient<NotificationDelivered>>,
    pub retry: RetryPolicy,
    pub log: Logger,
}

pub struct Notifier {
    setup: NotifierSetup,
    tracker: Tracker,
    queues: BTreeMap<String, mpsc::Sender<Event>>,
    waiters: Arc<ExitWaiters>,
}

impl Notifier {
    pub fn new(setup: NotifierSetup) -> Notifier {
        let log = setup.log.new(o!("actor" => "notifier"));
        let tracker = Tracker::new(&setup.services);
        Notifier {
            setup: NotifierSetup { log, ..setup },
            tracker,
            queues: BTreeMap::new(),
            waiters: Arc::new(ExitWaiters::default()),
        }
    }

    fn send(&mut self, ev: Event) {
        let Some(cfg) = self.setup.services.get(&ev.service) else {
            return;
        };
        for name in &cfg.notify {
            let Some(q) = self.queues.get(name) else {
                warn!(self.setup.log, "no such notifier; add it under `notifiers:`";
                    "service" => &ev.service, "notifier" => name);
                continue;
            };
            if let Err(e) = q.try_send(ev.clone()) {
                warn!(self.setup.log, "notification dropped: the notifier's queue is full";
                    "notifier" => name, "service" => &ev.service, "event" => ev.event, "error" => %e);
                for r in &self.setup.delivered {
                    r.do_send(NotificationDelivered {
                        notifier: name.clone(),
                        success: false,
                    });
                }
            }
        }
    }
}

impl Actor for Notifier {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        self.start_workers(ctx);
    }
}

impl Notifier {
    /// One worker per configured notifier; none when no service notifies.
    fn start_workers(&mut self, ctx: &mut Context<Self>) {
        let used: std::collections::BTreeSet<&String> = self
            .setup
            .services
            .values()
            .flat_map(|s| &s.notify)
            .collect();
        if used.is_empty() {
            return;
        }
        let http = reqwest::Client::builder()
            .build()
            .unwrap_or_else(|_| reqwest::Client::new());
        for (name, cfg) in &self.setup.notifiers {
            if !used.contains(name) {
                continue;
            }
            let worker = Worker {
                name: name.clone(),
                cfg: cfg.clone(),
                http: http.clone(),
                runner: HelperRunner {
                    procs: self.setup.procs.clone(),
                    waiters: self.waiters.clone(),
                    route: ctx.address().recipient(),
                    owner: format!("notifier {name}"),
                },
                retry: self.setup.retry.clone(),
                delivered: self.setup.delivered.clone(),
                log: self.setup.log.clone(),
            };
            self.queues.insert(name.clone(), worker.start());
        }
    }
}

impl Handler<ServiceFact> for Notifier {
    type Result = ();
    fn handle(&mut self, msg: ServiceFact, ctx: &mut Context<Self>) {
        match self.tracker.on_fact(&msg, chrono::Utc::now()) {
            Some(Outcome::Send(ev)) => self.send(ev),
            Some(Outcome::ConfirmRecovery { after, generation }) => {
                let service = msg.service;
                ctx.run_later(after, move |act, _| {
                    if let Some(ev) =
                        act.tracker
                            .confirm_recovery(&service, generation, chrono::Utc::now())
                    {
                        act.send(ev);
                    }
                });
            }
            None => {}
        }
    }
}

impl Handler<HealthChanged> for Notifier {
    type Result = ();
    fn handle(&mut self, msg: HealthChanged, _: &mut Context<Self>) {
        if let Some(ev) = self.tracker.on_health(&msg, chrono::Utc::now()) {
            self.send(ev);
        }
    }
}

/// Reload: follow the new services and notifier list. Every notifier gets
/// a fresh worker; the old ones finish what they have queued.
impl Handler<ConfigApplied> for Notifier {
    type Result = ();
    fn handle(&mut self, msg: ConfigApplied, ctx: &mut Context<Self>) {
        self.tracker.update(&msg.config.services);
        self.setup.services = msg.config.services;
        self.setup.notifiers = msg.config.notifiers;
        self.queues.clear();
        self.start_workers(ctx);
    }
}

impl Handler<InstanceExited> for Notifier {
    type Result = ();
    fn handle(&mut self, msg: InstanceExited, _: &mut Context<Self>) {
        self.waiters.deliver(msg);
    }
}
