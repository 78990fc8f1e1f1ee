//! The API of the real `oneinit` binary with real services: endpoints and
//! their documented shapes, SSE follow of live output, tokens over TCP,
//! TLS and mTLS with certificates made here, the insecure-listener refusal
//! and unix socket handling (mode, stale file, live socket).

use crate::util;

use oneinit::client::{Client, SseParser};
use serde_json::{json, Value};
use std::time::Duration;
use util::api::{assert_documented, call, http, sha_hex, ApiDaemon as Daemon, Pki};

const SERVICES: &str = r#"
services:
  db:
    command: ["sleep", "1000"]
  web:
    command: ["sh", "-c", "echo web up; exec sleep 1000"]
    requires: [db]
  ticker:
    command: ["sh", "-c", "i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.2; done"]
  idle:
    command: ["sleep", "1000"]
    autostart: false
  bad:
    command: ["sh", "-c", "sleep 0.3; exit 3"]
    autostart: false
    restart: {policy: never}
    readiness: {min_uptime: 5s}
"#;

async fn get(url: &str, token: Option<&str>) -> (u16, Value) {
    call("GET", url, token, None).await
}

async fn post(url: &str, token: Option<&str>, body: Option<Value>) -> (u16, Value) {
    call("POST", url, token, body).await
}

#[actix_rt::test]
async fn endpoints_of_the_real_binary() {
    let d = Daemon::start(SERVICES).await;
    let (s, v) = get(&d.url("/v1/services"), None).await;
    assert_eq!(s, 200);
    assert_documented("get", "/v1/services", 200, &v);
    assert_eq!(v["services"].as_array().unwrap().len(), 5);
    let (s, v) = get(&d.url("/v1/services/web"), None).await;
    assert_documented("get", "/v1/services/{name}", s, &v);
    assert_eq!(v["requires"], json!(["db"]));
    let (s, v) = post(
        &d.url("/v1/services/idle/start?wait=true&timeout=10s"),
        None,
        None,
    )
    .await;
    assert_eq!((s, v["state"].as_str()), (200, Some("ready")), "{v}");
    let pid = v["instances"][0]["pid"].as_i64().expect("a pid");
    assert!(pid > 1);
    let (s, v) = post(
        &d.url("/v1/services/idle/signal"),
        None,
        Some(json!({"signal": "USR1"})),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    let (s, v) = post(
        &d.url("/v1/services/idle/stop?wait=true&timeout=10s"),
        None,
        None,
    )
    .await;
    assert_eq!((s, v["state"].as_str()), (200, Some("stopped")), "{v}");
    let (s, v) = post(
        &d.url("/v1/services/bad/start?wait=true&timeout=10s"),
        None,
        None,
    )
    .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (409, Some("failed")),
        "{v}"
    );
    let (s, v) = post(&d.url("/v1/services/web/trigger"), None, None).await;
    assert_eq!(s, 409, "ongoing services cannot be triggered: {v}");
    assert_documented("post", "/v1/services/{name}/trigger", s, &v);
    let (s, v) = get(&d.url("/v1/services/nope"), None).await;
    assert_eq!((s, v["error"]["code"].as_str()), (404, Some("not_found")));
    let (s, v) = get(&d.url("/v1/graph"), None).await;
    assert_documented("get", "/v1/graph", s, &v);
    assert!(v["edges"]
        .as_array()
        .unwrap()
        .contains(&json!({"from": "web", "to": "db", "kind": "requires"})));
    let (s, v) = get(&d.url("/v1/services/web/logs?tail=10"), None).await;
    assert_documented("get", "/v1/services/{name}/logs", s, &v);
    assert_eq!(v["lines"][0]["line"], "web up");
    let (s, v) = get(&d.url("/healthz"), None).await;
    assert_eq!(s, 200, "{v}");
    let (s, v) = get(&d.url("/readyz"), None).await;
    assert!(s == 200 || s == 503);
    assert_documented("get", "/readyz", s, &v);
    let (s, v) = get(&d.url("/v1/openapi.json"), None).await;
    assert_eq!((s, v["openapi"].as_str()), (200, Some("3.0.3")));
    let (s, v) = post(&d.url("/v1/reload"), None, None).await;
    assert!(s == 200 || s == 422 || s == 409, "{s} {v}");
    let r = http().delete(d.url("/v1/graph")).send().await.unwrap();
    assert_eq!(r.status(), 405);
    // The default socket exists with mode 0600 besides the TCP listener.
    use std::os::unix::fs::PermissionsExt;
    let sock = d.path("rt/oneinit.sock");
    let mode = std::fs::metadata(&sock).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let c = Client::new(&d.socket(), None, None).unwrap();
    let r = c
        .call("GET", "/v1/services/db", None, Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(r.status, 200);
}

#[actix_rt::test]
async fn sse_follow_and_events_deliver_live_data() {
    use futures_util::StreamExt;
    let d = Daemon::start(SERVICES).await;
    let began = chrono::Utc::now();
    let c = Client::new(&d.base, None, None).unwrap();
    let mut s = c
        .send("GET", "/v1/services/ticker/logs?tail=1&follow=true", None)
        .await
        .unwrap();
    assert_eq!(s.status, 200);
    let mut parser = SseParser::default();
    let mut fresh = None;
    let _ = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(Ok(chunk)) = s.body.next().await {
            for data in parser.push(&chunk) {
                let v: Value = serde_json::from_str(&data).unwrap();
                let ts: chrono::DateTime<chrono::Utc> =
                    serde_json::from_value(v["ts"].clone()).unwrap();
                if ts > began {
                    fresh = Some(v);
                }
            }
            if fresh.is_some() {
                break;
            }
        }
    })
    .await;
    let line = fresh.expect("a line written after the request arrived");
    assert!(
        line["line"].as_str().unwrap().starts_with("tick "),
        "{line}"
    );
    // Events: a restart of idle shows up as state changes.
    let mut ev = c.send("GET", "/v1/events", None).await.unwrap();
    assert_eq!(ev.status, 200);
    let (st, _) = post(&d.url("/v1/services/idle/start"), None, None).await;
    assert_eq!(st, 200);
    let mut parser = SseParser::default();
    let mut states = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(Ok(chunk)) = ev.body.next().await {
            for data in parser.push(&chunk) {
                let v: Value = serde_json::from_str(&data).unwrap();
                if v["service"] == "idle" {
                    states.push(v["state"].as_str().unwrap().to_string());
                }
            }
            if states.iter().any(|s| s == "ready") {
                break;
            }
        }
    })
    .await;
    assert!(states.iter().any(|s| s == "ready"), "{states:?}");
}

