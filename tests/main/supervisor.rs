//! The core supervisor against the real binary: start order, restarts and
//! backoff, oneshots, dependencies, critical services, tini mode, users,
//! shutdown order and exit codes (SPEC 1, 2.3, 3, 5.2).

use crate::util;

use nix::sys::signal::Signal;
use std::time::Duration;
use util::*;

fn f64s(path: &std::path::Path) -> Vec<f64> {
    lines(path)
        .iter()
        .filter_map(|l| l.trim().parse().ok())
        .collect()
}

#[test]
fn sigterm_stops_services_in_reverse_dependency_order() {
    let mut d = Daemon::start(
        r#"
services:
  db:
    command: ["sh", "-c", "trap 'echo db >> {dir}/order; exit 0' TERM; echo up >> {dir}/db.up; while :; do sleep 0.05; done"]
  api:
    requires: [db]
    command: ["sh", "-c", "trap 'sleep 0.2; echo api >> {dir}/order; exit 0' TERM; echo up >> {dir}/api.up; while :; do sleep 0.05; done"]
  web:
    requires: [api]
    command: ["sh", "-c", "trap 'sleep 0.2; echo web >> {dir}/order; exit 0' TERM; echo up >> {dir}/web.up; while :; do sleep 0.05; done"]
"#,
    );
    assert!(
        wait_until(secs(10), || d.path("web.up").exists()),
        "web never started: {}",
        d.stdout()
    );
    d.signal(Signal::SIGTERM);
    assert_eq!(d.wait_exit(secs(15)), Some(0), "stdout: {}", d.stdout());
    assert_eq!(lines(&d.path("order")), vec!["web", "api", "db"]);
}

#[test]
fn restart_delays_grow_by_backoff_and_stop_at_max_delay() {
    let d = Daemon::start(
        r#"
services:
  flaky:
    command: ["sh", "-c", "date +%s.%N >> {dir}/starts; exit 1"]
    restart: {policy: on-failure, delay: 200ms, backoff: 2.0, max_delay: 800ms}
"#,
    );
    let starts = d.path("starts");
    assert!(
        wait_until(secs(15), || f64s(&starts).len() >= 6),
        "{}",
        d.stdout()
    );
    let t = f64s(&starts);
    let gaps: Vec<f64> = t.windows(2).map(|w| w[1] - w[0]).collect();
    // 200, 400, 800, 800, 800 ms (+ spawn time)
    let want = [0.2, 0.4, 0.8, 0.8, 0.8];
    for (g, w) in gaps.iter().zip(want) {
        assert!(
            *g >= w - 0.02 && *g < w + 0.25,
            "gaps {gaps:?} want {want:?}"
        );
    }
}

#[test]
fn max_retries_leads_to_failed_and_gave_up() {
    let d = Daemon::start(
        r#"
services:
  broken:
    command: ["sh", "-c", "echo run >> {dir}/runs; exit 4"]
    restart: {delay: 50ms, max_retries: 2}
"#,
    );
    d.expect_event("gave_up", Some("broken"), secs(10));
    // Part of the test: no run after gave_up (the delay is 50 ms).
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(lines(&d.path("runs")).len(), 3, "max_retries: 2 = 3 runs");
    let exits = d.events("exited", Some("broken"));
    assert_eq!(exits.len(), 3);
    assert_eq!(exits[0]["exit_code"], 4);
}

#[test]
fn independent_services_start_concurrently_while_a_dependent_waits() {
    let d = Daemon::start(
        r#"
services:
  a:
    command: ["sh", "-c", "date +%s.%N > {dir}/a; exec sleep 100"]
    readiness: {min_uptime: 1s}
  b:
    command: ["sh", "-c", "date +%s.%N > {dir}/b; exec sleep 100"]
    readiness: {min_uptime: 1s}
  c:
    requires: [a, b]
    command: ["sh", "-c", "date +%s.%N > {dir}/c; exec sleep 100"]
"#,
    );
    assert!(
        wait_until(secs(10), || ["a", "b", "c"]
            .iter()
            .all(|f| !f64s(&d.path(f)).is_empty())),
        "{}",
        d.stdout()
    );
    let a = f64s(&d.path("a"))[0];
    let b = f64s(&d.path("b"))[0];
    let c = f64s(&d.path("c"))[0];
    assert!((a - b).abs() < 0.5, "a and b start together: {a} {b}");
    assert!(
        c - a.max(b) >= 0.95,
        "c waits for a and b to be ready: {a} {b} {c}"
    );
}

