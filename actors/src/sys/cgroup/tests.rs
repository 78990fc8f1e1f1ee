//! Detection and service cgroups against fake hierarchies in temp dirs.

use super::parse::{parse_mountinfo, parse_proc_cgroup, unescape_mount};
use super::service::keyed_value;
use super::*;
use std::path::PathBuf;

const HYBRID_MOUNTINFO: &str = "\
35 25 0:30 / /sys/fs/cgroup ro,nosuid - tmpfs tmpfs ro,mode=755
36 35 0:31 / /sys/fs/cgroup/unified rw,nosuid - cgroup2 cgroup2 rw
37 35 0:32 / /sys/fs/cgroup/memory rw,nosuid - cgroup cgroup rw,memory
38 35 0:33 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid - cgroup cgroup rw,cpu,cpuacct
39 35 0:34 / /sys/fs/cgroup/pids rw,nosuid - cgroup cgroup rw,pids
";
const HYBRID_CGROUP: &str = "\
8:pids:/
4:memory:/process_api/abc
2:cpu,cpuacct:/
0::/
";

#[test]
fn parses_mountinfo_and_proc_cgroup() {
    let m = parse_mountinfo(HYBRID_MOUNTINFO);
    assert_eq!(m.len(), 4);
    assert!(m[0].v2);
    assert_eq!(m[0].point, PathBuf::from("/sys/fs/cgroup/unified"));
    assert_eq!(m[2].controllers, vec!["rw", "cpu", "cpuacct"]);
    let c = parse_proc_cgroup(HYBRID_CGROUP);
    assert_eq!(
        c[1],
        (vec!["memory".to_string()], "/process_api/abc".to_string())
    );
    assert_eq!(c[3], (Vec::new(), "/".to_string()));
    assert_eq!(unescape_mount("/a\\040b"), "/a b");
}

#[test]
fn keyed_files() {
    assert_eq!(
        keyed_value("oom_kill_disable 0\nunder_oom 0\noom_kill 3\n", "oom_kill"),
        Some(3)
    );
    assert_eq!(
        keyed_value("low 0\nhigh 0\nmax 2\noom 1\noom_kill 1\n", "oom_kill"),
        Some(1)
    );
    assert_eq!(keyed_value("oom 1\n", "oom_kill"), None);
}

/// A fake v2 hierarchy in a temp dir with memory and pids enabled.
#[test]
fn v2_detection_and_service_cgroup_in_a_fake_hierarchy() {
    let root = tempfile::tempdir().unwrap();
    let own = root.path().join("svc.slice");
    std::fs::create_dir_all(&own).unwrap();
    std::fs::write(own.join("cgroup.controllers"), "cpu memory pids\n").unwrap();
    std::fs::write(own.join("cgroup.subtree_control"), "memory pids\n").unwrap();
    let mountinfo = format!(
        "30 25 0:26 / {} rw,nosuid - cgroup2 cgroup2 rw\n",
        root.path().display()
    );
    let host = CgroupHost::from_texts(&mountinfo, "0::/svc.slice\n", "oneinit-77".into());
    let caps = host.caps();
    assert_eq!(caps.memory, Some(CgroupVersion::V2));
    assert_eq!(caps.pids, Some(CgroupVersion::V2));
    assert_eq!(caps.cpu, None, "cpu is not in subtree_control");
    assert!(caps.cpu_why.contains("not enabled"), "{}", caps.cpu_why);

    let cg = host
        .create_service(
            "web",
            &CgroupSettings {
                memory: Some(64 << 20),
                cpu: None,
                pids: Some(20),
            },
        )
        .unwrap();
    let dir = own.join("oneinit-77").join("web");
    assert_eq!(cg.dirs(), vec![dir.clone()]);
    assert_eq!(cg.procs_files(), vec![dir.join("cgroup.procs")]);
    assert_eq!(
        std::fs::read_to_string(dir.join("memory.max")).unwrap(),
        "67108864"
    );
    assert_eq!(std::fs::read_to_string(dir.join("pids.max")).unwrap(), "20");
    let sub = std::fs::read_to_string(own.join("oneinit-77/cgroup.subtree_control")).unwrap();
    assert!(
        sub.starts_with('+'),
        "the parent hands a controller on: {sub}"
    );
    std::fs::write(dir.join("memory.events"), "oom 1\noom_kill 2\n").unwrap();
    assert_eq!(cg.oom_kills(), Some(2));
    std::fs::write(dir.join("memory.current"), "4096\n").unwrap();
    assert_eq!(cg.memory_bytes(), Some(4096));
    std::fs::write(dir.join("cgroup.procs"), "12\n13\n").unwrap();
    assert_eq!(cg.pids(), vec![12, 13]);
}

#[test]
fn hybrid_without_v2_controllers_uses_v1() {
    let root = tempfile::tempdir().unwrap();
    let p = root.path();
    for d in ["unified", "memory/process_api/abc", "cpu,cpuacct", "pids"] {
        std::fs::create_dir_all(p.join(d)).unwrap();
    }
    std::fs::write(p.join("unified/cgroup.subtree_control"), "").unwrap();
    let mountinfo = HYBRID_MOUNTINFO.replace("/sys/fs/cgroup", &p.to_string_lossy());
    let host = CgroupHost::from_texts(&mountinfo, HYBRID_CGROUP, "oneinit-5".into());
    let caps = host.caps();
    assert_eq!(caps.memory, Some(CgroupVersion::V1));
    assert_eq!(caps.cpu, Some(CgroupVersion::V1));
    assert_eq!(caps.pids, Some(CgroupVersion::V1));
    let cg = host
        .create_service(
            "api",
            &CgroupSettings {
                memory: Some(1 << 20),
                cpu: Some(0.5),
                pids: None,
            },
        )
        .unwrap();
    assert_eq!(
        cg.dirs(),
        vec![
            p.join("memory/process_api/abc/oneinit-5/api"),
            p.join("cpu,cpuacct/oneinit-5/api")
        ]
    );
    let quota = std::fs::read_to_string(p.join("cpu,cpuacct/oneinit-5/api/cpu.cfs_quota_us"));
    assert_eq!(quota.unwrap(), "50000");
}

#[test]
fn nothing_mounted_means_no_controller_and_a_reason() {
    let host = CgroupHost::from_texts("", "", "oneinit-1".into());
    let caps = host.caps();
    assert_eq!((caps.memory, caps.cpu, caps.pids), (None, None, None));
    assert!(caps.memory_why.contains("no cgroup v1 memory hierarchy"));
    assert!(host
        .create_service(
            "x",
            &CgroupSettings {
                memory: Some(1),
                ..Default::default()
            }
        )
        .is_err());
}