fn token_config(extra: &str) -> String {
    format!(
        r#"
api:
  auth:
    tokens:
      - {{name: view, sha256: "{}", role: viewer}}
      - {{name: ops, token_env: ONEINIT_TEST_OPS_TOKEN, role: operator, services: ["id*"]}}
{extra}
{SERVICES}"#,
        sha_hex("view-token")
    )
}

#[actix_rt::test]
async fn tokens_roles_and_scopes_over_tcp() {
    std::env::set_var("ONEINIT_TEST_OPS_TOKEN", "ops-token");
    let d = Daemon::start(&token_config("")).await;
    let (s, _) = get(&d.url("/v1/services"), None).await;
    assert_eq!(s, 401);
    let (s, _) = get(&d.url("/v1/services"), Some("nope")).await;
    assert_eq!(s, 401);
    let (s, v) = get(&d.url("/v1/services"), Some("view-token")).await;
    assert_eq!((s, v["services"].as_array().map(Vec::len)), (200, Some(5)));
    let (s, _) = post(&d.url("/v1/services/idle/start"), Some("view-token"), None).await;
    assert_eq!(s, 403);
    let (s, v) = get(&d.url("/v1/services"), Some("ops-token")).await;
    assert_eq!(s, 200);
    assert_eq!(
        v["services"].as_array().unwrap().len(),
        1,
        "scoped to id*: {v}"
    );
    let (s, _) = post(&d.url("/v1/services/idle/start"), Some("ops-token"), None).await;
    assert_eq!(s, 200);
    let (s, _) = post(&d.url("/v1/services/db/stop"), Some("ops-token"), None).await;
    assert_eq!(s, 403);
    let (s, _) = post(&d.url("/v1/reload"), Some("ops-token"), None).await;
    assert_eq!(s, 403);
    // Probes stay open; the own-uid unix peer is admin without a token.
    assert_eq!(get(&d.url("/healthz"), None).await.0, 200);
    let c = Client::new(&d.socket(), None, None).unwrap();
    let r = c
        .call(
            "POST",
            "/v1/services/db/restart",
            None,
            Duration::from_secs(5),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200);
}

