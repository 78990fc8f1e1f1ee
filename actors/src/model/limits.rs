//! Which mechanism enforces each `limits` key of a service (SPEC 2.3) on a
//! given host: a cgroup v2 controller where enabled, else a cgroup v1
//! controller (hybrid hosts), else an rlimit stand-in, else nothing — and
//! then a warning, never silence. Pure: the host's capabilities come in as
//! `HostCaps` (detected by `sys::cgroup`), so every case is unit-tested.
//! Used by the service actor (what to apply), `oneinit check` (what to
//! print) and the API (`limits` of a service object).

use super::config::LimitsConfig;
use serde::{Deserialize, Serialize};

/// A cgroup controller oneinit uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Controller {
    Memory,
    Cpu,
    Pids,
}

impl Controller {
    pub const ALL: [Controller; 3] = [Controller::Memory, Controller::Cpu, Controller::Pids];

    /// The controller's name in `/proc/self/cgroup`, mount options and
    /// `cgroup.controllers`.
    pub fn as_str(self) -> &'static str {
        match self {
            Controller::Memory => "memory",
            Controller::Cpu => "cpu",
            Controller::Pids => "pids",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CgroupVersion {
    V1,
    V2,
}

/// The rlimits oneinit sets (numbers from libc, so this stays syscall-free).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rlimit {
    AddressSpace,
    Nproc,
    Nofile,
    Core,
}

impl Rlimit {
    pub fn as_str(self) -> &'static str {
        match self {
            Rlimit::AddressSpace => "RLIMIT_AS",
            Rlimit::Nproc => "RLIMIT_NPROC",
            Rlimit::Nofile => "RLIMIT_NOFILE",
            Rlimit::Core => "RLIMIT_CORE",
        }
    }

    pub fn resource(self) -> i32 {
        (match self {
            Rlimit::AddressSpace => libc::RLIMIT_AS,
            Rlimit::Nproc => libc::RLIMIT_NPROC,
            Rlimit::Nofile => libc::RLIMIT_NOFILE,
            Rlimit::Core => libc::RLIMIT_CORE,
        }) as i32
    }
}

/// What this host offers, as detected at start.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct HostCaps {
    /// Per controller: the usable cgroup version, if any.
    pub memory: Option<CgroupVersion>,
    pub cpu: Option<CgroupVersion>,
    pub pids: Option<CgroupVersion>,
    /// Why a controller is unusable (shown in warnings), per controller.
    pub memory_why: String,
    pub cpu_why: String,
    pub pids_why: String,
    /// oneinit's effective uid is 0 (may raise rlimits).
    pub root: bool,
    /// oneinit's own hard limits: a non-root oneinit cannot go above them.
    pub nofile_hard: u64,
    pub core_hard: u64,
}

impl HostCaps {
    pub fn controller(&self, c: Controller) -> Option<CgroupVersion> {
        match c {
            Controller::Memory => self.memory,
            Controller::Cpu => self.cpu,
            Controller::Pids => self.pids,
        }
    }

    fn why(&self, c: Controller) -> &str {
        match c {
            Controller::Memory => &self.memory_why,
            Controller::Cpu => &self.cpu_why,
            Controller::Pids => &self.pids_why,
        }
    }
}

/// How one limit is enforced.
#[derive(Clone, Debug, PartialEq)]
pub enum Mechanism {
    Cgroup(CgroupVersion, Controller),
    /// The rlimit and the value actually set.
    Rlimit(Rlimit, u64),
    /// Not enforced; the warning says why.
    None,
}

impl Mechanism {
    /// `cgroup v1 memory.limit_in_bytes`, `RLIMIT_AS`, `none`.
    pub fn describe(&self) -> String {
        match self {
            Mechanism::Cgroup(v, c) => {
                let (ver, file) = match (v, c) {
                    (CgroupVersion::V2, Controller::Memory) => ("v2", "memory.max"),
                    (CgroupVersion::V1, Controller::Memory) => ("v1", "memory.limit_in_bytes"),
                    (CgroupVersion::V2, Controller::Cpu) => ("v2", "cpu.max"),
                    (CgroupVersion::V1, Controller::Cpu) => ("v1", "cpu.cfs_quota_us"),
                    (CgroupVersion::V2, Controller::Pids) => ("v2", "pids.max"),
                    (CgroupVersion::V1, Controller::Pids) => ("v1", "pids.max"),
                };
                format!("cgroup {ver} {file}")
            }
            Mechanism::Rlimit(r, _) => r.as_str().to_string(),
            Mechanism::None => "none".to_string(),
        }
    }
}

/// A limit's configured value, as the API shows it.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq)]
#[serde(untagged)]
pub enum LimitValue {
    Count(u64),
    Cores(f64),
}

/// One configured limit and how it is enforced here.
#[derive(Clone, Debug, PartialEq)]
pub struct LimitPlan {
    /// The `limits` key: memory, cpu, pids, nofile, core.
    pub key: &'static str,
    pub value: LimitValue,
    pub mechanism: Mechanism,
    /// Set when the limit is not (fully) enforced.
    pub warning: Option<String>,
}

