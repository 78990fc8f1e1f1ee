//! Remote configuration sources (SPEC 2.2) against a real HTTP server on
//! 127.0.0.1 started by each test (`util::http`): mixed nested includes,
//! HTTP errors and retries, timeouts, redirect loops, oversized bodies,
//! sha256 pins, the last-good cache, the `allow_http` rule and
//! `remote.watch`.

use crate::util;

use sha2::{Digest, Sha256};
use std::path::PathBuf;
use std::time::{Duration, Instant};
use util::http::{HttpServer, Reply};
use util::*;

/// `remote:` settings for a test: plain http allowed (the test server
/// speaks http), short timeouts, a private cache folder.
fn remote_section(dir: &TestDir, timeout: &str, retries: u32) -> String {
    format!(
        "remote:\n  allow_http: true\n  timeout: {timeout}\n  retries: {retries}\n  cache_dir: {}\n",
        dir.path().join("cache").display()
    )
}

/// Writes `file`: a config that only includes `url`, with `remote_section`.
fn including(dir: &TestDir, file: &str, url: &str, timeout: &str, retries: u32) -> PathBuf {
    dir.write(
        file,
        &format!(
            "include: [\"{url}\"]\n{}",
            remote_section(dir, timeout, retries)
        ),
    )
}

fn check(top: &std::path::Path) -> Output {
    run_oneinit(
        &["check", "--config", &top.display().to_string(), "--print"],
        &[],
        secs(60),
    )
}

#[test]
fn nested_mixed_includes_local_remote_relative_and_local_glob() {
    let dir = TestDir::new();
    let srv = HttpServer::start();
    dir.write(
        "conf.d/a.toml",
        "[services.glob_a]\ncommand = \"sleep 1\"\n",
    );
    dir.write(
        "conf.d/b.json",
        "{\"services\": {\"glob_b\": {\"command\": \"sleep 2\"}}}\n",
    );
    let glob = dir.path().join("conf.d").join("*");
    srv.route(
        "/cfg/one.yaml",
        vec![Reply::yaml(
            "include: [sub/two.json, ../typed]\nservices:\n  one: {command: sleep 3}\n",
        )],
    );
    srv.route(
        "/cfg/sub/two.json",
        vec![Reply::Body(
            200,
            Some("text/plain"),
            format!(
                "{{\"include\": [\"{}\"], \"services\": {{\"two\": {{\"command\": \"sleep 4\"}}}}}}",
                glob.display()
            ),
        )],
    );
    // No extension: the Content-Type says TOML.
    srv.route(
        "/typed",
        vec![Reply::Body(
            200,
            Some("application/toml"),
            "[services.three]\ncommand = \"sleep 5\"\n".into(),
        )],
    );
    let top = dir.write(
        "top.yaml",
        &format!(
            "include: [\"{}\"]\n{}services:\n  top: {{command: sleep 6}}\n",
            srv.url("/cfg/one.yaml"),
            remote_section(&dir, "5s", 0)
        ),
    );
    let out = check(&top);
    assert_eq!(out.code, Some(0), "{out:?}");
    let printed: serde_yaml::Value = serde_yaml::from_str(&out.stdout).expect("--print is YAML");
    for name in ["top", "one", "two", "three", "glob_a", "glob_b"] {
        assert!(
            printed["services"][name]["command"].is_string()
                || printed["services"][name]["command"].is_sequence(),
            "{name} missing in {}",
            out.stdout
        );
    }
    assert_eq!(srv.hits("/cfg/sub/two.json"), 1);
}

#[test]
fn not_found_is_an_error_naming_the_include_chain() {
    let dir = TestDir::new();
    let srv = HttpServer::start();
    srv.route("/a.yaml", vec![Reply::yaml("include: [b.yaml]\n")]);
    let top = including(&dir, "top.yaml", &srv.url("/a.yaml"), "5s", 3);
    let started = Instant::now();
    let out = check(&top);
    assert_eq!(out.code, Some(2), "{out:?}");
    let want = format!(
        "{}:1:11: {} -> {} -> {}: the server answered HTTP 404",
        srv.url("/a.yaml"),
        top.display(),
        srv.url("/a.yaml"),
        srv.url("/b.yaml")
    );
    assert!(out.stderr.contains(&want), "{}", out.stderr);
    assert!(out.stderr.contains("top.yaml -> "), "{}", out.stderr);
    // A 404 is not retried.
    assert_eq!(srv.hits("/b.yaml"), 1);
    assert!(started.elapsed() < secs(10));
}

