//! The ServiceManager in this process (issue 18): facts from service actors
//! are accepted only from the actor that currently runs a service.
//!
//! A binary of its own, not a module of `tests/main`: the manager reaps with
//! waitpid(-1), which would collect the exit statuses of the oneinit
//! processes the other tests start and wait for.

#[path = "in_process/mod.rs"]
mod in_process;
use in_process::{view, wait_view};

use actix::prelude::*;
use oneinit_actors::logging::{root_logger, sink::LogSink};
use oneinit_actors::model::config::{Config, LogFormat, LogLevel};
use oneinit_actors::model::status::ServiceStatus;
use oneinit_actors::model::view::ServiceState;
use oneinit_actors::service_manager::messages::{ServiceUpdated, Shutdown};
use oneinit_actors::service_manager::{ManagerSetup, ServiceManager};
use std::time::Duration;

#[test]
fn an_update_from_a_retired_actor_generation_is_ignored() {
    let config: Config = serde_yaml::from_str(
        r#"
services:
  svc:
    command: ["sleep", "30"]
"#,
    )
    .expect("config");
    let sink = LogSink::start(Box::new(std::io::sink()));
    let log = root_logger(&sink, LogFormat::Json, LogLevel::Info);
    let system = System::new();
    let (before, after) = system.block_on(async move {
        let mgr =
            ServiceManager::new(ManagerSetup::real(config, log, sink, LogFormat::Json)).start();
        let before = wait_view(&mgr, "svc", Duration::from_secs(10), |v| {
            v.state == ServiceState::Ready
        })
        .await;
        // Generations start at 1: 0 stands for an actor a reload retired.
        let mut stale = ServiceStatus::inactive();
        stale.state = ServiceState::Failed;
        stale.last_exit_code = Some(3);
        mgr.do_send(ServiceUpdated {
            service: "svc".into(),
            generation: 0,
            status: stale,
        });
        // The mailbox is in order: this view is read after the update.
        let after = view(&mgr, "svc").await;
        mgr.do_send(Shutdown);
        (before, after)
    });
    let code = system.run_with_code().expect("the system ran");
    assert_eq!(before.state, ServiceState::Ready, "{before:?}");
    assert_eq!(after.state, ServiceState::Ready, "{after:?}");
    assert!(after.last_exit.is_none(), "{after:?}");
    assert_eq!(after.instances, before.instances);
    // The stale `failed` did not count towards the exit code either.
    assert_eq!(code, 0);
}
