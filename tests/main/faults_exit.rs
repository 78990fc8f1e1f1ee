//! Fault injection around how services end (issue 15): a service that
//! stops itself with SIGSTOP, one that ignores SIGTERM, and 10,000 restarts
//! with random exit codes and signals 1..=64. Each checks an invariant:
//! shutdown completes in bounded time, every exit is counted and logged, no
//! zombie is left, the API keeps answering.

use crate::util;

use nix::sys::signal::Signal;
use std::time::{Duration, Instant};
use util::*;

/// Zombie children of `pid`.
fn zombies_of(pid: i32) -> Vec<i32> {
    children_of(pid)
        .into_iter()
        .filter(|c| proc_state(*c) == Some('Z'))
        .collect()
}

#[test]
fn a_service_that_stops_itself_still_stops_at_shutdown() {
    let mut d = Daemon::start(
        r#"
services:
  frozen:
    command: ["sh", "-c", "echo $$$$ > {dir}/pid; kill -STOP $$$$; exit 0"]
    stop: {timeout: 3s}
"#,
    );
    let pidfile = d.path("pid");
    let mut pid = 0;
    assert!(
        wait_until(secs(10), || {
            pid = std::fs::read_to_string(&pidfile)
                .ok()
                .and_then(|p| p.trim().parse().ok())
                .unwrap_or(0);
            pid > 0 && proc_state(pid) == Some('T')
        }),
        "the service never stopped itself"
    );
    let t = Instant::now();
    d.signal(Signal::SIGTERM);
    let code = d.wait_exit(secs(10));
    let took = t.elapsed();
    // The stop signal is followed by SIGCONT, so the stopped process acts
    // on SIGTERM at once: a clean stop, well within the 3 s timeout.
    assert_eq!(code, Some(0), "{}", d.stdout());
    assert!(took < secs(3), "shutdown took {took:?}");
    let exited = d.events("exited", Some("frozen"));
    assert_eq!(
        exited.last().map(|r| r["signal"].clone()),
        Some("TERM".into())
    );
}

#[test]
fn a_service_that_ignores_sigterm_is_killed_after_its_stop_timeout() {
    let mut d = Daemon::start(
        r#"
services:
  stubborn:
    command: ["sh", "-c", "trap '' TERM; touch {dir}/up; while :; do sleep 0.1; done"]
    stop: {timeout: 1s}
"#,
    );
    assert!(wait_until(secs(10), || d.path("up").exists()));
    let t = Instant::now();
    d.signal(Signal::SIGTERM);
    let code = d.wait_exit(secs(15));
    let took = t.elapsed();
    // SPEC 1: a service that had to be SIGKILLed at shutdown gives 1.
    assert_eq!(code, Some(1), "{}", d.stdout());
    assert!(
        took >= Duration::from_millis(900) && took < secs(6),
        "SIGKILL after the 1 s stop timeout, took {took:?}"
    );
    let exited = d.events("exited", Some("stubborn"));
    assert_eq!(
        exited.last().map(|r| r["signal"].clone()),
        Some("KILL".into())
    );
    assert!(
        d.tagged_pids().is_empty(),
        "processes left: {:?}",
        d.tagged_pids()
    );
}

/// Each run picks an outcome from its pid: exit 1..=79 or death by a
/// signal 1..=64 (those a shell can die of; see tests/exit_status.rs).
/// Every run is a failure, so `max_retries: 9999` means 10,000 runs.
const RESTARTS: &str = r#"
metrics: {listen: "127.0.0.1:0"}
services:
  flappy:
    command:
      - sh
      - -c
      - |
        r=$$(( $$$$ % 79 + 1 ))
        case $$r in 17|18|19|20|21|22|23|28) exit $$r;; esac
        [ $$r -le 64 ] && kill -$$r $$$$
        exit $$r
    restart: {policy: always, delay: 1ms, backoff: 1, max_delay: 1ms, max_retries: 9999, reset_after: 1h}
"#;

