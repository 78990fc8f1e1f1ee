//! Registration over time: a removed service leaves no series; a reload
//! keeps the counts of the checks it keeps.

use super::*;

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
