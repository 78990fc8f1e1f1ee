//! Thread priorities, relative to oneinit's main thread (Linux nice values
//! are per thread, and a new thread starts at its creator's):
//! - the log pipeline (pipe readers, stdout writer) is bulk work and runs
//!   `LOG_NICE` levels below, so under a flood of output the API, the
//!   reaper and the health checks still get the CPU when they need it. A
//!   lower priority costs the pipeline nothing on an idle core; under
//!   contention a `block` service then waits on its pipe a little longer
//!   (backpressure, nothing is lost);
//! - the API's threads (its acceptor and workers) answer operators and
//!   probes and run `API_NICE` levels above, so a storm of busy services
//!   does not make `/readyz` or `GET /v1/services` wait for a CPU.
//!
//! Services never inherit either: they are spawned from threads at
//! oneinit's own priority (the launchers, the system arbiter), never from
//! a log or API thread.

use nix::errno::Errno;
use std::sync::OnceLock;

/// How many nice levels the log threads run below oneinit. In short runs
/// of the bench's storm (100 services, 10 crash loops, 10 log floods,
/// 2 cores) the p99 of `GET /v1/services` went from 86-318 ms to 27-88 ms;
/// one service's log throughput fell about 10%. +19 did better for the API
/// but would let busy services starve every service's logging.
pub const LOG_NICE: i32 = 10;

/// How many nice levels the API's threads run above oneinit (negative:
/// more CPU). In alternating runs of the bench's storm (wrk at oneinit's
/// own priority), the p99 of `GET /v1/services` went from 62-314 ms at 0
/// to 11-48 ms at -10, of `GET /v1/services/x` from 26-306 ms to 4-21 ms,
/// and the API answered 2-3 times as many requests (-5: 21-50 ms and
/// 75-148 ms). The cost is bounded: the API has one worker by default, so
/// even a client that floods it takes at most one core from the services.
/// Raising needs CAP_SYS_NICE (or RLIMIT_NICE); without it the threads
/// stay at oneinit's own priority.
pub const API_NICE: i32 = -10;

/// oneinit's own nice value: its main thread's, read at the first use
/// (before `with_this_thread_at` ever changes that thread).
fn base() -> Result<i32, Errno> {
    static BASE: OnceLock<i32> = OnceLock::new();
    if let Some(b) = BASE.get() {
        return Ok(*b);
    }
    let b = nice_of(nix::unistd::getpid().as_raw() as libc::id_t)?;
    Ok(*BASE.get_or_init(|| b))
}

/// The nice value of thread (or process) `id`.
fn nice_of(id: libc::id_t) -> Result<i32, Errno> {
    // getpriority can return -1 as a value: clear errno first and check it.
    Errno::clear();
    // SAFETY: getpriority reads one integer of a thread of this process.
    let nice = unsafe { libc::getpriority(libc::PRIO_PROCESS, id) };
    if nice == -1 && Errno::last_raw() != 0 {
        return Err(Errno::last());
    }
    Ok(nice)
}

fn this_thread() -> libc::id_t {
    nix::unistd::gettid().as_raw() as libc::id_t
}

/// Sets the calling thread to nice value `nice` (clamped to -20..=19).
fn set_nice(nice: i32) -> Result<(), Errno> {
    // SAFETY: setpriority on this thread's own id; plain integers.
    match unsafe { libc::setpriority(libc::PRIO_PROCESS, this_thread(), nice.clamp(-20, 19)) } {
        0 => Ok(()),
        _ => Err(Errno::last()),
    }
}

/// Runs the calling thread `offset` nice levels from oneinit's own
/// priority. Idempotent. Lowering is always allowed; raising above
/// oneinit fails with `EACCES`/`EPERM` without CAP_SYS_NICE, and then
/// leaves the thread as it was.
pub fn set_this_thread(offset: i32) -> Result<(), Errno> {
    set_nice(base()? + offset)
}

/// Runs the calling thread `LOG_NICE` levels below oneinit (the log
/// pipeline's threads call it first). Lowering never fails.
pub fn lower_this_thread_for_logs() {
    let _ = set_this_thread(LOG_NICE);
}

/// Runs `f` with the calling thread `offset` levels from oneinit's own
/// priority, then puts the thread back where it was: the threads `f`
/// creates start at that priority and keep it. Answers `f`'s result and
/// whether the thread could be set (if not, `f` ran where it was).
pub fn with_this_thread_at<T>(offset: i32, f: impl FnOnce() -> T) -> (T, Result<(), Errno>) {
    let before = nice_of(this_thread());
    let set = before.and_then(|_| set_this_thread(offset));
    let out = f();
    if let (Ok(()), Ok(before)) = (set, before) {
        // Back down from a raise (a negative offset) is a lowering, which
        // is always allowed; back up from a lowering needs CAP_SYS_NICE.
        let _ = set_nice(before);
    }
    (out, set)
}

#[cfg(test)]
mod tests {
    use crate::sys::procfs;

    /// A thread's (or process's) nice value, from /proc.
    fn nice_in(id: i32) -> i32 {
        procfs::read(id).expect("stat").nice
    }

    fn nice_of_this_thread() -> i32 {
        nice_in(nix::unistd::gettid().as_raw())
    }

    fn base() -> i32 {
        nice_in(nix::unistd::getpid().as_raw())
    }

    #[test]
    fn threads_made_while_raised_keep_it_and_the_maker_goes_back() {
        let base = base();
        let (made, maker_after, set) = std::thread::spawn(|| {
            let (made, set) = super::with_this_thread_at(-3, || {
                std::thread::spawn(nice_of_this_thread)
                    .join()
                    .expect("thread")
            });
            (made, nice_of_this_thread(), set)
        })
        .join()
        .expect("thread");
        assert_eq!(maker_after, base);
        match set {
            Ok(()) => assert_eq!(made, (base - 3).max(-20)),
            Err(e) => {
                assert!(!nix::unistd::geteuid().is_root(), "root may raise: {e}");
                assert_eq!(made, base);
            }
        }
    }

    #[test]
    fn a_thread_is_set_relative_to_the_main_thread_and_only_itself() {
        let before = nice_of_this_thread();
        let base = base();
        let lowered = std::thread::spawn(|| {
            super::set_this_thread(3).expect("lowering is always allowed");
            // Idempotent: relative to the main thread, not to itself.
            super::set_this_thread(3).expect("again");
            nice_of_this_thread()
        })
        .join()
        .expect("thread");
        assert_eq!(lowered, (base + 3).min(19));
        assert_eq!(nice_of_this_thread(), before);
        // Raising works with CAP_SYS_NICE (root here); without it, the
        // thread keeps its priority and the error says why.
        let raised = std::thread::spawn(|| {
            let r = super::set_this_thread(-2);
            (r, nice_of_this_thread())
        })
        .join()
        .expect("thread");
        match raised {
            (Ok(()), nice) => assert_eq!(nice, (base - 2).max(-20)),
            (Err(e), nice) => {
                assert!(!nix::unistd::geteuid().is_root(), "root may raise: {e}");
                assert!(
                    matches!(e, nix::errno::Errno::EACCES | nix::errno::Errno::EPERM),
                    "{e}"
                );
                assert_eq!(nice, base);
            }
        }
    }
}
