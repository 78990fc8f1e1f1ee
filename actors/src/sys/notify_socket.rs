//! The sd_notify datagram socket (SPEC 3, `readiness.notify`): one unix
//! datagram socket per service in `<runtime dir>/notify/`, bound with
//! SO_PASSCRED so every datagram carries the sender's pid (SCM_CREDENTIALS)
//! and `READY=1` can be matched to the instance that sent it.

use nix::sys::socket::{
    recvmsg, setsockopt, sockopt, ControlMessageOwned, MsgFlags, UnixAddr, UnixCredentials,
};
use std::io::{self, IoSliceMut};
use std::os::fd::AsRawFd;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};

/// Largest datagram read; sd_notify messages are a few short lines.
pub const MAX_DATAGRAM: usize = 4096;

/// The NOTIFY_SOCKET path of `service` under `runtime_dir`.
pub fn socket_path(runtime_dir: &Path, service: &str) -> PathBuf {
    runtime_dir.join("notify").join(format!("{service}.sock"))
}

/// Binds a fresh socket at `path` (a stale file is removed first), with
/// SO_PASSCRED on and non-blocking. `world_writable` lets a service that
/// runs as another user send to it.
pub fn bind(path: &Path, world_writable: bool) -> io::Result<UnixDatagram> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
        if world_writable {
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755))?;
        }
    }
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    let sock = UnixDatagram::bind(path)?;
    setsockopt(&sock, sockopt::PassCred, &true).map_err(io::Error::from)?;
    sock.set_nonblocking(true)?;
    if world_writable {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o666))?;
    }
    Ok(sock)
}

/// Reads one datagram without blocking: its bytes and the sender's pid when
/// the kernel passed credentials. `WouldBlock` when nothing is queued.
pub fn recv(sock: &impl AsRawFd, buf: &mut [u8]) -> io::Result<(usize, Option<i32>)> {
    let mut iov = [IoSliceMut::new(buf)];
    let mut cmsg = nix::cmsg_space!(UnixCredentials);
    let msg = recvmsg::<UnixAddr>(
        sock.as_raw_fd(),
        &mut iov,
        Some(&mut cmsg),
        MsgFlags::MSG_DONTWAIT | MsgFlags::MSG_CMSG_CLOEXEC,
    )
    .map_err(io::Error::from)?;
    let mut pid = None;
    if let Ok(cmsgs) = msg.cmsgs() {
        for c in cmsgs {
            if let ControlMessageOwned::ScmCredentials(cred) = c {
                pid = Some(cred.pid());
            }
        }
    }
    Ok((msg.bytes, pid))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datagram_carries_the_sender_pid() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = socket_path(dir.path(), "web");
        let sock = bind(&path, false).expect("bind");
        let client = UnixDatagram::unbound().expect("client");
        client.send_to(b"READY=1\nSTATUS=up", &path).expect("send");
        let mut buf = [0u8; MAX_DATAGRAM];
        let (n, pid) = recv(&sock, &mut buf).expect("recv");
        assert_eq!(&buf[..n], b"READY=1\nSTATUS=up");
        assert_eq!(pid, Some(std::process::id() as i32));
        let again = recv(&sock, &mut buf);
        assert_eq!(
            again.map_err(|e| e.kind()).err(),
            Some(io::ErrorKind::WouldBlock)
        );
    }
}
