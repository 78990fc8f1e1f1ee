//! Validation of who may reach what (SPEC 4.1, 9): API listeners that are
//! refused as insecure (reported at the `listen` entry, so the user sees
//! `FILE:LINE:COL`), token and client scopes that name no service, and
//! service identities that would run with a guessed group. Called by
//! `validate`; the API repeats the listener rule at bind time for
//! addresses that do not come from a file (`--api-listen`) or need DNS.

use super::validate::Ctx;
use crate::model::config::{Config, ServiceConfig};
use std::net::{IpAddr, SocketAddr};

/// All access rules over `config`.
pub(super) fn check(cx: &mut Ctx, config: &Config) {
    listeners(cx, config);
    scopes(cx, config);
    if let Some(msg) = metrics_path_problem(&config.metrics.path) {
        cx.err(&["metrics", "path"], false, msg);
    }
}

/// `metrics.path` becomes a route of the HTTP router, whose patterns give
/// `{` `}` a meaning (an unbalanced one would stop the API at start): a
/// plain absolute path is required.
pub fn metrics_path_problem(path: &str) -> Option<String> {
    let bad =
        |c: char| matches!(c, '{' | '}' | '?' | '#' | '%') || c.is_whitespace() || c.is_control();
    if !path.starts_with('/') || path.contains(bad) {
        return Some(format!(
            "metrics.path \"{}\" must be a plain absolute path such as \"/metrics\" (no {{ }} ? # % or spaces)",
            path.escape_default()
        ));
    }
    None
}

/// Whether a listen address (`host:port`, `tcp://host:port`,
/// `unix:///path`) is certainly reachable from other hosts: an IP literal
/// that is not loopback (0.0.0.0 and :: count). Unix sockets, loopback and
/// `localhost` are not; other host names are left to the bind-time check.
pub fn is_public_literal(text: &str) -> bool {
    if text.starts_with("unix:") {
        return false;
    }
    let hostport = text.strip_prefix("tcp://").unwrap_or(text);
    if let Ok(addr) = hostport.parse::<SocketAddr>() {
        return !addr.ip().is_loopback();
    }
    // `host:port` with a bare IPv6 or IPv4 host that SocketAddr refused
    // (e.g. a port out of range) is for the API's parser to report.
    match hostport.rsplit_once(':') {
        Some((host, _)) => host
            .trim_matches(['[', ']'])
            .parse::<IpAddr>()
            .is_ok_and(|ip| !ip.is_loopback()),
        None => false,
    }
}

fn listeners(cx: &mut Ctx, config: &Config) {
    let api = &config.api;
    let has_tls = api.tls.is_some();
    let has_auth = api.auth.is_some();
    if !(api.insecure || has_tls && has_auth) {
        let missing = match (has_tls, has_auth) {
            (false, false) => "TLS and auth",
            (false, true) => "TLS",
            _ => "auth",
        };
        for (i, text) in api.listen.iter().enumerate() {
            if is_public_literal(text) {
                let idx = format!("#{i}");
                cx.err(
                    &["api", "listen", &idx],
                    false,
                    format!(
                        "insecure listener refused: \"{text}\" is not a loopback address and \
                         the API has no {missing}; configure api.tls and api.auth, listen on \
                         127.0.0.1, or set api.insecure: true"
                    ),
                );
            }
        }
    }
    // The metrics listener serves only `/metrics`; it is public-safe when
    // it needs a token over TLS (`metrics.auth` with api.auth and api.tls).
    let metrics_safe = has_tls && has_auth && config.metrics.auth;
    if let Some(text) = &config.metrics.listen {
        if config.metrics.enabled && !api.insecure && !metrics_safe && is_public_literal(text) {
            cx.err(
                &["metrics", "listen"],
                false,
                format!(
                    "insecure listener refused: metrics.listen \"{text}\" is not a loopback \
                     address and the metrics are served without TLS and auth; set \
                     metrics.auth: true with api.tls and api.auth, listen on 127.0.0.1, or set \
                     api.insecure: true"
                ),
            );
        }
    }
}

/// `services: []` on a token or client certificate: an empty scope is a
/// mistake (it used to mean "every service"); leave the key out for all.
fn scopes(cx: &mut Ctx, config: &Config) {
    let Some(auth) = &config.api.auth else {
        return;
    };
    let lists = [
        ("tokens", auth.tokens.len()),
        ("clients", auth.clients.len()),
    ];
    for (kind, count) in lists {
        for i in 0..count {
            let idx = format!("#{i}");
            let path = ["api", "auth", kind, &idx, "services"];
            if cx.is_empty_list(&path) {
                let what = if kind == "tokens" { "token" } else { "client" };
                cx.err(
                    &path,
                    false,
                    format!(
                        "\"services: []\" gives this {what} no service at all; list the service \
                         names (or globs) it may act on, or remove \"services\" to allow every \
                         service"
                    ),
                );
            }
        }
    }
}

/// A numeric `user` with no passwd entry has no primary group to default
/// to: running it with oneinit's own group (root's, in a container) would
/// be a silent privilege, so `group` must be given.
pub(super) fn identity_problem(svc: &ServiceConfig) -> Option<String> {
    let user = svc.user.as_deref()?;
    if svc.group.is_some() {
        return None;
    }
    let uid = user.parse::<u32>().ok()?;
    let by_name = matches!(nix::unistd::User::from_name(user), Ok(Some(_)));
    let by_uid = matches!(
        nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid)),
        Ok(Some(_))
    );
    if by_name || by_uid {
        return None;
    }
    Some(format!(
        "user {uid} has no entry in /etc/passwd, so it has no primary group; set \"group\" \
         too (a name or a gid, e.g. group: {uid})"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_paths() {
        assert_eq!(metrics_path_problem("/metrics"), None);
        assert_eq!(metrics_path_problem("/a/b-c_d.txt"), None);
        for bad in ["metrics", "/{x", "/a}", "/m?x", "/ m", "/a%20", ""] {
            assert!(metrics_path_problem(bad).is_some(), "{bad}");
        }
    }

    #[test]
    fn public_literals() {
        for public in [
            "0.0.0.0:80",
            "tcp://0.0.0.0:80",
            "[::]:80",
            "10.1.2.3:9",
            "[2001:db8::1]:1",
        ] {
            assert!(is_public_literal(public), "{public}");
        }
        for private in [
            "127.0.0.1:80",
            "[::1]:80",
            "localhost:80",
            "unix:///run/x.sock",
            "example.com:80",
            "nonsense",
        ] {
            assert!(!is_public_literal(private), "{private}");
        }
    }
}
