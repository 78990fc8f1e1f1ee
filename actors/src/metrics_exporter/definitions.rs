//! Every Prometheus metric of SPEC 7, defined in one place: names, help
//! texts, types, labels and buckets, how each family's series are drawn
//! from the exporter's figures (`figures.rs`), and the text rendering.
//!
//! Families are built at scrape time as `prometheus::proto::MetricFamily`
//! values and encoded one at a time by the crate's `TextEncoder`, so the
//! text is the crate's own and nothing of it outlives the scrape. As the
//! crate's registry did, families come sorted by name and the series of a
//! family by their label values. Families with no series (no health check
//! or notifier configured) are still rendered as `# HELP`/`# TYPE` lines,
//! after the others, so every name of SPEC 7 is always present in the
//! exposition.

use super::figures::{Histogram, Outcome, Results, ServiceFigures};
use crate::model::view::ServiceState;
use prometheus::proto::{self, LabelPair, Metric, MetricFamily, MetricType};
use prometheus::TextEncoder;
use std::collections::BTreeMap;
use MetricType::{COUNTER, GAUGE, HISTOGRAM};

/// Buckets for spawn-to-ready times: readiness takes milliseconds to minutes.
pub const START_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0,
];
/// Buckets for run times: oneshot jobs and crash loops, up to hours.
pub const RUN_BUCKETS: &[f64] = &[
    0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 1800.0, 3600.0, 21600.0,
    86400.0,
];
/// Buckets for health checks: bounded by their timeout (2s default).
pub const CHECK_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// What one scrape renders.
pub struct Scrape<'a> {
    /// Every service's figures, by name.
    pub services: Vec<(&'a str, &'a ServiceFigures)>,
    /// Deliveries, by notifier name.
    pub notifications: &'a BTreeMap<String, Results>,
}

/// One metric family of SPEC 7.
pub struct Family {
    pub name: &'static str,
    pub help: &'static str,
    pub kind: MetricType,
    /// Adds the family's series (labels and value) at a scrape.
    series: fn(&Scrape, &mut Series),
}

/// Every family, in SPEC 7 order (the exposition sorts them by name).
pub const FAMILIES: &[Family] = &[
    Family {
        name: "oneinit_build_info",
        help: "oneinit build information (always 1).",
        kind: GAUGE,
        series: |_, out| out.number(&[("version", env!("CARGO_PKG_VERSION"))], 1.0),
    },
    Family {
        name: "oneinit_services",
        help: "Number of services in each state.",
        kind: GAUGE,
        series: |scrape, out| {
            for state in ServiceState::ALL {
                let n = scrape.services.iter().filter(|(_, f)| f.state == state);
                out.number(&[("state", state.as_str())], n.count() as f64);
            }
        },
    },
    Family {
        name: "oneinit_service_up",
        help: "1 while the service is ready or running, else 0.",
        kind: GAUGE,
        series: |scrape, out| {
            out.per_service(scrape, |f| {
                one_if(matches!(
                    f.state,
                    ServiceState::Ready | ServiceState::Running
                ))
            })
        },
    },
    Family {
        name: "oneinit_service_state",
        help: "1 for the current state of the service, 0 for the others.",
        kind: GAUGE,
        series: |scrape, out| {
            for (service, f) in &scrape.services {
                for state in ServiceState::ALL {
                    let labels = [("service", *service), ("state", state.as_str())];
                    out.number(&labels, one_if(f.state == state));
                }
            }
        },
    },
    Family {
        name: "oneinit_service_uptime_seconds",
        help: "Seconds since the oldest running instance was spawned (0 when none runs).",
        kind: GAUGE,
        series: |scrape, out| out.per_service(scrape, |f| f.uptime_seconds),
    },
    Family {
        name: "oneinit_service_restarts_total",
        help: "Automatic restarts of the service.",
        kind: COUNTER,
        series: |scrape, out| out.per_service(scrape, |f| f.restarts as f64),
    },
    Family {
        name: "oneinit_service_exits_total",
        help: "Process exits by outcome (success, failure, signal).",
        kind: COUNTER,
        series: |scrape, out| {
            for (service, f) in &scrape.services {
                for outcome in Outcome::ALL {
                    let labels = [("service", *service), ("outcome", outcome.as_str())];
                    out.number(&labels, f.exits.get(outcome) as f64);
                }
            }
        },
    },
    Family {
        name: "oneinit_service_start_duration_seconds",
        help: "Time from spawn to ready.",
        kind: HISTOGRAM,
        series: |scrape, out| {
            for (service, f) in &scrape.services {
                out.histogram(&[("service", service)], &f.start_duration);
            }
        },
    },
    Family {
        name: "oneinit_service_run_duration_seconds",
        help: "Time from spawn to exit (a oneshot's execution time).",
        kind: HISTOGRAM,
        series: |scrape, out| {
            for (service, f) in &scrape.services {
                out.histogram(&[("service", service)], &f.run_duration);
            }
        },
    },
    Family {
        name: "oneinit_health_checks_total",
        help: "Health check results by outcome (success, failure).",
        kind: COUNTER,
        series: |scrape, out| {
            for (service, f) in &scrape.services {
                for (check, c) in &f.checks {
                    for (result, n) in c.results.by_result() {
                        let labels = [("service", *service), ("check", check), ("result", result)];
                        out.number(&labels, n as f64);
                    }
                }
            }
        },
    },
    Family {
        name: "oneinit_health_check_duration_seconds",
        help: "Duration of health checks.",
        kind: HISTOGRAM,
        series: |scrape, out| {
            for (service, f) in &scrape.services {
                for (check, c) in &f.checks {
                    out.histogram(&[("service", service), ("check", check)], &c.duration);
                }
            }
        },
    },
    Family {
        name: "oneinit_service_cpu_seconds_total",
        help: "CPU time (user + system) of the service's processes, from /proc.",
        kind: COUNTER,
        series: |scrape, out| out.per_service(scrape, |f| f.cpu_seconds),
    },
    Family {
        name: "oneinit_service_memory_bytes",
        help: "Resident memory (RSS) of the service's processes, from /proc.",
        kind: GAUGE,
        series: |scrape, out| out.per_service(scrape, |f| f.memory_bytes as f64),
    },
    Family {
        name: "oneinit_log_lines_dropped_total",
        help: "Captured output lines that could not be written to the output stream.",
        kind: COUNTER,
        series: |scrape, out| out.per_service(scrape, |f| f.log_lines_dropped as f64),
    },
    Family {
        name: "oneinit_notifications_total",
        help: "Notification deliveries by notifier and result (success, failure).",
        kind: COUNTER,
        series: |scrape, out| {
            for (notifier, r) in scrape.notifications {
                for (result, n) in r.by_result() {
                    out.number(&[("notifier", notifier), ("result", result)], n as f64);
                }
            }
        },
    },
];

