//! Thread priorities: the log pipeline (pipe readers, stdout writer) is
//! bulk work and runs below the rest of oneinit, so under a flood of
//! output the API, the reaper and the health checks still get the CPU
//! when they need it. A lower priority costs the pipeline nothing on an
//! idle core; under contention a `block` service then waits on its pipe
//! a little longer (backpressure, nothing is lost).

/// How many nice levels the log threads run below oneinit. In short runs
/// of the bench's storm (100 services, 10 crash loops, 10 log floods,
/// 2 cores) the p99 of `GET /v1/services` went from 86-318 ms to 27-88 ms;
/// one service's log throughput fell about 10%. +19 did better for the API
/// but would let busy services starve every service's logging.
pub const LOG_NICE: i32 = 10;

/// Lowers the calling thread's priority by `by` nice levels (Linux nice
/// values are per thread). Lowering is always allowed; an error (never
/// expected) leaves the thread as it was.
pub fn lower_this_thread(by: i32) {
    // SAFETY: gettid has no preconditions.
    let tid = unsafe { libc::gettid() } as libc::id_t;
    // getpriority can return -1 as a value: clear errno first and check it.
    nix::errno::Errno::clear();
    // SAFETY: getpriority/setpriority on this thread's own id; plain
    // integers in and out.
    unsafe {
        let now = libc::getpriority(libc::PRIO_PROCESS, tid);
        if now == -1 && nix::errno::Errno::last_raw() != 0 {
            return;
        }
        libc::setpriority(libc::PRIO_PROCESS, tid, (now + by).min(19));
    }
}

#[cfg(test)]
mod tests {
    /// This thread's nice value, from /proc (field 19 of stat).
    fn nice_of_this_thread() -> i32 {
        let stat = std::fs::read_to_string("/proc/thread-self/stat").expect("stat");
        let after = stat.rsplit_once(')').expect("comm").1;
        after
            .split_whitespace()
            .nth(16)
            .expect("nice")
            .parse()
            .expect("number")
    }

    #[test]
    fn lowering_changes_only_the_calling_thread() {
        let before = nice_of_this_thread();
        let lowered = std::thread::spawn(|| {
            let start = nice_of_this_thread();
            super::lower_this_thread(3);
            (start, nice_of_this_thread())
        })
        .join()
        .expect("thread");
        assert_eq!(lowered.1, (lowered.0 + 3).min(19));
        assert_eq!(nice_of_this_thread(), before);
    }
}
