//! Which notification events happened, from service facts and health
//! changes (pure: no actix, no I/O, time passed in). `failed`: an instance
//! exited with a failure while not being stopped; `gave_up`: its restarts
//! are used up; `unhealthy`: checks reached their failure threshold (unless
//! `on_unhealthy: ignore`); `recovered`: after one of those, the service is
//! ready again and, when it has health checks, healthy — after a crash only
//! once the new run has lasted `restart.reset_after` (the restart policy's
//! own measure of a good run), so a crash loop is not a stream of
//! failed/recovered pairs.

use super::event::{Event, EventKind};
use crate::health_checker::messages::HealthChanged;
use crate::model::config::OnUnhealthy;
use crate::model::signal::signal_short_name;
use crate::model::view::{Health, ServiceState};
use crate::service::messages::{FactKind, ServiceFact};
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;
use std::time::Duration;

/// What the Notifier should do after a fact.
#[derive(Debug, PartialEq)]
pub enum Outcome {
    Send(Event),
    /// Call `confirm_recovery(service, generation)` after this long.
    ConfirmRecovery {
        after: Duration,
        generation: u64,
    },
}

struct Track {
    has_health: bool,
    on_unhealthy: OnUnhealthy,
    state: ServiceState,
    health: Health,
    restarts: u64,
    reset_after: Duration,
    /// Counts failures, so a pending recovery is dropped by a new one.
    generation: u64,
    /// The last trouble was an exit (not health): recovery needs a good run.
    crashed: bool,
    /// A failed/unhealthy/gave_up event was sent and no recovered since.
    troubled: bool,
}

/// Follows the services that list notifiers.
pub struct Tracker {
    services: BTreeMap<String, Track>,
}

impl Tracker {
    pub fn new(services: &crate::model::config::Services) -> Tracker {
        let services = services
            .iter()
            .filter(|(_, c)| !c.notify.is_empty())
            .map(|(n, c)| {
                (
                    n.clone(),
                    Track {
                        has_health: !c.health.is_empty(),
                        on_unhealthy: c.on_unhealthy,
                        state: ServiceState::Inactive,
                        health: Health::Unknown,
                        restarts: 0,
                        reset_after: c.restart.reset_after.get(),
                        generation: 0,
                        crashed: false,
                        troubled: false,
                    },
                )
            })
            .collect();
        Tracker { services }
    }

    /// A new configuration: keep what is known of services still listed.
    pub fn update(&mut self, services: &crate::model::config::Services) {
        let mut next = Tracker::new(services);
        for (name, t) in next.services.iter_mut() {
            if let Some(old) = self.services.remove(name) {
                t.state = old.state;
                t.health = old.health;
                t.restarts = old.restarts;
                t.generation = old.generation;
                t.crashed = old.crashed;
                t.troubled = old.troubled;
            }
        }
        *self = next;
    }

    pub fn on_fact(&mut self, f: &ServiceFact, now: DateTime<Utc>) -> Option<Outcome> {
        let t = self.services.get_mut(&f.service)?;
        let ev = |kind, message, exit_code, restarts| {
            Some(Outcome::Send(Event::new(
                kind, &f.service, now, message, restarts, exit_code,
            )))
        };
        match &f.kind {
            FactKind::Exited {
                code,
                signal,
                success,
                ..
            } => {
                if *success || t.state == ServiceState::Stopping {
                    return None;
                }
                t.troubled = true;
                t.crashed = true;
                t.generation += 1;
                let (message, exit_code) = match (code, signal) {
                    (Some(c), _) => (format!("instance {} exited with code {c}", f.instance), *c),
                    (None, Some(s)) => (
                        format!(
                            "instance {} killed by signal {}",
                            f.instance,
                            signal_short_name(*s)
                        ),
                        128 + s.number(),
                    ),
                    (None, None) => (format!("instance {} ended", f.instance), 1),
                };
                ev(EventKind::Failed, message, Some(exit_code), t.restarts)
            }
            FactKind::Restarting { .. } => {
                t.restarts += 1;
                None
            }
            FactKind::GaveUp => {
                t.troubled = true;
                t.crashed = true;
                t.generation += 1;
                let message = format!(
                    "gave up after {} restarts; the service is failed",
                    t.restarts
                );
                ev(EventKind::GaveUp, message, None, t.restarts)
            }
            FactKind::StateChanged { to, .. } => {
                t.state = *to;
                let up = matches!(to, ServiceState::Ready | ServiceState::Completed);
                if t.troubled && up && (!t.has_health || t.health == Health::Healthy) {
                    if t.crashed && *to == ServiceState::Ready {
                        return Some(Outcome::ConfirmRecovery {
                            after: t.reset_after,
                            generation: t.generation,
                        });
                    }
                    t.troubled = false;
                    let message = format!("the service is {} again", to.as_str());
                    return ev(EventKind::Recovered, message, None, t.restarts);
                }
                None
            }
            // An OOM kill follows its `Exited`, which already made a `failed`.
            FactKind::Spawned | FactKind::Ready { .. } | FactKind::OomKilled => None,
        }
    }

