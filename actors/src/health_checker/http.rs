//! `http` checks (SPEC 2.4). A plain `http://` check is one HTTP/1.1
//! request written by hand over a tokio `TcpStream` (`Connection: close`,
//! the status line parsed, the rest of the answer discarded): at 200
//! services checked every second, reqwest's per-request machinery (header
//! maps, connection pool, hyper connection tasks, a resolver thread) cost
//! more CPU than everything else oneinit does. `https://` checks (and URLs
//! with credentials) still go through the shared reqwest client (rustls).
//!
//! The request bytes are built once per check config ([`HttpPlan::new`]);
//! a run costs a connect, one write, one or two reads and a timer. Proxy
//! environment variables are not used: a health check talks to the service.

use crate::model::config::HttpCheck;
use crate::model::units::format_duration;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The longest status line read before giving up on the answer.
const STATUS_LINE_MAX: usize = 1024;

/// Why an `http` check failed; the text is what the `unhealthy` event,
/// notifications and the debug log show.
#[derive(Debug, thiserror::Error)]
pub enum HttpCheckError {
    /// The config does not describe a request (reported at every run, as
    /// validation does not look into check URLs).
    #[error(transparent)]
    Request(#[from] RequestError),
    #[error("http {method} {url}: no answer within {}", format_duration(*timeout))]
    Timeout {
        method: String,
        url: String,
        timeout: Duration,
    },
    #[error("http {method} {url}: {source}")]
    Exchange {
        method: String,
        url: String,
        source: ExchangeError,
    },
    /// reqwest's error and its causes.
    #[error("http {method} {url}: {reason}")]
    Client {
        method: String,
        url: String,
        reason: String,
    },
    #[error("http {method} {url}: status {status}, expected {expected:?}")]
    Status {
        method: String,
        url: String,
        status: u16,
        expected: Vec<u16>,
    },
}

/// Where a plain-http exchange failed.
#[derive(Debug, thiserror::Error)]
pub enum ExchangeError {
    #[error("connect to {target}: {source}")]
    Connect {
        target: String,
        source: std::io::Error,
    },
    #[error("sending the request: {0}")]
    Send(std::io::Error),
    #[error("reading the answer: {0}")]
    Receive(std::io::Error),
    #[error("the server closed the connection without an answer")]
    Closed,
    #[error("the answer does not start with an HTTP status line")]
    NotHttp,
}

/// A check config that cannot become a request.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum RequestError {
    #[error("http check: {0:?} is not an HTTP method")]
    Method(String),
    #[error(
        "http check: {url:?} is not a usable URL ({reason}); write it as http://HOST:PORT/PATH"
    )]
    Url { url: String, reason: String },
    #[error("http check: header {0:?} has an invalid name or value (control characters are not allowed)")]
    Header(String),
}

/// How one `http` check config is run, decided once per config.
pub enum HttpPlan {
    /// Plain http: the hand-written request.
    Plain(Arc<PlainRequest>),
    /// https (or credentials in the URL): the shared reqwest client.
    Client(reqwest::Method),
    /// The config is unusable; every run reports why.
    Invalid(RequestError),
}

/// A prepared plain-http request.
pub struct PlainRequest {
    /// Where to connect: an address, or `host:port` to resolve per run.
    target: Target,
    /// The whole request, ready to write.
    bytes: Box<[u8]>,
}

enum Target {
    Addr(SocketAddr),
    Name(String),
}

impl HttpPlan {
    pub fn new(h: &HttpCheck) -> HttpPlan {
        match plan(h) {
            Ok(p) => p,
            Err(e) => HttpPlan::Invalid(e),
        }
    }
}

