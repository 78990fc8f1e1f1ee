//! Facts move the counters, gauges and histograms; exits by signal and
//! failed spawns are counted apart.

use super::*;

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
