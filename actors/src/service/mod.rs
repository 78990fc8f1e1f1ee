//! ServiceActor: one per service. Owns the service's instances, feeds their
//! state machines (`model::machine`) and performs the effects: spawn, stop
//! signals, SIGKILL, timers, log events. It owns the service's runtime
//! state and publishes it as one `ServiceStatus` (in `ServiceUpdated`) to
//! the ServiceManager, and `ServiceFact`s to observers (metrics, notifiers).

pub mod demand;
mod exit;
mod handlers;
pub mod limits;
pub mod messages;
pub mod plan;
mod process;
#[cfg(test)]
mod tests;

use crate::facts::ServiceUpdated;
use crate::logging::service_logs::ServiceLogs;
use crate::model::config::{RestartPolicy, ServiceConfig, ServiceType};
use crate::model::machine::{aggregate, Effect, Event, Input, Instance, Policy, Timer};
use crate::model::schedule::Timetable;
use crate::model::signal::signal_short_name;
use crate::model::signal::Signal;
use crate::model::status::ServiceStatus;
use crate::model::view::{ExitView, InstanceView, ServiceState};
use crate::os::Os;
use crate::processes::ProcessTable;
use actix::prelude::*;
use chrono::{DateTime, Utc};
use messages::*;
use slog::{error, info, o, warn, Logger};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

/// Everything a ServiceActor is given by the ServiceManager.
pub struct ServiceSetup {
    pub name: String,
    /// Distinguishes this actor from an earlier one of the same name (reload).
    pub generation: u64,
    pub cfg: Arc<ServiceConfig>,
    /// Shared by every actor (one recipient, not one per actor).
    pub manager: Arc<Recipient<ServiceUpdated>>,
    pub facts: Arc<[Recipient<ServiceFact>]>,
    pub procs: ProcessTable,
    pub logs: Arc<ServiceLogs>,
    /// The thread that reads child pipes.
    pub log_arbiter: ArbiterHandle,
    /// With the `service` key already (shared with the service's logs).
    pub log: Logger,
    /// The service's limits: cgroup, rlimits, usage, OOM detection.
    pub limits: Arc<limits::ServiceLimits>,
    /// The service's bound `socket.listen` sockets (on-demand, per-demand).
    pub sockets: Vec<std::rc::Rc<crate::sys::socket::ListenSocket>>,
    /// Where socket activation and schedules ask for a start.
    pub activate: Option<Arc<Recipient<crate::facts::ActivateService>>>,
    /// Spawner, clock and cgroup host (`crate::os`).
    pub os: Arc<Os>,
}

struct Slot {
    id: u64,
    m: Instance,
    started_utc: Option<DateTime<Utc>>,
    spawned_at: Option<Instant>,
    /// inetd style: stdin and stdout of the instance, handed over at spawn.
    connection: Option<std::os::fd::OwnedFd>,
}

pub struct ServiceActor {
    s: ServiceSetup,
    slots: Vec<Slot>,
    timers: HashMap<(u64, Timer), SpawnHandle>,
    /// Boxed, like `draining`: fields that are `None` most of the time
    /// take 8 bytes of the actor instead of their size (~120 bytes).
    last_exit: Option<Box<(ExitView, i32)>>,
    status_text: Option<String>,
    released: bool,
    release_timer: Option<SpawnHandle>,
    last_state: ServiceState,
    /// Signal for the current stop, when the request named one.
    stop_signal: Option<Signal>,
    /// A retry of removing the cgroup is scheduled.
    release_retry: Option<SpawnHandle>,
    /// A spawn met EMFILE/ENFILE/EAGAIN and is retried; warned once until a
    /// spawn works again (`process.rs`).
    starved: bool,
    /// Sockets, per-demand instances and schedule (`demand.rs`).
    demand: demand::Demand,
    /// An exit waiting for its process's last lines (`exit.rs`).
    draining: Option<Box<exit::Draining>>,
    /// Commands and timers that arrived meanwhile, replayed in order once
    /// the exit is recorded (`handlers.rs`).
    queued: std::collections::VecDeque<handlers::Queued>,
    /// Tells drains apart (`exit.rs`).
    drain_seq: u64,
    /// Spawns out on the launcher, not back yet (`process.rs`).
    spawning: u32,
}

