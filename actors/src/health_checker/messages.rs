//! Messages the HealthChecker answers, and the facts it publishes.

use crate::model::view::Health;
use actix::Message;

/// Fact: a service's health changed (from its `health:` checks). The
/// ServiceManager stores it, logs it and acts (`on_unhealthy`); the
/// Notifier tells the service's notifiers.
#[derive(Message, Clone, Debug, PartialEq)]
#[rtype(result = "()")]
pub struct HealthChanged {
    pub service: String,
    pub health: Health,
    /// The check that decided it (None when the checks stopped).
    pub check: Option<String>,
    /// Why: the last failure, or what made it healthy again.
    pub message: String,
}

/// One sd_notify datagram, read from a service's NOTIFY_SOCKET.
#[derive(Message)]
#[rtype(result = "()")]
pub struct NotifyDatagram {
    pub service: String,
    pub text: String,
    /// The sender's pid (SCM_CREDENTIALS), when the kernel passed it.
    pub pid: Option<i32>,
}

/// One run of health check `index` of `service` finished (sent by the
/// check's loop task to the HealthChecker itself).
#[derive(Message)]
#[rtype(result = "()")]
pub struct CheckRan {
    pub service: String,
    pub index: usize,
    /// The service's loop generation when the loop started; results of
    /// stopped loops are dropped.
    pub generation: u64,
    pub started: std::time::Instant,
    pub result: Result<(), super::checks::CheckError>,
}