fn plan(h: &HttpCheck) -> Result<HttpPlan, RequestError> {
    let method = h.method.to_ascii_uppercase();
    if method.is_empty() || !method.bytes().all(is_token_char) {
        return Err(RequestError::Method(h.method.clone()));
    }
    for (name, value) in &h.headers {
        let name_ok = !name.is_empty() && name.bytes().all(is_token_char);
        let value_ok = value
            .bytes()
            .all(|b| b == b'\t' || (b >= 0x20 && b != 0x7f));
        if !name_ok || !value_ok {
            return Err(RequestError::Header(name.clone()));
        }
    }
    let bad_url = |reason: &str| RequestError::Url {
        url: h.url.clone(),
        reason: reason.to_string(),
    };
    let url = url::Url::parse(&h.url).map_err(|e| bad_url(&e.to_string()))?;
    if url.scheme() == "https" || (url.scheme() == "http" && has_credentials(&url)) {
        let m = reqwest::Method::from_bytes(method.as_bytes())
            .map_err(|_| RequestError::Method(h.method.clone()))?;
        return Ok(HttpPlan::Client(m));
    }
    if url.scheme() != "http" {
        return Err(bad_url("the scheme must be http or https"));
    }
    let host = url.host_str().ok_or_else(|| bad_url("no host"))?;
    let port = url.port_or_known_default().unwrap_or(80);
    let target = match url.host() {
        Some(url::Host::Ipv4(ip)) => Target::Addr(SocketAddr::new(IpAddr::V4(ip), port)),
        Some(url::Host::Ipv6(ip)) => Target::Addr(SocketAddr::new(IpAddr::V6(ip), port)),
        _ => Target::Name(format!("{host}:{port}")),
    };
    let bytes = request_bytes(&method, &url, h);
    Ok(HttpPlan::Plain(Arc::new(PlainRequest { target, bytes })))
}

fn has_credentials(url: &url::Url) -> bool {
    !url.username().is_empty() || url.password().is_some()
}

/// RFC 9110 `tchar`.
fn is_token_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fn request_bytes(method: &str, url: &url::Url, h: &HttpCheck) -> Box<[u8]> {
    let has = |name: &str| h.headers.keys().any(|k| k.eq_ignore_ascii_case(name));
    let mut target = url.path().to_string();
    if let Some(q) = url.query() {
        target.push('?');
        target.push_str(q);
    }
    let mut r = format!("{method} {target} HTTP/1.1\r\n");
    if !has("host") {
        let host = url.host_str().unwrap_or_default();
        match url.port() {
            Some(p) => r.push_str(&format!("Host: {host}:{p}\r\n")),
            None => r.push_str(&format!("Host: {host}\r\n")),
        }
    }
    if !has("user-agent") {
        r.push_str(concat!(
            "User-Agent: oneinit/",
            env!("CARGO_PKG_VERSION"),
            "\r\n"
        ));
    }
    if !has("accept") {
        r.push_str("Accept: */*\r\n");
    }
    if matches!(method, "POST" | "PUT" | "PATCH") && !has("content-length") {
        r.push_str("Content-Length: 0\r\n");
    }
    for (k, v) in &h.headers {
        if !k.eq_ignore_ascii_case("connection") {
            r.push_str(&format!("{k}: {v}\r\n"));
        }
    }
    r.push_str("Connection: close\r\n\r\n");
    r.into_bytes().into_boxed_slice()
}

/// Runs one `http` check: Ok when the status is one of `expect_status`.
pub async fn check(
    h: &HttpCheck,
    plan: &HttpPlan,
    client: Option<&reqwest::Client>,
    timeout: Duration,
) -> Result<(), HttpCheckError> {
    let method = || h.method.to_ascii_uppercase();
    let status = match (plan, client) {
        (HttpPlan::Invalid(e), _) => return Err(e.clone().into()),
        (HttpPlan::Plain(req), _) => match tokio::time::timeout(timeout, exchange(req)).await {
            Ok(Ok(status)) => status,
            Ok(Err(source)) => {
                return Err(HttpCheckError::Exchange {
                    method: method(),
                    url: h.url.clone(),
                    source,
                })
            }
            Err(_) => return Err(timed_out(h, timeout)),
        },
        (HttpPlan::Client(m), Some(client)) => with_client(h, m, client, timeout).await?,
        (HttpPlan::Client(_), None) => {
            return Err(HttpCheckError::Client {
                method: method(),
                url: h.url.clone(),
                reason: "the HTTPS client could not be set up (TLS); see oneinit's log".into(),
            })
        }
    };
    if h.expect_status.contains(&status) {
        Ok(())
    } else {
        Err(HttpCheckError::Status {
            method: method(),
            url: h.url.clone(),
            status,
            expected: h.expect_status.clone(),
        })
    }
}

