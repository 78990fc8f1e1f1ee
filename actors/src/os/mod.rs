//! The OS boundary of the supervisor: everything the ServiceManager and
//! its ServiceActors need from the kernel, as five small collaborators
//! passed in through `ManagerSetup` (STYLE habit 8), so that supervision
//! can run in-process against a fake kernel in tests.
//!
//! - `Spawner`: start a process (`SpawnSpec` → pid and pipes, or a typed
//!   `SpawnError`) and send signals to a pid or its process group.
//! - `ExitSource`: the signals oneinit handles (SIGCHLD among them) and the
//!   reaper that collects the exit statuses a SIGCHLD announces.
//! - the cgroup host (`sys::cgroup::CgroupHost`): `CgroupHost::none()` in
//!   tests.
//! - `Clock`: the time the state machine, backoff and uptime read.
//! - `Launcher`: the threads a service's spawn runs on, so the actor
//!   thread does not wait for each child's exec (`launcher.rs`).
//!
//! `Os::real()` is the kernel (`real.rs`, a thin layer over `sys::spawn`,
//! `sys::signals`, `sys::reap`); `fake.rs` (tests only) is a recorder that
//! hands out fake pids and lets a test end them.

#[cfg(test)]
pub mod fake;
pub mod launcher;
mod real;

pub use launcher::Launcher;
pub use real::{RealExits, RealSpawner, SystemClock};

use crate::model::signal::Signal;
use crate::sys::cgroup::CgroupHost;
use crate::sys::reap::ExitStatus;
use crate::sys::spawn::{SpawnError, SpawnSpec, Spawned};
use chrono::{DateTime, Utc};
use futures_util::Stream;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Instant;

/// Starts processes and signals them.
pub trait Spawner: Send + Sync {
    /// Starts a child as `spec` says; returns once it has exec'd (or failed).
    fn spawn(&self, spec: &SpawnSpec) -> Result<Spawned, SpawnError>;
    /// Sends `sig` to `pid`'s process group (`group`) or to `pid` alone.
    /// A process that is already gone is not an error.
    fn signal(&self, pid: i32, sig: Signal, group: bool) -> nix::Result<()>;
}

/// The signals delivered to oneinit, in order of arrival.
pub type SignalStream = Pin<Box<dyn Stream<Item = Signal>>>;

/// Where child exits come from: a SIGCHLD in `signals` says "reap now", and
/// `reap` collects every exit status available. Only the ServiceManager
/// calls it (one reaper, STYLE habit 3).
pub trait ExitSource: Send + Sync {
    /// Installs the handlers and returns the stream of deliveries. Called
    /// once, inside the actix system.
    fn signals(&self) -> std::io::Result<SignalStream>;
    /// Every child that has ended since the last call, with its status.
    fn reap(&self) -> Vec<(i32, ExitStatus)>;
    /// No child is left at all, alive or zombie (the PID-1 sweep).
    fn none_left(&self) -> bool;
}

/// The time supervision reads: the state machine's `now`, backoff, uptime,
/// the timestamps of exits and starts.
pub trait Clock: Send + Sync {
    /// Monotonic time.
    fn now(&self) -> Instant;
    /// Wall-clock time.
    fn utc(&self) -> DateTime<Utc>;
}

/// The five collaborators, cloned into every ServiceActor.
#[derive(Clone)]
pub struct Os {
    pub spawner: Arc<dyn Spawner>,
    pub exits: Arc<dyn ExitSource>,
    /// The host's cgroups, detected once; parents removed at exit.
    pub cgroups: Arc<CgroupHost>,
    pub clock: Arc<dyn Clock>,
    /// Where `spawner.spawn` runs for services (`launcher.rs`).
    pub launcher: Arc<Launcher>,
}

impl Os {
    /// The kernel: real processes, the real signal handlers and reaper, the
    /// host's cgroups (`CgroupHost::detect`), the system clock.
    pub fn real() -> Os {
        Os {
            spawner: Arc::new(RealSpawner),
            exits: Arc::new(RealExits),
            cgroups: Arc::new(CgroupHost::detect()),
            clock: Arc::new(SystemClock),
            // Without threads, spawns run on the actor thread: slower
            // startup of many services, nothing else changes.
            launcher: Arc::new(Launcher::threads().unwrap_or_else(|_| Launcher::inline())),
        }
    }
}