#[test]
fn server_errors_are_retried_until_success() {
    let dir = TestDir::new();
    let srv = HttpServer::start();
    srv.route(
        "/flaky.yaml",
        vec![
            Reply::status(500),
            Reply::status(503),
            Reply::yaml("services:\n  flaky: {command: sleep 1}\n"),
        ],
    );
    let top = including(&dir, "top.yaml", &srv.url("/flaky.yaml"), "5s", 3);
    let out = check(&top);
    assert_eq!(out.code, Some(0), "{out:?}");
    assert!(out.stdout.contains("flaky:"), "{}", out.stdout);
    assert_eq!(srv.hits("/flaky.yaml"), 3);

    // With too few retries the last status is reported.
    srv.route("/down.yaml", vec![Reply::status(500)]);
    let top = including(&dir, "down.yaml", &srv.url("/down.yaml"), "5s", 1);
    let out = check(&top);
    assert_eq!(out.code, Some(2), "{out:?}");
    assert!(
        out.stderr.contains("HTTP 500") && out.stderr.contains("after 2 attempts"),
        "{}",
        out.stderr
    );
    assert_eq!(srv.hits("/down.yaml"), 2);
}

#[test]
fn a_server_that_never_answers_times_out_in_bounded_time() {
    let dir = TestDir::new();
    let srv = HttpServer::start();
    srv.route("/hang.yaml", vec![Reply::Hang]);
    let top = including(&dir, "top.yaml", &srv.url("/hang.yaml"), "500ms", 1);
    let started = Instant::now();
    let out = check(&top);
    let took = started.elapsed();
    assert_eq!(out.code, Some(2), "{out:?}");
    assert!(out.stderr.contains("remote.timeout"), "{}", out.stderr);
    // 2 attempts × 500 ms + 200 ms backoff, plus start-up.
    assert!(took < secs(6), "took {took:?}");
    assert!(took >= Duration::from_millis(1000), "took {took:?}");
    assert_eq!(srv.hits("/hang.yaml"), 2);
}

#[test]
fn a_redirect_is_followed_and_a_redirect_loop_is_an_error() {
    let dir = TestDir::new();
    let srv = HttpServer::start();
    srv.route("/moved.yaml", vec![Reply::Redirect(srv.url("/real.yaml"))]);
    srv.route(
        "/real.yaml",
        vec![Reply::yaml("services:\n  real: {command: sleep 1}\n")],
    );
    srv.route("/r1.yaml", vec![Reply::Redirect("/r2.yaml".into())]);
    srv.route("/r2.yaml", vec![Reply::Redirect("/r1.yaml".into())]);
    let top = including(&dir, "ok.yaml", &srv.url("/moved.yaml"), "5s", 2);
    let out = check(&top);
    assert_eq!(out.code, Some(0), "{out:?}");
    assert!(out.stdout.contains("real:"));

    let top = including(&dir, "loop.yaml", &srv.url("/r1.yaml"), "5s", 2);
    let out = check(&top);
    assert_eq!(out.code, Some(2), "{out:?}");
    assert!(out.stderr.contains("redirect loop"), "{}", out.stderr);
    // Seen before it is asked again, and not retried: a loop stays a loop.
    assert_eq!(srv.hits("/r1.yaml"), 1);
    assert_eq!(srv.hits("/r2.yaml"), 1);
}

