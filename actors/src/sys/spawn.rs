//! fork/exec of service processes. Everything the child needs (argv, envp,
//! paths, ids) is prepared before `fork`, so the child only makes
//! async-signal-safe calls: reset signals, new session, stdio, inherited
//! sockets (LISTEN_FDS), fd cleanup, umask, cwd, rlimits, identity, exec.
//! A CLOEXEC pipe reports an exec failure (errno) back to the parent, the way
//! std and tini do, so "command not found" is a failed start with a reason.
//!
//! Nothing here waits for children: the single reaper (`sys::reap`) does.

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::unistd::Pid;
use std::ffi::{CString, OsStr};
use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

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
}

impl SpawnError {
    fn new(message: impl Into<String>, exit_code: i32) -> Self {
        SpawnError {
            message: message.into(),
            exit_code,
        }
    }
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
    /// Index into envp of `LISTEN_PID=`, rewritten in the child.
    listen_pid_slot: Option<usize>,
    workdir: Option<CString>,
    cgroup_procs: Vec<CString>,
}

fn prepare(spec: &SpawnSpec) -> Result<Prepared, SpawnError> {
    let first = spec
        .argv
        .first()
        .ok_or_else(|| SpawnError::new("the command is empty", 127))?;
    let program = resolve_program(first, &spec.env, spec.workdir.as_deref())?;
    let argv = spec
        .argv
        .iter()
        .map(|a| cstring(a, "an argument"))
        .collect::<Result<Vec<_>, _>>()?;
    let mut envp = Vec::with_capacity(spec.env.len() + 3);
    for (k, v) in &spec.env {
        envp.push(cstring(format!("{k}={v}"), "an environment variable")?);
    }
    let mut listen_pid_slot = None;
    if !spec.listen_fds.is_empty() {
        envp.push(cstring(
            format!("LISTEN_FDS={}", spec.listen_fds.len()),
            "LISTEN_FDS",
        )?);
        envp.push(cstring(
            format!("LISTEN_FDNAMES={}", spec.listen_names.join(":")),
            "LISTEN_FDNAMES",
        )?);
        // Room for any pid; the child writes its own pid here after fork.
        listen_pid_slot = Some(envp.len());
        envp.push(cstring("LISTEN_PID=0000000000", "LISTEN_PID")?);
    }
    Ok(Prepared {
        program: cstring(program.as_os_str(), "the program path")?,
        argv,
        envp,
        listen_pid_slot,
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
    })
}

fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(io::Error::from)
}

/// Starts a child as `spec` says. Returns as soon as the child has exec'd
/// (or failed to).
pub fn spawn(spec: &SpawnSpec) -> Result<Spawned, SpawnError> {
    let prepared = prepare(spec)?;
    let mut argv_ptrs: Vec<*const libc::c_char> =
        prepared.argv.iter().map(|a| a.as_ptr()).collect();
    argv_ptrs.push(std::ptr::null());
    let mut envp_ptrs: Vec<*const libc::c_char> =
        prepared.envp.iter().map(|a| a.as_ptr()).collect();
    envp_ptrs.push(std::ptr::null());
    let listen_pid_ptr: Option<*mut u8> = prepared
        .listen_pid_slot
        .map(|i| prepared.envp[i].as_ptr() as *mut u8);

    let io_err = |what: &str, e: io::Error| SpawnError::new(format!("{what}: {e}"), 126);
    let (out_r, out_w) = if spec.capture {
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

    let child = ChildPlan {
        program: prepared.program.as_ptr(),
        argv: argv_ptrs.as_ptr(),
        envp: envp_ptrs.as_ptr(),
        listen_pid: listen_pid_ptr,
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
        rlimits: spec.rlimits.clone(),
        uid: spec.uid,
        gid: spec.gid,
        groups: spec.groups.iter().map(|&g| g as libc::gid_t).collect(),
        no_new_privs: spec.no_new_privs,
        status_fd: status_w.as_raw_fd(),
    };

    let pid = clone_vfork(&child).map_err(|e| io_err("cannot create a process", e))?;
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
        let stage = i32::from_ne_bytes([buf[0], buf[1], buf[2], buf[3]]);
        let errno = Errno::from_raw(i32::from_ne_bytes([buf[4], buf[5], buf[6], buf[7]]));
        // The child _exit()ed right after writing; the reaper collects it.
        let what = STAGES.get(stage as usize).copied().unwrap_or("exec");
        let code = match (stage as usize, errno) {
            (s, Errno::ENOENT) if s == STAGE_EXEC => 127,
            _ => 126,
        };
        return Err(SpawnError {
            message: format!("{what} failed: {}", errno.desc()),
            exit_code: code,
        });
    }
    Ok(Spawned {
        pid: Pid::from_raw(pid),
        stdin: in_w,
        stdout: out_r,
        stderr: err_r,
    })
}

