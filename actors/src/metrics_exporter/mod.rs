//! MetricsExporter: owns every Prometheus metric of SPEC 7.

pub mod messages;
