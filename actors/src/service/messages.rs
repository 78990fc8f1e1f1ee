//! Messages a ServiceActor answers (commands from the ServiceManager and
//! readiness reporters) and the facts it publishes.

use crate::model::machine::StopTarget;
use crate::model::signal::Signal;
use crate::model::view::{ServiceState, ServiceView};
use crate::sys::reap::ExitStatus;
use actix::Message;
use std::time::Duration;

/// Dependencies are satisfied (or an operator asked): start every instance.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Start;

/// Mark not-running instances as waiting for their dependencies.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Wait;

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
#[rtype(result = "Result<usize, String>")]
pub struct SendSignal {
    pub signal: Signal,
}

/// The reaper collected one of this service's processes.
#[derive(Message)]
#[rtype(result = "()")]
pub struct InstanceExited {
    pub instance: u64,
    pub pid: i32,
    pub status: ExitStatus,
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

/// Fact: the service's view changed. Sent to the ServiceManager.
#[derive(Message, Clone, Debug)]
#[rtype(result = "()")]
pub struct ServiceUpdated {
    /// The actor generation that sent it (stale ones are ignored).
    pub generation: u64,
    pub view: ServiceView,
    /// Ready (or completed) and `notify_delay` has passed: dependents may start.
    pub released: bool,
    /// Some instance had to be SIGKILLed after its stop timeout.
    pub killed: bool,
    /// The last exit, shell style (128+N for signal N).
    pub last_exit_code: Option<i32>,
    /// The state changed because of an operator or shutdown request.
    pub requested: bool,
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
#[rtype(result = "Result<u64, crate::service_manager::messages::ControlError>")]
pub struct Trigger {
    /// inetd style: the connection becomes the instance's stdin and stdout.
    pub connection: Option<std::os::fd::OwnedFd>,
}
