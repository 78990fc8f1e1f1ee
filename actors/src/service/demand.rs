//! The ServiceActor's activation side (SPEC 3): watching the listening
//! sockets of on-demand and per-demand services, per-demand instances
//! (increasing ids, at most `max_instances` at once, a bounded queue,
//! inetd-style accepted connections) and schedules (one timer per scheduled
//! service, `overlap`). Services without sockets or a schedule pay nothing:
//! no watcher, no timer.
//!
//! Socket readiness is "a connection is waiting", checked with a zero-wait
//! poll and never by accepting, so the activated service finds the first
//! connection in its backlog. While the service runs, the watcher is off.

use super::messages::Trigger;
use super::{ServiceActor, Slot};
use crate::facts::{ActivateService, ControlError};
use crate::model::config::{Overlap, ServiceType};
use crate::model::machine::Input;
use crate::model::schedule::Timetable;
use crate::model::view::ServiceState;
use crate::sys::socket::{self, ListenSocket};
use actix::prelude::*;
use chrono::{DateTime, Utc};
use futures_util::future::select_all;
use slog::{debug, info, warn};
use std::collections::VecDeque;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::rc::Rc;
use tokio::io::unix::AsyncFd;

/// Runs waiting for a free per-demand slot; past this a trigger is refused.
pub const QUEUE_LIMIT: usize = 1024;

/// A per-demand run that waits for a free slot.
pub(super) struct Pending {
    id: u64,
    connection: Option<OwnedFd>,
}

/// Activation state of one service.
#[derive(Default)]
pub(super) struct Demand {
    /// Bound by `oneinit` at start; registered with the reactor in `started`.
    /// Reactor registrations of duplicates of `sockets`.
    watched: Vec<Rc<AsyncFd<OwnedFd>>>,
    sockets: Vec<Rc<ListenSocket>>,
    watch: Option<SpawnHandle>,
    /// On-demand: the manager was asked to start us; wait for it.
    activation_sent: bool,
    /// Stopped on request (or shutdown): no activation until started again.
    pub(super) held: bool,
    /// Per-demand: the next instance id (never reused).
    next_id: u64,
    pub(super) runs_total: u64,
    pending: VecDeque<Pending>,
    timetable: Option<Timetable>,
    pub(super) next_run: Option<DateTime<Utc>>,
    /// Scheduled runs waiting for the previous one (`overlap: queue`).
    queued_runs: u32,
}

impl Demand {
    pub(super) fn new(sockets: Vec<Rc<ListenSocket>>, timetable: Option<Timetable>) -> Demand {
        Demand {
            sockets,
            timetable,
            ..Demand::default()
        }
    }

    /// Drops the runs waiting for a slot (their connections close).
    pub(super) fn clear_queue(&mut self) {
        self.pending.clear();
        self.queued_runs = 0;
    }

    /// The raw fds to pass with LISTEN_FDS (none in accept mode).
    pub(super) fn listen_fds(&self, accept: bool) -> Vec<RawFd> {
        if accept {
            return Vec::new();
        }
        self.sockets.iter().map(|s| s.raw()).collect()
    }
}

/// Waits until a connection is waiting on `fd`, without accepting it.
async fn wait_pending(fd: Rc<AsyncFd<OwnedFd>>) {
    loop {
        match fd.readable().await {
            Ok(mut guard) => {
                if socket::has_pending(fd.get_ref().as_raw_fd()) {
                    return;
                }
                // Stale readiness (the service took the connections): forget it.
                guard.clear_ready();
            }
            Err(_) => std::future::pending::<()>().await,
        }
    }
}

impl ServiceActor {
    fn is_per_demand(&self) -> bool {
        self.s.cfg.kind == ServiceType::PerDemand
    }

    fn accept_mode(&self) -> bool {
        self.s.cfg.socket.as_ref().is_some_and(|s| s.accept)
    }

    fn max_instances(&self) -> usize {
        self.s.cfg.max_instances.max(1) as usize
    }

