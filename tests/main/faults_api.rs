//! Fault injection for the API and remote sources (issue 15, items 4 and
//! 6): a connection flood under `ulimit -n 64` (supervision goes on, the
//! unix socket stays usable, the TCP API recovers), and a remote config
//! server that trickles its body byte by byte slower than `remote.timeout`
//! (start falls over to the cache, reload keeps the running configuration,
//! both within the timeout).

use crate::util;

use std::io::Read;
use std::time::{Duration, Instant};
use util::api::{wait_for, ApiDaemon};
use util::http::{HttpServer, Reply};
use util::{run_oneinit, secs, TestDir};

const DOC: &str = "services:\n  from_remote:\n    command: [sleep, '1000']\n";

fn including(dir: &TestDir, url: &str) -> std::path::PathBuf {
    dir.write(
        "top.yaml",
        &format!(
            "include: [\"{url}\"]\nremote:\n  allow_http: true\n  timeout: 1s\n  retries: 0\n  cache_dir: {}\n",
            dir.path().join("cache").display()
        ),
    )
}

#[test]
fn a_trickled_remote_body_falls_over_to_the_cache_within_the_timeout() {
    let dir = TestDir::new();
    let srv = HttpServer::start();
    srv.route("/c.yaml", vec![Reply::yaml(DOC)]);
    let top = including(&dir, &srv.url("/c.yaml"));
    let arg = top.display().to_string();
    let first = run_oneinit(&["check", "--config", &arg, "--print"], &[], secs(30));
    assert_eq!(first.code, Some(0), "{first:?}");
    // Now one byte every 100 ms: the whole body would take ~5 s, the
    // timeout is 1 s.
    srv.route(
        "/c.yaml",
        vec![Reply::Trickle(DOC.to_string(), Duration::from_millis(100))],
    );
    let t0 = Instant::now();
    let out = run_oneinit(&["check", "--config", &arg, "--print"], &[], secs(30));
    let took = t0.elapsed();
    assert_eq!(out.code, Some(0), "{out:?}");
    assert!(out.stdout.contains("from_remote"), "{}", out.stdout);
    assert!(out.stderr.contains("cached copy"), "{}", out.stderr);
    assert!(took < Duration::from_secs(4), "took {took:?}");
}

#[actix_rt::test]
async fn a_trickled_remote_body_on_reload_keeps_the_running_config() {
    let dir = TestDir::new();
    let srv = HttpServer::start();
    srv.route("/c.yaml", vec![Reply::yaml(DOC)]);
    // Not cached before start: the reload has no copy to fall back to.
    let top = including(&dir, &srv.url("/c.yaml"));
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_oneinit"));
    cmd.arg("--config")
        .arg(&top)
        .arg("--api-listen")
        .arg("127.0.0.1:0")
        .env("ONEINIT_RUNTIME_DIR", dir.path().join("rt"));
    let d = ApiDaemon::spawn_command(cmd, tempfile::tempdir().unwrap());
    let base = d.base.clone();
    let up = wait_for(Duration::from_secs(15), || {
        let u = format!("{base}/v1/services/from_remote");
        async move {
            let r = util::api::http().get(&u).send().await.ok()?;
            (r.status() == 200).then_some(())
        }
    })
    .await;
    assert!(up.is_some(), "oneinit did not come up");
    std::fs::remove_dir_all(dir.path().join("cache")).unwrap();
    srv.route(
        "/c.yaml",
        vec![Reply::Trickle(
            "services:\n  other:\n    command: [sleep, '1']\n".into(),
            Duration::from_millis(100),
        )],
    );
    let t0 = Instant::now();
    let (status, body) = util::api::call("POST", &format!("{base}/v1/reload"), None, None).await;
    assert!(
        t0.elapsed() < Duration::from_secs(5),
        "reload took {:?}",
        t0.elapsed()
    );
    assert_eq!(status, 422, "{body}");
    let (status, _) = util::api::call(
        "GET",
        &format!("{base}/v1/services/from_remote"),
        None,
        None,
    )
    .await;
    assert_eq!(status, 200, "the running configuration was dropped");
}

