//! Reload retirement: a changed service's actor is stopped and a new one
//! started with the new config, a removed one is stopped and dropped, an
//! unchanged one is left alone, and updates from a retired actor are
//! ignored.

use super::start;
use crate::config_loader::LoadedConfig;
use crate::facts::{ConfigChanged, ServiceUpdated};
use crate::model::config::Config;
use crate::model::signal::Signal;
use crate::model::status::ServiceStatus;
use crate::model::view::ServiceState;

const BEFORE: &str = r#"
services:
  changed: {command: ["old-program"]}
  gone: {command: ["gone"]}
  kept: {command: ["kept"]}
"#;

const AFTER: &str = r#"
services:
  added: {command: ["added"]}
  changed: {command: ["new-program"]}
  kept: {command: ["kept"]}
"#;

#[actix::test]
async fn reload_retires_changed_and_removed_services_and_ignores_their_old_actors() {
    let mut h = start(BEFORE).await;
    for name in ["changed", "gone", "kept"] {
        h.wait_view(name, "ready", |v| v.state == ServiceState::Ready)
            .await;
    }
    let (old, gone, kept) = (
        h.pid("changed").await,
        h.pid("gone").await,
        h.pid("kept").await,
    );
    let config: Config = serde_yaml::from_str(AFTER).expect("config");
    let report = h
        .mgr
        .send(ConfigChanged {
            loaded: LoadedConfig {
                config,
                sources: Vec::new(),
                warnings: Vec::new(),
                remote_digests: Default::default(),
            },
        })
        .await
        .expect("manager alive")
        .expect("reload applied");
    assert_eq!(report.added, ["added"]);
    assert_eq!(report.removed, ["gone"]);
    assert_eq!(report.changed, ["changed"]);
    assert_eq!(report.unchanged, ["kept"]);

    let v = h
        .wait_view("changed", "running its new program", |v| {
            v.state == ServiceState::Ready && v.instances[0].pid != Some(old)
        })
        .await;
    let spawns = h.kernel.spawns_of("changed");
    assert_eq!(spawns.len(), 2);
    assert_eq!(spawns[1].argv, ["new-program"]);
    assert_eq!(v.instances[0].pid, Some(spawns[1].pid));
    h.wait_view("added", "ready", |v| v.state == ServiceState::Ready)
        .await;
    h.wait_kernel("gone stopped", |k| k.pid_of("gone").is_none())
        .await;
    let terms: Vec<i32> = h
        .kernel
        .signals()
        .iter()
        .filter(|s| s.signal == Signal::SIGTERM)
        .map(|s| s.pid)
        .collect();
    assert!(terms.contains(&old) && terms.contains(&gone), "{terms:?}");
    assert!(!terms.contains(&kept), "kept is not touched: {terms:?}");
    assert_eq!(h.kernel.spawns_of("kept").len(), 1);
    // The removed service is dropped once its process is gone.
    let mut dropped = false;
    for _ in 0..100 {
        if h.view("gone").await.is_none() {
            dropped = true;
            break;
        }
        tokio::task::yield_now().await;
    }
    assert!(dropped, "gone is still listed");

    // A late update from the first actor of `changed` (generation 1: the
    // services were started in name order) changes nothing.
    let mut stale = ServiceStatus::inactive();
    stale.state = ServiceState::Failed;
    stale.last_exit_code = Some(9);
    h.mgr.do_send(ServiceUpdated {
        service: "changed".into(),
        generation: 1,
        status: stale,
    });
    let after = h.view("changed").await.expect("changed");
    assert_eq!(after.state, ServiceState::Ready);
    assert_eq!(after.instances, v.instances);
    assert!(after.last_exit.is_none(), "{after:?}");
}
