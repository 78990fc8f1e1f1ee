//! The activation keys of a service, checked without touching the system:
//! `socket.listen` addresses (`tcp://host:port`, `tcp://[::1]:port`,
//! `unix:///path`), `socket.mode`, `max_instances` and `schedule`, and which
//! service types may use them (SPEC 2.3 validation, SPEC 3). `sys::socket`
//! binds what this module parsed; `oneinit` runs `check` before anything
//! starts so a bad key is a config error (exit 2).

use super::config::ServiceType;
use super::schedule::Timetable;
use std::collections::BTreeMap;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;

/// A parsed `socket.listen` entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ListenAddr {
    Tcp(SocketAddr),
    Unix(PathBuf),
}

/// A `socket.listen` entry that cannot be used; `addr` is the entry as
/// written.
#[derive(Debug, thiserror::Error)]
pub enum ListenError {
    #[error("socket.listen {addr:?}: a unix socket needs an absolute path, e.g. \"unix:///run/web.sock\"")]
    RelativeUnixPath { addr: String },
    #[error("socket.listen {addr:?}: write \"tcp://HOST:PORT\", \"tcp://[::1]:PORT\" or \"unix:///PATH\"")]
    Syntax { addr: String },
    #[error("socket.listen {addr:?}: cannot resolve the host: {source}")]
    Resolve {
        addr: String,
        source: std::io::Error,
    },
    #[error("socket.listen {addr:?}: the host name resolves to no address")]
    NoAddress { addr: String },
}

/// A `socket.mode` that is not an octal permission mode.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("socket.mode {mode:?} is not an octal mode such as \"0660\"")]
pub struct InvalidMode {
    pub mode: String,
}

/// Parses one `socket.listen` entry. Host names are resolved (first address).
pub fn parse_listen(addr: &str) -> Result<ListenAddr, ListenError> {
    if let Some(path) = addr.strip_prefix("unix://") {
        if !path.starts_with('/') {
            return Err(ListenError::RelativeUnixPath { addr: addr.into() });
        }
        return Ok(ListenAddr::Unix(PathBuf::from(path)));
    }
    let Some(hostport) = addr.strip_prefix("tcp://") else {
        return Err(ListenError::Syntax { addr: addr.into() });
    };
    if let Ok(sa) = hostport.parse::<SocketAddr>() {
        return Ok(ListenAddr::Tcp(sa));
    }
    let resolved = hostport
        .to_socket_addrs()
        .map_err(|source| ListenError::Resolve {
            addr: addr.into(),
            source,
        })?
        .next();
    resolved
        .map(ListenAddr::Tcp)
        .ok_or_else(|| ListenError::NoAddress { addr: addr.into() })
}

/// `socket.mode` as permission bits (default 0660).
pub fn parse_mode(mode: Option<&str>) -> Result<u32, InvalidMode> {
    let Some(m) = mode else { return Ok(0o660) };
    u32::from_str_radix(m.trim_start_matches("0o"), 8)
        .ok()
        .filter(|v| *v <= 0o7777)
        .ok_or_else(|| InvalidMode { mode: m.into() })
}