#[test]
fn ten_thousand_restarts_with_random_exits_are_all_counted() {
    let runs = 10_000;
    let mut d = Daemon::start(RESTARTS);
    let addr = d.metrics_addr(secs(10)).expect("metrics listener");
    let started = Instant::now();
    let mut text = String::new();
    let total = |text: &str| -> f64 {
        ["success", "failure", "signal"]
            .iter()
            .filter_map(|o| {
                sample(
                    text,
                    &format!("oneinit_service_exits_total{{outcome=\"{o}\",service=\"flappy\"}}"),
                )
            })
            .sum()
    };
    // The metrics listener answers all along, and the count reaches 10,000.
    let done = wait_until(secs(240), || {
        match d.scrape(&addr) {
            Some(t) => text = t,
            None => return false,
        }
        total(&text) >= runs as f64
    });
    assert!(
        done,
        "after {:?}: {} exits counted\n{text}",
        started.elapsed(),
        total(&text)
    );
    d.expect_event("gave_up", Some("flappy"), secs(10));
    eprintln!("{runs} runs in {:?}", started.elapsed());
    assert_eq!(total(&text), runs as f64, "{text}");
    let signals = sample(
        &text,
        "oneinit_service_exits_total{outcome=\"signal\",service=\"flappy\"}",
    )
    .unwrap_or(0.0);
    assert!(signals > 0.0, "{text}");

    // Every exit logged, with its code or signal name.
    let exited = d.events("exited", Some("flappy"));
    assert_eq!(exited.len(), runs);
    let by_signal: std::collections::BTreeSet<String> = exited
        .iter()
        .filter_map(|r| r["signal"].as_str().map(str::to_string))
        .collect();
    assert!(by_signal.contains("RTMIN+30"), "{by_signal:?}");
    assert!(by_signal.contains("32"), "{by_signal:?}");
    assert_eq!(
        exited
            .iter()
            .filter(|r| r["signal"].is_null() == r["exit_code"].is_null())
            .count(),
        0,
        "each exit has exactly one of exit_code and signal"
    );

    let pid = d.oneinit_pid().expect("oneinit pid");
    assert!(zombies_of(pid).is_empty(), "zombies: {:?}", zombies_of(pid));
    // A failed service at shutdown gives 1 (SPEC 1); shutdown is quick.
    d.signal(Signal::SIGTERM);
    assert_eq!(d.wait_exit(secs(10)), Some(1));
}

/// Out of descriptors at spawn (issue 15 item 4): under `prlimit
/// --nofile=48:48` oneinit cannot hold the pipes of 40 services at once.
/// A spawn that meets EMFILE is not the service's fault: it is retried every
/// second, with one warning per service, and no run is counted as failed.
/// So every oneshot runs once as the earlier ones finish and free their
/// pipes, and none ends `failed` (before: the spawn counted as a failed run
/// and the oneshot stayed `failed` without ever running).
#[test]
fn a_spawn_out_of_descriptors_waits_for_them_instead_of_failing() {
    let mut config = String::from("services:\n");
    for i in 0..40 {
        config.push_str(&format!(
            "  s{i:02}:\n    type: oneshot\n    command: [\"sh\", \"-c\", \"echo ran >> {{dir}}/s{i:02}; sleep 1\"]\n"
        ));
    }
    let mut d = Daemon::start_with(
        &config,
        Opts {
            wrapper: vec!["prlimit", "--nofile=48:48"],
            ..Opts::default()
        },
    );
    let all_ran = wait_until(secs(60), || {
        (0..40).all(|i| lines(&d.path(&format!("s{i:02}"))).len() == 1)
    });
    let out = d.stdout();
    let deferred: Vec<_> = d
        .records()
        .into_iter()
        .filter(|r| {
            r["msg"]
                .as_str()
                .is_some_and(|m| m.contains("out of file descriptors or processes"))
        })
        .collect();
    assert!(all_ran, "not every oneshot ran once within 60 s\n{out}");
    assert!(
        !deferred.is_empty(),
        "no spawn met EMFILE: the test did not exhaust descriptors\n{out}"
    );
    for i in 0..40 {
        let name = format!("s{i:02}");
        let warnings = deferred
            .iter()
            .filter(|r| r["service"] == name.as_str())
            .count();
        assert!(
            warnings <= 1,
            "{name} warned {warnings} times: one per episode\n{out}"
        );
        assert_eq!(
            lines(&d.path(&name)).len(),
            1,
            "{name} ran more than once\n{out}"
        );
    }
    assert!(
        !out.contains("\"failed\"") && !out.contains("gave_up"),
        "a service failed or gave up because of EMFILE\n{out}"
    );
    d.signal(Signal::SIGTERM);
    assert_eq!(d.wait_exit(secs(20)), Some(0), "{}", d.stdout());
}