const STAGES: [&str; 12] = [
    "resetting signals",
    "setsid",
    "redirecting stdio",
    "passing sockets",
    "setting the umask",
    "changing to workdir",
    "setting a resource limit",
    "entering the cgroup",
    "setting groups",
    "setting the group id",
    "setting the user id",
    "exec",
];
const STAGE_EXEC: usize = 11;

struct ChildPlan {
    program: *const libc::c_char,
    argv: *const *const libc::c_char,
    envp: *const *const libc::c_char,
    listen_pid: Option<*mut u8>,
    workdir: Option<*const libc::c_char>,
    cgroup_procs: Vec<*const libc::c_char>,
    stdin: Option<RawFd>,
    stdout: Option<RawFd>,
    stderr: Option<RawFd>,
    listen_fds: Vec<RawFd>,
    umask: Option<u32>,
    rlimits: Vec<(i32, u64)>,
    uid: Option<u32>,
    gid: Option<u32>,
    groups: Vec<libc::gid_t>,
    no_new_privs: bool,
    status_fd: RawFd,
}

/// Bytes of stack for the child until it execs (it only makes syscalls).
const CHILD_STACK: usize = 64 * 1024;

thread_local! {
    /// One reusable child stack per spawning thread: with CLONE_VFORK the
    /// parent thread is suspended until the child has exec'd or exited, so
    /// the stack is never used by two children at once.
    static STACK: std::cell::RefCell<Vec<u8>> = std::cell::RefCell::new(vec![0u8; CHILD_STACK]);
}

extern "C" fn child_entry(arg: *mut libc::c_void) -> libc::c_int {
    // SAFETY: `arg` is the `&ChildPlan` passed to clone below, alive in the
    // suspended parent's frame until this child execs or exits.
    let plan = unsafe { &*(arg as *const ChildPlan) };
    child_main(plan)
}

/// Starts the child with `clone(CLONE_VM | CLONE_VFORK)`: no copy of
/// oneinit's page tables (a plain fork costs time proportional to
/// oneinit's memory), and the calling thread resumes once the child has
/// exec'd or failed. Every signal is blocked around the clone so no
/// handler of oneinit's ever runs on the child's stack; the child resets
/// dispositions and unblocks before exec.
fn clone_vfork(plan: &ChildPlan) -> io::Result<libc::pid_t> {
    STACK.with(|stack| {
        let mut stack = stack.borrow_mut();
        // SAFETY: sigfillset/pthread_sigmask on local sets; clone(2) with a
        // dedicated, 16-byte aligned stack top; the child runs `child_entry`,
        // which only makes async-signal-safe syscalls on memory prepared
        // before the call and ends in execve or _exit. CLONE_VFORK keeps
        // this thread (and so `plan` and the stack) suspended meanwhile.
        unsafe {
            let mut all: libc::sigset_t = std::mem::zeroed();
            let mut old: libc::sigset_t = std::mem::zeroed();
            libc::sigfillset(&mut all);
            libc::pthread_sigmask(libc::SIG_SETMASK, &all, &mut old);
            let top = stack.as_mut_ptr().add(stack.len());
            let top = (top as usize & !0xf) as *mut libc::c_void;
            let pid = libc::clone(
                child_entry,
                top,
                libc::CLONE_VM | libc::CLONE_VFORK | libc::SIGCHLD,
                plan as *const ChildPlan as *mut libc::c_void,
            );
            let err = io::Error::last_os_error();
            libc::pthread_sigmask(libc::SIG_SETMASK, &old, std::ptr::null_mut());
            if pid < 0 {
                Err(err)
            } else {
                Ok(pid)
            }
        }
    })
}

