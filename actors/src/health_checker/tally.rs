//! Thresholds of one health check as a pure value (SPEC 2.4): consecutive
//! failures up to `failure_threshold` make it unhealthy, consecutive
//! successes up to `success_threshold` make it healthy, and failures within
//! `start_period` of the latest spawn do not count. No clock and no I/O,
//! so the rules are table-tested.

use crate::model::view::Health;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tally {
    pub health: Health,
    failures: u32,
    successes: u32,
}

impl Default for Tally {
    fn default() -> Self {
        Tally {
            health: Health::Unknown,
            failures: 0,
            successes: 0,
        }
    }
}

impl Tally {
    /// Records one result; returns the new health when it changed.
    pub fn record(
        &mut self,
        ok: bool,
        in_start_period: bool,
        failure_threshold: u32,
        success_threshold: u32,
    ) -> Option<Health> {
        let before = self.health;
        if ok {
            self.failures = 0;
            self.successes = self.successes.saturating_add(1);
            if self.successes >= success_threshold.max(1) {
                self.health = Health::Healthy;
            }
        } else if !in_start_period {
            self.successes = 0;
            self.failures = self.failures.saturating_add(1);
            if self.failures >= failure_threshold.max(1) {
                self.health = Health::Unhealthy;
            }
        }
        (self.health != before).then_some(self.health)
    }
}

/// A service's health from its checks' healths: unhealthy if any check is,
/// healthy if all are, else unknown.
pub fn combine(healths: impl IntoIterator<Item = Health>) -> Health {
    let mut all_healthy = true;
    let mut any = false;
    for h in healths {
        any = true;
        match h {
            Health::Unhealthy => return Health::Unhealthy,
            Health::Unknown => all_healthy = false,
            Health::Healthy => {}
        }
    }
    if any && all_healthy {
        Health::Healthy
    } else {
        Health::Unknown
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Health::*;

    /// (results as 'o'k / 'x' fail / 's' fail in start period, thresholds, healths after each)
    #[test]
    fn thresholds_table() {
        let cases: &[(&str, u32, u32, &[Health])] = &[
            ("xxx", 3, 1, &[Unknown, Unknown, Unhealthy]),
            ("o", 3, 1, &[Healthy]),
            (
                "oxxoxxx",
                3,
                1,
                &[
                    Healthy, Healthy, Healthy, Healthy, Healthy, Healthy, Unhealthy,
                ],
            ),
            (
                "xxxoo",
                3,
                2,
                &[Unknown, Unknown, Unhealthy, Unhealthy, Healthy],
            ),
            (
                "xxxoxo",
                3,
                2,
                &[Unknown, Unknown, Unhealthy, Unhealthy, Unhealthy, Unhealthy],
            ),
            (
                "sssxx",
                2,
                1,
                &[Unknown, Unknown, Unknown, Unknown, Unhealthy],
            ),
            ("ssso", 1, 1, &[Unknown, Unknown, Unknown, Healthy]),
            ("x", 0, 0, &[Unhealthy]),
        ];
        for (results, ft, st, want) in cases {
            let mut t = Tally::default();
            let got: Vec<Health> = results
                .chars()
                .map(|c| {
                    t.record(c == 'o', c == 's', *ft, *st);
                    t.health
                })
                .collect();
            assert_eq!(&got, want, "results {results} thresholds {ft}/{st}");
        }
    }

    #[test]
    fn record_reports_only_changes() {
        let mut t = Tally::default();
        assert_eq!(t.record(true, false, 3, 1), Some(Healthy));
        assert_eq!(t.record(true, false, 3, 1), None);
        assert_eq!(t.record(false, false, 1, 1), Some(Unhealthy));
    }

    #[test]
    fn combine_rules() {
        assert_eq!(combine([]), Unknown);
        assert_eq!(combine([Healthy, Healthy]), Healthy);
        assert_eq!(combine([Healthy, Unknown]), Unknown);
        assert_eq!(combine([Unknown, Unhealthy]), Unhealthy);
    }
}