#[test]
fn oneshot_gates_dependents_and_a_failing_one_blocks_them() {
    let d = Daemon::start(
        r#"
services:
  migrate:
    type: oneshot
    command: ["sh", "-c", "sleep 0.5; date +%s.%N > {dir}/migrated"]
  app:
    requires: [migrate]
    command: ["sh", "-c", "date +%s.%N > {dir}/app; exec sleep 100"]
  badmigrate:
    type: oneshot
    command: ["sh", "-c", "exit 3"]
  blocked:
    requires: [badmigrate]
    command: ["sh", "-c", "touch {dir}/blocked; exec sleep 100"]
"#,
    );
    assert!(
        wait_until(secs(10), || ["migrated", "app"]
            .iter()
            .all(|f| !f64s(&d.path(f)).is_empty())),
        "{}",
        d.stdout()
    );
    let m = f64s(&d.path("migrated"))[0];
    let a = f64s(&d.path("app"))[0];
    assert!(a >= m, "app started before migrate completed");
    assert!(d.wait_event("exited", Some("badmigrate"), secs(5)));
    // Part of the test: the dependent must not start after the failure.
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        !d.path("blocked").exists(),
        "a failed oneshot must block its dependents"
    );
}

#[test]
fn dependency_failing_for_good_stops_its_dependents() {
    let d = Daemon::start(
        r#"
services:
  db:
    command: ["sh", "-c", "while [ ! -e {dir}/die ]; do sleep 0.05; done; exit 1"]
    restart: {policy: never}
  web:
    requires: [db]
    stop: {timeout: 2s}
    command: ["sh", "-c", "trap 'touch {dir}/web.stopped; exit 0' TERM; touch {dir}/web.up; while :; do sleep 0.05; done"]
"#,
    );
    assert!(
        wait_until(secs(10), || d.path("web.up").exists()),
        "{}",
        d.stdout()
    );
    std::fs::write(d.path("die"), "").unwrap();
    assert!(
        wait_until(secs(10), || d.path("web.stopped").exists()),
        "web not stopped: {}",
        d.stdout()
    );
}

#[test]
fn critical_service_exit_code_becomes_oneinits() {
    let mut d = Daemon::start(
        r#"
services:
  app:
    critical: true
    command: ["sh", "-c", "sleep 0.3; exit 42"]
    restart: {policy: never}
  side:
    command: ["sleep", "100"]
"#,
    );
    assert_eq!(d.wait_exit(secs(15)), Some(42), "{}", d.stdout());
}

#[test]
fn critical_service_killed_by_signal_exits_128_plus_n() {
    let mut d = Daemon::start(
        r#"
services:
  app:
    critical: true
    # `$$$$`: the config reads `$$` as a literal `$` (SPEC 2), so the shell sees `$$`.
    command: ["sh", "-c", "kill -KILL $$$$"]
    restart: {policy: on-failure, delay: 10ms, max_retries: 1}
"#,
    );
    assert_eq!(d.wait_exit(secs(15)), Some(137), "{}", d.stdout());
    assert_eq!(
        d.events("exited", Some("app")).len(),
        2,
        "restarts are used up first"
    );
}

#[test]
fn tini_mode_exits_with_the_command_status() {
    let mut d = Daemon::start_args(
        &["--", "sh", "-c", "echo hello from main; exit 7"],
        Opts::default(),
    );
    assert_eq!(d.wait_exit(secs(10)), Some(7));
    assert!(
        d.stdout().contains("hello from main\n"),
        "output passed through unchanged: {}",
        d.stdout()
    );
}

