//! Resource usage of a set of processes, read from /proc at query time:
//! resident memory (`statm`) and CPU time (`stat` utime+stime, plus the
//! times of children they already waited for). Used for the `memory_bytes`
//! and `cpu_seconds` of a service object when no cgroup counts them.

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
    let statm = std::fs::read_to_string(format!("/proc/{pid}/statm")).ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * page_size())
}

/// CPU seconds of one process: its own user+system time and that of the
/// children it reaped (None when it is gone).
pub fn cpu_seconds(pid: i32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_stat_ticks(&stat).map(|t| t as f64 / clock_ticks())
}

/// utime+stime+cutime+cstime (fields 14-17) of a /proc/PID/stat line.
fn parse_stat_ticks(stat: &str) -> Option<u64> {
    // The command name (field 2) may hold spaces and parentheses: skip past
    // the last ')'.
    let rest = stat.rsplit_once(')')?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    // rest starts at field 3 (state): field N is f[N - 3].
    let sum = f
        .get(11..15)?
        .iter()
        .map(|v| v.parse::<i64>().unwrap_or(0).max(0) as u64)
        .sum();
    Some(sum)
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
    fn stat_fields_with_a_tricky_name() {
        let line = "42 (a) b (c) S 1 42 42 0 -1 4194560 100 0 0 0 7 3 2 1 20 0 1 0 5 100 10";
        assert_eq!(parse_stat_ticks(line), Some(7 + 3 + 2 + 1));
    }

    #[test]
    fn own_process_has_memory_and_time() {
        let me = std::process::id() as i32;
        assert!(rss_bytes(me).unwrap() > 0);
        assert!(cpu_seconds(me).is_some());
        assert_eq!(rss_bytes(i32::MAX), None);
    }
}
