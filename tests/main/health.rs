//! Health checks, readiness, recovery actions and notifications against
//! the real binary (SPEC 2.3 readiness/health/on_unhealthy/notify, 2.4, 3
//! sd_notify, 5): local TCP and HTTP servers that each test switches
//! between up, down and slow, and a local webhook receiver.

use crate::util;

use serde_json::Value;
use std::time::{Duration, SystemTime};
use util::*;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Requests the stub received in `[from, to]` (to rounded up by a ms, as
/// log timestamps have millisecond precision).
fn hits_between(stub: &HttpStub, from: SystemTime, to: SystemTime) -> usize {
    let to = to + ms(1);
    stub.requests()
        .iter()
        .filter(|r| r.at >= from && r.at <= to)
        .count()
}

fn pids_spawned(d: &Daemon, service: &str) -> Vec<i64> {
    d.events("spawned", Some(service))
        .iter()
        .filter_map(|r| r["pid"].as_i64())
        .collect()
}

#[test]
fn failure_threshold_counts_checks_then_restart_changes_the_pid() {
    let stub = HttpStub::start(StubMode::Up);
    let d = Daemon::start(&format!(
        r#"
services:
  web:
    command: ["sleep", "300"]
    health:
      - name: api
        http: {{url: "{}"}}
        interval: 200ms
        timeout: 1s
        failure_threshold: 3
    on_unhealthy: restart
"#,
        stub.url("/health")
    ));
    d.expect_event("healthy", Some("web"), secs(10));
    let switched = SystemTime::now();
    stub.set(StubMode::Down);
    d.expect_event("unhealthy", Some("web"), secs(10));
    let ev = d.events("unhealthy", Some("web"))[0].clone();
    assert_eq!(ev["check"], "api");
    assert!(
        ev["msg"]
            .as_str()
            .unwrap_or_default()
            .contains("status 500"),
        "{ev}"
    );
    let at = record_time(&ev).expect("ts");
    assert_eq!(
        hits_between(&stub, switched, at),
        3,
        "3 failed checks before unhealthy"
    );
    // restart: a new process with a new pid.
    assert!(
        wait_until(secs(10), || pids_spawned(&d, "web").len() >= 2),
        "{}",
        d.stdout()
    );
    let pids = pids_spawned(&d, "web");
    assert_ne!(pids[0], pids[1]);
    assert!(!d.events("stopping", Some("web")).is_empty());
}

#[test]
fn start_period_failures_do_not_count() {
    let stub = HttpStub::start(StubMode::Down);
    let d = Daemon::start(&format!(
        r#"
services:
  web:
    command: ["sleep", "300"]
    health:
      - http: {{url: "{}"}}
        interval: 100ms
        failure_threshold: 2
        start_period: 1500ms
    on_unhealthy: ignore
"#,
        stub.url("/")
    ));
    d.expect_event("unhealthy", Some("web"), secs(10));
    let spawned = record_time(&d.events("spawned", Some("web"))[0]).expect("ts");
    let unhealthy = record_time(&d.events("unhealthy", Some("web"))[0]).expect("ts");
    let after = unhealthy.duration_since(spawned).unwrap_or_default();
    assert!(
        after >= ms(1500),
        "unhealthy {after:?} after spawn, within the start period"
    );
    assert!(after < ms(2500), "unhealthy only {after:?} after spawn");
    assert!(
        stub.hits() >= 10,
        "checks ran during the start period: {}",
        stub.hits()
    );
    // ignore: nothing is done to the service. Part of the test: a wrong
    // stop or restart would show within 300 ms.
    std::thread::sleep(ms(300));
    assert!(
        d.events("stopping", Some("web")).is_empty(),
        "{}",
        d.stdout()
    );
    assert_eq!(pids_spawned(&d, "web").len(), 1);
}

#[test]
fn slow_answers_time_out_and_health_comes_back() {
    let stub = HttpStub::start(StubMode::Up);
    let d = Daemon::start(&format!(
        r#"
services:
  web:
    command: ["sleep", "300"]
    health:
      - http: {{url: "{}", method: HEAD, expect_status: [200, 204], headers: {{X-Probe: "yes"}}}}
        interval: 150ms
        timeout: 300ms
        failure_threshold: 2
        success_threshold: 2
    on_unhealthy: notify
"#,
        stub.url("/live")
    ));
    d.expect_event("healthy", Some("web"), secs(10));
    let req = stub.requests()[0].clone();
    assert_eq!((req.method.as_str(), req.path.as_str()), ("HEAD", "/live"));
    assert_eq!(req.header("x-probe"), Some("yes"));
    stub.set(StubMode::Slow);
    d.expect_event("unhealthy", Some("web"), secs(10));
    let ev = &d.events("unhealthy", Some("web"))[0];
    assert!(
        ev["msg"]
            .as_str()
            .unwrap_or_default()
            .contains("no answer within 300ms"),
        "{ev}"
    );
    stub.set(StubMode::Up);
    assert!(
        wait_until(secs(10), || d.events("healthy", Some("web")).len() >= 2),
        "{}",
        d.stdout()
    );
    assert_eq!(pids_spawned(&d, "web").len(), 1, "notify does not restart");
}

#[test]
fn on_unhealthy_stop_stops_the_service_on_a_dead_tcp_port() {
    let port = closed_port();
    let d = Daemon::start(&format!(
        r#"
services:
  web:
    command: ["sleep", "300"]
    health:
      - tcp: {{address: "127.0.0.1:{port}"}}
        interval: 100ms
        failure_threshold: 1
    on_unhealthy: stop
"#
    ));
    d.expect_event("stopped", Some("web"), secs(10));
    assert!(!d.events("unhealthy", Some("web")).is_empty());
    // Part of the test: a restart would come within 500 ms (no backoff yet).
    std::thread::sleep(ms(500));
    assert_eq!(pids_spawned(&d, "web").len(), 1, "stopped, not restarted");
    let pid = pids_spawned(&d, "web")[0] as i32;
    assert!(
        proc_state(pid).is_none_or(|s| s == 'Z'),
        "process still runs"
    );
}

#[test]
fn unhealthy_and_recovered_reach_the_webhook_with_the_spec_body() {
    let health = HttpStub::start(StubMode::Down);
    let hook = HttpStub::start(StubMode::Up);
    let d = Daemon::start(&format!(
        r#"
notifiers:
  ops: {{webhook: {{url: "{}", headers: {{X-Token: "s3cret"}}}}}}
services:
  web:
    command: ["sleep", "300"]
    health:
      - http: {{url: "{}"}}
        interval: 100ms
        failure_threshold: 2
    on_unhealthy: notify
    notify: [ops]
"#,
        hook.url("/hook"),
        health.url("/")
    ));
    assert!(wait_until(secs(10), || hook.hits() >= 1), "{}", d.stdout());
    let req = hook.requests()[0].clone();
    assert_eq!(req.method, "POST");
    assert_eq!(req.path, "/hook");
    assert_eq!(req.header("x-token"), Some("s3cret"));
    assert_eq!(req.header("content-type"), Some("application/json"));
    let body: Value = serde_json::from_str(&req.body).expect("JSON body");
    let keys: Vec<&str> = body
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(
        sorted,
        [
            "event",
            "exit_code",
            "message",
            "restarts",
            "service",
            "time"
        ]
    );
    assert_eq!(body["event"], "unhealthy");
    assert_eq!(body["service"], "web");
    assert_eq!(body["restarts"], 0);
    assert_eq!(body["exit_code"], Value::Null);
    assert!(body["message"]
        .as_str()
        .unwrap_or_default()
        .contains("status 500"));
    assert!(
        chrono::DateTime::parse_from_rfc3339(body["time"].as_str().unwrap_or_default()).is_ok()
    );
    health.set(StubMode::Up);
    assert!(wait_until(secs(10), || hook.hits() >= 2), "{}", d.stdout());
    let body: Value = serde_json::from_str(&hook.requests()[1].body).expect("JSON body");
    assert_eq!(body["event"], "recovered");
    assert_eq!(pids_spawned(&d, "web").len(), 1);
}

#[test]
fn failed_and_gave_up_reach_command_slack_and_template_notifiers_with_retries() {
    let slack = HttpStub::start(StubMode::Up);
    let hook = HttpStub::start(StubMode::Up);
    // The template webhook fails twice: delivered on the third attempt.
    hook.script(&[503, 500]);
    let d = Daemon::start(&format!(
        r#"
notifiers:
  pager: {{command: {{command: ["sh", "-c", "cat >> {{dir}}/events.jsonl"]}}}}
  chat: {{slack: {{url: "{}"}}}}
  tpl: {{webhook: {{url: "{}", template: '{{"who": "{{{{service}}}}", "what": "{{{{event}}}}", "code": {{{{exit_code}}}}, "n": {{{{restarts}}}}}}'}}}}
services:
  job:
    command: ["sh", "-c", "exit 3"]
    restart: {{policy: on-failure, delay: 50ms, max_retries: 1}}
    notify: [pager, chat, tpl]
"#,
        slack.url("/slack"),
        hook.url("/tpl")
    ));
    d.expect_event("gave_up", Some("job"), secs(10));
    let events = d.path("events.jsonl");
    assert!(
        wait_until(secs(10), || lines(&events).len() >= 3),
        "{}",
        d.stdout()
    );
    let got: Vec<Value> = lines(&events)
        .iter()
        .map(|l| serde_json::from_str(l).expect("event JSON on stdin"))
        .collect();
    let kinds: Vec<&str> = got.iter().filter_map(|v| v["event"].as_str()).collect();
    assert_eq!(kinds, ["failed", "failed", "gave_up"]);
    assert_eq!(got[0]["exit_code"], 3);
    assert_eq!(got[0]["restarts"], 0);
    assert_eq!(got[1]["restarts"], 1);
    assert!(wait_until(secs(10), || slack.hits() >= 3));
    let text: Value = serde_json::from_str(&slack.requests()[0].body).expect("slack JSON");
    assert!(
        text["text"].as_str().unwrap_or_default().contains("job"),
        "{text}"
    );
    // Retries: 2 refused attempts (1 s, 2 s apart) before the first success.
    assert!(
        wait_until(secs(15), || hook.hits() >= 5),
        "hits {}",
        hook.hits()
    );
    let reqs = hook.requests();
    let gap = reqs[1].at.duration_since(reqs[0].at).unwrap_or_default();
    assert!(gap >= ms(900), "first retry after {gap:?}");
    let body: Value = serde_json::from_str(&reqs[2].body).expect("template renders JSON");
    assert_eq!(
        body,
        serde_json::json!({"who": "job", "what": "failed", "code": 3, "n": 0})
    );
}

#[test]
fn dependent_starts_only_after_the_readiness_check_passes() {
    let port = closed_port();
    let d = Daemon::start(&format!(
        r#"
services:
  db:
    command: ["sleep", "300"]
    readiness:
      check: {{tcp: {{address: "127.0.0.1:{port}"}}, interval: 100ms}}
  app:
    requires: [db]
    command: ["sh", "-c", "touch {{dir}}/app.started; exec sleep 300"]
"#
    ));
    assert!(d.wait_event("spawned", Some("db"), secs(10)));
    // Part of the test: ten failed readiness checks (100 ms) must not let
    // the dependent start.
    std::thread::sleep(ms(1000));
    assert!(
        !d.path("app.started").exists(),
        "app started before db was ready"
    );
    assert!(d.events("ready", Some("db")).is_empty());
    let listener = std::net::TcpListener::bind(("127.0.0.1", port)).expect("open the port");
    assert!(
        wait_until(secs(10), || d.path("app.started").exists()),
        "{}",
        d.stdout()
    );
    // The log is written asynchronously: wait for the line, not just the file.
    d.expect_event("spawned", Some("app"), secs(5));
    let ready = record_time(&d.events("ready", Some("db"))[0]).expect("ts");
    let app = record_time(&d.events("spawned", Some("app"))[0]).expect("ts");
    assert!(app >= ready);
    drop(listener);
}

#[test]
fn sd_notify_ready_and_status_from_a_script() {
    let d = Daemon::start(
        r#"
services:
  db:
    # The sender is python, a child of the instance's shell (which waits
    # for the test to write the script).
    command: ["sh", "-c", "while [ ! -f {dir}/notify.py ]; do sleep 0.02; done; python3 {dir}/notify.py & wait"]
    readiness: {notify: true, timeout: 20s}
  app:
    requires: [db]
    command: ["sh", "-c", "touch {dir}/app.started; exec sleep 300"]
"#,
    );
    std::fs::write(
        d.path("notify.py"),
        r#"
import os, socket, time
path = os.environ["NOTIFY_SOCKET"]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.sendto(b"STATUS=warming up\nX-UNKNOWN=1", path)
time.sleep(0.8)
s.sendto(b"READY=1\nSTATUS=serving", path)
time.sleep(300)
"#,
    )
    .expect("script");
    assert!(
        wait_until(secs(15), || d.path("app.started").exists()),
        "{}",
        d.stdout()
    );
    // The log is written asynchronously: wait for the line, not just the file.
    d.expect_event("spawned", Some("app"), secs(5));
    let spawned = record_time(&d.events("spawned", Some("db"))[0]).expect("ts");
    let ready = record_time(&d.events("ready", Some("db"))[0]).expect("ts");
    let took = ready.duration_since(spawned).unwrap_or_default();
    assert!(
        took >= ms(800),
        "ready {took:?} after spawn, before READY=1"
    );
    let app = record_time(&d.events("spawned", Some("app"))[0]).expect("ts");
    assert!(app >= ready);
}

#[test]
fn readiness_timeout_is_a_failed_start_and_restarts() {
    let d = Daemon::start(
        r#"
services:
  never:
    command: ["sleep", "300"]
    readiness: {notify: true, timeout: 400ms}
    restart: {policy: on-failure, delay: 50ms}
"#,
    );
    assert!(
        wait_until(secs(10), || pids_spawned(&d, "never").len() >= 3),
        "{}",
        d.stdout()
    );
    assert!(d.events("ready", Some("never")).is_empty());
    assert!(
        !d.events("restarting", Some("never")).is_empty(),
        "{}",
        d.stdout()
    );
}

#[test]
fn log_line_readiness_holds_dependents_until_the_line() {
    let d = Daemon::start(
        r#"
services:
  db:
    command: ["sh", "-c", "echo booting; sleep 0.7; echo 'db listening on 5432'; exec sleep 300"]
    readiness: {log_line: "listening on \\d+"}
  app:
    requires: [db]
    command: ["sh", "-c", "touch {dir}/app.started; exec sleep 300"]
"#,
    );
    assert!(
        wait_until(secs(10), || d.path("app.started").exists()),
        "{}",
        d.stdout()
    );
    // The log is written asynchronously: wait for the line, not just the file.
    d.expect_event("spawned", Some("app"), secs(5));
    let spawned = record_time(&d.events("spawned", Some("db"))[0]).expect("ts");
    let ready = record_time(&d.events("ready", Some("db"))[0]).expect("ts");
    assert!(ready.duration_since(spawned).unwrap_or_default() >= ms(700));
    let app = record_time(&d.events("spawned", Some("app"))[0]).expect("ts");
    assert!(app >= ready);
}

#[test]
fn exec_check_follows_a_file_and_a_hanging_check_is_killed() {
    let d = Daemon::start(
        r#"
services:
  web:
    command: ["sleep", "300"]
    health:
      - name: file
        exec: {command: ["sh", "-c", "echo checking; test -f {dir}/healthy"]}
        interval: 100ms
        failure_threshold: 1
    on_unhealthy: ignore
  hang:
    command: ["sleep", "300"]
    health:
      - exec: {command: ["sh", "-c", "echo $$$$ > {dir}/hang.pid; exec sleep 30"], timeout: 300ms}
        interval: 200ms
        failure_threshold: 1
    on_unhealthy: ignore
"#,
    );
    std::fs::write(d.path("healthy"), "").expect("file");
    d.expect_event("healthy", Some("web"), secs(10));
    std::fs::remove_file(d.path("healthy")).expect("rm");
    d.expect_event("unhealthy", Some("web"), secs(10));
    let ev = &d.events("unhealthy", Some("web"))[0];
    assert!(
        ev["msg"]
            .as_str()
            .unwrap_or_default()
            .contains("exited with 1: checking"),
        "{ev}"
    );
    // The hanging check times out, counts as a failure and is killed.
    d.expect_event("unhealthy", Some("hang"), secs(10));
    let ev = &d.events("unhealthy", Some("hang"))[0];
    assert!(
        ev["msg"]
            .as_str()
            .unwrap_or_default()
            .contains("timed out after 300ms"),
        "{ev}"
    );
    let pid: i32 = std::fs::read_to_string(d.path("hang.pid"))
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .expect("hang.pid");
    assert!(
        wait_until(secs(5), || proc_state(pid).is_none()),
        "timed-out check {pid} still exists (state {:?})",
        proc_state(pid)
    );
    // Checks never delay supervision: the service itself is still the first run.
    assert_eq!(pids_spawned(&d, "hang").len(), 1);
}

/// Voluntary context switches of each thread of `pid`, by thread id (each
/// wake-up of an idle thread is one).
fn wakeups(pid: i32) -> std::collections::HashMap<String, u64> {
    let mut per_thread = std::collections::HashMap::new();
    if let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) {
        for t in tasks.flatten() {
            let status = std::fs::read_to_string(t.path().join("status")).unwrap_or_default();
            let n = status
                .lines()
                .find_map(|l| l.strip_prefix("voluntary_ctxt_switches:"))
                .and_then(|v| v.trim().parse::<u64>().ok())
                .unwrap_or(0);
            per_thread.insert(t.file_name().to_string_lossy().into_owned(), n);
        }
    }
    per_thread
}