#[test]
fn tini_mode_passes_on_the_stop_signal_and_exits_with_main_status() {
    // Written once the TERM trap is set; the signal is sent after that.
    let mark = std::env::temp_dir().join(format!("mark-{}-tini", std::process::id()));
    let _ = std::fs::remove_file(&mark);
    let mut d = Daemon::start_args(
        &[
            "--",
            "sh",
            "-c",
            "trap 'exit 3' TERM; touch $MARK; while :; do sleep 0.05; done",
        ],
        Opts {
            env: vec![("MARK", mark.to_string_lossy().into())],
            ..Opts::default()
        },
    );
    assert!(
        wait_until(secs(10), || mark.exists()),
        "main never started: {}",
        d.stdout()
    );
    d.signal(Signal::SIGTERM);
    assert_eq!(d.wait_exit(secs(10)), Some(3));
    let _ = std::fs::remove_file(&mark);
}

#[test]
fn forward_signals_reach_the_service() {
    let mut d = Daemon::start(
        r#"
services:
  app:
    forward_signals: [USR2]
    command: ["sh", "-c", "trap 'touch {dir}/got-usr2' USR2; touch {dir}/up; while :; do sleep 0.05; done"]
"#,
    );
    assert!(wait_until(secs(10), || d.path("up").exists()));
    d.signal(Signal::SIGUSR2);
    assert!(wait_until(secs(5), || d.path("got-usr2").exists()));
    d.signal(Signal::SIGTERM);
    assert_eq!(d.wait_exit(secs(15)), Some(0));
}

#[test]
fn service_runs_as_nobody_with_its_groups() {
    let d = Daemon::start(
        r#"
services:
  low:
    user: nobody
    command: ["sh", "-c", "id -u > {dir}/../uid-$$$$; exec sleep 100"]
"#,
    );
    let mut pid = None;
    assert!(wait_until(secs(10), || {
        pid = d
            .events("spawned", Some("low"))
            .first()
            .and_then(|r| r["pid"].as_i64());
        pid.is_some()
    }));
    let status = std::fs::read_to_string(format!("/proc/{}/status", pid.unwrap())).unwrap();
    let uid_line = status
        .lines()
        .find(|l| l.starts_with("Uid:"))
        .unwrap()
        .to_string();
    let nobody = nix::unistd::User::from_name("nobody")
        .unwrap()
        .unwrap()
        .uid
        .as_raw();
    let uids: Vec<u32> = uid_line
        .split_whitespace()
        .skip(1)
        .filter_map(|u| u.parse().ok())
        .collect();
    assert_eq!(uids, vec![nobody; 4], "{uid_line}");
}

#[test]
fn instances_get_their_own_process_and_id() {
    let d = Daemon::start(
        r#"
services:
  pool:
    instances: 3
    command: ["sh", "-c", "echo $ONEINIT_SERVICE-$ONEINIT_INSTANCE > {dir}/inst-$ONEINIT_INSTANCE; exec sleep 100"]
"#,
    );
    assert!(wait_until(secs(10), || (0..3)
        .all(|i| !lines(&d.path(&format!("inst-{i}"))).is_empty())));
    assert_eq!(lines(&d.path("inst-2")), vec!["pool-2"]);
    assert!(wait_until(secs(5), || d
        .events("spawned", Some("pool"))
        .len()
        == 3));
    let pids: std::collections::HashSet<i64> = d
        .events("spawned", Some("pool"))
        .iter()
        .filter_map(|r| r["pid"].as_i64())
        .collect();
    assert_eq!(pids.len(), 3);
}

#[test]
fn child_starts_with_clean_signal_state_own_session_and_no_extra_fds() {
    let d = Daemon::start(
        r#"
services:
  probe:
    command: ["sh", "-c", "exec sleep 100"]
"#,
    );
    let mut pid = 0;
    assert!(wait_until(secs(10), || {
        pid = d
            .events("spawned", Some("probe"))
            .first()
            .and_then(|r| r["pid"].as_i64())
            .unwrap_or(0) as i32;
        pid > 0
            && std::fs::read_link(format!("/proc/{pid}/exe")).is_ok_and(|p| p.ends_with("sleep"))
    }));
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let field = |k: &str| {
        status
            .lines()
            .find(|l| l.starts_with(k))
            .unwrap()
            .split_whitespace()
            .nth(1)
            .unwrap()
            .to_string()
    };
    assert_eq!(field("SigBlk:"), "0000000000000000");
    assert_eq!(field("SigIgn:"), "0000000000000000");
    let fds: Vec<String> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        fds.iter().all(|f| ["0", "1", "2"].contains(&f.as_str())),
        "fds: {fds:?}"
    );
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .unwrap()
        .1
        .split_whitespace()
        .collect();
    assert_eq!(fields[2], pid.to_string(), "own process group");
    assert_eq!(fields[3], pid.to_string(), "own session");
}

