//! Readiness (SPEC 2.3): `readiness.check` polled for each new instance
//! until it passes `success_threshold` times in a row, and sd_notify
//! `READY=1` / `STATUS=` datagrams; both are told straight to the
//! service's actor (`InstanceReady`, `SetStatusText`).

use super::checks::{self, CheckError};
use super::messages::NotifyDatagram;
use super::notify;
use super::watched::tell_ready;
use super::HealthChecker;
use crate::model::config::CheckConfig;
use crate::service::messages::SetStatusText;
use actix::prelude::*;
use slog::debug;
use std::time::{Duration, Instant};

/// How often a readiness check without its own `interval` is polled.
const READINESS_POLL: Duration = Duration::from_secs(1);

/// How long a READY=1 that beat its instance's `Spawned` fact is kept.
const EARLY_READY_KEPT: Duration = Duration::from_secs(10);

impl HealthChecker {
    pub(super) fn schedule_ready(
        &mut self,
        service: &str,
        instance: u64,
        after: Duration,
        ctx: &mut Context<Self>,
    ) {
        let Some(inst) = self
            .watched
            .get_mut(service)
            .and_then(|w| w.instances.get_mut(&instance))
        else {
            return;
        };
        let pid = inst.pid;
        let name = service.to_string();
        let h = ctx.run_later(after, move |act, ctx| {
            act.run_ready(name, instance, pid, ctx)
        });
        inst.ready_poll = Some(h);
    }

    fn run_ready(&mut self, service: String, instance: u64, pid: i32, ctx: &mut Context<Self>) {
        let Some(env) = self.env(&service, ctx) else {
            return;
        };
        let Some(w) = self.watched.get_mut(&service) else {
            return;
        };
        let Some(check) = w.ready_check.clone() else {
            return;
        };
        let pids = w.pids();
        let Some(inst) = w.instances.get_mut(&instance).filter(|i| i.pid == pid) else {
            return;
        };
        let started = Instant::now();
        let fut =
            actix::fut::wrap_future::<_, Self>(
                async move { checks::run(&check, &env, &pids).await },
            )
            .map(move |result, act, ctx| {
                act.on_ready_result(service, instance, pid, started, result, ctx)
            });
        inst.ready_poll = Some(ctx.spawn(fut));
    }

    fn on_ready_result(
        &mut self,
        service: String,
        instance: u64,
        pid: i32,
        started: Instant,
        result: Result<(), CheckError>,
        ctx: &mut Context<Self>,
    ) {
        let Some(w) = self.watched.get_mut(&service) else {
            return;
        };
        let Some(check) = w.cfg.readiness.check.as_ref() else {
            return;
        };
        let Some(inst) = w.instances.get_mut(&instance).filter(|i| i.pid == pid) else {
            return;
        };
        inst.ready_poll = None;
        match &result {
            Ok(()) => inst.ready_successes += 1,
            Err(e) => {
                inst.ready_successes = 0;
                debug!(self.setup.log, "not ready yet"; "service" => &service, "instance" => instance, "error" => %e);
            }
        }
        if inst.ready_successes >= check.success_threshold.max(1) {
            tell_ready(&self.actors, &service, instance, pid);
            return;
        }
        let next = readiness_poll(check).saturating_sub(started.elapsed());
        self.schedule_ready(&service, instance, next, ctx);
    }

    pub(super) fn on_datagram(&mut self, msg: NotifyDatagram) {
        let Some(w) = self.watched.get_mut(&msg.service) else {
            return;
        };
        let fields = notify::parse(&msg.text);
        if let (Some(text), Some(a)) = (fields.status, self.actors.get(&msg.service)) {
            a.status_text.do_send(SetStatusText { text });
        }
        if !fields.ready {
            return;
        }
        let instances: Vec<(u64, i32)> = w.instances.iter().map(|(id, i)| (*id, i.pid)).collect();
        match notify::owner_instance(msg.pid, &instances) {
            Some((instance, pid)) => tell_ready(&self.actors, &msg.service, instance, pid),
            None => {
                // The datagram beat the instance's `Spawned` fact.
                w.early_ready
                    .retain(|(_, t)| t.elapsed() < EARLY_READY_KEPT);
                w.early_ready.push((msg.pid, Instant::now()));
            }
        }
    }

    pub(super) fn apply_early_ready(&mut self, service: &str, instance: u64, pid: i32) {
        let Some(w) = self.watched.get_mut(service) else {
            return;
        };
        let found = w.early_ready.iter().position(|(sender, t)| {
            t.elapsed() < EARLY_READY_KEPT
                && notify::owner_instance(*sender, &[(instance, pid)]).is_some()
        });
        if let Some(pos) = found {
            w.early_ready.remove(pos);
            tell_ready(&self.actors, service, instance, pid);
        }
    }
}

/// A readiness check is polled at its own `interval` when one was set,
/// else every second (the 10 s default suits health checks, not start-up).
fn readiness_poll(check: &CheckConfig) -> Duration {
    let interval = check.interval.get();
    if interval == CheckConfig::default().interval.get() {
        READINESS_POLL
    } else {
        interval
    }
}
