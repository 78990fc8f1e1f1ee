//! Signals as a stream of values for the ServiceManager (no flags set by
//! handlers), and sending signals.
//!
//! Classic signals go through tokio's signal driver: each delivery is a
//! wake-up, and one task per signal forwards it into a channel the manager
//! drains. Real-time signals (34..=64) go through a self-pipe instead: tokio
//! cannot register SIGRTMAX, and a real-time signal is queued by the kernel,
//! so each delivery is one byte and none is merged with the next.
//!
//! `send` uses `kill(2)` directly, since nix's `kill` cannot send real-time
//! signals.

use crate::model::signal::{Signal, MAX, RTMIN};
use futures_util::Stream;
use nix::errno::Errno;
use nix::libc;
use std::io::Write;
use std::sync::Arc;
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::mpsc;

/// Classic signals oneinit catches: SIGCHLD (reap), TERM/INT/QUIT
/// (shutdown), HUP (reload), USR1 (reopen logs); the others are forwarded
/// to services. Not caught: KILL and STOP (cannot be), the fault signals
/// ILL, TRAP, ABRT, BUS, FPE, SEGV and SYS (a handler would hide a real fault
/// of oneinit; tini keeps them too) and PIPE (raised by oneinit's own writes
/// to closed pipes, which it ignores).
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
    Signal::SIGSTKFLT,
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

/// Every signal oneinit catches: `HANDLED` and the real-time signals the
/// C library leaves to programs (`realtime()`).
pub fn caught() -> impl Iterator<Item = Signal> {
    HANDLED
        .iter()
        .copied()
        .chain(realtime().filter_map(Signal::new))
}

/// The real-time signals a program may handle: from the C library's
/// SIGRTMIN to 64. glibc keeps 32 and 33 for its threads (SIGRTMIN = 34);
/// musl keeps 32 to 34 (SIGRTMIN = 35) and refuses a handler for them with
/// EINVAL. Names stay glibc's either way (`model::signal`).
fn realtime() -> std::ops::RangeInclusive<i32> {
    let first = libc::SIGRTMIN().max(RTMIN);
    first..=MAX
}

/// Installs handlers for every `caught()` signal and returns the stream of
/// deliveries. Must be called inside a tokio runtime (the actix system).
pub fn signal_stream() -> std::io::Result<impl Stream<Item = Signal>> {
    let (tx, rx) = mpsc::unbounded_channel();
    for &sig in HANDLED {
        let mut s = signal(SignalKind::from_raw(sig.number()))?;
        let tx = tx.clone();
        tokio::spawn(async move {
            while s.recv().await.is_some() {
                if tx.send(sig).is_err() {
                    break;
                }
            }
        });
    }
    realtime_signals(tx)?;
    Ok(futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|s| (s, rx))
    }))
}

/// Real-time signals through a self-pipe: the handler writes the signal
/// number as one byte, a task reads the bytes and sends the signals on.
/// A full pipe (64 KiB of undelivered signals) drops the newest ones.
fn realtime_signals(tx: mpsc::UnboundedSender<Signal>) -> std::io::Result<()> {
    let (reader, writer) = std::os::unix::net::UnixStream::pair()?;
    reader.set_nonblocking(true)?;
    writer.set_nonblocking(true)?;
    let writer = Arc::new(writer);
    for n in realtime() {
        let w = Arc::clone(&writer);
        let byte = [n as u8];
        // SAFETY: the action runs in a signal handler; it only calls write(2)
        // on a non-blocking socket (async-signal-safe, no allocation, no
        // lock), and signal-hook-registry saves and restores errno around it.
        unsafe {
            signal_hook_registry::register(n, move || {
                let _ = (&*w).write(&byte);
            })
        }?;
    }
    let reader = tokio::net::UnixStream::from_std(reader)?;
    tokio::spawn(async move {
        let mut buf = [0u8; 256];
        loop {
            if reader.readable().await.is_err() {
                break;
            }
            match reader.try_read(&mut buf) {
                Ok(0) => break,
                Ok(k) => {
                    for sig in buf[..k].iter().filter_map(|&b| Signal::new(b.into())) {
                        if tx.send(sig).is_err() {
                            return;
                        }
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(_) => break,
            }
        }
    });
    Ok(())
}

/// `kill(2)`: `target` is a pid, `-pgid` for a process group, `-1` for all.
pub fn kill(target: libc::pid_t, sig: Signal) -> nix::Result<()> {
    // SAFETY: kill has no memory effects; any pid and 1..=64 are valid
    // arguments (an invalid one is an error return, not UB).
    Errno::result(unsafe { libc::kill(target, sig.number()) }).map(drop)
}

/// Sends `sig` to a process group (or the process when `group` is false).
/// ESRCH (already gone) is not an error.
pub fn send(pid: i32, sig: Signal, group: bool) -> nix::Result<()> {
    match kill(if group { -pid } else { pid }, sig) {
        Err(Errno::ESRCH) if group => {
            // The leader may have left its group; try the process itself.
            match kill(pid, sig) {
                Err(Errno::ESRCH) => Ok(()),
                other => other,
            }
        }
        Err(Errno::ESRCH) => Ok(()),
        other => other,
    }
}