/// Reports (stage, errno) to the parent and exits. Async-signal-safe.
fn child_fail(status_fd: RawFd, stage: usize) -> ! {
    let errno = Errno::last_raw();
    let mut buf = [0u8; 8];
    buf[..4].copy_from_slice(&(stage as i32).to_ne_bytes());
    buf[4..].copy_from_slice(&errno.to_ne_bytes());
    // SAFETY: write(2) and _exit(2) are async-signal-safe; buf is on the stack.
    unsafe {
        libc::write(status_fd, buf.as_ptr().cast(), buf.len());
        libc::_exit(if stage == STAGE_EXEC && errno == libc::ENOENT {
            127
        } else {
            126
        });
    }
}

/// Moves `fd` to a number >= `min` so later dup2 calls cannot clobber it.
fn lift_fd(fd: RawFd, min: RawFd) -> RawFd {
    // SAFETY: fcntl(F_DUPFD_CLOEXEC) is async-signal-safe.
    unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, min) }
}

/// Runs in the forked child; never returns.
fn child_main(p: &ChildPlan) -> ! {
    // SAFETY (whole function): only async-signal-safe libc calls on memory
    // prepared before fork; every failure ends in child_fail (_exit).
    unsafe {
        // 1. Default dispositions and an empty mask (handlers are already reset
        //    by exec, but ignored signals and the mask are inherited).
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        // The raw syscall: glibc's wrappers refuse signals 32 and 33, which
        // may still be ignored from oneinit's own parent.
        let dfl = KernelSigaction {
            handler: libc::SIG_DFL,
            flags: 0,
            restorer: 0,
            mask: 0,
        };
        for sig in 1..=64 {
            if sig != libc::SIGKILL && sig != libc::SIGSTOP {
                libc::syscall(
                    libc::SYS_rt_sigaction,
                    sig,
                    &dfl as *const KernelSigaction,
                    std::ptr::null_mut::<KernelSigaction>(),
                    8usize,
                );
            }
        }
        if libc::pthread_sigmask(libc::SIG_SETMASK, &set, std::ptr::null_mut()) != 0 {
            child_fail(p.status_fd, 0);
        }
        // 2. Own session and process group.
        if libc::setsid() < 0 {
            child_fail(p.status_fd, 1);
        }
        // 3. Lift every fd we still need above the range we are about to fill.
        let nlisten = p.listen_fds.len() as RawFd;
        let floor = 3 + nlisten + 8;
        let status_fd = lift_fd(p.status_fd, floor);
        if status_fd < 0 {
            child_fail(p.status_fd, 2);
        }
        let lift = |fd: Option<RawFd>| -> Option<RawFd> { fd.map(|f| lift_fd(f, floor)) };
        let stdin = lift(p.stdin);
        let stdout = lift(p.stdout);
        let stderr = lift(p.stderr);
        let mut listen = [0 as RawFd; 64];
        for (i, &fd) in p.listen_fds.iter().enumerate().take(64) {
            listen[i] = lift_fd(fd, floor);
            if listen[i] < 0 {
                child_fail(status_fd, 3);
            }
        }
        // stdio
        if let Some(fd) = stdin {
            if fd < 0 || libc::dup2(fd, 0) < 0 {
                child_fail(status_fd, 2);
            }
        } else {
            let null = libc::open(c"/dev/null".as_ptr(), libc::O_RDONLY);
            if null >= 0 && null != 0 {
                libc::dup2(null, 0);
                libc::close(null);
            }
        }
        if let Some(fd) = stdout {
            if fd < 0 || libc::dup2(fd, 1) < 0 {
                child_fail(status_fd, 2);
            }
        }
        if let Some(fd) = stderr {
            if fd < 0 || libc::dup2(fd, 2) < 0 {
                child_fail(status_fd, 2);
            }
        }
        // 4. Sockets as 3.. (dup2 clears CLOEXEC on the new fd).
        for i in 0..(nlisten as usize).min(64) {
            if libc::dup2(listen[i], 3 + i as RawFd) < 0 {
                child_fail(status_fd, 3);
            }
        }
        // Close everything else except the status pipe (CLOEXEC closes it at exec).
        let first_free = 3 + nlisten as libc::c_uint;
        if (status_fd as libc::c_uint) > first_free {
            close_range(first_free, status_fd as libc::c_uint - 1);
        }
        close_range(status_fd as libc::c_uint + 1, libc::c_uint::MAX);
        // LISTEN_PID is our own pid, written into the prepared slot.
        if let Some(slot) = p.listen_pid {
            write_pid(slot.add("LISTEN_PID=".len()), libc::getpid());
        }
        // 5. umask, cwd, limits, cgroups.
        if let Some(mask) = p.umask {
            libc::umask(mask as libc::mode_t);
        }
        if let Some(dir) = p.workdir {
            if libc::chdir(dir) < 0 {
                child_fail(status_fd, 5);
            }
        }
        for &(resource, value) in &p.rlimits {
            let lim = libc::rlimit {
                rlim_cur: value as libc::rlim_t,
                rlim_max: value as libc::rlim_t,
            };
            if libc::setrlimit(resource as _, &lim) < 0 {
                child_fail(status_fd, 6);
            }
        }
        for &procs in &p.cgroup_procs {
            let fd = libc::open(procs, libc::O_WRONLY | libc::O_CLOEXEC);
            if fd < 0 || libc::write(fd, b"0".as_ptr().cast(), 1) < 0 {
                child_fail(status_fd, 7);
            }
            libc::close(fd);
        }
        // 6. Identity: groups, gid, uid — verified, never left running as root by mistake.
        if let Some(uid) = p.uid {
            let gid = p.gid.unwrap_or(libc::getgid());
            if libc::getuid() == 0 && libc::setgroups(p.groups.len(), p.groups.as_ptr()) < 0 {
                child_fail(status_fd, 8);
            }
            if libc::setgid(gid) < 0 || libc::getgid() != gid {
                child_fail(status_fd, 9);
            }
            if libc::setuid(uid) < 0 || libc::getuid() != uid || libc::geteuid() != uid {
                child_fail(status_fd, 10);
            }
        } else if let Some(gid) = p.gid {
            if libc::setgid(gid) < 0 {
                child_fail(status_fd, 9);
            }
        }
        if p.no_new_privs {
            libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
        }
        // 7. exec.
        libc::execve(p.program, p.argv, p.envp);
        child_fail(status_fd, STAGE_EXEC);
    }
}