fn one_if(yes: bool) -> f64 {
    if yes {
        1.0
    } else {
        0.0
    }
}

/// The series of one family, as a scrape collects them.
struct Series {
    kind: MetricType,
    metrics: Vec<Metric>,
}

impl Series {
    /// A gauge or counter sample (as the family's type says).
    fn number(&mut self, labels: &[(&str, &str)], value: f64) {
        let mut m = labelled(labels);
        if self.kind == COUNTER {
            let mut c = proto::Counter::default();
            c.set_value(value);
            m.set_counter(c);
        } else {
            let mut g = proto::Gauge::default();
            g.set_value(value);
            m.set_gauge(g);
        }
        self.metrics.push(m);
    }

    /// One sample per service, labelled `service`.
    fn per_service(&mut self, scrape: &Scrape, value: impl Fn(&ServiceFigures) -> f64) {
        for (service, f) in &scrape.services {
            self.number(&[("service", service)], value(f));
        }
    }

    /// A histogram sample; the encoder adds the `+Inf` bucket (the count).
    fn histogram(&mut self, labels: &[(&str, &str)], h: &Histogram) {
        let mut p = proto::Histogram::default();
        p.set_sample_count(h.count());
        p.set_sample_sum(h.sum());
        p.set_bucket(
            h.cumulative()
                .map(|(bound, below)| {
                    let mut b = proto::Bucket::default();
                    b.set_upper_bound(bound);
                    b.set_cumulative_count(below);
                    b
                })
                .collect(),
        );
        let mut m = labelled(labels);
        m.set_histogram(p);
        self.metrics.push(m);
    }
}

/// A sample with these labels, sorted by name as the crate's vecs sort them.
fn labelled(labels: &[(&str, &str)]) -> Metric {
    let mut pairs: Vec<LabelPair> = labels
        .iter()
        .map(|(name, value)| {
            let mut p = LabelPair::default();
            p.set_name(name.to_string());
            p.set_value(value.to_string());
            p
        })
        .collect();
    pairs.sort_by(|a, b| a.get_name().cmp(b.get_name()));
    let mut m = Metric::default();
    m.set_label(pairs);
    m
}

fn label_values(m: &Metric) -> impl Iterator<Item = &str> {
    m.get_label().iter().map(LabelPair::get_value)
}

impl Family {
    /// The family with its series at this scrape, sorted as the crate's
    /// registry sorts them: by label values, labels in name order.
    fn collect(&self, scrape: &Scrape) -> MetricFamily {
        let mut series = Series {
            kind: self.kind,
            metrics: Vec::new(),
        };
        (self.series)(scrape, &mut series);
        series
            .metrics
            .sort_by(|a, b| label_values(a).cmp(label_values(b)));
        let mut mf = MetricFamily::default();
        mf.set_name(self.name.to_string());
        mf.set_help(self.help.to_string());
        mf.set_field_type(self.kind);
        mf.set_metric(series.metrics);
        mf
    }

    /// The `# TYPE` word.
    pub fn type_name(&self) -> &'static str {
        match self.kind {
            COUNTER => "counter",
            GAUGE => "gauge",
            HISTOGRAM => "histogram",
            MetricType::SUMMARY => "summary",
            MetricType::UNTYPED => "untyped",
        }
    }
}

/// The Prometheus text exposition (format 0.0.4) of a scrape.
pub fn render(scrape: &Scrape) -> String {
    let mut by_name: Vec<&Family> = FAMILIES.iter().collect();
    by_name.sort_by_key(|f| f.name);
    let mut text = String::new();
    let mut empty = Vec::new();
    for family in by_name {
        // One family at a time: a scrape never holds more than one
        // family's worth of proto values.
        let mf = family.collect(scrape);
        if mf.get_metric().is_empty() {
            empty.push(family.name);
        } else if let Err(e) = TextEncoder::new().encode_utf8(&[mf], &mut text) {
            // Only a bug in a family definition can get here; say so in
            // the exposition rather than panicking in PID 1.
            text.push_str(&format!("# oneinit: cannot encode {}: {e}\n", family.name));
        }
    }
    // The encoder refuses a family without series: those get their two
    // header lines here, after the others.
    for f in FAMILIES.iter().filter(|f| empty.contains(&f.name)) {
        let (name, help, kind) = (f.name, f.help, f.type_name());
        text.push_str(&format!("# HELP {name} {help}\n# TYPE {name} {kind}\n"));
    }
    text
}

#[cfg(test)]
mod tests;
