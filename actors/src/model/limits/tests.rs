//! Tests for the limit planner: which mechanism (cgroup v1/v2, rlimit) carries each limit on which host.

use super::*;
use crate::model::units::ConfSize;

fn limits() -> LimitsConfig {
    LimitsConfig {
        memory: Some(ConfSize(512 << 20)),
        cpu: Some(1.5),
        pids: Some(256),
        nofile: Some(65536),
        core: Some(ConfSize(0)),
    }
}

fn hybrid() -> HostCaps {
    HostCaps {
        memory: Some(CgroupVersion::V1),
        cpu: Some(CgroupVersion::V1),
        pids: Some(CgroupVersion::V1),
        root: true,
        nofile_hard: 1 << 20,
        core_hard: u64::MAX,
        ..HostCaps::default()
    }
}

#[test]
fn hybrid_host_uses_v1_controllers_and_rlimits() {
    let lines: Vec<String> = plan(&limits(), &hybrid(), true)
        .iter()
        .map(LimitPlan::describe)
        .collect();
    assert_eq!(
        lines,
        vec![
            "memory 512MiB via cgroup v1 memory.limit_in_bytes",
            "cpu 1.5 cores via cgroup v1 cpu.cfs_quota_us",
            "pids 256 via cgroup v1 pids.max",
            "nofile 65536 via RLIMIT_NOFILE",
            "core 0B via RLIMIT_CORE",
        ]
    );
}

#[test]
fn v2_wins_where_enabled() {
    let caps = HostCaps {
        memory: Some(CgroupVersion::V2),
        ..hybrid()
    };
    let p = plan(&limits(), &caps, true);
    assert_eq!(p[0].mechanism.describe(), "cgroup v2 memory.max");
    assert_eq!(p[1].mechanism.describe(), "cgroup v1 cpu.cfs_quota_us");
}

#[test]
fn no_cgroups_fall_back_to_rlimits_or_warn() {
    let caps = HostCaps {
        memory_why: "not root".into(),
        cpu_why: "not root".into(),
        pids_why: "not root".into(),
        nofile_hard: 1024,
        core_hard: 0,
        root: false,
        ..HostCaps::default()
    };
    let p = plan(&limits(), &caps, false);
    assert_eq!(
        p[0].mechanism,
        Mechanism::Rlimit(Rlimit::AddressSpace, 512 << 20)
    );
    assert!(p[0].warning.as_deref().unwrap().contains("RLIMIT_AS"));
    assert_eq!(p[1].mechanism, Mechanism::None);
    assert!(p[1].warning.as_deref().unwrap().contains("not root"));
    assert_eq!(p[2].mechanism, Mechanism::Rlimit(Rlimit::Nproc, 256));
    // nofile above the hard limit: clamped, with a warning.
    assert_eq!(p[3].mechanism, Mechanism::Rlimit(Rlimit::Nofile, 1024));
    assert!(p[3].warning.is_some());
    assert_eq!(p[4].mechanism, Mechanism::Rlimit(Rlimit::Core, 0));
    assert!(p[4].warning.is_none());
}

#[test]
fn nproc_cannot_bind_a_root_service() {
    let cfg = LimitsConfig {
        pids: Some(20),
        ..LimitsConfig::default()
    };
    let p = plan(&cfg, &HostCaps::default(), true);
    assert_eq!(p[0].mechanism, Mechanism::None);
    assert!(p[0].describe().ends_with("not enforced"));
}

#[test]
fn unset_limits_plan_nothing() {
    assert!(plan(&LimitsConfig::default(), &hybrid(), true).is_empty());
}

#[test]
fn cpu_quota_arithmetic() {
    assert_eq!(cpu_max(1.5, 100_000), "150000 100000");
    assert_eq!(cpu_quota_us(0.25, 100_000), 25_000);
    assert_eq!(cpu_quota_us(0.0001, 100_000), 1000);
    assert_eq!(format_bytes(3 << 30), "3GiB");
    assert_eq!(format_bytes(1000), "1000B");
}
