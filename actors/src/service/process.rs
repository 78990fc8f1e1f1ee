//! The ServiceActor's side of its processes: spawning an instance (with its
//! limits, activation sockets and output readers) and, once none runs,
//! removing the service's cgroup and ending what was left in it.

use super::messages::{FactKind, InstanceReady, SpawnDone};
use super::{plan, ServiceActor};
use crate::logging::capture::{Pipe, Reader};
use crate::model::machine::Input;
use crate::model::signal::signal_short_name;
use crate::model::signal::Signal;
use crate::model::view::{ExitView, ServiceState, Stream};
use crate::processes::ProcessOwner;
use crate::sys::spawn;
use actix::prelude::*;
use slog::{error, info, o, warn, Logger};
use std::time::Duration;

/// How long a spawn that ran out of descriptors or processes waits before
/// it tries again.
const RESOURCE_RETRY: Duration = Duration::from_secs(1);

impl ServiceActor {
    /// Prepares instance `idx`'s spawn here and runs it on the launcher
    /// (`os::launcher`); `SpawnDone` brings the outcome back. Until then
    /// the actor's commands and timers wait (`handlers.rs`).
    pub(super) fn spawn_instance(&mut self, idx: usize, ctx: &mut Context<Self>) {
        let id = self.slots[idx].id;
        let accept = self.s.cfg.socket.as_ref().is_some_and(|s| s.accept);
        let connection = self.slots[idx].connection.take();
        let listen_fds = self.demand.listen_fds(accept);
        let spec = match plan::spawn_spec(&self.s.name, &self.s.cfg, id) {
            Ok(mut spec) => {
                let lim = self.s.limits.prepare_spawn();
                if let Some(w) = &lim.warning {
                    warn!(self.s.log, "limits: {w}"; "instance" => id);
                }
                spec.rlimits.extend(lim.rlimits);
                spec.cgroup_procs = lim.cgroup_procs;
                // systemd names each fd after its socket unit; ours is the service.
                spec.listen_names = vec![self.s.name.clone(); listen_fds.len()];
                spec.listen_fds = listen_fds;
                spec.connection = connection;
                spec
            }
            Err(e) => {
                let e = spawn::SpawnError {
                    message: e.to_string(),
                    exit_code: 126,
                    out_of_resources: false,
                };
                return self.spawned(idx, Err(e), ctx);
            }
        };
        self.spawning += 1;
        let spawner = self.s.os.spawner.clone();
        let procs = self.s.procs.clone();
        let service = self.s.name.clone();
        let addr = ctx.address();
        self.s.os.launcher.run(Box::new(move || {
            let _gate = procs.spawning();
            let result = spawner.spawn(&spec);
            if let Ok(child) = &result {
                procs.insert(
                    child.pid.as_raw(),
                    ProcessOwner {
                        service,
                        instance: id,
                        notify: addr.clone().recipient(),
                    },
                );
            }
            // Before the gate opens: the owner hears of the spawn before
            // the reaper can route the exit.
            addr.do_send(SpawnDone {
                instance: id,
                result,
            });
        }));
    }

    /// A spawn's outcome, back from the launcher.
    pub(super) fn spawn_done(&mut self, msg: SpawnDone, ctx: &mut Context<Self>) {
        self.spawning = self.spawning.saturating_sub(1);
        match self.slots.iter().position(|s| s.id == msg.instance) {
            Some(idx) => self.spawned(idx, msg.result, ctx),
            None => {
                // Slots only go away settled, so this is not expected; a
                // process nobody owns is not left running.
                if let Ok(child) = msg.result {
                    let pid = child.pid.as_raw();
                    warn!(self.s.log, "killing a process spawned for an instance that is gone"; "instance" => msg.instance, "pid" => pid);
                    let _ = self.s.os.spawner.signal(pid, Signal::SIGKILL, true);
                }
            }
        }
        self.publish(ctx);
        self.run_queued(ctx);
    }

    fn spawned(
        &mut self,
        idx: usize,
        result: Result<spawn::Spawned, spawn::SpawnError>,
        ctx: &mut Context<Self>,
    ) {
        let id = self.slots[idx].id;
        let log = self.s.log.new(o!("instance" => id));
        match result {
            Ok(child) => {
                if std::mem::take(&mut self.starved) {
                    info!(
                        log,
                        "started again: file descriptors or processes are available"
                    );
                }
                let pid = child.pid.as_raw();
                info!(log, "spawned"; "event" => "spawned", "pid" => pid);
                let slot = &mut self.slots[idx];
                slot.started_utc = Some(self.s.os.clock.utc());
                slot.spawned_at = Some(self.s.os.clock.now());
                self.start_readers(id, pid, child.stdout, child.stderr, ctx);
                self.fact(id, Some(pid), FactKind::Spawned);
                self.feed(idx, Input::Spawned { pid }, ctx);
            }
            Err(e) if e.out_of_resources => self.retry_spawn_later(idx, &e, &log, ctx),
            Err(e) => {
                error!(log, "cannot start: {}", e.message; "event" => "exited", "exit_code" => e.exit_code);
                self.demand.runs_total += 1;
                self.last_exit = Some(Box::new((
                    ExitView {
                        code: Some(e.exit_code),
                        signal: None,
                        at: self.s.os.clock.utc(),
                        reason: None,
                    },
                    e.exit_code,
                )));
                self.fact(
                    id,
                    None,
                    FactKind::Exited {
                        code: Some(e.exit_code),
                        signal: None,
                        ran: Default::default(),
                        success: false,
                    },
                );
                self.feed(idx, Input::SpawnFailed { code: e.exit_code }, ctx);
                self.release_cgroup(0, ctx);
            }
        }
    }

