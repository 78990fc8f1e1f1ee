//! The life of one service instance as a pure state machine:
//! `Instance::step(input, now, policy) -> effects`. No I/O and no clock:
//! the ServiceActor feeds inputs (start, spawned, exited, timers, ...) with
//! the current time and performs the effects (spawn, signal, timers, log
//! events). Backoff arithmetic lives here too, so both are table-tested.

use super::config::{RestartPolicy, ServiceConfig, ServiceType};
use super::view::ServiceState;
use std::time::{Duration, Instant};

/// The parts of a service's config that drive its instances. Made from
/// the config when needed (`from_config` copies a few numbers), not kept:
/// a copy per service would be ~0.2 KiB of every actor.
#[derive(Clone, Debug, PartialEq)]
pub struct Policy<'a> {
    pub kind: ServiceType,
    pub restart: RestartPolicy,
    pub delay: Duration,
    pub backoff: f64,
    pub max_delay: Duration,
    pub max_retries: u32,
    pub reset_after: Duration,
    pub success_codes: &'a [i32],
    pub start_delay: Duration,
    pub min_uptime: Duration,
    /// Ready only when told (notify, check or log line).
    pub external_ready: bool,
    pub ready_timeout: Duration,
    pub stop_timeout: Duration,
}

impl<'a> Policy<'a> {
    pub fn from_config(c: &'a ServiceConfig) -> Policy<'a> {
        Policy {
            kind: c.kind,
            restart: c.restart_policy(),
            delay: c.restart.delay.get(),
            backoff: c.restart.backoff,
            max_delay: c.restart.max_delay.get(),
            max_retries: c.restart.max_retries,
            reset_after: c.restart.reset_after.get(),
            success_codes: &c.restart.success_codes,
            start_delay: c.start_delay.get(),
            min_uptime: c.readiness.min_uptime.get(),
            external_ready: c.readiness.notify
                || c.readiness.check.is_some()
                || c.readiness.log_line.is_some(),
            ready_timeout: c.readiness.timeout.get(),
            stop_timeout: c.stop.timeout.get(),
        }
    }

    /// The delay before restart number `streak` (0 = first restart):
    /// `delay * backoff^streak`, never above `max_delay`.
    pub fn restart_delay(&self, streak: u32) -> Duration {
        let factor = self.backoff.max(1.0).powi(streak.min(1000) as i32);
        let secs = self.delay.as_secs_f64() * factor;
        let max = self.max_delay.as_secs_f64().max(self.delay.as_secs_f64());
        Duration::from_secs_f64(if secs.is_finite() { secs.min(max) } else { max })
    }
}

/// How a process ended, as the machine needs it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ended {
    Code(i32),
    Signal(i32),
}

