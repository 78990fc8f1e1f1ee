//! onecli against a running oneinit: every command of SPEC 1, table and
//! JSON output, and every exit code (0 ok, 1 failure, 2 usage, 3 no such
//! service, 4 unauthorized/forbidden, 5 unreachable).

use crate::util;

use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::process::{Command, Output, Stdio};
use std::time::Duration;
use util::api::{sha_hex, ApiDaemon as Daemon};

const CONFIG: &str = r#"
services:
  db:
    command: ["sleep", "1000"]
  web:
    command: ["sh", "-c", "echo web says hi; echo oops >&2; exec sleep 1000"]
    requires: [db]
  ticker:
    command: ["sh", "-c", "i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.2; done"]
  idle:
    command: ["sleep", "1000"]
    autostart: false
  lazy:
    type: on-demand
    command: ["sleep", "1000"]
  bad:
    command: ["sh", "-c", "sleep 0.3; exit 3"]
    autostart: false
    restart: {policy: never}
    readiness: {min_uptime: 5s}
"#;

/// Runs onecli with a bounded wait; answers (exit code, stdout, stderr).
fn onecli(server: &str, args: &[&str]) -> (i32, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_onecli"))
        .arg("--server")
        .arg(server)
        .args(args)
        .env_remove("ONECLI_TOKEN")
        .env_remove("ONECLI_SERVER")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("onecli runs");
    let deadline = std::time::Instant::now() + Duration::from_secs(40);
    loop {
        if child.try_wait().expect("wait").is_some() {
            break;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("onecli {args:?} did not finish within 40s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let Output {
        status,
        stdout,
        stderr,
    } = child.wait_with_output().expect("output");
    (
        status.code().unwrap_or(-1),
        String::from_utf8_lossy(&stdout).into_owned(),
        String::from_utf8_lossy(&stderr).into_owned(),
    )
}

#[actix_rt::test]
async fn every_command_over_the_unix_socket() {
    let d = Daemon::start(CONFIG).await;
    let sock = d.socket();
    let s = sock.as_str();

    let (code, out, _) = onecli(s, &["status"]);
    assert_eq!(code, 0);
    let header = out.lines().next().unwrap();
    assert_eq!(
        header.split_whitespace().collect::<Vec<_>>(),
        ["NAME", "TYPE", "STATE", "HEALTH", "PID", "UPTIME", "RESTARTS"]
    );
    let col = header.find("STATE").unwrap();
    for line in out.lines().skip(1) {
        assert!(line.len() > col, "{line}");
        assert_eq!(&line[col - 2..col], "  ", "aligned: {out}");
    }
    assert!(
        out.lines()
            .any(|l| l.starts_with("web ") && l.contains("ready")),
        "{out}"
    );

    let (code, out, _) = onecli(s, &["status", "web", "db", "--output", "json"]);
    assert_eq!(code, 0);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["services"][0]["name"], "web");
    assert_eq!(v["services"][1]["name"], "db");

    let (code, out, _) = onecli(s, &["list"]);
    assert_eq!(code, 0);
    assert!(out.contains("AUTOSTART") && out.contains("lazy"), "{out}");
    let (code, out, _) = onecli(s, &["list", "--tree"]);
    assert_eq!(code, 0);
    assert!(
        out.contains("web (ready)\n└── db (ready) [requires]"),
        "{out}"
    );
    let (code, out, _) = onecli(s, &["list", "--tree", "--output", "json"]);
    assert_eq!(code, 0);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert!(v["edges"].is_array());

    let (code, out, err) = onecli(s, &["start", "idle", "--wait"]);
    assert_eq!((code, out.trim()), (0, "idle: ready"), "{err}");
    let (code, out, _) = onecli(s, &["restart", "idle", "--wait", "--timeout", "20s"]);
    assert_eq!((code, out.trim()), (0, "idle: ready"));
    let (code, out, _) = onecli(s, &["signal", "idle", "HUP"]);
    assert_eq!((code, out.trim()), (0, "sent HUP to idle"));
    let (code, out, _) = onecli(s, &["stop", "idle", "--wait"]);
    assert_eq!((code, out.trim()), (0, "idle: stopped"));
    let (code, _, err) = onecli(s, &["start", "bad", "--wait"]);
    assert_eq!(code, 1, "a failed start is exit 1: {err}");
    assert!(err.contains("bad") && err.lines().count() == 1, "{err}");
    let (code, out, _) = onecli(s, &["trigger", "lazy"]);
    assert_eq!(code, 0);
    assert!(out.trim().parse::<u64>().is_ok(), "an instance id: {out}");
    let (code, _, err) = onecli(s, &["trigger", "web"]);
    assert_eq!(code, 1, "{err}");
    let (code, _, err) = onecli(s, &["signal", "web", "NOPE"]);
    assert_eq!(code, 1, "{err}");

    let (code, out, _) = onecli(s, &["logs", "web"]);
    assert_eq!(code, 0);
    assert_eq!(out, "web says hi\noops\n");
    let (code, out, _) = onecli(s, &["logs", "web", "--stream", "stderr"]);
    assert_eq!((code, out.as_str()), (0, "oops\n"));
    let (code, out, _) = onecli(s, &["logs", "web", "--tail", "1", "--output", "json"]);
    assert_eq!(code, 0);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["lines"].as_array().unwrap().len(), 1);

    let (code, out, _) = onecli(s, &["health"]);
    assert_eq!(
        (code, out.trim()),
        (0, "ready"),
        "only db, web, ticker autostart"
    );
    let (code, out, _) = onecli(s, &["health", "--output", "json"]);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["ready"].as_bool(), Some(code == 0));

    let (code, _, _) = onecli(s, &["stop", "db", "--wait"]);
    assert_eq!(code, 0);
    let (code, out, _) = onecli(s, &["health"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.starts_with("not ready: db"), "{out}");

    // reload / metrics answer what the server says (exit 0, or 1 with a message).
    let (code, out, err) = onecli(s, &["reload"]);
    assert!(code == 0 && out.contains("unchanged") || code == 1 && !err.is_empty());
    let (code, out, err) = onecli(s, &["metrics"]);
    assert!(code == 0 && out.contains("oneinit_") || code == 1 && !err.is_empty());
}

