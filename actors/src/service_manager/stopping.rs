//! Stops that take `requires` dependents down first (SPEC 9): an operator's
//! stop (API, onecli) and a dependency kill. The order is the pure
//! `model::stop_plan`; this file performs its steps as services settle.

use super::lifecycle::settled;
use super::ServiceManager;
use crate::model::graph::EdgeKind;
use crate::model::machine::StopTarget;
use crate::model::stop_plan::{Next, StopPlan};
use crate::model::view::ServiceState;
use crate::service::messages::Stop;
use slog::{info, o};

/// Has processes, or is about to start some.
fn stoppable(state: ServiceState) -> bool {
    state.is_alive() || matches!(state, ServiceState::Backoff | ServiceState::Starting)
}

impl ServiceManager {
    /// The services that directly `require` `name`.
    fn requirers(&self, name: &str) -> Vec<String> {
        self.graph
            .dependents(name)
            .into_iter()
            .filter(|(_, kind)| *kind == EdgeKind::Requires)
            .map(|(n, _)| n.to_string())
            .collect()
    }

    fn plan(&self, target: Option<String>, dependents: &[String]) -> StopPlan {
        let dependents: Vec<String> = dependents
            .iter()
            .filter(|n| {
                self.services
                    .get(n.as_str())
                    .is_some_and(|e| stoppable(e.status.state))
            })
            .cloned()
            .collect();
        StopPlan::new(target, &dependents, |n| self.requirers(n))
    }

    /// An operator's stop: the running services that (transitively)
    /// `require` `name` stop first, dependents before what they require,
    /// then `name` itself.
    pub(crate) fn stop_with_dependents(&mut self, name: &str) {
        let plan = self.plan(Some(name.to_string()), &self.graph.requiring_closure(name));
        self.stop_plans.push(plan);
        self.advance_stop_plans();
    }

    /// A dependency kill: something `dependents` require went away; they
    /// stop (farthest dependents first) and wait for it to come back.
    pub(crate) fn stop_dependents(&mut self, dependents: &[String]) {
        let plan = self.plan(None, dependents);
        self.stop_plans.push(plan);
        self.advance_stop_plans();
    }

    /// A dependent being stopped by a plan must not be started meanwhile.
    pub(crate) fn held_by_stop(&self, name: &str) -> bool {
        self.stop_plans.iter().any(|p| p.holds(name))
    }

    /// Forgets the plans that would stop `name` (it was started again).
    pub(crate) fn cancel_stop_of(&mut self, name: &str) {
        self.stop_plans.retain(|p| p.target() != Some(name));
    }

    /// Performs every step the plans allow now; called whenever a service's
    /// status changes.
    pub(crate) fn advance_stop_plans(&mut self) {
        let mut plans = std::mem::take(&mut self.stop_plans);
        plans.retain_mut(|plan| loop {
            let next = plan.next(|n| self.services.get(n).is_none_or(|e| settled(e.status.state)));
            match next {
                Next::Wait => return true,
                Next::Done => return false,
                Next::StopDependents(names) => {
                    for name in &names {
                        self.send_stop(name, StopTarget::Waiting);
                    }
                }
                Next::StopTarget(name) => self.send_stop(&name, StopTarget::Stopped),
            }
        });
        plans.append(&mut self.stop_plans);
        self.stop_plans = plans;
    }

    fn send_stop(&self, name: &str, target: StopTarget) {
        let Some(e) = self.services.get(name) else {
            return;
        };
        if target == StopTarget::Waiting {
            let log = self.log.new(o!("service" => name.to_string()));
            info!(
                log,
                "stopping: a service it requires is stopping or went away"
            );
        }
        e.addr.do_send(Stop {
            target,
            signal: None,
        });
    }
}
