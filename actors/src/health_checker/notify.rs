//! sd_notify readiness (SPEC 3): a datagram socket per `readiness.notify`
//! service in `<runtime dir>/notify/<service>.sock` (its path is the
//! child's NOTIFY_SOCKET, see `service::plan`), one reader task per socket
//! that forwards each datagram to the HealthChecker, and the parsing of
//! `READY=1` / `STATUS=` (other fields are ignored, as systemd does for
//! those it does not know).

use super::messages::NotifyDatagram;
use crate::model::config::ServiceConfig;
use crate::sys::notify_socket;
use actix::Recipient;
use slog::{warn, Logger};
use std::collections::BTreeMap;
use std::os::unix::net::UnixDatagram;
use tokio::io::Interest;

/// The sockets, bound before any service starts, read once the actor runs.
#[derive(Default)]
pub struct Sockets {
    /// Bound but not read yet (before the actor started).
    waiting: BTreeMap<String, UnixDatagram>,
    /// Services whose socket is being read.
    listening: Vec<String>,
}

impl Sockets {
    /// Binds a socket for every service with `readiness.notify: true`.
    /// A socket that cannot be bound is logged; that service then never
    /// gets ready by notify and its `readiness.timeout` applies.
    pub fn bind(services: &crate::model::config::Services, log: &Logger) -> Sockets {
        let mut s = Sockets::default();
        for (name, cfg) in services.iter().filter(|(_, c)| c.readiness.notify) {
            if let Some(sock) = bind_one(name, cfg, log) {
                s.waiting.insert(name.clone(), sock);
            }
        }
        s
    }

    /// Starts reading every bound socket. Call from the actor's `started`.
    pub fn listen(&mut self, to: Recipient<NotifyDatagram>, log: &Logger) {
        for (name, sock) in std::mem::take(&mut self.waiting) {
            spawn_reader(name.clone(), sock, to.clone(), log.clone());
            self.listening.push(name);
        }
    }

    /// Binds and reads a socket for a service added by a reload.
    pub fn add(
        &mut self,
        name: &str,
        cfg: &ServiceConfig,
        to: Recipient<NotifyDatagram>,
        log: &Logger,
    ) {
        if self.listening.iter().any(|n| n == name) || self.waiting.contains_key(name) {
            return;
        }
        if let Some(sock) = bind_one(name, cfg, log) {
            spawn_reader(name.to_string(), sock, to, log.clone());
            self.listening.push(name.to_string());
        }
    }
}

fn bind_one(name: &str, cfg: &ServiceConfig, log: &Logger) -> Option<UnixDatagram> {
    let dir = match crate::sys::runtime_dir::ensure_runtime_dir() {
        Ok(d) => d,
        Err(e) => {
            warn!(log, "no runtime directory for NOTIFY_SOCKET; readiness.notify cannot work";
                "service" => name, "error" => %e);
            return None;
        }
    };
    let path = notify_socket::socket_path(&dir, name);
    // A service running as another user must be able to send to it.
    let shared = cfg.user.is_some() || cfg.group.is_some();
    match notify_socket::bind(&path, shared) {
        Ok(sock) => Some(sock),
        Err(e) => {
            warn!(log, "cannot bind NOTIFY_SOCKET; check the runtime directory's permissions";
                "service" => name, "path" => %path.display(), "error" => %e);
            None
        }
    }
}

/// Reads datagrams until the socket fails; each goes to the HealthChecker.
fn spawn_reader(service: String, sock: UnixDatagram, to: Recipient<NotifyDatagram>, log: Logger) {
    actix::spawn(async move {
        let sock = match tokio::net::UnixDatagram::from_std(sock) {
            Ok(s) => s,
            Err(e) => {
                warn!(log, "cannot watch NOTIFY_SOCKET"; "service" => &service, "error" => %e);
                return;
            }
        };
        let mut buf = vec![0u8; notify_socket::MAX_DATAGRAM];
        loop {
            let got = sock
                .async_io(Interest::READABLE, || notify_socket::recv(&sock, &mut buf))
                .await;
            match got {
                Ok((n, pid)) => to.do_send(NotifyDatagram {
                    service: service.clone(),
                    text: String::from_utf8_lossy(&buf[..n]).into_owned(),
                    pid,
                }),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    warn!(log, "NOTIFY_SOCKET read failed; readiness.notify stops working";
                        "service" => &service, "error" => %e);
                    return;
                }
            }
        }
    });
}

/// The fields of one sd_notify datagram that oneinit uses.
#[derive(Debug, Default, PartialEq)]
pub struct Fields {
    pub ready: bool,
    pub status: Option<String>,
}

/// `KEY=VALUE` lines; `READY=1` and `STATUS=...` count, the rest is ignored.
pub fn parse(text: &str) -> Fields {
    let mut f = Fields::default();
    for line in text.lines() {
        match line.split_once('=') {
            Some(("READY", "1")) => f.ready = true,
            Some(("STATUS", v)) => f.status = Some(v.to_string()),
            _ => {}
        }
    }
    f
}

/// Which instance sent a datagram: the one whose pid is the sender or an
/// ancestor of it (a script's child may send); without credentials, the
/// only instance there is.
pub fn owner_instance(sender: Option<i32>, instances: &[(u64, i32)]) -> Option<(u64, i32)> {
    let Some(mut pid) = sender else {
        return match instances {
            [one] => Some(*one),
            _ => None,
        };
    };
    // Bounded walk up the process tree.
    for _ in 0..32 {
        if let Some(found) = instances.iter().find(|(_, p)| *p == pid) {
            return Some(*found);
        }
        match parent_of(pid) {
            Some(pp) if pp > 1 => pid = pp,
            _ => return None,
        }
    }
    None
}

fn parent_of(pid: i32) -> Option<i32> {
    crate::sys::procfs::read(pid).map(|p| p.ppid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_fields() {
        assert_eq!(
            parse("READY=1\nSTATUS=serving 3 clients\nMAINPID=7\nX-CUSTOM=1"),
            Fields {
                ready: true,
                status: Some("serving 3 clients".into())
            }
        );
        assert_eq!(
            parse("READY=0\nSTATUS="),
            Fields {
                ready: false,
                status: Some(String::new())
            }
        );
        assert_eq!(parse("garbage"), Fields::default());
    }

    #[test]
    fn owner_by_pid_ancestor_or_only_instance() {
        let me = std::process::id() as i32;
        let parent = parent_of(me).expect("parent");
        assert_eq!(owner_instance(Some(me), &[(0, 1), (3, me)]), Some((3, me)));
        // A descendant of the instance's process counts as the instance.
        assert_eq!(owner_instance(Some(me), &[(2, parent)]), Some((2, parent)));
        assert_eq!(owner_instance(None, &[(1, 42)]), Some((1, 42)));
        assert_eq!(owner_instance(None, &[(1, 42), (2, 43)]), None);
        assert_eq!(owner_instance(Some(me), &[]), None);
    }
}
