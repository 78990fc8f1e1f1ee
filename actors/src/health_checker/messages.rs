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
