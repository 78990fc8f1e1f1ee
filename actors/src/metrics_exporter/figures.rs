//! The exporter's figures as plain numbers: what it counts per service and
//! per health check between scrapes. `definitions.rs` turns them into
//! Prometheus families at scrape time only.
//!
//! Why not the prometheus crate's `*Vec`s: every child of a vec is a
//! labelled, hashed, locked metric of its own, and SPEC 7 gives a service
//! some twenty of them (ten state gauges, two histograms...), about 10 KiB
//! per service. Here a service costs a few hundred bytes, and a histogram no
//! heap at all until its first observation.

use super::definitions::{CHECK_BUCKETS, RUN_BUCKETS, START_BUCKETS};
use crate::model::view::ServiceState;
use std::collections::{BTreeMap, BTreeSet};

/// How a process ended: the `outcome` label of `oneinit_service_exits_total`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Success,
    Failure,
    Signal,
}

impl Outcome {
    pub const ALL: [Outcome; 3] = [Outcome::Success, Outcome::Failure, Outcome::Signal];

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failure => "failure",
            Outcome::Signal => "signal",
        }
    }
}

/// Process exits, by outcome.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Exits([u64; 3]);

impl Exits {
    pub fn record(&mut self, outcome: Outcome) {
        self.0[outcome as usize] += 1;
    }

    pub fn get(&self, outcome: Outcome) -> u64 {
        self.0[outcome as usize]
    }
}

/// Results of something that succeeds or fails (a health check, a
/// notifier): the `result` label.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Results {
    pub success: u64,
    pub failure: u64,
}

impl Results {
    pub fn record(&mut self, success: bool) {
        if success {
            self.success += 1;
        } else {
            self.failure += 1;
        }
    }

    /// (`result` label value, count) of both results.
    pub fn by_result(&self) -> [(&'static str, u64); 2] {
        [("success", self.success), ("failure", self.failure)]
    }
}

/// A histogram over fixed bucket bounds, counted as the prometheus crate
/// counts: a value goes in the first bucket whose bound is >= it; values
/// above the last bound only count in `count` (the `+Inf` bucket).
#[derive(Clone, Debug, PartialEq)]
pub struct Histogram {
    bounds: &'static [f64],
    /// Observations per bucket (not cumulative), one per bound; allocated
    /// at the first observation, so a histogram never observed costs no
    /// heap.
    counts: Option<Box<[u64]>>,
    sum: f64,
    count: u64,
}

impl Histogram {
    pub const fn new(bounds: &'static [f64]) -> Histogram {
        Histogram {
            bounds,
            counts: None,
            sum: 0.0,
            count: 0,
        }
    }

    pub fn observe(&mut self, value: f64) {
        if let Some(i) = self.bounds.iter().position(|bound| value <= *bound) {
            let n = self.bounds.len();
            let counts = self
                .counts
                .get_or_insert_with(|| vec![0; n].into_boxed_slice());
            if let Some(c) = counts.get_mut(i) {
                *c += 1;
            }
        }
        self.sum += value;
        self.count += 1;
    }

    /// (upper bound, observations at or below it) for every bound.
    pub fn cumulative(&self) -> impl Iterator<Item = (f64, u64)> + '_ {
        let counts = self.counts.as_deref().unwrap_or(&[]);
        self.bounds
            .iter()
            .enumerate()
            .scan(0, move |below, (i, bound)| {
                *below += counts.get(i).copied().unwrap_or(0);
                Some((*bound, *below))
            })
    }

    pub fn sum(&self) -> f64 {
        self.sum
    }

    pub fn count(&self) -> u64 {
        self.count
    }
}

/// What is counted for one health check of a service.
#[derive(Clone, Debug, PartialEq)]
pub struct CheckFigures {
    pub results: Results,
    pub duration: Histogram,
}

impl CheckFigures {
    pub fn new() -> CheckFigures {
        CheckFigures {
            results: Results::default(),
            duration: Histogram::new(CHECK_BUCKETS),
        }
    }
}

impl Default for CheckFigures {
    fn default() -> CheckFigures {
        CheckFigures::new()
    }
}

