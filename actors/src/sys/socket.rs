//! Listening sockets for socket activation (SPEC 3): binds every
//! `socket.listen` address of every service at start, before any service
//! runs (TCP over IPv4 or IPv6, unix paths with `socket.mode`, stale socket
//! files replaced), and the two syscalls the ServiceActor needs while
//! watching them: "is a connection waiting?" (without accepting it, so the
//! activated service gets it) and a non-blocking accept for inetd-style
//! per-demand services.

use crate::model::activation::{parse_listen, parse_mode, ListenAddr};
use nix::errno::Errno;
use nix::sys::socket::{
    self, setsockopt, sockopt, AddressFamily, Backlog, SockFlag, SockType, SockaddrIn, SockaddrIn6,
    UnixAddr,
};
use std::collections::BTreeMap;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// A bound, listening socket and the address it was configured as.
#[derive(Debug)]
pub struct ListenSocket {
    /// The `socket.listen` entry, as written.
    pub addr: String,
    pub fd: OwnedFd,
}

impl ListenSocket {
    pub fn raw(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

/// Why a listen address could not be bound. The caller adds the service
/// and the address.
#[derive(Debug, thiserror::Error)]
pub enum BindError {
    /// A socket call failed; `what` says which and on what.
    #[error("{what}: {}", errno.desc())]
    Syscall { what: String, errno: Errno },
    #[error("cannot create {}: {source}", dir.display())]
    CreateDir {
        dir: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot set mode {mode:o} on {}: {source}", path.display())]
    SetMode {
        mode: u32,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot remove the stale socket {}: {source}", path.display())]
    RemoveStale {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{} exists and is not a socket; remove it or choose another path", path.display())]
    NotASocket { path: PathBuf },
}

/// Binds one address. The socket is CLOEXEC (it reaches a child only via
/// the explicit LISTEN_FDS hand-over) and blocking, as systemd passes them.
pub fn bind(addr: &ListenAddr, mode: u32) -> Result<OwnedFd, BindError> {
    let sys = |what: &str, errno: Errno| BindError::Syscall {
        what: what.to_string(),
        errno,
    };
    match addr {
        ListenAddr::Tcp(sa) => {
            let family = if sa.is_ipv4() {
                AddressFamily::Inet
            } else {
                AddressFamily::Inet6
            };
            let fd = socket::socket(family, SockType::Stream, SockFlag::SOCK_CLOEXEC, None)
                .map_err(|e| sys("cannot create a socket", e))?;
            setsockopt(&fd, sockopt::ReuseAddr, &true)
                .map_err(|e| sys("cannot set SO_REUSEADDR", e))?;
            let bound = match sa {
                std::net::SocketAddr::V4(v4) => {
                    socket::bind(fd.as_raw_fd(), &SockaddrIn::from(*v4))
                }
                std::net::SocketAddr::V6(v6) => {
                    // [::] then means IPv6 only, so 0.0.0.0 can be bound beside it.
                    setsockopt(&fd, sockopt::Ipv6V6Only, &true)
                        .map_err(|e| sys("cannot set IPV6_V6ONLY", e))?;
                    socket::bind(fd.as_raw_fd(), &SockaddrIn6::from(*v6))
                }
            };
            bound.map_err(|e| sys(&format!("cannot bind {sa}"), e))?;
            socket::listen(&fd, Backlog::MAXCONN).map_err(|e| sys("cannot listen", e))?;
            Ok(fd)
        }
        ListenAddr::Unix(path) => {
            remove_stale(path)?;
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).map_err(|source| BindError::CreateDir {
                    dir: dir.to_path_buf(),
                    source,
                })?;
            }
            let fd = socket::socket(
                AddressFamily::Unix,
                SockType::Stream,
                SockFlag::SOCK_CLOEXEC,
                None,
            )
            .map_err(|e| sys("cannot create a socket", e))?;
            let ua = UnixAddr::new(path.as_path()).map_err(|e| sys("bad unix socket path", e))?;
            socket::bind(fd.as_raw_fd(), &ua)
                .map_err(|e| sys(&format!("cannot bind {}", path.display()), e))?;
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).map_err(
                |source| BindError::SetMode {
                    mode,
                    path: path.clone(),
                    source,
                },
            )?;
            socket::listen(&fd, Backlog::MAXCONN).map_err(|e| sys("cannot listen", e))?;
            Ok(fd)
        }
    }
}

/// A socket file left by an earlier run is removed; any other file is an error.
fn remove_stale(path: &Path) -> Result<(), BindError> {
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_socket() => {
            std::fs::remove_file(path).map_err(|source| BindError::RemoveStale {
                path: path.to_path_buf(),
                source,
            })
        }
        Ok(_) => Err(BindError::NotASocket {
            path: path.to_path_buf(),
        }),
        Err(_) => Ok(()),
    }
}

/// Binds every listen address of every service. Errors (all of them) name
/// the service and the address.
pub fn bind_all(
    services: &crate::model::config::Services,
) -> Result<BTreeMap<String, Vec<ListenSocket>>, Vec<String>> {
    let mut out = BTreeMap::new();
    let mut errors = Vec::new();
    for (name, cfg) in services {
        let Some(sock) = &cfg.socket else { continue };
        let mode = match parse_mode(sock.mode.as_deref()) {
            Ok(m) => m,
            Err(e) => {
                errors.push(format!("service {name}: {e}"));
                continue;
            }
        };
        let mut bound = Vec::new();
        for addr in &sock.listen {
            // A parse error names the entry itself.
            let parsed = match parse_listen(addr) {
                Ok(parsed) => parsed,
                Err(e) => {
                    errors.push(format!("service {name}: {e}"));
                    continue;
                }
            };
            match bind(&parsed, mode) {
                Ok(fd) => bound.push(ListenSocket {
                    addr: addr.clone(),
                    fd,
                }),
                Err(e) => errors.push(format!("service {name}: socket.listen {addr:?}: {e}")),
            }
        }
        out.insert(name.clone(), bound);
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

/// True when a connection is waiting in the backlog (poll with no wait).
/// A closed or invalid fd answers false (poll reports POLLNVAL).
pub fn has_pending(fd: RawFd) -> bool {
    let mut p = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: poll(2) on one pollfd on our stack, zero timeout; it never
    // touches the fd's memory and tolerates invalid fds (POLLNVAL).
    let n = unsafe { libc::poll(&mut p, 1, 0) };
    n > 0 && p.revents & libc::POLLIN != 0
}

/// Registers a duplicate of `sock` (or of any pollable fd, such as the log
/// thread's epoll set) with the current tokio reactor for readability, so
/// a task can await "a connection is waiting". Must run on an actix/tokio
/// thread (it panics without a reactor).
pub fn watch(sock: &impl AsFd) -> std::io::Result<tokio::io::unix::AsyncFd<OwnedFd>> {
    let dup = sock.as_fd().try_clone_to_owned()?;
    // SAFETY: the AsyncFd owns `dup`, so the fd stays open (and means the
    // same socket) for as long as it is registered; AsyncFd deregisters it
    // before the OwnedFd closes it on drop.
    unsafe { tokio::io::unix::AsyncFd::register_with_interest(dup, tokio::io::Interest::READABLE) }
        .map_err(|e| e.into_parts().1)
}

/// Makes an fd non-blocking: a listening socket oneinit accepts on itself,
/// or the read end of a child's pipe (O_NONBLOCK is shared with every
/// holder of the file description, so never an end a child holds).
pub fn set_nonblocking(fd: &impl AsRawFd) -> std::io::Result<()> {
    use nix::fcntl::{fcntl, FcntlArg, OFlag};
    let flags = fcntl(fd.as_raw_fd(), FcntlArg::F_GETFL).map_err(std::io::Error::from)?;
    let flags = OFlag::from_bits_retain(flags) | OFlag::O_NONBLOCK;
    fcntl(fd.as_raw_fd(), FcntlArg::F_SETFL(flags)).map_err(std::io::Error::from)?;
    Ok(())
}

/// Accepts one waiting connection (a blocking, CLOEXEC socket, ready to be
/// a child's stdin and stdout); None when no connection is waiting.
pub fn accept(fd: &impl AsRawFd) -> std::io::Result<Option<OwnedFd>> {
    loop {
        match socket::accept4(fd.as_raw_fd(), SockFlag::SOCK_CLOEXEC) {
            // SAFETY: accept4 returned a new fd that nothing else owns.
            Ok(raw) => return Ok(Some(unsafe { OwnedFd::from_raw_fd(raw) })),
            Err(Errno::EAGAIN) => return Ok(None),
            // The peer gave up before we accepted: try the next one.
            Err(Errno::EINTR | Errno::ECONNABORTED) => continue,
            Err(e) => return Err(e.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::config::ServiceConfig;
    use std::io::{Read, Write};
    use std::sync::Arc;

    #[test]
    fn tcp_bind_pending_and_accept() {
        let fd = bind(&parse_listen("tcp://127.0.0.1:0").unwrap(), 0o660).unwrap();
        let local: SockaddrIn = socket::getsockname(fd.as_raw_fd()).unwrap();
        assert!(!has_pending(fd.as_raw_fd()));
        let mut c = std::net::TcpStream::connect(("127.0.0.1", local.port())).unwrap();
        let mut waited = 0;
        while !has_pending(fd.as_raw_fd()) && waited < 200 {
            std::thread::sleep(std::time::Duration::from_millis(5));
            waited += 1;
        }
        assert!(
            has_pending(fd.as_raw_fd()),
            "the connection stays in the backlog"
        );
        set_nonblocking(&fd).unwrap();
        let conn = accept(&fd).unwrap().expect("a connection");
        assert!(accept(&fd).unwrap().is_none());
        c.write_all(b"hi").unwrap();
        let mut s = std::net::TcpStream::from(conn);
        let mut buf = [0u8; 2];
        s.read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"hi");
    }

    #[test]
    fn unix_socket_mode_and_stale_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/a.sock");
        let addr = ListenAddr::Unix(path.clone());
        let first = bind(&addr, 0o600).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o7777;
        assert_eq!(mode, 0o600);
        drop(first);
        // The file is left behind: a new bind replaces it.
        let _second = bind(&addr, 0o660).unwrap();
        std::os::unix::net::UnixStream::connect(&path).unwrap();
        let plain = dir.path().join("plain");
        std::fs::write(&plain, "x").unwrap();
        assert!(bind(&ListenAddr::Unix(plain), 0o660)
            .unwrap_err()
            .to_string()
            .contains("not a socket"));
    }

    #[test]
    fn bind_errors_name_service_and_address() {
        let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = taken.local_addr().unwrap().port();
        let mut s = BTreeMap::new();
        s.insert(
            "web".to_string(),
            Arc::new(ServiceConfig {
                socket: Some(Box::new(crate::model::config::SocketConfig {
                    listen: vec![format!("tcp://127.0.0.1:{port}")],
                    ..Default::default()
                })),
                ..ServiceConfig::default()
            }),
        );
        let errors = bind_all(&s).unwrap_err();
        assert_eq!(errors.len(), 1);
        assert!(
            errors[0].starts_with(&format!(
                "service web: socket.listen \"tcp://127.0.0.1:{port}\": cannot bind"
            )),
            "{errors:?}"
        );
    }
}
