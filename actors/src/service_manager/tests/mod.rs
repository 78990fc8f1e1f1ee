//! In-process behaviour tests of the ServiceManager and its ServiceActors
//! on the fake kernel (`os::fake`): no process is started and nothing calls
//! `waitpid`, so they run in the library's unit-test binary. Most pause
//! tokio's clock: timers (backoff, stop timeouts, `min_uptime`) then fire
//! at their exact times, at once. Every wait is bounded (on that clock).
//! Assertions read the fake kernel's record and the manager's views.

mod deps;
mod readiness;
mod reload;
mod restart;
mod shutdown;

use super::messages::{GetService, SubscribeEvents};
use super::{ManagerSetup, ServiceManager};
use crate::logging::{root_logger, sink::LogSink};
use crate::model::config::{Config, LogFormat, LogLevel};
use crate::model::view::{ServiceView, StateChanged};
use crate::os::fake::FakeKernel;
use actix::prelude::*;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast;
use tokio::time::Instant;

/// How long any wait may take (on tokio's clock, paused or not).
pub(super) const LIMIT: Duration = Duration::from_secs(120);

/// A manager on a fake kernel.
pub(super) struct Harness {
    pub mgr: Addr<ServiceManager>,
    pub kernel: Arc<FakeKernel>,
    events: broadcast::Receiver<StateChanged>,
    changes: tokio::sync::watch::Receiver<u64>,
}

/// Starts a manager of `yaml` on `kernel` (set it up first: `stubborn`,
/// `piped`).
pub(super) async fn start_on(kernel: Arc<FakeKernel>, yaml: &str) -> Harness {
    let config: Config = serde_yaml::from_str(yaml).expect("test config");
    let sink = LogSink::start(Box::new(std::io::sink()));
    let log = root_logger(&sink, LogFormat::Json, LogLevel::Debug);
    let mut setup = ManagerSetup::real(config, log, sink, LogFormat::Json);
    setup.os = kernel.os();
    let mgr = ServiceManager::new(setup).start();
    let events = mgr.send(SubscribeEvents).await.expect("manager alive");
    let changes = kernel.changes();
    Harness {
        mgr,
        kernel,
        events,
        changes,
    }
}

/// A manager of `yaml` on a fresh fake kernel, on paused time.
pub(super) async fn start(yaml: &str) -> Harness {
    tokio::time::pause();
    start_on(FakeKernel::new(), yaml).await
}

impl Harness {
    pub async fn view(&self, name: &str) -> Option<ServiceView> {
        self.mgr
            .send(GetService { name: name.into() })
            .await
            .expect("manager alive")
    }

    /// Waits until the view of `name` satisfies `cond` (re-read on every
    /// state change and every kernel event); panics after `LIMIT`.
    pub async fn wait_view(
        &mut self,
        name: &str,
        what: &str,
        cond: impl Fn(&ServiceView) -> bool,
    ) -> ServiceView {
        let end = Instant::now() + LIMIT;
        loop {
            self.changes.borrow_and_update();
            let v = self.view(name).await.expect("service exists");
            if cond(&v) {
                return v;
            }
            tokio::select! {
                _ = self.events.recv() => {}
                _ = self.changes.changed() => {}
                _ = tokio::time::sleep_until(end) => {
                    panic!("{name}: not {what} after {LIMIT:?}: {v:?}")
                }
            }
        }
    }

    /// Waits until the kernel's record satisfies `cond`; panics after `LIMIT`.
    pub async fn wait_kernel(&self, what: &str, cond: impl Fn(&FakeKernel) -> bool) {
        assert!(
            self.kernel.wait_until(LIMIT, cond).await,
            "not {what} after {LIMIT:?}: spawns {:?}, signals {:?}",
            self.kernel.spawns(),
            self.kernel.signals()
        );
    }

    /// The live pid of `service`, once it has one.
    pub async fn pid(&self, service: &str) -> i32 {
        self.wait_kernel(&format!("{service} running"), |k| {
            k.pid_of(service).is_some()
        })
        .await;
        self.kernel.pid_of(service).expect("a live pid")
    }
}

/// `actual` is `expected` on tokio's clock: timers fire on the first
/// millisecond tick at or after their deadline.
#[track_caller]
pub(super) fn assert_after(actual: Duration, expected: Duration, what: &str) {
    assert!(
        actual >= expected && actual <= expected + Duration::from_millis(2),
        "{what}: {actual:?}, expected {expected:?}"
    );
}
