//! Restart and backoff: delays grow by `backoff` up to `max_delay`, a run
//! of `reset_after` starts the series again, `max_retries` ends in failed.

use super::{assert_after, start, Harness, LIMIT};
use crate::model::view::ServiceState;
use crate::sys::reap::ExitStatus;
use std::time::Duration;
use tokio::time::Instant;

const FLAKY: &str = r#"
services:
  flaky:
    command: ["flaky"]
    restart:
      policy: always
      delay: 1s
      backoff: 2
      max_delay: 3s
      reset_after: 10s
      max_retries: 4
"#;

/// Ends the latest process of `flaky` with exit code 1 after it ran for
/// `ran`; returns the delay until the next spawn, if there is one.
async fn fail_once(h: &mut Harness, ran: Duration) -> Option<Duration> {
    let pid = h.pid("flaky").await;
    let spawned = h.kernel.spawns_of("flaky").len();
    tokio::time::sleep(ran).await;
    let exited_at = Instant::now();
    h.kernel.exit(pid, ExitStatus::Exited(1));
    let restarted = h
        .kernel
        .wait_until(LIMIT, |k| k.spawns_of("flaky").len() > spawned)
        .await;
    restarted.then(|| {
        let next = h.kernel.spawns_of("flaky")[spawned].at;
        next.duration_since(exited_at)
    })
}

#[actix::test]
async fn backoff_grows_to_max_delay_and_max_retries_fails_the_service() {
    let mut h = start(FLAKY).await;
    let mut delays = Vec::new();
    for _ in 0..4 {
        delays.push(fail_once(&mut h, Duration::ZERO).await.expect("restarted"));
    }
    for (delay, expected) in delays.into_iter().zip([1, 2, 3, 3]) {
        assert_after(
            delay,
            Duration::from_secs(expected),
            "delay 1s, x2, at most 3s",
        );
    }
    let v = h
        .wait_view("flaky", "restarted 4 times", |v| v.restarts == 4)
        .await;
    assert_eq!(v.state, ServiceState::Ready);
    // The fifth failure in a row is one more than max_retries: no restart.
    assert_eq!(fail_once(&mut h, Duration::ZERO).await, None);
    let v = h
        .wait_view("flaky", "failed", |v| v.state == ServiceState::Failed)
        .await;
    assert_eq!(v.last_exit.as_ref().and_then(|e| e.code), Some(1));
    assert_eq!(h.kernel.spawns_of("flaky").len(), 5);
    assert!(v.instances.iter().all(|i| i.pid.is_none()), "{v:?}");
}

#[actix::test]
async fn a_run_of_reset_after_starts_the_backoff_again() {
    let mut h = start(FLAKY).await;
    let s = Duration::from_secs;
    let mut next = async |ran| fail_once(&mut h, ran).await.expect("restarted");
    assert_after(next(s(0)).await, s(1), "first delay");
    assert_after(next(s(0)).await, s(2), "second delay");
    // Ran longer than reset_after (10s): back to the first delay, and the
    // failures in a row start again (five more runs before failed).
    assert_after(next(s(11)).await, s(1), "after a long run");
    for _ in 0..3 {
        next(s(0)).await;
    }
    let v = h.view("flaky").await.expect("flaky");
    assert_eq!(v.state, ServiceState::Ready, "{v:?}");
}

#[actix::test]
async fn a_program_that_cannot_start_counts_127_and_is_restarted() {
    let mut h = start(
        r#"
services:
  ghost:
    command: ["missing-program"]
    restart: {policy: on-failure, delay: 2s, max_retries: 1}
"#,
    )
    .await;
    let v = h
        .wait_view("ghost", "failed", |v| v.state == ServiceState::Failed)
        .await;
    assert_eq!(v.last_exit.and_then(|e| e.code), Some(127));
    assert_eq!(v.restarts, 1, "one retry, then failed");
    assert!(h.kernel.spawns().is_empty());
}