/// Wake-ups between two samples, thread by thread: a thread that ended in
/// between is not counted (its switches would make the sum go backwards), a
/// new one counts from zero.
fn wakeups_between(
    before: &std::collections::HashMap<String, u64>,
    after: &std::collections::HashMap<String, u64>,
) -> u64 {
    after
        .iter()
        .map(|(tid, n)| n.saturating_sub(before.get(tid).copied().unwrap_or(0)))
        .sum()
}

#[test]
fn no_checks_no_notifiers_means_no_wakeups() {
    let d = Daemon::start(
        r#"
notifiers:
  ops: {webhook: {url: "http://127.0.0.1:9/unused"}}
services:
  quiet:
    command: ["sleep", "300"]
    notify: [ops]
"#,
    );
    d.expect_event("ready", Some("quiet"), secs(10));
    let pid = d.oneinit_pid().expect("oneinit pid");
    // Let start-up settle (one-shot timers such as the memory trim and the
    // log buffers' release run about 1 s after the last activity), then
    // count wake-ups over two idle seconds: none may be periodic.
    std::thread::sleep(ms(2500));
    let before = wakeups(pid);
    std::thread::sleep(secs(2));
    let after = wakeups(pid);
    let woke = wakeups_between(&before, &after);
    assert!(woke <= 2, "oneinit woke up {woke} times in 2 idle seconds");
}
