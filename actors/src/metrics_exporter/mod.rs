//! MetricsExporter: owns every Prometheus metric of SPEC 7.
//!
//! It is told, never asks: `ServiceRegistered` from the ServiceManager,
//! `ServiceFact`s from every ServiceActor, `HealthCheckObserved` from the
//! health checker, `NotificationDelivered` from the notifiers. At scrape
//! time (`GatherMetrics`, from the API or the metrics listener) it reads
//! what only the kernel knows (CPU, RSS in /proc) and the lock-free drop
//! counters of the services' logs. Run it on an arbiter of its own so a
//! scrape's /proc walk never delays the supervisor.
//!
//! Between scrapes it keeps plain numbers (`figures.rs`), a few hundred
//! bytes per service; the Prometheus families exist only while a scrape
//! renders them.
//!
//! Files: `definitions.rs` the metric families and their rendering,
//! `figures.rs` what is counted, `procfs.rs` /proc reading, `messages.rs`
//! what it answers.

pub mod definitions;
pub mod figures;
pub mod messages;
pub mod procfs;

use crate::logging::service_logs::ServiceLogs;
use crate::service::messages::{FactKind, ServiceFact};
use actix::prelude::*;
use definitions::Scrape;
use figures::{Outcome, Results, ServiceFigures};
use messages::{
    GatherMetrics, HealthCheckObserved, HealthChecksObserved, NotificationDelivered,
    ServiceRegistered, ServiceRemoved,
};
use procfs::CpuAccount;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

/// What the exporter remembers of one service.
struct Tracked {
    /// What the exposition says of it.
    figures: ServiceFigures,
    logs: Option<Arc<ServiceLogs>>,
    /// Live instances: (id, pid, spawned at). A Vec, not a map: a service
    /// has one instance or a few, and a B-tree's first node alone takes
    /// ~380 bytes (measured with heaptrack at 1,000 services).
    instances: Vec<(u64, i32, Instant)>,
    /// `ServiceLogs.dropped` as last exported.
    dropped_seen: u64,
    cpu: CpuAccount,
}

impl Tracked {
    fn new() -> Tracked {
        Tracked {
            figures: ServiceFigures::new(),
            logs: None,
            instances: Vec::new(),
            dropped_seen: 0,
            cpu: CpuAccount::default(),
        }
    }
}

pub struct MetricsExporter {
    /// Boxed: names come in order, so B-tree nodes end up about half
    /// full, and an empty place of a node is as large as its value
    /// (~500 bytes per service inline, ~320 boxed, heaptrack at 1,000).
    services: BTreeMap<String, Box<Tracked>>,
    /// Deliveries by notifier; the configured ones from the start.
    notifications: BTreeMap<String, Results>,
    /// Kernel clock ticks per second (utime/stime unit).
    clk_tck: f64,
    page_size: i64,
}

impl MetricsExporter {
    /// `notifiers`: the configured notifier names, whose label sets exist
    /// from the start.
    pub fn new(notifiers: impl IntoIterator<Item = String>) -> MetricsExporter {
        use nix::unistd::{sysconf, SysconfVar};
        let clk_tck = match sysconf(SysconfVar::CLK_TCK) {
            Ok(Some(t)) if t > 0 => t as f64,
            _ => 100.0,
        };
        let page_size = match sysconf(SysconfVar::PAGE_SIZE) {
            Ok(Some(p)) if p > 0 => p,
            _ => 4096,
        };
        MetricsExporter {
            services: BTreeMap::new(),
            notifications: notifiers
                .into_iter()
                .map(|n| (n, Results::default()))
                .collect(),
            clk_tck,
            page_size,
        }
    }

    /// A service is tracked, at zero in every family, from the first word
    /// about it.
    fn tracked(&mut self, service: String) -> &mut Tracked {
        self.services
            .entry(service)
            .or_insert_with(|| Box::new(Tracked::new()))
    }

    fn on_fact(&mut self, f: ServiceFact) {
        let now = Instant::now();
        let t = self.tracked(f.service);
        match f.kind {
            FactKind::Spawned => {
                if let Some(pid) = f.pid {
                    t.instances.retain(|(id, ..)| *id != f.instance);
                    t.instances.reserve_exact(1);
                    t.instances.push((f.instance, pid, now));
                }
            }
            FactKind::Ready { since_spawn } => {
                t.figures.start_duration.observe(since_spawn.as_secs_f64());
            }
            FactKind::Exited {
                signal,
                ran,
                success,
                ..
            } => {
                let live = t.instances.len();
                t.instances.retain(|(id, ..)| *id != f.instance);
                let spawned = t.instances.len() < live || f.pid.is_some();
                let outcome = if signal.is_some() {
                    Outcome::Signal
                } else if success {
                    Outcome::Success
                } else {
                    Outcome::Failure
                };
                t.figures.exits.record(outcome);
                // A spawn that failed never ran: no run time to observe.
                if spawned {
                    t.figures.run_duration.observe(ran.as_secs_f64());
                }
            }
            FactKind::Restarting { .. } => t.figures.restarts += 1,
            // Counted as its exit (by signal) already; SPEC 7 has no OOM metric.
            FactKind::GaveUp | FactKind::OomKilled => {}
            FactKind::StateChanged { to, .. } => t.figures.state = to,
        }
    }

