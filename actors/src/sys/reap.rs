//! The one reaper: `waitpid(-1, WNOHANG)` until nothing is left, as tini
//! does. Nothing else in oneinit waits for children, so no exit status is
//! ever stolen. Orphans re-parented to oneinit are reaped here too.

use nix::errno::Errno;
use nix::sys::signal::Signal;
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

/// How a process ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitStatus {
    Exited(i32),
    Signaled(Signal),
}

impl ExitStatus {
    /// The shell convention: the code, or 128+N for signal N.
    pub fn code_for_shell(self) -> i32 {
        match self {
            ExitStatus::Exited(c) => c,
            ExitStatus::Signaled(s) => 128 + s as i32,
        }
    }
}

/// Collects every exited child. Returns when none is left to collect.
pub fn reap_all() -> Vec<(Pid, ExitStatus)> {
    let mut out = Vec::new();
    loop {
        match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::Exited(pid, code)) => out.push((pid, ExitStatus::Exited(code))),
            Ok(WaitStatus::Signaled(pid, sig, _)) => out.push((pid, ExitStatus::Signaled(sig))),
            Ok(WaitStatus::StillAlive) => break,
            Ok(_) => continue,
            Err(Errno::EINTR) => continue,
            Err(_) => break, // ECHILD: no children at all
        }
    }
    out
}

/// True when oneinit has no child process left (alive or zombie).
pub fn no_children_left() -> bool {
    matches!(
        waitpid(
            Pid::from_raw(-1),
            Some(WaitPidFlag::WNOHANG | WaitPidFlag::WNOWAIT | WaitPidFlag::WEXITED)
        ),
        Err(Errno::ECHILD)
    )
}
