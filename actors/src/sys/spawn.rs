//! Starting service processes. Everything the child needs (argv, envp,
//! paths, ids, limits) is prepared here, in the parent, before the clone;
//! the child ([`child`]) then only makes raw system calls: reset signals,
//! new session, stdio, inherited sockets (LISTEN_FDS), fd cleanup, umask,
//! cwd, rlimits, cgroups, identity, exec. A CLOEXEC pipe reports a failure
//! before exec (stage and errno) back to the parent, the way std and tini
//! do, so "command not found" is a failed start with a reason.
//!
//! RLIMIT_NOFILE: oneinit raises its own soft limit to the hard limit at
//! start ([`raise_nofile_limit`]), and every child gets back the soft limit
//! oneinit was started with, unless its service sets `limits.nofile`.
//!
//! Nothing here waits for children: the single reaper (`sys::reap`) does.

mod child;
pub mod forker;
mod raw;
mod stage;
#[cfg(test)]
pub(crate) mod tests;

use child::{ChildPlan, Stage, LISTEN_PID_DIGITS, MAX_LISTEN_FDS};
use raw::Rlimit64;

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::unistd::Pid;
use std::ffi::{CString, OsStr};
use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// What to run and how. Built by the service actor from the config.
#[derive(Debug, Default)]
pub struct SpawnSpec {
    pub argv: Vec<String>,
    /// The complete environment of the child.
    pub env: Vec<(String, String)>,
    pub workdir: Option<PathBuf>,
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    /// Supplementary groups (set only when switching identity).
    pub groups: Vec<u32>,
    pub umask: Option<u32>,
    /// Pipe stdout/stderr back to oneinit (else inherit oneinit's).
    pub capture: bool,
    /// Inetd-style: this fd becomes stdin and stdout.
    pub connection: Option<OwnedFd>,
    /// Give the child a pipe as stdin; its write end is `Spawned::stdin`
    /// (a command notifier reads the event JSON from it).
    pub stdin_pipe: bool,
    /// Sockets passed with the systemd protocol as fds 3.. (LISTEN_FDS).
    pub listen_fds: Vec<RawFd>,
    pub listen_names: Vec<String>,
    /// (resource, soft=hard limit) set before exec.
    pub rlimits: Vec<(i32, u64)>,
    pub no_new_privs: bool,
    /// `cgroup.procs` files the child writes itself into before exec.
    pub cgroup_procs: Vec<PathBuf>,
}

/// A started child.
#[derive(Debug)]
pub struct Spawned {
    pub pid: Pid,
    /// The write end of the stdin pipe (`SpawnSpec::stdin_pipe`).
    pub stdin: Option<OwnedFd>,
    pub stdout: Option<OwnedFd>,
    pub stderr: Option<OwnedFd>,
}

/// Why a spawn failed; `exit_code` is the shell convention (127 not found,
/// 126 not executable) used when the failure counts as an exit.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct SpawnError {
    pub message: String,
    pub exit_code: i32,
    /// The system ran out of descriptors or processes (EMFILE, ENFILE,
    /// EAGAIN from clone): a passing condition, not the service's fault, so
    /// the caller retries without counting a failed run.
    pub out_of_resources: bool,
}

impl SpawnError {
    fn new(message: impl Into<String>, exit_code: i32) -> Self {
        SpawnError {
            message: message.into(),
            exit_code,
            out_of_resources: false,
        }
    }

    fn from_errno(message: String, exit_code: i32, errno: Errno) -> Self {
        SpawnError {
            message,
            exit_code,
            out_of_resources: is_out_of_resources(errno),
        }
    }
}

/// Errors that say the system (or oneinit) is out of descriptors or
/// processes for now, not that the service is broken.
fn is_out_of_resources(errno: Errno) -> bool {
    matches!(errno, Errno::EMFILE | Errno::ENFILE | Errno::EAGAIN)
}

