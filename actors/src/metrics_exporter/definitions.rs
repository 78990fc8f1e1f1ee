//! Every Prometheus metric of SPEC 7, defined in one place: names, help
//! texts, types, labels and buckets, and the text rendering.
//!
//! Families with no label set yet (no health check or notifier configured)
//! are still rendered as `# HELP`/`# TYPE` lines, so every name of SPEC 7 is
//! always present in the exposition.

use prometheus::{
    CounterVec, Encoder, GaugeVec, HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts,
    Registry, TextEncoder,
};

/// (name, help, type) of every family, in exposition order.
pub const FAMILIES: &[(&str, &str, &str)] = &[
    (
        "oneinit_build_info",
        "oneinit build information (always 1).",
        "gauge",
    ),
    (
        "oneinit_services",
        "Number of services in each state.",
        "gauge",
    ),
    (
        "oneinit_service_up",
        "1 while the service is ready or running, else 0.",
        "gauge",
    ),
    (
        "oneinit_service_state",
        "1 for the current state of the service, 0 for the others.",
        "gauge",
    ),
    (
        "oneinit_service_uptime_seconds",
        "Seconds since the oldest running instance was spawned (0 when none runs).",
        "gauge",
    ),
    (
        "oneinit_service_restarts_total",
        "Automatic restarts of the service.",
        "counter",
    ),
    (
        "oneinit_service_exits_total",
        "Process exits by outcome (success, failure, signal).",
        "counter",
    ),
    (
        "oneinit_service_start_duration_seconds",
        "Time from spawn to ready.",
        "histogram",
    ),
    (
        "oneinit_service_run_duration_seconds",
        "Time from spawn to exit (a oneshot's execution time).",
        "histogram",
    ),
    (
        "oneinit_health_checks_total",
        "Health check results by outcome (success, failure).",
        "counter",
    ),
    (
        "oneinit_health_check_duration_seconds",
        "Duration of health checks.",
        "histogram",
    ),
    (
        "oneinit_service_cpu_seconds_total",
        "CPU time (user + system) of the service's processes, from /proc.",
        "counter",
    ),
    (
        "oneinit_service_memory_bytes",
        "Resident memory (RSS) of the service's processes, from /proc.",
        "gauge",
    ),
    (
        "oneinit_log_lines_dropped_total",
        "Captured output lines that could not be written to the output stream.",
        "counter",
    ),
    (
        "oneinit_notifications_total",
        "Notification deliveries by notifier and result (success, failure).",
        "counter",
    ),
];

/// Buckets for spawn-to-ready times: readiness takes milliseconds to minutes.
const START_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0,
];
/// Buckets for run times: oneshot jobs and crash loops, up to hours.
const RUN_BUCKETS: &[f64] = &[
    0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 1800.0, 3600.0, 21600.0,
    86400.0,
];
/// Buckets for health checks: bounded by their timeout (2s default).
const CHECK_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

pub struct Metrics {
    registry: Registry,
    pub build_info: IntGaugeVec,
    pub services: IntGaugeVec,
    pub up: IntGaugeVec,
    pub state: IntGaugeVec,
    pub uptime: GaugeVec,
    pub restarts: IntCounterVec,
    pub exits: IntCounterVec,
    pub start_duration: HistogramVec,
    pub run_duration: HistogramVec,
    pub health_checks: IntCounterVec,
    pub health_check_duration: HistogramVec,
    pub cpu: CounterVec,
    pub memory: IntGaugeVec,
    pub log_dropped: IntCounterVec,
    pub notifications: IntCounterVec,
}

fn help(name: &str) -> &'static str {
    FAMILIES
        .iter()
        .find(|f| f.0 == name)
        .map(|f| f.1)
        .unwrap_or("")
}

fn opts(name: &str) -> Opts {
    Opts::new(name, help(name))
}

fn hopts(name: &str, buckets: &[f64]) -> HistogramOpts {
    HistogramOpts::new(name, help(name)).buckets(buckets.to_vec())
}

