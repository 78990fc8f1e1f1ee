//! Facts about a connection, read once in actix-web's `on_connect` and kept
//! in the request's connection data: the unix peer's uid (SO_PEERCRED) or
//! the TLS client certificate's subject CN, and for TCP the local address
//! the connection arrived on (the `Host` check of `guard`). `auth` decides
//! from them. It also counts open connections (`ConnCounter`).

use actix_web::dev::Extensions;
use actix_web::rt::net::{TcpStream, UnixStream};
use std::any::Any;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

#[derive(Clone, Debug, PartialEq)]
pub enum ConnInfo {
    /// A unix-socket peer; `uid` is None when SO_PEERCRED failed.
    Unix { uid: Option<u32> },
    /// TCP, with TLS or not; `client_cn` from a verified client certificate.
    Tcp {
        client_cn: Option<String>,
        /// The local address of the connection (the listener's own).
        local: Option<SocketAddr>,
        tls: bool,
    },
}

impl ConnInfo {
    /// A TCP connection without TLS facts (tests, unknown streams).
    pub fn plain_tcp() -> ConnInfo {
        ConnInfo::Tcp {
            client_cn: None,
            local: None,
            tls: false,
        }
    }
}

/// Open connections of one server (the unix-socket one or the TCP one),
/// against its cap. actix stops accepting at the cap (`max_connections`):
/// further clients wait in the kernel's backlog, nothing is dropped. Each
/// time the cap is reached it is counted, and logged once per episode.
pub struct ConnCounter {
    pub what: &'static str,
    pub cap: usize,
    open: AtomicUsize,
    /// Times the cap was reached.
    pub capped: AtomicU64,
    warned: AtomicBool,
    log: slog::Logger,
}

/// Held in a connection's data: one open connection, released on drop.
pub struct ConnSlot(Arc<ConnCounter>);

impl Drop for ConnSlot {
    fn drop(&mut self) {
        let before = self.0.open.fetch_sub(1, Ordering::Relaxed);
        if before <= self.0.cap / 2 + 1 {
            self.0.warned.store(false, Ordering::Relaxed);
        }
    }
}

impl ConnCounter {
    pub fn new(what: &'static str, cap: usize, log: slog::Logger) -> Arc<ConnCounter> {
        Arc::new(ConnCounter {
            what,
            cap,
            open: AtomicUsize::new(0),
            capped: AtomicU64::new(0),
            warned: AtomicBool::new(false),
            log,
        })
    }

    pub fn open(&self) -> usize {
        self.open.load(Ordering::Relaxed)
    }

    fn enter(self: &Arc<Self>) -> ConnSlot {
        let now = self.open.fetch_add(1, Ordering::Relaxed) + 1;
        if now >= self.cap {
            self.capped.fetch_add(1, Ordering::Relaxed);
            if !self.warned.swap(true, Ordering::Relaxed) {
                slog::warn!(self.log, "API connection cap reached; new connections wait until one closes";
                    "listeners" => self.what, "cap" => self.cap);
            }
        }
        ConnSlot(self.clone())
    }
}

/// The `on_connect` hook: store a `ConnInfo` for every connection, and
/// count it in `counter` while it is open.
pub fn on_connect(counter: &Arc<ConnCounter>, conn: &dyn Any, ext: &mut Extensions) {
    ext.insert(counter.enter());
    on_connect_uncounted(conn, ext);
}

