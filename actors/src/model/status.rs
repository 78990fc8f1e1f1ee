//! A service's runtime status: the one fact a ServiceActor publishes about
//! itself (in `ServiceUpdated`). The ServiceActor owns it; the
//! ServiceManager keeps the latest copy it was told and builds the API's
//! `ServiceView` from it, its config and the service's health.

use crate::model::view::{ExitView, InstanceView, ServiceState};
use chrono::{DateTime, Utc};

#[derive(Clone, Debug, PartialEq)]
pub struct ServiceStatus {
    /// The aggregate of the instances' states.
    pub state: ServiceState,
    pub instances: Vec<InstanceView>,
    /// Restarts of every instance since oneinit started.
    pub restarts: u64,
    pub last_exit: Option<ExitView>,
    /// The last exit, shell style (128+N for signal N).
    pub last_exit_code: Option<i32>,
    /// sd_notify `STATUS=` text.
    pub status_text: Option<String>,
    /// Scheduled services: the next due time.
    pub next_run: Option<DateTime<Utc>>,
    /// On-demand, per-demand and scheduled services: runs so far.
    pub runs_total: Option<u64>,
    /// Ready (or completed) and `notify_delay` has passed: dependents may start.
    pub released: bool,
    /// Some instance had to be SIGKILLed after its stop timeout.
    pub killed: bool,
}

impl ServiceStatus {
    /// Before the actor has published anything.
    pub fn inactive() -> ServiceStatus {
        ServiceStatus {
            state: ServiceState::Inactive,
            instances: Vec::new(),
            restarts: 0,
            last_exit: None,
            last_exit_code: None,
            status_text: None,
            next_run: None,
            runs_total: None,
            released: false,
            killed: false,
        }
    }

    /// Seconds since the earliest running instance started.
    pub fn uptime_seconds(&self, now: DateTime<Utc>) -> Option<f64> {
        self.instances
            .iter()
            .filter(|i| i.pid.is_some())
            .filter_map(|i| i.started_at)
            .min()
            .map(|t| ((now - t).num_milliseconds().max(0) as f64) / 1000.0)
    }

    /// Pids of the running instances.
    pub fn pids(&self) -> Vec<i32> {
        self.instances.iter().filter_map(|i| i.pid).collect()
    }
}
