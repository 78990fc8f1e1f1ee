//! Per-demand services through the ServiceManager's messages (what the
//! API's `POST /v1/services/{name}/trigger` sends): distinct increasing
//! instance ids, one run per trigger, reaped and counted, the view listing
//! only running instances, `max_instances` and the bounded queue (429).
//!
//! One test function: the manager reaps with `waitpid(-1)`, so no other
//! test may spawn children in this process at the same time.

use actix::prelude::*;
use oneinit_actors::logging::{root_logger, sink::LogSink};
use oneinit_actors::model::config::{
    Command, Config, LogFormat, LogLevel, ServiceConfig, ServiceType,
};
use oneinit_actors::service_manager::messages::{
    Action, ControlError, ControlService, GetService, TriggerService,
};
use oneinit_actors::service_manager::{ManagerSetup, ServiceManager};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn per_demand(cmd: &str, max: u32) -> ServiceConfig {
    ServiceConfig {
        kind: ServiceType::PerDemand,
        command: Command::List(vec!["sh".into(), "-c".into(), cmd.into()]),
        max_instances: max,
        ..ServiceConfig::default()
    }
}

async fn wait_for(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + timeout;
    while Instant::now() < end {
        if cond() {
            return true;
        }
        actix_rt::time::sleep(Duration::from_millis(20)).await;
    }
    cond()
}

#[actix::test]
async fn per_demand_triggers_ids_queue_and_limits() {
    let dir = tempfile::tempdir().expect("temp dir");
    let runs = dir.path().join("runs");
    let mut config = Config::default();
    config.services.insert(
        "job".into(),
        Arc::new(per_demand(
            &format!("echo $ONEINIT_INSTANCE >> {}; sleep 0.2", runs.display()),
            2,
        )),
    );
    config
        .services
        .insert("slow".into(), Arc::new(per_demand("exec sleep 30", 1)));
    config.services.insert(
        "always".into(),
        Arc::new(ServiceConfig {
            kind: ServiceType::Ongoing,
            command: Command::List(vec!["sleep".into(), "30".into()]),
            ..ServiceConfig::default()
        }),
    );
    let sink = LogSink::start(Box::new(std::io::sink()));
    let log = root_logger(&sink, LogFormat::Json, LogLevel::Info);
    let manager =
        ServiceManager::new(ManagerSetup::real(config, log, sink, LogFormat::Json)).start();
    let trigger = |name: &str| {
        manager.send(TriggerService {
            name: name.to_string(),
        })
    };

    // Five triggers: five distinct, increasing ids, at most 2 at once.
    let mut ids = Vec::new();
    for _ in 0..5 {
        ids.push(
            trigger("job")
                .await
                .expect("mailbox")
                .expect("trigger accepted"),
        );
    }
    assert_eq!(ids, vec![0, 1, 2, 3, 4]);
    let view = manager
        .send(GetService { name: "job".into() })
        .await
        .expect("mailbox")
        .expect("job exists");
    assert!(view.instances.len() <= 2, "{:?}", view.instances);
    assert!(!view.instances.is_empty());

    // Each instance ran exactly once; all reaped and counted.
    let ran = wait_for(Duration::from_secs(10), || {
        std::fs::read_to_string(&runs)
            .unwrap_or_default()
            .lines()
            .count()
            >= 5
    })
    .await;
    assert!(ran, "not every trigger ran");
    let mut seen: Vec<u64> = std::fs::read_to_string(&runs)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect();
    seen.sort_unstable();
    assert_eq!(seen, ids, "each instance id ran once");
    let mut done = None;
    for _ in 0..250 {
        let v = manager
            .send(GetService { name: "job".into() })
            .await
            .expect("mailbox")
            .expect("job exists");
        if v.runs_total == Some(5) && v.instances.is_empty() {
            done = Some(v);
            break;
        }
        actix_rt::time::sleep(Duration::from_millis(20)).await;
    }
    let done = done.expect("runs_total reached 5 and no instance is left");
    assert_eq!(done.state.as_str(), "inactive");
    assert_eq!(done.restarts, 0, "finished instances are never restarted");

    // A new trigger gets a new id, never a reused one.
    assert_eq!(trigger("job").await.expect("mailbox"), Ok(5));

    // max_instances 1: one runs, 1024 wait, the next is refused (429).
    assert_eq!(trigger("slow").await.expect("mailbox"), Ok(0));
    for i in 1..=1024 {
        assert_eq!(trigger("slow").await.expect("mailbox"), Ok(i));
    }
    match trigger("slow").await.expect("mailbox") {
        Err(ControlError::TooMany(msg)) => assert!(msg.contains("max_instances"), "{msg}"),
        other => panic!("expected TooMany, got {other:?}"),
    }
    let slow = manager
        .send(GetService {
            name: "slow".into(),
        })
        .await
        .expect("mailbox")
        .expect("slow exists");
    assert_eq!(slow.instances.len(), 1, "only running instances are listed");

    // Stopping drops the queue and ends the running instance.
    manager
        .send(ControlService {
            name: "slow".into(),
            action: Action::Stop,
        })
        .await
        .expect("mailbox")
        .expect("stop accepted");
    let mut stopped = false;
    for _ in 0..250 {
        let v = manager
            .send(GetService {
                name: "slow".into(),
            })
            .await
            .expect("mailbox")
            .expect("slow exists");
        if v.instances.is_empty() {
            assert_eq!(v.runs_total, Some(1), "queued runs were dropped, not run");
            stopped = true;
            break;
        }
        actix_rt::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(stopped, "slow did not stop");

    // Only on-demand and per-demand services can be triggered.
    match trigger("always").await.expect("mailbox") {
        Err(ControlError::Conflict(msg)) => assert!(msg.contains("use start"), "{msg}"),
        other => panic!("expected Conflict, got {other:?}"),
    }
    assert_eq!(
        trigger("nope").await.expect("mailbox"),
        Err(ControlError::NotFound("nope".into()))
    );
    manager
        .send(ControlService {
            name: "always".into(),
            action: Action::Stop,
        })
        .await
        .expect("mailbox")
        .expect("stop accepted");
}
