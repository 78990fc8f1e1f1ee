//! System calls for the child between `clone(CLONE_VM | CLONE_VFORK)` and
//! `execve`, where the child shares oneinit's memory and threads' state.
//!
//! Not the libc wrappers:
//! - musl's `setuid`, `setgid` and `setgroups` run through `__synccall`,
//!   which signals every thread of the calling process so each one switches
//!   identity too. In the vfork child that "process" is oneinit's thread
//!   list, so oneinit's own threads would be interrupted and switched.
//! - glibc's set*id wrappers broadcast the same way (`SIGSETXID`).
//! - every libc wrapper stores its error in `errno`, a thread-local of the
//!   parent thread the child borrowed its thread pointer from.
//!
//! So each call here is the `syscall`/`svc` instruction itself: it touches
//! nothing but registers and the memory its arguments point to, and returns
//! the kernel's `-errno` as `Err(errno)`.

use std::os::fd::RawFd;

/// A raw syscall result: the return value, or the positive errno.
pub(super) type SysResult = Result<usize, i32>;

fn decode(ret: isize) -> SysResult {
    // The kernel returns -4095..=-1 for errors.
    if (-4095..0).contains(&ret) {
        Err(-ret as i32)
    } else {
        Ok(ret as usize)
    }
}

/// `syscall(n, a[0], .., a[4])` with no libc involvement (unused trailing
/// arguments are 0, which calls such as `prctl` require).
///
/// # Safety
/// The arguments must be valid for syscall `n` (pointers to live memory of
/// the right layout); the call may have any effect the kernel gives `n`.
#[cfg(target_arch = "x86_64")]
pub(super) unsafe fn syscall(n: libc::c_long, a: [usize; 5]) -> SysResult {
    let ret: isize;
    // SAFETY: the x86_64 Linux syscall convention: number in rax, arguments
    // in rdi, rsi, rdx, r10, r8; the kernel clobbers rcx and r11. Memory the
    // arguments point to may be read or written (no `nomem`/`readonly`).
    unsafe {
        core::arch::asm!(
            "syscall",
            inlateout("rax") n as isize => ret,
            in("rdi") a[0],
            in("rsi") a[1],
            in("rdx") a[2],
            in("r10") a[3],
            in("r8") a[4],
            lateout("rcx") _,
            lateout("r11") _,
            options(nostack),
        );
    }
    decode(ret)
}

/// `syscall(n, a[0], .., a[4])` with no libc involvement.
///
/// # Safety
/// As for the x86_64 version.
#[cfg(target_arch = "aarch64")]
pub(super) unsafe fn syscall(n: libc::c_long, a: [usize; 5]) -> SysResult {
    let ret: isize;
    // SAFETY: the arm64 Linux syscall convention: number in x8, arguments in
    // x0..x4, result in x0. Memory the arguments point to may be read or
    // written (no `nomem`/`readonly`).
    unsafe {
        core::arch::asm!(
            "svc 0",
            in("x8") n as usize,
            inlateout("x0") a[0] => ret,
            in("x1") a[1],
            in("x2") a[2],
            in("x3") a[3],
            in("x4") a[4],
            options(nostack),
        );
    }
    decode(ret)
}

/// Other 64-bit architectures: libc's `syscall()`, which writes `errno` of
/// the borrowed thread on failure (the parent thread is suspended by
/// CLONE_VFORK and does not read it). Only x86_64 and aarch64 are built and
/// tested (scripts/build-static.sh).
///
/// # Safety
/// As for the x86_64 version.
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
pub(super) unsafe fn syscall(n: libc::c_long, a: [usize; 5]) -> SysResult {
    // SAFETY: the caller passes valid arguments for syscall `n`.
    let ret = unsafe { libc::syscall(n, a[0], a[1], a[2], a[3], a[4]) };
    if ret < 0 {
        Err(nix::errno::Errno::last_raw())
    } else {
        Ok(ret as usize)
    }
}

/// Shorthand: `sys(n, [a, b])` pads the arguments with zeros.
unsafe fn sys<const N: usize>(n: libc::c_long, args: [usize; N]) -> SysResult {
    let mut a = [0usize; 5];
    a[..N].copy_from_slice(&args);
    // SAFETY: forwarded from the caller.
    unsafe { syscall(n, a) }
}

// The calls the child makes, by name. All `unsafe`: they act on fd numbers,
// ids and memory of a child that shares oneinit's address space, so they
// may only be used by the vfork child on the buffers prepared for it
// (module child). Each returns `Err(errno)` on failure. Each body is one
// syscall, the whole of its unsafe part (edition 2021: an unsafe fn's
// body is an unsafe context).

/// Sets `sig` to SIG_DFL (rt_sigaction with the kernel's struct layout).
pub(super) unsafe fn default_action(sig: usize) -> SysResult {
    let dfl = KernelSigaction {
        handler: libc::SIG_DFL,
        flags: 0,
        restorer: 0,
        mask: 0,
    };
    sys(
        libc::SYS_rt_sigaction,
        [sig, &dfl as *const _ as usize, 0, 8],
    )
}

