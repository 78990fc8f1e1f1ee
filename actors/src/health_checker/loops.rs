//! The periodic `health:` checks of services that are up: one timer or
//! run in flight per check, the tallies, and `HealthChanged` when a
//! service's combined health changes (SPEC 2.4, 5.1).

use super::checks::{self, CheckError};
use super::messages::HealthChanged;
use super::tally::{self, Tally};
use super::HealthChecker;
use crate::metrics_exporter::messages::HealthCheckObserved;
use crate::model::view::Health;
use actix::prelude::*;
use slog::debug;
use std::time::{Duration, Instant};

impl HealthChecker {
    /// Starts every health check of `service` that is not running yet.
    pub(super) fn start_loops(&mut self, service: &str, ctx: &mut Context<Self>) {
        let Some(w) = self.watched.get(service) else {
            return;
        };
        let idle: Vec<(usize, Duration)> = (0..w.loops.len())
            .filter(|&i| w.loops[i].is_none())
            .map(|i| (i, w.cfg.health[i].interval.get()))
            .collect();
        for (i, interval) in idle {
            self.schedule_check(service, i, interval, ctx);
        }
    }

    /// Stops the checks (service not up); health goes back to unknown.
    pub(super) fn stop_loops(&mut self, service: &str, ctx: &mut Context<Self>) {
        let Some(w) = self.watched.get_mut(service) else {
            return;
        };
        w.generation += 1;
        for h in w.loops.iter_mut().filter_map(Option::take) {
            ctx.cancel_future(h);
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

    fn schedule_check(
        &mut self,
        service: &str,
        i: usize,
        after: Duration,
        ctx: &mut Context<Self>,
    ) {
        let Some(w) = self.watched.get_mut(service) else {
            return;
        };
        let gen = w.generation;
        let name = service.to_string();
        let h = ctx.run_later(after, move |act, ctx| act.run_check(name, i, gen, ctx));
        w.loops[i] = Some(h);
    }

    fn run_check(&mut self, service: String, i: usize, gen: u64, ctx: &mut Context<Self>) {
        let Some(env) = self.env(&service, ctx) else {
            return;
        };
        let Some(w) = self.watched.get_mut(&service) else {
            return;
        };
        if w.generation != gen {
            return;
        }
        let check = w.checks[i].clone();
        let pids = if check.config.process.is_some() {
            w.pids()
        } else {
            Vec::new()
        };
        let started = Instant::now();
        let fut =
            actix::fut::wrap_future::<_, Self>(
                async move { checks::run(&check, &env, &pids).await },
            )
            .map(move |result, act, ctx| {
                act.on_check_result(service, i, gen, started, result, ctx)
            });
        w.loops[i] = Some(ctx.spawn(fut));
    }

    fn on_check_result(
        &mut self,
        service: String,
        i: usize,
        gen: u64,
        started: Instant,
        result: Result<(), CheckError>,
        ctx: &mut Context<Self>,
    ) {
        let Some(w) = self.watched.get_mut(&service) else {
            return;
        };
        if w.generation != gen {
            return;
        }
        let check = w.checks[i].clone();
        let config = &check.config;
        let in_start_period = w
            .last_spawn()
            .is_some_and(|t| t.elapsed() < config.start_period.get());
        let changed = w.tallies[i].record(
            result.is_ok(),
            in_start_period,
            config.failure_threshold,
            config.success_threshold,
        );
        if let Err(e) = &result {
            debug!(self.setup.log, "health check failed"; "service" => &service, "check" => &check.name,
                "error" => %e, "start_period" => in_start_period);
        }
        for r in &self.setup.checks {
            r.do_send(HealthCheckObserved {
                service: service.clone(),
                check: check.name.clone(),
                success: result.is_ok(),
                duration: started.elapsed(),
            });
        }
        if changed.is_some() {
            let health = tally::combine(w.tallies.iter().map(|t| t.health));
            if health != w.health {
                w.health = health;
                let message = match &result {
                    Ok(()) => format!("check {} passed", check.name),
                    Err(e) => e.to_string(),
                };
                self.report(HealthChanged {
                    service: service.clone(),
                    health,
                    check: Some(check.name.clone()),
                    message,
                });
            }
        }
        // The next run starts one interval after this one started.
        let next = config.interval.get().saturating_sub(started.elapsed());
        self.schedule_check(&service, i, next, ctx);
    }

    pub(super) fn report(&self, msg: HealthChanged) {
        for r in &self.setup.health {
            r.do_send(msg.clone());
        }
    }
}
