//! Every way a child can end, against the real binary (SPEC 1 and 9): each
//! signal 1..=64 a shell can die of gives 128+N, in tini mode and for a
//! critical service, also as PID 1; a death by a real-time signal is named
//! `RTMIN+N` in the `exited` record, in the API's `last_exit` and counted as
//! `outcome="signal"`.

use crate::util;

use std::time::{Duration, Instant};
use util::*;

/// Signals a shell cannot die of by `kill -N $$`: CHLD, CONT, URG and WINCH
/// are ignored by default; STOP stops it (see tests/faults_exit.rs), and
/// TSTP, TTIN and TTOU are discarded by the kernel for a process in an
/// orphaned process group, which every service is (own session).
const NOT_FATAL: [i32; 8] = [17, 18, 19, 20, 21, 22, 23, 28];

fn fatal_signals() -> impl Iterator<Item = i32> {
    (1..=64).filter(|n| !NOT_FATAL.contains(n))
}

/// `oneinit [ARGS] -- sh -c 'kill -N $$'`: the exit code, within 10 s.
fn tini_kill_self(n: i32, pid1: bool) -> (Option<i32>, Duration) {
    let script = format!("kill -{n} $$; sleep 5");
    let mut d = Daemon::start_args(
        &["--", "sh", "-c", &script],
        Opts {
            pid1,
            ..Opts::default()
        },
    );
    let t = Instant::now();
    let code = d.wait_exit(secs(10));
    (code, t.elapsed())
}

