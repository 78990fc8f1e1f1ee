//! A fake kernel for in-process tests of the ServiceManager and its
//! ServiceActors: no process is started and nothing is reaped with
//! `waitpid`, so these tests run in any test binary.
//!
//! `FakeKernel` hands out fake pids and records every spawn and signal.
//! A process ends when the test says so (`exit`) or when it is sent a
//! signal that ends it (all but SIGCONT, and SIGTERM too unless the
//! service is `stubborn`); its end is announced with a SIGCHLD on the
//! signal stream and collected by `reap`, as the real kernel does. The
//! clock reads tokio's clock, so with `tokio::time::pause()` the state
//! machine's `now` and the actors' `run_later` timers agree, and a backoff
//! of seconds passes at once and always the same way.

use super::{Clock, ExitSource, Os, SignalStream, Spawner};
use crate::model::signal::Signal;
use crate::sys::cgroup::CgroupHost;
use crate::sys::reap::ExitStatus;
use crate::sys::spawn::{SpawnError, SpawnSpec, Spawned};
use chrono::{DateTime, Utc};
use nix::unistd::Pid;
use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

/// The program name a spawn fails for, as a missing program does (127).
pub const MISSING: &str = "missing-program";

/// One spawn, as the fake kernel saw it.
#[derive(Clone, Debug)]
pub struct SpawnRecord {
    pub pid: i32,
    /// `ONEINIT_SERVICE` of the child's environment.
    pub service: String,
    pub argv: Vec<String>,
    /// On tokio's clock.
    pub at: Instant,
}

/// One signal sent through the spawner.
#[derive(Clone, Debug, PartialEq)]
pub struct SignalRecord {
    pub pid: i32,
    pub service: String,
    pub signal: Signal,
    pub at: Instant,
}

#[derive(Default)]
struct State {
    next_pid: i32,
    spawns: Vec<SpawnRecord>,
    signals: Vec<SignalRecord>,
    /// Live processes: pid → service, and the write end of their stdout.
    alive: BTreeMap<i32, (String, Option<std::io::PipeWriter>)>,
    ended: Vec<(i32, ExitStatus)>,
    /// Stdouts held open by descendants of ended processes.
    left_open: Vec<std::io::PipeWriter>,
    /// Services whose processes ignore SIGTERM.
    stubborn: BTreeSet<String>,
    /// Services whose processes get a stdout the test writes to.
    piped: BTreeSet<String>,
}

/// The fake kernel: spawner and source of exits at once.
pub struct FakeKernel {
    state: Mutex<State>,
    /// Signals to oneinit (SIGCHLD after an exit, or what a test sends).
    to_oneinit: mpsc::UnboundedSender<Signal>,
    stream: Mutex<Option<mpsc::UnboundedReceiver<Signal>>>,
    /// Counts spawns, signals and exits (`changes`, `wait_until`).
    changed: watch::Sender<u64>,
}

impl FakeKernel {
    pub fn new() -> Arc<FakeKernel> {
        let (tx, rx) = mpsc::unbounded_channel();
        Arc::new(FakeKernel {
            state: Mutex::new(State {
                next_pid: 1000,
                ..State::default()
            }),
            to_oneinit: tx,
            stream: Mutex::new(Some(rx)),
            changed: watch::Sender::new(0),
        })
    }

