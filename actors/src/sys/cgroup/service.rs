//! One service's cgroup directories: writing its limits, reading its
//! processes, memory and OOM-kill counter, and removing it.

use super::{words, CgroupError};
use crate::model::limits::{cpu_max, cpu_quota_us, CgroupVersion, Controller};
use std::io;
use std::path::{Path, PathBuf};

/// The CFS period oneinit uses (the kernel default, 100 ms).
const CPU_PERIOD_US: u64 = 100_000;

/// The cgroup-enforced limits of one service.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CgroupSettings {
    pub memory: Option<u64>,
    pub cpu: Option<f64>,
    pub pids: Option<u64>,
}

impl CgroupSettings {
    pub(super) fn controllers(&self) -> Vec<Controller> {
        let mut v = Vec::new();
        if self.memory.is_some() {
            v.push(Controller::Memory);
        }
        if self.cpu.is_some() {
            v.push(Controller::Cpu);
        }
        if self.pids.is_some() {
            v.push(Controller::Pids);
        }
        v
    }

    pub fn is_empty(&self) -> bool {
        self.controllers().is_empty()
    }
}

/// The cgroup directories of one service.
#[derive(Clone, Debug, PartialEq)]
pub struct ServiceCgroup {
    dirs: Vec<(Controller, CgroupVersion, PathBuf)>,
}

fn write(dir: &Path, file: &str, value: &str) -> Result<(), CgroupError> {
    let path = dir.join(file);
    std::fs::write(&path, value).map_err(|source| CgroupError::Write {
        value: value.to_string(),
        path,
        source,
    })
}

impl ServiceCgroup {
    pub(super) fn new(dirs: Vec<(Controller, CgroupVersion, PathBuf)>) -> ServiceCgroup {
        ServiceCgroup { dirs }
    }

    pub(super) fn apply(&self, s: &CgroupSettings) -> Result<(), CgroupError> {
        for (c, v, dir) in &self.dirs {
            match (c, v) {
                (Controller::Memory, CgroupVersion::V2) => {
                    if let Some(b) = s.memory {
                        write(dir, "memory.max", &b.to_string())?;
                        // No swapping around the limit.
                        if dir.join("memory.swap.max").exists() {
                            write(dir, "memory.swap.max", "0")?;
                        }
                    }
                }
                (Controller::Memory, CgroupVersion::V1) => {
                    if let Some(b) = s.memory {
                        // memsw (memory + swap) must stay >= the limit: lift
                        // it, set the limit, then pin memsw to the limit so
                        // swapping cannot dodge it (works on a reused cgroup
                        // whose old limit was lower or higher).
                        let memsw = dir.join("memory.memsw.limit_in_bytes").exists();
                        if memsw {
                            write(dir, "memory.memsw.limit_in_bytes", "-1")?;
                        }
                        write(dir, "memory.limit_in_bytes", &b.to_string())?;
                        if memsw {
                            write(dir, "memory.memsw.limit_in_bytes", &b.to_string())?;
                        }
                    }
                }
                (Controller::Cpu, CgroupVersion::V2) => {
                    if let Some(cores) = s.cpu {
                        write(dir, "cpu.max", &cpu_max(cores, CPU_PERIOD_US))?;
                    }
                }
                (Controller::Cpu, CgroupVersion::V1) => {
                    if let Some(cores) = s.cpu {
                        write(dir, "cpu.cfs_period_us", &CPU_PERIOD_US.to_string())?;
                        write(
                            dir,
                            "cpu.cfs_quota_us",
                            &cpu_quota_us(cores, CPU_PERIOD_US).to_string(),
                        )?;
                    }
                }
                (Controller::Pids, _) => {
                    if let Some(n) = s.pids {
                        write(dir, "pids.max", &n.to_string())?;
                    }
                }
            }
        }
        Ok(())
    }

    fn distinct_dirs(&self) -> Vec<&Path> {
        let mut out: Vec<&Path> = Vec::new();
        for (_, _, d) in &self.dirs {
            if !out.contains(&d.as_path()) {
                out.push(d);
            }
        }
        out
    }

    /// The `cgroup.procs` files the child writes itself into.
    pub fn procs_files(&self) -> Vec<PathBuf> {
        self.distinct_dirs()
            .into_iter()
            .map(|d| d.join("cgroup.procs"))
            .collect()
    }

    /// Every directory (for tests and diagnostics).
    pub fn dirs(&self) -> Vec<PathBuf> {
        self.distinct_dirs()
            .into_iter()
            .map(Path::to_path_buf)
            .collect()
    }

    fn memory_dir(&self) -> Option<(CgroupVersion, &Path)> {
        self.dirs
            .iter()
            .find(|(c, _, _)| *c == Controller::Memory)
            .map(|(_, v, d)| (*v, d.as_path()))
    }

    /// OOM kills in the service's memory cgroup so far.
    pub fn oom_kills(&self) -> Option<u64> {
        let (v, dir) = self.memory_dir()?;
        let file = match v {
            CgroupVersion::V2 => "memory.events",
            CgroupVersion::V1 => "memory.oom_control",
        };
        let text = std::fs::read_to_string(dir.join(file)).ok()?;
        keyed_value(&text, "oom_kill")
    }

    /// Memory charged to the service's cgroup (includes page cache).
    pub fn memory_bytes(&self) -> Option<u64> {
        let (v, dir) = self.memory_dir()?;
        let file = match v {
            CgroupVersion::V2 => "memory.current",
            CgroupVersion::V1 => "memory.usage_in_bytes",
        };
        std::fs::read_to_string(dir.join(file))
            .ok()?
            .trim()
            .parse()
            .ok()
    }

    /// Every process in the service's cgroup (its instances and descendants).
    pub fn pids(&self) -> Vec<i32> {
        let mut out: Vec<i32> = Vec::new();
        for d in self.distinct_dirs() {
            for p in words(&d.join("cgroup.procs")) {
                if let Ok(p) = p.parse() {
                    if !out.contains(&p) {
                        out.push(p);
                    }
                }
            }
        }
        out
    }

    /// Removes the directories; fails (EBUSY) while a process is still in one.
    pub fn remove(&self) -> Result<(), CgroupError> {
        let mut failures = Vec::new();
        for d in self.distinct_dirs() {
            match std::fs::remove_dir(d) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => failures.push((d.to_path_buf(), e)),
            }
        }
        if failures.is_empty() {
            Ok(())
        } else {
            Err(CgroupError::Remove { failures })
        }
    }
}

/// `key N` from a flat keyed file (memory.events, memory.oom_control).
pub(super) fn keyed_value(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|l| {
        let (k, v) = l.split_once(' ')?;
        (k == key).then(|| v.trim().parse().ok()).flatten()
    })
}