impl Metrics {
    /// Creates and registers every family on a registry of its own (so
    /// several exporters, as in tests, never collide).
    pub fn new() -> Result<Metrics, prometheus::Error> {
        let registry = Registry::new();
        let m = Metrics {
            build_info: IntGaugeVec::new(opts("oneinit_build_info"), &["version"])?,
            services: IntGaugeVec::new(opts("oneinit_services"), &["state"])?,
            up: IntGaugeVec::new(opts("oneinit_service_up"), &["service"])?,
            state: IntGaugeVec::new(opts("oneinit_service_state"), &["service", "state"])?,
            uptime: GaugeVec::new(opts("oneinit_service_uptime_seconds"), &["service"])?,
            restarts: IntCounterVec::new(opts("oneinit_service_restarts_total"), &["service"])?,
            exits: IntCounterVec::new(
                opts("oneinit_service_exits_total"),
                &["service", "outcome"],
            )?,
            start_duration: HistogramVec::new(
                hopts("oneinit_service_start_duration_seconds", START_BUCKETS),
                &["service"],
            )?,
            run_duration: HistogramVec::new(
                hopts("oneinit_service_run_duration_seconds", RUN_BUCKETS),
                &["service"],
            )?,
            health_checks: IntCounterVec::new(
                opts("oneinit_health_checks_total"),
                &["service", "check", "result"],
            )?,
            health_check_duration: HistogramVec::new(
                hopts("oneinit_health_check_duration_seconds", CHECK_BUCKETS),
                &["service", "check"],
            )?,
            cpu: CounterVec::new(opts("oneinit_service_cpu_seconds_total"), &["service"])?,
            memory: IntGaugeVec::new(opts("oneinit_service_memory_bytes"), &["service"])?,
            log_dropped: IntCounterVec::new(opts("oneinit_log_lines_dropped_total"), &["service"])?,
            notifications: IntCounterVec::new(
                opts("oneinit_notifications_total"),
                &["notifier", "result"],
            )?,
            registry,
        };
        let r = &m.registry;
        r.register(Box::new(m.build_info.clone()))?;
        r.register(Box::new(m.services.clone()))?;
        r.register(Box::new(m.up.clone()))?;
        r.register(Box::new(m.state.clone()))?;
        r.register(Box::new(m.uptime.clone()))?;
        r.register(Box::new(m.restarts.clone()))?;
        r.register(Box::new(m.exits.clone()))?;
        r.register(Box::new(m.start_duration.clone()))?;
        r.register(Box::new(m.run_duration.clone()))?;
        r.register(Box::new(m.health_checks.clone()))?;
        r.register(Box::new(m.health_check_duration.clone()))?;
        r.register(Box::new(m.cpu.clone()))?;
        r.register(Box::new(m.memory.clone()))?;
        r.register(Box::new(m.log_dropped.clone()))?;
        r.register(Box::new(m.notifications.clone()))?;
        m.build_info
            .with_label_values(&[env!("CARGO_PKG_VERSION")])
            .set(1);
        Ok(m)
    }

    /// Creates every per-service label set at its zero value, so a service
    /// shows in every family from the first scrape on.
    pub fn init_service(&self, service: &str, checks: &[String]) {
        self.up.with_label_values(&[service]);
        self.uptime.with_label_values(&[service]);
        self.restarts.with_label_values(&[service]);
        for outcome in ["success", "failure", "signal"] {
            self.exits.with_label_values(&[service, outcome]);
        }
        self.start_duration.with_label_values(&[service]);
        self.run_duration.with_label_values(&[service]);
        self.cpu.with_label_values(&[service]);
        self.memory.with_label_values(&[service]);
        self.log_dropped.with_label_values(&[service]);
        for check in checks {
            self.init_check(service, check);
        }
    }

    pub fn init_check(&self, service: &str, check: &str) {
        for result in ["success", "failure"] {
            self.health_checks
                .with_label_values(&[service, check, result]);
        }
        self.health_check_duration
            .with_label_values(&[service, check]);
    }

