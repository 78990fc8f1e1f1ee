//! Hot reload beyond the service diff: ten reloads while services
//! crash-loop (no service lost, no zombie, everything still running), and a
//! new `logging.level` applied to oneinit's own log without restarting
//! anything.

use crate::util;

use nix::sys::signal::Signal;
use std::time::Duration;
use util::*;

fn config(round: usize) -> String {
    let mut c = String::from(
        "services:\n  steady:\n    command: [sleep, \"100\"]\n  changing:\n    command: [sleep, \"",
    );
    c.push_str(&(100 + round).to_string());
    c.push_str("\"]\n");
    for i in 0..3 {
        c.push_str(&format!(
            "  crash{i}:\n    command: [sh, -c, \"exit 1\"]\n    restart: {{policy: always, delay: 10ms, backoff: 1.0, max_retries: 0}}\n"
        ));
    }
    if round % 2 == 1 {
        c.push_str("  extra:\n    command: [sleep, \"100\"]\n");
    }
    c
}

fn pids(d: &Daemon, service: &str) -> Vec<i64> {
    d.events("spawned", Some(service))
        .iter()
        .filter_map(|r| r["pid"].as_i64())
        .collect()
}

fn alive(pid: i64) -> bool {
    proc_state(pid as i32).is_some_and(|s| s != 'Z')
}

/// Children of oneinit that are zombies in two samples 300 ms apart
/// (a crash-looping child is a zombie for an instant before it is reaped).
fn lasting_zombies(oneinit: i32) -> Vec<i32> {
    let zombies = |_: ()| -> Vec<i32> {
        children_of(oneinit)
            .into_iter()
            .filter(|&p| proc_state(p) == Some('Z'))
            .collect()
    };
    let first = zombies(());
    std::thread::sleep(Duration::from_millis(300));
    let second = zombies(());
    first.into_iter().filter(|p| second.contains(p)).collect()
}

#[test]
fn ten_reloads_while_services_crash_loop_lose_nothing() {
    let d = Daemon::start(&config(0));
    assert!(
        wait_until(secs(10), || [
            "steady", "changing", "crash0", "crash1", "crash2"
        ]
        .iter()
        .all(|s| !pids(&d, s).is_empty())),
        "{}",
        d.stdout()
    );
    let steady = pids(&d, "steady")[0];
    for round in 1..=10 {
        std::fs::write(d.path("oneinit.yaml"), config(round)).unwrap();
        d.signal(Signal::SIGHUP);
        assert!(
            wait_until(secs(10), || d.events("reloaded", None).len() == round),
            "reload {round}: {}",
            d.stdout()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let oneinit = d.oneinit_pid().expect("oneinit runs");
    assert!(alive(oneinit as i64), "oneinit is still running");
    // Round 10 removed `extra`; every other service is still supervised.
    for s in ["crash0", "crash1", "crash2"] {
        let before = pids(&d, s).len();
        assert!(
            wait_until(secs(5), || pids(&d, s).len() > before + 2),
            "{s} is still restarted after the reloads: {}",
            d.stdout()
        );
    }
    assert_eq!(
        pids(&d, "steady"),
        vec![steady],
        "steady was never restarted"
    );
    assert!(alive(steady));
    assert!(
        wait_until(secs(10), || pids(&d, "changing")
            .last()
            .is_some_and(|&p| alive(p))),
        "the changed service runs its last configuration"
    );
    assert_eq!(pids(&d, "changing").len(), 11, "one run per configuration");
    assert!(
        wait_until(secs(10), || pids(&d, "extra").iter().all(|&p| !alive(p))),
        "the removed service is stopped"
    );
    assert!(
        lasting_zombies(oneinit).is_empty(),
        "zombies left: {:?}",
        lasting_zombies(oneinit)
    );
    let errors: Vec<_> = d
        .records()
        .into_iter()
        .filter(|r| r["level"] == "error" || r["level"] == "critical")
        .collect();
    assert!(errors.is_empty(), "{errors:?}");
}

#[test]
fn a_new_logging_level_applies_without_restarting_services() {
    let base = "services:\n  steady:\n    command: [sleep, \"100\"]\n";
    let d = Daemon::start(&format!("logging: {{level: info}}\n{base}"));
    d.expect_event("spawned", Some("steady"), secs(10));
    let steady = d.events("spawned", Some("steady"))[0]["pid"].clone();

    // To `error`: the info records of a newly added service disappear.
    let quiet = format!(
        "logging: {{level: error}}\n{base}  quiet:\n    command: [sh, -c, \"echo $$$$ > {}/quiet.pid; exec sleep 100\"]\n",
        d.dir.path().display()
    );
    std::fs::write(d.path("oneinit.yaml"), &quiet).unwrap();
    d.signal(Signal::SIGHUP);
    assert!(wait_until(secs(10), || d.path("quiet.pid").exists()));
    // Part of the test: the `spawned` record must not appear; 300 ms lets
    // a wrongly written record reach stdout.
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        d.events("spawned", Some("quiet")).is_empty(),
        "{}",
        d.stdout()
    );

    // Back to `info`: they come back, and nothing was restarted.
    std::fs::write(
        d.path("oneinit.yaml"),
        format!(
            "{}  loud:\n    command: [sleep, \"100\"]\n",
            quiet.replace("error", "info")
        ),
    )
    .unwrap();
    d.signal(Signal::SIGHUP);
    d.expect_event("spawned", Some("loud"), secs(10));
    assert!(d.stdout().contains("log level changed"), "{}", d.stdout());
    let spawned = d.events("spawned", Some("steady"));
    assert_eq!(spawned.len(), 1);
    assert_eq!(spawned[0]["pid"], steady);
}