#[test]
fn a_100_mb_body_is_refused_without_reading_it_all() {
    let dir = TestDir::new();
    let srv = HttpServer::start();
    srv.route("/huge.yaml", vec![Reply::Huge(100 * 1024 * 1024)]);
    srv.route("/endless.yaml", vec![Reply::Endless]);
    for path in ["/huge.yaml", "/endless.yaml"] {
        let top = including(&dir, "top.yaml", &srv.url(path), "20s", 2);
        let started = Instant::now();
        let out = check(&top);
        assert_eq!(out.code, Some(2), "{out:?}");
        assert!(out.stderr.contains("too large"), "{}", out.stderr);
        assert!(
            started.elapsed() < secs(15),
            "{path} took {:?}",
            started.elapsed()
        );
        assert_eq!(srv.hits(path), 1, "{path} is not retried");
    }
}

#[test]
fn sha256_pins_are_checked() {
    let dir = TestDir::new();
    let srv = HttpServer::start();
    let body = "services:\n  pinned: {command: sleep 1}\n";
    srv.route("/pinned.yaml", vec![Reply::yaml(body)]);
    let good = hex::encode(Sha256::digest(body.as_bytes()));
    let bad = hex::encode(Sha256::digest(b"something else"));
    let top = dir.write(
        "good.yaml",
        &format!(
            "include:\n  - {{url: \"{}\", sha256: {good}}}\n{}",
            srv.url("/pinned.yaml"),
            remote_section(&dir, "5s", 0)
        ),
    );
    let out = check(&top);
    assert_eq!(out.code, Some(0), "{out:?}");
    let top = dir.write(
        "bad.yaml",
        &format!(
            "include:\n  - {{url: \"{}\", sha256: {bad}}}\n{}",
            srv.url("/pinned.yaml"),
            remote_section(&dir, "5s", 0)
        ),
    );
    let out = check(&top);
    assert_eq!(out.code, Some(2), "{out:?}");
    assert!(
        out.stderr.contains("sha256 mismatch")
            && out.stderr.contains(&good)
            && out.stderr.contains(&bad),
        "{}",
        out.stderr
    );
}

#[test]
fn plain_http_is_refused_without_allow_http() {
    let dir = TestDir::new();
    let srv = HttpServer::start();
    srv.route(
        "/a.yaml",
        vec![Reply::yaml("services:\n  a: {command: sleep 1}\n")],
    );
    let top = dir.write(
        "top.yaml",
        &format!("include: [\"{}\"]\n", srv.url("/a.yaml")),
    );
    let out = check(&top);
    assert_eq!(out.code, Some(2), "{out:?}");
    assert!(
        out.stderr.contains(&srv.url("/a.yaml")) && out.stderr.contains("remote.allow_http: true"),
        "{}",
        out.stderr
    );
    assert_eq!(srv.hits("/a.yaml"), 0, "refused before any request");

    // A top-level http source is kept only when it allows http itself.
    let url = srv.url("/a.yaml");
    let out = run_oneinit(&["check", "--config", &url], &[], secs(30));
    assert_eq!(out.code, Some(2), "{out:?}");
    assert!(
        out.stderr.contains("remote.allow_http: true"),
        "{}",
        out.stderr
    );
    srv.route(
        "/self.yaml",
        vec![Reply::yaml(&format!(
            "{}services:\n  s: {{command: sleep 1}}\n",
            remote_section(&dir, "5s", 0)
        ))],
    );
    let url = srv.url("/self.yaml");
    let out = run_oneinit(&["check", "--config", &url, "--print"], &[], secs(30));
    assert_eq!(out.code, Some(0), "{out:?}");
    assert!(out.stdout.contains("s:"), "{}", out.stdout);
}