fn timed_out(h: &HttpCheck, timeout: Duration) -> HttpCheckError {
    HttpCheckError::Timeout {
        method: h.method.to_ascii_uppercase(),
        url: h.url.clone(),
        timeout,
    }
}

/// Connect, send, read the status line; the error says which step failed.
async fn exchange(req: &PlainRequest) -> Result<u16, ExchangeError> {
    let mut stream = match &req.target {
        Target::Addr(a) => TcpStream::connect(a).await,
        Target::Name(n) => TcpStream::connect(n.as_str()).await,
    }
    .map_err(|source| ExchangeError::Connect {
        target: req.target.to_string(),
        source,
    })?;
    stream
        .write_all(&req.bytes)
        .await
        .map_err(ExchangeError::Send)?;
    let mut buf = [0u8; STATUS_LINE_MAX];
    let mut len = 0;
    let line_end = loop {
        let n = stream
            .read(&mut buf[len..])
            .await
            .map_err(ExchangeError::Receive)?;
        if n == 0 {
            return Err(ExchangeError::Closed);
        }
        len += n;
        if let Some(end) = buf[..len].iter().position(|&b| b == b'\n') {
            break end;
        }
        if len == buf.len() {
            return Err(ExchangeError::NotHttp);
        }
    };
    let status = parse_status_line(&buf[..line_end]).ok_or(ExchangeError::NotHttp)?;
    // Take what already arrived (up to 64 KiB), so that closing does not
    // reset the connection under the server; the rest is not needed.
    for _ in 0..64 {
        match stream.try_read(&mut buf) {
            Ok(n) if n > 0 => {}
            _ => break,
        }
    }
    Ok(status)
}

/// `HTTP/1.1 200 OK` -> 200.
fn parse_status_line(line: &[u8]) -> Option<u16> {
    let rest = line.strip_prefix(b"HTTP/")?;
    let space = rest.iter().position(|&b| b == b' ')?;
    let code = rest.get(space + 1..space + 4)?;
    if !code.iter().all(u8::is_ascii_digit) {
        return None;
    }
    if rest
        .get(space + 4)
        .is_some_and(|&b| b != b' ' && b != b'\r')
    {
        return None;
    }
    std::str::from_utf8(code).ok()?.parse().ok()
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Target::Addr(a) => write!(f, "{a}"),
            Target::Name(n) => f.write_str(n),
        }
    }
}

async fn with_client(
    h: &HttpCheck,
    method: &reqwest::Method,
    client: &reqwest::Client,
    timeout: Duration,
) -> Result<u16, HttpCheckError> {
    let mut req = client.request(method.clone(), &h.url).timeout(timeout);
    for (k, v) in &h.headers {
        req = req.header(k, v);
    }
    // The timeout above covers the whole exchange; this one also bounds
    // connection set-up on every platform.
    let sent = tokio::time::timeout(timeout + Duration::from_millis(100), req.send()).await;
    match sent {
        Ok(Ok(r)) => Ok(r.status().as_u16()),
        Ok(Err(e)) if e.is_timeout() => Err(timed_out(h, timeout)),
        Ok(Err(e)) => Err(HttpCheckError::Client {
            method: method.to_string(),
            url: h.url.clone(),
            reason: error_chain(&e),
        }),
        Err(_) => Err(timed_out(h, timeout)),
    }
}

/// reqwest's own message plus its causes ("error sending request: connection refused").
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut src = e.source();
    while let Some(s) = src {
        text.push_str(": ");
        text.push_str(&s.to_string());
        src = s.source();
    }
    text
}

/// The HTTPS client shared by all checks: rustls, no redirects (a 3xx is a
/// status like any other, to be listed in `expect_status`), no proxy, and,
/// like Kubernetes probes, no certificate verification (health endpoints
/// of local services commonly use self-signed certificates).
pub fn client() -> Option<reqwest::Client> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .danger_accept_invalid_certs(true)
        .no_proxy()
        .pool_idle_timeout(Duration::from_secs(30))
        .build()
        .ok()
}

#[cfg(test)]
#[path = "http_tests.rs"]
mod tests;
