//! Messages the MetricsExporter answers.

use actix::Message;

/// Render every metric in the Prometheus text format.
#[derive(Message)]
#[rtype(result = "String")]
pub struct GatherMetrics;