/// The kernel's `struct sigaction` for rt_sigaction(2) (not libc's).
#[repr(C)]
struct KernelSigaction {
    handler: libc::sighandler_t,
    flags: libc::c_ulong,
    restorer: usize,
    mask: u64,
}

/// Unblocks every signal.
pub(super) unsafe fn unblock_all() -> SysResult {
    let empty: u64 = 0;
    sys(
        libc::SYS_rt_sigprocmask,
        [
            libc::SIG_SETMASK as usize,
            &empty as *const u64 as usize,
            0,
            8,
        ],
    )
}

pub(super) unsafe fn setsid() -> SysResult {
    sys(libc::SYS_setsid, [])
}

pub(super) unsafe fn getpid() -> SysResult {
    sys(libc::SYS_getpid, [])
}

/// A close-on-exec copy of `fd` numbered `min` or above.
pub(super) unsafe fn dup_above(fd: RawFd, min: RawFd) -> SysResult {
    sys(
        libc::SYS_fcntl,
        [fd as usize, libc::F_DUPFD_CLOEXEC as usize, min as usize],
    )
}

/// `newfd` becomes a copy of `fd`, without close-on-exec (`fd != newfd`).
pub(super) unsafe fn dup_to(fd: RawFd, newfd: RawFd) -> SysResult {
    sys(libc::SYS_dup3, [fd as usize, newfd as usize, 0])
}

/// `path` must be NUL-terminated.
pub(super) unsafe fn open(path: *const libc::c_char, flags: libc::c_int) -> SysResult {
    sys(
        libc::SYS_openat,
        [libc::AT_FDCWD as usize, path as usize, flags as usize, 0],
    )
}

pub(super) unsafe fn close(fd: RawFd) -> SysResult {
    sys(libc::SYS_close, [fd as usize])
}

pub(super) unsafe fn close_range(first: libc::c_uint, last: libc::c_uint) -> SysResult {
    sys(libc::SYS_close_range, [first as usize, last as usize, 0])
}

pub(super) unsafe fn write(fd: RawFd, buf: &[u8]) -> SysResult {
    sys(
        libc::SYS_write,
        [fd as usize, buf.as_ptr() as usize, buf.len()],
    )
}

pub(super) unsafe fn umask(mask: u32) -> SysResult {
    sys(libc::SYS_umask, [mask as usize])
}

/// `dir` must be NUL-terminated.
pub(super) unsafe fn chdir(dir: *const libc::c_char) -> SysResult {
    sys(libc::SYS_chdir, [dir as usize])
}

/// `struct rlimit64` of prlimit64(2).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Rlimit64 {
    pub cur: u64,
    pub max: u64,
}

/// Sets a limit of this process (prlimit64 on pid 0).
pub(super) unsafe fn set_rlimit(resource: i32, lim: &Rlimit64) -> SysResult {
    sys(
        libc::SYS_prlimit64,
        [0, resource as usize, lim as *const Rlimit64 as usize, 0],
    )
}

/// Reads a limit of this process.
pub(super) unsafe fn get_rlimit(resource: i32, out: &mut Rlimit64) -> SysResult {
    sys(
        libc::SYS_prlimit64,
        [0, resource as usize, 0, out as *mut Rlimit64 as usize],
    )
}

/// getuid, getgid, geteuid or getegid (`n`).
pub(super) unsafe fn get_id(n: libc::c_long) -> u32 {
    sys(n, []).map_or(u32::MAX, |id| id as u32)
}

/// setresuid or setresgid (`n`): real, effective and saved id all `id`.
pub(super) unsafe fn set_ids(n: libc::c_long, id: u32) -> SysResult {
    let id = id as usize;
    sys(n, [id, id, id])
}

pub(super) unsafe fn setgroups(groups: &[libc::gid_t]) -> SysResult {
    sys(
        libc::SYS_setgroups,
        [groups.len(), groups.as_ptr() as usize],
    )
}

pub(super) unsafe fn set_no_new_privs() -> SysResult {
    sys(
        libc::SYS_prctl,
        [libc::PR_SET_NO_NEW_PRIVS as usize, 1, 0, 0, 0],
    )
}

/// Returns only on failure. `program` NUL-terminated, `argv` and `envp`
/// NULL-terminated arrays of NUL-terminated strings.
pub(super) unsafe fn execve(
    program: *const libc::c_char,
    argv: *const *const libc::c_char,
    envp: *const *const libc::c_char,
) -> SysResult {
    sys(
        libc::SYS_execve,
        [program as usize, argv as usize, envp as usize],
    )
}

/// Ends the child at once (`exit_group`: the child is its own thread group,
/// so this ends only the child). Never returns.
pub(super) fn exit(code: i32) -> ! {
    loop {
        // SAFETY: exit_group takes an int and does not return.
        let _ = unsafe { syscall(libc::SYS_exit_group, [code as usize, 0, 0, 0, 0]) };
    }
}
