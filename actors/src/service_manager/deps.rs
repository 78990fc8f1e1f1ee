//! The dependency rules applied: a service's facts changed, and
//! `dependency_resolver::decide` says what may start or must stop now.

use super::ServiceManager;
use crate::dependency_resolver::{decide, DepState, DependencyDecision};
use crate::model::view::ServiceState;
use crate::service::messages::{Start, Wait};
use slog::{info, o};

impl ServiceManager {
    /// Marks a service wanted and lets the dependency rules start it when
    /// its dependencies allow.
    pub(crate) fn want(&mut self, name: &str) {
        let previous = self.dep_state(name);
        if let Some(e) = self.services.get_mut(name) {
            e.wanted = true;
            e.addr.do_send(Wait);
            self.resolve(name, previous);
        }
    }

    /// The facts of one service the dependency rules read.
    pub(crate) fn dep_state(&self, name: &str) -> Option<DepState> {
        self.services.get(name).map(|e| DepState {
            state: e.status.state,
            released: e.status.released,
            wanted: e.wanted,
        })
    }

    /// A dependency fact of `name` changed from `previous`: applies what
    /// the dependency rules (`dependency_resolver::decide`) now demand.
    pub(crate) fn resolve(&mut self, name: &str, previous: Option<DepState>) {
        let now = self.dep_state(name);
        if now.is_none() || now == previous {
            return;
        }
        let decision = decide(
            &self.graph,
            |n| self.dep_state(n).unwrap_or_default(),
            name,
            previous,
        );
        if decision != DependencyDecision::default() {
            self.apply_decision(decision);
        }
    }

    fn apply_decision(&mut self, decision: DependencyDecision) {
        if self.shutdown.is_some() {
            return;
        }
        for name in &decision.pull {
            let log = self.log.new(o!("service" => name.clone()));
            info!(log, "started as a dependency");
            self.want(name);
        }
        for name in &decision.start {
            if self.held_by_stop(name) {
                continue;
            }
            if let Some(e) = self.services.get(name) {
                if e.wanted && e.status.state == ServiceState::Waiting {
                    e.addr.do_send(Start);
                }
            }
        }
        if !decision.stop_dependents.is_empty() {
            self.stop_dependents(&decision.stop_dependents);
        }
    }
}
