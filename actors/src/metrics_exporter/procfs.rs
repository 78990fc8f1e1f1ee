//! CPU time and RSS of a service's processes, read from /proc at scrape
//! time (`sys::procfs`): every instance's process, its process group, and its descendants.
//!
//! CPU is a counter, but processes come and go: the CPU of a process that
//! disappeared since the last scrape is kept (its last reading) in a
//! per-service base, so the reported value never goes down.

pub use crate::sys::procfs::{scan, ProcStat};
use std::collections::{BTreeMap, HashMap};

/// Assigns processes to services: a process belongs to the service whose
/// instance pid is its process group, or one of its ancestors.
pub fn assign<'a>(
    procs: &[ProcStat],
    roots: &HashMap<i32, &'a str>,
) -> BTreeMap<&'a str, Vec<ProcStat>> {
    let parent: HashMap<i32, i32> = procs.iter().map(|p| (p.pid, p.ppid)).collect();
    let mut out: BTreeMap<&str, Vec<ProcStat>> = BTreeMap::new();
    for p in procs {
        let mut owner = roots.get(&p.pid).or_else(|| roots.get(&p.pgrp));
        let mut cur = p.ppid;
        // Bounded walk: pid trees are shallow, and a cycle (pid reuse
        // between reads) must not loop forever.
        for _ in 0..64 {
            if owner.is_some() || cur <= 1 {
                break;
            }
            owner = roots.get(&cur);
            cur = parent.get(&cur).copied().unwrap_or(0);
        }
        if let Some(service) = owner {
            out.entry(*service).or_default().push(*p);
        }
    }
    out
}

/// Monotonic CPU seconds of one service.
#[derive(Default, Debug)]
pub struct CpuAccount {
    /// Seconds of processes that are gone.
    base: f64,
    /// Last reading of every live process, in seconds.
    last: HashMap<i32, f64>,
}

impl CpuAccount {
    /// Folds in the current readings; returns the total seconds so far.
    pub fn update(&mut self, current: &[(i32, f64)]) -> f64 {
        let now: HashMap<i32, f64> = current.iter().copied().collect();
        for (pid, secs) in &self.last {
            if !now.contains_key(pid) {
                self.base += secs;
            }
        }
        self.last = now;
        self.base + self.last.values().sum::<f64>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(pid: i32, ppid: i32, pgrp: i32) -> ProcStat {
        ProcStat {
            pid,
            ppid,
            pgrp,
            cpu_ticks: 1,
            rss_pages: 1,
            ..Default::default()
        }
    }

    #[test]
    fn assigns_groups_and_descendants_to_their_service() {
        let procs = [
            p(10, 1, 10),  // web instance
            p(11, 10, 10), // web worker in its group
            p(12, 11, 12), // web grandchild in a group of its own
            p(20, 1, 20),  // db instance
            p(30, 1, 30),  // unrelated
            p(31, 1, 20),  // orphan still in db's group
        ];
        let roots: HashMap<i32, &str> = [(10, "web"), (20, "db")].into_iter().collect();
        let got = assign(&procs, &roots);
        let pids = |s: &str| got[s].iter().map(|p| p.pid).collect::<Vec<_>>();
        assert_eq!(pids("web"), [10, 11, 12]);
        assert_eq!(pids("db"), [20, 31]);
        assert_eq!(got.len(), 2);
    }

    #[test]
    fn cpu_never_goes_down_when_processes_exit() {
        let mut acc = CpuAccount::default();
        assert_eq!(acc.update(&[(1, 1.0), (2, 2.0)]), 3.0);
        assert_eq!(acc.update(&[(1, 1.5)]), 3.5);
        assert_eq!(acc.update(&[(3, 0.5)]), 4.0);
        assert_eq!(acc.update(&[]), 4.0);
    }
}
