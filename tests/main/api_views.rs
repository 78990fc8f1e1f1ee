//! Service objects as the API reads them from the manager's view board
//! (issue 19 goal 4, issue 18 "usage off the manager's thread"): they
//! follow state, health and reload (added and removed services), carry
//! usage (`memory_bytes`, `cpu_seconds`) and `limits`, and stay current
//! while crash loops and a log flood keep the manager busy. Speed is the
//! benchmark's business (`scripts/bench`): nothing here is timed.

use crate::util;

use serde_json::Value;
use std::collections::BTreeSet;
use std::time::Duration;
use util::api::{call, ApiDaemon};

const VIEWS: &str = r#"
services:
  busy:
    command: ["sh", "-c", "while :; do :; done"]
    limits: {nofile: 512}
  sick:
    command: ["sleep", "100000"]
    on_unhealthy: ignore
    health:
      - exec: {command: ["false"]}
        interval: 100ms
        failure_threshold: 1
  gone:
    command: ["sleep", "100000"]
"#;

async fn get(url: &str) -> (u16, Value) {
    call("GET", url, None, None).await
}

/// The service objects of `GET /v1/services`, by name.
async fn list(d: &ApiDaemon) -> Vec<Value> {
    let (status, body) = get(&d.url("/v1/services")).await;
    assert_eq!(status, 200, "{body}");
    body["services"]
        .as_array()
        .cloned()
        .expect("a services array")
}

fn named<'a>(services: &'a [Value], name: &str) -> Option<&'a Value> {
    services.iter().find(|s| s["name"] == name)
}

/// Polls `GET /v1/services` (every 50 ms, at most 20 s) until `cond`
/// holds for the list.
async fn wait_list(d: &ApiDaemon, what: &str, cond: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let services = list(d).await;
        if cond(&services) {
            return services;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what} within 20s; last list: {services:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default()
}

#[actix_rt::test]
async fn views_carry_usage_and_limits_and_follow_health_control_and_reload() {
    let d = ApiDaemon::start(VIEWS).await;

    // Usage of a running service, read off the manager's thread.
    let services = wait_list(
        &d,
        "busy shows memory and CPU time, sick is unhealthy",
        |s| {
            let busy = named(s, "busy");
            busy.is_some_and(|b| {
                b["memory_bytes"].as_u64().unwrap_or(0) > 0
                    && b["cpu_seconds"].as_f64().unwrap_or(0.0) > 0.0
            }) && named(s, "sick").is_some_and(|v| v["health"] == "unhealthy")
        },
    )
    .await;
    let busy = named(&services, "busy").expect("busy listed");
    assert_eq!(busy["limits"]["nofile"]["value"], 512, "{busy}");
    assert_eq!(
        busy["limits"]["nofile"]["mechanism"], "RLIMIT_NOFILE",
        "{busy}"
    );
    assert_eq!(busy["state"], "ready", "{busy}");
    assert!(
        busy["instances"][0]["pid"].as_i64().unwrap_or(0) > 0,
        "{busy}"
    );
    assert!(busy["uptime_seconds"].as_f64().is_some(), "{busy}");

    // One service: the same object, field for field (values such as
    // uptime move on between the two reads).
    let (status, one) = get(&d.url("/v1/services/busy")).await;
    assert_eq!(status, 200, "{one}");
    assert_eq!(keys(&one), keys(busy));
    assert_eq!(one["limits"], busy["limits"]);
    assert_eq!(one["instances"][0]["pid"], busy["instances"][0]["pid"]);
    let (status, sick) = get(&d.url("/v1/services/sick")).await;
    assert_eq!(status, 200, "{sick}");
    assert_eq!(sick["health"], "unhealthy", "{sick}");
    assert!(sick.get("limits").is_none(), "no limits configured: {sick}");

    // A stop that waits answers the stopped view, and reads agree at once.
    let (status, stopped) = call(
        "POST",
        &d.url("/v1/services/busy/stop?wait=true&timeout=20s"),
        None,
        None,
    )
    .await;
    assert_eq!(status, 200, "{stopped}");
    assert_eq!(stopped["state"], "stopped", "{stopped}");
    let (_, now) = get(&d.url("/v1/services/busy")).await;
    assert_eq!(now["state"], "stopped", "{now}");
    assert!(now.get("memory_bytes").is_none(), "nothing runs: {now}");
    assert!(now.get("cpu_seconds").is_none(), "nothing runs: {now}");
    assert_eq!(now["limits"]["nofile"]["value"], 512, "{now}");

    // Reload: `gone` removed, `fresh` added.
    let cfg = d.path("c.yaml");
    let text = std::fs::read_to_string(&cfg).expect("read config");
    let text = text.replace("  gone:\n", "  fresh:\n");
    std::fs::write(&cfg, text).expect("write config");
    let (status, report) = call("POST", &d.url("/v1/reload"), None, None).await;
    assert_eq!(status, 200, "{report}");
    wait_list(&d, "fresh listed and ready, gone dropped", |s| {
        named(s, "gone").is_none() && named(s, "fresh").is_some_and(|f| f["state"] == "ready")
    })
    .await;
    let (status, body) = get(&d.url("/v1/services/gone")).await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["error"]["code"], "not_found", "{body}");
}