#[test]
fn the_cached_copy_is_used_when_the_server_is_gone() {
    let dir = TestDir::new();
    let srv = HttpServer::start();
    srv.route(
        "/svc.yaml",
        vec![Reply::yaml(
            "services:\n  cached:\n    command: [sleep, \"100\"]\n",
        )],
    );
    let top = including(&dir, "top.yaml", &srv.url("/svc.yaml"), "1s", 0);
    let out = check(&top);
    assert_eq!(out.code, Some(0), "{out:?}");
    let cached: Vec<_> = std::fs::read_dir(dir.path().join("cache"))
        .unwrap()
        .collect();
    assert_eq!(cached.len(), 1, "one cached document");
    let url = srv.url("/svc.yaml");
    drop(srv);

    let d = Daemon::start_args(&["--config", &top.display().to_string()], Opts::default());
    assert!(
        d.wait_event("spawned", Some("cached"), secs(20)),
        "{}\n{}",
        d.stdout(),
        d.stderr()
    );
    let err = d.stderr();
    assert!(
        err.contains("warning") && err.contains(&url) && err.contains("using the cached copy"),
        "{err}"
    );

    // Without a cached copy the start fails with exit 2.
    let empty = dir.write(
        "nocache.yaml",
        &format!(
            "include: [\"{url}\"]\nremote: {{allow_http: true, timeout: 1s, retries: 0, cache_dir: {}}}\n",
            dir.path().join("empty-cache").display()
        ),
    );
    let out = run_oneinit(&["--config", &empty.display().to_string()], &[], secs(30));
    assert_eq!(out.code, Some(2), "{out:?}");
    assert!(out.stderr.contains("no cached copy"), "{}", out.stderr);
}

#[test]
fn remote_watch_reloads_when_the_served_file_changes() {
    let dir = TestDir::new();
    let srv = HttpServer::start();
    srv.route(
        "/svc.yaml",
        vec![Reply::yaml(
            "services:\n  first:\n    command: [sleep, \"100\"]\n",
        )],
    );
    let top = dir.write(
        "top.yaml",
        &format!(
            "include: [\"{}\"]\n{}  watch: 300ms\n",
            srv.url("/svc.yaml"),
            remote_section(&dir, "2s", 0)
        ),
    );
    let d = Daemon::start_args(&["--config", &top.display().to_string()], Opts::default());
    d.expect_event("spawned", Some("first"), secs(20));
    // Unchanged content: polled, but no reload.
    assert!(wait_until(secs(10), || srv.hits("/svc.yaml") >= 4));
    assert!(d.events("reloaded", None).is_empty(), "{}", d.stdout());
    srv.route(
        "/svc.yaml",
        vec![Reply::yaml(
            "services:\n  first:\n    command: [sleep, \"100\"]\n  second:\n    command: [sleep, \"100\"]\n",
        )],
    );
    assert!(d.wait_event("reloaded", None, secs(20)), "{}", d.stdout());
    d.expect_event("spawned", Some("second"), secs(20));
    assert_eq!(
        d.events("spawned", Some("first")).len(),
        1,
        "first untouched"
    );
}

/// A CA and a certificate for 127.0.0.1 signed by it: (CA PEM, chain, key).
fn test_pki() -> (String, Vec<Vec<u8>>, Vec<u8>) {
    let ca_key = rcgen::KeyPair::generate().expect("CA key");
    let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).expect("CA params");
    ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(rcgen::DnType::CommonName, "oneinit test CA");
    let ca_cert = ca.self_signed(&ca_key).expect("CA cert");
    let key = rcgen::KeyPair::generate().expect("server key");
    let leaf = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string()])
        .expect("server params")
        .signed_by(&key, &ca_cert, &ca_key)
        .expect("server cert");
    (
        ca_cert.pem(),
        vec![leaf.der().to_vec(), ca_cert.der().to_vec()],
        key.serialize_der(),
    )
}

