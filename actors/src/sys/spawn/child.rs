//! The child side of a spawn: `clone(CLONE_VM | CLONE_VFORK)` and what the
//! child does until `execve`.
//!
//! The child runs on oneinit's memory (CLONE_VM) while the spawning thread
//! waits (CLONE_VFORK); oneinit's other threads keep running. So the child
//! follows three rules:
//! - it reads only the [`ChildPlan`] the parent prepared, and writes only
//!   its own stack and the `LISTEN_PID` buffer lent to it;
//! - it makes only raw system calls ([`super::raw`]): no libc wrapper, no
//!   `errno`, no lock, no allocation, nothing that signals oneinit's threads;
//! - every failure is reported as (stage, errno) on the status pipe, then
//!   the child exits (126, or 127 when the program does not exist).
//!
//! One function per stage, in order: signals, session, fds, LISTEN_PID,
//! umask and workdir, rlimits, cgroups, identity, no_new_privs, exec.

use super::raw::{self, Rlimit64, SysResult};
pub(super) use super::stage::Stage;
use std::io;
use std::os::fd::RawFd;

/// At most this many sockets are passed with LISTEN_FDS (checked by the
/// parent, so the child can keep them in a fixed array on its stack).
pub(super) const MAX_LISTEN_FDS: usize = 64;

/// Everything the child needs, prepared by the parent before the clone.
/// The pointers point into buffers of the spawning call, which outlive the
/// child's use of them (the spawning thread is suspended until exec).
pub(super) struct ChildPlan {
    pub program: *const libc::c_char,
    pub argv: *const *const libc::c_char,
    pub envp: *const *const libc::c_char,
    /// Where the child writes its pid: the digits of envp's `LISTEN_PID=`
    /// entry, a buffer of the spawning call lent to the child alone.
    pub listen_pid: Option<*mut u8>,
    pub workdir: Option<*const libc::c_char>,
    pub cgroup_procs: Vec<*const libc::c_char>,
    pub stdin: Option<RawFd>,
    pub stdout: Option<RawFd>,
    pub stderr: Option<RawFd>,
    /// At most [`MAX_LISTEN_FDS`].
    pub listen_fds: Vec<RawFd>,
    pub umask: Option<u32>,
    pub rlimits: Vec<(i32, Rlimit64)>,
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    pub groups: Vec<libc::gid_t>,
    pub no_new_privs: bool,
    pub status_fd: RawFd,
}

impl ChildPlan {
    /// Every fd the child gets, in the order `with_fds` replaces them.
    pub(super) fn fds(&self) -> Vec<RawFd> {
        let stdio = [self.stdin, self.stdout, self.stderr];
        std::iter::once(self.status_fd)
            .chain(stdio.into_iter().flatten())
            .chain(self.listen_fds.iter().copied())
            .collect()
    }

    /// The same plan with its fds replaced, in `fds()`'s order, by `new`:
    /// the child's fds as another fd table numbers them (a connection that
    /// is both stdin and stdout was sent twice and gets two numbers).
    /// `new` holds exactly as many fds as `fds()`.
    pub(super) fn with_fds(&self, new: &[RawFd]) -> ChildPlan {
        let mut next = new.iter().copied();
        let mut take = || next.next().unwrap_or(-1);
        // Taken in `fds()`'s order.
        let status_fd = take();
        let stdin = self.stdin.map(|_| take());
        let stdout = self.stdout.map(|_| take());
        let stderr = self.stderr.map(|_| take());
        let listen_fds = self.listen_fds.iter().map(|_| take()).collect();
        ChildPlan {
            program: self.program,
            argv: self.argv,
            envp: self.envp,
            listen_pid: self.listen_pid,
            workdir: self.workdir,
            cgroup_procs: self.cgroup_procs.clone(),
            stdin,
            stdout,
            stderr,
            listen_fds,
            umask: self.umask,
            rlimits: self.rlimits.clone(),
            uid: self.uid,
            gid: self.gid,
            groups: self.groups.clone(),
            no_new_privs: self.no_new_privs,
            status_fd,
        }
    }
}

/// Bytes of stack for the child until it execs (it only makes syscalls).
const CHILD_STACK: usize = 64 * 1024;

