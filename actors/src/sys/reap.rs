//! The one reaper: `waitpid(-1, WNOHANG)` until nothing is left, as tini
//! does. Nothing else in oneinit waits for children, so no exit status is
//! ever stolen. Orphans re-parented to oneinit are reaped here too.
//!
//! Wait statuses are decoded here from the raw `int` (`decode`): nix's
//! `WaitStatus` cannot hold a death by a real-time signal (32..=64) and
//! fails on it, and a status that was reaped but then dropped leaves a
//! service with a dead pid for good. Every reaped exit is returned.

use crate::model::signal::Signal;
use nix::errno::Errno;
use nix::libc;
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
            ExitStatus::Signaled(s) => 128 + s.number(),
        }
    }
}

/// What one raw wait status says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WaitEvent {
    /// The process is gone (a reaped exit).
    Ended(ExitStatus),
    /// Stopped by this signal number (only with WUNTRACED or ptrace).
    Stopped(i32),
    /// Resumed by SIGCONT (only with WCONTINUED).
    Continued,
}

/// Decodes a raw wait status (the `int` of `waitpid`) with the WIF* macros.
/// A death by a signal number outside 1..=64 (not possible on x86_64 or
/// arm64) is reported as exit code 128+N rather than lost.
pub fn decode(raw: libc::c_int) -> WaitEvent {
    if libc::WIFEXITED(raw) {
        WaitEvent::Ended(ExitStatus::Exited(libc::WEXITSTATUS(raw)))
    } else if libc::WIFSIGNALED(raw) {
        let n = libc::WTERMSIG(raw);
        WaitEvent::Ended(match Signal::new(n) {
            Some(sig) => ExitStatus::Signaled(sig),
            None => ExitStatus::Exited(128 + n),
        })
    } else if libc::WIFSTOPPED(raw) {
        WaitEvent::Stopped(libc::WSTOPSIG(raw))
    } else {
        // WIFCONTINUED is the only status left (0xffff).
        WaitEvent::Continued
    }
}

/// Collects every exited child. Returns when none is left to collect.
pub fn reap_all() -> Vec<(Pid, ExitStatus)> {
    let mut out = Vec::new();
    loop {
        let mut raw: libc::c_int = 0;
        // SAFETY: waitpid only writes the status through the valid pointer
        // to a local; -1 waits for any child, WNOHANG never blocks.
        let pid = unsafe { libc::waitpid(-1, &mut raw, libc::WNOHANG) };
        match pid {
            0 => break, // children left, none has ended
            -1 => match Errno::last() {
                Errno::EINTR => continue,
                _ => break, // ECHILD: no children at all
            },
            pid => match decode(raw) {
                WaitEvent::Ended(status) => out.push((Pid::from_raw(pid), status)),
                // Not an end: nothing reaped (no WUNTRACED/WCONTINUED here).
                WaitEvent::Stopped(_) | WaitEvent::Continued => continue,
            },
        }
    }
    out
}

/// True when oneinit has no child process left (alive or zombie).
/// `waitid` with WNOWAIT looks without reaping (`waitpid` refuses WNOWAIT).
pub fn no_children_left() -> bool {
    // SAFETY: an all-zero siginfo_t is a valid value (plain C struct).
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: waitid writes only into the local siginfo_t; WNOHANG never
        // blocks and WNOWAIT leaves any zombie for `reap_all`.
        let r = unsafe {
            libc::waitid(
                libc::P_ALL,
                0,
                &mut info,
                libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
            )
        };
        if r == 0 {
            return false;
        }
        match Errno::last() {
            Errno::EINTR => continue,
            e => return e == Errno::ECHILD,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The kernel's encoding of a death by signal `n` (core dump bit optional).
    fn killed_by(n: i32, core: bool) -> libc::c_int {
        n | if core { 0x80 } else { 0 }
    }

    #[test]
    fn every_signal_decodes_to_its_number() {
        for n in 1..=64 {
            for core in [false, true] {
                let sig = Signal::new(n).unwrap();
                assert_eq!(
                    decode(killed_by(n, core)),
                    WaitEvent::Ended(ExitStatus::Signaled(sig)),
                    "signal {n} core {core}"
                );
                assert_eq!(ExitStatus::Signaled(sig).code_for_shell(), 128 + n);
            }
        }
    }

    #[test]
    fn every_exit_code_decodes() {
        for code in 0..=255 {
            assert_eq!(
                decode(code << 8),
                WaitEvent::Ended(ExitStatus::Exited(code))
            );
        }
    }

    #[test]
    fn stops_and_continues_are_not_ends() {
        for n in 1..=64 {
            assert_eq!(decode((n << 8) | 0x7f), WaitEvent::Stopped(n));
        }
        assert_eq!(decode(0xffff), WaitEvent::Continued);
    }
}