/// The kernel's `struct sigaction` for rt_sigaction(2) (not glibc's).
#[repr(C)]
struct KernelSigaction {
    handler: libc::sighandler_t,
    flags: libc::c_ulong,
    restorer: usize,
    mask: u64,
}

/// close_range(2) with a fallback loop for old kernels. Async-signal-safe.
unsafe fn close_range(first: libc::c_uint, last: libc::c_uint) {
    // SAFETY: raw syscalls on fd numbers only.
    let r = libc::syscall(libc::SYS_close_range, first, last, 0);
    if r < 0 {
        let max = libc::sysconf(libc::_SC_OPEN_MAX).clamp(256, 65536) as libc::c_uint;
        let mut fd = first;
        while fd <= last && fd < max {
            libc::close(fd as RawFd);
            fd += 1;
        }
    }
}

/// Writes `pid` as decimal over the 10 placeholder digits at `dst`, then a NUL.
unsafe fn write_pid(dst: *mut u8, pid: libc::pid_t) {
    let mut digits = [0u8; 10];
    let mut n = pid as u32;
    let mut len = 0;
    loop {
        digits[len] = b'0' + (n % 10) as u8;
        len += 1;
        n /= 10;
        if n == 0 || len == 10 {
            break;
        }
    }
    for i in 0..len {
        // SAFETY: the slot holds 10 placeholder digits plus the NUL we write.
        *dst.add(i) = digits[len - 1 - i];
    }
    *dst.add(len) = 0;
}