/// Counts `"event":"spawned"` records of `service` in oneinit's stdout file.
fn spawns(log: &std::path::Path, service: &str) -> usize {
    let mut text = String::new();
    if let Ok(mut f) = std::fs::File::open(log) {
        let _ = f.read_to_string(&mut text);
    }
    text.lines()
        .filter(|l| {
            l.contains("\"event\":\"spawned\"") && l.contains(&format!("\"service\":\"{service}\""))
        })
        .count()
}

#[actix_rt::test]
async fn a_connection_flood_under_ulimit_64_does_not_stop_supervision() {
    let dir = TestDir::new();
    let cfg = dir.write(
        "c.yaml",
        "services:\n  crashy:\n    command: [sh, -c, 'exit 1']\n    restart: {policy: always, delay: 50ms, backoff: 1.0}\n",
    );
    let rt = dir.path().join("rt");
    // `exec`: the shell becomes oneinit, with 64 descriptors at most.
    let script = format!(
        "ulimit -n 64 && exec {} --config {} --api-listen 127.0.0.1:0",
        env!("CARGO_BIN_EXE_oneinit"),
        cfg.display(),
    );
    let mut cmd = std::process::Command::new("sh");
    cmd.args(["-c", &script]).env("ONEINIT_RUNTIME_DIR", &rt);
    let d = ApiDaemon::spawn_command(cmd, tempfile::tempdir().unwrap());
    let log = d.path("out.log");
    let base = d.base.clone();
    let port = d.port;
    let healthy = || {
        let u = format!("{base}/healthz");
        async move {
            let r = util::api::http().get(&u).send().await.ok()?;
            (r.status() == 200).then_some(())
        }
    };
    assert!(wait_for(Duration::from_secs(15), healthy).await.is_some());
    // Flood: far more idle connections than descriptors.
    let mut flood = Vec::new();
    for _ in 0..200 {
        if let Ok(s) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            flood.push(s);
        }
    }
    let before = spawns(&log, "crashy");
    // Supervision goes on: the crash loop keeps being restarted.
    let restarted = wait_for(Duration::from_secs(10), || {
        let n = spawns(&log, "crashy");
        async move { (n >= before + 10).then_some(()) }
    })
    .await;
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(restarted.is_some(), "no restarts during the flood:\n{text}");
    assert!(!text.contains("\"event\":\"gave_up\""), "{text}");
    // The unix socket has its own cap: the local admin still gets in.
    let client =
        oneinit::client::Client::new(&format!("unix://{}/oneinit.sock", rt.display()), None, None)
            .unwrap();
    let r = client
        .call("GET", "/v1/services/crashy", None, Duration::from_secs(10))
        .await
        .expect("the unix socket answers during the flood");
    assert_eq!(r.status, 200);
    // The flood ends: TCP recovers.
    drop(flood);
    assert!(
        wait_for(Duration::from_secs(20), healthy).await.is_some(),
        "the TCP API did not recover after the flood"
    );
    drop(d);
}

#[actix_rt::test]
async fn slow_request_heads_and_bodies_are_cut_off() {
    use std::io::Write;
    let d = ApiDaemon::start("services:\n  web:\n    command: [sleep, '1000']\n").await;
    let addr = ("127.0.0.1", d.port);
    // A body that never completes: 408 within the body timeout.
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
    write!(
        s,
        "POST /v1/services/web/signal HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 40\r\n\r\n{{"
    )
    .unwrap();
    let t0 = Instant::now();
    let mut answer = String::new();
    let _ = s.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("request_timeout"), "{answer}");
    assert!(t0.elapsed() < Duration::from_secs(10), "{:?}", t0.elapsed());
    // A head that never completes: the connection is answered and closed.
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
    write!(s, "GET /v1/services HTTP/1.1\r\nHost: 127.0.0.1\r\n").unwrap();
    let t0 = Instant::now();
    let mut answer = String::new();
    let _ = s.read_to_string(&mut answer);
    assert!(t0.elapsed() < Duration::from_secs(10), "{:?}", t0.elapsed());
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 408"),
        "{answer}"
    );
}
