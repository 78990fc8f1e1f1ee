//! An instance's exit. What the process wrote before it exited is logged
//! before its `exited` record, and before dependents start: the exit is
//! recorded once its pipe readers report EOF (`ServiceLogs::drained`) or,
//! at the latest, after `DRAIN_WAIT`. Meanwhile the actor's mailbox keeps
//! flowing; its commands and timers are queued (`handlers.rs`).

use super::messages::{FactKind, InstanceExited};
use super::{limits, ServiceActor};
use crate::model::machine::{Ended, Input};
use crate::model::signal::signal_short_name;
use crate::model::view::{ExitView, ServiceState};
use crate::sys::reap::ExitStatus;
use actix::prelude::*;
use slog::{error, info, o, warn};
use std::time::Duration;

/// How long an exit waits for the lines its process left in its pipes
/// (longer than the default `logging.stall_timeout`, after which a stuck
/// stdout no longer holds them back).
const DRAIN_WAIT: Duration = Duration::from_secs(15);

/// An exit waiting for its last lines.
pub(super) struct Draining {
    seq: u64,
    msg: InstanceExited,
    /// The readers' EOF and the `DRAIN_WAIT` bound; the first wins.
    waits: [SpawnHandle; 2],
}

impl ServiceActor {
    /// True while `pid` of instance `id` was reaped but its exit is not
    /// recorded yet.
    pub(super) fn reaped(&self, id: u64, pid: i32) -> bool {
        self.draining
            .as_ref()
            .is_some_and(|d| d.msg.instance == id && d.msg.pid == pid)
    }

    pub(super) fn begin_exit(&mut self, msg: InstanceExited, ctx: &mut Context<Self>) {
        self.drain_seq += 1;
        let seq = self.drain_seq;
        let drained = self.s.logs.drained(msg.instance, msg.pid);
        let eof = ctx.spawn(
            drained
                .into_actor(self)
                .map(move |_, act, ctx| act.drain_over(seq, ctx)),
        );
        let bound = ctx.run_later(DRAIN_WAIT, move |act, ctx| act.drain_over(seq, ctx));
        self.draining = Some(Box::new(Draining {
            seq,
            msg,
            waits: [eof, bound],
        }));
    }

    fn drain_over(&mut self, seq: u64, ctx: &mut Context<Self>) {
        if self.draining.as_ref().is_none_or(|d| d.seq != seq) {
            return;
        }
        let Some(d) = self.draining.take() else {
            return;
        };
        for h in d.waits {
            ctx.cancel_future(h);
        }
        let Draining { msg, .. } = *d;
        self.exited(msg, ctx);
        self.run_queued(ctx);
    }

    fn exited(&mut self, msg: InstanceExited, ctx: &mut Context<Self>) {
        let Some(idx) = self
            .slots
            .iter()
            .position(|s| s.id == msg.instance && s.m.pid == Some(msg.pid))
        else {
            return;
        };
        let now = self.s.os.clock.now();
        let ran = self.slots[idx]
            .spawned_at
            .map(|t| now.saturating_duration_since(t))
            .unwrap_or_default();
        let (ended, code, signal) = match msg.status {
            ExitStatus::Exited(c) => (Ended::Code(c), Some(c), None),
            ExitStatus::Signaled(s) => (Ended::Signal(s.number()), None, Some(s)),
        };
        let success = code.is_some_and(|c| self.s.cfg.restart.success_codes.contains(&c));
        let log = self.s.log.new(o!("instance" => msg.instance));
        let sig_name = signal.map(signal_short_name);
        let stopping = self.slots[idx].m.state == ServiceState::Stopping;
        let reason = self
            .s
            .limits
            .oom_killed(signal, stopping, success)
            .then_some(limits::OOM_KILLED);
        if success || stopping {
            info!(log, "exited"; "event" => "exited", "pid" => msg.pid, "exit_code" => code, "signal" => sig_name);
        } else if reason.is_some() {
            error!(log, "exited: killed for exceeding its memory limit"; "event" => "exited", "pid" => msg.pid, "exit_code" => code, "signal" => sig_name, "reason" => reason);
        } else {
            warn!(log, "exited"; "event" => "exited", "pid" => msg.pid, "exit_code" => code, "signal" => sig_name);
        }
        self.last_exit = Some(Box::new((
            ExitView {
                code,
                signal: sig_name.map(str::to_string),
                at: self.s.os.clock.utc(),
                reason: reason.map(str::to_string),
            },
            msg.status.code_for_shell(),
        )));
        self.demand.runs_total += 1;
        self.fact(
            msg.instance,
            Some(msg.pid),
            FactKind::Exited {
                code,
                signal,
                ran,
                success,
            },
        );
        if reason.is_some() {
            self.fact(msg.instance, Some(msg.pid), FactKind::OomKilled);
        }
        self.feed(idx, Input::Exited(ended), ctx);
        self.release_cgroup(0, ctx);
        self.publish(ctx);
    }
}