/// Everything the exposition says of one service. The last four are read
/// at scrape time (`MetricsExporter::refresh_at_scrape`); the others move
/// with facts.
#[derive(Clone, Debug, PartialEq)]
pub struct ServiceFigures {
    pub state: ServiceState,
    pub restarts: u64,
    pub exits: Exits,
    /// Spawn to ready.
    pub start_duration: Histogram,
    /// Spawn to exit.
    pub run_duration: Histogram,
    /// By check name (`CheckConfig::display_name`): the configured checks.
    pub checks: BTreeMap<String, CheckFigures>,
    /// Of the oldest live instance; 0 when none runs.
    pub uptime_seconds: f64,
    /// A counter: the highest CPU total a scrape has seen.
    pub cpu_seconds: f64,
    pub memory_bytes: i64,
    pub log_lines_dropped: u64,
}

impl ServiceFigures {
    /// A service nothing has happened to yet: every figure at zero.
    pub fn new() -> ServiceFigures {
        ServiceFigures {
            state: ServiceState::Inactive,
            restarts: 0,
            exits: Exits::default(),
            start_duration: Histogram::new(START_BUCKETS),
            run_duration: Histogram::new(RUN_BUCKETS),
            checks: BTreeMap::new(),
            uptime_seconds: 0.0,
            cpu_seconds: 0.0,
            memory_bytes: 0,
            log_lines_dropped: 0,
        }
    }

    /// The checks are now `names` (a registration, maybe by a reload): the
    /// figures of checks still configured carry on, new ones start at zero,
    /// and those no longer configured are forgotten with their series.
    pub fn set_checks(&mut self, names: impl IntoIterator<Item = String>) {
        let names: BTreeSet<String> = names.into_iter().collect();
        self.checks.retain(|name, _| names.contains(name));
        for name in names {
            self.checks.entry(name).or_default();
        }
    }
}

impl Default for ServiceFigures {
    fn default() -> ServiceFigures {
        ServiceFigures::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BOUNDS: &[f64] = &[0.1, 1.0, 10.0];

    #[test]
    fn a_histogram_never_observed_holds_no_buckets() {
        let h = Histogram::new(BOUNDS);
        assert_eq!(h.counts, None);
        assert_eq!(
            h.cumulative().collect::<Vec<_>>(),
            [(0.1, 0), (1.0, 0), (10.0, 0)]
        );
        assert_eq!((h.sum(), h.count()), (0.0, 0));
    }

    #[test]
    fn a_value_goes_in_the_first_bucket_at_or_above_it() {
        let mut h = Histogram::new(BOUNDS);
        for v in [0.1, 0.5, 1.0, 99.0] {
            h.observe(v);
        }
        // 0.1 is in le="0.1"; 99 only in +Inf, which is the count.
        assert_eq!(
            h.cumulative().collect::<Vec<_>>(),
            [(0.1, 1), (1.0, 3), (10.0, 3)]
        );
        assert_eq!(h.count(), 4);
        assert!((h.sum() - 100.6).abs() < 1e-9, "{}", h.sum());
    }

    #[test]
    fn exits_and_results_count_apart() {
        let mut e = Exits::default();
        e.record(Outcome::Signal);
        e.record(Outcome::Signal);
        e.record(Outcome::Success);
        assert_eq!(
            Outcome::ALL.map(|o| e.get(o)),
            [1, 0, 2],
            "success, failure, signal"
        );
        let mut r = Results::default();
        r.record(false);
        assert_eq!(r.by_result(), [("success", 0), ("failure", 1)]);
    }

    #[test]
    fn new_checks_start_at_zero_and_dropped_ones_are_forgotten() {
        let mut f = ServiceFigures::new();
        f.set_checks(["a".to_string(), "b".to_string()]);
        if let Some(a) = f.checks.get_mut("a") {
            a.results.record(true);
        }
        f.set_checks(["a".to_string(), "c".to_string()]);
        let names: Vec<&str> = f.checks.keys().map(String::as_str).collect();
        assert_eq!(names, ["a", "c"]);
        assert_eq!(f.checks["a"].results.success, 1);
        assert_eq!(f.checks["c"], CheckFigures::new());
    }
}
