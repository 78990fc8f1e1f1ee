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
//! Files: `definitions.rs` the metric families, `procfs.rs` /proc reading,
//! `messages.rs` what it answers.

pub mod definitions;
pub mod messages;
pub mod procfs;

use crate::logging::service_logs::ServiceLogs;
use crate::model::view::ServiceState;
use crate::service::messages::{FactKind, ServiceFact};
use actix::prelude::*;
use definitions::Metrics;
use messages::{
    GatherMetrics, HealthCheckObserved, NotificationDelivered, ServiceRegistered, ServiceRemoved,
};
use procfs::CpuAccount;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

/// What the exporter remembers of one service.
struct Tracked {
    state: ServiceState,
    logs: Option<Arc<ServiceLogs>>,
    checks: Vec<String>,
    /// Live instances: id -> (pid, spawned at).
    instances: BTreeMap<u64, (i32, Instant)>,
    /// `ServiceLogs.dropped` as last exported.
    dropped_seen: u64,
    cpu: CpuAccount,
    cpu_reported: f64,
}

impl Tracked {
    fn new() -> Tracked {
        Tracked {
            state: ServiceState::Inactive,
            logs: None,
            checks: Vec::new(),
            instances: BTreeMap::new(),
            dropped_seen: 0,
            cpu: CpuAccount::default(),
            cpu_reported: 0.0,
        }
    }
}

pub struct MetricsExporter {
    m: Metrics,
    services: BTreeMap<String, Tracked>,
    /// Kernel clock ticks per second (utime/stime unit).
    clk_tck: f64,
    page_size: i64,
}

impl MetricsExporter {
    /// `notifiers`: the configured notifier names, whose label sets exist
    /// from the start.
    pub fn new(
        notifiers: impl IntoIterator<Item = String>,
    ) -> Result<MetricsExporter, prometheus::Error> {
        use nix::unistd::{sysconf, SysconfVar};
        let m = Metrics::new()?;
        for n in notifiers {
            m.init_notifier(&n);
        }
        let clk_tck = match sysconf(SysconfVar::CLK_TCK) {
            Ok(Some(t)) if t > 0 => t as f64,
            _ => 100.0,
        };
        let page_size = match sysconf(SysconfVar::PAGE_SIZE) {
            Ok(Some(p)) if p > 0 => i64::from(p),
            _ => 4096,
        };
        let exporter = MetricsExporter {
            m,
            services: BTreeMap::new(),
            clk_tck,
            page_size,
        };
        exporter.count_states();
        Ok(exporter)
    }

    fn tracked(&mut self, service: &str) -> &mut Tracked {
        if !self.services.contains_key(service) {
            self.m.init_service(service, &[]);
            self.set_state_gauges(service, ServiceState::Inactive);
            self.services.insert(service.to_string(), Tracked::new());
        }
        // Inserted just above when missing.
        self.services
            .entry(service.to_string())
            .or_insert_with(Tracked::new)
    }

    fn set_state_gauges(&self, service: &str, state: ServiceState) {
        for s in ServiceState::ALL {
            self.m
                .state
                .with_label_values(&[service, s.as_str()])
                .set(i64::from(s == state));
        }
        let up = matches!(state, ServiceState::Ready | ServiceState::Running);
        self.m.up.with_label_values(&[service]).set(i64::from(up));
    }

    /// `oneinit_services{state}` from the states last seen.
    fn count_states(&self) {
        for s in ServiceState::ALL {
            let n = self.services.values().filter(|t| t.state == s).count();
            self.m
                .services
                .with_label_values(&[s.as_str()])
                .set(n as i64);
        }
    }

