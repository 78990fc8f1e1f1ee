//! Table tests for the service state machine: one scenario per test, time passed in.

use super::*;
use ServiceState as S;

fn policy(kind: ServiceType, restart: RestartPolicy) -> Policy<'static> {
    Policy {
        kind,
        restart,
        delay: Duration::from_secs(1),
        backoff: 2.0,
        max_delay: Duration::from_secs(5),
        max_retries: 0,
        reset_after: Duration::from_secs(60),
        success_codes: &[0],
        start_delay: Duration::ZERO,
        min_uptime: Duration::ZERO,
        external_ready: false,
        ready_timeout: Duration::from_secs(60),
        stop_timeout: Duration::from_secs(10),
    }
}

fn run(i: &mut Instance, p: &Policy, now: Instant) {
    assert_eq!(i.step(Input::Start, now, p), vec![Effect::Spawn]);
    i.step(Input::Spawned { pid: 42 }, now, p);
}

#[test]
fn backoff_grows_and_caps() {
    let p = policy(ServiceType::Ongoing, RestartPolicy::Always);
    let delays: Vec<u64> = (0..6)
        .map(|n| p.restart_delay(n).as_millis() as u64)
        .collect();
    assert_eq!(delays, vec![1000, 2000, 4000, 5000, 5000, 5000]);
    let mut flat = p.clone();
    flat.backoff = 1.0;
    flat.delay = Duration::from_millis(10);
    assert_eq!(flat.restart_delay(50), Duration::from_millis(10));
}

#[test]
fn ongoing_ready_at_spawn_and_restarts_with_growing_delay() {
    let p = policy(ServiceType::Ongoing, RestartPolicy::OnFailure);
    let now = Instant::now();
    let mut i = Instance::new();
    run(&mut i, &p, now);
    assert_eq!(i.state, S::Ready);
    let mut seen = Vec::new();
    for _ in 0..4 {
        let fx = i.step(Input::Exited(Ended::Code(1)), now, &p);
        assert_eq!(i.state, S::Backoff);
        for f in fx {
            if let Effect::Arm(Timer::Backoff, d) = f {
                seen.push(d.as_secs());
            }
        }
        assert_eq!(
            i.step(Input::Timer(Timer::Backoff), now, &p),
            vec![Effect::Spawn]
        );
        i.step(Input::Spawned { pid: 43 }, now, &p);
    }
    assert_eq!(seen, vec![1, 2, 4, 5]);
    assert_eq!(i.restarts, 4);
}

#[test]
fn max_retries_gives_up_after_retries_plus_one_runs() {
    let mut p = policy(ServiceType::Ongoing, RestartPolicy::OnFailure);
    p.max_retries = 2;
    let now = Instant::now();
    let mut i = Instance::new();
    run(&mut i, &p, now);
    let mut runs = 1;
    loop {
        let fx = i.step(Input::Exited(Ended::Code(3)), now, &p);
        if fx.contains(&Effect::Emit(Event::GaveUp)) {
            break;
        }
        i.step(Input::Timer(Timer::Backoff), now, &p);
        i.step(Input::Spawned { pid: 1 }, now, &p);
        runs += 1;
    }
    assert_eq!(runs, 3);
    assert_eq!(i.state, S::Failed);
}

#[test]
fn long_run_resets_the_streak() {
    let p = policy(ServiceType::Ongoing, RestartPolicy::Always);
    let t0 = Instant::now();
    let mut i = Instance::new();
    run(&mut i, &p, t0);
    i.step(Input::Exited(Ended::Code(1)), t0, &p);
    i.step(Input::Timer(Timer::Backoff), t0, &p);
    i.step(Input::Spawned { pid: 2 }, t0, &p);
    let later = t0 + Duration::from_secs(61);
    let fx = i.step(Input::Exited(Ended::Code(1)), later, &p);
    assert!(fx.contains(&Effect::Arm(Timer::Backoff, Duration::from_secs(1))));
}

#[test]
fn exit_outcomes_by_policy() {
    let now = Instant::now();
    let cases = [
        (
            ServiceType::Oneshot,
            RestartPolicy::Never,
            Ended::Code(0),
            S::Completed,
        ),
        (
            ServiceType::Oneshot,
            RestartPolicy::Never,
            Ended::Code(2),
            S::Failed,
        ),
        (
            ServiceType::Ongoing,
            RestartPolicy::OnFailure,
            Ended::Code(0),
            S::Completed,
        ),
        (
            ServiceType::Ongoing,
            RestartPolicy::OnFailure,
            Ended::Signal(9),
            S::Backoff,
        ),
        (
            ServiceType::Ongoing,
            RestartPolicy::Always,
            Ended::Code(0),
            S::Backoff,
        ),
        (
            ServiceType::Ongoing,
            RestartPolicy::Never,
            Ended::Code(1),
            S::Failed,
        ),
    ];
    for (kind, restart, ended, want) in cases {
        let p = policy(kind, restart);
        let mut i = Instance::new();
        run(&mut i, &p, now);
        i.step(Input::Exited(ended), now, &p);
        assert_eq!(i.state, want, "{kind:?} {restart:?} {ended:?}");
    }
}

