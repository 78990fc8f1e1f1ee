//! Messages the MetricsExporter answers.

use actix::Message;
use std::time::Duration;

/// Render every metric in the Prometheus text format.
#[derive(Message)]
#[rtype(result = "String")]
pub struct GatherMetrics;

/// Fact: one health check ran (sent by the health checker).
#[derive(Message, Clone, Debug)]
#[rtype(result = "()")]
pub struct HealthCheckObserved {
    pub service: String,
    /// The check's name (`CheckConfig::display_name`).
    pub check: String,
    pub success: bool,
    pub duration: Duration,
}

/// Fact: a notifier finished delivering one event (after its retries).
#[derive(Message, Clone, Debug)]
#[rtype(result = "()")]
pub struct NotificationDelivered {
    pub notifier: String,
    pub success: bool,
}
