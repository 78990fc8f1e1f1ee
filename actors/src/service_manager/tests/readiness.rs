//! Readiness: a service with a readiness rule becomes ready only when the
//! rule says so, and only then do its `requires` dependents start.

use super::{assert_after, start, start_on};
use crate::model::view::ServiceState;
use crate::os::fake::FakeKernel;
use std::time::Duration;

#[actix::test]
async fn min_uptime_holds_dependents_back_until_it_has_passed() {
    let mut h = start(
        r#"
services:
  db:
    command: ["db"]
    readiness: {min_uptime: 5s}
  web:
    command: ["web"]
    requires: [db]
"#,
    )
    .await;
    let v = h
        .wait_view("db", "running", |v| v.state == ServiceState::Running)
        .await;
    assert_eq!(v.instances.len(), 1);
    assert_eq!(
        h.view("web").await.map(|v| v.state),
        Some(ServiceState::Waiting)
    );
    h.wait_view("web", "ready", |v| v.state == ServiceState::Ready)
        .await;
    let (db, web) = (&h.kernel.spawns_of("db")[0], &h.kernel.spawns_of("web")[0]);
    assert_after(
        web.at.duration_since(db.at),
        Duration::from_secs(5),
        "web after db's min_uptime",
    );
    assert_eq!(
        h.view("db").await.map(|v| v.state),
        Some(ServiceState::Ready)
    );
}

/// Real time: the log line crosses a pipe to the reader thread.
#[actix::test]
async fn a_log_line_makes_the_service_ready_and_starts_its_dependent() {
    let kernel = FakeKernel::new();
    kernel.piped("db");
    let mut h = start_on(
        kernel,
        r#"
services:
  db:
    command: ["db"]
    readiness: {log_line: "accepting connections"}
  web:
    command: ["web"]
    requires: [db]
"#,
    )
    .await;
    let db = h.pid("db").await;
    h.kernel.write_stdout(db, "starting up\n");
    let v = h
        .wait_view("db", "running", |v| v.state == ServiceState::Running)
        .await;
    assert_eq!(v.instances[0].pid, Some(db));
    assert!(h.kernel.spawns_of("web").is_empty(), "web waits for db");
    h.kernel.write_stdout(db, "ready: accepting connections\n");
    h.wait_view("db", "ready", |v| v.state == ServiceState::Ready)
        .await;
    h.wait_view("web", "ready", |v| v.state == ServiceState::Ready)
        .await;
    assert_eq!(h.kernel.spawns_of("web").len(), 1);
}