    fn on_fact(&mut self, f: ServiceFact) {
        let now = Instant::now();
        let service = f.service.as_str();
        match f.kind {
            FactKind::Spawned => {
                if let Some(pid) = f.pid {
                    self.tracked(service)
                        .instances
                        .insert(f.instance, (pid, now));
                }
            }
            FactKind::Ready { since_spawn } => {
                self.tracked(service);
                self.m
                    .start_duration
                    .with_label_values(&[service])
                    .observe(since_spawn.as_secs_f64());
            }
            FactKind::Exited {
                signal,
                ran,
                success,
                ..
            } => {
                let t = self.tracked(service);
                let spawned = t.instances.remove(&f.instance).is_some() || f.pid.is_some();
                let outcome = if signal.is_some() {
                    "signal"
                } else if success {
                    "success"
                } else {
                    "failure"
                };
                self.m.exits.with_label_values(&[service, outcome]).inc();
                // A spawn that failed never ran: no run time to observe.
                if spawned {
                    self.m
                        .run_duration
                        .with_label_values(&[service])
                        .observe(ran.as_secs_f64());
                }
            }
            FactKind::Restarting { .. } => {
                self.tracked(service);
                self.m.restarts.with_label_values(&[service]).inc();
            }
            // Counted as its exit (by signal) already; SPEC 7 has no OOM metric.
            FactKind::GaveUp | FactKind::OomKilled => {
                self.tracked(service);
            }
            FactKind::StateChanged { to, .. } => {
                self.tracked(service).state = to;
                self.set_state_gauges(service, to);
                self.count_states();
            }
        }
    }

    /// Reads /proc and the drop counters into the gauges and counters.
    fn refresh_at_scrape(&mut self) {
        let now = Instant::now();
        for (name, t) in &mut self.services {
            let uptime = t
                .instances
                .values()
                .map(|(_, at)| now.duration_since(*at).as_secs_f64())
                .fold(0.0, f64::max);
            self.m.uptime.with_label_values(&[name]).set(uptime);
            if let Some(logs) = &t.logs {
                let dropped = logs.dropped.load(Ordering::Relaxed);
                if dropped > t.dropped_seen {
                    self.m
                        .log_dropped
                        .with_label_values(&[name])
                        .inc_by(dropped - t.dropped_seen);
                    t.dropped_seen = dropped;
                }
            }
        }
        let roots: HashMap<i32, &str> = self
            .services
            .iter()
            .flat_map(|(name, t)| {
                t.instances
                    .values()
                    .map(move |(pid, _)| (*pid, name.as_str()))
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
            if total > t.cpu_reported {
                self.m
                    .cpu
                    .with_label_values(&[name])
                    .inc_by(total - t.cpu_reported);
                t.cpu_reported = total;
            }
            let rss: i64 = mine.iter().map(|p| p.rss_pages.max(0)).sum();
            self.m
                .memory
                .with_label_values(&[name])
                .set(rss * self.page_size);
        }
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
        let checks: Vec<String> = msg.cfg.health.iter().map(|c| c.display_name()).collect();
        for check in &checks {
            self.m.init_check(&msg.service, check);
        }
        let t = self.tracked(&msg.service);
        // A reload replaced the service: its new logs count from zero.
        if !t.logs.as_ref().is_some_and(|l| Arc::ptr_eq(l, &msg.logs)) {
            t.dropped_seen = 0;
        }
        t.logs = Some(msg.logs);
        t.checks = checks;
        self.count_states();
    }
}

impl Handler<ServiceRemoved> for MetricsExporter {
    type Result = ();
    fn handle(&mut self, msg: ServiceRemoved, _: &mut Context<Self>) {
        if let Some(t) = self.services.remove(&msg.service) {
            let states: Vec<&str> = ServiceState::ALL.iter().map(|s| s.as_str()).collect();
            self.m.remove_service(&msg.service, &states, &t.checks);
            self.count_states();
        }
    }
}

impl Handler<HealthCheckObserved> for MetricsExporter {
    type Result = ();
    fn handle(&mut self, msg: HealthCheckObserved, _: &mut Context<Self>) {
        let result = if msg.success { "success" } else { "failure" };
        self.m
            .health_checks
            .with_label_values(&[&msg.service, &msg.check, result])
            .inc();
        self.m
            .health_check_duration
            .with_label_values(&[&msg.service, &msg.check])
            .observe(msg.duration.as_secs_f64());
    }
}

impl Handler<NotificationDelivered> for MetricsExporter {
    type Result = ();
    fn handle(&mut self, msg: NotificationDelivered, _: &mut Context<Self>) {
        self.m.init_notifier(&msg.notifier);
        let result = if msg.success { "success" } else { "failure" };
        self.m
            .notifications
            .with_label_values(&[&msg.notifier, result])
            .inc();
    }
}

impl Handler<GatherMetrics> for MetricsExporter {
    type Result = String;
    fn handle(&mut self, _: GatherMetrics, _: &mut Context<Self>) -> String {
        self.refresh_at_scrape();
        self.m.render()
    }
}

#[cfg(test)]
mod tests;
