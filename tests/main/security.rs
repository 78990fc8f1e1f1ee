//! Issue 16, one test per finding: secrets kept from children, browser
//! safety of TCP listeners (Content-Type, Origin, Host), token revocation on
//! reload, the runtime directory check (oneinit and onecli), scope filtering
//! of dependency names and /metrics, the metrics listener's insecure rule,
//! and https→http redirects. (Cache file mode and the socket mode before
//! listen() are unit tests: `config_loader::cache`, `sys::private_socket`.)

use crate::util;

use serde_json::{json, Value};
use std::time::Duration;
use util::api::{call, sha_hex, wait_for, ApiDaemon};
use util::http::{HttpServer, Reply};
use util::{run_oneinit, secs, TestDir};

/// `oneinit --config c.yaml --api-listen 127.0.0.1:0` with extra
/// environment variables; killed on drop (`ApiDaemon`).
fn spawn_with_env(config: &str, envs: &[(&str, &str)]) -> ApiDaemon {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = dir.path().join("c.yaml");
    std::fs::write(&cfg, config).expect("write config");
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_oneinit"));
    cmd.arg("--config")
        .arg(&cfg)
        .arg("--api-listen")
        .arg("127.0.0.1:0")
        .env("ONEINIT_RUNTIME_DIR", dir.path().join("rt"))
        .current_dir(dir.path());
    for (k, v) in envs {
        cmd.env(k, v);
    }
    ApiDaemon::spawn_command(cmd, dir)
}

/// The address of the metrics listener, from its `serving metrics` record.
async fn metrics_addr(d: &ApiDaemon) -> String {
    let log = d.path("out.log");
    wait_for(Duration::from_secs(15), || {
        let log = log.clone();
        async move {
            let text = std::fs::read_to_string(&log).ok()?;
            text.lines()
                .filter_map(|l| serde_json::from_str::<Value>(l).ok())
                .find(|r| r["msg"] == "serving metrics")
                .and_then(|r| r["listen"].as_str().map(str::to_string))
        }
    })
    .await
    .expect("a serving metrics record")
}

async fn started(config: &str, envs: &[(&str, &str)]) -> ApiDaemon {
    let d = spawn_with_env(config, envs);
    d.wait_healthy(&util::api::http()).await;
    d
}

/// Waits until `path` exists with content containing `needle`.
async fn file_with(path: &std::path::Path, needle: &str) -> String {
    let p = path.to_path_buf();
    let n = needle.to_string();
    wait_for(Duration::from_secs(15), || {
        let p = p.clone();
        let n = n.clone();
        async move { std::fs::read_to_string(&p).ok().filter(|t| t.contains(&n)) }
    })
    .await
    .unwrap_or_else(|| panic!("{} never contained {needle}", path.display()))
}

#[actix_rt::test]
async fn secrets_do_not_reach_a_nobody_service() {
    let out_dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(
        out_dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o777),
    )
    .unwrap();
    let env_file = out_dir.path().join("env.txt");
    let explicit = out_dir.path().join("explicit.txt");
    let user = if nix::unistd::getuid().is_root() {
        "    user: nobody\n"
    } else {
        ""
    };
    let config = format!(
        "secrets_env: [DB_PASSWORD]\n\
         api:\n  auth:\n    tokens:\n      - {{name: adm, token_env: ADM, role: admin}}\n\
         services:\n\
         \x20 printer:\n    type: oneshot\n{user}    command: [sh, -c, 'env > {env}; echo done >> {env}']\n\
         \x20 asks:\n    type: oneshot\n{user}    environment: {{GIVEN: \"${{DB_PASSWORD}}\"}}\n    command: [sh, -c, 'echo \"given=$GIVEN\" > {exp}']\n",
        env = env_file.display(),
        exp = explicit.display(),
    );
    let d = started(
        &config,
        &[
            ("ADM", "s3cret-admin"),
            ("ONECLI_TOKEN", "s3cret-cli"),
            ("DB_PASSWORD", "s3cret-db"),
            ("PLAIN_VAR", "visible"),
        ],
    )
    .await;
    let env = file_with(&env_file, "done").await;
    assert!(env.contains("PLAIN_VAR=visible"), "{env}");
    for secret in ["s3cret-admin", "s3cret-cli", "s3cret-db"] {
        assert!(
            !env.contains(secret),
            "{secret} leaked to the service:\n{env}"
        );
    }
    // Asked for by name: still expanded.
    let given = file_with(&explicit, "given=").await;
    assert_eq!(given.trim(), "given=s3cret-db");
    // The token itself still works for oneinit.
    let (status, _) = call("GET", &d.url("/v1/services"), Some("s3cret-admin"), None).await;
    assert_eq!(status, 200);
}