#[test]
fn success_codes_are_configurable() {
    let mut p = policy(ServiceType::Oneshot, RestartPolicy::OnFailure);
    p.success_codes = &[0, 3];
    let now = Instant::now();
    let mut i = Instance::new();
    run(&mut i, &p, now);
    i.step(Input::Exited(Ended::Code(3)), now, &p);
    assert_eq!(i.state, S::Completed);
}

#[test]
fn stop_then_kill_after_timeout() {
    let p = policy(ServiceType::Ongoing, RestartPolicy::Always);
    let now = Instant::now();
    let mut i = Instance::new();
    run(&mut i, &p, now);
    let fx = i.step(Input::Stop(StopTarget::Stopped), now, &p);
    assert_eq!(
        fx,
        vec![
            Effect::SendStopSignal,
            Effect::Arm(Timer::StopTimeout, p.stop_timeout)
        ]
    );
    assert_eq!(
        i.step(Input::Timer(Timer::StopTimeout), now, &p),
        vec![Effect::Kill]
    );
    assert!(i.killed);
    i.step(Input::Exited(Ended::Signal(9)), now, &p);
    assert_eq!(i.state, S::Stopped);
}

#[test]
fn stop_in_backoff_cancels_the_restart() {
    let p = policy(ServiceType::Ongoing, RestartPolicy::Always);
    let now = Instant::now();
    let mut i = Instance::new();
    run(&mut i, &p, now);
    i.step(Input::Exited(Ended::Code(1)), now, &p);
    let fx = i.step(Input::Stop(StopTarget::Waiting), now, &p);
    assert!(fx.contains(&Effect::Disarm(Timer::Backoff)));
    assert_eq!(i.state, S::Waiting);
    assert!(i.step(Input::Timer(Timer::Backoff), now, &p).is_empty());
}

#[test]
fn readiness_by_min_uptime_or_external_with_timeout() {
    let now = Instant::now();
    let mut p = policy(ServiceType::Ongoing, RestartPolicy::OnFailure);
    p.min_uptime = Duration::from_secs(2);
    let mut i = Instance::new();
    run(&mut i, &p, now);
    assert_eq!(i.state, S::Running);
    i.step(Input::Timer(Timer::MinUptime), now, &p);
    assert_eq!(i.state, S::Ready);

    p.external_ready = true;
    let mut j = Instance::new();
    j.step(Input::Start, now, &p);
    let fx = j.step(Input::Spawned { pid: 5 }, now, &p);
    assert!(fx.contains(&Effect::Arm(Timer::ReadyTimeout, p.ready_timeout)));
    j.step(Input::Timer(Timer::ReadyTimeout), now, &p);
    assert_eq!(j.state, S::Stopping);
    j.step(Input::Exited(Ended::Code(0)), now, &p);
    assert_eq!(j.state, S::Backoff, "a readiness timeout is a failed start");
}

#[test]
fn restart_requested_while_stopping_restarts() {
    let p = policy(ServiceType::Ongoing, RestartPolicy::Never);
    let now = Instant::now();
    let mut i = Instance::new();
    run(&mut i, &p, now);
    i.step(Input::Stop(StopTarget::Stopped), now, &p);
    i.step(Input::Stop(StopTarget::Restart), now, &p);
    let fx = i.step(Input::Exited(Ended::Signal(15)), now, &p);
    assert!(fx.contains(&Effect::Spawn));
}

#[test]
fn restart_request_respawns_after_exit() {
    let p = policy(ServiceType::Ongoing, RestartPolicy::Never);
    let now = Instant::now();
    let mut i = Instance::new();
    run(&mut i, &p, now);
    i.step(Input::Stop(StopTarget::Restart), now, &p);
    let fx = i.step(Input::Exited(Ended::Signal(15)), now, &p);
    assert!(fx.contains(&Effect::Spawn));
    assert_eq!(i.state, S::Starting);
}

#[test]
fn aggregate_picks_least_settled() {
    assert_eq!(aggregate([S::Ready, S::Running]), S::Running);
    assert_eq!(aggregate([S::Ready, S::Ready]), S::Ready);
    assert_eq!(aggregate([S::Completed, S::Failed]), S::Failed);
    assert_eq!(aggregate([]), S::Inactive);
}

#[test]
fn on_demand_returns_to_inactive_after_an_exit_that_does_not_restart() {
    let now = Instant::now();
    let p = policy(ServiceType::OnDemand, RestartPolicy::OnFailure);
    let mut i = Instance::new();
    run(&mut i, &p, now);
    let fx = i.step(Input::Exited(Ended::Code(0)), now, &p);
    assert_eq!(i.state, S::Inactive);
    assert!(fx.contains(&Effect::Emit(Event::Completed)));
    // A failure restarts per policy, then it is inactive again once
    // the policy gives up.
    run(&mut i, &p, now);
    i.step(Input::Exited(Ended::Code(3)), now, &p);
    assert_eq!(i.state, S::Backoff);
    let never = policy(ServiceType::OnDemand, RestartPolicy::Never);
    let mut j = Instance::new();
    run(&mut j, &never, now);
    j.step(Input::Exited(Ended::Code(3)), now, &never);
    assert_eq!(j.state, S::Inactive);
    // Stopped on request stays stopped (no activation until started).
    run(&mut j, &never, now);
    j.step(Input::Stop(StopTarget::Stopped), now, &never);
    j.step(Input::Exited(Ended::Signal(15)), now, &never);
    assert_eq!(j.state, S::Stopped);
}
