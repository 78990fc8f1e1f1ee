//! The exporter as an actor: facts in, exposition out.

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

#[actix::test]
async fn facts_move_the_counters_gauges_and_histograms() {
    let addr = MetricsExporter::new(["ops".to_string()]).start();
    let mut cfg = ServiceConfig::default();
    cfg.health.push(CheckConfig {
        tcp: Some(TcpCheck {
            address: "127.0.0.1:1".into(),
        }),
        ..CheckConfig::default()
    });
    let (reg, logs) = registered("web", cfg);
    addr.send(reg).await.unwrap();
    let text = addr.send(GatherMetrics).await.unwrap();
    assert_eq!(
        sample(&text, "oneinit_services{state=\"inactive\"}"),
        Some(1.0)
    );
    assert_eq!(
        sample(
            &text,
            "oneinit_service_state{service=\"web\",state=\"inactive\"}"
        ),
        Some(1.0)
    );
    assert_eq!(
        sample(
            &text,
            "oneinit_health_checks_total{check=\"tcp\",result=\"success\",service=\"web\"}"
        ),
        Some(0.0)
    );

    let me = std::process::id() as i32;
    for kind in [
        FactKind::StateChanged {
            from: ServiceState::Inactive,
            to: ServiceState::Starting,
        },
        FactKind::Spawned,
        FactKind::Ready {
            since_spawn: Duration::from_millis(30),
        },
        FactKind::StateChanged {
            from: ServiceState::Starting,
            to: ServiceState::Ready,
        },
    ] {
        addr.send(fact("web", 0, Some(me), kind)).await.unwrap();
    }
    logs.dropped.fetch_add(7, Ordering::Relaxed);
    addr.send(HealthCheckObserved {
        service: "web".into(),
        check: "tcp".into(),
        success: false,
        duration: Duration::from_millis(3),
    })
    .await
    .unwrap();
    addr.send(NotificationDelivered {
        notifier: "ops".into(),
        success: true,
    })
    .await
    .unwrap();
    let text = addr.send(GatherMetrics).await.unwrap();
    assert_eq!(
        sample(&text, "oneinit_service_up{service=\"web\"}"),
        Some(1.0)
    );
    assert_eq!(
        sample(&text, "oneinit_services{state=\"ready\"}"),
        Some(1.0)
    );
    assert_eq!(
        sample(&text, "oneinit_services{state=\"inactive\"}"),
        Some(0.0)
    );
    assert_eq!(
        sample(
            &text,
            "oneinit_service_start_duration_seconds_count{service=\"web\"}"
        ),
        Some(1.0)
    );
    assert_eq!(
        sample(&text, "oneinit_log_lines_dropped_total{service=\"web\"}"),
        Some(7.0)
    );
    assert_eq!(
        sample(
            &text,
            "oneinit_health_checks_total{check=\"tcp\",result=\"failure\",service=\"web\"}"
        ),
        Some(1.0)
    );
    assert_eq!(
        sample(
            &text,
            "oneinit_notifications_total{notifier=\"ops\",result=\"success\"}"
        ),
        Some(1.0)
    );
    // The "instance" is this test process: it has memory and has used CPU.
    let rss = sample(&text, "oneinit_service_memory_bytes{service=\"web\"}").unwrap();
    assert!(rss > 1_000_000.0, "{rss}");
    assert!(sample(&text, "oneinit_service_uptime_seconds{service=\"web\"}").unwrap() >= 0.0);

    for kind in [
        FactKind::Exited {
            code: Some(1),
            signal: None,
            ran: Duration::from_millis(1500),
            success: false,
        },
        FactKind::Restarting {
            delay: Duration::from_millis(100),
        },
        FactKind::StateChanged {
            from: ServiceState::Ready,
            to: ServiceState::Backoff,
        },
    ] {
        addr.send(fact("web", 0, Some(me), kind)).await.unwrap();
    }
    let text = addr.send(GatherMetrics).await.unwrap();
    assert_eq!(
        sample(&text, "oneinit_service_up{service=\"web\"}"),
        Some(0.0)
    );
    assert_eq!(
        sample(&text, "oneinit_service_restarts_total{service=\"web\"}"),
        Some(1.0)
    );
    assert_eq!(
        sample(
            &text,
            "oneinit_service_exits_total{outcome=\"failure\",service=\"web\"}"
        ),
        Some(1.0)
    );
    assert_eq!(
        sample(
            &text,
            "oneinit_service_run_duration_seconds_sum{service=\"web\"}"
        ),
        Some(1.5)
    );
    assert_eq!(
        sample(&text, "oneinit_service_uptime_seconds{service=\"web\"}"),
        Some(0.0)
    );
    assert_eq!(
        sample(&text, "oneinit_service_memory_bytes{service=\"web\"}"),
        Some(0.0)
    );

    addr.send(ServiceRemoved {
        service: "web".into(),
    })
    .await
    .unwrap();
    let text = addr.send(GatherMetrics).await.unwrap();
    assert!(!text.contains("service=\"web\""), "{text}");
    assert!(text.contains("# TYPE oneinit_service_up gauge"));
}

