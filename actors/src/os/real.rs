//! The real OS boundary: thin layers over `sys::spawn`, `sys::signals` and
//! `sys::reap`, and the system clock.

use super::{Clock, ExitSource, SignalStream, Spawner};
use crate::model::signal::Signal;
use crate::sys::reap::{self, ExitStatus};
use crate::sys::signals;
use crate::sys::spawn::{self, SpawnError, SpawnSpec, Spawned};
use chrono::{DateTime, Utc};
use std::time::Instant;

/// Real processes (`sys::spawn::spawn`, `sys::signals::send`).
pub struct RealSpawner;

impl Spawner for RealSpawner {
    fn spawn(&self, spec: &SpawnSpec) -> Result<Spawned, SpawnError> {
        spawn::spawn(spec)
    }

    fn signal(&self, pid: i32, sig: Signal, group: bool) -> nix::Result<()> {
        signals::send(pid, sig, group)
    }
}

/// The real signal handlers (`sys::signals::signal_stream`) and the one
/// `waitpid(-1)` reaper (`sys::reap`).
pub struct RealExits;

impl ExitSource for RealExits {
    fn signals(&self) -> std::io::Result<SignalStream> {
        Ok(Box::pin(signals::signal_stream()?))
    }

    fn reap(&self) -> Vec<(i32, ExitStatus)> {
        reap::reap_all()
            .into_iter()
            .map(|(pid, status)| (pid.as_raw(), status))
            .collect()
    }

    fn none_left(&self) -> bool {
        reap::no_children_left()
    }
}

/// `Instant::now()` and `Utc::now()`.
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        Instant::now()
    }

    fn utc(&self) -> DateTime<Utc> {
        Utc::now()
    }
}