/// Finds `prog` on `PATH` (from the child's environment) the way execvp would.
pub fn resolve_program(
    prog: &str,
    env: &[(String, String)],
    workdir: Option<&Path>,
) -> Result<PathBuf, SpawnError> {
    if prog.contains('/') {
        let p = PathBuf::from(prog);
        let p = match (p.is_relative(), workdir) {
            (true, Some(dir)) => dir.join(p),
            _ => p,
        };
        return Ok(p);
    }
    let path = env
        .iter()
        .find(|(k, _)| k == "PATH")
        .map(|(_, v)| v.as_str())
        .unwrap_or("/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
    for dir in path.split(':').filter(|d| !d.is_empty()) {
        let candidate = Path::new(dir).join(prog);
        if let Ok(meta) = std::fs::metadata(&candidate) {
            if meta.is_file() {
                return Ok(candidate);
            }
        }
    }
    Err(SpawnError::new(
        format!("command not found: {prog} (searched PATH={path})"),
        127,
    ))
}

fn cstring(s: impl AsRef<OsStr>, what: &str) -> Result<CString, SpawnError> {
    CString::new(s.as_ref().as_bytes())
        .map_err(|_| SpawnError::new(format!("{what} contains a NUL byte"), 126))
}

/// Prepared, allocation-free-in-the-child data.
struct Prepared {
    program: CString,
    argv: Vec<CString>,
    envp: Vec<CString>,
    workdir: Option<CString>,
    cgroup_procs: Vec<CString>,
    rlimits: Vec<(i32, Rlimit64)>,
}

fn prepare(spec: &SpawnSpec) -> Result<Prepared, SpawnError> {
    let first = spec
        .argv
        .first()
        .ok_or_else(|| SpawnError::new("the command is empty", 127))?;
    let program = resolve_program(first, &spec.env, spec.workdir.as_deref())?;
    if spec.listen_fds.len() > MAX_LISTEN_FDS {
        return Err(SpawnError::new(
            format!(
                "{} sockets to pass; at most {MAX_LISTEN_FDS} are supported",
                spec.listen_fds.len()
            ),
            126,
        ));
    }
    let argv = spec
        .argv
        .iter()
        .map(|a| cstring(a, "an argument"))
        .collect::<Result<Vec<_>, _>>()?;
    let mut envp = Vec::with_capacity(spec.env.len() + 2);
    for (k, v) in &spec.env {
        envp.push(cstring(format!("{k}={v}"), "an environment variable")?);
    }
    if !spec.listen_fds.is_empty() {
        envp.push(cstring(
            format!("LISTEN_FDS={}", spec.listen_fds.len()),
            "LISTEN_FDS",
        )?);
        envp.push(cstring(
            format!("LISTEN_FDNAMES={}", spec.listen_names.join(":")),
            "LISTEN_FDNAMES",
        )?);
        // LISTEN_PID is added by `spawn`: only the child knows its pid.
    }
    Ok(Prepared {
        program: cstring(program.as_os_str(), "the program path")?,
        argv,
        envp,
        workdir: spec
            .workdir
            .as_ref()
            .map(|w| cstring(w.as_os_str(), "workdir"))
            .transpose()?,
        cgroup_procs: spec
            .cgroup_procs
            .iter()
            .map(|p| cstring(p.as_os_str(), "a cgroup path"))
            .collect::<Result<Vec<_>, _>>()?,
        rlimits: child_rlimits(&spec.rlimits, inherited_nofile()),
    })
}

/// The rlimits the child sets: the service's (soft = hard = value), and
/// RLIMIT_NOFILE back at `nofile` (the limit oneinit was started with) when
/// the service does not set it and oneinit has raised its own.
fn child_rlimits(service: &[(i32, u64)], nofile: Option<Rlimit64>) -> Vec<(i32, Rlimit64)> {
    let mut out: Vec<(i32, Rlimit64)> = service
        .iter()
        .map(|&(r, v)| (r, Rlimit64 { cur: v, max: v }))
        .collect();
    let nofile_resource = libc::RLIMIT_NOFILE as i32;
    if let Some(lim) = nofile {
        if !service.iter().any(|&(r, _)| r == nofile_resource) {
            out.push((nofile_resource, lim));
        }
    }
    out
}

/// RLIMIT_NOFILE as oneinit found it, before `raise_nofile_limit`.
static ORIGINAL_NOFILE: OnceLock<Rlimit64> = OnceLock::new();

/// Raises oneinit's soft RLIMIT_NOFILE to its hard limit (connections,
/// pipes and log files of many services need fds; the default soft limit
/// is often 1024) and remembers the original, which children get back.
/// Called once at start. Returns (original soft, new soft).
pub fn raise_nofile_limit() -> io::Result<(u64, u64)> {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).map_err(io::Error::from)?;
    let _ = ORIGINAL_NOFILE.set(Rlimit64 {
        cur: soft,
        max: hard,
    });
    if soft < hard {
        setrlimit(Resource::RLIMIT_NOFILE, hard, hard).map_err(io::Error::from)?;
    }
    Ok((soft, hard))
}

/// The RLIMIT_NOFILE a child gets back: the original soft limit with the
/// current hard limit, or `None` when oneinit did not change its own.
fn inherited_nofile() -> Option<Rlimit64> {
    let original = ORIGINAL_NOFILE.get()?;
    let (soft, hard) =
        nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE).ok()?;
    (soft != original.cur).then_some(Rlimit64 {
        cur: original.cur.min(hard),
        max: hard,
    })
}

fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(io::Error::from)
}

/// `LISTEN_PID=` and room for the digits and the NUL the child writes.
const LISTEN_PID_PREFIX: &[u8] = b"LISTEN_PID=";
const LISTEN_PID_LEN: usize = LISTEN_PID_PREFIX.len() + LISTEN_PID_DIGITS + 1;

