//! `on_unhealthy: stop` (SPEC 5.1) goes through the same stop plan as an
//! operator's stop (SPEC 9): the services that `require` the unhealthy one
//! stop first, farthest dependents first, and only then the service itself.
//! Each service's TERM trap appends its name to `order`; `worker` takes
//! longest to stop, so only a manager that waits for it gets the order right.

use crate::util;

use util::{lines, secs, wait_until, Daemon};

/// db <- web <- worker (`requires`); db turns unhealthy when `{dir}/sick`
/// exists; `worker` needs 0.5 s to stop.
const CHAIN: &str = r#"
services:
  db:
    command: ["sh", "-c", "trap 'echo db >> {dir}/order; exit 0' TERM; echo up >> {dir}/db.up; while :; do sleep 0.05; done"]
    health:
      - name: marker
        exec: {command: ["test", "!", "-e", "{dir}/sick"]}
        interval: 100ms
        timeout: 2s
        failure_threshold: 1
    on_unhealthy: stop
  web:
    requires: [db]
    command: ["sh", "-c", "trap 'echo web >> {dir}/order; exit 0' TERM; echo up >> {dir}/web.up; while :; do sleep 0.05; done"]
  worker:
    requires: [web]
    command: ["sh", "-c", "trap 'sleep 0.5; echo worker >> {dir}/order; exit 0' TERM; echo up >> {dir}/worker.up; while :; do sleep 0.05; done"]
"#;

#[test]
fn on_unhealthy_stop_stops_the_requires_dependents_first() {
    let d = Daemon::start(CHAIN);
    let all_up = || {
        ["db.up", "web.up", "worker.up"]
            .iter()
            .all(|f| d.path(f).exists())
    };
    assert!(wait_until(secs(10), all_up), "{}", d.stdout());
    d.expect_event("healthy", Some("db"), secs(10));
    std::fs::write(d.path("sick"), "").expect("write the marker");
    d.expect_event("unhealthy", Some("db"), secs(10));
    let order = d.path("order");
    assert!(
        wait_until(secs(10), || lines(&order).len() >= 3),
        "order so far {:?}: {}",
        lines(&order),
        d.stdout()
    );
    assert_eq!(lines(&order), vec!["worker", "web", "db"], "{}", d.stdout());
    // A service stopped for being unhealthy stays stopped, and so do the
    // dependents waiting for it.
    d.expect_event("stopped", Some("db"), secs(10));
    assert_eq!(lines(&d.path("db.up")).len(), 1, "db was started again");
    assert_eq!(lines(&d.path("web.up")).len(), 1, "web was started again");
}
