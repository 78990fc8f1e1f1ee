//! Short-lived helper processes (exec checks, command notifiers) without a
//! second reaper: the child is forked by `sys::spawn`, its pid is put in the
//! ProcessTable with a route back to the owning actor (which hands the
//! status to `ExitWaiters::deliver`), and the caller awaits it with a
//! deadline. On timeout, or when the caller drops the future, the whole
//! process group is SIGKILLed; the reaper still collects it.

use crate::facts::InstanceExited;
use crate::model::signal::Signal;
use crate::processes::{ProcessOwner, ProcessTable};
use crate::sys::reap::ExitStatus;
use crate::sys::{signals, spawn};
use actix::Recipient;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::oneshot;

/// Output kept from a helper (for messages); the rest is read and dropped.
const KEEP_OUTPUT: usize = 512;

/// Pending helper runs of one actor, by run id.
#[derive(Default)]
pub struct ExitWaiters {
    next: AtomicU64,
    map: Mutex<HashMap<u64, oneshot::Sender<ExitStatus>>>,
}

impl ExitWaiters {
    /// Hands a reaped status to whoever waits for run `msg.instance`.
    /// Call it from the owner's `Handler<InstanceExited>`.
    pub fn deliver(&self, msg: InstanceExited) {
        let waiter = self
            .map
            .lock()
            .ok()
            .and_then(|mut m| m.remove(&msg.instance));
        if let Some(tx) = waiter {
            let _ = tx.send(msg.status);
        }
    }

    fn register(&self) -> (u64, oneshot::Receiver<ExitStatus>) {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        if let Ok(mut m) = self.map.lock() {
            m.insert(id, tx);
        }
        (id, rx)
    }

    /// Still running (not reaped yet)?
    fn pending(&self, id: u64) -> bool {
        self.map
            .lock()
            .map(|m| m.contains_key(&id))
            .unwrap_or(false)
    }

    fn forget(&self, id: u64) {
        if let Ok(mut m) = self.map.lock() {
            m.remove(&id);
        }
    }
}

/// How a helper ended.
#[derive(Debug)]
pub struct HelperOutcome {
    pub status: ExitStatus,
    /// The start of what it wrote to stdout and stderr.
    pub output: String,
}

/// Everything needed to run helpers for one owning actor.
#[derive(Clone)]
pub struct HelperRunner {
    pub procs: ProcessTable,
    pub waiters: Arc<ExitWaiters>,
    /// The owner's mailbox; its `Handler<InstanceExited>` calls `deliver`.
    pub route: Recipient<InstanceExited>,
    /// Shown as the process owner in the table (debugging only).
    pub owner: String,
}

/// Kills the process group unless the helper has been reaped already.
struct KillGuard {
    pid: i32,
    id: u64,
    waiters: Arc<ExitWaiters>,
}

impl Drop for KillGuard {
    fn drop(&mut self) {
        if self.waiters.pending(self.id) {
            let _ = signals::send(self.pid, Signal::SIGKILL, true);
            // The reaper's status for it is no longer awaited by anyone.
            self.waiters.forget(self.id);
        }
    }
}

/// Why a helper command produced no exit status.
#[derive(Debug, thiserror::Error)]
pub enum HelperError {
    /// The spawn failed; the message says why (from `sys::spawn`).
    #[error("{0}")]
    Spawn(String),
    #[error("lost track of the process")]
    Lost,
    #[error("timed out after {}; killed", crate::model::units::format_duration(*.0))]
    TimedOut(Duration),
}

impl HelperRunner {
    /// Spawns `spec` (capture is forced on, so its output never reaches
    /// oneinit's log), writes `input` to its stdin if given, and waits for
    /// the exit up to `timeout`. Must run on the arbiter of the reaper (the
    /// system arbiter), which is where actix actors and their futures run.
    pub async fn run(
        &self,
        mut spec: spawn::SpawnSpec,
        input: Option<Vec<u8>>,
        timeout: Duration,
    ) -> Result<HelperOutcome, HelperError> {
        spec.capture = true;
        spec.stdin_pipe = input.is_some();
        let (id, rx) = self.waiters.register();
        // Spawn and register in the table with no await in between, so the
        // reaper (same thread) always finds the owner.
        let child = match spawn::spawn(&spec) {
            Ok(c) => c,
            Err(e) => {
                self.waiters.forget(id);
                return Err(HelperError::Spawn(e.message));
            }
        };
        let pid = child.pid.as_raw();
        self.procs.insert(
            pid,
            ProcessOwner {
                service: self.owner.clone(),
                instance: id,
                notify: self.route.clone(),
            },
        );
        let _guard = KillGuard {
            pid,
            id,
            waiters: self.waiters.clone(),
        };
        let output = Arc::new(Mutex::new(Vec::<u8>::new()));
        for fd in [child.stdout, child.stderr].into_iter().flatten() {
            let output = output.clone();
            let limit = timeout + Duration::from_secs(1);
            actix::spawn(async move {
                let _ = tokio::time::timeout(limit, drain(fd, output)).await;
            });
        }
        if let (Some(fd), Some(bytes)) = (child.stdin, input) {
            actix::spawn(async move {
                if let Ok(mut pipe) = tokio::net::unix::pipe::Sender::from_owned_fd(fd) {
                    // A command that does not read its stdin is not an error.
                    let _ = tokio::time::timeout(timeout, pipe.write_all(&bytes)).await;
                }
            });
        }
        let status = match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(status)) => status,
            Ok(Err(_)) => return Err(HelperError::Lost),
            Err(_) => return Err(HelperError::TimedOut(timeout)),
        };
        // Let the readers catch the last lines (they end at EOF).
        tokio::time::sleep(Duration::from_millis(5)).await;
        let output = output
            .lock()
            .map(|o| String::from_utf8_lossy(&o).trim().to_string())
            .unwrap_or_default();
        Ok(HelperOutcome { status, output })
    }
}

async fn drain(fd: std::os::fd::OwnedFd, keep: Arc<Mutex<Vec<u8>>>) {
    let Ok(mut pipe) = tokio::net::unix::pipe::Receiver::from_owned_fd(fd) else {
        return;
    };
    let mut chunk = [0u8; 4096];
    loop {
        match pipe.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                if let Ok(mut k) = keep.lock() {
                    let room = KEEP_OUTPUT.saturating_sub(k.len()).min(n);
                    k.extend_from_slice(&chunk[..room]);
                }
            }
        }
    }
}