    /// A run that started `reset_after` ago: recovered if nothing failed since.
    pub fn confirm_recovery(
        &mut self,
        service: &str,
        generation: u64,
        now: DateTime<Utc>,
    ) -> Option<Event> {
        let t = self.services.get_mut(service)?;
        let up = matches!(t.state, ServiceState::Ready | ServiceState::Running);
        if !t.troubled || t.generation != generation || !up || t.health == Health::Unhealthy {
            return None;
        }
        t.troubled = false;
        t.crashed = false;
        let message = format!(
            "running again for {}",
            crate::model::units::format_duration(t.reset_after)
        );
        Some(Event::new(
            EventKind::Recovered,
            service,
            now,
            message,
            t.restarts,
            None,
        ))
    }

    pub fn on_health(&mut self, h: &HealthChanged, now: DateTime<Utc>) -> Option<Event> {
        let t = self.services.get_mut(&h.service)?;
        t.health = h.health;
        match h.health {
            Health::Unhealthy if t.on_unhealthy != OnUnhealthy::Ignore => {
                t.troubled = true;
                t.crashed = false;
                Some(Event::new(
                    EventKind::Unhealthy,
                    &h.service,
                    now,
                    h.message.clone(),
                    t.restarts,
                    None,
                ))
            }
            Health::Healthy
                if t.troubled && matches!(t.state, ServiceState::Ready | ServiceState::Running) =>
            {
                t.troubled = false;
                let message = format!("healthy again: {}", h.message);
                Some(Event::new(
                    EventKind::Recovered,
                    &h.service,
                    now,
                    message,
                    t.restarts,
                    None,
                ))
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::config::ServiceConfig;
    use crate::model::signal::Signal;
    use std::sync::Arc;
    use std::time::Duration;

    fn tracker(health: bool, on_unhealthy: OnUnhealthy) -> Tracker {
        let mut cfg = ServiceConfig {
            notify: vec!["ops".into()],
            on_unhealthy,
            ..ServiceConfig::default()
        };
        if health {
            cfg.health.push(Default::default());
        }
        let mut services = BTreeMap::new();
        services.insert("web".to_string(), Arc::new(cfg));
        services.insert("quiet".to_string(), Arc::default());
        Tracker::new(&services)
    }

    fn fact(kind: FactKind) -> ServiceFact {
        ServiceFact {
            service: "web".into(),
            instance: 0,
            pid: Some(10),
            kind,
        }
    }

    fn state(to: ServiceState) -> ServiceFact {
        fact(FactKind::StateChanged {
            from: ServiceState::Inactive,
            to,
        })
    }

    fn exited(code: Option<i32>, signal: Option<Signal>, success: bool) -> ServiceFact {
        fact(FactKind::Exited {
            code,
            signal,
            ran: Duration::ZERO,
            success,
        })
    }

    fn health(h: Health) -> HealthChanged {
        HealthChanged {
            service: "web".into(),
            health: h,
            check: Some("http".into()),
            message: "status 500".into(),
        }
    }

    /// Events, with a pending recovery confirmed at once.
    fn kinds(t: &mut Tracker, facts: Vec<ServiceFact>) -> Vec<(&'static str, Option<i32>, u64)> {
        facts
            .iter()
            .filter_map(|f| match t.on_fact(f, Utc::now())? {
                Outcome::Send(e) => Some(e),
                Outcome::ConfirmRecovery { generation, .. } => {
                    t.confirm_recovery(&f.service, generation, Utc::now())
                }
            })
            .map(|e| (e.event, e.exit_code, e.restarts))
            .collect()
    }

    #[test]
    fn a_recovery_is_dropped_when_the_run_fails_before_reset_after() {
        let mut t = tracker(false, OnUnhealthy::Restart);
        t.on_fact(&state(ServiceState::Ready), Utc::now());
        assert!(matches!(
            t.on_fact(&exited(Some(1), None, false), Utc::now()),
            Some(Outcome::Send(_))
        ));
        let pending = t.on_fact(&state(ServiceState::Ready), Utc::now());
        let Some(Outcome::ConfirmRecovery { after, generation }) = pending else {
            panic!("want a pending recovery, got {pending:?}");
        };
        assert_eq!(after, Duration::from_secs(60));
        t.on_fact(&exited(Some(1), None, false), Utc::now());
        assert!(t.confirm_recovery("web", generation, Utc::now()).is_none());
    }

    #[test]
    fn crash_restart_recover_give_up() {
        let mut t = tracker(false, OnUnhealthy::Restart);
        let got = kinds(
            &mut t,
            vec![
                state(ServiceState::Ready),
                exited(Some(3), None, false),
                fact(FactKind::Restarting {
                    delay: Duration::ZERO,
                }),
                state(ServiceState::Backoff),
                state(ServiceState::Ready),
                exited(None, Some(Signal::SIGKILL), false),
                fact(FactKind::GaveUp),
                state(ServiceState::Failed),
            ],
        );
        assert_eq!(
            got,
            vec![
                ("failed", Some(3), 0),
                ("recovered", None, 1),
                ("failed", Some(137), 1),
                ("gave_up", None, 1)
            ]
        );
    }

    #[test]
    fn exits_on_request_or_success_are_not_failures() {
        let mut t = tracker(false, OnUnhealthy::Restart);
        let got = kinds(
            &mut t,
            vec![
                state(ServiceState::Ready),
                exited(Some(0), None, true),
                state(ServiceState::Stopping),
                exited(None, Some(Signal::SIGTERM), false),
            ],
        );
        assert!(got.is_empty(), "{got:?}");
    }

    #[test]
    fn unhealthy_then_recovered_when_healthy_again() {
        let mut t = tracker(true, OnUnhealthy::Notify);
        assert!(t.on_fact(&state(ServiceState::Ready), Utc::now()).is_none());
        let ev = t
            .on_health(&health(Health::Unhealthy), Utc::now())
            .expect("unhealthy");
        assert_eq!((ev.event, ev.message.as_str()), ("unhealthy", "status 500"));
        // Ready again after a restart is not enough while health is unknown.
        assert!(t.on_health(&health(Health::Unknown), Utc::now()).is_none());
        assert!(t.on_fact(&state(ServiceState::Ready), Utc::now()).is_none());
        let ev = t
            .on_health(&health(Health::Healthy), Utc::now())
            .expect("recovered");
        assert_eq!(ev.event, "recovered");
        assert!(t.on_health(&health(Health::Healthy), Utc::now()).is_none());
    }

    #[test]
    fn ignore_sends_nothing_and_unlisted_services_are_not_tracked() {
        let mut t = tracker(true, OnUnhealthy::Ignore);
        t.on_fact(&state(ServiceState::Ready), Utc::now());
        assert!(t
            .on_health(&health(Health::Unhealthy), Utc::now())
            .is_none());
        let mut quiet = exited(Some(1), None, false);
        quiet.service = "quiet".into();
        assert!(t.on_fact(&quiet, Utc::now()).is_none());
    }
}