#[test]
fn tini_mode_exits_128_plus_n_for_every_signal() {
    let mut wrong = Vec::new();
    for n in fatal_signals() {
        let (code, took) = tini_kill_self(n, false);
        if code != Some(128 + n) || took > secs(5) {
            wrong.push(format!("signal {n}: exit {code:?} after {took:?}"));
        }
    }
    assert!(
        wrong.is_empty(),
        "expected 128+N quickly:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn as_pid1_a_realtime_death_ends_oneinit_with_128_plus_n() {
    for n in [35, 64, 15] {
        let (code, took) = tini_kill_self(n, true);
        assert_eq!(code, Some(128 + n), "signal {n} as PID 1");
        assert!(took < secs(5), "signal {n} as PID 1 took {took:?}");
    }
}

#[test]
fn a_critical_service_killed_by_a_realtime_signal_sets_the_exit_code() {
    let mut d = Daemon::start(
        r#"
services:
  db:
    command: ["sleep", "1000"]
  app:
    critical: true
    restart: {policy: never}
    command: ["sh", "-c", "sleep 0.2; kill -40 $$$$"]
"#,
    );
    assert_eq!(d.wait_exit(secs(20)), Some(168), "{}", d.stdout());
}

#[test]
fn a_realtime_death_is_named_in_the_record_the_api_and_the_metrics() {
    let d = Daemon::start_with(
        r#"
metrics: {listen: "127.0.0.1:0"}
services:
  rt:
    restart: {policy: never}
    command: ["sh", "-c", "kill -37 $$$$"]
  num:
    restart: {policy: never}
    command: ["sh", "-c", "kill -33 $$$$"]
"#,
        Opts {
            args: vec!["--api-listen".into(), "127.0.0.1:0".into()],
            ..Opts::default()
        },
    );
    let api = d.api_addr();
    d.expect_event("exited", Some("rt"), secs(10));
    d.expect_event("exited", Some("num"), secs(10));
    let rec = &d.events("exited", Some("rt"))[0];
    assert_eq!(rec["signal"], "RTMIN+3", "{rec}");
    assert!(rec["exit_code"].is_null(), "{rec}");
    assert_eq!(d.events("exited", Some("num"))[0]["signal"], "33");

    let (status, body) = http_get(&api, "/v1/services/rt", secs(5)).expect("API answers");
    assert_eq!(status, 200, "{body}");
    let view: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(view["last_exit"]["signal"], "RTMIN+3", "{view}");
    assert!(view["last_exit"]["code"].is_null(), "{view}");

    let addr = d.metrics_addr(secs(10)).expect("metrics listener");
    let mut text = String::new();
    assert!(
        wait_until(secs(10), || {
            text = d.scrape(&addr).unwrap_or_default();
            sample(
                &text,
                "oneinit_service_exits_total{outcome=\"signal\",service=\"rt\"}",
            ) == Some(1.0)
        }),
        "exit by RTMIN+3 not counted as a signal:\n{text}"
    );
}

#[test]
fn realtime_signals_are_accepted_wherever_a_signal_is_named() {
    let mut d = Daemon::start_with(
        r#"
services:
  w:
    command: ["sh", "-c", "trap 'echo got-rt2 >> {dir}/w.txt' 36; trap 'echo got-rt5 >> {dir}/w.txt' 39; echo up >> {dir}/w.txt; while :; do sleep 0.05; done"]
    forward_signals: ["RTMIN+2"]
    stop: {signal: "SIGRTMAX-25", timeout: 5s}
"#,
        Opts {
            args: vec!["--api-listen".into(), "127.0.0.1:0".into()],
            ..Opts::default()
        },
    );
    let api = d.api_addr();
    let file = d.path("w.txt");
    assert!(wait_until(secs(10), || lines(&file).contains(&"up".into())));
    // forward_signals: RTMIN+2 sent to oneinit reaches the service.
    let pid = d.oneinit_pid().expect("oneinit pid");
    send_signal(pid, 36);
    assert!(
        wait_until(secs(10), || lines(&file).contains(&"got-rt2".into())),
        "forwarded RTMIN+2 never arrived: {:?}",
        lines(&file)
    );
    // The API takes a name or a number.
    for body in [r#"{"signal":"RTMIN+2"}"#, r#"{"signal":36}"#] {
        let (status, answer) = post_json(&api, "/v1/services/w/signal", body);
        assert_eq!(status, 200, "{answer}");
        assert!(answer.contains("\"RTMIN+2\""), "{answer}");
    }
    let (status, answer) = post_json(&api, "/v1/services/w/signal", r#"{"signal":"RTMIN+31"}"#);
    assert_eq!(status, 400, "{answer}");
    // stop.signal RTMAX-25 (39 = RTMIN+5) is the signal of the shutdown.
    d.signal(nix::sys::signal::Signal::SIGTERM);
    assert!(
        wait_until(secs(10), || lines(&file).contains(&"got-rt5".into())),
        "stop signal RTMIN+5 never arrived: {:?}",
        lines(&file)
    );
    assert!(d.wait_exit(secs(15)).is_some());
    let stopping = d.events("stopping", Some("w"));
    assert_eq!(stopping[0]["signal"], "RTMIN+5", "{stopping:?}");
}

/// `kill(pid, n)` for any signal 1..=64 (nix's `kill` stops at 31).
fn send_signal(pid: i32, n: i32) {
    let sig = oneinit_actors::model::signal::Signal::new(n).expect("a signal number");
    oneinit_actors::sys::signals::kill(pid, sig).expect("kill");
}

/// A JSON POST over plain HTTP/1.1; (status, body).
fn post_json(addr: &str, path: &str, body: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).expect("connect to the API");
    s.set_read_timeout(Some(secs(5))).expect("timeout");
    write!(
        s,
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .expect("send");
    let mut raw = String::new();
    let _ = s.read_to_string(&mut raw);
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, body.to_string())
}

/// As PID 1, shutdown ends as soon as no process is left: the check for
/// children left (`waitid` with WNOWAIT) works, so the sweep does not wait
/// out `shutdown.sweep_grace` (2 s) and a SIGKILL round for nothing.
#[test]
fn as_pid1_shutdown_does_not_wait_out_the_sweep_grace() {
    let mut d = Daemon::start_with(
        r#"
services:
  a:
    command: ["sh", "-c", "touch {dir}/up; exec sleep 1000"]
"#,
        Opts {
            pid1: true,
            ..Opts::default()
        },
    );
    assert!(wait_until(secs(10), || d.path("up").exists()));
    let t = Instant::now();
    d.signal(nix::sys::signal::Signal::SIGTERM);
    assert_eq!(d.wait_exit(secs(10)), Some(0), "{}", d.stdout());
    let took = t.elapsed();
    assert!(took < Duration::from_millis(1500), "shutdown took {took:?}");
    assert!(
        !d.stdout().contains("processes left after SIGKILL sweep"),
        "{}",
        d.stdout()
    );
}
