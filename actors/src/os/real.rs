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

/// The real spawner through the `Spawner` trait, as supervision uses it.
/// Each test waits for its own pid only (no `waitpid(-1)` runs here).
#[cfg(test)]
mod tests {
    use super::*;
    use crate::os::Spawner;
    use crate::sys::spawn::tests::sh;
    use nix::sys::wait::{waitpid, WaitStatus};
    use std::io::Read;

    /// Reads the child's stdout to EOF, then waits for that pid.
    fn finish(child: Spawned) -> (i32, String, WaitStatus) {
        let mut out = String::new();
        let fd = child.stdout.expect("captured stdout");
        std::fs::File::from(fd)
            .read_to_string(&mut out)
            .expect("read stdout");
        let status = waitpid(child.pid, None).expect("waitpid");
        (child.pid.as_raw(), out, status)
    }

    fn spawner() -> &'static dyn Spawner {
        &RealSpawner
    }

    #[test]
    fn bin_true_exits_0_with_an_empty_stdout() {
        let mut spec = sh("");
        spec.argv = vec!["/bin/true".into()];
        let (pid, out, status) = finish(spawner().spawn(&spec).expect("spawn"));
        assert_eq!(
            status,
            WaitStatus::Exited(nix::unistd::Pid::from_raw(pid), 0)
        );
        assert_eq!(out, "");
    }

    #[test]
    fn an_exit_code_and_the_output_before_it_are_kept() {
        let child = spawner()
            .spawn(&sh("echo first; echo second; exit 3"))
            .expect("spawn");
        let (pid, out, status) = finish(child);
        assert_eq!(
            status,
            WaitStatus::Exited(nix::unistd::Pid::from_raw(pid), 3)
        );
        assert_eq!(out, "first\nsecond\n");
    }

    #[test]
    fn a_missing_program_fails_the_spawn_with_127() {
        let mut spec = sh("");
        spec.argv = vec!["/nonexistent/oneinit-test-program".into()];
        let err = spawner().spawn(&spec).expect_err("no such program");
        assert_eq!(err.exit_code, 127, "{}", err.message);
        assert!(!err.out_of_resources);
    }

    #[test]
    fn the_child_leads_its_own_session_and_process_group() {
        let child = spawner()
            .spawn(&sh(
                "read pid comm state ppid pgrp sid rest < /proc/$$/stat; echo $pid $pgrp $sid",
            ))
            .expect("spawn");
        let (pid, out, _) = finish(child);
        assert_eq!(out.trim(), format!("{pid} {pid} {pid}"));
        assert_ne!(pid, nix::unistd::getpgrp().as_raw());
    }

    #[test]
    fn a_signal_reaches_the_group_and_a_gone_pid_is_no_error() {
        let child = spawner().spawn(&sh("exec sleep 30")).expect("spawn");
        let pid = child.pid;
        spawner()
            .signal(pid.as_raw(), Signal::SIGTERM, true)
            .expect("signal the group");
        let (_, _, status) = finish(child);
        assert_eq!(
            status,
            WaitStatus::Signaled(pid, nix::sys::signal::Signal::SIGTERM, false)
        );
        // Reaped: ESRCH, which is not an error (STYLE: tini's kill).
        assert!(spawner()
            .signal(pid.as_raw(), Signal::SIGTERM, true)
            .is_ok());
    }
}
