//! Messages the Notifier answers, and the fact it publishes.

use actix::Message;

/// Fact: one event was delivered to a notifier, or given up on after its
/// retries (for `oneinit_notifications_total{notifier, result}`).
#[derive(Message, Clone, Debug, PartialEq)]
#[rtype(result = "()")]
pub struct NotificationDelivered {
    pub notifier: String,
    pub success: bool,
}