    /// Registers the sockets with the reactor and arms the schedule.
    pub(super) fn start_demand(&mut self, ctx: &mut Context<Self>) {
        let accept = self.accept_mode();
        for sock in &self.demand.sockets {
            if accept {
                if let Err(e) = socket::set_nonblocking(&sock.fd) {
                    warn!(self.s.log, "cannot make the socket non-blocking; accepting may stall"; "listen" => &sock.addr, "error" => %e);
                }
            }
            // A duplicate (same socket) that the reactor may own.
            let watched = socket::watch(&sock.fd);
            match watched {
                Ok(fd) => self.demand.watched.push(Rc::new(fd)),
                Err(e) => {
                    warn!(self.s.log, "cannot watch the socket; start the service with `onecli start`"; "listen" => &sock.addr, "error" => %e)
                }
            }
        }
        if !self.demand.sockets.is_empty() {
            let listen: Vec<&str> = self
                .demand
                .sockets
                .iter()
                .map(|s| s.addr.as_str())
                .collect();
            info!(self.s.log, "listening for activation"; "listen" => listen.join(" "), "accept" => accept);
        }
        if let Some(tt) = &self.demand.timetable {
            let now = self.s.os.clock.utc();
            let on_start = self.s.cfg.schedule.as_ref().is_some_and(|s| s.run_on_start);
            self.demand.next_run = tt.next_due(now, now);
            if on_start {
                ctx.run_later(std::time::Duration::ZERO, |act, ctx| {
                    act.scheduled_run(ctx);
                    act.publish(ctx);
                });
            }
            self.arm_schedule(ctx);
        }
    }

    fn arm_schedule(&mut self, ctx: &mut Context<Self>) {
        let Some(due) = self.demand.next_run else {
            return;
        };
        let wait = (due - self.s.os.clock.utc()).to_std().unwrap_or_default();
        ctx.run_later(wait, move |act, ctx| {
            let now = act.s.os.clock.utc();
            if now < due {
                // The wall clock moved back: wait for the due time again.
                act.arm_schedule(ctx);
                return;
            }
            act.demand.next_run = act
                .demand
                .timetable
                .as_ref()
                .and_then(|tt| tt.next_due(due, now));
            act.scheduled_run(ctx);
            act.arm_schedule(ctx);
            act.publish(ctx);
        });
    }

    /// A due time came: run, skip or queue as `overlap` says.
    fn scheduled_run(&mut self, ctx: &mut Context<Self>) {
        let overlap = self
            .s
            .cfg
            .schedule
            .as_ref()
            .map(|s| s.overlap)
            .unwrap_or_default();
        let busy = if self.is_per_demand() {
            !self.slots.is_empty()
        } else {
            let st = self.state();
            st.is_alive() || matches!(st, ServiceState::Backoff | ServiceState::Waiting)
        };
        match (busy, overlap) {
            (true, Overlap::Skip) => {
                info!(self.s.log, "scheduled run skipped: the previous run is still going"; "overlap" => "skip");
            }
            (true, Overlap::Queue) | (true, Overlap::Allow) if !self.is_per_demand() => {
                // One process per oneshot: `allow` waits like `queue`.
                self.demand.queued_runs = self.demand.queued_runs.saturating_add(1);
            }
            (true, Overlap::Queue) => {
                self.demand.queued_runs = self.demand.queued_runs.saturating_add(1);
            }
            _ => self.run_now("schedule", ctx),
        }
    }

    /// Starts one run: a new per-demand instance, or the service via the manager.
    fn run_now(&mut self, reason: &'static str, ctx: &mut Context<Self>) {
        if self.is_per_demand() {
            if let Err(e) = self.trigger(None, ctx) {
                warn!(self.s.log, "run not started"; "reason" => reason, "error" => %e);
            }
        } else {
            self.activate(reason);
        }
    }

    fn activate(&mut self, reason: &'static str) {
        info!(self.s.log, "activating"; "reason" => reason);
        if let Some(r) = &self.s.activate {
            r.do_send(ActivateService {
                name: self.s.name.clone(),
                reason,
            });
        }
    }

    /// A new per-demand instance now, or queued when `max_instances` run.
    pub(super) fn trigger(
        &mut self,
        connection: Option<OwnedFd>,
        ctx: &mut Context<Self>,
    ) -> Result<u64, ControlError> {
        let room = self.slots.len() < self.max_instances() && self.demand.pending.is_empty();
        if !room && self.demand.pending.len() >= QUEUE_LIMIT {
            return Err(ControlError::TooMany(format!(
                "service {}: {} runs are already waiting for one of its {} instance slots; try again later or raise max_instances",
                self.s.name,
                self.demand.pending.len(),
                self.max_instances()
            )));
        }
        self.demand.held = false;
        let id = self.demand.next_id;
        self.demand.next_id += 1;
        if room {
            self.launch(id, connection, ctx);
        } else {
            debug!(self.s.log, "run queued"; "instance" => id, "queued" => self.demand.pending.len() + 1);
            self.demand.pending.push_back(Pending { id, connection });
        }
        Ok(id)
    }