impl ServiceActor {
    pub fn new(mut s: ServiceSetup) -> ServiceActor {
        let per_demand = s.cfg.kind == ServiceType::PerDemand;
        // Per-demand instances are created by triggers.
        let fixed = if per_demand {
            0
        } else {
            s.cfg.instances.max(1) as u64
        };
        let slots = (0..fixed)
            .map(|id| Slot {
                id,
                m: Instance::new(),
                started_utc: None,
                spawned_at: None,
                connection: None,
            })
            .collect();
        // A bad schedule was refused at load (`model::activation::check`).
        let timetable = s
            .cfg
            .schedule
            .as_ref()
            .and_then(|sc| Timetable::from_config(sc).ok());
        let demand = demand::Demand::new(std::mem::take(&mut s.sockets), timetable);
        ServiceActor {
            s,
            slots,
            timers: HashMap::new(),
            last_exit: None,
            status_text: None,
            released: false,
            release_timer: None,
            last_state: ServiceState::Inactive,
            stop_signal: None,
            release_retry: None,
            starved: false,
            demand,
            draining: None,
            queued: Default::default(),
            drain_seq: 0,
            spawning: 0,
        }
    }

    fn state(&self) -> ServiceState {
        aggregate(self.slots.iter().map(|s| s.m.state))
    }

    /// Feeds one input to one instance and performs the effects.
    fn feed(&mut self, idx: usize, input: Input, ctx: &mut Context<Self>) {
        let Some(slot) = self.slots.get_mut(idx) else {
            return;
        };
        let mut policy = Policy::from_config(&self.s.cfg);
        if self.s.cfg.kind == ServiceType::PerDemand {
            // Finished instances are counted, never restarted (SPEC 3).
            policy.restart = RestartPolicy::Never;
        }
        let effects = slot.m.step(input, self.s.os.clock.now(), &policy);
        for effect in effects {
            self.apply(idx, effect, ctx);
        }
    }

    fn apply(&mut self, idx: usize, effect: Effect, ctx: &mut Context<Self>) {
        let id = self.slots[idx].id;
        // A reaped pid whose exit is not recorded yet is signalled no more:
        // the number may already belong to another process.
        let pid = self.slots[idx].m.pid.filter(|&p| !self.reaped(id, p));
        let log = self.s.log.new(o!("instance" => id));
        match effect {
            Effect::Spawn => self.spawn_instance(idx, ctx),
            Effect::SendStopSignal => {
                if let Some(pid) = pid {
                    let sig = self.stop_signal.unwrap_or(self.s.cfg.stop.signal.get());
                    info!(log, "stopping"; "event" => "stopping", "pid" => pid, "signal" => signal_short_name(sig));
                    let group = self.s.cfg.stop.group;
                    if let Err(e) = self.s.os.spawner.signal(pid, sig, group) {
                        warn!(log, "cannot send the stop signal"; "pid" => pid, "error" => %e);
                    }
                    // A stopped process (SIGSTOP, SIGTSTP) acts on no signal but
                    // KILL until continued: SIGCONT lets it handle the stop
                    // signal now instead of being SIGKILLed at the timeout
                    // (systemd does the same).
                    let _ = self.s.os.spawner.signal(pid, Signal::SIGCONT, group);
                }
            }
            Effect::Kill => {
                if let Some(pid) = pid {
                    warn!(log, "stop timeout reached, sending SIGKILL"; "pid" => pid, "signal" => "KILL");
                    let _ = self.s.os.spawner.signal(pid, Signal::SIGKILL, true);
                }
            }
            Effect::Arm(timer, after) => {
                if let Some(h) = self.timers.remove(&(id, timer)) {
                    ctx.cancel_future(h);
                }
                let h = ctx.run_later(after, move |act, ctx| {
                    act.timers.remove(&(id, timer));
                    act.run(handlers::Queued::Timer(id, timer), ctx);
                });
                self.timers.insert((id, timer), h);
            }
            Effect::Disarm(timer) => {
                if let Some(h) = self.timers.remove(&(id, timer)) {
                    ctx.cancel_future(h);
                }
            }
            Effect::Emit(event) => self.emit(idx, event),
        }
    }

