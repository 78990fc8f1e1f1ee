//! The periodic `health:` checks of services that are up, the tallies, and
//! `HealthChanged` when a service's combined health changes (SPEC 2.4, 5.1).
//!
//! Each check loop is a task of its own on the actor's thread (sleep, run,
//! send `CheckRan`), not a future in the actor's context: actix polls every
//! future of a context whenever the actor wakes, so 200 check timers there
//! meant 200 polls for each of the hundreds of wake-ups a second.

use super::checks::{self, CheckEnv, Prepared};
use super::messages::{CheckRan, HealthChanged};
use super::tally::{self, Tally};
use super::watched::Pids;
use super::HealthChecker;
use crate::metrics_exporter::messages::{HealthCheckObserved, HealthChecksObserved};
use crate::model::view::Health;
use actix::prelude::*;
use slog::debug;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long check runs are collected before metrics are told of them: the
/// checks of many services finish in bursts, and one message per burst
/// wakes the exporter's thread once instead of once per run.
pub(super) const OBSERVED_BATCH: Duration = Duration::from_millis(50);

/// A running check loop; dropping it ends the loop (and kills an exec
/// check in flight, through the helper's guard).
pub(super) struct CheckLoop(tokio::task::JoinHandle<()>);

impl Drop for CheckLoop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// What one loop needs, fixed while it runs.
struct LoopSpec {
    service: String,
    index: usize,
    generation: u64,
    check: Arc<Prepared>,
    env: Arc<CheckEnv>,
    pids: Pids,
    to: Recipient<CheckRan>,
}

/// Runs the check once per interval (the next run starts one interval
/// after this one started) and reports every result.
async fn run_loop(s: LoopSpec) {
    let interval = s.check.config.interval.get();
    let mut next = tokio::time::Instant::now() + interval;
    while s.to.connected() {
        tokio::time::sleep_until(next).await;
        let started = Instant::now();
        let pids = match &s.check.config.process {
            Some(_) => s.pids.lock().map(|p| p.clone()).unwrap_or_default(),
            None => Vec::new(),
        };
        let result = checks::run(&s.check, &s.env, &pids).await;
        next = tokio::time::Instant::from_std(started) + interval;
        s.to.do_send(CheckRan {
            service: s.service.clone(),
            index: s.index,
            generation: s.generation,
            started,
            result,
        });
    }
}

impl HealthChecker {
    /// Starts every health check of `service` that is not running yet.
    pub(super) fn start_loops(&mut self, service: &str, ctx: &mut Context<Self>) {
        let Some(env) = self.env(service, ctx) else {
            return;
        };
        let to = ctx.address().recipient();
        let Some(w) = self.watched.get_mut(service) else {
            return;
        };
        for (index, slot) in w.loops.iter_mut().enumerate() {
            if slot.is_none() {
                let spec = LoopSpec {
                    service: service.to_string(),
                    index,
                    generation: w.generation,
                    check: w.checks[index].clone(),
                    env: env.clone(),
                    pids: w.pids.clone(),
                    to: to.clone(),
                };
                *slot = Some(CheckLoop(actix::spawn(run_loop(spec))));
            }
        }
    }

    /// Stops the checks (service not up); health goes back to unknown.
    pub(super) fn stop_loops(&mut self, service: &str) {
        let Some(w) = self.watched.get_mut(service) else {
            return;
        };
        w.generation += 1;
        for slot in &mut w.loops {
            *slot = None;
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

    pub(super) fn on_check_ran(&mut self, msg: CheckRan, ctx: &mut Context<Self>) {
        let Some(w) = self.watched.get_mut(&msg.service) else {
            return;
        };
        if w.generation != msg.generation {
            return;
        }
        let Some(check) = w.checks.get(msg.index).cloned() else {
            return;
        };
        let config = &check.config;
        let in_start_period = w
            .last_spawn()
            .is_some_and(|t| t.elapsed() < config.start_period.get());
        let changed = w.tallies[msg.index].record(
            msg.result.is_ok(),
            in_start_period,
            config.failure_threshold,
            config.success_threshold,
        );
        if let Err(e) = &msg.result {
            debug!(self.setup.log, "health check failed"; "service" => &msg.service,
                "check" => &check.name, "error" => %e, "start_period" => in_start_period);
        }
        if self.observed.is_empty() {
            ctx.run_later(OBSERVED_BATCH, |act, _| act.send_observed());
        }
        self.observed.push(HealthCheckObserved {
            service: msg.service.clone(),
            check: check.name.clone(),
            success: msg.result.is_ok(),
            duration: msg.started.elapsed(),
        });
        if changed.is_none() {
            return;
        }
        let health = tally::combine(w.tallies.iter().map(|t| t.health));
        if health != w.health {
            w.health = health;
            let message = match &msg.result {
                Ok(()) => format!("check {} passed", check.name),
                Err(e) => e.to_string(),
            };
            self.report(HealthChanged {
                service: msg.service,
                health,
                check: Some(check.name.clone()),
                message,
            });
        }
    }

    /// Tells metrics of the check runs since the last batch.
    fn send_observed(&mut self) {
        let batch = HealthChecksObserved(std::mem::take(&mut self.observed));
        for r in &self.setup.checks {
            r.do_send(batch.clone());
        }
    }

    pub(super) fn report(&self, msg: HealthChanged) {
        for r in &self.setup.health {
            r.do_send(msg.clone());
        }
    }
}
