//! What the outside world sees of services (SPEC 4): the JSON shapes served
//! by the API and read back by onecli. Produced by the ServiceManager from
//! its actors' state; plain data, no behaviour.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Service and instance states (SPEC 4).
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum ServiceState {
    Inactive,
    Waiting,
    Starting,
    Running,
    Ready,
    Stopping,
    Stopped,
    Completed,
    Backoff,
    Failed,
}

impl ServiceState {
    pub const ALL: [ServiceState; 10] = [
        ServiceState::Inactive,
        ServiceState::Waiting,
        ServiceState::Starting,
        ServiceState::Running,
        ServiceState::Ready,
        ServiceState::Stopping,
        ServiceState::Stopped,
        ServiceState::Completed,
        ServiceState::Backoff,
        ServiceState::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ServiceState::Inactive => "inactive",
            ServiceState::Waiting => "waiting",
            ServiceState::Starting => "starting",
            ServiceState::Running => "running",
            ServiceState::Ready => "ready",
            ServiceState::Stopping => "stopping",
            ServiceState::Stopped => "stopped",
            ServiceState::Completed => "completed",
            ServiceState::Backoff => "backoff",
            ServiceState::Failed => "failed",
        }
    }

    /// A process of the service exists.
    pub fn is_alive(self) -> bool {
        matches!(
            self,
            ServiceState::Starting
                | ServiceState::Running
                | ServiceState::Ready
                | ServiceState::Stopping
        )
    }
}

#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "lowercase")]
pub enum Health {
    Healthy,
    Unhealthy,
    Unknown,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
pub struct InstanceView {
    pub id: u64,
    pub pid: Option<i32>,
    pub state: ServiceState,
    pub started_at: Option<DateTime<Utc>>,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
pub struct ExitView {
    pub code: Option<i32>,
    pub signal: Option<String>,
    pub at: DateTime<Utc>,
    /// Why it ended when oneinit knows more than the status: `oom_killed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// One configured limit of a service: its value and how this host enforces
/// it (`cgroup v1 memory.limit_in_bytes`, `RLIMIT_NOFILE`, `none`).
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
pub struct LimitView {
    pub value: super::limits::LimitValue,
    pub mechanism: String,
}

/// One service, as `GET /v1/services/{name}` shows it. Fields beyond SPEC 4's
/// example are optional extras for on-demand/per-demand and limits.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
pub struct ServiceView {
    pub name: String,
    pub description: Option<String>,
    #[serde(rename = "type")]
    pub kind: String,
    pub state: ServiceState,
    pub health: Health,
    pub status_text: Option<String>,
    pub instances: Vec<InstanceView>,
    pub restarts: u64,
    pub uptime_seconds: Option<f64>,
    pub last_exit: Option<ExitView>,
    pub requires: Vec<String>,
    pub wants: Vec<String>,
    pub after: Vec<String>,
    pub before: Vec<String>,
    #[serde(default)]
    pub autostart: bool,
    #[serde(default)]
    pub critical: bool,
    /// Scheduled services: the next due time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_run: Option<DateTime<Utc>>,
    /// on-demand / per-demand: addresses oneinit listens on for it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub listen: Vec<String>,
    /// per-demand: runs started since oneinit started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runs_total: Option<u64>,
    /// Memory of the running service (its cgroup's count, else the RSS of
    /// its processes); absent when nothing runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_bytes: Option<u64>,
    /// CPU time of the running service's processes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_seconds: Option<f64>,
    /// The configured `limits`, each with the mechanism enforcing it.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub limits: BTreeMap<String, LimitView>,
}

#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "lowercase")]
pub enum Stream {
    Stdout,
    Stderr,
}

impl Stream {
    pub fn as_str(self) -> &'static str {
        match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        }
    }
}

/// One captured output line (SPEC 4: `{"ts", "instance", "stream", "line"}`).
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
pub struct LogLine {
    pub ts: DateTime<Utc>,
    pub instance: u64,
    pub stream: Stream,
    pub line: String,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
pub struct GraphNode {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub state: ServiceState,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq, Hash)]
pub struct GraphEdge {
    pub from: String,
    pub to: String,
    /// `requires`, `wants` or `after` (a `before` is shown as the reverse `after`).
    pub kind: String,
}

#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
pub struct GraphView {
    pub nodes: Vec<GraphNode>,
    pub edges: Vec<GraphEdge>,
}

/// A state change, as `/v1/events` streams it.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
pub struct StateChanged {
    pub ts: DateTime<Utc>,
    pub service: String,
    pub state: ServiceState,
    pub previous: ServiceState,
    pub health: Health,
    pub pid: Option<i32>,
}

/// `/readyz`: ready when every autostart service is ready/completed and healthy.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
pub struct ReadinessView {
    pub ready: bool,
    pub not_ready: Vec<String>,
}

/// The answer of a reload (SPEC 4).
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
pub struct ReloadReport {
    pub added: Vec<String>,
    pub removed: Vec<String>,
    pub changed: Vec<String>,
    pub unchanged: Vec<String>,
    /// Changed `api` keys applied without a restart (`auth`, `tls`,
    /// `allowed_hosts`); names only, never secrets.
    #[serde(default)]
    pub api: Vec<String>,
    /// Changed `metrics` keys applied without a restart.
    #[serde(default)]
    pub metrics: Vec<String>,
    /// Changed keys that take effect at the next start only.
    #[serde(default)]
    pub restart_needed: Vec<String>,
}
