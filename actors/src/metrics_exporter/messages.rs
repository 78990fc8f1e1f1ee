//! Messages the MetricsExporter answers: the scrape query, and the facts it
//! turns into metrics (from the ServiceManager, the health checker and the
//! notifiers). Service facts (`ServiceFact`) are defined by the ServiceActor.

use crate::logging::service_logs::ServiceLogs;
use crate::model::config::ServiceConfig;
use actix::Message;
use std::sync::Arc;
use std::time::Duration;

/// Render every metric in the Prometheus text format.
#[derive(Message)]
#[rtype(result = "String")]
pub struct GatherMetrics;

/// Fact: the ServiceManager added a service (at start or by a reload).
/// Its label sets are created at once, so it shows in every family; a
/// reload that replaced it keeps its counts, but not those of the checks
/// it no longer has.
#[derive(Message, Clone)]
#[rtype(result = "()")]
pub struct ServiceRegistered {
    pub service: String,
    pub cfg: Arc<ServiceConfig>,
    /// Read at scrape time for `oneinit_log_lines_dropped_total`.
    pub logs: Arc<ServiceLogs>,
}

/// Fact: a reload removed a service; its label sets (all its series) go away.
#[derive(Message, Clone, Debug)]
#[rtype(result = "()")]
pub struct ServiceRemoved {
    pub service: String,
}

/// Fact: one health check ran (sent by the health checker). Counted for a
/// check of a registered service only (`ServiceRegistered.cfg.health`).
#[derive(Message, Clone, Debug)]
#[rtype(result = "()")]
pub struct HealthCheckObserved {
    pub service: String,
    /// The check's name (`CheckConfig::display_name`).
    pub check: String,
    pub success: bool,
    pub duration: Duration,
}

/// Facts: health check runs, in one message per burst of runs (the
/// HealthChecker batches them, so the exporter's thread wakes once per
/// burst instead of once per run).
#[derive(Message, Clone, Debug)]
#[rtype(result = "()")]
pub struct HealthChecksObserved(pub Vec<HealthCheckObserved>);

/// Fact: a notifier finished delivering one event (after its retries).
#[derive(Message, Clone, Debug)]
#[rtype(result = "()")]
pub struct NotificationDelivered {
    pub notifier: String,
    pub success: bool,
}