#[actix::test]
async fn exits_by_signal_and_failed_spawns_are_told_apart() {
    let addr = MetricsExporter::new(Vec::new()).start();
    addr.send(fact(
        "job",
        0,
        None,
        FactKind::Exited {
            code: Some(127),
            signal: None,
            ran: Duration::ZERO,
            success: false,
        },
    ))
    .await
    .unwrap();
    addr.send(fact(
        "job",
        1,
        Some(1),
        FactKind::Exited {
            code: None,
            signal: Some(crate::model::signal::Signal::SIGKILL),
            ran: Duration::from_millis(10),
            success: false,
        },
    ))
    .await
    .unwrap();
    let text = addr.send(GatherMetrics).await.unwrap();
    assert_eq!(
        sample(
            &text,
            "oneinit_service_exits_total{outcome=\"failure\",service=\"job\"}"
        ),
        Some(1.0)
    );
    assert_eq!(
        sample(
            &text,
            "oneinit_service_exits_total{outcome=\"signal\",service=\"job\"}"
        ),
        Some(1.0)
    );
    // Only the process that ran has a run time.
    assert_eq!(
        sample(
            &text,
            "oneinit_service_run_duration_seconds_count{service=\"job\"}"
        ),
        Some(1.0)
    );
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

#[actix::test]
async fn a_scrape_renders_every_figure_line_for_line() {
    let addr = MetricsExporter::new(["ops".to_string()]).start();
    addr.send(registered("web", with_checks(&["port"])).0)
        .await
        .unwrap();
    addr.send(registered("job", ServiceConfig::default()).0)
        .await
        .unwrap();
    // No live process: uptime, CPU and memory stay at 0, so every line is
    // known in advance.
    for (service, instance, pid, kind) in [
        (
            "web",
            0,
            None,
            FactKind::Ready {
                since_spawn: Duration::from_millis(5),
            },
        ),
        (
            "web",
            0,
            None,
            FactKind::Ready {
                since_spawn: Duration::from_secs(200),
            },
        ),
        (
            "web",
            0,
            Some(1),
            FactKind::Exited {
                code: None,
                signal: Some(crate::model::signal::Signal::SIGTERM),
                ran: Duration::from_millis(1500),
                success: false,
            },
        ),
        (
            "web",
            0,
            None,
            FactKind::Restarting {
                delay: Duration::from_millis(100),
            },
        ),
        (
            "web",
            1,
            None,
            FactKind::StateChanged {
                from: ServiceState::Starting,
                to: ServiceState::Ready,
            },
        ),
        (
            "job",
            0,
            Some(2),
            FactKind::Exited {
                code: Some(0),
                signal: None,
                ran: Duration::from_millis(20),
                success: true,
            },
        ),
        (
            "job",
            0,
            None,
            FactKind::StateChanged {
                from: ServiceState::Running,
                to: ServiceState::Completed,
            },
        ),
    ] {
        addr.send(fact(service, instance, pid, kind)).await.unwrap();
    }
    for (success, millis) in [(true, 1), (true, 5), (false, 2000)] {
        addr.send(observed("web", "port", success, millis))
            .await
            .unwrap();
    }
    addr.send(NotificationDelivered {
        notifier: "ops".into(),
        success: false,
    })
    .await
    .unwrap();
    let text = addr.send(GatherMetrics).await.unwrap();

    assert_eq!(
        lines(&text, "oneinit_service_state{service=\"web\""),
        [
            "oneinit_service_state{service=\"web\",state=\"backoff\"} 0",
            "oneinit_service_state{service=\"web\",state=\"completed\"} 0",
            "oneinit_service_state{service=\"web\",state=\"failed\"} 0",
            "oneinit_service_state{service=\"web\",state=\"inactive\"} 0",
            "oneinit_service_state{service=\"web\",state=\"ready\"} 1",
            "oneinit_service_state{service=\"web\",state=\"running\"} 0",
            "oneinit_service_state{service=\"web\",state=\"starting\"} 0",
            "oneinit_service_state{service=\"web\",state=\"stopped\"} 0",
            "oneinit_service_state{service=\"web\",state=\"stopping\"} 0",
            "oneinit_service_state{service=\"web\",state=\"waiting\"} 0",
        ]
    );
    assert_eq!(
        lines(&text, "oneinit_service_start_duration_seconds_"),
        [
            // job: a zero histogram, every bucket shown.
            "oneinit_service_start_duration_seconds_bucket{service=\"job\",le=\"0.005\"} 0",
            "oneinit_service_start_duration_seconds_bucket{service=\"job\",le=\"0.01\"} 0",
            "oneinit_service_start_duration_seconds_bucket{service=\"job\",le=\"0.025\"} 0",
            "oneinit_service_start_duration_seconds_bucket{service=\"job\",le=\"0.05\"} 0",
            "oneinit_service_start_duration_seconds_bucket{service=\"job\",le=\"0.1\"} 0",
            "oneinit_service_start_duration_seconds_bucket{service=\"job\",le=\"0.25\"} 0",
            "oneinit_service_start_duration_seconds_bucket{service=\"job\",le=\"0.5\"} 0",
            "oneinit_service_start_duration_seconds_bucket{service=\"job\",le=\"1\"} 0",
            "oneinit_service_start_duration_seconds_bucket{service=\"job\",le=\"2.5\"} 0",
            "oneinit_service_start_duration_seconds_bucket{service=\"job\",le=\"5\"} 0",
            "oneinit_service_start_duration_seconds_bucket{service=\"job\",le=\"10\"} 0",
            "oneinit_service_start_duration_seconds_bucket{service=\"job\",le=\"30\"} 0",
            "oneinit_service_start_duration_seconds_bucket{service=\"job\",le=\"60\"} 0",
            "oneinit_service_start_duration_seconds_bucket{service=\"job\",le=\"120\"} 0",
            "oneinit_service_start_duration_seconds_bucket{service=\"job\",le=\"+Inf\"} 0",
            "oneinit_service_start_duration_seconds_sum{service=\"job\"} 0",
            "oneinit_service_start_duration_seconds_count{service=\"job\"} 0",
            // web: 5 ms (on a bound: in its bucket) and 200 s (only +Inf).
            "oneinit_service_start_duration_seconds_bucket{service=\"web\",le=\"0.005\"} 1",
            "oneinit_service_start_duration_seconds_bucket{service=\"web\",le=\"0.01\"} 1",
            "oneinit_service_start_duration_seconds_bucket{service=\"web\",le=\"0.025\"} 1",
            "oneinit_service_start_duration_seconds_bucket{service=\"web\",le=\"0.05\"} 1",
            "oneinit_service_start_duration_seconds_bucket{service=\"web\",le=\"0.1\"} 1",
            "oneinit_service_start_duration_seconds_bucket{service=\"web\",le=\"0.25\"} 1",
            "oneinit_service_start_duration_seconds_bucket{service=\"web\",le=\"0.5\"} 1",
            "oneinit_service_start_duration_seconds_bucket{service=\"web\",le=\"1\"} 1",
            "oneinit_service_start_duration_seconds_bucket{service=\"web\",le=\"2.5\"} 1",
            "oneinit_service_start_duration_seconds_bucket{service=\"web\",le=\"5\"} 1",
            "oneinit_service_start_duration_seconds_bucket{service=\"web\",le=\"10\"} 1",
            "oneinit_service_start_duration_seconds_bucket{service=\"web\",le=\"30\"} 1",
            "oneinit_service_start_duration_seconds_bucket{service=\"web\",le=\"60\"} 1",
            "oneinit_service_start_duration_seconds_bucket{service=\"web\",le=\"120\"} 1",
            "oneinit_service_start_duration_seconds_bucket{service=\"web\",le=\"+Inf\"} 2",
            "oneinit_service_start_duration_seconds_sum{service=\"web\"} 200.005",
            "oneinit_service_start_duration_seconds_count{service=\"web\"} 2",
        ]
    );
    for line in [
        "oneinit_service_run_duration_seconds_bucket{service=\"job\",le=\"0.01\"} 0",
        "oneinit_service_run_duration_seconds_bucket{service=\"job\",le=\"0.05\"} 1",
        "oneinit_service_run_duration_seconds_bucket{service=\"web\",le=\"1\"} 0",
        "oneinit_service_run_duration_seconds_bucket{service=\"web\",le=\"5\"} 1",
        "oneinit_service_run_duration_seconds_bucket{service=\"web\",le=\"86400\"} 1",
        "oneinit_service_run_duration_seconds_bucket{service=\"web\",le=\"+Inf\"} 1",
        "oneinit_service_run_duration_seconds_sum{service=\"web\"} 1.5",
        "oneinit_service_run_duration_seconds_count{service=\"web\"} 1",
        "oneinit_health_check_duration_seconds_bucket{check=\"port\",service=\"web\",le=\"0.001\"} 1",
        "oneinit_health_check_duration_seconds_bucket{check=\"port\",service=\"web\",le=\"0.005\"} 2",
        "oneinit_health_check_duration_seconds_bucket{check=\"port\",service=\"web\",le=\"2.5\"} 3",
        "oneinit_health_check_duration_seconds_sum{check=\"port\",service=\"web\"} 2.006",
        "oneinit_health_check_duration_seconds_count{check=\"port\",service=\"web\"} 3",
        "oneinit_service_up{service=\"job\"} 0",
        "oneinit_service_up{service=\"web\"} 1",
        "oneinit_service_restarts_total{service=\"job\"} 0",
        "oneinit_service_restarts_total{service=\"web\"} 1",
        "oneinit_services{state=\"completed\"} 1",
        "oneinit_services{state=\"ready\"} 1",
        "oneinit_services{state=\"inactive\"} 0",
        "oneinit_service_uptime_seconds{service=\"web\"} 0",
        "oneinit_service_cpu_seconds_total{service=\"web\"} 0",
        "oneinit_service_memory_bytes{service=\"web\"} 0",
        "oneinit_log_lines_dropped_total{service=\"job\"} 0",
    ] {
        assert!(text.lines().any(|l| l == line), "{line} missing in\n{text}");
    }
    assert_eq!(
        lines(&text, "oneinit_service_exits_total{"),
        [
            "oneinit_service_exits_total{outcome=\"failure\",service=\"job\"} 0",
            "oneinit_service_exits_total{outcome=\"failure\",service=\"web\"} 0",
            "oneinit_service_exits_total{outcome=\"signal\",service=\"job\"} 0",
            "oneinit_service_exits_total{outcome=\"signal\",service=\"web\"} 1",
            "oneinit_service_exits_total{outcome=\"success\",service=\"job\"} 1",
            "oneinit_service_exits_total{outcome=\"success\",service=\"web\"} 0",
        ]
    );
    assert_eq!(
        lines(&text, "oneinit_health_checks_total{"),
        [
            "oneinit_health_checks_total{check=\"port\",result=\"failure\",service=\"web\"} 1",
            "oneinit_health_checks_total{check=\"port\",result=\"success\",service=\"web\"} 2",
        ]
    );
    assert_eq!(
        lines(&text, "oneinit_notifications_total{"),
        [
            "oneinit_notifications_total{notifier=\"ops\",result=\"failure\"} 1",
            "oneinit_notifications_total{notifier=\"ops\",result=\"success\"} 0",
        ]
    );
    // Every family once, with its HELP and TYPE.
    assert_eq!(text.matches("# HELP ").count(), 15);
    assert_eq!(text.matches("# TYPE ").count(), 15);
}

#[actix::test]
async fn a_removed_service_leaves_no_series() {
    let addr = MetricsExporter::new(Vec::new()).start();
    addr.send(registered("old", with_checks(&["port"])).0)
        .await
        .unwrap();
    addr.send(registered("web", with_checks(&["port"])).0)
        .await
        .unwrap();
    for kind in [
        FactKind::Spawned,
        FactKind::Ready {
            since_spawn: Duration::from_millis(30),
        },
        FactKind::Restarting {
            delay: Duration::from_millis(100),
        },
        FactKind::StateChanged {
            from: ServiceState::Starting,
            to: ServiceState::Failed,
        },
    ] {
        addr.send(fact("old", 0, Some(2_000_000_000), kind))
            .await
            .unwrap();
    }
    addr.send(observed("old", "port", true, 3)).await.unwrap();
    let text = addr.send(GatherMetrics).await.unwrap();
    // Per service: up 1, state 10, uptime 1, restarts 1, exits 3, start
    // 14 + 3, run 15 + 3, cpu 1, memory 1, dropped 1; per check: 2 + 13 + 3.
    let lines_per_service = 72;
    assert_eq!(
        text.matches("service=\"old\"").count(),
        lines_per_service,
        "{text}"
    );

    addr.send(ServiceRemoved {
        service: "old".into(),
    })
    .await
    .unwrap();
    // A check result still on its way when the service went.
    addr.send(observed("old", "port", false, 3)).await.unwrap();
    let text = addr.send(GatherMetrics).await.unwrap();
    assert!(!text.contains("service=\"old\""), "{text}");
    assert_eq!(
        text.matches("service=\"web\"").count(),
        lines_per_service,
        "{text}"
    );
    assert_eq!(
        sample(&text, "oneinit_services{state=\"failed\"}"),
        Some(0.0)
    );
    assert_eq!(
        sample(&text, "oneinit_services{state=\"inactive\"}"),
        Some(1.0)
    );
}

#[actix::test]
async fn a_reload_keeps_the_counts_of_the_checks_it_keeps() {
    let addr = MetricsExporter::new(Vec::new()).start();
    addr.send(registered("web", with_checks(&["a", "b"])).0)
        .await
        .unwrap();
    addr.send(observed("web", "a", true, 3)).await.unwrap();
    addr.send(observed("web", "b", true, 3)).await.unwrap();
    addr.send(fact(
        "web",
        0,
        None,
        FactKind::Restarting {
            delay: Duration::ZERO,
        },
    ))
    .await
    .unwrap();
    // The reload drops check b and adds c.
    addr.send(registered("web", with_checks(&["a", "c"])).0)
        .await
        .unwrap();
    let text = addr.send(GatherMetrics).await.unwrap();
    assert_eq!(
        lines(&text, "oneinit_health_checks_total{"),
        [
            "oneinit_health_checks_total{check=\"a\",result=\"failure\",service=\"web\"} 0",
            "oneinit_health_checks_total{check=\"a\",result=\"success\",service=\"web\"} 1",
            "oneinit_health_checks_total{check=\"c\",result=\"failure\",service=\"web\"} 0",
            "oneinit_health_checks_total{check=\"c\",result=\"success\",service=\"web\"} 0",
        ]
    );
    assert!(!text.contains("check=\"b\""), "{text}");
    assert_eq!(
        sample(&text, "oneinit_service_restarts_total{service=\"web\"}"),
        Some(1.0)
    );
}