/// Stores the `ConnInfo` only (the metrics listener).
pub fn on_connect_uncounted(conn: &dyn Any, ext: &mut Extensions) {
    if let Some(unix) = conn.downcast_ref::<UnixStream>() {
        let uid = unix.peer_cred().ok().map(|c| c.uid());
        ext.insert(ConnInfo::Unix { uid });
    } else if let Some(tls) =
        conn.downcast_ref::<actix_tls::accept::rustls_0_23::TlsStream<TcpStream>>()
    {
        let (tcp, session) = tls.get_ref();
        let client_cn = session
            .peer_certificates()
            .and_then(|certs| certs.first())
            .and_then(|leaf| subject_cn(leaf.as_ref()));
        ext.insert(ConnInfo::Tcp {
            client_cn,
            local: tcp.local_addr().ok(),
            tls: true,
        });
    } else if let Some(tcp) = conn.downcast_ref::<TcpStream>() {
        ext.insert(ConnInfo::Tcp {
            client_cn: None,
            local: tcp.local_addr().ok(),
            tls: false,
        });
    } else {
        ext.insert(ConnInfo::plain_tcp());
    }
}

/// One DER element: (tag, content, rest).
fn der_next(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, mut rest) = rest.split_first()?;
    let len = if first < 0x80 {
        first as usize
    } else {
        let n = (first & 0x7f) as usize;
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let mut len = 0usize;
        for &b in &rest[..n] {
            len = (len << 8) | b as usize;
        }
        rest = &rest[n..];
        len
    };
    if rest.len() < len {
        return None;
    }
    Some((tag, &rest[..len], &rest[len..]))
}

const SEQUENCE: u8 = 0x30;
const SET: u8 = 0x31;
const OID: u8 = 0x06;
/// 2.5.4.3, commonName.
const OID_CN: [u8; 3] = [0x55, 0x04, 0x03];

/// The subject's commonName of an X.509 certificate (DER), if any. The
/// certificate was already verified by rustls; this only reads it.
pub fn subject_cn(cert: &[u8]) -> Option<String> {
    let (tag, cert_body, _) = der_next(cert)?;
    if tag != SEQUENCE {
        return None;
    }
    let (tag, tbs, _) = der_next(cert_body)?;
    if tag != SEQUENCE {
        return None;
    }
    let mut rest = tbs;
    // [0] EXPLICIT version, optional.
    if rest.first() == Some(&0xa0) {
        rest = der_next(rest)?.2;
    }
    // serialNumber, signature, issuer, validity, then subject.
    for _ in 0..4 {
        rest = der_next(rest)?.2;
    }
    let (tag, subject, _) = der_next(rest)?;
    if tag != SEQUENCE {
        return None;
    }
    let mut rdns = subject;
    while !rdns.is_empty() {
        let (tag, set, next) = der_next(rdns)?;
        rdns = next;
        if tag != SET {
            continue;
        }
        let mut atvs = set;
        while !atvs.is_empty() {
            let (_, atv, next) = der_next(atvs)?;
            atvs = next;
            let (tag, oid, value) = der_next(atv)?;
            if tag == OID && oid == OID_CN {
                let (_, text, _) = der_next(value)?;
                return String::from_utf8(text.to_vec()).ok();
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_cn_of_generated_cert() {
        let mut params = rcgen::CertificateParams::new(vec!["localhost".into()]).unwrap();
        params
            .distinguished_name
            .push(rcgen::DnType::OrganizationName, "oneinit tests");
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "admin.example.com");
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        assert_eq!(subject_cn(cert.der()).as_deref(), Some("admin.example.com"));
    }

    #[test]
    fn garbage_is_none() {
        assert_eq!(subject_cn(&[]), None);
        assert_eq!(subject_cn(&[0x30, 0x82, 0xff]), None);
        assert_eq!(subject_cn(&[0x30, 0x00]), None);
    }
}

#[cfg(test)]
mod counter_tests {
    use super::*;

    #[test]
    fn reaching_the_cap_is_counted_and_slots_release() {
        let log = slog::Logger::root(slog::Discard, slog::o!());
        let c = ConnCounter::new("tcp", 2, log);
        let a = c.enter();
        assert_eq!(c.capped.load(Ordering::Relaxed), 0);
        let b = c.enter();
        assert_eq!((c.open(), c.capped.load(Ordering::Relaxed)), (2, 1));
        drop(a);
        drop(b);
        assert_eq!(c.open(), 0);
    }
}
