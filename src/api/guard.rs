//! Browser safety of the TCP listeners (SPEC 9), checked before any route:
//! - `Host` must be the address the connection arrived on, `localhost`, or
//!   a name in `api.allowed_hosts`, else 421 `misdirected_request` (DNS
//!   rebinding: a page on evil.example that resolves to 127.0.0.1 sends
//!   `Host: evil.example`);
//! - an `Origin` other than the listener's own (`scheme://Host`) is 403
//!   `forbidden_origin` (cross-site requests from a browser);
//! - a mutating request (POST: every mutating route of the API is a POST)
//!   needs `Content-Type: application/json`, else 415
//!   `unsupported_media_type` (a cross-site HTML form or `text/plain` fetch
//!   cannot send it without a CORS preflight, which this API never grants).
//!   Other methods have no route and answer 405 as before; browsers cannot
//!   send them cross-site without a preflight either.
//!
//! Unix-socket connections are exempt: browsers cannot reach them.

use super::conn::ConnInfo;
use super::error::HttpError;
use super::AppState;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{header, Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::{web, ResponseError};
use std::net::IpAddr;

/// What the guard needs to know about one request.
#[derive(Debug, Default)]
pub struct RequestFacts<'a> {
    pub method: Method,
    pub host: Option<&'a str>,
    pub origin: Option<&'a str>,
    pub content_type: Option<&'a str>,
    /// The local address of the connection (the listener's own address).
    pub local_ip: Option<IpAddr>,
    pub tls: bool,
}

/// The decision, apart from actix types (unit-tested).
pub fn check(facts: &RequestFacts, allowed_hosts: &[String]) -> Result<(), HttpError> {
    let host = facts.host.unwrap_or("");
    let name = host_name(host);
    let own = facts
        .local_ip
        .is_some_and(|ip| name.parse::<IpAddr>().is_ok_and(|h| h == ip));
    let allowed = !name.is_empty()
        && (own
            || name.eq_ignore_ascii_case("localhost")
            || allowed_hosts.iter().any(|h| h.eq_ignore_ascii_case(name)));
    if !allowed {
        return Err(HttpError::new(
            StatusCode::MISDIRECTED_REQUEST,
            "misdirected_request",
            format!(
                "Host {host:?} is not this listener's address or localhost; use the address \
                 oneinit listens on, or add the name to api.allowed_hosts"
            ),
        ));
    }
    if let Some(origin) = facts.origin {
        let scheme = if facts.tls { "https" } else { "http" };
        let own = format!("{scheme}://{host}");
        if !origin.eq_ignore_ascii_case(&own) {
            return Err(HttpError::new(
                StatusCode::FORBIDDEN,
                "forbidden_origin",
                format!(
                    "Origin {origin:?} is not this API's origin ({own}); cross-site requests \
                     are refused (use onecli, curl, or the dashboard at /ui/)"
                ),
            ));
        }
    }
    let mutating = facts.method == Method::POST;
    if mutating && !is_json(facts.content_type) {
        return Err(HttpError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            format!(
                "{} needs Content-Type: application/json (got {}), also with an empty body",
                facts.method,
                facts.content_type.unwrap_or("none")
            ),
        ));
    }
    Ok(())
}

/// `host[:port]` or `[v6]:port` → the name or address without the port.
fn host_name(host: &str) -> &str {
    if let Some(rest) = host.strip_prefix('[') {
        return rest.split(']').next().unwrap_or("");
    }
    match host.rsplit_once(':') {
        Some((name, port)) if port.chars().all(|c| c.is_ascii_digit()) => name,
        _ => host,
    }
}

fn is_json(content_type: Option<&str>) -> bool {
    content_type
        .and_then(|ct| ct.split(';').next())
        .is_some_and(|mime| mime.trim().eq_ignore_ascii_case("application/json"))
}

/// The middleware: checks TCP requests, passes unix-socket ones through.
pub async fn browser_safety(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let verdict = match req.conn_data::<ConnInfo>() {
        Some(ConnInfo::Tcp { local, tls, .. }) => {
            let text = |name| {
                req.headers()
                    .get(name)
                    .map(|v| v.to_str().unwrap_or("\u{fffd}"))
            };
            let facts = RequestFacts {
                method: req.method().clone(),
                host: text(header::HOST),
                origin: text(header::ORIGIN),
                content_type: text(header::CONTENT_TYPE),
                local_ip: local.map(|a| a.ip()),
                tls: *tls,
            };
            let allowed = req
                .app_data::<web::Data<AppState>>()
                .map(|st| st.live.current())
                .map(|live| live.allowed_hosts.clone())
                .unwrap_or_default();
            check(&facts, &allowed)
        }
        _ => Ok(()),
    };
    match verdict {
        Ok(()) => next.call(req).await.map(|r| r.map_into_left_body()),
        Err(e) => {
            if let Some(st) = req.app_data::<web::Data<AppState>>() {
                slog::debug!(st.log, "request refused"; "code" => e.code, "path" => req.path());
            }
            let resp = e.error_response();
            Ok(req.into_response(resp).map_into_right_body())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts<'a>(method: Method, host: &'a str) -> RequestFacts<'a> {
        RequestFacts {
            method,
            host: Some(host),
            local_ip: Some("127.0.0.1".parse().unwrap()),
            ..Default::default()
        }
    }

    #[test]
    fn hosts() {
        let ok = [
            "127.0.0.1:9900",
            "localhost:9900",
            "LOCALHOST",
            "api.internal:1",
        ];
        let allowed = vec!["api.internal".to_string()];
        for h in ok {
            assert!(check(&facts(Method::GET, h), &allowed).is_ok(), "{h}");
        }
        for h in ["evil.example:9900", "", "127.0.0.2:9900", "[::1]:9900"] {
            let e = check(&facts(Method::GET, h), &allowed).unwrap_err();
            assert_eq!(
                (e.status.as_u16(), e.code),
                (421, "misdirected_request"),
                "{h}"
            );
        }
        let mut v6 = facts(Method::GET, "[::1]:9900");
        v6.local_ip = Some("::1".parse().unwrap());
        assert!(check(&v6, &[]).is_ok());
    }

    #[test]
    fn origins() {
        let mut f = facts(Method::GET, "127.0.0.1:9900");
        f.origin = Some("http://127.0.0.1:9900");
        assert!(check(&f, &[]).is_ok());
        for bad in ["https://evil.example", "null", "https://127.0.0.1:9900"] {
            f.origin = Some(bad);
            let e = check(&f, &[]).unwrap_err();
            assert_eq!(
                (e.status.as_u16(), e.code),
                (403, "forbidden_origin"),
                "{bad}"
            );
        }
        f.tls = true;
        f.origin = Some("https://127.0.0.1:9900");
        assert!(check(&f, &[]).is_ok());
    }

    #[test]
    fn content_types() {
        let mut f = facts(Method::POST, "localhost");
        for bad in [
            None,
            Some("text/plain"),
            Some("application/x-www-form-urlencoded"),
        ] {
            f.content_type = bad;
            let e = check(&f, &[]).unwrap_err();
            assert_eq!((e.status.as_u16(), e.code), (415, "unsupported_media_type"));
        }
        for good in ["application/json", "Application/JSON; charset=utf-8"] {
            f.content_type = Some(good);
            assert!(check(&f, &[]).is_ok(), "{good}");
        }
        let mut get = facts(Method::GET, "localhost");
        get.content_type = Some("text/plain");
        assert!(check(&get, &[]).is_ok());
    }
}