#[actix_rt::test]
async fn tls_and_mtls() {
    let pki = Pki::new();
    pki.issue("server", "localhost", true);
    let (admin_crt, admin_key) = pki.issue("admin", "admin.example.com", false);
    let (who_crt, who_key) = pki.issue("who", "stranger.example.com", false);
    let other = Pki::new();
    let (rogue_crt, rogue_key) = other.issue("rogue", "admin.example.com", false);
    let config = format!(
        r#"
api:
  tls: {{cert: "{}", key: "{}", client_ca: "{}"}}
  auth:
    tokens: [{{name: view, sha256: "{}", role: viewer}}]
    clients: [{{cn: admin.example.com, role: admin}}]
    client_auth: optional
{SERVICES}"#,
        pki.path("server.crt"),
        pki.path("server.key"),
        pki.path("ca.crt"),
        sha_hex("view-token")
    );
    let mut d = Daemon::spawn(&config, &[]);
    d.base = format!("https://localhost:{}", d.port);
    let ca = reqwest::Certificate::from_pem(pki.ca_pem().as_bytes()).unwrap();
    let client = |identity: Option<(&str, &str)>| {
        let mut b = reqwest::Client::builder()
            .use_rustls_tls()
            .add_root_certificate(ca.clone())
            .timeout(Duration::from_secs(10));
        if let Some((c, k)) = identity {
            b = b.identity(reqwest::Identity::from_pem(format!("{c}{k}").as_bytes()).unwrap());
        }
        b.build().unwrap()
    };
    let anon = client(None);
    d.wait_healthy(&anon).await;
    // Plain HTTP to the TLS port does not get an answer.
    let plain = http()
        .get(format!("http://127.0.0.1:{}/healthz", d.port))
        .send()
        .await;
    assert!(plain.map(|r| r.status() != 200).unwrap_or(true));
    // Optional client auth: no certificate, token works; none is 401.
    let r = anon.get(d.url("/v1/services")).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let r = anon
        .get(d.url("/v1/services"))
        .bearer_auth("view-token")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // A listed CN is its role; an unlisted valid one is 403.
    let admin = client(Some((&admin_crt, &admin_key)));
    let r = admin
        .post(d.url("/v1/services/idle/start"))
        .header("Content-Type", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let who = client(Some((&who_crt, &who_key)));
    let r = who.get(d.url("/v1/services")).send().await.unwrap();
    assert_eq!(r.status(), 403);
    // A certificate from another CA fails the handshake.
    let rogue = client(Some((&rogue_crt, &rogue_key)));
    assert!(rogue.get(d.url("/v1/services")).send().await.is_err());
    drop(d);

    // client_auth: required — no certificate fails the handshake.
    let required = config.replace("client_auth: optional", "client_auth: required");
    let mut d = Daemon::spawn(&required, &[]);
    d.base = format!("https://localhost:{}", d.port);
    let admin = client(Some((&admin_crt, &admin_key)));
    d.wait_healthy(&admin).await;
    assert!(anon.get(d.url("/healthz")).send().await.is_err());
    let r = admin.get(d.url("/v1/graph")).send().await.unwrap();
    assert_eq!(r.status(), 200);
}

#[actix_rt::test]
async fn insecure_listener_is_refused_before_anything_starts() {
    let config = "services:\n  marker:\n    command: [\"touch\", \"started\"]\n";
    let mut d = Daemon::spawn(config, &["--api-listen", "0.0.0.0:0"]);
    let (code, err) = d.wait_exit(Duration::from_secs(10)).expect("oneinit exits");
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("insecure"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
    assert!(!d.path("started").exists(), "no service ran");
    // With insecure: true it starts.
    let ok = format!("api: {{insecure: true}}\n{config}");
    let mut d = Daemon::spawn(&ok, &["--api-listen", "0.0.0.0:0"]);
    d.wait_healthy(&http()).await;
    assert!(
        d.wait_exit(Duration::from_millis(100)).is_none(),
        "still running"
    );
}

#[actix_rt::test]
async fn stale_socket_replaced_live_socket_refused() {
    let config = "services:\n  s:\n    command: [\"sleep\", \"1000\"]\n";
    let d = Daemon::spawn(config, &[]);
    d.wait_healthy(&http()).await;
    // A second oneinit on the same runtime dir: its socket is live → exit 2.
    let mut second = std::process::Command::new(env!("CARGO_BIN_EXE_oneinit"))
        .arg("--config")
        .arg(d.path("c.yaml"))
        .arg("--api-listen")
        .arg("127.0.0.1:0")
        .env("ONEINIT_RUNTIME_DIR", d.path("rt"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(s) = second.try_wait().unwrap() {
            break s;
        }
        if std::time::Instant::now() > deadline {
            let _ = second.kill();
            panic!("the second oneinit did not exit");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(status.code(), Some(2));
    // A stale socket file (nobody listening) is replaced.
    let dir = tempfile::tempdir().unwrap();
    let rt = dir.path().join("rt");
    std::fs::create_dir(&rt).unwrap();
    drop(std::os::unix::net::UnixListener::bind(rt.join("oneinit.sock")).unwrap());
    assert!(rt.join("oneinit.sock").exists());
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_oneinit"));
    cmd.arg("--config")
        .arg(d.path("c.yaml"))
        .arg("--api-listen")
        .arg("127.0.0.1:0")
        .env("ONEINIT_RUNTIME_DIR", &rt);
    let mut third = Daemon::spawn_command(cmd, dir);
    third.wait_healthy(&http()).await;
    let c = Client::new(&format!("unix://{}/oneinit.sock", rt.display()), None, None).unwrap();
    let r = c
        .call("GET", "/healthz", None, Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(r.status, 200);
    assert!(third.wait_exit(Duration::from_millis(100)).is_none());
}
