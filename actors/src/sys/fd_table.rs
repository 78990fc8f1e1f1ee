//! A thread with its own, nearly empty fd table, and descriptors passed
//! to it from the process's table (SCM_RIGHTS over a unix socket). Why a
//! spawning thread wants one: `sys::spawn::forker`.

use nix::sys::socket::{
    recvmsg, sendmsg, socketpair, AddressFamily, ControlMessage, ControlMessageOwned, MsgFlags,
    SockFlag, SockType,
};
use std::io::{self, IoSlice, IoSliceMut};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// A connected pair of unix sequenced-packet sockets (close-on-exec):
/// each `send` arrives whole, in order, with its descriptors.
pub fn pair() -> io::Result<(OwnedFd, OwnedFd)> {
    socketpair(
        AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::SOCK_CLOEXEC,
    )
    .map_err(io::Error::from)
}

/// Gives the calling thread a table of its own holding only fds 0, 1, 2
/// and `keep` (all other fds of the process stay open for the other
/// threads). close_range(2) with CLOSE_RANGE_UNSHARE copies only the fds
/// below the range, so this costs a few fds, not the whole table. Needs
/// Linux 5.9; on an error the thread still shares the process's table.
///
/// The thread also blocks every signal first: oneinit's signal handlers
/// write to fds of the process's table, so they must never run on a
/// thread whose fd numbers mean something else (a SIGCHLD handled there
/// would be lost, and with it the reaping of the exits it announced).
pub fn make_private(keep: RawFd) -> io::Result<()> {
    let keep = u32::try_from(keep).map_err(|_| io::Error::from_raw_os_error(libc::EBADF))?;
    nix::sys::signal::pthread_sigmask(
        nix::sys::signal::SigmaskHow::SIG_BLOCK,
        Some(&nix::sys::signal::SigSet::all()),
        None,
    )
    .map_err(io::Error::from)?;
    close_range(keep + 1, u32::MAX, libc::CLOSE_RANGE_UNSHARE)?;
    if keep > 3 {
        // In the private copy now: the process's fds between 3 and `keep`.
        close_range(3, keep - 1, 0)?;
    }
    Ok(())
}

fn close_range(first: u32, last: u32, flags: libc::c_uint) -> io::Result<()> {
    // SAFETY: close_range only closes fd numbers of the calling thread's
    // table (after unsharing it, with CLOSE_RANGE_UNSHARE); no memory is
    // passed. Callers only close fds this thread never uses.
    let r = unsafe { libc::syscall(libc::SYS_close_range, first, last, flags) };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Sends `tag` with `fds` on `sock`; waits while the socket is full (its
/// reader never waits on the sender).
pub fn send(sock: &OwnedFd, tag: &[u8], fds: &[RawFd]) -> io::Result<()> {
    let iov = [IoSlice::new(tag)];
    let cmsg = [ControlMessage::ScmRights(fds)];
    let cmsgs: &[ControlMessage] = if fds.is_empty() { &[] } else { &cmsg };
    loop {
        // MSG_NOSIGNAL: a closed peer is EPIPE, never a SIGPIPE.
        match sendmsg::<()>(sock.as_raw_fd(), &iov, cmsgs, MsgFlags::MSG_NOSIGNAL, None) {
            Err(nix::errno::Errno::EINTR) => continue,
            other => return other.map(drop).map_err(io::Error::from),
        }
    }
}

/// Waits for one message: its bytes (into `buf`) and its descriptors (at
/// most `MAX`), close-on-exec, now in this thread's table. `Ok(None)` at
/// EOF (every sender closed).
///
/// Close-on-exec is set after the receive, not with MSG_CMSG_CLOEXEC,
/// which qemu-user refuses (EINVAL): the receiver is a forker, the only
/// thread of its table, so no clone can come in between.
pub fn recv<const MAX: usize>(
    sock: &OwnedFd,
    buf: &mut [u8],
) -> io::Result<Option<(usize, Vec<OwnedFd>)>> {
    let mut iov = [IoSliceMut::new(buf)];
    let mut space = nix::cmsg_space!([RawFd; MAX]);
    let msg = loop {
        match recvmsg::<()>(
            sock.as_raw_fd(),
            &mut iov,
            Some(&mut space),
            MsgFlags::empty(),
        ) {
            Err(nix::errno::Errno::EINTR) => continue,
            other => break other.map_err(io::Error::from)?,
        }
    };
    let mut fds = Vec::new();
    for c in msg.cmsgs().map_err(io::Error::from)? {
        if let ControlMessageOwned::ScmRights(raw) = c {
            // SAFETY: SCM_RIGHTS just installed these fds in our table;
            // nothing else owns them.
            fds.extend(
                raw.into_iter()
                    .map(|fd| unsafe { OwnedFd::from_raw_fd(fd) }),
            );
        }
    }
    for fd in &fds {
        let cloexec = nix::fcntl::FdFlag::FD_CLOEXEC;
        nix::fcntl::fcntl(fd.as_raw_fd(), nix::fcntl::F_SETFD(cloexec)).map_err(io::Error::from)?;
    }
    if msg.bytes == 0 && fds.is_empty() {
        return Ok(None);
    }
    Ok(Some((msg.bytes, fds)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    fn open_fds() -> usize {
        std::fs::read_dir("/proc/thread-self/fd")
            .expect("fd dir")
            .count()
    }

    #[test]
    fn a_private_table_keeps_only_stdio_and_the_kept_fd_and_passes_pipes_back() {
        let (here, there) = pair().expect("pair");
        // Fds the process holds that the private thread must not see.
        let held: Vec<OwnedFd> = (0..50)
            .map(|_| std::fs::File::open("/dev/null").expect("open").into())
            .collect();
        let there_raw = there.as_raw_fd();
        let t = std::thread::spawn(move || {
            make_private(there_raw).expect("private table");
            // 0, 1, 2, `there`, and read_dir's own fd.
            let seen = open_fds();
            let (r, w) = nix::unistd::pipe().expect("pipe");
            let mut w = std::fs::File::from(w);
            w.write_all(b"through").expect("write");
            send(&there, b"tag", &[r.as_raw_fd()]).expect("send");
            seen
        });
        let seen = t.join().expect("thread");
        // `there` now lives in the thread's table; the process's table
        // still holds its number, owned by nobody here.
        nix::unistd::close(there_raw).expect("close the process's copy");
        assert!(seen <= 5, "the private table held {seen} fds");
        // The process's table is untouched.
        assert!(held
            .iter()
            .all(|f| nix::fcntl::fcntl(f.as_raw_fd(), nix::fcntl::F_GETFD).is_ok()));
        let mut buf = [0u8; 8];
        let (n, fds) = recv::<1>(&here, &mut buf)
            .expect("recv")
            .expect("a message");
        assert_eq!(&buf[..n], b"tag");
        assert_eq!(fds.len(), 1);
        let mut text = String::new();
        std::fs::File::from(fds.into_iter().next().expect("fd"))
            .read_to_string(&mut text)
            .expect("read");
        // The write end went with the thread's table.
        assert_eq!(text, "through");
        // Every sender is gone: EOF.
        assert!(recv::<1>(&here, &mut buf).expect("recv").is_none());
    }
}