    /// The system (or oneinit) is out of descriptors or processes: not the
    /// service's fault, so no failed run is counted and no retry is used up.
    /// Warns once until a spawn works again and tries every second, so
    /// nothing spins and nothing gives up silently.
    fn retry_spawn_later(
        &mut self,
        idx: usize,
        e: &spawn::SpawnError,
        log: &Logger,
        ctx: &mut Context<Self>,
    ) {
        if !self.starved {
            self.starved = true;
            warn!(log, "cannot start: {}; out of file descriptors or processes, trying again every {}s (not counted as a failed run)",
                e.message, RESOURCE_RETRY.as_secs());
        }
        let id = self.slots[idx].id;
        ctx.run_later(RESOURCE_RETRY, move |act, ctx| {
            // Only while the same instance still waits for its process: a
            // stop or a reload in between has its own say.
            let Some(i) = act.slots.iter().position(|s| s.id == id) else {
                return;
            };
            let m = &act.slots[i].m;
            if m.state == ServiceState::Starting && m.pid.is_none() {
                act.spawn_instance(i, ctx);
            }
        });
    }

    fn start_readers(
        &self,
        id: u64,
        pid: i32,
        stdout: Option<std::os::fd::OwnedFd>,
        stderr: Option<std::os::fd::OwnedFd>,
        ctx: &mut Context<Self>,
    ) {
        if stdout.is_none() && stderr.is_none() {
            return;
        }
        let ready_re = self
            .s
            .cfg
            .readiness
            .log_line
            .as_deref()
            .and_then(|r| regex::Regex::new(r).ok());
        let pipe = |fd: Option<std::os::fd::OwnedFd>, stream| {
            let fd = fd?;
            let ready_when = ready_re.clone().map(|re| {
                let addr = ctx.address();
                let on_match: crate::logging::capture::OnMatch = Box::new(move || {
                    addr.do_send(InstanceReady {
                        instance: id,
                        pid: Some(pid),
                    });
                });
                Box::new((re, on_match))
            });
            Some(Pipe {
                fd,
                stream,
                ready_when,
            })
        };
        let reader = Reader {
            logs: self.s.logs.clone(),
            instance: id,
            pid,
            pipes: [pipe(stdout, Stream::Stdout), pipe(stderr, Stream::Stderr)],
        };
        reader.spawn_on(&self.s.log_arbiter);
    }

    /// Once no instance has a process, removes the service's cgroup. What
    /// is left in it (descendants that outlived the service) is ended like
    /// systemd does: SIGTERM, then SIGKILL after ~0.3 s; removal is retried
    /// with growing delays (0.1 s .. ~6 s), then left to oneinit's exit.
    pub(super) fn release_cgroup(&mut self, attempt: u32, ctx: &mut Context<Self>) {
        if self.slots.iter().any(|s| s.m.pid.is_some()) {
            return;
        }
        if let Some(h) = self.release_retry.take() {
            ctx.cancel_future(h);
        }
        if let Err(e) = self.s.limits.release() {
            let left = self.s.limits.cgroup_pids();
            let sig = match attempt {
                0 => Some(Signal::SIGTERM),
                2 => Some(Signal::SIGKILL),
                _ => None,
            };
            if let (Some(sig), false) = (sig, left.is_empty()) {
                info!(self.s.log, "ending processes left in the service's cgroup"; "count" => left.len(), "signal" => signal_short_name(sig));
                for pid in left {
                    let _ = self.s.os.spawner.signal(pid, sig, false);
                }
            }
            if attempt >= 6 {
                warn!(self.s.log, "cannot remove the service's cgroup, a process is left in it; it is removed when oneinit exits"; "error" => %e);
                return;
            }
            let delay = std::time::Duration::from_millis(100 << attempt);
            self.release_retry = Some(ctx.run_later(delay, move |act, ctx| {
                act.release_retry = None;
                act.release_cgroup(attempt + 1, ctx);
            }));
        }
    }
}
