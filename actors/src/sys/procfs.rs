//! The one parser of /proc process files: `/proc/PID/stat` (state, parent,
//! process group, CPU ticks, resident pages) and `/proc/PID/statm`. Used by
//! usage (service objects), the metrics exporter, process checks and the
//! sd_notify sender lookup.

use std::fs;

/// One process as read from `/proc/PID/stat`.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ProcStat {
    pub pid: i32,
    /// `R`, `S`, `Z` (zombie), `X` (dead), ...
    pub state: char,
    pub ppid: i32,
    pub pgrp: i32,
    /// utime + stime, in clock ticks.
    pub cpu_ticks: u64,
    /// cutime + cstime: children it already waited for, in clock ticks.
    pub child_ticks: u64,
    /// Resident pages.
    pub rss_pages: i64,
    /// Nice value (-20..=19; a thread's own, read from
    /// `/proc/PID/task/TID/stat` or `/proc/TID/stat`).
    pub nice: i32,
}

/// Parses the text of `/proc/PID/stat` (the command may hold spaces and
/// parentheses, so fields are counted from the last `)`).
pub fn parse_stat(pid: i32, text: &str) -> Option<ProcStat> {
    let after = text.rsplit_once(')')?.1;
    // Fields from 3 on (state is field 3).
    let f: Vec<&str> = after.split_whitespace().collect();
    let field = |n: usize| f.get(n - 3).copied();
    Some(ProcStat {
        pid,
        state: field(3)?.chars().next()?,
        ppid: field(4)?.parse().ok()?,
        pgrp: field(5)?.parse().ok()?,
        cpu_ticks: field(14)?.parse::<u64>().ok()? + field(15)?.parse::<u64>().ok()?,
        child_ticks: (field(16)?.parse::<i64>().ok()?.max(0)
            + field(17)?.parse::<i64>().ok()?.max(0)) as u64,
        rss_pages: field(24)?.parse().ok()?,
        nice: field(19)?.parse().ok()?,
    })
}

/// Every process of the system (those that vanish while reading are skipped).
pub fn scan() -> Vec<ProcStat> {
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| {
            let pid: i32 = e.file_name().to_str()?.parse().ok()?;
            let text = fs::read_to_string(e.path().join("stat")).ok()?;
            parse_stat(pid, &text)
        })
        .collect()
}

/// One process, or None when it is gone.
pub fn read(pid: i32) -> Option<ProcStat> {
    let text = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_stat(pid, &text)
}

/// Resident pages of one process from `/proc/PID/statm` (None when gone).
pub fn resident_pages(pid: i32) -> Option<u64> {
    let statm = fs::read_to_string(format!("/proc/{pid}/statm")).ok()?;
    statm.split_whitespace().nth(1)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_stat_line_with_a_tricky_command() {
        let text = "4242 (my (odd) cmd) S 1 4242 4242 0 -1 4194560 100 0 0 0 \
                    250 50 7 3 20 0 1 0 12345 10000000 321 18446744073709551615";
        let s = parse_stat(4242, text).unwrap();
        assert_eq!(s.ppid, 1);
        assert_eq!(s.pgrp, 4242);
        assert_eq!(s.cpu_ticks, 300);
        assert_eq!(s.rss_pages, 321);
        assert_eq!(s.nice, 0);
    }

    #[test]
    fn reads_this_process() {
        let me = std::process::id() as i32;
        let all = scan();
        let mine = all.iter().find(|p| p.pid == me).unwrap();
        assert!(mine.rss_pages > 0);
    }

    #[test]
    fn state_and_children_ticks() {
        let line = "42 (a) b (c) S 1 42 42 0 -1 4194560 100 0 0 0 7 3 2 1 20 0 1 0 5 100 10";
        let s = parse_stat(42, line).unwrap();
        assert_eq!((s.state, s.cpu_ticks, s.child_ticks), ('S', 10, 3));
        assert_eq!(read(i32::MAX), None);
        let me = read(std::process::id() as i32).unwrap();
        assert!(me.state == 'R' || me.state == 'S');
        assert!(resident_pages(std::process::id() as i32).unwrap() > 0);
    }
}
