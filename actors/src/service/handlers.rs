//! The ServiceActor's commands (from the manager and the HealthChecker)
//! and its timers. While an exit waits for its process's last lines
//! (`exit.rs`), or a spawn runs on the launcher (`process.rs`), they are
//! queued and run in their order of arrival once the exit is recorded or
//! the spawn is back: each then sees the service as it is after it, as if
//! the actor had handled it first, without the actor blocking its mailbox.

use super::messages::{
    InstanceExited, InstanceReady, KillNow, SendSignal, SetStatusText, SignalError, SpawnDone,
    Start, Stop, Wait,
};
use super::ServiceActor;
use crate::model::machine::{Input, StopTarget, Timer};
use actix::prelude::*;

/// A command or timer firing, run now or once the pending exit is recorded.
pub(super) enum Queued {
    Start,
    Wait,
    Stop(Stop),
    KillNow,
    Ready(InstanceReady),
    StatusText(SetStatusText),
    Exited(InstanceExited),
    /// Timer `Timer` of instance `u64` fired.
    Timer(u64, Timer),
}

impl ServiceActor {
    /// An exit is pending or a spawn is out: commands and timers wait.
    fn busy(&self) -> bool {
        self.draining.is_some() || self.spawning > 0
    }

    /// Runs `q` now, or queues it while the actor is `busy`.
    pub(super) fn run(&mut self, q: Queued, ctx: &mut Context<Self>) {
        if self.busy() {
            self.queued.push_back(q);
            return;
        }
        match q {
            Queued::Start => {
                self.demand.held = false;
                self.for_all(Input::Start, ctx);
            }
            Queued::Wait => {
                self.demand.held = false;
                for s in &mut self.slots {
                    s.m.set_waiting();
                }
                self.publish(ctx);
            }
            Queued::Stop(msg) => self.stop(msg, ctx),
            Queued::KillNow => self.kill_now(ctx),
            Queued::Ready(msg) => self.ready(msg, ctx),
            Queued::StatusText(msg) => {
                self.status_text = Some(msg.text);
                self.publish(ctx);
            }
            Queued::Exited(msg) => self.begin_exit(msg, ctx),
            Queued::Timer(id, timer) => {
                if let Some(idx) = self.slots.iter().position(|s| s.id == id) {
                    self.feed(idx, Input::Timer(timer), ctx);
                    self.publish(ctx);
                }
            }
        }
    }

    /// Runs what was queued, until the actor is busy again.
    pub(super) fn run_queued(&mut self, ctx: &mut Context<Self>) {
        while !self.busy() {
            let Some(q) = self.queued.pop_front() else {
                return;
            };
            self.run(q, ctx);
        }
    }

    fn stop(&mut self, msg: Stop, ctx: &mut Context<Self>) {
        self.stop_signal = msg.signal;
        if msg.target == StopTarget::Stopped {
            // No activation and no queued runs until started again.
            self.demand.held = true;
            self.demand.clear_queue();
        }
        self.for_all(Input::Stop(msg.target), ctx);
    }

    fn kill_now(&mut self, ctx: &mut Context<Self>) {
        for idx in 0..self.slots.len() {
            if self.slots[idx].m.pid.is_some() {
                self.feed(idx, Input::Stop(StopTarget::Stopped), ctx);
                self.feed(idx, Input::Timer(Timer::StopTimeout), ctx);
            }
        }
        self.publish(ctx);
    }

    fn ready(&mut self, msg: InstanceReady, ctx: &mut Context<Self>) {
        if let Some(idx) = self
            .slots
            .iter()
            .position(|s| s.id == msg.instance && (msg.pid.is_none() || s.m.pid == msg.pid))
        {
            self.feed(idx, Input::Ready, ctx);
            self.publish(ctx);
        }
    }
}

impl Handler<Start> for ServiceActor {
    type Result = ();
    fn handle(&mut self, _: Start, ctx: &mut Context<Self>) {
        self.run(Queued::Start, ctx);
    }
}

impl Handler<Wait> for ServiceActor {
    type Result = ();
    fn handle(&mut self, _: Wait, ctx: &mut Context<Self>) {
        self.run(Queued::Wait, ctx);
    }
}

impl Handler<Stop> for ServiceActor {
    type Result = ();
    fn handle(&mut self, msg: Stop, ctx: &mut Context<Self>) {
        self.run(Queued::Stop(msg), ctx);
    }
}

impl Handler<KillNow> for ServiceActor {
    type Result = ();
    fn handle(&mut self, _: KillNow, ctx: &mut Context<Self>) {
        self.run(Queued::KillNow, ctx);
    }
}

impl Handler<InstanceExited> for ServiceActor {
    type Result = ();
    fn handle(&mut self, msg: InstanceExited, ctx: &mut Context<Self>) {
        self.run(Queued::Exited(msg), ctx);
    }
}

impl Handler<SpawnDone> for ServiceActor {
    type Result = ();
    fn handle(&mut self, msg: SpawnDone, ctx: &mut Context<Self>) {
        self.spawn_done(msg, ctx);
    }
}

impl Handler<InstanceReady> for ServiceActor {
    type Result = ();
    fn handle(&mut self, msg: InstanceReady, ctx: &mut Context<Self>) {
        self.run(Queued::Ready(msg), ctx);
    }
}

impl Handler<SetStatusText> for ServiceActor {
    type Result = ();
    fn handle(&mut self, msg: SetStatusText, ctx: &mut Context<Self>) {
        self.run(Queued::StatusText(msg), ctx);
    }
}

/// Answered at once (the API waits for it): a pid that was reaped but whose
/// exit is not recorded yet is skipped, as its number may be reused.
impl Handler<SendSignal> for ServiceActor {
    type Result = Result<usize, SignalError>;
    fn handle(&mut self, msg: SendSignal, _: &mut Context<Self>) -> Self::Result {
        let mut sent = 0;
        for s in &self.slots {
            if let Some(pid) = s.m.pid.filter(|&p| !self.reaped(s.id, p)) {
                self.s
                    .os
                    .spawner
                    .signal(pid, msg.signal, self.s.cfg.stop.group)
                    .map_err(|errno| SignalError { pid, errno })?;
                sent += 1;
            }
        }
        Ok(sent)
    }
}
