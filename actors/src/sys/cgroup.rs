//! cgroups: detects at start which controllers (memory, cpu, pids) the host
//! lets oneinit use — cgroup v2 where the controller is enabled in the
//! `cgroup.subtree_control` of oneinit's own cgroup, else the cgroup v1
//! hierarchy of that controller (hybrid hosts) — and manages one cgroup per
//! service under a oneinit-owned parent (`<own cgroup>/oneinit-<pid>/<service>`).
//! The child moves itself in before exec (`SpawnSpec::cgroup_procs`), so no
//! early fork escapes. Also reads usage and the OOM-kill counter.
//!
//! Owned by the ServiceManager (one `CgroupHost`), used by the service
//! actors through `service::limits`. Paths are parameters, so unit tests
//! run against a fake hierarchy in a temp dir.

use crate::model::limits::{cpu_max, cpu_quota_us, CgroupVersion, Controller, HostCaps};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// The CFS period oneinit uses (the kernel default, 100 ms).
const CPU_PERIOD_US: u64 = 100_000;

/// Where one controller's cgroups go.
#[derive(Clone, Debug, PartialEq)]
struct Hierarchy {
    version: CgroupVersion,
    /// oneinit's own cgroup in this hierarchy (mount point + path).
    own: PathBuf,
}

/// What the host offers and the parents oneinit created.
#[derive(Debug)]
pub struct CgroupHost {
    memory: Option<Hierarchy>,
    cpu: Option<Hierarchy>,
    pids: Option<Hierarchy>,
    why: [String; 3],
    /// `oneinit-<pid>`: unique per oneinit, so two supervisors never clash.
    parent_name: String,
    /// Parents created so far (removed at exit).
    created: Mutex<Vec<PathBuf>>,
}

/// One line of /proc/self/mountinfo that is a cgroup mount.
#[derive(Debug, PartialEq)]
struct CgroupMount {
    point: PathBuf,
    /// `cgroup2`, or the v1 controllers in its super options.
    v2: bool,
    controllers: Vec<String>,
}

fn parse_mountinfo(text: &str) -> Vec<CgroupMount> {
    let mut out = Vec::new();
    for line in text.lines() {
        let Some((left, right)) = line.split_once(" - ") else {
            continue;
        };
        let Some(point) = left.split(' ').nth(4) else {
            continue;
        };
        let mut r = right.split(' ');
        let fstype = r.next().unwrap_or_default();
        let _source = r.next();
        let opts = r.next().unwrap_or_default();
        let point = PathBuf::from(unescape_mount(point));
        match fstype {
            "cgroup2" => out.push(CgroupMount {
                point,
                v2: true,
                controllers: Vec::new(),
            }),
            "cgroup" => out.push(CgroupMount {
                point,
                v2: false,
                controllers: opts.split(',').map(str::to_string).collect(),
            }),
            _ => {}
        }
    }
    out
}

