//! What the HealthChecker knows of one service it follows: its live
//! instances (for readiness polls and `process` checks), the tallies and
//! timers of its health checks, and its checks prepared once per config.

use super::checks::{CheckEnv, Prepared};
use super::loops::CheckLoop;
use super::tally::Tally;
use crate::model::config::ServiceConfig;
use crate::model::view::{Health, ServiceState};
use crate::service::messages::{InstanceReady, ServiceActorStarted};
use actix::SpawnHandle;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// A live instance of a watched service.
pub(super) struct Inst {
    pub pid: i32,
    pub spawned: Instant,
    /// The pending readiness poll (timer or run in flight).
    pub ready_poll: Option<SpawnHandle>,
    pub ready_successes: u32,
}

/// One service the HealthChecker follows.
pub(super) struct Watched {
    pub cfg: Arc<ServiceConfig>,
    pub state: ServiceState,
    pub instances: BTreeMap<u64, Inst>,
    /// `cfg.health`, prepared (one per check, same order).
    pub checks: Vec<Arc<Prepared>>,
    /// `cfg.readiness.check`, prepared.
    pub ready_check: Option<Arc<Prepared>>,
    /// What its check runs share; made at the first run.
    pub env: Option<Arc<CheckEnv>>,
    pub tallies: Vec<Tally>,
    pub health: Health,
    /// Per health check: its loop task, while the service is up.
    pub loops: Vec<Option<CheckLoop>>,
    /// `pids()`, kept current for the loops of `process` checks.
    pub pids: Pids,
    /// Bumped whenever the loops stop, so late results are dropped.
    pub generation: u64,
    /// READY=1 that arrived before the instance's `Spawned` fact.
    pub early_ready: Vec<(Option<i32>, Instant)>,
}

impl Watched {
    pub fn new(cfg: Arc<ServiceConfig>) -> Watched {
        let n = cfg.health.len();
        Watched {
            checks: cfg.health.iter().map(Prepared::new).collect(),
            ready_check: cfg.readiness.check.as_deref().map(Prepared::new),
            env: None,
            cfg,
            state: ServiceState::Inactive,
            instances: BTreeMap::new(),
            tallies: vec![Tally::default(); n],
            health: Health::Unknown,
            loops: (0..n).map(|_| None).collect(),
            pids: Pids::default(),
            generation: 0,
            early_ready: Vec::new(),
        }
    }

    pub fn needs_watching(cfg: &ServiceConfig) -> bool {
        !cfg.health.is_empty() || cfg.readiness.check.is_some() || cfg.readiness.notify
    }

    /// Whether one of its checks needs the HTTPS client.
    pub fn needs_https(&self) -> bool {
        self.checks
            .iter()
            .chain(self.ready_check.iter())
            .any(|c| matches!(c.http, Some(super::http::HttpPlan::Client(_))))
    }

    /// Pids of instances 0..N-1 (None where not running), for `process`.
    pub fn pids(&self) -> Vec<Option<i32>> {
        (0..self.cfg.instances.max(1) as u64)
            .map(|i| self.instances.get(&i).map(|x| x.pid))
            .collect()
    }

    /// Publishes `pids()` to the check loops (after instances changed).
    pub fn refresh_pids(&self) {
        let now = self.pids();
        if let Ok(mut p) = self.pids.lock() {
            *p = now;
        }
    }

    pub fn last_spawn(&self) -> Option<Instant> {
        self.instances.values().map(|i| i.spawned).max()
    }
}

/// Pids of a service's instances, shared with its check loops.
pub(super) type Pids = Arc<Mutex<Vec<Option<i32>>>>;

/// The actors running services now, by service name.
pub(super) type Actors = BTreeMap<String, ServiceActorStarted>;

/// Tells the actor running `service` that one of its instances is ready.
pub(super) fn tell_ready(actors: &Actors, service: &str, instance: u64, pid: i32) {
    if let Some(a) = actors.get(service) {
        a.ready.do_send(InstanceReady {
            instance,
            pid: Some(pid),
        });
    }
}
