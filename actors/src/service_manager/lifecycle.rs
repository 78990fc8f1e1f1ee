//! The ServiceManager's own life: the signal stream (SIGCHLD → reap,
//! TERM/INT/QUIT → shutdown, HUP → reload, USR1 → reopen logs, others →
//! forwarded; in tini mode without a config, all but SIGCHLD forwarded), and the graceful shutdown: layers in reverse dependency
//! order, bounded by `shutdown.timeout`, a second signal kills at once, and
//! as PID 1 a final sweep of leftover processes. Ends the actix system with
//! oneinit's exit code (SPEC 1).

use super::ServiceManager;
use crate::config_loader::Reload;
use crate::model::machine::StopTarget;
use crate::model::shutdown::{self, Shutdown, Step};
use crate::model::signal::Signal;
use crate::model::view::ServiceState;
use crate::service::messages::{InstanceExited, KillNow, SendSignal, Stop};
use crate::sys::pid1;
use actix::prelude::*;
use slog::{debug, error, info, warn};
use std::time::{Duration, Instant};

/// Exit waits for pipe readers to read the last lines while lines keep
/// coming (or wait for a stdout that is still taking output), at most
/// this long...
const DRAIN_MAX: Duration = Duration::from_secs(60);
/// ...and gives up when none has come for this long.
const DRAIN_STALL: Duration = Duration::from_millis(500);

/// A service no longer has processes and will not start any.
pub(crate) fn settled(state: ServiceState) -> bool {
    !state.is_alive() && !matches!(state, ServiceState::Backoff | ServiceState::Starting)
}

impl ServiceManager {
    pub(crate) fn start_signal_stream(&mut self, ctx: &mut Context<Self>) {
        match self.os.exits.signals() {
            Ok(stream) => {
                ctx.add_stream(stream);
            }
            Err(e) => error!(self.log, "cannot install signal handlers"; "error" => %e),
        }
    }

    /// Collects every exited child and routes each status to its owner.
    pub(crate) fn reap(&mut self) {
        let _gate = self.procs.reaping();
        for (pid, status) in self.os.exits.reap() {
            match self.procs.take(pid) {
                Some(owner) => owner.notify.do_send(InstanceExited {
                    instance: owner.instance,
                    pid,
                    status,
                }),
                None => {
                    debug!(self.log, "reaped an orphan"; "pid" => pid, "status" => ?status)
                }
            }
        }
    }

    pub(crate) fn begin_shutdown(&mut self, critical_code: Option<i32>, ctx: &mut Context<Self>) {
        self.begin_shutdown_by(critical_code, None, ctx);
    }

    fn begin_shutdown_by(
        &mut self,
        critical_code: Option<i32>,
        signal: Option<Signal>,
        ctx: &mut Context<Self>,
    ) {
        if self.shutdown.is_some() {
            return;
        }
        info!(self.log, "shutting down"; "services" => self.services.len());
        for e in self.services.values_mut() {
            e.wanted = false;
        }
        // The shutdown stops everything in reverse dependency order itself.
        self.stop_plans.clear();
        self.shutdown = Some(Shutdown::new(
            self.graph.shutdown_layers(),
            critical_code,
            signal,
        ));
        let timeout = self.config.shutdown.timeout.get();
        ctx.run_later(timeout, |act, ctx| {
            if act.shutdown.as_ref().is_some_and(|s| !s.finishing()) {
                warn!(act.log, "shutdown timeout reached, killing what is left");
                act.kill_all();
                act.advance_shutdown(ctx);
            }
        });
        self.advance_shutdown(ctx);
    }

    /// Moves to the next layer once every service of the current one settled.
    pub(crate) fn advance_shutdown(&mut self, ctx: &mut Context<Self>) {
        loop {
            let Some(s) = self.shutdown.as_mut() else {
                return;
            };
            let services = &self.services;
            let step = s.next(|n| services.get(n).is_none_or(|e| settled(e.status.state)));
            let signal = s.signal.filter(|_| self.tini);
            match step {
                Step::Wait => return,
                Step::Finish => return self.finish(ctx),
                Step::StopLayer(layer) => self.stop_layer(&layer, signal),
            }
            // Loop: a layer whose services were all settled already is done;
            // otherwise their ServiceUpdated facts call us again.
        }
    }

    fn stop_layer(&self, layer: &[String], signal: Option<Signal>) {
        for name in layer {
            if let Some(e) = self.services.get(name) {
                if !matches!(
                    e.status.state,
                    ServiceState::Stopped | ServiceState::Completed | ServiceState::Failed
                ) {
                    // Inactive ones too: that switches socket activation
                    // and per-demand triggers off.
                    e.addr.do_send(Stop {
                        target: StopTarget::Stopped,
                        signal: if name == "main" { signal } else { None },
                    });
                }
            }
        }
    }

    pub(crate) fn kill_all(&self) {
        for e in self.services.values() {
            e.addr.do_send(KillNow);
        }
    }

    /// All services stopped: sweep (as PID 1), then end with the exit code.
    fn finish(&mut self, ctx: &mut Context<Self>) {
        if pid1::is_pid1() {
            let grace = self.config.shutdown.sweep_grace.get();
            pid1::signal_everyone(Signal::SIGTERM);
            self.sweep_wait(self.os.clock.now() + grace, false, ctx);
        } else {
            self.exit(ctx);
        }
    }

