//! Tests for the metric definitions: every SPEC 7 family is rendered, per-service series, ordering.

use super::*;

fn render_of(services: &[(&str, &ServiceFigures)], notifiers: &[&str]) -> String {
    let notifications = notifiers
        .iter()
        .map(|n| (n.to_string(), Results::default()))
        .collect();
    render(&Scrape {
        services: services.to_vec(),
        notifications: &notifications,
    })
}

#[test]
fn every_family_of_spec_7_is_rendered_even_without_label_sets() {
    let text = render_of(&[], &[]);
    for f in FAMILIES {
        assert!(
            text.contains(&format!("# TYPE {} {}\n", f.name, f.type_name())),
            "{} missing in\n{text}",
            f.name
        );
    }
    assert!(text.contains(&format!(
        "oneinit_build_info{{version=\"{}\"}} 1\n",
        env!("CARGO_PKG_VERSION")
    )));
}

#[test]
fn a_service_appears_in_every_per_service_family() {
    let mut web = ServiceFigures::new();
    web.set_checks(["http".to_string()]);
    let text = render_of(&[("web", &web)], &["ops"]);
    for needle in [
        "oneinit_service_up{service=\"web\"} 0",
        "oneinit_service_state{service=\"web\",state=\"inactive\"} 1",
        "oneinit_service_state{service=\"web\",state=\"ready\"} 0",
        "oneinit_service_uptime_seconds{service=\"web\"} 0",
        "oneinit_service_restarts_total{service=\"web\"} 0",
        "oneinit_service_exits_total{outcome=\"signal\",service=\"web\"} 0",
        "oneinit_service_start_duration_seconds_count{service=\"web\"} 0",
        "oneinit_service_run_duration_seconds_count{service=\"web\"} 0",
        "oneinit_health_checks_total{check=\"http\",result=\"failure\",service=\"web\"} 0",
        "oneinit_health_check_duration_seconds_count{check=\"http\",service=\"web\"} 0",
        "oneinit_service_cpu_seconds_total{service=\"web\"} 0",
        "oneinit_service_memory_bytes{service=\"web\"} 0",
        "oneinit_log_lines_dropped_total{service=\"web\"} 0",
        "oneinit_notifications_total{notifier=\"ops\",result=\"success\"} 0",
    ] {
        assert!(text.contains(needle), "{needle} missing in\n{text}");
    }
    // Every family has series now: none is left as a bare header.
    assert_eq!(text.matches("# TYPE ").count(), FAMILIES.len());
    assert!(!text.contains("# oneinit:"), "{text}");
}

#[test]
fn families_come_by_name_and_series_by_label_values() {
    let (a, b) = (ServiceFigures::new(), ServiceFigures::new());
    let text = render_of(&[("b", &b), ("a", &a)], &[]);
    let names: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split(' ').next())
        .collect();
    // Those without series (no check, no notifier) close, in SPEC order.
    let (with_series, without) = names.split_at(names.len() - 3);
    let mut sorted = with_series.to_vec();
    sorted.sort();
    assert_eq!(with_series, sorted);
    assert_eq!(
        without,
        [
            "oneinit_health_checks_total",
            "oneinit_health_check_duration_seconds",
            "oneinit_notifications_total"
        ]
    );
    let exits: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("oneinit_service_exits_total{"))
        .collect();
    assert_eq!(
        exits,
        [
            "oneinit_service_exits_total{outcome=\"failure\",service=\"a\"} 0",
            "oneinit_service_exits_total{outcome=\"failure\",service=\"b\"} 0",
            "oneinit_service_exits_total{outcome=\"signal\",service=\"a\"} 0",
            "oneinit_service_exits_total{outcome=\"signal\",service=\"b\"} 0",
            "oneinit_service_exits_total{outcome=\"success\",service=\"a\"} 0",
            "oneinit_service_exits_total{outcome=\"success\",service=\"b\"} 0",
        ]
    );
}