    /// The OS of a manager on this kernel: no cgroups, tokio's clock.
    pub fn os(self: &Arc<Self>) -> Os {
        Os {
            spawner: self.clone(),
            exits: self.clone(),
            cgroups: Arc::new(CgroupHost::none()),
            clock: Arc::new(TokioClock::default()),
            launcher: Arc::new(super::Launcher::inline()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `service`'s processes ignore SIGTERM (only SIGKILL ends them).
    pub fn stubborn(&self, service: &str) {
        self.lock().stubborn.insert(service.into());
    }

    /// `service`'s processes get a stdout pipe (`write_stdout`).
    pub fn piped(&self, service: &str) {
        self.lock().piped.insert(service.into());
    }

    pub fn spawns(&self) -> Vec<SpawnRecord> {
        self.lock().spawns.clone()
    }

    pub fn spawns_of(&self, service: &str) -> Vec<SpawnRecord> {
        self.spawns()
            .into_iter()
            .filter(|s| s.service == service)
            .collect()
    }

    pub fn signals(&self) -> Vec<SignalRecord> {
        self.lock().signals.clone()
    }

    /// The live pid of `service` (its latest spawn still running).
    pub fn pid_of(&self, service: &str) -> Option<i32> {
        let st = self.lock();
        st.alive
            .iter()
            .filter(|(_, (s, _))| s == service)
            .map(|(p, _)| *p)
            .max()
    }

    /// Process `pid` ends with `status`: oneinit gets a SIGCHLD.
    pub fn exit(&self, pid: i32, status: ExitStatus) {
        self.end(pid, status, false);
    }

    /// Process `pid` ends, but a descendant keeps its stdout open.
    pub fn exit_leaving_stdout(&self, pid: i32, status: ExitStatus) {
        self.end(pid, status, true);
    }

    fn end(&self, pid: i32, status: ExitStatus, leave_stdout: bool) {
        {
            let mut st = self.lock();
            let Some((_, stdout)) = st.alive.remove(&pid) else {
                return;
            };
            if leave_stdout {
                st.left_open.extend(stdout);
            }
            st.ended.push((pid, status));
        }
        let _ = self.to_oneinit.send(Signal::SIGCHLD);
        self.changed.send_modify(|n| *n += 1);
    }

    /// A signal to oneinit itself (SIGTERM for a shutdown).
    pub fn signal_oneinit(&self, sig: Signal) {
        let _ = self.to_oneinit.send(sig);
    }

    /// Writes to the stdout of `pid` (a `piped` service).
    pub fn write_stdout(&self, pid: i32, text: &str) {
        let mut st = self.lock();
        if let Some((_, Some(w))) = st.alive.get_mut(&pid) {
            let _ = w.write_all(text.as_bytes());
        }
    }

    /// Waits until `cond` holds over the record, at most `limit` (on tokio's
    /// clock); returns whether it held.
    pub async fn wait_until(&self, limit: Duration, cond: impl Fn(&FakeKernel) -> bool) -> bool {
        let end = Instant::now() + limit;
        let mut changes = self.changes();
        loop {
            changes.borrow_and_update();
            if cond(self) {
                return true;
            }
            match tokio::time::timeout_at(end, changes.changed()).await {
                Ok(Ok(())) => {}
                _ => return cond(self),
            }
        }
    }

    /// Sees every spawn, signal and exit after it is made.
    pub fn changes(&self) -> watch::Receiver<u64> {
        self.changed.subscribe()
    }
}

impl Spawner for FakeKernel {
    fn spawn(&self, spec: &SpawnSpec) -> Result<Spawned, SpawnError> {
        if spec.argv.first().map(String::as_str) == Some(MISSING) {
            return Err(SpawnError {
                message: format!("{MISSING}: not found"),
                exit_code: 127,
                out_of_resources: false,
            });
        }
        let service = spec
            .env
            .iter()
            .find(|(k, _)| k == "ONEINIT_SERVICE")
            .map(|(_, v)| v.clone())
            .unwrap_or_default();
        let mut st = self.lock();
        st.next_pid += 1;
        let pid = st.next_pid;
        let (stdout, writer) = if spec.capture && st.piped.contains(&service) {
            let (r, w) = std::io::pipe().map_err(|e| SpawnError {
                message: format!("cannot create a pipe: {e}"),
                exit_code: 126,
                out_of_resources: false,
            })?;
            (Some(r.into()), Some(w))
        } else {
            (None, None)
        };
        st.alive.insert(pid, (service.clone(), writer));
        st.spawns.push(SpawnRecord {
            pid,
            service,
            argv: spec.argv.clone(),
            at: Instant::now(),
        });
        drop(st);
        self.changed.send_modify(|n| *n += 1);
        Ok(Spawned {
            pid: Pid::from_raw(pid),
            stdin: None,
            stdout,
            stderr: None,
        })
    }

    fn signal(&self, pid: i32, sig: Signal, _group: bool) -> nix::Result<()> {
        let ends = {
            let mut st = self.lock();
            let Some((service, _)) = st.alive.get(&pid) else {
                return Ok(()); // ESRCH is not an error
            };
            let service = service.clone();
            let ends = match sig {
                Signal::SIGCONT => false,
                Signal::SIGTERM => !st.stubborn.contains(&service),
                _ => true,
            };
            st.signals.push(SignalRecord {
                pid,
                service,
                signal: sig,
                at: Instant::now(),
            });
            ends
        };
        self.changed.send_modify(|n| *n += 1);
        if ends {
            self.end(pid, ExitStatus::Signaled(sig), false);
        }
        Ok(())
    }
}

impl ExitSource for FakeKernel {
    fn signals(&self) -> std::io::Result<SignalStream> {
        let rx = self
            .stream
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
            .ok_or_else(|| std::io::Error::other("the signal stream is taken"))?;
        Ok(Box::pin(futures_util::stream::unfold(rx, |mut rx| async {
            rx.recv().await.map(|s| (s, rx))
        })))
    }

    fn reap(&self) -> Vec<(i32, ExitStatus)> {
        std::mem::take(&mut self.lock().ended)
    }

    fn none_left(&self) -> bool {
        self.lock().alive.is_empty()
    }
}

/// Tokio's clock: paused in tests, it moves only as the timers do.
pub struct TokioClock {
    start: Instant,
    start_utc: DateTime<Utc>,
}

impl Default for TokioClock {
    /// Starts at tokio's and the system's "now".
    fn default() -> TokioClock {
        TokioClock {
            start: Instant::now(),
            start_utc: Utc::now(),
        }
    }
}

impl Clock for TokioClock {
    fn now(&self) -> std::time::Instant {
        Instant::now().into_std()
    }

    fn utc(&self) -> DateTime<Utc> {
        let since = Instant::now().saturating_duration_since(self.start);
        self.start_utc + chrono::Duration::from_std(since).unwrap_or_default()
    }
}
