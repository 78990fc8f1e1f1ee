//! A full scrape, checked line for line against the figures sent.

use super::*;

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