    pub fn init_notifier(&self, notifier: &str) {
        for result in ["success", "failure"] {
            self.notifications.with_label_values(&[notifier, result]);
        }
    }

    /// Forgets every label set of a service (removed by a reload).
    pub fn remove_service(&self, service: &str, states: &[&str], checks: &[String]) {
        let _ = self.up.remove_label_values(&[service]);
        let _ = self.uptime.remove_label_values(&[service]);
        let _ = self.restarts.remove_label_values(&[service]);
        for outcome in ["success", "failure", "signal"] {
            let _ = self.exits.remove_label_values(&[service, outcome]);
        }
        for state in states {
            let _ = self.state.remove_label_values(&[service, state]);
        }
        let _ = self.start_duration.remove_label_values(&[service]);
        let _ = self.run_duration.remove_label_values(&[service]);
        let _ = self.cpu.remove_label_values(&[service]);
        let _ = self.memory.remove_label_values(&[service]);
        let _ = self.log_dropped.remove_label_values(&[service]);
        for check in checks {
            for result in ["success", "failure"] {
                let _ = self
                    .health_checks
                    .remove_label_values(&[service, check, result]);
            }
            let _ = self
                .health_check_duration
                .remove_label_values(&[service, check]);
        }
    }

    /// The Prometheus text exposition (format 0.0.4).
    pub fn render(&self) -> String {
        let families = self.registry.gather();
        let mut buf = Vec::with_capacity(16 * 1024);
        if let Err(e) = TextEncoder::new().encode(&families, &mut buf) {
            // Only a bug in a family definition can get here; say so in
            // the exposition rather than panicking in PID 1.
            return format!("# oneinit: cannot encode the metrics: {e}\n");
        }
        let mut text = String::from_utf8_lossy(&buf).into_owned();
        for (name, help, kind) in FAMILIES {
            if !families.iter().any(|f| f.get_name() == *name) {
                text.push_str(&format!("# HELP {name} {help}\n# TYPE {name} {kind}\n"));
            }
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_family_of_spec_7_is_rendered_even_without_label_sets() {
        let m = Metrics::new().unwrap();
        let text = m.render();
        for (name, _, kind) in FAMILIES {
            assert!(
                text.contains(&format!("# TYPE {name} {kind}\n")),
                "{name} missing in\n{text}"
            );
        }
        assert!(text.contains(&format!(
            "oneinit_build_info{{version=\"{}\"}} 1\n",
            env!("CARGO_PKG_VERSION")
        )));
    }

    #[test]
    fn a_service_appears_in_every_per_service_family() {
        let m = Metrics::new().unwrap();
        m.init_service("web", &["http".to_string()]);
        m.init_notifier("ops");
        let text = m.render();
        for needle in [
            "oneinit_service_up{service=\"web\"} 0",
            "oneinit_service_uptime_seconds{service=\"web\"} 0",
            "oneinit_service_restarts_total{service=\"web\"} 0",
            "oneinit_service_exits_total{outcome=\"signal\",service=\"web\"} 0",
            "oneinit_service_start_duration_seconds_count{service=\"web\"} 0",
            "oneinit_service_run_duration_seconds_count{service=\"web\"} 0",
            "oneinit_health_checks_total{check=\"http\",result=\"failure\",service=\"web\"} 0",
            "oneinit_health_check_duration_seconds_count{check=\"http\",service=\"web\"} 0",
            "oneinit_service_cpu_seconds_total{service=\"web\"} 0",
            "oneinit_service_memory_bytes{service=\"web\"} 0",
            "oneinit_log_lines_dropped_total{service=\"web\"} 0",
            "oneinit_notifications_total{notifier=\"ops\",result=\"success\"} 0",
        ] {
            assert!(text.contains(needle), "{needle} missing in\n{text}");
        }
        m.remove_service("web", &[], &["http".to_string()]);
        assert!(!m.render().contains("service=\"web\""));
    }
}