#[test]
fn https_is_verified_and_a_custom_ca_file_is_trusted() {
    let dir = TestDir::new();
    let (ca_pem, chain, key) = test_pki();
    let srv = HttpServer::start_tls(chain, key);
    srv.route(
        "/tls.yaml",
        vec![Reply::yaml("services:\n  secure: {command: sleep 1}\n")],
    );
    let ca = dir.write("ca.pem", &ca_pem);
    let cache = dir.path().join("cache");
    let top = dir.write(
        "untrusted.yaml",
        &format!(
            "include: [\"{}\"]\nremote: {{retries: 3, timeout: 5s, cache_dir: {}}}\n",
            srv.url("/tls.yaml"),
            cache.display()
        ),
    );
    let started = Instant::now();
    let out = check(&top);
    assert_eq!(out.code, Some(2), "{out:?}");
    // An untrusted certificate is not retried (3 retries would take 1.4 s).
    assert!(
        started.elapsed() < Duration::from_millis(1300),
        "{:?} {}",
        started.elapsed(),
        out.stderr
    );
    assert!(!out.stderr.contains("attempts"), "{}", out.stderr);
    assert!(
        out.stderr.to_lowercase().contains("certificate"),
        "{}",
        out.stderr
    );
    let top = dir.write(
        "trusted.yaml",
        &format!(
            "include: [\"{}\"]\nremote: {{retries: 0, timeout: 5s, cache_dir: {}, ca_file: {}}}\n",
            srv.url("/tls.yaml"),
            cache.display(),
            ca.display()
        ),
    );
    let out = check(&top);
    assert_eq!(out.code, Some(0), "{out:?}");
    assert!(out.stdout.contains("secure:"), "{}", out.stdout);
}

#[test]
fn reload_uses_the_cache_or_keeps_the_running_config_when_the_server_is_gone() {
    let dir = TestDir::new();
    let srv = HttpServer::start();
    srv.route(
        "/svc.yaml",
        vec![Reply::yaml(
            "services:\n  web:\n    command: [sleep, \"100\"]\n",
        )],
    );
    let top = including(&dir, "top.yaml", &srv.url("/svc.yaml"), "1s", 0);
    let d = Daemon::start_args(&["--config", &top.display().to_string()], Opts::default());
    d.expect_event("spawned", Some("web"), secs(20));
    let pid = d.events("spawned", Some("web"))[0]["pid"].clone();
    drop(srv);

    // The cached copy stands in, with a warning: nothing changes.
    d.signal(nix::sys::signal::Signal::SIGHUP);
    assert!(d.wait_event("reloaded", None, secs(20)), "{}", d.stdout());
    assert!(
        d.records().iter().any(|r| r["level"] == "warn"
            && r["msg"]
                .as_str()
                .unwrap_or("")
                .contains("using the cached copy")),
        "{}",
        d.stdout()
    );

    // Without it the reload is refused and the running config kept.
    std::fs::remove_dir_all(dir.path().join("cache")).unwrap();
    d.signal(nix::sys::signal::Signal::SIGHUP);
    assert!(
        wait_until(secs(20), || d.stdout().contains("reload refused")),
        "{}",
        d.stdout()
    );
    assert!(d.stdout().contains("no cached copy"), "{}", d.stdout());
    let spawned = d.events("spawned", Some("web"));
    assert_eq!(spawned.len(), 1);
    assert_eq!(spawned[0]["pid"], pid);
    assert!(proc_state(pid.as_i64().unwrap() as i32).is_some_and(|s| s != 'Z'));
}

#[test]
fn errors_inside_a_remote_document_are_positioned_at_its_url() {
    let dir = TestDir::new();
    let srv = HttpServer::start();
    srv.route(
        "/bad.yaml",
        vec![Reply::yaml("services:\n  web:\n    comand: sleep 1\n")],
    );
    srv.route(
        "/bad.json",
        vec![Reply::yaml(
            "{\"services\": {\"x\": {\"command\": \"sleep 1\",}}}\n",
        )],
    );
    let top = dir.write(
        "top.yaml",
        &format!(
            "include: [\"{}\", \"{}\"]\n{}",
            srv.url("/bad.yaml"),
            srv.url("/bad.json"),
            remote_section(&dir, "5s", 0)
        ),
    );
    let out = check(&top);
    assert_eq!(out.code, Some(2), "{out:?}");
    let yaml = format!("{}:3:5: ", srv.url("/bad.yaml"));
    assert!(
        out.stderr.contains(&yaml) && out.stderr.contains("command"),
        "{}",
        out.stderr
    );
    let json = format!("{}:1:", srv.url("/bad.json"));
    assert!(out.stderr.contains(&json), "{}", out.stderr);
}