#[actix_rt::test]
async fn logs_follow_streams_new_lines() {
    let d = Daemon::start(CONFIG).await;
    let mut child = Command::new(env!("CARGO_BIN_EXE_onecli"))
        .args([
            "--server",
            &d.socket(),
            "logs",
            "ticker",
            "--tail",
            "1",
            "--follow",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut lines = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while lines.len() < 4 && std::time::Instant::now() < deadline {
        if let Ok(l) = rx.recv_timeout(Duration::from_millis(200)) {
            lines.push(l);
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(lines.len() >= 4, "{lines:?}");
    let nums: Vec<u64> = lines
        .iter()
        .map(|l| l.trim_start_matches("tick ").parse().unwrap())
        .collect();
    assert!(
        nums.windows(2).all(|w| w[1] == w[0] + 1),
        "consecutive: {nums:?}"
    );
}

#[actix_rt::test]
async fn exit_codes() {
    let config = format!(
        "api:\n  auth:\n    tokens: [{{name: v, sha256: \"{}\", role: viewer}}]\n{CONFIG}",
        sha_hex("viewer-token")
    );
    let d = Daemon::start(&config).await;
    let tcp = d.base.clone();
    // 0 with a token (flag and env), 4 without or with the wrong role.
    let (code, _, _) = onecli(&tcp, &["--token", "viewer-token", "status"]);
    assert_eq!(code, 0);
    let out = Command::new(env!("CARGO_BIN_EXE_onecli"))
        .args(["status"])
        .env("ONECLI_SERVER", &tcp)
        .env("ONECLI_TOKEN", "viewer-token")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "ONECLI_SERVER / ONECLI_TOKEN");
    let (code, _, err) = onecli(&tcp, &["status"]);
    assert_eq!(code, 4, "{err}");
    assert!(err.contains("token"), "{err}");
    let (code, _, _) = onecli(&tcp, &["--token", "viewer-token", "stop", "db"]);
    assert_eq!(code, 4);
    // 3: no such service.
    let (code, _, err) = onecli(&tcp, &["--token", "viewer-token", "status", "ghost"]);
    assert_eq!(code, 3, "{err}");
    let (code, _, _) = onecli(&d.socket(), &["start", "ghost"]);
    assert_eq!(code, 3);
    // 2: usage.
    let (code, _, _) = onecli(&tcp, &["frobnicate"]);
    assert_eq!(code, 2);
    let (code, _, _) = onecli(&tcp, &["start"]);
    assert_eq!(code, 2, "start needs a service");
    let (code, _, err) = onecli("ftp://x", &["status"]);
    assert_eq!(code, 2, "{err}");
    // 5: unreachable (closed port, missing socket).
    let (_closed, port) = util::refused_port();
    let (code, _, err) = onecli(&format!("http://127.0.0.1:{port}"), &["status"]);
    assert_eq!(code, 5, "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    let (code, _, _) = onecli("unix:///nonexistent/oneinit.sock", &["status"]);
    assert_eq!(code, 5);
    // The default server is the runtime directory's socket.
    let out = Command::new(env!("CARGO_BIN_EXE_onecli"))
        .args(["status", "db"])
        .env_remove("ONECLI_SERVER")
        .env("ONEINIT_RUNTIME_DIR", d.path("rt"))
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
