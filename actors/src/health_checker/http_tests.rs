//! The hand-written plain-http check against real local listeners.

use super::*;
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpListener;

fn cfg(url: &str) -> HttpCheck {
    HttpCheck {
        url: url.to_string(),
        method: "GET".into(),
        expect_status: vec![200],
        headers: BTreeMap::new(),
    }
}

/// A server that answers one connection with `answer` and hands back the
/// request it read (up to the blank line).
fn serve_once(answer: &'static [u8]) -> (String, std::thread::JoinHandle<String>) {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}/health?x=1", l.local_addr().expect("addr"));
    let t = std::thread::spawn(move || {
        let (mut s, _) = l.accept().expect("accept");
        let mut req = Vec::new();
        let mut b = [0u8; 1024];
        while !req.ends_with(b"\r\n\r\n") {
            match s.read(&mut b) {
                Ok(0) | Err(_) => break,
                Ok(n) => req.extend_from_slice(&b[..n]),
            }
        }
        let _ = s.write_all(answer);
        String::from_utf8_lossy(&req).into_owned()
    });
    (url, t)
}

async fn run(h: &HttpCheck, timeout: Duration) -> Result<(), HttpCheckError> {
    check(h, &HttpPlan::new(h), None, timeout).await
}

#[actix_rt::test]
async fn a_listed_status_passes_and_the_request_is_http_1_1() {
    let (url, server) = serve_once(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    let mut h = cfg(&url);
    h.headers.insert("X-Probe".into(), "yes".into());
    run(&h, Duration::from_secs(5)).await.expect("healthy");
    let req = server.join().expect("server");
    let host = url
        .trim_start_matches("http://")
        .split('/')
        .next()
        .unwrap_or_default();
    assert!(req.starts_with("GET /health?x=1 HTTP/1.1\r\n"), "{req}");
    assert!(req.contains(&format!("\r\nHost: {host}\r\n")), "{req}");
    assert!(req.contains("\r\nX-Probe: yes\r\n"), "{req}");
    assert!(req.contains("\r\nConnection: close\r\n"), "{req}");
}

#[actix_rt::test]
async fn another_status_fails_naming_it() {
    let (url, server) = serve_once(b"HTTP/1.0 503 Service Unavailable\r\n\r\n");
    let err = run(&cfg(&url), Duration::from_secs(5)).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("http GET {url}: status 503, expected [200]")
    );
    server.join().expect("server");
}

#[actix_rt::test]
async fn an_answer_that_is_not_http_fails() {
    let (url, server) = serve_once(b"SSH-2.0-OpenSSH\r\n");
    let err = run(&cfg(&url), Duration::from_secs(5)).await.unwrap_err();
    assert!(
        err.to_string()
            .ends_with("does not start with an HTTP status line"),
        "{err}"
    );
    server.join().expect("server");
}

#[actix_rt::test]
async fn a_closed_port_fails_with_the_connect_error() {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = l.local_addr().expect("addr");
    drop(l);
    let url = format!("http://{addr}/");
    let err = run(&cfg(&url), Duration::from_secs(5)).await.unwrap_err();
    assert!(
        err.to_string()
            .starts_with(&format!("http GET {url}: connect to {addr}: ")),
        "{err}"
    );
}

#[actix_rt::test]
async fn a_server_that_never_answers_is_bounded_by_the_timeout() {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}/", l.local_addr().expect("addr"));
    // Accepted by the kernel (backlog), never answered.
    let err = run(&cfg(&url), Duration::from_millis(200))
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("http GET {url}: no answer within 200ms")
    );
    drop(l);
}

#[test]
fn status_lines() {
    assert_eq!(parse_status_line(b"HTTP/1.1 204 No Content\r"), Some(204));
    assert_eq!(parse_status_line(b"HTTP/1.0 500\r"), Some(500));
    assert_eq!(parse_status_line(b"HTTP/2 302 Found"), Some(302));
    assert_eq!(parse_status_line(b"HTTP/1.1 2000 OK"), None);
    assert_eq!(parse_status_line(b"HTTP/1.1 OK"), None);
    assert_eq!(parse_status_line(b"ICY 200 OK"), None);
}

#[test]
fn plans() {
    assert!(matches!(
        HttpPlan::new(&cfg("http://localhost:8080/x")),
        HttpPlan::Plain(_)
    ));
    assert!(matches!(
        HttpPlan::new(&cfg("https://127.0.0.1/x")),
        HttpPlan::Client(_)
    ));
    assert!(matches!(
        HttpPlan::new(&cfg("http://u:p@127.0.0.1/x")),
        HttpPlan::Client(_)
    ));
    let mut bad = cfg("http://127.0.0.1/");
    bad.method = "GE T".into();
    match HttpPlan::new(&bad) {
        HttpPlan::Invalid(e) => {
            assert_eq!(e.to_string(), "http check: \"GE T\" is not an HTTP method")
        }
        _ => panic!("a method with a space is refused"),
    }
    let mut bad = cfg("http://127.0.0.1/");
    bad.headers.insert("X-A".into(), "a\r\nInjected: 1".into());
    assert!(matches!(
        HttpPlan::new(&bad),
        HttpPlan::Invalid(RequestError::Header(_))
    ));
    assert!(matches!(
        HttpPlan::new(&cfg("ftp://127.0.0.1/")),
        HttpPlan::Invalid(RequestError::Url { .. })
    ));
    assert!(matches!(
        HttpPlan::new(&cfg("127.0.0.1:80/health")),
        HttpPlan::Invalid(RequestError::Url { .. })
    ));
}

#[test]
fn user_headers_replace_the_defaults() {
    let mut h = cfg("http://[::1]:8080/");
    h.method = "post".into();
    h.headers.insert("host".into(), "svc.local".into());
    let HttpPlan::Plain(req) = HttpPlan::new(&h) else {
        panic!("plain http");
    };
    let text = String::from_utf8_lossy(&req.bytes).into_owned();
    assert!(text.starts_with("POST / HTTP/1.1\r\n"), "{text}");
    assert!(text.contains("\r\nhost: svc.local\r\n"), "{text}");
    assert!(!text.contains("Host: [::1]"), "{text}");
    assert!(text.contains("\r\nContent-Length: 0\r\n"), "{text}");
    assert_eq!(req.target.to_string(), "[::1]:8080");
}