impl LimitPlan {
    /// `memory 512MiB via cgroup v1 memory.limit_in_bytes` (for `oneinit check`).
    pub fn describe(&self) -> String {
        let value = match (self.key, self.value) {
            ("memory" | "core", LimitValue::Count(b)) => format_bytes(b),
            ("cpu", LimitValue::Cores(c)) => format!("{c} cores"),
            (_, LimitValue::Count(n)) => n.to_string(),
            (_, LimitValue::Cores(c)) => c.to_string(),
        };
        match self.mechanism {
            Mechanism::None => format!("{} {value} not enforced", self.key),
            _ => format!("{} {value} via {}", self.key, self.mechanism.describe()),
        }
    }
}

/// `536870912` → `512MiB`; exact binary units only, else bytes.
pub fn format_bytes(b: u64) -> String {
    const UNITS: [(&str, u64); 4] = [
        ("TiB", 1 << 40),
        ("GiB", 1 << 30),
        ("MiB", 1 << 20),
        ("KiB", 1 << 10),
    ];
    for (unit, size) in UNITS {
        if b >= size && b.is_multiple_of(size) {
            return format!("{}{unit}", b / size);
        }
    }
    format!("{b}B")
}

/// Decides the mechanism of every configured limit of one service.
/// `service_is_root`: the service's processes run as uid 0 (RLIMIT_NPROC
/// does not bind root, so it cannot stand in for `pids` then).
pub fn plan(cfg: &LimitsConfig, caps: &HostCaps, service_is_root: bool) -> Vec<LimitPlan> {
    let mut out = Vec::new();
    if let Some(mem) = cfg.memory {
        let bytes = mem.0;
        out.push(match caps.memory {
            Some(v) => cgroup_plan("memory", LimitValue::Count(bytes), v, Controller::Memory),
            None => LimitPlan {
                key: "memory",
                value: LimitValue::Count(bytes),
                mechanism: Mechanism::Rlimit(Rlimit::AddressSpace, bytes),
                warning: Some(format!(
                    "no memory cgroup controller ({}): falling back to RLIMIT_AS, which caps address space, not resident memory",
                    caps.why(Controller::Memory)
                )),
            },
        });
    }
    if let Some(cores) = cfg.cpu {
        out.push(match caps.cpu {
            Some(v) => cgroup_plan("cpu", LimitValue::Cores(cores), v, Controller::Cpu),
            None => LimitPlan {
                key: "cpu",
                value: LimitValue::Cores(cores),
                mechanism: Mechanism::None,
                warning: Some(format!(
                    "cpu {cores} cannot be enforced: no cpu cgroup controller ({}) and no rlimit can stand in",
                    caps.why(Controller::Cpu)
                )),
            },
        });
    }
    if let Some(n) = cfg.pids {
        out.push(match caps.pids {
            Some(v) => cgroup_plan("pids", LimitValue::Count(n), v, Controller::Pids),
            None if service_is_root => LimitPlan {
                key: "pids",
                value: LimitValue::Count(n),
                mechanism: Mechanism::None,
                warning: Some(format!(
                    "pids {n} cannot be enforced: no pids cgroup controller ({}) and RLIMIT_NPROC does not bind root; run the service as another user",
                    caps.why(Controller::Pids)
                )),
            },
            None => LimitPlan {
                key: "pids",
                value: LimitValue::Count(n),
                mechanism: Mechanism::Rlimit(Rlimit::Nproc, n),
                warning: Some(format!(
                    "no pids cgroup controller ({}): falling back to RLIMIT_NPROC, which counts every process of the service's user",
                    caps.why(Controller::Pids)
                )),
            },
        });
    }
    if let Some(n) = cfg.nofile {
        out.push(rlimit_plan(
            "nofile",
            Rlimit::Nofile,
            n,
            caps.nofile_hard,
            caps.root,
        ));
    }
    if let Some(c) = cfg.core {
        out.push(rlimit_plan(
            "core",
            Rlimit::Core,
            c.0,
            caps.core_hard,
            caps.root,
        ));
    }
    out
}

fn cgroup_plan(key: &'static str, value: LimitValue, v: CgroupVersion, c: Controller) -> LimitPlan {
    LimitPlan {
        key,
        value,
        mechanism: Mechanism::Cgroup(v, c),
        warning: None,
    }
}

/// An rlimit; a non-root oneinit cannot raise a hard limit, so the value is
/// clamped to oneinit's own hard limit, with a warning.
fn rlimit_plan(key: &'static str, r: Rlimit, value: u64, hard: u64, root: bool) -> LimitPlan {
    if !root && value > hard {
        return LimitPlan {
            key,
            value: LimitValue::Count(value),
            mechanism: Mechanism::Rlimit(r, hard),
            warning: Some(format!(
                "{key} {value} is above oneinit's hard {} of {hard} and oneinit is not root: clamped to {hard}",
                r.as_str()
            )),
        };
    }
    LimitPlan {
        key,
        value: LimitValue::Count(value),
        mechanism: Mechanism::Rlimit(r, value),
        warning: None,
    }
}

/// `cpu.max` content for `cores` (v2): `"150000 100000"`.
pub fn cpu_max(cores: f64, period_us: u64) -> String {
    format!("{} {period_us}", cpu_quota_us(cores, period_us))
}

/// The CFS quota for `cores` per `period_us` (at least 1 ms, the kernel's minimum).
pub fn cpu_quota_us(cores: f64, period_us: u64) -> u64 {
    ((cores * period_us as f64).round() as u64).max(1000)
}

#[cfg(test)]
mod tests;