async fn raw(
    d: &ApiDaemon,
    method: reqwest::Method,
    path: &str,
    headers: &[(&str, &str)],
) -> (u16, Value) {
    let client = util::api::http();
    let mut rb = client.request(method, d.url(path));
    for (k, v) in headers {
        rb = rb.header(*k, *v);
    }
    let resp = rb.send().await.expect("request");
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap_or_default();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

const WEB: &str = "services:\n  web:\n    command: [sleep, '1000']\n";

#[actix_rt::test]
async fn cross_site_requests_and_dns_rebinding_are_refused_on_tcp() {
    let d = started(WEB, &[]).await;
    let post = reqwest::Method::POST;
    let signal = "/v1/services/web/signal";
    // A form-like cross-site POST: text/plain.
    let (s, body) = raw(&d, post.clone(), signal, &[("Content-Type", "text/plain")]).await;
    assert_eq!(s, 415, "{body}");
    assert_eq!(body["error"]["code"], "unsupported_media_type");
    // No content type, no body (mutating): also 415.
    let (s, _) = raw(&d, post.clone(), "/v1/services/web/restart", &[]).await;
    assert_eq!(s, 415);
    // Right type, foreign Origin.
    let (s, body) = raw(
        &d,
        post.clone(),
        "/v1/services/web/restart",
        &[
            ("Content-Type", "application/json"),
            ("Origin", "https://evil.example"),
        ],
    )
    .await;
    assert_eq!(s, 403, "{body}");
    assert_eq!(body["error"]["code"], "forbidden_origin");
    // DNS rebinding: a foreign Host, even for a read.
    let (s, body) = raw(
        &d,
        reqwest::Method::GET,
        "/v1/services",
        &[("Host", "evil.example")],
    )
    .await;
    assert_eq!(s, 421, "{body}");
    assert_eq!(body["error"]["code"], "misdirected_request");
    // The listener's own origin, JSON: accepted.
    let own = format!("http://127.0.0.1:{}", d.port);
    let (s, body) = raw(
        &d,
        post.clone(),
        "/v1/services/web/restart",
        &[("Content-Type", "application/json"), ("Origin", &own)],
    )
    .await;
    assert_eq!(s, 200, "{body}");
    let (s, _) = raw(
        &d,
        reqwest::Method::GET,
        "/v1/services",
        &[("Host", &format!("localhost:{}", d.port))],
    )
    .await;
    assert_eq!(s, 200);
    // The unix socket is exempt: a body-less POST without a type works.
    let client = oneinit::client::Client::new(&d.socket(), None, None).unwrap();
    let r = client
        .call(
            "POST",
            "/v1/services/web/restart",
            None,
            Duration::from_secs(20),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200);
}

#[actix_rt::test]
async fn allowed_hosts_extends_the_host_rule() {
    let config = format!("api:\n  allowed_hosts: [oneinit.internal]\n{WEB}");
    let d = started(&config, &[]).await;
    let (s, _) = raw(
        &d,
        reqwest::Method::GET,
        "/v1/services",
        &[("Host", "oneinit.internal:80")],
    )
    .await;
    assert_eq!(s, 200);
    let (s, _) = raw(
        &d,
        reqwest::Method::GET,
        "/v1/services",
        &[("Host", "other.internal")],
    )
    .await;
    assert_eq!(s, 421);
}

fn auth_config(tokens: &[(&str, &str, &str)]) -> String {
    let mut out = String::from("api:\n  auth:\n    tokens:\n");
    for (name, secret, role) in tokens {
        out.push_str(&format!(
            "      - {{name: {name}, sha256: \"{}\", role: {role}}}\n",
            sha_hex(secret)
        ));
    }
    out.push_str(WEB);
    out
}

#[actix_rt::test]
async fn reload_revokes_removed_tokens_at_once() {
    let d = started(
        &auth_config(&[
            ("adm", "admin-token", "admin"),
            ("old", "old-token", "viewer"),
        ]),
        &[],
    )
    .await;
    // A keep-alive client: its connection survives the reload.
    let (s, _) = call("GET", &d.url("/v1/services"), Some("old-token"), None).await;
    assert_eq!(s, 200);
    std::fs::write(
        d.path("c.yaml"),
        auth_config(&[("adm", "admin-token", "admin")]),
    )
    .unwrap();
    let (s, report) = call(
        "POST",
        &d.url("/v1/reload"),
        Some("admin-token"),
        Some(json!({})),
    )
    .await;
    assert_eq!(s, 200, "{report}");
    assert_eq!(report["api"], json!(["auth"]), "{report}");
    for key in ["added", "removed", "changed", "unchanged"] {
        assert!(report[key].is_array(), "{report}");
    }
    assert!(!report.to_string().contains("old-token"));
    let (s, _) = call("GET", &d.url("/v1/services"), Some("old-token"), None).await;
    assert_eq!(s, 401, "the removed token still works");
    let (s, _) = call("GET", &d.url("/v1/services"), Some("admin-token"), None).await;
    assert_eq!(s, 200);
}

#[test]
fn a_squatted_runtime_directory_is_refused() {
    let dir = TestDir::new();
    let rt = dir.path().join("rt");
    std::fs::create_dir(&rt).unwrap();
    std::fs::set_permissions(&rt, std::os::unix::fs::PermissionsExt::from_mode(0o777)).unwrap();
    let cfg = dir.write("c.yaml", WEB);
    let out = run_oneinit(
        &["--config", &cfg.display().to_string()],
        &[("ONEINIT_RUNTIME_DIR", &rt.display().to_string())],
        secs(30),
    );
    assert_eq!(out.code, Some(2), "{out:?}");
    assert!(out.stderr.contains("world-writable"), "{}", out.stderr);
    assert!(!rt.join("oneinit.sock").exists());
}

#[actix_rt::test]
async fn onecli_refuses_to_send_a_token_to_a_socket_in_an_open_folder() {
    let dir = TestDir::new();
    let rt = dir.path().join("open");
    std::fs::create_dir(&rt).unwrap();
    std::fs::set_permissions(&rt, std::os::unix::fs::PermissionsExt::from_mode(0o777)).unwrap();
    // A planted listener that records what it receives.
    let sock = rt.join("oneinit.sock");
    let listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    listener.set_nonblocking(true).unwrap();
    let out = util::run_bounded(
        std::process::Command::new(env!("CARGO_BIN_EXE_onecli"))
            .args(["--server", &format!("unix://{}", sock.display()), "list"])
            .env("ONECLI_TOKEN", "precious"),
        secs(20),
    );
    assert_ne!(out.code, Some(0), "{out:?}");
    assert!(
        out.stderr.contains("not sending the token"),
        "{}",
        out.stderr
    );
    assert!(
        listener.accept().is_err(),
        "onecli connected to the planted socket"
    );
}

#[actix_rt::test]
async fn scoped_tokens_see_no_names_outside_their_scope() {
    let config = format!(
        "metrics: {{auth: true}}\n\
         api:\n  auth:\n    tokens:\n      - {{name: ci, sha256: \"{}\", role: viewer, services: [\"web*\"]}}\n\
         services:\n  db:\n    command: [sleep, '1000']\n  web:\n    command: [sleep, '1000']\n    requires: [db]\n    after: [web-cache]\n  web-cache:\n    command: [sleep, '1000']\n",
        sha_hex("ci-token")
    );
    let d = started(&config, &[]).await;
    let (s, web) = call("GET", &d.url("/v1/services/web"), Some("ci-token"), None).await;
    assert_eq!(s, 200, "{web}");
    assert_eq!(web["requires"], json!([]), "{web}");
    assert_eq!(web["after"], json!(["web-cache"]), "{web}");
    let (s, list) = call("GET", &d.url("/v1/services"), Some("ci-token"), None).await;
    assert_eq!(s, 200);
    assert!(!list.to_string().contains("\"db\""), "{list}");
    let text = util::api::http()
        .get(d.url("/metrics"))
        .bearer_auth("ci-token")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(text.contains("service=\"web\""), "{text}");
    assert!(
        !text.contains("service=\"db\""),
        "db leaked into /metrics:\n{text}"
    );
}

#[test]
fn a_public_metrics_listener_without_tls_and_auth_is_refused() {
    let dir = TestDir::new();
    let cfg = dir.write(
        "c.yaml",
        &format!("metrics: {{listen: \"0.0.0.0:0\"}}\n{WEB}"),
    );
    let out = run_oneinit(
        &["--config", &cfg.display().to_string()],
        &[(
            "ONEINIT_RUNTIME_DIR",
            &dir.path().join("rt").display().to_string(),
        )],
        secs(30),
    );
    assert_eq!(out.code, Some(2), "{out:?}");
    assert!(out.stderr.contains("metrics.listen"), "{}", out.stderr);
}

#[actix_rt::test]
async fn the_metrics_listener_obeys_metrics_auth() {
    let config = format!(
        "metrics: {{auth: true, listen: \"127.0.0.1:0\"}}\n\
         api:\n  auth:\n    tokens:\n      - {{name: v, sha256: \"{}\", role: viewer}}\n{WEB}",
        sha_hex("view-token")
    );
    let d = started(&config, &[]).await;
    let url = format!("http://{}/metrics", metrics_addr(&d).await);
    let (s, _) = call("GET", &url, None, None).await;
    assert_eq!(s, 401);
    let (s, _) = call("GET", &url, Some("view-token"), None).await;
    assert_eq!(s, 200);
}

#[test]
fn an_https_include_may_not_redirect_to_http() {
    // The redirect target is plain http; allow_http is on, so only the
    // downgrade rule can refuse it. The https server is the test PKI's.
    let pki = util::api::Pki::new();
    let (cert, key) = pki.issue("srv", "localhost", true);
    let cert_der: Vec<Vec<u8>> = rustls_pemfile::certs(&mut cert.as_bytes())
        .map(|c| c.unwrap().to_vec())
        .collect();
    let key_der = rustls_pemfile::private_key(&mut key.as_bytes())
        .unwrap()
        .unwrap()
        .secret_der()
        .to_vec();
    let plain = HttpServer::start();
    plain.route(
        "/c.yaml",
        vec![Reply::yaml("services:\n  x: {command: [sleep, '1']}\n")],
    );
    let tls = HttpServer::start_tls(cert_der, key_der);
    tls.route("/c.yaml", vec![Reply::Redirect(plain.url("/c.yaml"))]);
    let dir = TestDir::new();
    let top = dir.write(
        "top.yaml",
        &format!(
            "include: [\"{}\"]\nremote: {{allow_http: true, retries: 0, timeout: 5s, cache_dir: \"{}\", ca_file: \"{}\"}}\n",
            tls.url("/c.yaml").replace("127.0.0.1", "localhost"),
            dir.path().join("cache").display(),
            pki.path("ca.crt"),
        ),
    );
    let out = run_oneinit(
        &["check", "--config", &top.display().to_string()],
        &[],
        secs(60),
    );
    assert_eq!(out.code, Some(2), "{out:?}");
    assert!(out.stderr.contains("https to plain http"), "{}", out.stderr);
    assert_eq!(plain.hits("/c.yaml"), 0);
}

#[actix_rt::test]
async fn sighup_rereads_the_tls_certificate_without_dropping_connections() {
    let old_ca = util::api::Pki::new();
    let new_ca = util::api::Pki::new();
    old_ca.issue("server", "localhost", true);
    let (new_crt, new_key) = new_ca.issue("server", "localhost", true);
    let dir = tempfile::tempdir().unwrap();
    let crt = dir.path().join("tls.crt");
    let key = dir.path().join("tls.key");
    std::fs::copy(old_ca.path("server.crt"), &crt).unwrap();
    std::fs::copy(old_ca.path("server.key"), &key).unwrap();
    let config = format!(
        "api:\n  tls: {{cert: \"{}\", key: \"{}\"}}\n{WEB}",
        crt.display(),
        key.display()
    );
    let mut d = spawn_with_env(&config, &[]);
    d.base = format!("https://localhost:{}", d.port);
    let trusting = |pki: &util::api::Pki| {
        reqwest::Client::builder()
            .use_rustls_tls()
            .add_root_certificate(reqwest::Certificate::from_pem(pki.ca_pem().as_bytes()).unwrap())
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap()
    };
    let (old_client, new_client) = (trusting(&old_ca), trusting(&new_ca));
    d.wait_healthy(&old_client).await;
    // An event stream opened before the rotation.
    let mut events = old_client
        .get(d.url("/v1/events"))
        .send()
        .await
        .unwrap()
        .bytes_stream();
    use futures_util::StreamExt;
    let first = events.next().await.unwrap().unwrap();
    assert!(String::from_utf8_lossy(&first).contains("events"));
    assert!(new_client.get(d.url("/healthz")).send().await.is_err());
    // Rotate in place, as a Kubernetes secret mount does, then SIGHUP.
    std::fs::write(&crt, new_crt).unwrap();
    std::fs::write(&key, new_key).unwrap();
    let pid = nix::unistd::Pid::from_raw(d.child.as_ref().unwrap().id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGHUP).unwrap();
    let rotated = wait_for(Duration::from_secs(10), || {
        let c = new_client.clone();
        let u = d.url("/healthz");
        async move { c.get(&u).send().await.ok().filter(|r| r.status() == 200) }
    })
    .await;
    assert!(
        rotated.is_some(),
        "the new certificate is not served after SIGHUP"
    );
    // The stream from before is still open and still delivers.
    let (s, _) = {
        let r = new_client
            .post(d.url("/v1/services/web/restart"))
            .header("Content-Type", "application/json")
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), ())
    };
    assert_eq!(s, 200);
    let got = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(Ok(chunk)) = events.next().await {
            if String::from_utf8_lossy(&chunk).contains("\"web\"") {
                return true;
            }
        }
        false
    })
    .await;
    assert_eq!(got, Ok(true), "the event stream was dropped by the reload");
}
