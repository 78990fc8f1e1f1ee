//! PID-1 duties that are not reaping: becoming a subreaper when oneinit is
//! not PID 1, and the final sweep of leftover processes when it is.

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
pub fn signal_everyone(sig: nix::sys::signal::Signal) {
    // ESRCH = nothing left; anything else is not actionable here.
    let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(-1), sig);
}