/// Starts a child as `spec` says. Returns as soon as the child has exec'd
/// (or failed to).
pub fn spawn(spec: &SpawnSpec) -> Result<Spawned, SpawnError> {
    let prepared = prepare(spec)?;
    let mut argv_ptrs: Vec<*const libc::c_char> =
        prepared.argv.iter().map(|a| a.as_ptr()).collect();
    argv_ptrs.push(std::ptr::null());
    let mut envp_ptrs: Vec<*const libc::c_char> =
        prepared.envp.iter().map(|a| a.as_ptr()).collect();
    // The one buffer the child writes (its pid): owned by this call, lent to
    // the child alone, and not touched here until the child has exec'd. Both
    // the envp entry and the child's write pointer come from one raw pointer.
    let mut listen_pid_buf = [0u8; LISTEN_PID_LEN];
    listen_pid_buf[..LISTEN_PID_PREFIX.len()].copy_from_slice(LISTEN_PID_PREFIX);
    let listen_pid_ptr: *mut u8 = listen_pid_buf.as_mut_ptr();
    let listen_pid = if spec.listen_fds.is_empty() {
        None
    } else {
        envp_ptrs.push(listen_pid_ptr as *const libc::c_char);
        // SAFETY: the offset stays inside `listen_pid_buf`.
        Some(unsafe { listen_pid_ptr.add(LISTEN_PID_PREFIX.len()) })
    };
    envp_ptrs.push(std::ptr::null());

    let io_err = |what: &str, e: io::Error| {
        let errno = Errno::from_raw(e.raw_os_error().unwrap_or(0));
        SpawnError::from_errno(format!("{what}: {e}"), 126, errno)
    };
    // inetd style: stdout is the connection, only stderr is captured.
    let (out_r, out_w) = if spec.capture && spec.connection.is_none() {
        let (r, w) = pipe().map_err(|e| io_err("cannot create a pipe", e))?;
        (Some(r), Some(w))
    } else {
        (None, None)
    };
    let (err_r, err_w) = if spec.capture {
        let (r, w) = pipe().map_err(|e| io_err("cannot create a pipe", e))?;
        (Some(r), Some(w))
    } else {
        (None, None)
    };
    let (in_r, in_w) = if spec.stdin_pipe {
        let (r, w) = pipe().map_err(|e| io_err("cannot create a pipe", e))?;
        (Some(r), Some(w))
    } else {
        (None, None)
    };
    let (status_r, status_w) = pipe().map_err(|e| io_err("cannot create a pipe", e))?;

    let plan = ChildPlan {
        program: prepared.program.as_ptr(),
        argv: argv_ptrs.as_ptr(),
        envp: envp_ptrs.as_ptr(),
        listen_pid,
        workdir: prepared.workdir.as_ref().map(|w| w.as_ptr()),
        cgroup_procs: prepared.cgroup_procs.iter().map(|c| c.as_ptr()).collect(),
        stdin: in_r
            .as_ref()
            .or(spec.connection.as_ref())
            .map(|c| c.as_raw_fd()),
        stdout: out_w
            .as_ref()
            .map(|w| w.as_raw_fd())
            .or(spec.connection.as_ref().map(|c| c.as_raw_fd())),
        stderr: err_w.as_ref().map(|w| w.as_raw_fd()),
        listen_fds: spec.listen_fds.clone(),
        umask: spec.umask,
        rlimits: prepared.rlimits.clone(),
        uid: spec.uid,
        gid: spec.gid,
        groups: spec.groups.iter().map(|&g| g as libc::gid_t).collect(),
        no_new_privs: spec.no_new_privs,
        status_fd: status_w.as_raw_fd(),
    };

    let pid = forker::clone_vfork(&plan).map_err(|e| io_err("cannot create a process", e))?;
    drop(plan);
    drop(status_w);
    drop(out_w);
    drop(err_w);
    drop(in_r);
    // Read the exec status: EOF = exec succeeded (CLOEXEC closed it).
    let mut buf = [0u8; 8];
    let n = loop {
        match nix::unistd::read(status_r.as_raw_fd(), &mut buf) {
            Err(Errno::EINTR) => continue,
            other => break other.unwrap_or(0),
        }
    };
    if n >= 8 {
        let stage = Stage::from_raw(i32::from_ne_bytes([buf[0], buf[1], buf[2], buf[3]]));
        let errno = Errno::from_raw(i32::from_ne_bytes([buf[4], buf[5], buf[6], buf[7]]));
        // The child exited right after writing; the reaper collects it.
        let code = match (stage, errno) {
            (Stage::Exec, Errno::ENOENT) => 127,
            _ => 126,
        };
        return Err(SpawnError::from_errno(
            format!("{} failed: {}", stage.describe(), errno.desc()),
            code,
            errno,
        ));
    }
    Ok(Spawned {
        pid: Pid::from_raw(pid),
        stdin: in_w,
        stdout: out_r,
        stderr: err_r,
    })
}