    /// Reads /proc and the drop counters into the figures.
    fn refresh_at_scrape(&mut self) {
        let now = Instant::now();
        for t in self.services.values_mut() {
            t.figures.uptime_seconds = t
                .instances
                .iter()
                .map(|(_, _, at)| now.duration_since(*at).as_secs_f64())
                .fold(0.0, f64::max);
            if let Some(logs) = &t.logs {
                let dropped = logs.dropped.load(Ordering::Relaxed);
                if dropped > t.dropped_seen {
                    t.figures.log_lines_dropped += dropped - t.dropped_seen;
                    t.dropped_seen = dropped;
                }
            }
        }
        let roots: HashMap<i32, &str> = self
            .services
            .iter()
            .flat_map(|(name, t)| {
                t.instances
                    .iter()
                    .map(move |(_, pid, _)| (*pid, name.as_str()))
            })
            .collect();
        let procs = if roots.is_empty() {
            Vec::new()
        } else {
            procfs::scan()
        };
        let owned: BTreeMap<String, Vec<procfs::ProcStat>> = procfs::assign(&procs, &roots)
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        for (name, t) in &mut self.services {
            let mine = owned.get(name).map(Vec::as_slice).unwrap_or(&[]);
            let readings: Vec<(i32, f64)> = mine
                .iter()
                .map(|p| (p.pid, p.cpu_ticks as f64 / self.clk_tck))
                .collect();
            let total = t.cpu.update(&readings);
            // A counter: never below what a scrape has already seen.
            t.figures.cpu_seconds = t.figures.cpu_seconds.max(total);
            let rss: i64 = mine.iter().map(|p| p.rss_pages.max(0)).sum();
            t.figures.memory_bytes = rss * self.page_size;
        }
    }

    /// The exposition of the figures as they are now.
    fn render(&self) -> String {
        definitions::render(&Scrape {
            services: self
                .services
                .iter()
                .map(|(name, t)| (name.as_str(), &t.figures))
                .collect(),
            notifications: &self.notifications,
        })
    }
}

impl Actor for MetricsExporter {
    type Context = Context<Self>;
}

impl Handler<ServiceFact> for MetricsExporter {
    type Result = ();
    fn handle(&mut self, msg: ServiceFact, _: &mut Context<Self>) {
        self.on_fact(msg);
    }
}

impl Handler<ServiceRegistered> for MetricsExporter {
    type Result = ();
    fn handle(&mut self, msg: ServiceRegistered, _: &mut Context<Self>) {
        let t = self.tracked(msg.service);
        // A reload replaced the service: its new logs count from zero.
        if !t.logs.as_ref().is_some_and(|l| Arc::ptr_eq(l, &msg.logs)) {
            t.dropped_seen = 0;
        }
        t.logs = Some(msg.logs);
        t.figures
            .set_checks(msg.cfg.health.iter().map(|c| c.display_name()));
    }
}

impl Handler<ServiceRemoved> for MetricsExporter {
    type Result = ();
    fn handle(&mut self, msg: ServiceRemoved, _: &mut Context<Self>) {
        // Its figures were its series: all gone with it.
        self.services.remove(&msg.service);
    }
}

impl MetricsExporter {
    fn observe_check(&mut self, msg: HealthCheckObserved) {
        // Only registered checks count: a result arriving after a reload
        // removed its service (or the check) must not bring series back.
        let Some(check) = self
            .services
            .get_mut(&msg.service)
            .and_then(|t| t.figures.checks.get_mut(&msg.check))
        else {
            return;
        };
        check.results.record(msg.success);
        check.duration.observe(msg.duration.as_secs_f64());
    }
}

impl Handler<HealthCheckObserved> for MetricsExporter {
    type Result = ();
    fn handle(&mut self, msg: HealthCheckObserved, _: &mut Context<Self>) {
        self.observe_check(msg);
    }
}

impl Handler<HealthChecksObserved> for MetricsExporter {
    type Result = ();
    fn handle(&mut self, msg: HealthChecksObserved, _: &mut Context<Self>) {
        for one in msg.0 {
            self.observe_check(one);
        }
    }
}

impl Handler<NotificationDelivered> for MetricsExporter {
    type Result = ();
    fn handle(&mut self, msg: NotificationDelivered, _: &mut Context<Self>) {
        self.notifications
            .entry(msg.notifier)
            .or_default()
            .record(msg.success);
    }
}

impl Handler<GatherMetrics> for MetricsExporter {
    type Result = String;
    fn handle(&mut self, _: GatherMetrics, _: &mut Context<Self>) -> String {
        self.refresh_at_scrape();
        self.render()
    }
}

#[cfg(test)]
mod tests;