/// Every activation problem of every service, each naming the service and
/// key; empty when the configuration is usable. Duplicate addresses are
/// checked across services too.
pub fn check(services: &crate::model::config::Services) -> Vec<String> {
    let mut errors = Vec::new();
    let mut seen: BTreeMap<String, String> = BTreeMap::new();
    for (name, cfg) in services {
        let mut err = |m: String| errors.push(format!("service {name}: {m}"));
        if let Some(sock) = &cfg.socket {
            if !matches!(cfg.kind, ServiceType::OnDemand | ServiceType::PerDemand) {
                err(format!(
                    "`socket` needs type on-demand or per-demand, not {}",
                    cfg.kind.as_str()
                ));
            }
            if sock.accept && cfg.kind != ServiceType::PerDemand {
                err(
                    "`socket.accept: true` needs type per-demand (one instance per connection)"
                        .into(),
                );
            }
            if sock.listen.is_empty() {
                err("`socket.listen` is empty; list at least one address".into());
            }
            if let Err(e) = parse_mode(sock.mode.as_deref()) {
                err(e.to_string());
            }
            for addr in &sock.listen {
                match parse_listen(addr) {
                    Ok(parsed) => {
                        let key = format!("{parsed:?}");
                        if let Some(other) = seen.insert(key, name.clone()) {
                            err(format!(
                                "socket.listen {addr:?} is also listed by service {other}"
                            ));
                        }
                    }
                    Err(e) => err(e.to_string()),
                }
            }
        }
        if let Some(s) = &cfg.schedule {
            if !matches!(cfg.kind, ServiceType::Oneshot | ServiceType::PerDemand) {
                err(format!(
                    "`schedule` needs type oneshot or per-demand, not {}",
                    cfg.kind.as_str()
                ));
            }
            if let Err(e) = Timetable::from_config(s) {
                err(e.to_string());
            }
        }
        if cfg.kind == ServiceType::PerDemand && cfg.max_instances < 1 {
            err("max_instances must be at least 1".into());
        }
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::config::ServiceConfig;
    use crate::model::config::{ScheduleConfig, SocketConfig};
    use std::sync::Arc;

    #[test]
    fn listen_addresses() {
        assert_eq!(
            parse_listen("tcp://127.0.0.1:8080").unwrap(),
            ListenAddr::Tcp("127.0.0.1:8080".parse().unwrap())
        );
        assert_eq!(
            parse_listen("tcp://[::1]:9").unwrap(),
            ListenAddr::Tcp("[::1]:9".parse().unwrap())
        );
        assert!(
            matches!(parse_listen("tcp://localhost:80").unwrap(), ListenAddr::Tcp(a) if a.port() == 80)
        );
        assert_eq!(
            parse_listen("unix:///run/x.sock").unwrap(),
            ListenAddr::Unix("/run/x.sock".into())
        );
        assert!(parse_listen("unix://rel.sock")
            .unwrap_err()
            .to_string()
            .contains("absolute"));
        assert!(parse_listen("127.0.0.1:80")
            .unwrap_err()
            .to_string()
            .contains("tcp://"));
        assert_eq!(parse_mode(None), Ok(0o660));
        assert_eq!(parse_mode(Some("0600")), Ok(0o600));
        assert!(parse_mode(Some("rw")).is_err());
    }

    fn svc(kind: ServiceType, listen: &[&str]) -> Arc<ServiceConfig> {
        Arc::new(ServiceConfig {
            kind,
            socket: Some(Box::new(SocketConfig {
                listen: listen.iter().map(|s| s.to_string()).collect(),
                ..SocketConfig::default()
            })),
            ..ServiceConfig::default()
        })
    }

    #[test]
    fn wrong_types_duplicates_and_schedules_are_all_reported() {
        let mut s = BTreeMap::new();
        s.insert(
            "a".to_string(),
            svc(ServiceType::OnDemand, &["tcp://127.0.0.1:7000"]),
        );
        s.insert(
            "b".to_string(),
            svc(ServiceType::Ongoing, &["tcp://127.0.0.1:7000"]),
        );
        let mut c = ServiceConfig {
            kind: ServiceType::Ongoing,
            schedule: Some(Box::new(ScheduleConfig {
                cron: Some("bad".into()),
                ..ScheduleConfig::default()
            })),
            ..ServiceConfig::default()
        };
        c.max_instances = 0;
        s.insert("c".to_string(), Arc::new(c));
        let errors = check(&s);
        assert_eq!(errors.len(), 4, "{errors:?}");
        assert!(errors[0].starts_with("service b: `socket` needs type"));
        assert!(errors[1].contains("also listed by service a"));
        assert!(errors[2].starts_with("service c: `schedule` needs type"));
        assert!(errors[3].contains("has 1 fields"), "{errors:?}");
        let mut ok = BTreeMap::new();
        ok.insert(
            "a".to_string(),
            svc(ServiceType::PerDemand, &["unix:///tmp/x.sock"]),
        );
        assert!(check(&ok).is_empty());
    }
}
