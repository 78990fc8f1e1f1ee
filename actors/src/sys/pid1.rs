//! PID-1 duties that are not reaping: becoming a subreaper when oneinit is
//! not PID 1, and the final sweep of leftover processes when it is.

use crate::model::signal::Signal;
use nix::libc;

/// True when oneinit runs as PID 1 (in its PID namespace).
pub fn is_pid1() -> bool {
    nix::unistd::getpid().as_raw() == 1
}

/// Makes orphaned descendants re-parent to oneinit (PR_SET_CHILD_SUBREAPER).
pub fn become_subreaper() -> nix::Result<()> {
    nix::sys::prctl::set_child_subreaper(true)
}

/// Signals every process oneinit may signal except itself (`kill(-1)`).
/// Only meaningful as PID 1 in a container's namespace.
pub fn signal_everyone(sig: Signal) {
    // ESRCH = nothing left; anything else is not actionable here.
    let _ = super::signals::kill(-1, sig);
}

/// Asks the kernel to send `sig` to oneinit when its parent dies
/// (`PR_SET_PDEATHSIG`, tini's `-p`).
pub fn set_parent_death_signal(sig: Signal) -> nix::Result<()> {
    // SAFETY: PR_SET_PDEATHSIG takes a signal number (1..=64 is valid) and
    // touches no memory of ours.
    let r = unsafe {
        libc::prctl(
            libc::PR_SET_PDEATHSIG,
            sig.number() as libc::c_ulong,
            0,
            0,
            0,
        )
    };
    nix::errno::Errno::result(r).map(drop)
}