thread_local! {
    /// One reusable child stack per spawning thread: with CLONE_VFORK the
    /// parent thread is suspended until the child has exec'd or exited, so
    /// the stack is never used by two children at once.
    static STACK: std::cell::RefCell<Vec<u8>> = std::cell::RefCell::new(vec![0u8; CHILD_STACK]);
}

/// Starts the child with `clone(CLONE_VM | CLONE_VFORK)`: no copy of
/// oneinit's page tables (a plain fork costs time proportional to
/// oneinit's memory), and the calling thread resumes once the child has
/// exec'd or failed. Every signal is blocked around the clone so no
/// handler of oneinit's ever runs on the child's stack; the child resets
/// dispositions and unblocks before exec.
pub(super) fn clone_vfork(plan: &ChildPlan) -> io::Result<libc::pid_t> {
    STACK.with(|stack| {
        let mut stack = stack.borrow_mut();
        // SAFETY: sigfillset/pthread_sigmask on local sets; clone(2) with a
        // dedicated, 16-byte aligned stack top; the child runs `child_entry`,
        // which only makes raw syscalls on memory prepared before the call
        // and ends in execve or exit. CLONE_VFORK keeps this thread (and so
        // `plan`, the buffers it points to and the stack) suspended meanwhile.
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

extern "C" fn child_entry(arg: *mut libc::c_void) -> libc::c_int {
    // SAFETY: `arg` is the `&ChildPlan` passed to clone above, alive in the
    // suspended parent's frame until this child execs or exits.
    let plan = unsafe { &*(arg as *const ChildPlan) };
    child_main(plan)
}

/// A failed stage and its errno.
struct Fail(Stage, i32);

/// Tags a syscall result with its stage.
fn at(stage: Stage, r: SysResult) -> Result<usize, Fail> {
    r.map_err(|errno| Fail(stage, errno))
}

/// Runs in the cloned child; never returns.
fn child_main(p: &ChildPlan) -> ! {
    let mut status_fd = p.status_fd;
    let result = (|| -> Result<(), Fail> {
        reset_signals()?;
        new_session()?;
        status_fd = arrange_fds(p)?;
        write_listen_pid(p)?;
        umask_and_workdir(p)?;
        set_rlimits(p)?;
        enter_cgroups(p)?;
        switch_identity(p)?;
        no_new_privs(p)?;
        exec(p)
    })();
    let Err(Fail(stage, errno)) = result else {
        raw::exit(126)
    };
    report_and_exit(status_fd, stage, errno)
}

/// Default dispositions for every signal and an empty mask (exec resets
/// handlers, but ignored signals and the mask would be inherited). The raw
/// syscall also reaches signals 32-34, which libc's wrappers refuse.
fn reset_signals() -> Result<(), Fail> {
    // SAFETY: rt_sigaction and rt_sigprocmask read local structs only and
    // change this child's own signal state.
    unsafe {
        for sig in 1..=64usize {
            if sig != libc::SIGKILL as usize && sig != libc::SIGSTOP as usize {
                at(Stage::Signals, raw::default_action(sig))?;
            }
        }
        at(Stage::Signals, raw::unblock_all()).map(drop)
    }
}

/// Own session and process group, so stop signals reach the whole group.
fn new_session() -> Result<(), Fail> {
    // SAFETY: setsid takes no arguments and affects only this child.
    at(Stage::Session, unsafe { raw::setsid() }).map(drop)
}

/// stdin, stdout, stderr, the sockets as 3.. and nothing else open except
/// the status pipe, which is returned (lifted, still close-on-exec).
fn arrange_fds(p: &ChildPlan) -> Result<RawFd, Fail> {
    let nlisten = p.listen_fds.len().min(MAX_LISTEN_FDS);
    // Every fd still needed is first lifted above the range about to be
    // filled (close-on-exec copies), so no dup onto 0.. can clobber it.
    let floor = (3 + nlisten + 8) as RawFd;
    // SAFETY: fcntl, dup3, openat and close on this child's own fd table
    // (CLONE_VM without CLONE_FILES: a copy of oneinit's), which oneinit
    // never sees; the only memory read is the static "/dev/null".
    unsafe {
        let lift = |fd: RawFd, stage| at(stage, raw::dup_above(fd, floor)).map(|n| n as RawFd);
        let status_fd = lift(p.status_fd, Stage::Stdio)?;
        let stdin = p.stdin.map(|fd| lift(fd, Stage::Stdio)).transpose()?;
        let stdout = p.stdout.map(|fd| lift(fd, Stage::Stdio)).transpose()?;
        let stderr = p.stderr.map(|fd| lift(fd, Stage::Stdio)).transpose()?;
        let mut listen = [0 as RawFd; MAX_LISTEN_FDS];
        for (slot, &fd) in listen.iter_mut().zip(&p.listen_fds) {
            *slot = lift(fd, Stage::Sockets)?;
        }
        match stdin {
            Some(fd) => at(Stage::Stdio, raw::dup_to(fd, 0)).map(drop)?,
            // Without /dev/null (a bare chroot) stdin stays oneinit's.
            None => {
                if let Ok(null) = raw::open(c"/dev/null".as_ptr(), libc::O_RDONLY) {
                    if null != 0 {
                        at(Stage::Stdio, raw::dup_to(null as RawFd, 0))?;
                        let _ = raw::close(null as RawFd);
                    }
                }
            }
        }
        for (fd, target) in [(stdout, 1), (stderr, 2)] {
            if let Some(fd) = fd {
                at(Stage::Stdio, raw::dup_to(fd, target))?;
            }
        }
        for (i, &fd) in listen.iter().take(nlisten).enumerate() {
            at(Stage::Sockets, raw::dup_to(fd, 3 + i as RawFd))?;
        }
        // Close everything else except the status pipe (exec closes that one).
        let first_free = 3 + nlisten as libc::c_uint;
        let status = status_fd as libc::c_uint;
        if status > first_free {
            close_fds(first_free, status - 1);
        }
        close_fds(status + 1, libc::c_uint::MAX);
        Ok(status_fd)
    }
}

/// close_range(2), with a loop up to the fd limit for kernels before 5.9.
///
/// # Safety
/// Only in the child: closes fd numbers of its own table.
unsafe fn close_fds(first: libc::c_uint, last: libc::c_uint) {
    if raw::close_range(first, last).is_ok() {
        return;
    }
    let mut lim = Rlimit64 { cur: 0, max: 0 };
    let max = match raw::get_rlimit(libc::RLIMIT_NOFILE as i32, &mut lim) {
        Ok(_) => lim.cur.clamp(256, 1 << 20) as libc::c_uint,
        Err(_) => 1024,
    };
    for fd in first..=last.min(max - 1) {
        let _ = raw::close(fd as RawFd);
    }
}

/// LISTEN_PID is the child's own pid, known only now: written as decimal
/// into the buffer the parent lent for it, NUL-terminated.
fn write_listen_pid(p: &ChildPlan) -> Result<(), Fail> {
    let Some(dst) = p.listen_pid else {
        return Ok(());
    };
    let mut digits = [0u8; LISTEN_PID_DIGITS + 1];
    // SAFETY: getpid touches no memory. `dst` points to LISTEN_PID_DIGITS + 1
    // writable bytes of the buffer lent to this child alone (see
    // ChildPlan::listen_pid); `digits` holds `len` <= LISTEN_PID_DIGITS
    // digits and a NUL after them.
    unsafe {
        let pid = at(Stage::Sockets, raw::getpid())?;
        let len = format_decimal(pid as u64, &mut digits);
        std::ptr::copy_nonoverlapping(digits.as_ptr(), dst, len + 1);
    }
    Ok(())
}

/// Room for any pid (pid_max is at most 2^22).
pub(super) const LISTEN_PID_DIGITS: usize = 10;

/// Writes `n` in decimal followed by a NUL into `out`; returns the digit
/// count. Allocation-free (runs in the child).
pub(super) fn format_decimal(mut n: u64, out: &mut [u8; LISTEN_PID_DIGITS + 1]) -> usize {
    let mut rev = [0u8; LISTEN_PID_DIGITS];
    let mut len = 0;
    loop {
        rev[len] = b'0' + (n % 10) as u8;
        len += 1;
        n /= 10;
        if n == 0 || len == LISTEN_PID_DIGITS {
            break;
        }
    }
    for i in 0..len {
        out[i] = rev[len - 1 - i];
    }
    out[len] = 0;
    len
}

fn umask_and_workdir(p: &ChildPlan) -> Result<(), Fail> {
    // SAFETY: umask takes a mode; chdir reads the NUL-terminated path the
    // parent prepared. Both change only this child.
    unsafe {
        if let Some(mask) = p.umask {
            let _ = raw::umask(mask);
        }
        if let Some(dir) = p.workdir {
            at(Stage::Workdir, raw::chdir(dir))?;
        }
    }
    Ok(())
}

/// The service's limits, and RLIMIT_NOFILE back at the soft limit oneinit
/// was started with (oneinit raised its own), unless the service sets it.
fn set_rlimits(p: &ChildPlan) -> Result<(), Fail> {
    // SAFETY: prlimit64 on this child (pid 0) reads the limits the parent
    // prepared.
    unsafe {
        for (resource, lim) in &p.rlimits {
            at(Stage::Rlimit, raw::set_rlimit(*resource, lim))?;
        }
    }
    Ok(())
}

/// Writes "0" (this process) into each `cgroup.procs`.
fn enter_cgroups(p: &ChildPlan) -> Result<(), Fail> {
    // SAFETY: openat reads the NUL-terminated paths the parent prepared;
    // write reads one static byte; the fd is this child's own.
    unsafe {
        for &procs in &p.cgroup_procs {
            let fd = at(
                Stage::Cgroup,
                raw::open(procs, libc::O_WRONLY | libc::O_CLOEXEC),
            )?;
            let written = raw::write(fd as RawFd, b"0");
            let _ = raw::close(fd as RawFd);
            at(Stage::Cgroup, written)?;
        }
    }
    Ok(())
}

/// Groups, gid, uid with the set-res-id calls of this process only (no
/// libc broadcast to oneinit's threads), each verified: never left running
/// as root by mistake.
fn switch_identity(p: &ChildPlan) -> Result<(), Fail> {
    use libc::{SYS_getegid, SYS_geteuid, SYS_getgid, SYS_getuid, SYS_setresgid, SYS_setresuid};
    // SAFETY: the get*/set*id calls take ids by value and change only this
    // child; setgroups reads the gids the parent prepared.
    unsafe {
        let Some(uid) = p.uid else {
            if let Some(gid) = p.gid {
                at(Stage::Gid, raw::set_ids(SYS_setresgid, gid))?;
            }
            return Ok(());
        };
        let gid = p.gid.unwrap_or_else(|| raw::get_id(SYS_getgid));
        if raw::get_id(SYS_getuid) == 0 {
            at(Stage::Groups, raw::setgroups(&p.groups))?;
        }
        at(Stage::Gid, raw::set_ids(SYS_setresgid, gid))?;
        if raw::get_id(SYS_getgid) != gid || raw::get_id(SYS_getegid) != gid {
            return Err(Fail(Stage::Gid, libc::EPERM));
        }
        at(Stage::Uid, raw::set_ids(SYS_setresuid, uid))?;
        if raw::get_id(SYS_getuid) != uid || raw::get_id(SYS_geteuid) != uid {
            return Err(Fail(Stage::Uid, libc::EPERM));
        }
    }
    Ok(())
}

fn no_new_privs(p: &ChildPlan) -> Result<(), Fail> {
    if !p.no_new_privs {
        return Ok(());
    }
    // SAFETY: prctl(PR_SET_NO_NEW_PRIVS) with integer arguments, this child only.
    at(Stage::NoNewPrivs, unsafe { raw::set_no_new_privs() }).map(drop)
}

/// execve returns only on failure.
fn exec(p: &ChildPlan) -> Result<(), Fail> {
    // SAFETY: program, argv and envp are the NUL-terminated strings and
    // NULL-terminated arrays the parent prepared.
    let r = unsafe { raw::execve(p.program, p.argv, p.envp) };
    Err(Fail(Stage::Exec, r.err().unwrap_or(libc::ENOEXEC)))
}

/// Reports (stage, errno) to the parent and exits: 127 when the program
/// does not exist, else 126 (the shell's convention).
fn report_and_exit(status_fd: RawFd, stage: Stage, errno: i32) -> ! {
    let mut buf = [0u8; 8];
    buf[..4].copy_from_slice(&(stage as i32).to_ne_bytes());
    buf[4..].copy_from_slice(&errno.to_ne_bytes());
    // SAFETY: write reads the local buffer; a failure leaves nothing to do.
    let _ = unsafe { raw::write(status_fd, &buf) };
    raw::exit(if stage == Stage::Exec && errno == libc::ENOENT {
        127
    } else {
        126
    })
}
