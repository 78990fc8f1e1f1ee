//! Messages the ServiceManager answers: commands from the API, onecli (via
//! the API), signals and peers. Queries never mutate; commands say what to do.

use crate::model::signal::Signal;
use crate::model::view::{GraphView, LogLine, ReadinessView, ServiceView, StateChanged, Stream};
use actix::Message;

pub use crate::facts::{ActivateService, ConfigChanged, ControlError, ServiceUpdated};
use tokio::sync::broadcast;

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

/// Answers when the actor system is alive (for `/healthz`).
#[derive(Message)]
#[rtype(result = "()")]
pub struct Ping;

/// Stop every service in reverse dependency order, then stop the system.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Shutdown;
