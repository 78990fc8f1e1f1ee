//! The ServiceActor alone on the fake kernel (`os::fake`), its updates
//! recorded: what arrives while an exit waits for its process's last lines
//! runs after the exit is recorded, as when the actor blocked its mailbox.

use super::messages::{InstanceExited, Stop};
use super::{limits::ServiceLimits, ServiceActor, ServiceSetup};
use crate::facts::ServiceUpdated;
use crate::logging::service_logs::ServiceLogs;
use crate::logging::{root_logger, sink::LogSink};
use crate::model::config::{LogFormat, LogLevel, ServiceConfig};
use crate::model::machine::StopTarget;
use crate::model::view::ServiceState;
use crate::os::fake::FakeKernel;
use crate::processes::ProcessTable;
use crate::sys::reap::ExitStatus;
use actix::prelude::*;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Records every state the actor publishes.
struct Recorder(Arc<Mutex<Vec<ServiceState>>>);

impl Actor for Recorder {
    type Context = Context<Self>;
}

impl Handler<ServiceUpdated> for Recorder {
    type Result = ();
    fn handle(&mut self, msg: ServiceUpdated, _: &mut Context<Self>) {
        self.0.lock().expect("record").push(msg.status.state);
    }
}

#[actix::test]
async fn a_stop_that_arrives_with_an_exit_runs_after_the_exit_is_recorded() {
    tokio::time::pause();
    let kernel = FakeKernel::new();
    let cfg: ServiceConfig =
        serde_yaml::from_str("command: [app]\nrestart: {policy: always}").expect("config");
    let sink = LogSink::start(Box::new(std::io::sink()));
    let log = root_logger(&sink, LogFormat::Json, LogLevel::Debug);
    let states = Arc::new(Mutex::new(Vec::new()));
    let os = kernel.os();
    let setup = ServiceSetup {
        name: "app".into(),
        generation: 1,
        limits: Arc::new(ServiceLimits::new("app", &cfg, os.cgroups.clone())),
        cfg: Arc::new(cfg),
        manager: Arc::new(Recorder(states.clone()).start().recipient()),
        facts: Vec::new().into(),
        procs: ProcessTable::default(),
        logs: Arc::new(ServiceLogs::new("app", 100, LogFormat::Json, sink)),
        log_arbiter: Arbiter::current(),
        log: log.new(slog::o!("service" => "app")),
        sockets: Vec::new(),
        activate: None,
        os: Arc::new(os),
    };
    let actor = ServiceActor::new(setup).start();
    actor.do_send(super::messages::Start);
    assert!(
        kernel
            .wait_until(Duration::from_secs(5), |k| k.pid_of("app").is_some())
            .await
    );
    let pid = kernel.pid_of("app").expect("app runs");
    kernel.exit(pid, ExitStatus::Exited(1));
    // Both in the mailbox at once: the exit first, then the stop.
    actor.do_send(InstanceExited {
        instance: 0,
        pid,
        status: ExitStatus::Exited(1),
    });
    actor.do_send(Stop {
        target: StopTarget::Stopped,
        signal: None,
    });
    let stopped = || states.lock().expect("record").last() == Some(&ServiceState::Stopped);
    for _ in 0..100 {
        if stopped() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let seen = states.lock().expect("record").clone();
    assert!(stopped(), "{seen:?}");
    // The exit put it in backoff; the stop then cancelled the restart. It
    // was never `stopping`: no stop signal went to the reaped pid.
    assert!(seen.contains(&ServiceState::Backoff), "{seen:?}");
    assert!(!seen.contains(&ServiceState::Stopping), "{seen:?}");
    assert!(kernel.signals().is_empty(), "{:?}", kernel.signals());
    assert_eq!(kernel.spawns().len(), 1);
}

/// Every service holds its config and its actor for the life of the
/// process: parts most services lack are boxed (`readiness.check`,
/// `socket`, `schedule`; `last_exit`, `draining`), so they cost a pointer
/// instead of their size (together ~560 bytes a service before), and the
/// actor keeps no copy of its config's numbers (`Policy`, ~170 bytes with
/// its `success_codes` Vec: 704 bytes with it, 536 without).
#[test]
fn rare_parts_of_a_service_are_boxed() {
    let config = std::mem::size_of::<crate::model::config::ServiceConfig>();
    let actor = std::mem::size_of::<ServiceActor>();
    assert!(config <= 800, "ServiceConfig takes {config} bytes");
    assert!(actor <= 560, "ServiceActor takes {actor} bytes");
}
