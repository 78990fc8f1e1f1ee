//! SPEC 9 (issue 17 item 5): stopping a service — by the API/onecli or by a
//! dependency kill — stops its `requires` dependents first, in reverse
//! dependency order, and only then the service itself. Each service's TERM
//! trap appends its name to `order`; `worker` takes longest to stop, so
//! only a manager that waits for it before stopping `web` (and `db`) gets
//! the order right. `on_unhealthy: stop` (SPEC 5.1) goes through the same
//! stop plan.

use crate::util;

use std::process::{Command, Stdio};
use std::time::Duration;
use util::{lines, secs, wait_until, Daemon};

/// db <- web <- worker (`requires`); `worker` needs 0.5 s to stop; `db`
/// gets `db_keys` besides its command.
fn chain(db_keys: &str) -> String {
    format!(
        r#"
services:
  db:
    command: ["sh", "-c", "trap 'echo db >> {{dir}}/order; exit 0' TERM; echo up >> {{dir}}/db.up; while :; do sleep 0.05; done"]
{db_keys}
  web:
    requires: [db]
    command: ["sh", "-c", "trap 'echo web >> {{dir}}/order; exit 0' TERM; echo up >> {{dir}}/web.up; while :; do sleep 0.05; done"]
  worker:
    requires: [web]
    command: ["sh", "-c", "trap 'sleep 0.5; echo worker >> {{dir}}/order; exit 0' TERM; echo up >> {{dir}}/worker.up; while :; do sleep 0.05; done"]
"#
    )
}

const NO_RESTART: &str = "    restart: {policy: never}";

/// Waits (at most 10 s) for `count` names in `order` and answers them.
fn stop_order(d: &Daemon, count: usize) -> Vec<String> {
    let order = d.path("order");
    assert!(
        wait_until(secs(10), || lines(&order).len() >= count),
        "order so far {:?}: {}",
        lines(&order),
        d.stdout()
    );
    lines(&order)
}

/// Runs onecli against the daemon's API socket (bounded); answers its code.
fn onecli(d: &Daemon, args: &[&str]) -> i32 {
    let server = format!("unix://{}", d.path("run/oneinit.sock").display());
    let mut child = Command::new(env!("CARGO_BIN_EXE_onecli"))
        .arg("--server")
        .arg(&server)
        .args(args)
        .env_remove("ONECLI_TOKEN")
        .env_remove("ONECLI_SERVER")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("onecli runs");
    let mut code = None;
    let done = wait_until(secs(20), || {
        code = child
            .try_wait()
            .expect("wait")
            .map(|s| s.code().unwrap_or(-1));
        code.is_some()
    });
    if !done {
        let _ = child.kill();
        let _ = child.wait();
        panic!("onecli {args:?} did not finish within 20s");
    }
    code.unwrap_or(-1)
}

fn all_up(d: &Daemon) -> bool {
    ["db.up", "web.up", "worker.up"]
        .iter()
        .all(|f| d.path(f).exists())
}

#[test]
fn stopping_a_service_stops_its_requires_dependents_first() {
    let d = Daemon::start(&chain(NO_RESTART));
    assert!(wait_until(secs(10), || all_up(&d)), "{}", d.stdout());
    assert!(
        wait_until(secs(10), || d.path("run/oneinit.sock").exists()),
        "no API socket: {}",
        d.stderr()
    );
    assert_eq!(onecli(&d, &["stop", "db"]), 0, "{}", d.stdout());
    assert_eq!(
        stop_order(&d, 3),
        vec!["worker", "web", "db"],
        "{}",
        d.stdout()
    );
    // The dependents wait for db; the stopped db stays stopped.
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(lines(&d.path("order")).len(), 3);
    assert_eq!(lines(&d.path("db.up")).len(), 1, "db was started again");
}

#[test]
fn a_dependency_kill_stops_the_farthest_dependents_first() {
    let d = Daemon::start(&chain(NO_RESTART));
    assert!(wait_until(secs(10), || all_up(&d)), "{}", d.stdout());
    // db goes away on its own (restart: never): web and worker must stop,
    // worker (which requires web) before web.
    let db_pid = d
        .events("spawned", Some("db"))
        .first()
        .and_then(|r| r["pid"].as_i64())
        .expect("db's spawned record has its pid");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(db_pid as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .expect("kill db");
    assert_eq!(stop_order(&d, 2), vec!["worker", "web"], "{}", d.stdout());
}

/// `db` turns unhealthy when `{dir}/sick` exists.
const UNHEALTHY_STOPS: &str = r#"    health:
      - name: marker
        exec: {command: ["test", "!", "-e", "{dir}/sick"]}
        interval: 100ms
        timeout: 2s
        failure_threshold: 1
    on_unhealthy: stop"#;

#[test]
fn on_unhealthy_stop_stops_the_requires_dependents_first() {
    let d = Daemon::start(&chain(UNHEALTHY_STOPS));
    assert!(wait_until(secs(10), || all_up(&d)), "{}", d.stdout());
    d.expect_event("healthy", Some("db"), secs(10));
    std::fs::write(d.path("sick"), "").expect("write the marker");
    d.expect_event("unhealthy", Some("db"), secs(10));
    assert_eq!(
        stop_order(&d, 3),
        vec!["worker", "web", "db"],
        "{}",
        d.stdout()
    );
    // A service stopped for being unhealthy stays stopped, and so do the
    // dependents waiting for it.
    d.expect_event("stopped", Some("db"), secs(10));
    assert_eq!(lines(&d.path("db.up")).len(), 1, "db was started again");
    assert_eq!(lines(&d.path("web.up")).len(), 1, "web was started again");
}