/// mountinfo escapes spaces etc. as `\040`.
fn unescape_mount(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 4 <= b.len() {
            if let Some(n) = std::str::from_utf8(&b[i + 1..i + 4])
                .ok()
                .and_then(|o| u8::from_str_radix(o, 8).ok())
            {
                out.push(n);
                i += 4;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `/proc/self/cgroup`: (controllers, path) per line; v2 has no controllers.
fn parse_proc_cgroup(text: &str) -> Vec<(Vec<String>, String)> {
    text.lines()
        .filter_map(|l| {
            let mut parts = l.splitn(3, ':');
            let _id = parts.next()?;
            let ctrls = parts.next()?;
            let path = parts.next()?;
            let ctrls = ctrls
                .split(',')
                .filter(|c| !c.is_empty())
                .map(str::to_string)
                .collect();
            Some((ctrls, path.to_string()))
        })
        .collect()
}

fn join_cgroup(mount: &Path, path: &str) -> PathBuf {
    mount.join(path.trim_start_matches('/'))
}

fn writable(dir: &Path) -> bool {
    nix::unistd::access(dir, nix::unistd::AccessFlags::W_OK).is_ok()
}

fn words(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

impl CgroupHost {
    /// Detects this process's cgroups from /proc.
    pub fn detect() -> CgroupHost {
        let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        let own = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
        CgroupHost::from_texts(&mountinfo, &own, std::process::id())
    }

    /// Detection from the texts of mountinfo and /proc/self/cgroup.
    fn from_texts(mountinfo: &str, proc_cgroup: &str, pid: u32) -> CgroupHost {
        let mounts = parse_mountinfo(mountinfo);
        let own = parse_proc_cgroup(proc_cgroup);
        let v2_own = mounts.iter().find(|m| m.v2).and_then(|m| {
            own.iter()
                .find(|(c, _)| c.is_empty())
                .map(|(_, p)| join_cgroup(&m.point, p))
        });
        let mut host = CgroupHost {
            memory: None,
            cpu: None,
            pids: None,
            why: Default::default(),
            parent_name: format!("oneinit-{pid}"),
            created: Mutex::new(Vec::new()),
        };
        for (i, c) in Controller::ALL.into_iter().enumerate() {
            let name = c.as_str();
            let mut why = Vec::new();
            let v2 = v2_own.as_ref().and_then(|dir| {
                let enabled = words(&dir.join("cgroup.subtree_control"));
                if !enabled.iter().any(|e| e == name) {
                    why.push(format!(
                        "cgroup v2: {name} not enabled in {}",
                        dir.join("cgroup.subtree_control").display()
                    ));
                    None
                } else if !writable(dir) {
                    why.push(format!("cgroup v2: {} is not writable", dir.display()));
                    None
                } else {
                    Some(Hierarchy {
                        version: CgroupVersion::V2,
                        own: dir.clone(),
                    })
                }
            });
            let v1 = || {
                let m = mounts
                    .iter()
                    .find(|m| !m.v2 && m.controllers.iter().any(|o| o == name));
                let Some(m) = m else {
                    why.push(format!("no cgroup v1 {name} hierarchy is mounted"));
                    return None;
                };
                let path = own
                    .iter()
                    .find(|(cs, _)| cs.iter().any(|o| o == name))
                    .map(|(_, p)| p.as_str())
                    .unwrap_or("/");
                let dir = join_cgroup(&m.point, path);
                if !writable(&dir) {
                    why.push(format!("cgroup v1: {} is not writable", dir.display()));
                    return None;
                }
                Some(Hierarchy {
                    version: CgroupVersion::V1,
                    own: dir,
                })
            };
            let chosen = v2.or_else(v1);
            if chosen.is_none() {
                host.why[i] = why.join("; ");
            }
            match c {
                Controller::Memory => host.memory = chosen,
                Controller::Cpu => host.cpu = chosen,
                Controller::Pids => host.pids = chosen,
            }
        }
        host
    }

    fn hierarchy(&self, c: Controller) -> Option<&Hierarchy> {
        match c {
            Controller::Memory => self.memory.as_ref(),
            Controller::Cpu => self.cpu.as_ref(),
            Controller::Pids => self.pids.as_ref(),
        }
    }

    /// The capabilities for limit planning (`model::limits::plan`).
    pub fn caps(&self) -> HostCaps {
        let hard = |r| {
            nix::sys::resource::getrlimit(r)
                .map(|(_, h)| h)
                .unwrap_or(u64::MAX)
        };
        HostCaps {
            memory: self.memory.as_ref().map(|h| h.version),
            cpu: self.cpu.as_ref().map(|h| h.version),
            pids: self.pids.as_ref().map(|h| h.version),
            memory_why: self.why[0].clone(),
            cpu_why: self.why[1].clone(),
            pids_why: self.why[2].clone(),
            root: nix::unistd::geteuid().is_root(),
            nofile_hard: hard(nix::sys::resource::Resource::RLIMIT_NOFILE),
            core_hard: hard(nix::sys::resource::Resource::RLIMIT_CORE),
        }
    }

    /// Creates (or reuses) the cgroup of `service` in every hierarchy of
    /// `controllers` and writes the limits into it.
    pub fn create_service(
        &self,
        service: &str,
        settings: &CgroupSettings,
    ) -> Result<ServiceCgroup, String> {
        let mut dirs: Vec<(Controller, CgroupVersion, PathBuf)> = Vec::new();
        for c in settings.controllers() {
            let Some(h) = self.hierarchy(c) else {
                return Err(format!("no usable {} cgroup controller", c.as_str()));
            };
            let parent = h.own.join(&self.parent_name);
            self.ensure_parent(&parent, h.version, c)?;
            let dir = parent.join(dir_name(service));
            match std::fs::create_dir(&dir) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(format!("cannot create cgroup {}: {e}", dir.display())),
            }
            // One v2 directory serves every v2 controller; `distinct_dirs`
            // folds the repeats.
            dirs.push((c, h.version, dir));
        }
        let cg = ServiceCgroup { dirs };
        cg.apply(settings)?;
        Ok(cg)
    }

    fn ensure_parent(&self, parent: &Path, v: CgroupVersion, c: Controller) -> Result<(), String> {
        let mut created = self.created.lock().unwrap_or_else(|e| e.into_inner());
        // Always tried (cheap): recreates a parent someone else removed.
        match std::fs::create_dir(parent) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(format!("cannot create cgroup {}: {e}", parent.display())),
        }
        if !created.iter().any(|p| p == parent) {
            created.push(parent.to_path_buf());
        }
        if v == CgroupVersion::V2 {
            // The parent holds no process, so it may hand the controller on.
            let ctl = parent.join("cgroup.subtree_control");
            if !words(&ctl).iter().any(|w| w == c.as_str()) {
                std::fs::write(&ctl, format!("+{}", c.as_str())).map_err(|e| {
                    format!("cannot enable {} in {}: {e}", c.as_str(), ctl.display())
                })?;
            }
        }
        Ok(())
    }

    /// Removes the parents oneinit created (at exit): first any service
    /// cgroup left behind, then the parent. Best effort; returns what could
    /// not be removed.
    pub fn remove_parents(&self) -> Vec<String> {
        let mut created = self.created.lock().unwrap_or_else(|e| e.into_inner());
        let mut left = Vec::new();
        for parent in created.drain(..) {
            if let Ok(entries) = std::fs::read_dir(&parent) {
                for e in entries.flatten() {
                    if e.file_type().is_ok_and(|t| t.is_dir()) {
                        let _ = std::fs::remove_dir(e.path());
                    }
                }
            }
            if let Err(e) = std::fs::remove_dir(&parent) {
                if e.kind() != io::ErrorKind::NotFound {
                    left.push(format!("{}: {e}", parent.display()));
                }
            }
        }
        left
    }
}

impl Drop for CgroupHost {
    fn drop(&mut self) {
        self.remove_parents();
    }
}

/// A service name as a cgroup directory name (no `/`, no leading dot).
fn dir_name(service: &str) -> String {
    let s: String = service
        .chars()
        .map(|c| if c == '/' || c.is_control() { '_' } else { c })
        .collect();
    match s.strip_prefix('.') {
        Some(rest) => format!("_{rest}"),
        None => s,
    }
}

/// The cgroup-enforced limits of one service.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CgroupSettings {
    pub memory: Option<u64>,
    pub cpu: Option<f64>,
    pub pids: Option<u64>,
}

impl CgroupSettings {
    fn controllers(&self) -> Vec<Controller> {
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

fn write(dir: &Path, file: &str, value: &str) -> Result<(), String> {
    let path = dir.join(file);
    std::fs::write(&path, value)
        .map_err(|e| format!("cannot write {value:?} to {}: {e}", path.display()))
}

impl ServiceCgroup {
    fn apply(&self, s: &CgroupSettings) -> Result<(), String> {
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
                        write(dir, "memory.limit_in_bytes", &b.to_string())?;
                        // memsw (memory + swap) must be >= the limit; set it
                        // equal so the limit cannot be dodged by swapping.
                        if dir.join("memory.memsw.limit_in_bytes").exists() {
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
    pub fn remove(&self) -> Result<(), String> {
        let mut errors = Vec::new();
        for d in self.distinct_dirs() {
            match std::fs::remove_dir(d) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => errors.push(format!("{}: {e}", d.display())),
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(format!("cannot remove cgroup {}", errors.join(", ")))
        }
    }
}

/// `key N` from a flat keyed file (memory.events, memory.oom_control).
fn keyed_value(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|l| {
        let (k, v) = l.split_once(' ')?;
        (k == key).then(|| v.trim().parse().ok()).flatten()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let host = CgroupHost::from_texts(&mountinfo, "0::/svc.slice\n", 77);
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
        let host = CgroupHost::from_texts(&mountinfo, HYBRID_CGROUP, 5);
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
        let host = CgroupHost::from_texts("", "", 1);
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
}