/// Where a requested stop leaves the instance.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopTarget {
    /// Stopped on request.
    Stopped,
    /// Dependency kill: start again when the dependency is back.
    Waiting,
    /// On-demand services return to inactive.
    Inactive,
    /// Restart on request: start again right after the exit.
    Restart,
    /// Readiness timed out: the exit counts as a failed start.
    FailedStart,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Timer {
    StartDelay,
    Backoff,
    MinUptime,
    ReadyTimeout,
    StopTimeout,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Input {
    /// Dependencies are satisfied (or an operator asked): start.
    Start,
    Spawned {
        pid: i32,
    },
    /// The exec failed; `code` is 127/126 as a shell would report.
    SpawnFailed {
        code: i32,
    },
    Exited(Ended),
    /// Readiness reported by notify, a check or a log line.
    Ready,
    Stop(StopTarget),
    Timer(Timer),
}

/// Something that happened, for logs, metrics and notifications.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Event {
    Ready,
    Restarting { delay: Duration },
    GaveUp,
    Completed,
    Failed,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Effect {
    Spawn,
    SendStopSignal,
    Kill,
    Arm(Timer, Duration),
    Disarm(Timer),
    Emit(Event),
}

#[derive(Clone, Debug)]
pub struct Instance {
    pub state: ServiceState,
    pub pid: Option<i32>,
    pub started_at: Option<Instant>,
    /// Automatic restarts since the instance was created.
    pub restarts: u64,
    /// SIGKILLed after its stop timeout (oneinit then exits 1).
    pub killed: bool,
    /// Restarts in a row without a run of `reset_after` (drives the delay).
    streak: u32,
    /// Failures in a row (drives `max_retries`).
    failures: u32,
    stop_target: Option<StopTarget>,
}

impl Default for Instance {
    fn default() -> Self {
        Instance::new()
    }
}

const ALL_TIMERS: [Timer; 5] = [
    Timer::StartDelay,
    Timer::Backoff,
    Timer::MinUptime,
    Timer::ReadyTimeout,
    Timer::StopTimeout,
];

impl Instance {
    pub fn new() -> Instance {
        Instance {
            state: ServiceState::Inactive,
            pid: None,
            started_at: None,
            restarts: 0,
            killed: false,
            streak: 0,
            failures: 0,
            stop_target: None,
        }
    }

    /// Marks the instance as waiting for its dependencies.
    pub fn set_waiting(&mut self) {
        if !self.state.is_alive() && self.state != ServiceState::Backoff {
            self.state = ServiceState::Waiting;
        }
    }

    pub fn step(&mut self, input: Input, now: Instant, p: &Policy) -> Vec<Effect> {
        use ServiceState as S;
        let mut fx = Vec::new();
        match (input, self.state) {
            (Input::Start, S::Stopping) => {
                self.stop_target = Some(StopTarget::Restart);
            }
            (Input::Start, s) if s.is_alive() || s == S::Backoff => {}
            (Input::Start, _) => {
                self.streak = 0;
                self.failures = 0;
                self.killed = false;
                self.begin(p, &mut fx);
            }
            (Input::Timer(Timer::StartDelay), S::Starting) if self.pid.is_none() => {
                fx.push(Effect::Spawn);
            }
            (Input::Spawned { pid }, _) => {
                self.pid = Some(pid);
                self.started_at = Some(now);
                self.state = S::Running;
                let long_running = p.kind != ServiceType::Oneshot;
                if long_running {
                    if p.external_ready {
                        fx.push(Effect::Arm(Timer::ReadyTimeout, p.ready_timeout));
                    } else if p.min_uptime.is_zero() {
                        self.state = S::Ready;
                        fx.push(Effect::Emit(Event::Ready));
                    } else {
                        fx.push(Effect::Arm(Timer::MinUptime, p.min_uptime));
                    }
                }
            }
            (Input::Timer(Timer::MinUptime), S::Running) | (Input::Ready, S::Running) => {
                self.state = S::Ready;
                fx.push(Effect::Disarm(Timer::ReadyTimeout));
                fx.push(Effect::Disarm(Timer::MinUptime));
                fx.push(Effect::Emit(Event::Ready));
            }
            (Input::Timer(Timer::ReadyTimeout), S::Running) => {
                self.state = S::Stopping;
                self.stop_target = Some(StopTarget::FailedStart);
                fx.push(Effect::SendStopSignal);
                fx.push(Effect::Arm(Timer::StopTimeout, p.stop_timeout));
            }
            (Input::SpawnFailed { code }, _) => {
                self.pid = None;
                self.started_at = Some(now);
                self.after_run(Ended::Code(code), false, now, p, &mut fx);
            }
            (Input::Exited(ended), state) => {
                self.pid = None;
                for t in [Timer::MinUptime, Timer::ReadyTimeout, Timer::StopTimeout] {
                    fx.push(Effect::Disarm(t));
                }
                match (state, self.stop_target.take()) {
                    (S::Stopping, Some(StopTarget::Stopped)) => self.state = S::Stopped,
                    (S::Stopping, Some(StopTarget::Waiting)) => self.state = S::Waiting,
                    (S::Stopping, Some(StopTarget::Inactive)) => self.state = S::Inactive,
                    (S::Stopping, Some(StopTarget::Restart)) => {
                        self.streak = 0;
                        self.failures = 0;
                        self.begin(p, &mut fx);
                    }
                    (_, Some(StopTarget::FailedStart)) => {
                        self.after_run(ended, true, now, p, &mut fx)
                    }
                    _ => self.after_run(ended, false, now, p, &mut fx),
                }
            }
            (Input::Timer(Timer::Backoff), S::Backoff) => {
                self.restarts += 1;
                self.state = S::Starting;
                fx.push(Effect::Spawn);
            }
            (Input::Stop(target), S::Running | S::Ready) => {
                self.state = S::Stopping;
                self.stop_target = Some(target);
                fx.push(Effect::SendStopSignal);
                fx.push(Effect::Arm(Timer::StopTimeout, p.stop_timeout));
            }
            (Input::Stop(target), S::Stopping) => {
                // The latest request decides what happens after the exit:
                // a restart asked for while stopping restarts, a shutdown's
                // stop after a restart request stops.
                self.stop_target = Some(target);
            }
            (Input::Stop(target), S::Starting | S::Backoff | S::Waiting) if self.pid.is_none() => {
                for t in ALL_TIMERS {
                    fx.push(Effect::Disarm(t));
                }
                self.state = match target {
                    StopTarget::Stopped | StopTarget::FailedStart => S::Stopped,
                    StopTarget::Waiting => S::Waiting,
                    StopTarget::Inactive => S::Inactive,
                    StopTarget::Restart => {
                        self.begin(p, &mut fx);
                        self.state
                    }
                };
            }
            (Input::Stop(StopTarget::Stopped), S::Failed | S::Completed | S::Inactive) => {
                self.state = S::Stopped;
            }
            (
                Input::Stop(StopTarget::Restart),
                S::Failed | S::Completed | S::Stopped | S::Inactive,
            ) => {
                self.streak = 0;
                self.failures = 0;
                self.begin(p, &mut fx);
            }
            (Input::Timer(Timer::StopTimeout), S::Stopping) => {
                self.killed = true;
                fx.push(Effect::Kill);
            }
            _ => {}
        }
        fx
    }

    fn begin(&mut self, p: &Policy, fx: &mut Vec<Effect>) {
        self.state = ServiceState::Starting;
        if p.start_delay.is_zero() {
            fx.push(Effect::Spawn);
        } else {
            fx.push(Effect::Arm(Timer::StartDelay, p.start_delay));
        }
    }

    /// The restart decision after a run ended on its own.
    fn after_run(
        &mut self,
        ended: Ended,
        failed_start: bool,
        now: Instant,
        p: &Policy,
        fx: &mut Vec<Effect>,
    ) {
        let ran = self
            .started_at
            .map(|t| now.saturating_duration_since(t))
            .unwrap_or_default();
        if ran >= p.reset_after && !p.reset_after.is_zero() {
            self.streak = 0;
            self.failures = 0;
        }
        let success =
            !failed_start && matches!(ended, Ended::Code(c) if p.success_codes.contains(&c));
        let restart = match (success, p.restart) {
            (true, RestartPolicy::Always) => {
                self.failures = 0;
                true
            }
            (true, _) => {
                self.state = ServiceState::Completed;
                fx.push(Effect::Emit(Event::Completed));
                false
            }
            (false, RestartPolicy::Never) => {
                self.state = ServiceState::Failed;
                fx.push(Effect::Emit(Event::Failed));
                false
            }
            (false, _) => {
                self.failures += 1;
                if p.max_retries > 0 && self.failures > p.max_retries {
                    self.state = ServiceState::Failed;
                    fx.push(Effect::Emit(Event::GaveUp));
                    false
                } else {
                    true
                }
            }
        };
        if !restart && p.kind == ServiceType::OnDemand {
            // On-demand services wait for the next activation (SPEC 3).
            self.state = ServiceState::Inactive;
        }
        if restart {
            let delay = p.restart_delay(self.streak);
            self.streak = self.streak.saturating_add(1);
            self.state = ServiceState::Backoff;
            fx.push(Effect::Arm(Timer::Backoff, delay));
            fx.push(Effect::Emit(Event::Restarting { delay }));
        }
    }
}

/// The state of a service from its instances' states: the least settled
/// one wins (one instance still starting makes the service `starting`).
pub fn aggregate(states: impl IntoIterator<Item = ServiceState>) -> ServiceState {
    use ServiceState as S;
    let rank = |s: S| match s {
        S::Failed => 0,
        S::Stopping => 1,
        S::Backoff => 2,
        S::Starting => 3,
        S::Running => 4,
        S::Waiting => 5,
        S::Ready => 6,
        S::Completed => 7,
        S::Stopped => 8,
        S::Inactive => 9,
    };
    states
        .into_iter()
        .min_by_key(|&s| rank(s))
        .unwrap_or(S::Inactive)
}

#[cfg(test)]
mod tests;
