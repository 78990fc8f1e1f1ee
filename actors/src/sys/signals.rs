//! Signals as a stream of values for the ServiceManager (no flags set by
//! handlers): tokio's signal driver turns each delivery into a wake-up, and
//! one task per signal forwards it into a channel the manager drains.

use futures_util::Stream;
use nix::sys::signal::Signal;
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::mpsc;

/// Signals oneinit handles itself: SIGCHLD (reap), TERM/INT/QUIT (shutdown),
/// HUP (reload), USR1 (reopen logs); the others are forwarded to services.
pub const HANDLED: &[Signal] = &[
    Signal::SIGCHLD,
    Signal::SIGTERM,
    Signal::SIGINT,
    Signal::SIGQUIT,
    Signal::SIGHUP,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
    Signal::SIGWINCH,
    Signal::SIGPWR,
    Signal::SIGALRM,
    Signal::SIGCONT,
    Signal::SIGTSTP,
    Signal::SIGTTIN,
    Signal::SIGTTOU,
    Signal::SIGURG,
    Signal::SIGIO,
    Signal::SIGVTALRM,
    Signal::SIGPROF,
    Signal::SIGXCPU,
    Signal::SIGXFSZ,
];

/// Installs handlers for `HANDLED` and returns the stream of deliveries.
/// Must be called inside a tokio runtime (the actix system).
pub fn signal_stream() -> std::io::Result<impl Stream<Item = Signal>> {
    let (tx, rx) = mpsc::unbounded_channel();
    for &sig in HANDLED {
        let mut s = signal(SignalKind::from_raw(sig as i32))?;
        let tx = tx.clone();
        tokio::spawn(async move {
            while s.recv().await.is_some() {
                if tx.send(sig).is_err() {
                    break;
                }
            }
        });
    }
    Ok(futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|s| (s, rx))
    }))
}

/// Sends `sig` to a process group (or the process when `group` is false).
/// ESRCH (already gone) is not an error.
pub fn send(pid: i32, sig: Signal, group: bool) -> nix::Result<()> {
    let target = nix::unistd::Pid::from_raw(if group { -pid } else { pid });
    match nix::sys::signal::kill(target, sig) {
        Err(nix::errno::Errno::ESRCH) if group => {
            // The leader may have left its group; try the process itself.
            match nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), sig) {
                Err(nix::errno::Errno::ESRCH) => Ok(()),
                other => other,
            }
        }
        Err(nix::errno::Errno::ESRCH) => Ok(()),
        other => other,
    }
}
