//! Messages the ServiceManager answers: commands from the API, onecli (via
//! the API), signals and peers. Queries never mutate; commands say what to do.

use crate::model::signal::Signal;
use crate::model::view::{
    GraphView, LogLine, ReadinessView, ReloadReport, ServiceView, StateChanged, Stream,
};
use actix::Message;
use tokio::sync::broadcast;

/// Why a command on a service was refused. The API maps each to a status.
#[derive(Clone, Debug, thiserror::Error, PartialEq)]
pub enum ControlError {
    /// 404
    #[error("no such service: {0}")]
    NotFound(String),
    /// 409: the service's type or state does not allow it.
    #[error("{0}")]
    Conflict(String),
    /// 429: a per-demand queue is full.
    #[error("{0}")]
    TooMany(String),
    /// 503
    #[error("oneinit is shutting down")]
    ShuttingDown,
}

/// All services, sorted by name.
#[derive(Message)]
#[rtype(result = "Vec<ServiceView>")]
pub struct ListServices;

#[derive(Message)]
#[rtype(result = "Option<ServiceView>")]
pub struct GetService {
    pub name: String,
}

/// What to do with a service on request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Start,
    Stop,
    Restart,
}

/// Start, stop or restart a service on an operator's request. Answers at once;
/// callers that want to wait watch `SubscribeEvents`.
#[derive(Message)]
#[rtype(result = "Result<(), ControlError>")]
pub struct ControlService {
    pub name: String,
    pub action: Action,
}

/// Send a signal to every running instance of a service.
#[derive(Message)]
#[rtype(result = "Result<(), ControlError>")]
pub struct SignalService {
    pub name: String,
    pub signal: Signal,
}

/// Start one run of an on-demand / per-demand service; answers its instance id.
#[derive(Message)]
#[rtype(result = "Result<u64, ControlError>")]
pub struct TriggerService {
    pub name: String,
}

/// The last `tail` lines kept in memory, oldest first.
#[derive(Message)]
#[rtype(result = "Result<crate::logging::ring::LogTail, ControlError>")]
pub struct GetLogs {
    pub name: String,
    pub tail: Option<usize>,
    pub stream: Option<Stream>,
}

/// A live feed of a service's captured lines (for `follow=true`).
#[derive(Message)]
#[rtype(result = "Result<broadcast::Receiver<LogLine>, ControlError>")]
pub struct SubscribeLogs {
    pub name: String,
}

#[derive(Message)]
#[rtype(result = "GraphView")]
pub struct GetGraph;

/// A live feed of state changes of every service.
#[derive(Message)]
#[rtype(result = "broadcast::Receiver<StateChanged>")]
pub struct SubscribeEvents;

#[derive(Message)]
#[rtype(result = "ReadinessView")]
pub struct GetReadiness;

/// Re-read the configuration and apply the difference. Errors are the
/// config errors, one per line, and nothing changed.
#[derive(Message)]
#[rtype(result = "Result<ReloadReport, Vec<String>>")]
pub struct Reload;

/// Answers when the actor system is alive (for `/healthz`).
#[derive(Message)]
#[rtype(result = "()")]
pub struct Ping;

/// Stop every service in reverse dependency order, then stop the system.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Shutdown;

/// A service's own trigger fired (first connection on an on-demand
/// service's socket, a schedule's due time): start it like an operator's
/// `start` would, dependencies first. Ignored while shutting down.
#[derive(Message)]
#[rtype(result = "()")]
pub struct ActivateService {
    pub name: String,
    /// What fired, for the log: "socket", "schedule".
    pub reason: &'static str,
}