#[test]
fn bad_config_in_run_mode_exits_2_before_starting_anything() {
    let mut d = Daemon::start(
        r#"
services:
  a:
    command: ["sh", "-c", "touch {dir}/started"]
    requires: [ghost]
"#,
    );
    assert_eq!(d.wait_exit(secs(10)), Some(2));
    assert!(d.stderr().contains("ghost"), "{}", d.stderr());
    assert!(!d.path("started").exists());
}

#[test]
fn no_config_and_no_command_exits_2_naming_the_paths() {
    let mut d = Daemon::start_args(
        &[],
        Opts {
            env: vec![("ONEINIT_CONFIG", "/nonexistent/x.yaml".into())],
            ..Opts::default()
        },
    );
    assert_eq!(d.wait_exit(secs(10)), Some(2));
    assert!(d.stderr().contains("/nonexistent/x.yaml"), "{}", d.stderr());
}

#[test]
fn start_delay_and_notify_delay_hold_back_the_dependent() {
    let d = Daemon::start(
        r#"
services:
  base:
    command: ["sh", "-c", "date +%s.%N > {dir}/base; exec sleep 100"]
    notify_delay: 700ms
  top:
    requires: [base]
    start_delay: 300ms
    command: ["sh", "-c", "date +%s.%N > {dir}/top; exec sleep 100"]
"#,
    );
    assert!(
        wait_until(secs(10), || ["base", "top"]
            .iter()
            .all(|f| !f64s(&d.path(f)).is_empty())),
        "{}",
        d.stdout()
    );
    let gap = f64s(&d.path("top"))[0] - f64s(&d.path("base"))[0];
    assert!(
        gap >= 0.95,
        "notify_delay 700ms + start_delay 300ms, got {gap}"
    );
}

#[test]
fn after_and_before_order_starts_and_wants_tolerates_a_failure() {
    let d = Daemon::start(
        r#"
services:
  first:
    before: [second]
    readiness: {min_uptime: 400ms}
    command: ["sh", "-c", "date +%s.%N > {dir}/first; exec sleep 100"]
  second:
    command: ["sh", "-c", "date +%s.%N > {dir}/second; exec sleep 100"]
  third:
    after: [second]
    wants: [broken]
    command: ["sh", "-c", "date +%s.%N > {dir}/third; exec sleep 100"]
  broken:
    restart: {policy: never}
    command: ["sh", "-c", "exit 1"]
"#,
    );
    assert!(
        wait_until(secs(10), || ["first", "second", "third"]
            .iter()
            .all(|f| !f64s(&d.path(f)).is_empty())),
        "{}",
        d.stdout()
    );
    let (a, b, c) = (
        f64s(&d.path("first"))[0],
        f64s(&d.path("second"))[0],
        f64s(&d.path("third"))[0],
    );
    assert!(b - a >= 0.35, "second starts after first is ready: {a} {b}");
    assert!(
        c + 0.05 >= b,
        "third is spawned after second (its shell may print first by a hair): {b} {c}"
    );
}

#[test]
fn environment_env_file_workdir_umask_and_shell() {
    let d = Daemon::start(
        r#"
services:
  env:
    shell: true
    workdir: "{dir}"
    umask: "0077"
    environment: {GREETING: "hello $$HOME", FROM: "config"}
    command: "echo \"$GREETING|$FROM|$(pwd)|$(umask)\" > out; touch made"
    restart: {policy: never}
"#,
    );
    assert!(
        wait_until(secs(10), || d.path("made").exists()),
        "{}",
        d.stdout()
    );
    let out = lines(&d.path("out"))[0].clone();
    let dir = d.dir.path().to_string_lossy().into_owned();
    assert_eq!(out, format!("hello $HOME|config|{dir}|0077"));
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(d.path("made"))
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600);
}

