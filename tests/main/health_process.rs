//! `process` checks (SPEC 2.4) see the instances the service runs now: each
//! check loop reads the current pids, so a service with every instance up
//! is healthy, and one whose instance died is not.

use crate::util;

use util::{secs, Daemon};

#[test]
fn process_check_follows_the_live_instances() {
    let d = Daemon::start(
        r#"
services:
  pair:
    command: ["sleep", "300"]
    instances: 2
    health:
      - process: {}
        interval: 100ms
        failure_threshold: 1
    on_unhealthy: notify
"#,
    );
    d.expect_event("healthy", Some("pair"), secs(10));
    assert!(
        d.events("unhealthy", Some("pair")).is_empty(),
        "{}",
        d.stdout()
    );
}
