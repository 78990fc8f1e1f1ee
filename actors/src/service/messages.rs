//! Messages a ServiceActor answers (commands from the ServiceManager and
//! readiness reporters) and the facts it publishes.

use crate::model::machine::StopTarget;
use crate::model::signal::Signal;
use crate::model::view::ServiceState;
use actix::Message;

pub use crate::facts::InstanceExited;
use std::time::Duration;

/// Dependencies are satisfied (or an operator asked): start every instance.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Start;

/// Mark not-running instances as waiting for their dependencies.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Wait;

/// A spawn's outcome, sent by the launcher job (`process.rs`) to the
/// actor that asked for it.
#[derive(Message)]
#[rtype(result = "()")]
pub struct SpawnDone {
    pub instance: u64,
    pub result: Result<crate::sys::spawn::Spawned, crate::sys::spawn::SpawnError>,
}

/// Stop every instance; `target` says what state they end in.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Stop {
    pub target: StopTarget,
    /// Use this signal instead of `stop.signal` (tini mode passes on the
    /// signal oneinit received).
    pub signal: Option<Signal>,
}

/// SIGKILL every instance's process group now (second shutdown signal,
/// shutdown timeout).
#[derive(Message)]
#[rtype(result = "()")]
pub struct KillNow;

/// Deliver a signal to every running instance.
#[derive(Message)]
#[rtype(result = "Result<usize, SignalError>")]
pub struct SendSignal {
    pub signal: Signal,
}

/// A signal could not be delivered to an instance's process.
#[derive(Debug, thiserror::Error)]
#[error("cannot signal pid {pid}: {errno}")]
pub struct SignalError {
    pub pid: i32,
    pub errno: nix::errno::Errno,
}

/// An instance reported readiness (notify `READY=1`, a readiness check, a
/// matching log line).
#[derive(Message)]
#[rtype(result = "()")]
pub struct InstanceReady {
    pub instance: u64,
    pub pid: Option<i32>,
}

/// `STATUS=` text from sd_notify.
#[derive(Message)]
#[rtype(result = "()")]
pub struct SetStatusText {
    pub text: String,
}

/// What happened to an instance, for metrics and notifications.
#[derive(Clone, Debug, PartialEq)]
pub enum FactKind {
    Spawned,
    Ready {
        since_spawn: Duration,
    },
    Exited {
        code: Option<i32>,
        signal: Option<Signal>,
        ran: Duration,
        success: bool,
    },
    Restarting {
        delay: Duration,
    },
    GaveUp,
    /// The instance was killed for exceeding its memory limit (sent right
    /// after its `Exited`, which carries the status).
    OomKilled,
    StateChanged {
        from: ServiceState,
        to: ServiceState,
    },
}

/// Fact: something happened to a service instance. Observers (metrics,
/// notifiers) subscribe to these; they never command anything.
#[derive(Message, Clone, Debug)]
#[rtype(result = "()")]
pub struct ServiceFact {
    pub service: String,
    pub instance: u64,
    pub pid: Option<i32>,
    pub kind: FactKind,
}

/// Start one run of a per-demand service (an API trigger, a schedule, an
/// accepted connection). Answers the new instance id, or `TooMany` when the
/// queue of runs waiting for a free `max_instances` slot is full.
#[derive(Message)]
#[rtype(result = "Result<u64, crate::facts::ControlError>")]
pub struct Trigger {
    /// inetd style: the connection becomes the instance's stdin and stdout.
    pub connection: Option<std::os::fd::OwnedFd>,
}

/// Fact from the ServiceManager: a ServiceActor now runs `service` (at
/// start, on reload). Peers that report readiness and `STATUS=` text (the
/// HealthChecker) send them straight to these recipients.
#[derive(Message, Clone)]
#[rtype(result = "()")]
pub struct ServiceActorStarted {
    pub service: String,
    /// The configuration the actor runs (observers keep the recipients
    /// only of the services they act for).
    pub cfg: std::sync::Arc<crate::model::config::ServiceConfig>,
    pub ready: actix::Recipient<InstanceReady>,
    pub status_text: actix::Recipient<SetStatusText>,
}
