//! Messages and facts that cross between actor modules, kept here so that
//! no actor module imports another's (no import cycles): what the reaper
//! routes to the owner of a pid, what service actors tell the manager, what
//! the ConfigLoader and the manager tell each other and their peers, and
//! the manager's refusal reasons (shared with the API).

use crate::model::config::{Config, LoadedConfig};
use crate::model::status::ServiceStatus;
use crate::model::view::ReloadReport;
use crate::sys::reap::ExitStatus;
use actix::Message;

/// The reaper collected one of this service's processes.
#[derive(Message)]
#[rtype(result = "()")]
pub struct InstanceExited {
    pub instance: u64,
    pub pid: i32,
    pub status: ExitStatus,
}

/// Fact from a ServiceActor: its runtime status changed.
#[derive(Message, Clone, Debug)]
#[rtype(result = "()")]
pub struct ServiceUpdated {
    pub service: String,
    /// The generation of the actor that sent it. A reload retires an actor
    /// and starts another under the same name; an update whose generation
    /// is not the current actor's is stale and ignored.
    pub generation: u64,
    pub status: ServiceStatus,
}

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

/// A new configuration was loaded and validated (by the ConfigLoader: a
/// reload or a `remote.watch` change): apply the difference. Answers what
/// changed, or the errors that refused it (nothing changed).
#[derive(Message)]
#[rtype(result = "Result<ReloadReport, Vec<String>>")]
pub struct ConfigChanged {
    pub loaded: LoadedConfig,
}

/// Fact: a new configuration was applied (reload). Peers that follow
/// services (HealthChecker, Notifier) rebuild what they watch from it.
#[derive(Message, Clone, Debug)]
#[rtype(result = "()")]
pub struct ConfigApplied {
    pub config: Config,
}

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
