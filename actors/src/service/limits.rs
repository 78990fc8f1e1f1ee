//! A service's `limits` (SPEC 2.3) at run time: the plan of which mechanism
//! enforces each limit on this host (`model::limits`), the service's cgroup
//! (created before a spawn, removed once no instance is left), the rlimits
//! and `cgroup.procs` files handed to the spawn, usage for the API
//! (`memory_bytes`, `cpu_seconds`) and OOM-kill detection.
//!
//! Shared (`Arc`) by the ServiceActor, which drives it, and the views the
//! API reads (`service_manager::view`), which read usage on the API's
//! threads, at most once per given age.

use crate::model::config::{Config, ServiceConfig};
use crate::model::limits::{plan, Controller, LimitPlan, LimitValue, Mechanism, Rlimit};
use crate::model::signal::Signal;
use crate::model::view::LimitView;
use crate::sys::cgroup::{CgroupError, CgroupHost, CgroupSettings, ServiceCgroup};
use crate::sys::{identity, usage};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The exit reason reported when the kernel killed a service for memory.
pub const OOM_KILLED: &str = "oom_killed";

pub struct ServiceLimits {
    name: String,
    host: Arc<CgroupHost>,
    plans: Vec<LimitPlan>,
    /// Whether the service runs as root (RLIMIT_NPROC cannot bind it).
    root: bool,
    state: Mutex<CgroupState>,
    /// The last usage read, so that frequent views read /proc and the
    /// cgroup at most once per `max_age` (see `usage`). Its own lock: the
    /// reads never hold up the ServiceActor's spawns and exits.
    last_usage: Mutex<Option<UsageSample>>,
}

/// Usage as read at `at` for the instances `pids`.
struct UsageSample {
    at: Instant,
    pids: Vec<i32>,
    memory: u64,
    cpu: f64,
}

#[derive(Default)]
struct CgroupState {
    cgroup: Option<ServiceCgroup>,
    /// The cgroup's OOM-kill counter as last seen.
    oom_seen: u64,
}

/// What a spawn gets from the limits.
#[derive(Debug, Default)]
pub struct SpawnLimits {
    pub rlimits: Vec<(i32, u64)>,
    pub cgroup_procs: Vec<PathBuf>,
    /// The cgroup could not be set up; rlimit fallbacks are used instead.
    pub warning: Option<String>,
}

/// Whether a service with this config runs as uid 0.
fn runs_as_root(cfg: &ServiceConfig) -> bool {
    match identity::resolve(cfg.user.as_deref(), None) {
        Ok(Some(id)) => id.uid == 0,
        _ => nix::unistd::geteuid().is_root(),
    }
}

