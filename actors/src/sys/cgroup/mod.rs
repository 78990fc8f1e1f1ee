//! cgroups: detects at start which controllers (memory, cpu, pids) the host
//! lets oneinit use — cgroup v2 where the controller is enabled in the
//! `cgroup.subtree_control` of oneinit's own cgroup, else the cgroup v1
//! hierarchy of that controller (hybrid hosts) — and manages one cgroup per
//! service under a oneinit-owned parent
//! (`<own cgroup>/oneinit-<pid>-<random>/<service>`).
//! The child moves itself in before exec (`SpawnSpec::cgroup_procs`), so no
//! early fork escapes. Also reads usage and the OOM-kill counter.
//!
//! Owned by the ServiceManager (one `CgroupHost`), used by the service
//! actors through `service::limits`. Paths are parameters, so unit tests
//! run against a fake hierarchy in a temp dir.

mod parse;
mod service;
#[cfg(test)]
mod tests;

pub use service::{CgroupSettings, ServiceCgroup};

/// Why a service's cgroup could not be set up or removed. The caller falls
/// back to rlimits (setup) or retries later (removal).
#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    #[error("no usable {controller} cgroup controller")]
    NoController { controller: &'static str },
    #[error("cannot create cgroup {}: {source}", dir.display())]
    Create { dir: PathBuf, source: io::Error },
    #[error("cannot enable {controller} in {}: {source}", file.display())]
    Enable {
        controller: &'static str,
        file: PathBuf,
        source: io::Error,
    },
    #[error("cannot write {value:?} to {}: {source}", path.display())]
    Write {
        value: String,
        path: PathBuf,
        source: io::Error,
    },
    /// Every directory that could not be removed (EBUSY while a process is
    /// still in it).
    #[error("cannot remove cgroup {}", removal_failures(.failures))]
    Remove { failures: Vec<(PathBuf, io::Error)> },
}

fn removal_failures(failures: &[(PathBuf, io::Error)]) -> String {
    failures
        .iter()
        .map(|(dir, e)| format!("{}: {e}", dir.display()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// For callers whose errors are still messages (`service::limits`).
impl From<CgroupError> for String {
    fn from(e: CgroupError) -> String {
        e.to_string()
    }
}

use crate::model::limits::{CgroupVersion, Controller, HostCaps};
use parse::{parse_mountinfo, parse_proc_cgroup};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

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
    /// `oneinit-<pid>-<random>`: unique per oneinit, so two supervisors never
    /// clash — not even two PID 1s of different PID namespaces sharing a
    /// cgroup (their pids are equal, the random part is not).
    parent_name: String,
    /// Parents created so far (removed at exit).
    created: Mutex<Vec<PathBuf>>,
}

fn join_cgroup(mount: &Path, path: &str) -> PathBuf {
    mount.join(path.trim_start_matches('/'))
}

fn writable(dir: &Path) -> bool {
    nix::unistd::access(dir, nix::unistd::AccessFlags::W_OK).is_ok()
}

pub(crate) fn words(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

/// `oneinit-<pid>-<8 hex digits>`; the random part comes from std's
/// per-process random hash keys (seeded by the OS).
fn unique_parent_name() -> String {
    use std::hash::{BuildHasher, Hasher};
    let random = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    format!("oneinit-{}-{:08x}", std::process::id(), random as u32)
}

impl CgroupHost {
    /// Detects this process's cgroups from /proc.
    pub fn detect() -> CgroupHost {
        let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        let own = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
        CgroupHost::from_texts(&mountinfo, &own, unique_parent_name())
    }

    /// A host that offers no cgroup at all (every limit uses its fallback).
    pub fn none() -> CgroupHost {
        CgroupHost::from_texts("", "", unique_parent_name())
    }

    /// Detection from the texts of mountinfo and /proc/self/cgroup.
    fn from_texts(mountinfo: &str, proc_cgroup: &str, parent_name: String) -> CgroupHost {
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
            parent_name,
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
    ) -> Result<ServiceCgroup, CgroupError> {
        let mut dirs: Vec<(Controller, CgroupVersion, PathBuf)> = Vec::new();
        for c in settings.controllers() {
            let Some(h) = self.hierarchy(c) else {
                return Err(CgroupError::NoController {
                    controller: c.as_str(),
                });
            };
            let parent = h.own.join(&self.parent_name);
            self.ensure_parent(&parent, h.version, c)?;
            let dir = parent.join(dir_name(service));
            match std::fs::create_dir(&dir) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                Err(source) => return Err(CgroupError::Create { dir, source }),
            }
            // One v2 directory serves every v2 controller; `distinct_dirs`
            // folds the repeats.
            dirs.push((c, h.version, dir));
        }
        let cg = ServiceCgroup::new(dirs);
        cg.apply(settings)?;
        Ok(cg)
    }

    fn ensure_parent(
        &self,
        parent: &Path,
        v: CgroupVersion,
        c: Controller,
    ) -> Result<(), CgroupError> {
        let mut created = self.created.lock().unwrap_or_else(|e| e.into_inner());
        // Always tried (cheap): recreates a parent someone else removed.
        match std::fs::create_dir(parent) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(source) => {
                return Err(CgroupError::Create {
                    dir: parent.to_path_buf(),
                    source,
                })
            }
        }
        if !created.iter().any(|p| p == parent) {
            created.push(parent.to_path_buf());
        }
        if v == CgroupVersion::V2 {
            // The parent holds no process, so it may hand the controller on.
            let ctl = parent.join("cgroup.subtree_control");
            if !words(&ctl).iter().any(|w| w == c.as_str()) {
                std::fs::write(&ctl, format!("+{}", c.as_str())).map_err(|source| {
                    CgroupError::Enable {
                        controller: c.as_str(),
                        file: ctl.clone(),
                        source,
                    }
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
