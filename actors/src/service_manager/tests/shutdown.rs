//! Shutdown order: dependents are stopped before their dependencies, each
//! with its stop signal, and SIGKILL follows after `stop.timeout`.

use super::{assert_after, start_on};
use crate::model::signal::Signal;
use crate::model::view::ServiceState;
use crate::os::fake::FakeKernel;
use std::time::Duration;

#[actix::test]
async fn shutdown_stops_dependents_first_and_kills_after_the_stop_timeout() {
    tokio::time::pause();
    let kernel = FakeKernel::new();
    kernel.stubborn("db");
    let mut h = start_on(
        kernel,
        r#"
shutdown: {timeout: 60s}
services:
  db:
    command: ["db"]
    stop: {timeout: 7s}
  web:
    command: ["web"]
    requires: [db]
    stop: {signal: SIGINT}
"#,
    )
    .await;
    h.wait_view("web", "ready", |v| v.state == ServiceState::Ready)
        .await;
    let (db, web) = (h.pid("db").await, h.pid("web").await);

    // Through the signal stream, as the kernel would deliver it.
    h.kernel.signal_oneinit(Signal::SIGTERM);
    h.wait_kernel("db killed", |k| k.pid_of("db").is_none())
        .await;
    let sent: Vec<_> = h
        .kernel
        .signals()
        .into_iter()
        .filter(|s| s.signal != Signal::SIGCONT)
        .collect();
    let what: Vec<_> = sent.iter().map(|s| (s.pid, s.signal)).collect();
    assert_eq!(
        what,
        [
            (web, Signal::SIGINT),
            (db, Signal::SIGTERM),
            (db, Signal::SIGKILL)
        ],
        "web (its own stop signal) before db; db ignores SIGTERM"
    );
    assert_after(
        sent[2].at.duration_since(sent[1].at),
        Duration::from_secs(7),
        "SIGKILL after db's stop.timeout",
    );
    let v = h
        .wait_view("db", "stopped", |v| v.state == ServiceState::Stopped)
        .await;
    assert!(v.instances.iter().all(|i| i.pid.is_none()), "{v:?}");
    let web = h.view("web").await.expect("web");
    assert_eq!(web.state, ServiceState::Stopped);
}
