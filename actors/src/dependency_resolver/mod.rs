//! DependencyResolver: the dependency rules (SPEC 2.3, 5.2) as the pure
//! function `decide`: which waiting services may start, which dependencies
//! to pull up, and which dependents to stop when something they require
//! goes away.
//!
//! It is a function, not an actor: every fact it needs (a service's state,
//! whether it is released and wanted) is owned by the ServiceManager's
//! table, which calls `decide` with a lookup into that table whenever one
//! of those facts changes. An actor would have to mirror that state (it
//! once did, and the copy cost five mailbox hops per start); a function
//! answers from the facts it is handed and is table-tested below.

use crate::model::graph::{DepGraph, EdgeKind};
use crate::model::view::ServiceState;
use std::collections::BTreeSet;

/// What dependencies now allow or demand, for the ServiceManager to do.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DependencyDecision {
    /// Waiting services whose dependencies are all satisfied: start them.
    pub start: Vec<String>,
    /// Dependencies (`requires`/`wants`) of a waiting service that nobody
    /// wanted yet (on-demand): mark them wanted.
    pub pull: Vec<String>,
    /// Services that `require` one that stopped or failed for good,
    /// dependents first: stop them until it is back.
    pub stop_dependents: Vec<String>,
}

/// The dependency-relevant facts of one service, read from the
/// ServiceManager's table when a decision is made (never stored here).
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
/// `state_of` answers the current facts of a service (the default for one
/// it does not know); `previous` is what `changed` looked like before.
pub fn decide(
    graph: &DepGraph,
    state_of: impl Fn(&str) -> DepState,
    changed: &str,
    previous: Option<DepState>,
) -> DependencyDecision {
    let get = |n: &str| state_of(n);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::config::ServiceConfig;
    use std::collections::{BTreeMap, HashMap};
    use std::sync::Arc;
    use ServiceState as S;

    fn graph() -> DepGraph {
        let mut t = BTreeMap::new();
        let web = ServiceConfig {
            requires: vec!["db".into()],
            wants: vec!["cache".into()],
            ..Default::default()
        };
        let worker = ServiceConfig {
            requires: vec!["web".into()],
            ..Default::default()
        };
        t.insert("web".to_string(), Arc::new(web));
        t.insert("worker".to_string(), Arc::new(worker));
        t.insert("db".to_string(), Arc::default());
        t.insert("cache".to_string(), Arc::default());
        DepGraph::build(&t)
    }

    fn lookup(s: &HashMap<String, DepState>) -> impl Fn(&str) -> DepState + '_ {
        |n| s.get(n).copied().unwrap_or_default()
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
        assert!(decide(&g, lookup(&s), "web", None).start.is_empty());
        s.insert("db".to_string(), st(S::Ready, true, true));
        assert!(
            decide(&g, lookup(&s), "db", None).start.is_empty(),
            "cache still pending"
        );
        s.insert("cache".to_string(), st(S::Failed, false, true));
        assert_eq!(decide(&g, lookup(&s), "cache", None).start, vec!["web"]);
    }

    #[test]
    fn pulls_inactive_dependencies() {
        let g = graph();
        let mut s = HashMap::new();
        s.insert("web".to_string(), st(S::Waiting, false, true));
        let d = decide(&g, lookup(&s), "web", None);
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
        let d = decide(&g, lookup(&s), "db", Some(prev));
        assert_eq!(d.stop_dependents, vec!["worker", "web"]);
    }
}
