//! API listen addresses: parsing (`unix:///path`, `host:port`), the
//! insecure-listener rule (SPEC 4.1), and binding — unix sockets get mode
//! 0600 and a stale socket file is replaced only when it is a socket nobody
//! answers on.

use std::net::{SocketAddr, TcpListener, ToSocketAddrs};
use std::os::unix::fs::FileTypeExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};

/// One place the API is served.
#[derive(Clone, Debug, PartialEq)]
pub enum ListenAddr {
    Unix(PathBuf),
    Tcp {
        /// As written, for messages.
        text: String,
        addrs: Vec<SocketAddr>,
    },
}

impl ListenAddr {
    /// `unix:///path`, `unix:/path`, `host:port` or `tcp://host:port`.
    pub fn parse(text: &str) -> Result<ListenAddr, String> {
        if let Some(path) = text.strip_prefix("unix://").or(text.strip_prefix("unix:")) {
            if !path.starts_with('/') {
                return Err(format!(
                    "api listen address {text:?}: a unix socket needs an absolute path, e.g. unix:///run/oneinit/oneinit.sock"
                ));
            }
            return Ok(ListenAddr::Unix(PathBuf::from(path)));
        }
        let hostport = text.strip_prefix("tcp://").unwrap_or(text);
        let addrs: Vec<SocketAddr> = hostport
            .to_socket_addrs()
            .map_err(|e| {
                format!("api listen address {text:?}: {e}; use unix:///path or host:port")
            })?
            .collect();
        if addrs.is_empty() {
            return Err(format!(
                "api listen address {text:?}: resolves to no address"
            ));
        }
        Ok(ListenAddr::Tcp {
            text: text.to_string(),
            addrs,
        })
    }

    /// A TCP address that is not loopback (0.0.0.0 and :: count as public).
    pub fn is_public_tcp(&self) -> bool {
        match self {
            ListenAddr::Unix(_) => false,
            ListenAddr::Tcp { addrs, .. } => addrs.iter().any(|a| !a.ip().is_loopback()),
        }
    }
}

/// Refuses a public TCP listener unless it has TLS and auth, or `insecure`.
pub fn check_secure(
    addr: &ListenAddr,
    has_tls: bool,
    has_auth: bool,
    insecure: bool,
) -> Result<(), String> {
    if addr.is_public_tcp() && !(has_tls && has_auth) && !insecure {
        let text = match addr {
            ListenAddr::Tcp { text, .. } => text.as_str(),
            ListenAddr::Unix(_) => "",
        };
        let missing = match (has_tls, has_auth) {
            (false, false) => "TLS and auth",
            (false, true) => "TLS",
            _ => "auth",
        };
        return Err(format!(
            "api listen address {text}: refusing a non-loopback TCP listener without {missing}; \
             configure api.tls and api.auth, listen on 127.0.0.1, or set api.insecure: true"
        ));
    }
    Ok(())
}

/// Binds every address of a TCP listen entry.
pub fn bind_tcp(text: &str, addrs: &[SocketAddr]) -> Result<Vec<TcpListener>, String> {
    addrs
        .iter()
        .map(|a| {
            TcpListener::bind(a).map_err(|e| {
                format!("api listen address {text}: cannot bind {a}: {e}; pick a free port")
            })
        })
        .collect()
}

/// Binds a unix socket with mode 0600, creating its folder (0700) if missing
/// and replacing a stale socket file.
pub fn bind_unix(path: &Path) -> Result<UnixListener, String> {
    let shown = path.display();
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        if !dir.exists() {
            use std::os::unix::fs::DirBuilderExt;
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(|e| format!("api socket {shown}: cannot create {}: {e}", dir.display()))?;
        }
    }
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_socket() => {
            // Connect with a bounded wait: unix connect does not block on a
            // listening socket, and a refused one means nobody is there.
            match UnixStream::connect(path) {
                Ok(_) => {
                    return Err(format!(
                        "api socket {shown}: another process (oneinit?) is listening on it; \
                         stop it first or set ONEINIT_RUNTIME_DIR / api.listen to another path"
                    ))
                }
                Err(_) => std::fs::remove_file(path).map_err(|e| {
                    format!("api socket {shown}: cannot remove the stale socket file: {e}")
                })?,
            }
        }
        Ok(_) => {
            return Err(format!(
                "api socket {shown}: the path exists and is not a socket; remove it or choose another path"
            ))
        }
        Err(_) => {}
    }
    // Mode 0600 from the start: no moment in which others may connect.
    let listener = oneinit_actors::sys::private_socket::bind_private(path)
        .map_err(|e| format!("api socket {shown}: cannot bind: {e}"))?;
    Ok(listener)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn parses_forms() {
        assert_eq!(
            ListenAddr::parse("unix:///run/x.sock").unwrap(),
            ListenAddr::Unix("/run/x.sock".into())
        );
        assert!(ListenAddr::parse("unix://rel.sock").is_err());
        let tcp = ListenAddr::parse("127.0.0.1:9900").unwrap();
        assert!(!tcp.is_public_tcp());
        assert!(ListenAddr::parse("0.0.0.0:9900").unwrap().is_public_tcp());
        assert!(ListenAddr::parse("tcp://[::1]:1").is_ok());
        assert!(ListenAddr::parse("nonsense").is_err());
    }

    #[test]
    fn insecure_rule() {
        let public = ListenAddr::parse("0.0.0.0:9900").unwrap();
        let local = ListenAddr::parse("127.0.0.1:9900").unwrap();
        assert!(check_secure(&public, false, false, false).is_err());
        assert!(check_secure(&public, true, false, false).is_err());
        assert!(check_secure(&public, false, true, false).is_err());
        assert!(check_secure(&public, true, true, false).is_ok());
        assert!(check_secure(&public, false, false, true).is_ok());
        assert!(check_secure(&local, false, false, false).is_ok());
    }

    #[test]
    fn unix_socket_mode_stale_and_live() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/api.sock");
        let live = bind_unix(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert!(bind_unix(&path).unwrap_err().contains("listening"));
        drop(live); // the file stays: now stale
        assert!(path.exists());
        let _again = bind_unix(&path).unwrap();
        let file = dir.path().join("plain");
        std::fs::write(&file, "x").unwrap();
        assert!(bind_unix(&file).unwrap_err().contains("not a socket"));
    }
}