impl ServiceLimits {
    pub fn new(name: &str, cfg: &ServiceConfig, host: Arc<CgroupHost>) -> ServiceLimits {
        let root = runs_as_root(cfg);
        let plans = plan(&cfg.limits, &host.caps(), root);
        ServiceLimits {
            name: name.to_string(),
            host,
            plans,
            root,
            state: Mutex::new(CgroupState::default()),
            last_usage: Mutex::new(None),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, CgroupState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Limits that are not (fully) enforced here, one sentence each.
    pub fn warnings(&self) -> Vec<String> {
        self.plans
            .iter()
            .filter_map(|p| p.warning.clone())
            .collect()
    }

    /// `limits` of the service object: value and mechanism per key.
    pub fn views(&self) -> BTreeMap<String, LimitView> {
        self.plans
            .iter()
            .map(|p| {
                (
                    p.key.to_string(),
                    LimitView {
                        value: p.value,
                        mechanism: p.mechanism.describe(),
                    },
                )
            })
            .collect()
    }

    fn cgroup_settings(&self) -> CgroupSettings {
        let mut s = CgroupSettings::default();
        for p in &self.plans {
            match (&p.mechanism, p.value) {
                (Mechanism::Cgroup(_, Controller::Memory), LimitValue::Count(b)) => {
                    s.memory = Some(b)
                }
                (Mechanism::Cgroup(_, Controller::Cpu), LimitValue::Cores(c)) => s.cpu = Some(c),
                (Mechanism::Cgroup(_, Controller::Pids), LimitValue::Count(n)) => s.pids = Some(n),
                _ => {}
            }
        }
        s
    }

    /// Before a spawn: the cgroup (created if needed, limits written) and
    /// the rlimits. If the cgroup cannot be made, memory and pids fall back
    /// to their rlimits and `warning` says why.
    pub fn prepare_spawn(&self) -> SpawnLimits {
        let mut out = SpawnLimits::default();
        for p in &self.plans {
            if let Mechanism::Rlimit(r, v) = p.mechanism {
                out.rlimits.push((r.resource(), v));
            }
        }
        let settings = self.cgroup_settings();
        if settings.is_empty() {
            return out;
        }
        let mut st = self.lock();
        if st.cgroup.is_none() {
            match self.host.create_service(&self.name, &settings) {
                Ok(cg) => {
                    st.oom_seen = cg.oom_kills().unwrap_or(0);
                    st.cgroup = Some(cg);
                }
                Err(e) => {
                    let mut fallback = Vec::new();
                    if let Some(b) = settings.memory {
                        out.rlimits.push((Rlimit::AddressSpace.resource(), b));
                        fallback.push("memory via RLIMIT_AS");
                    }
                    if let (Some(n), false) = (settings.pids, self.root) {
                        out.rlimits.push((Rlimit::Nproc.resource(), n));
                        fallback.push("pids via RLIMIT_NPROC");
                    }
                    out.warning = Some(format!(
                        "{e}; limits fall back to: {}",
                        if fallback.is_empty() {
                            "nothing (not enforced)".to_string()
                        } else {
                            fallback.join(", ")
                        }
                    ));
                    return out;
                }
            }
        }
        if let Some(cg) = &st.cgroup {
            out.cgroup_procs = cg.procs_files();
        }
        out
    }

    /// After an instance ended: was it killed for memory? True when the
    /// cgroup's OOM-kill counter grew since the last exit and the exit was a
    /// failure, or — where no cgroup counts OOM kills — when it died of a
    /// SIGKILL oneinit did not send while a memory limit applied.
    pub fn oom_killed(&self, signal: Option<Signal>, sent_by_oneinit: bool, success: bool) -> bool {
        if success {
            return false;
        }
        let mut st = self.lock();
        let counted = st.cgroup.as_ref().and_then(ServiceCgroup::oom_kills);
        match counted {
            Some(n) => {
                let grew = n > st.oom_seen;
                st.oom_seen = n;
                grew
            }
            None => {
                signal == Some(Signal::SIGKILL)
                    && !sent_by_oneinit
                    && self.plans.iter().any(|p| p.key == "memory")
            }
        }
    }

    /// No instance is left: remove the cgroup. Fails while a leftover
    /// process is still in it (the caller retries later).
    pub fn release(&self) -> Result<(), CgroupError> {
        let mut st = self.lock();
        let Some(cg) = st.cgroup.as_ref() else {
            return Ok(());
        };
        cg.remove()?;
        st.cgroup = None;
        Ok(())
    }

    /// Every process in the service's cgroup now (none without a cgroup).
    pub fn cgroup_pids(&self) -> Vec<i32> {
        self.lock()
            .cgroup
            .as_ref()
            .map(ServiceCgroup::pids)
            .unwrap_or_default()
    }

    /// The service's cgroup directories, if it has any now.
    pub fn cgroup_dirs(&self) -> Vec<PathBuf> {
        self.lock()
            .cgroup
            .as_ref()
            .map(ServiceCgroup::dirs)
            .unwrap_or_default()
    }

    /// Memory (bytes) and CPU time (seconds) of the service: the last
    /// reading when it was taken for the same instances at most `max_age`
    /// ago, else a new one (`read_usage`).
    pub fn usage(&self, instance_pids: &[i32], max_age: Duration) -> (u64, f64) {
        let cached = |s: &UsageSample| s.pids == instance_pids && s.at.elapsed() <= max_age;
        if let Some(s) = self.lock_usage().as_ref().filter(|s| cached(s)) {
            return (s.memory, s.cpu);
        }
        let at = Instant::now();
        let (memory, cpu) = self.read_usage(instance_pids);
        *self.lock_usage() = Some(UsageSample {
            at,
            pids: instance_pids.to_vec(),
            memory,
            cpu,
        });
        (memory, cpu)
    }

    fn lock_usage(&self) -> std::sync::MutexGuard<'_, Option<UsageSample>> {
        self.last_usage.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Memory and CPU time now: every process in its cgroup when it has
    /// one, else its instances' processes (from /proc). The cgroup's own
    /// memory counter wins when there is one.
    fn read_usage(&self, instance_pids: &[i32]) -> (u64, f64) {
        let (pids, cg_memory) = {
            let st = self.lock();
            match st.cgroup.as_ref() {
                Some(cg) => {
                    let mut pids = cg.pids();
                    for p in instance_pids {
                        if !pids.contains(p) {
                            pids.push(*p);
                        }
                    }
                    (pids, cg.memory_bytes())
                }
                None => (instance_pids.to_vec(), None),
            }
        };
        let (rss, cpu) = usage::totals(&pids);
        (cg_memory.unwrap_or(rss), cpu)
    }
}

/// `oneinit check`: one line per configured limit saying how it will be
/// enforced on this host, and `warning: ...` lines for those that will not
/// be (fully). For stderr, so `--print` keeps stdout pure YAML.
pub fn check_report(config: &Config) -> Vec<String> {
    let host = Arc::new(CgroupHost::detect());
    let caps = host.caps();
    let mut lines = Vec::new();
    for (name, cfg) in &config.services {
        let plans = plan(&cfg.limits, &caps, runs_as_root(cfg));
        for p in &plans {
            lines.push(format!("{name}: {}", p.describe()));
        }
        for p in &plans {
            if let Some(w) = &p.warning {
                lines.push(format!("warning: {name}: {w}"));
            }
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::units::ConfSize;

    fn limited(memory: bool) -> ServiceLimits {
        let mut cfg = ServiceConfig::default();
        cfg.limits.nofile = Some(256);
        if memory {
            cfg.limits.memory = Some(ConfSize(64 << 20));
        }
        ServiceLimits::new("svc", &cfg, Arc::new(CgroupHost::none()))
    }

    #[test]
    fn without_cgroups_memory_uses_rlimit_as_and_warns() {
        let l = limited(true);
        let spawn = l.prepare_spawn();
        assert!(spawn.cgroup_procs.is_empty());
        assert!(spawn.rlimits.contains(&(libc::RLIMIT_AS as i32, 64 << 20)));
        assert!(spawn.rlimits.contains(&(libc::RLIMIT_NOFILE as i32, 256)));
        assert_eq!(l.views()["memory"].mechanism, "RLIMIT_AS");
        assert_eq!(l.warnings().len(), 1, "{:?}", l.warnings());
        assert!(l.release().is_ok(), "nothing to remove");
    }

    #[test]
    fn oom_without_a_cgroup_is_a_sigkill_oneinit_did_not_send() {
        let l = limited(true);
        assert!(l.oom_killed(Some(Signal::SIGKILL), false, false));
        assert!(
            !l.oom_killed(Some(Signal::SIGKILL), true, false),
            "oneinit's own kill"
        );
        assert!(!l.oom_killed(Some(Signal::SIGTERM), false, false));
        assert!(!l.oom_killed(None, false, true));
        let no_memory_limit = limited(false);
        assert!(!no_memory_limit.oom_killed(Some(Signal::SIGKILL), false, false));
    }

    #[test]
    fn usage_of_this_process_without_a_cgroup() {
        let l = limited(false);
        let (memory, cpu) = l.usage(&[std::process::id() as i32], Duration::ZERO);
        assert!(memory > 0);
        assert!(cpu >= 0.0);
    }

    /// Burns CPU until this process's CPU time as /proc shows it moved.
    fn burn_until_cpu_time_moves() {
        let me = std::process::id() as i32;
        let start = usage::cpu_seconds(me).unwrap_or(0.0);
        let mut x = 0u64;
        while usage::cpu_seconds(me).unwrap_or(0.0) == start {
            for i in 0..1_000_000u64 {
                x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(i));
            }
        }
    }

    #[test]
    fn usage_is_read_again_only_when_older_than_max_age_or_for_other_pids() {
        let l = limited(false);
        let me = std::process::id() as i32;
        let hour = Duration::from_secs(3600);
        let first = l.usage(&[me], hour);
        burn_until_cpu_time_moves();
        assert_eq!(
            l.usage(&[me], hour),
            first,
            "within max_age: the cached reading"
        );
        let fresh = l.usage(&[me], Duration::ZERO);
        assert!(
            fresh.1 > first.1,
            "older than max_age: read again ({fresh:?} vs {first:?})"
        );
        assert_eq!(l.usage(&[me], hour), fresh, "the new reading is cached");
        burn_until_cpu_time_moves();
        let other = l.usage(&[me, i32::MAX], hour);
        assert!(
            other.1 > fresh.1,
            "other instances: read again ({other:?} vs {fresh:?})"
        );
    }
}