/// Crash loops every 10 ms (a stream of status updates to the manager) and
/// a burst of output (log traffic), among quiet services.
fn storm_config(crash: usize, quiet: usize) -> String {
    let mut c = String::from("services:\n");
    for i in 0..crash {
        c.push_str(&format!(
            "  crash{i}:\n    command: [\"sh\", \"-c\", \"exit 1\"]\n    restart: {{policy: always, delay: 10ms, backoff: 1.0}}\n"
        ));
    }
    c.push_str(
        "  flood:\n    command: [\"sh\", \"-c\", \"seq 1 50000; exec sleep 100000\"]\n    logs: {capture: true}\n",
    );
    for i in 0..quiet {
        c.push_str(&format!(
            "  quiet{i}:\n    command: [\"sleep\", \"100000\"]\n"
        ));
    }
    c
}

#[actix_rt::test]
async fn the_api_answers_current_views_while_the_manager_is_flooded() {
    const CRASH: usize = 8;
    const QUIET: usize = 20;
    let d = ApiDaemon::start(&storm_config(CRASH, QUIET)).await;
    let first = wait_list(&d, "every crash loop restarted at least once", |s| {
        (0..CRASH).all(|i| {
            named(s, &format!("crash{i}")).is_some_and(|c| c["restarts"].as_u64().unwrap_or(0) > 0)
        })
    })
    .await;
    let restarts = |s: &[Value]| -> u64 {
        (0..CRASH)
            .filter_map(|i| named(s, &format!("crash{i}")))
            .filter_map(|c| c["restarts"].as_u64())
            .sum()
    };
    // Rounds of 16 concurrent reads of both routes; every one answers
    // completely (client timeout 20 s each, no latency asserted).
    for _ in 0..10 {
        let lists = (0..8).map(|_| get_owned(d.url("/v1/services")));
        let ones = (0..8).map(|i| get_owned(d.url(&format!("/v1/services/quiet{i}"))));
        let (lists, ones) = futures_util::future::join(
            futures_util::future::join_all(lists),
            futures_util::future::join_all(ones),
        )
        .await;
        for (status, body) in lists {
            assert_eq!(status, 200, "{body}");
            let services = body["services"].as_array().expect("a services array");
            assert_eq!(services.len(), CRASH + 1 + QUIET, "{body}");
        }
        for (i, (status, body)) in ones.into_iter().enumerate() {
            assert_eq!(status, 200, "{body}");
            assert_eq!(body["name"], format!("quiet{i}"), "{body}");
            assert_eq!(body["state"], "ready", "{body}");
            assert!(
                body["instances"][0]["pid"].as_i64().unwrap_or(0) > 0,
                "{body}"
            );
        }
    }
    // The views moved on meanwhile: the board is current, not a copy.
    let before = restarts(&first);
    wait_list(&d, "the crash loops' restarts grew", |s| {
        restarts(s) > before
    })
    .await;
}

async fn get_owned(url: String) -> (u16, Value) {
    get(&url).await
}
