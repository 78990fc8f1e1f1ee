//! The exporter as an actor: facts in, exposition out. Shared helpers here;
//! the tests by theme in `facts`, `scrape` and `registry`.

mod facts;
mod registry;
mod scrape;

use super::messages::*;
use super::MetricsExporter;
use crate::logging::service_logs::ServiceLogs;
use crate::logging::sink::LogSink;
use crate::model::config::{CheckConfig, LogFormat, ServiceConfig, TcpCheck};
use crate::model::view::ServiceState;
use crate::service::messages::{FactKind, ServiceFact};
use actix::prelude::*;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

/// The value of the sample line that starts with `series ` (None when absent).
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|v| v.parse().ok())
}

fn fact(service: &str, instance: u64, pid: Option<i32>, kind: FactKind) -> ServiceFact {
    ServiceFact {
        service: service.into(),
        instance,
        pid,
        kind,
    }
}

fn registered(service: &str, cfg: ServiceConfig) -> (ServiceRegistered, Arc<ServiceLogs>) {
    let sink = LogSink::start(Box::new(std::io::sink()));
    let logs = Arc::new(ServiceLogs::new(service, 10, LogFormat::Json, sink));
    (
        ServiceRegistered {
            service: service.into(),
            cfg: Arc::new(cfg),
            logs: logs.clone(),
        },
        logs,
    )
}

/// A service config with tcp checks of these names.
fn with_checks(names: &[&str]) -> ServiceConfig {
    let mut cfg = ServiceConfig::default();
    for name in names {
        cfg.health.push(CheckConfig {
            name: Some(name.to_string()),
            tcp: Some(TcpCheck {
                address: "127.0.0.1:1".into(),
            }),
            ..CheckConfig::default()
        });
    }
    cfg
}

fn observed(service: &str, check: &str, success: bool, millis: u64) -> HealthCheckObserved {
    HealthCheckObserved {
        service: service.into(),
        check: check.into(),
        success,
        duration: Duration::from_millis(millis),
    }
}

/// The lines of the exposition that start with `prefix`.
fn lines<'a>(text: &'a str, prefix: &str) -> Vec<&'a str> {
    text.lines().filter(|l| l.starts_with(prefix)).collect()
}