#[test]
fn env_file_values_are_overridden_by_environment() {
    let dir = tempfile::tempdir().unwrap();
    let envf = dir.path().join("svc.env");
    std::fs::write(&envf, "# comment\nA=file\nB=\"quoted value\"\n").unwrap();
    let d = Daemon::start(&format!(
        r#"
services:
  env:
    env_file: ["{}"]
    environment: {{A: "config"}}
    command: ["sh", "-c", "echo \"$A|$B\" > {{dir}}/out"]
    restart: {{policy: never}}
"#,
        envf.display()
    ));
    assert!(
        wait_until(secs(10), || !lines(&d.path("out")).is_empty()),
        "{}",
        d.stdout()
    );
    assert_eq!(lines(&d.path("out")), vec!["config|quoted value"]);
}

#[test]
fn after_orders_the_start_whatever_the_names() {
    let d = Daemon::start(
        r#"
services:
  a:
    after: [b]
    command: ["sh", "-c", "date +%s.%N > {dir}/a; exec sleep 100"]
  b:
    readiness: {min_uptime: 400ms}
    command: ["sh", "-c", "date +%s.%N > {dir}/b; exec sleep 100"]
"#,
    );
    assert!(
        wait_until(secs(10), || ["a", "b"]
            .iter()
            .all(|f| !f64s(&d.path(f)).is_empty())),
        "{}",
        d.stdout()
    );
    let (a, b) = (f64s(&d.path("a"))[0], f64s(&d.path("b"))[0]);
    assert!(a - b >= 0.35, "a starts after b is ready: a={a} b={b}");
}

/// Spawns run on launcher threads while the reaper runs on the manager's:
/// a burst of processes that exit at once must still have every exit
/// routed to its service (none stays `running` with a dead pid), each with
/// its own pid and exit code, and the crash-looping ones keep restarting.
#[test]
fn every_exit_of_a_burst_of_instant_exits_reaches_its_service() {
    const N: usize = 200;
    let mut config = String::from("services:\n");
    for i in 0..N {
        config.push_str(&format!(
            "  s{i}:\n    command: [\"sh\", \"-c\", \"exit {}\"]\n    restart: {{policy: never}}\n",
            i % 7 + 1
        ));
    }
    config.push_str(
        "  loop:\n    command: [\"false\"]\n    restart: {policy: always, delay: 10ms, backoff: 1.0}\n",
    );
    let mut d = Daemon::start(&config);
    let failed = |d: &Daemon| {
        d.records()
            .into_iter()
            .filter(|r| r["event"] == "exited" && r["service"] != "loop")
            .count()
    };
    assert!(
        wait_until(secs(60), || failed(&d) >= N),
        "{} of {N} exits recorded: {}",
        failed(&d),
        d.stdout()
    );
    // One parse of the log, then each service's records from it.
    let records = d.records();
    let of = |event: &str, name: &str| -> Vec<&serde_json::Value> {
        records
            .iter()
            .filter(|r| r["event"] == event && r["service"] == name)
            .collect()
    };
    for i in 0..N {
        let name = format!("s{i}");
        let mine = of("exited", &name);
        assert_eq!(mine.len(), 1, "{name}: {mine:?}");
        assert_eq!(mine[0]["exit_code"], (i % 7 + 1) as i64, "{name}: {mine:?}");
        let spawned = of("spawned", &name);
        assert_eq!(spawned.len(), 1, "{name}: {spawned:?}");
        assert_eq!(spawned[0]["pid"], mine[0]["pid"], "{name}");
    }
    assert!(
        wait_until(secs(20), || d.events("exited", Some("loop")).len() >= 20),
        "the crash loop stalled: {}",
        d.stdout()
    );
    // Failed services at shutdown: exit 1 (SPEC 1).
    d.signal(Signal::SIGTERM);
    assert_eq!(d.wait_exit(secs(20)), Some(1), "{}", d.stdout());
}
