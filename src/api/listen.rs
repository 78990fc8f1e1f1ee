//! API listen addresses: parsing (`unix:///path`, `host:port`), the
//! insecure-listener rule (SPEC 4.1), and binding — unix sockets get mode
//! 0600 and a stale socket file is replaced only when it is a socket nobody
//! answers on.

use std::net::{SocketAddr, TcpListener, ToSocketAddrs};
use std::os::unix::fs::FileTypeExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};

/// Why a listen address cannot be used. Each message names the key and the
/// address and says what to do.
#[derive(Debug, thiserror::Error)]
pub enum ListenError {
    #[error("{key} {text:?}: a unix socket needs an absolute path, e.g. unix:///run/oneinit/oneinit.sock")]
    RelativeSocketPath { key: &'static str, text: String },
    #[error("{key} {text:?}: {source}; use unix:///path or host:port")]
    Resolve {
        key: &'static str,
        text: String,
        source: std::io::Error,
    },
    #[error("{key} {text:?}: resolves to no address")]
    NoAddress { key: &'static str, text: String },
    #[error(
        "api listen address {text}: refusing a non-loopback TCP listener without {missing}; \
         configure api.tls and api.auth, listen on 127.0.0.1, or set api.insecure: true"
    )]
    Insecure { text: String, missing: &'static str },
    #[error("api listen address {text}: cannot bind {addr}: {source}; pick a free port")]
    BindTcp {
        text: String,
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("api socket {}: cannot create {}: {source}", .path.display(), .dir.display())]
    CreateDir {
        path: PathBuf,
        dir: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "api socket {}: another process (oneinit?) is listening on it; \
         stop it first or set ONEINIT_RUNTIME_DIR / api.listen to another path",
        .path.display()
    )]
    SocketInUse { path: PathBuf },
    #[error("api socket {}: cannot remove the stale socket file: {source}", .path.display())]
    RemoveStale {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("api socket {}: the path exists and is not a socket; remove it or choose another path", .path.display())]
    NotASocket { path: PathBuf },
    #[error("api socket {}: cannot bind: {source}", .path.display())]
    BindUnix {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl ListenError {
    /// A problem of the configured address itself (as opposed to binding it).
    pub fn is_config(&self) -> bool {
        matches!(
            self,
            ListenError::RelativeSocketPath { .. }
                | ListenError::Resolve { .. }
                | ListenError::NoAddress { .. }
                | ListenError::Insecure { .. }
        )
    }
}

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
    /// `unix:///path`, `unix:/path`, `host:port` or `tcp://host:port` of
    /// `api.listen` / `--api-listen`.
    pub fn parse(text: &str) -> Result<ListenAddr, ListenError> {
        Self::parse_as("api listen address", text)
    }

    /// Like `parse`; errors name `key` (e.g. `metrics.listen`).
    pub fn parse_as(key: &'static str, text: &str) -> Result<ListenAddr, ListenError> {
        if let Some(path) = text.strip_prefix("unix://").or(text.strip_prefix("unix:")) {
            if !path.starts_with('/') {
                return Err(ListenError::RelativeSocketPath {
                    key,
                    text: text.to_string(),
                });
            }
            return Ok(ListenAddr::Unix(PathBuf::from(path)));
        }
        let hostport = text.strip_prefix("tcp://").unwrap_or(text);
        let addrs: Vec<SocketAddr> = hostport
            .to_socket_addrs()
            .map_err(|source| ListenError::Resolve {
                key,
                text: text.to_string(),
                source,
            })?
            .collect();
        if addrs.is_empty() {
            return Err(ListenError::NoAddress {
                key,
                text: text.to_string(),
            });
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
) -> Result<(), ListenError> {
    if addr.is_public_tcp() && !(has_tls && has_auth) && !insecure {
        let text = match addr {
            ListenAddr::Tcp { text, .. } => text.clone(),
            ListenAddr::Unix(_) => String::new(),
        };
        let missing = match (has_tls, has_auth) {
            (false, false) => "TLS and auth",
            (false, true) => "TLS",
            _ => "auth",
        };
        return Err(ListenError::Insecure { text, missing });
    }
    Ok(())
}

/// Binds every address of a TCP listen entry.
pub fn bind_tcp(text: &str, addrs: &[SocketAddr]) -> Result<Vec<TcpListener>, ListenError> {
    addrs
        .iter()
        .map(|a| {
            TcpListener::bind(a).map_err(|source| ListenError::BindTcp {
                text: text.to_string(),
                addr: *a,
                source,
            })
        })
        .collect()
}

/// Binds a unix socket with mode 0600, creating its folder (0700) if missing
/// and replacing a stale socket file.
pub fn bind_unix(path: &Path) -> Result<UnixListener, ListenError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        if !dir.exists() {
            use std::os::unix::fs::DirBuilderExt;
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(|source| ListenError::CreateDir {
                    path: path.to_path_buf(),
                    dir: dir.to_path_buf(),
                    source,
                })?;
        }
    }
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_socket() => {
            // Connect with a bounded wait: unix connect does not block on a
            // listening socket, and a refused one means nobody is there.
            if UnixStream::connect(path).is_ok() {
                return Err(ListenError::SocketInUse {
                    path: path.to_path_buf(),
                });
            }
            std::fs::remove_file(path).map_err(|source| ListenError::RemoveStale {
                path: path.to_path_buf(),
                source,
            })?;
        }
        Ok(_) => {
            return Err(ListenError::NotASocket {
                path: path.to_path_buf(),
            })
        }
        Err(_) => {}
    }
    // Mode 0600 from the start: no moment in which others may connect.
    oneinit_actors::sys::private_socket::bind_private(path).map_err(|source| {
        ListenError::BindUnix {
            path: path.to_path_buf(),
            source,
        }
    })
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
        assert!(matches!(
            bind_unix(&path).unwrap_err(),
            ListenError::SocketInUse { .. }
        ));
        drop(live); // the file stays: now stale
        assert!(path.exists());
        let _again = bind_unix(&path).unwrap();
        let file = dir.path().join("plain");
        std::fs::write(&file, "x").unwrap();
        let err = bind_unix(&file).unwrap_err();
        assert!(err.to_string().contains("not a socket"), "{err}");
    }
}