    fn launch(&mut self, id: u64, connection: Option<OwnedFd>, ctx: &mut Context<Self>) {
        self.slots.push(Slot {
            id,
            m: crate::model::machine::Instance::new(),
            started_utc: None,
            spawned_at: None,
            connection,
        });
        let idx = self.slots.len() - 1;
        self.feed(idx, Input::Start, ctx);
    }

    /// After every change: drop finished per-demand instances, start queued
    /// runs, and switch the socket watcher on or off.
    pub(super) fn settle_demand(&mut self, ctx: &mut Context<Self>) {
        if self.is_per_demand() {
            loop {
                self.slots.retain(|s| {
                    s.m.pid.is_some() || s.m.state.is_alive() || s.m.state == ServiceState::Backoff
                });
                let room = self.slots.len() < self.max_instances();
                if !room || self.demand.held {
                    break;
                }
                if let Some(p) = self.demand.pending.pop_front() {
                    self.launch(p.id, p.connection, ctx);
                } else if self.demand.queued_runs > 0 && self.slots.is_empty() {
                    self.demand.queued_runs -= 1;
                    self.run_now("schedule", ctx);
                } else {
                    break;
                }
            }
        } else if self.demand.queued_runs > 0
            && matches!(self.state(), ServiceState::Completed | ServiceState::Failed)
        {
            self.demand.queued_runs -= 1;
            self.activate("schedule");
        }
        if self.state() != ServiceState::Inactive {
            self.demand.activation_sent = false;
        }
        self.update_watch(ctx);
    }

    fn should_watch(&self) -> bool {
        if self.demand.watched.is_empty() || self.demand.held {
            return false;
        }
        if self.accept_mode() {
            return self.slots.len() < self.max_instances() && self.demand.pending.is_empty();
        }
        if self.is_per_demand() {
            return self.slots.is_empty() && self.demand.pending.is_empty();
        }
        self.state() == ServiceState::Inactive && !self.demand.activation_sent
    }

    fn update_watch(&mut self, ctx: &mut Context<Self>) {
        let want = self.should_watch();
        match (want, self.demand.watch.is_some()) {
            (true, false) => {
                let waits = self
                    .demand
                    .watched
                    .iter()
                    .map(|fd| Box::pin(wait_pending(fd.clone())));
                let all = select_all(waits);
                let h = ctx.spawn(all.into_actor(self).map(|_, act, ctx| {
                    act.demand.watch = None;
                    act.on_connection(ctx);
                    act.publish(ctx);
                }));
                self.demand.watch = Some(h);
            }
            (false, true) => {
                if let Some(h) = self.demand.watch.take() {
                    ctx.cancel_future(h);
                }
            }
            _ => {}
        }
    }

    /// A connection is waiting on one of the sockets.
    fn on_connection(&mut self, ctx: &mut Context<Self>) {
        if self.accept_mode() {
            self.accept_all(ctx);
        } else if self.is_per_demand() {
            info!(self.s.log, "connection waiting: starting an instance"; "reason" => "socket");
            if let Err(e) = self.trigger(None, ctx) {
                warn!(self.s.log, "run not started"; "error" => %e);
            }
        } else {
            self.demand.activation_sent = true;
            self.activate("socket");
        }
    }

    /// inetd style: one instance per accepted connection, while slots are free.
    fn accept_all(&mut self, ctx: &mut Context<Self>) {
        let max = self.max_instances();
        let socks: Vec<Rc<AsyncFd<OwnedFd>>> = self.demand.watched.clone();
        loop {
            let mut accepted = false;
            for fd in &socks {
                if self.slots.len() >= max {
                    return;
                }
                match socket::accept(fd.get_ref()) {
                    Ok(Some(conn)) => {
                        accepted = true;
                        if let Err(e) = self.trigger(Some(conn), ctx) {
                            warn!(self.s.log, "connection dropped"; "error" => %e);
                        }
                    }
                    Ok(None) => {}
                    Err(e) => warn!(self.s.log, "cannot accept a connection"; "error" => %e),
                }
            }
            if !accepted {
                return;
            }
        }
    }
}

impl Handler<Trigger> for ServiceActor {
    type Result = Result<u64, ControlError>;
    fn handle(&mut self, msg: Trigger, ctx: &mut Context<Self>) -> Self::Result {
        let id = self.trigger(msg.connection, ctx)?;
        info!(self.s.log, "triggered"; "instance" => id);
        self.publish(ctx);
        Ok(id)
    }
}