    fn emit(&mut self, idx: usize, event: Event) {
        let slot = &self.slots[idx];
        let log = self.s.log.new(o!("instance" => slot.id));
        let kind = match event {
            Event::Ready => {
                info!(log, "ready"; "event" => "ready", "pid" => slot.m.pid);
                FactKind::Ready {
                    since_spawn: slot
                        .spawned_at
                        .map(|t| self.s.os.clock.now().saturating_duration_since(t))
                        .unwrap_or_default(),
                }
            }
            Event::Restarting { delay } => {
                info!(log, "restarting"; "event" => "restarting", "delay_ms" => delay.as_millis() as u64);
                FactKind::Restarting { delay }
            }
            Event::GaveUp => {
                error!(log, "gave up after too many failures"; "event" => "gave_up", "max_retries" => self.s.cfg.restart.max_retries);
                FactKind::GaveUp
            }
            Event::Completed | Event::Failed => return,
        };
        self.fact(slot.id, slot.m.pid, kind);
    }

    fn fact(&self, instance: u64, pid: Option<i32>, kind: FactKind) {
        for r in self.s.facts.iter() {
            r.do_send(ServiceFact {
                service: self.s.name.clone(),
                instance,
                pid,
                kind: kind.clone(),
            });
        }
    }

    /// Sends the current status to the manager; handles `notify_delay`.
    fn publish(&mut self, ctx: &mut Context<Self>) {
        self.settle_demand(ctx);
        let state = self.state();
        let settled_up = matches!(state, ServiceState::Ready | ServiceState::Completed);
        if settled_up && !self.released && self.release_timer.is_none() {
            let delay = self.s.cfg.notify_delay.get();
            if delay.is_zero() {
                self.released = true;
            } else {
                self.release_timer = Some(ctx.run_later(delay, |act, ctx| {
                    act.release_timer = None;
                    act.released = true;
                    act.publish(ctx);
                }));
            }
        } else if !settled_up {
            self.released = false;
            if let Some(h) = self.release_timer.take() {
                ctx.cancel_future(h);
            }
        }
        if state != self.last_state {
            let from = self.last_state;
            self.last_state = state;
            if matches!(state, ServiceState::Stopped) {
                info!(self.s.log, "stopped"; "event" => "stopped");
            }
            self.fact(0, None, FactKind::StateChanged { from, to: state });
        }
        self.s.manager.do_send(ServiceUpdated {
            service: self.s.name.clone(),
            generation: self.s.generation,
            status: self.status(),
        });
    }

    /// The runtime status this actor owns, as published to the manager.
    fn status(&self) -> ServiceStatus {
        ServiceStatus {
            state: self.state(),
            instances: self
                .slots
                .iter()
                .map(|s| InstanceView {
                    id: s.id,
                    pid: s.m.pid,
                    state: s.m.state,
                    started_at: s.m.pid.and(s.started_utc),
                })
                .collect(),
            restarts: self.slots.iter().map(|s| s.m.restarts).sum(),
            last_exit: self.last_exit.as_deref().map(|(v, _)| v.clone()),
            last_exit_code: self.last_exit.as_deref().map(|(_, c)| *c),
            status_text: self.status_text.clone(),
            next_run: self.demand.next_run,
            runs_total: self.counts_runs().then_some(self.demand.runs_total),
            released: self.released,
            killed: self.slots.iter().any(|s| s.m.killed),
        }
    }

    /// On-demand, per-demand and scheduled services show `runs_total`.
    fn counts_runs(&self) -> bool {
        matches!(
            self.s.cfg.kind,
            ServiceType::OnDemand | ServiceType::PerDemand
        ) || self.s.cfg.schedule.is_some()
    }

    fn for_all(&mut self, input: Input, ctx: &mut Context<Self>) {
        for idx in 0..self.slots.len() {
            self.feed(idx, input, ctx);
        }
        self.publish(ctx);
    }
}

impl Actor for ServiceActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        for w in self.s.limits.warnings() {
            warn!(self.s.log, "limit not fully enforced: {w}");
        }
        self.start_demand(ctx);
        self.publish(ctx);
    }
}
