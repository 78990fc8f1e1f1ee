//! Resource usage of a set of processes, read from /proc at query time
//! (`procfs`):
//! resident memory (`statm`) and CPU time (`stat` utime+stime, plus the
//! times of children they already waited for). Used for the `memory_bytes`
//! and `cpu_seconds` of a service object when no cgroup counts them.

use super::procfs;
use std::sync::OnceLock;

fn page_size() -> u64 {
    static PAGE: OnceLock<u64> = OnceLock::new();
    *PAGE.get_or_init(|| {
        nix::unistd::sysconf(nix::unistd::SysconfVar::PAGE_SIZE)
            .ok()
            .flatten()
            .map(|v| v as u64)
            .unwrap_or(4096)
    })
}

fn clock_ticks() -> f64 {
    static TCK: OnceLock<f64> = OnceLock::new();
    *TCK.get_or_init(|| {
        nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
            .ok()
            .flatten()
            .map(|v| v as f64)
            .filter(|v| *v > 0.0)
            .unwrap_or(100.0)
    })
}

/// Resident set size of one process in bytes (None when it is gone).
pub fn rss_bytes(pid: i32) -> Option<u64> {
    Some(procfs::resident_pages(pid)? * page_size())
}

/// CPU seconds of one process: its own user+system time and that of the
/// children it reaped (None when it is gone).
pub fn cpu_seconds(pid: i32) -> Option<f64> {
    let stat = procfs::read(pid)?;
    Some((stat.cpu_ticks + stat.child_ticks) as f64 / clock_ticks())
}

/// Total resident memory and CPU seconds of `pids` (missing ones count 0).
pub fn totals(pids: &[i32]) -> (u64, f64) {
    pids.iter().fold((0, 0.0), |(m, c), &p| {
        (
            m + rss_bytes(p).unwrap_or(0),
            c + cpu_seconds(p).unwrap_or(0.0),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_process_has_memory_and_time() {
        let me = std::process::id() as i32;
        assert!(rss_bytes(me).unwrap() > 0);
        assert!(cpu_seconds(me).is_some());
        assert_eq!(rss_bytes(i32::MAX), None);
    }
}