    /// Polls (every 20 ms, only during the sweep) until no process is left.
    fn sweep_wait(&mut self, deadline: Instant, killed: bool, ctx: &mut Context<Self>) {
        self.reap();
        if self.os.exits.none_left() {
            self.exit(ctx);
            return;
        }
        if self.os.clock.now() >= deadline {
            if killed {
                warn!(self.log, "processes left after SIGKILL sweep");
                self.exit(ctx);
                return;
            }
            debug!(
                self.log,
                "sweep grace over, sending SIGKILL to every process left"
            );
            pid1::signal_everyone(Signal::SIGKILL);
            self.sweep_wait(self.os.clock.now() + Duration::from_secs(1), true, ctx);
            return;
        }
        ctx.run_later(Duration::from_millis(20), move |act, ctx| {
            act.sweep_wait(deadline, killed, ctx)
        });
    }

    fn exit(&mut self, ctx: &mut Context<Self>) {
        let now = self.os.clock.now();
        self.drain_then_exit(now + DRAIN_MAX, now, u64::MAX, ctx);
    }

    /// Waits until every pipe reader has read its pipe to EOF, so the last
    /// lines of services that just ended are not lost at exit. Bounded: it
    /// gives up once no line has arrived for DRAIN_STALL (a leftover process
    /// holds a pipe open but writes nothing), and after DRAIN_MAX in any case.
    fn drain_then_exit(
        &mut self,
        deadline: Instant,
        progress_at: Instant,
        lines_seen: u64,
        ctx: &mut Context<Self>,
    ) {
        let open: usize = self.services.values().map(|e| e.logs.open_readers()).sum();
        let lines: u64 = self
            .services
            .values()
            .map(|e| e.logs.lines.load(std::sync::atomic::Ordering::Relaxed))
            .sum();
        let now = self.os.clock.now();
        // Readers held back by a slow stdout make progress as it drains (a
        // stuck one makes them drop, and progress, after the stall timeout).
        let waiting_for_stdout = self.sink.busy() && !self.sink.stuck();
        let progress_at = if lines != lines_seen || waiting_for_stdout {
            now
        } else {
            progress_at
        };
        if open > 0 && now < deadline && now.duration_since(progress_at) < DRAIN_STALL {
            ctx.run_later(Duration::from_millis(10), move |act, ctx| {
                act.drain_then_exit(deadline, progress_at, lines, ctx)
            });
            return;
        }
        let code = self.exit_code();
        for left in self.os.cgroups.remove_parents() {
            warn!(self.log, "cannot remove a cgroup of oneinit"; "error" => left);
        }
        info!(self.log, "oneinit stopped"; "exit_code" => code);
        System::current().stop_with_code(code);
    }

    /// SPEC 1: tini mode → main's status; a critical service's code; else 1
    /// if something had to be SIGKILLed or was failed, else 0.
    pub(crate) fn exit_code(&self) -> i32 {
        let main = self
            .tini
            .then(|| self.services.get("main"))
            .flatten()
            .map(|main| main.status.last_exit_code);
        let bad = self
            .services
            .values()
            .any(|e| e.killed || e.status.state == ServiceState::Failed);
        shutdown::exit_code(
            main,
            self.shutdown.as_ref().and_then(|s| s.critical_code),
            bad,
        )
    }

    fn forward(&self, sig: Signal) {
        let mut any = false;
        for (name, e) in &self.services {
            let listed = e.cfg.forward_signals.iter().any(|s| s.get() == sig);
            if listed {
                any = true;
                debug!(self.log, "forwarding signal"; "service" => name, "signal" => sig.name());
                e.addr.do_send(SendSignal { signal: sig });
            }
        }
        if !any {
            debug!(self.log, "signal ignored: no service forwards it"; "signal" => sig.name());
        }
    }
}

impl ServiceManager {
    /// Tini mode without a config file, like tini: TERM, INT, QUIT, HUP and
    /// USR1 are forwarded as well instead of meaning shutdown, reload and
    /// log reopen; oneinit ends when `main` has ended (SPEC 1).
    pub fn passing_signals(mut self) -> ServiceManager {
        self.pass_signals = true;
        self
    }
}

impl StreamHandler<Signal> for ServiceManager {
    fn handle(&mut self, sig: Signal, ctx: &mut Context<Self>) {
        match sig {
            Signal::SIGCHLD => self.reap(),
            other if self.pass_signals => self.forward(other),
            Signal::SIGTERM | Signal::SIGINT | Signal::SIGQUIT => {
                if self.shutdown.is_some() {
                    warn!(self.log, "second shutdown signal, killing every service now"; "signal" => sig.name());
                    self.kill_all();
                    if self.shutdown.as_ref().is_some_and(|s| s.finishing()) && pid1::is_pid1() {
                        pid1::signal_everyone(Signal::SIGKILL);
                    }
                } else {
                    info!(self.log, "shutdown requested"; "signal" => sig.name());
                    self.begin_shutdown_by(None, Some(sig), ctx);
                }
            }
            Signal::SIGHUP => match &self.reloader {
                Some(loader) => loader.do_send(Reload),
                None => warn!(self.log, "SIGHUP ignored: no configuration loader runs"),
            },
            Signal::SIGUSR1 => {
                info!(self.log, "reopening log files");
                self.sink.reopen();
                for e in self.services.values() {
                    e.logs.reopen_file();
                }
            }
            other => self.forward(other),
        }
    }

    fn finished(&mut self, _: &mut Context<Self>) {
        // The signal stream never ends while the system runs.
    }
}
