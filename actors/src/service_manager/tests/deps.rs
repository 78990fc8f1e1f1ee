//! Dependency kill and recovery: when a `requires` dependency fails for
//! good its dependents are stopped; when it is back they start again.

use super::start;
use crate::model::signal::Signal;
use crate::model::view::ServiceState;
use crate::service_manager::messages::{Action, ControlService};
use crate::sys::reap::ExitStatus;

#[actix::test]
async fn a_failed_requirement_stops_its_dependents_and_its_return_starts_them() {
    let mut h = start(
        r#"
services:
  db:
    command: ["db"]
    restart: {policy: never}
  web:
    command: ["web"]
    requires: [db]
  worker:
    command: ["worker"]
    requires: [web]
"#,
    )
    .await;
    let ready = |v: &crate::model::view::ServiceView| v.state == ServiceState::Ready;
    h.wait_view("worker", "ready", ready).await;
    let db = h.pid("db").await;
    let (web, worker) = (h.pid("web").await, h.pid("worker").await);

    h.kernel.exit(db, ExitStatus::Exited(1));
    h.wait_view("db", "failed", |v| v.state == ServiceState::Failed)
        .await;
    for name in ["web", "worker"] {
        h.wait_view(name, "stopped", |v| !v.state.is_alive()).await;
    }
    // Farthest dependent first, each with its stop signal; db itself had
    // already ended and was sent nothing.
    let signals: Vec<_> = h
        .kernel
        .signals()
        .into_iter()
        .filter(|s| s.signal == Signal::SIGTERM)
        .map(|s| s.pid)
        .collect();
    assert_eq!(signals, [worker, web]);
    assert!(h.kernel.pid_of("web").is_none() && h.kernel.pid_of("worker").is_none());

    h.mgr
        .send(ControlService {
            name: "db".into(),
            action: Action::Start,
        })
        .await
        .expect("manager alive")
        .expect("db can start");
    h.wait_view("worker", "ready again", ready).await;
    for name in ["db", "web", "worker"] {
        assert_eq!(h.kernel.spawns_of(name).len(), 2, "{name} started again");
        assert_eq!(
            h.view(name).await.map(|v| v.state),
            Some(ServiceState::Ready)
        );
    }
    // In dependency order: db before web before worker.
    let second = |n: &str| h.kernel.spawns_of(n)[1].pid;
    assert!(second("db") < second("web") && second("web") < second("worker"));
}
