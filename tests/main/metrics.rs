//! SPEC 7 against the real binary: every metric family and label set on the
//! `metrics.listen` listener, counters that move with events, `promtool
//! check metrics`, and a real Prometheus server scraping oneinit.

use crate::util;

use std::fs;
use std::io::Write;
use std::process::{Command, Stdio};
use util::*;

/// Checks the exposition with promtool (scripts/install-test-deps.sh
/// installs it; missing, the test fails rather than passing unchecked).
fn promtool_check(text: &str) {
    assert!(
        have("promtool"),
        "promtool is not installed: run scripts/install-test-deps.sh (apt-get install prometheus)"
    );
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start promtool");
    child
        .stdin
        .take()
        .expect("promtool stdin")
        .write_all(text.as_bytes())
        .expect("feed promtool");
    let out = child.wait_with_output().expect("promtool result");
    assert!(
        out.status.success(),
        "promtool check metrics failed:\n{}{}\n--- exposition ---\n{text}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

const ALL_SERVICES: &str = r#"
metrics: {listen: "127.0.0.1:0"}
notifiers:
  ops: {webhook: {url: "https://hooks.example.com/x"}}
services:
  web:
    command: ["sleep", "1000"]
    health:
      - name: port
        tcp: {address: "127.0.0.1:1"}
        interval: 1h
  job:
    type: oneshot
    command: ["true"]
"#;

#[test]
fn every_metric_name_and_label_set_is_exposed_and_passes_promtool() {
    let d = Daemon::start(ALL_SERVICES);
    let addr = d.metrics_addr(secs(10)).expect("metrics listener address");
    let mut text = String::new();
    assert!(
        wait_until(secs(10), || {
            text = d.scrape(&addr).unwrap_or_default();
            sample(&text, "oneinit_service_up{service=\"web\"}") == Some(1.0)
                && sample(&text, "oneinit_services{state=\"completed\"}") == Some(1.0)
        }),
        "web never up / job never completed:\n{text}"
    );
    let families = [
        ("oneinit_service_up", "gauge"),
        ("oneinit_service_state", "gauge"),
        ("oneinit_service_uptime_seconds", "gauge"),
        ("oneinit_service_restarts_total", "counter"),
        ("oneinit_service_exits_total", "counter"),
        ("oneinit_service_start_duration_seconds", "histogram"),
        ("oneinit_service_run_duration_seconds", "histogram"),
        ("oneinit_services", "gauge"),
        ("oneinit_health_checks_total", "counter"),
        ("oneinit_health_check_duration_seconds", "histogram"),
        ("oneinit_service_cpu_seconds_total", "counter"),
        ("oneinit_service_memory_bytes", "gauge"),
        ("oneinit_log_lines_dropped_total", "counter"),
        ("oneinit_notifications_total", "counter"),
        ("oneinit_build_info", "gauge"),
    ];
    for (name, kind) in families {
        assert!(
            text.contains(&format!("# TYPE {name} {kind}\n")),
            "{name} ({kind}) missing:\n{text}"
        );
    }
    let version = env!("CARGO_PKG_VERSION");
    let mut series = vec![format!("oneinit_build_info{{version=\"{version}\"}}")];
    for s in ["web", "job"] {
        for n in [
            "oneinit_service_up",
            "oneinit_service_uptime_seconds",
            "oneinit_service_restarts_total",
            "oneinit_service_start_duration_seconds_count",
            "oneinit_service_run_duration_seconds_count",
            "oneinit_service_cpu_seconds_total",
            "oneinit_service_memory_bytes",
            "oneinit_log_lines_dropped_total",
        ] {
            series.push(format!("{n}{{service=\"{s}\"}}"));
        }
        for outcome in ["success", "failure", "signal"] {
            series.push(format!(
                "oneinit_service_exits_total{{outcome=\"{outcome}\",service=\"{s}\"}}"
            ));
        }
        for state in [
            "inactive",
            "waiting",
            "starting",
            "running",
            "ready",
            "stopping",
            "stopped",
            "completed",
            "backoff",
            "failed",
        ] {
            series.push(format!(
                "oneinit_service_state{{service=\"{s}\",state=\"{state}\"}}"
            ));
            series.push(format!("oneinit_services{{state=\"{state}\"}}"));
        }
    }
    for result in ["success", "failure"] {
        series.push(format!(
            "oneinit_health_checks_total{{check=\"port\",result=\"{result}\",service=\"web\"}}"
        ));
        series.push(format!(
            "oneinit_notifications_total{{notifier=\"ops\",result=\"{result}\"}}"
        ));
    }
    series
        .push("oneinit_health_check_duration_seconds_count{check=\"port\",service=\"web\"}".into());
    for s in &series {
        assert!(sample(&text, s).is_some(), "{s} missing:\n{text}");
    }
    assert_eq!(sample(&text, &series[0]), Some(1.0));
    assert_eq!(
        sample(
            &text,
            "oneinit_service_state{service=\"web\",state=\"ready\"}"
        ),
        Some(1.0)
    );
    assert_eq!(
        sample(
            &text,
            "oneinit_service_state{service=\"web\",state=\"failed\"}"
        ),
        Some(0.0)
    );
    // The sleeping web process has an RSS.
    assert!(sample(&text, "oneinit_service_memory_bytes{service=\"web\"}").unwrap_or(0.0) > 0.0);
    promtool_check(&text);

    // Only the metrics path is served there.
    let (status, _) = http_get(&addr, "/v1/services", secs(5)).expect("an answer");
    assert_eq!(status, 404);
}

#[test]
fn exposition_without_checks_or_notifiers_still_names_every_family() {
    let d = Daemon::start(
        r#"
metrics: {listen: "127.0.0.1:0"}
services:
  only:
    command: ["sleep", "1000"]
"#,
    );
    let addr = d.metrics_addr(secs(10)).expect("metrics listener address");
    let text = d.scrape(&addr).expect("a scrape");
    for name in [
        "oneinit_health_checks_total",
        "oneinit_health_check_duration_seconds",
        "oneinit_notifications_total",
    ] {
        assert!(text.contains(&format!("# TYPE {name} ")), "{name}:\n{text}");
    }
    promtool_check(&text);
}

#[test]
fn counters_move_as_events_happen() {
    let d = Daemon::start(
        r#"
metrics: {listen: "127.0.0.1:0"}
services:
  victim:
    command: ["sh", "-c", "i=0; while [ $i -lt 30000 ]; do i=$((i+1)); done; exec sleep 1000"]
    restart: {policy: always, delay: 100ms}
  flaky:
    command: ["sh", "-c", "exit 3"]
    restart: {policy: on-failure, delay: 50ms, max_retries: 2}
  job:
    type: oneshot
    command: ["sleep", "0.3"]
"#,
    );
    let addr = d.metrics_addr(secs(10)).expect("metrics listener address");
    let mut text = String::new();
    assert!(
        wait_until(secs(15), || {
            text = d.scrape(&addr).unwrap_or_default();
            sample(
                &text,
                "oneinit_service_state{service=\"flaky\",state=\"failed\"}",
            ) == Some(1.0)
                && sample(
                    &text,
                    "oneinit_service_state{service=\"job\",state=\"completed\"}",
                ) == Some(1.0)
                && sample(&text, "oneinit_service_up{service=\"victim\"}") == Some(1.0)
        }),
        "services never settled:\n{text}"
    );
    // Gave up after 2 restarts: 3 failed runs.
    assert_eq!(
        sample(&text, "oneinit_service_restarts_total{service=\"flaky\"}"),
        Some(2.0)
    );
    assert_eq!(
        sample(
            &text,
            "oneinit_service_exits_total{outcome=\"failure\",service=\"flaky\"}"
        ),
        Some(3.0)
    );
    // The oneshot's execution time was observed.
    assert_eq!(
        sample(
            &text,
            "oneinit_service_run_duration_seconds_count{service=\"job\"}"
        ),
        Some(1.0)
    );
    let ran = sample(
        &text,
        "oneinit_service_run_duration_seconds_sum{service=\"job\"}",
    )
    .unwrap();
    // Measured from when spawn() returned, which a loaded machine may delay.
    assert!((0.2..5.0).contains(&ran), "job ran {ran}s");
    assert_eq!(
        sample(
            &text,
            "oneinit_service_exits_total{outcome=\"success\",service=\"job\"}"
        ),
        Some(1.0)
    );
    assert_eq!(
        sample(&text, "oneinit_services{state=\"completed\"}"),
        Some(1.0)
    );

    // Kill the victim: one restart more, one exit by signal.
    let before = sample(&text, "oneinit_service_restarts_total{service=\"victim\"}").unwrap();
    let victim = d
        .events("spawned", Some("victim"))
        .last()
        .and_then(|r| r["pid"].as_i64())
        .expect("victim's pid") as i32;
    // Let the busy loop burn some CPU first.
    let mut cpu = 0.0;
    wait_until(secs(10), || {
        text = d.scrape(&addr).unwrap_or_default();
        cpu = sample(
            &text,
            "oneinit_service_cpu_seconds_total{service=\"victim\"}",
        )
        .unwrap_or(0.0);
        cpu > 0.0
    });
    assert!(cpu > 0.0, "no CPU time for the busy victim:\n{text}");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(victim),
        nix::sys::signal::Signal::SIGKILL,
    )
    .expect("kill the victim");
    assert!(
        wait_until(secs(10), || {
            text = d.scrape(&addr).unwrap_or_default();
            sample(&text, "oneinit_service_restarts_total{service=\"victim\"}")
                == Some(before + 1.0)
                && sample(&text, "oneinit_service_up{service=\"victim\"}") == Some(1.0)
        }),
        "no restart counted:\n{text}"
    );
    assert_eq!(
        sample(
            &text,
            "oneinit_service_exits_total{outcome=\"signal\",service=\"victim\"}"
        ),
        Some(1.0)
    );
    // CPU time is a counter: it does not go down when the process is replaced.
    let after = sample(
        &text,
        "oneinit_service_cpu_seconds_total{service=\"victim\"}",
    )
    .unwrap();
    assert!(after >= cpu, "{after} < {cpu}");
}

/// Queries Prometheus' HTTP API for an instant vector; the value of the
/// first sample.
fn prom_query(prom: &str, query: &str) -> Option<f64> {
    let enc: String = query
        .bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'_' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect();
    let (status, body) = http_get(prom, &format!("/api/v1/query?query={enc}"), secs(5))?;
    if status != 200 {
        return None;
    }
    let v: serde_json::Value = serde_json::from_str(&body).ok()?;
    v["data"]["result"][0]["value"][1].as_str()?.parse().ok()
}

#[test]
fn a_real_prometheus_server_scrapes_oneinit() {
    assert!(
        have("prometheus"),
        "the prometheus server is not installed: run scripts/install-test-deps.sh (apt-get install prometheus)"
    );
    let d = Daemon::start(
        r#"
metrics: {listen: "127.0.0.1:0"}
services:
  steady:
    command: ["sleep", "1000"]
  flaky:
    command: ["sh", "-c", "sleep 0.2; exit 1"]
    restart: {policy: on-failure, delay: 100ms, max_retries: 2}
"#,
    );
    let target = d.metrics_addr(secs(10)).expect("metrics listener address");
    let dir = d.path("prometheus");
    fs::create_dir_all(dir.join("data")).expect("prometheus dir");
    let config = dir.join("prometheus.yml");
    fs::write(
        &config,
        format!(
            "global: {{scrape_interval: 1s, evaluation_interval: 1s}}\n\
             scrape_configs:\n  - job_name: oneinit\n    static_configs:\n      - targets: ['{target}']\n"
        ),
    )
    .expect("prometheus config");
    let _server = KillOnDrop(
        Command::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("data").display()
            ))
            .arg("--web.listen-address=127.0.0.1:0")
            .stdin(Stdio::null())
            .stdout(fs::File::create(dir.join("out.log")).expect("log file"))
            .stderr(fs::File::create(dir.join("err.log")).expect("log file"))
            .spawn()
            .expect("start prometheus"),
    );
    // Prometheus picks the port and logs it: `msg="Listening on" address=...`.
    let mut prom = String::new();
    let listening = wait_until(secs(30), || {
        let log = fs::read_to_string(dir.join("err.log")).unwrap_or_default();
        let found = log
            .lines()
            .filter(|l| l.contains("msg=\"Listening on\""))
            .filter_map(|l| l.split("address=").nth(1))
            .filter_map(|a| a.split_whitespace().next())
            .find(|a| !a.ends_with(":0"));
        if let Some(a) = found {
            prom = a.to_string();
        }
        !prom.is_empty()
    });
    assert!(
        listening,
        "Prometheus never logged its address:\n{}",
        fs::read_to_string(dir.join("err.log")).unwrap_or_default()
    );
    let mut last = (None, None);
    let ok = wait_until(secs(60), || {
        last = (
            prom_query(&prom, "oneinit_service_up{service=\"steady\"}"),
            prom_query(&prom, "oneinit_service_restarts_total{service=\"flaky\"}"),
        );
        last == (Some(1.0), Some(2.0))
    });
    assert!(
        ok,
        "Prometheus never saw up=1 / restarts=2 (last {last:?}); its log:\n{}",
        fs::read_to_string(dir.join("err.log")).unwrap_or_default()
    );
    // The scrape itself is healthy.
    assert_eq!(prom_query(&prom, "up{job=\"oneinit\"}"), Some(1.0));
}
