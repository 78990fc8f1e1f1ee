//! DependencyResolver: owns the dependency graph and the dependency-relevant
//! state of every service, and tells the ServiceManager which waiting
//! services may start, which dependencies to pull up, and which dependents
//! to stop when something they require goes away (SPEC 2.3, 5.2).
//!
//! The decision rules are the pure function `decide`, unit-tested below.

pub mod messages;

use crate::model::graph::{DepGraph, EdgeKind};
use crate::model::view::ServiceState;
use actix::prelude::*;
use messages::*;
use std::collections::{BTreeSet, HashMap};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DepState {
    pub state: ServiceState,
    pub released: bool,
    pub wanted: bool,
}

impl Default for DepState {
    fn default() -> Self {
        DepState {
            state: ServiceState::Inactive,
            released: false,
            wanted: false,
        }
    }
}

impl DepState {
    /// Being brought up: a dependent ordered after it must wait.
    fn pending(&self) -> bool {
        use ServiceState as S;
        self.wanted
            && matches!(
                self.state,
                // Wanted but not yet waiting (just marked at boot) counts too.
                S::Inactive | S::Waiting | S::Starting | S::Running | S::Backoff
            )
            || (matches!(self.state, S::Ready | S::Completed) && !self.released)
    }
}

/// The rules, as a pure function of the graph, the states and what changed.
pub fn decide(
    graph: &DepGraph,
    states: &HashMap<String, DepState>,
    changed: &str,
    previous: Option<DepState>,
) -> DependencyDecision {
    let get = |n: &str| states.get(n).copied().unwrap_or_default();
    let mut decision = DependencyDecision::default();
    let mut candidates: BTreeSet<&str> = BTreeSet::new();
    candidates.insert(changed);
    for (dependent, _) in graph.dependents(changed) {
        candidates.insert(dependent);
    }
    let mut pulls = BTreeSet::new();
    for name in candidates {
        let me = get(name);
        if !(me.wanted && me.state == ServiceState::Waiting) {
            continue;
        }
        let mut ok = true;
        for (dep, kind) in graph.prerequisites(name) {
            let d = get(dep);
            // `requires`/`wants` bring up a dependency nobody started yet
            // (on-demand, autostart: false) and wait for it.
            let pull = matches!(kind, EdgeKind::Requires | EdgeKind::Wants)
                && !d.wanted
                && d.state == ServiceState::Inactive;
            if pull {
                pulls.insert(dep.to_string());
                ok = false;
                continue;
            }
            let satisfied = match kind {
                EdgeKind::Requires => d.released,
                EdgeKind::Wants | EdgeKind::After => !d.pending(),
            };
            ok &= satisfied;
        }
        if ok {
            decision.start.push(name.to_string());
        }
    }
    decision.pull = pulls.into_iter().collect();
    // Dependency kill: it stopped or failed for good.
    let now = get(changed);
    let went_down = matches!(now.state, ServiceState::Stopped | ServiceState::Failed)
        && previous.is_some_and(|p| p.state != now.state);
    if went_down {
        decision.stop_dependents = graph
            .requiring_closure(changed)
            .into_iter()
            .filter(|n| {
                let s = get(n).state;
                s.is_alive() || matches!(s, ServiceState::Backoff | ServiceState::Starting)
            })
            .collect();
    }
    decision
}

pub struct DependencyResolver {
    graph: DepGraph,
    states: HashMap<String, DepState>,
    manager: Recipient<DependencyDecision>,
}

impl DependencyResolver {
    pub fn new(manager: Recipient<DependencyDecision>) -> Self {
        DependencyResolver {
            graph: DepGraph::default(),
            states: HashMap::new(),
            manager,
        }
    }
}

impl Actor for DependencyResolver {
    type Context = Context<Self>;
}

impl Handler<SetGraph> for DependencyResolver {
    type Result = ();
    fn handle(&mut self, msg: SetGraph, _: &mut Context<Self>) {
        self.graph = msg.graph;
    }
}

impl Handler<DependencyChanged> for DependencyResolver {
    type Result = ();
    fn handle(&mut self, msg: DependencyChanged, _: &mut Context<Self>) {
        let new = DepState {
            state: msg.state,
            released: msg.released,
            wanted: msg.wanted,
        };
        let previous = self.states.insert(msg.service.clone(), new);
        if previous == Some(new) {
            return;
        }
        let decision = decide(&self.graph, &self.states, &msg.service, previous);
        if decision != DependencyDecision::default() {
            self.manager.do_send(decision);
        }
    }
}

impl Handler<ForgetService> for DependencyResolver {
    type Result = ();
    fn handle(&mut self, msg: ForgetService, _: &mut Context<Self>) {
        self.states.remove(&msg.service);
    }
}

impl Handler<GetShutdownLayers> for DependencyResolver {
    type Result = MessageResult<GetShutdownLayers>;
    fn handle(&mut self, _: GetShutdownLayers, _: &mut Context<Self>) -> Self::Result {
        MessageResult(self.graph.shutdown_layers())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::config::ServiceConfig;
    use std::collections::BTreeMap;
    use std::sync::Arc;
    use ServiceState as S;

    fn graph() -> DepGraph {
        let mut t = BTreeMap::new();
        let mut web = ServiceConfig::default();
        web.requires = vec!["db".into()];
        web.wants = vec!["cache".into()];
        let mut worker = ServiceConfig::default();
        worker.requires = vec!["web".into()];
        t.insert("web".to_string(), Arc::new(web));
        t.insert("worker".to_string(), Arc::new(worker));
        t.insert("db".to_string(), Arc::default());
        t.insert("cache".to_string(), Arc::default());
        DepGraph::build(&t)
    }

    fn st(state: ServiceState, released: bool, wanted: bool) -> DepState {
        DepState {
            state,
            released,
            wanted,
        }
    }

    #[test]
    fn waits_for_required_release_and_wanted_settling() {
        let g = graph();
        let mut s = HashMap::new();
        s.insert("web".to_string(), st(S::Waiting, false, true));
        s.insert("db".to_string(), st(S::Starting, false, true));
        s.insert("cache".to_string(), st(S::Waiting, false, true));
        assert!(decide(&g, &s, "web", None).start.is_empty());
        s.insert("db".to_string(), st(S::Ready, true, true));
        assert!(
            decide(&g, &s, "db", None).start.is_empty(),
            "cache still pending"
        );
        s.insert("cache".to_string(), st(S::Failed, false, true));
        assert_eq!(decide(&g, &s, "cache", None).start, vec!["web"]);
    }

    #[test]
    fn pulls_inactive_dependencies() {
        let g = graph();
        let mut s = HashMap::new();
        s.insert("web".to_string(), st(S::Waiting, false, true));
        let d = decide(&g, &s, "web", None);
        assert_eq!(d.pull, vec!["cache", "db"]);
    }

    #[test]
    fn failure_for_good_stops_requiring_dependents() {
        let g = graph();
        let mut s = HashMap::new();
        s.insert("web".to_string(), st(S::Ready, true, true));
        s.insert("worker".to_string(), st(S::Ready, true, true));
        let prev = st(S::Ready, true, true);
        s.insert("db".to_string(), st(S::Failed, false, true));
        let d = decide(&g, &s, "db", Some(prev));
        assert_eq!(d.stop_dependents, vec!["worker", "web"]);
    }
}
