//! Messages between the ServiceManager and the DependencyResolver.

use crate::model::graph::DepGraph;
use crate::model::view::ServiceState;
use actix::Message;

/// Replace the dependency graph (start-up and reload).
#[derive(Message)]
#[rtype(result = "()")]
pub struct SetGraph {
    pub graph: DepGraph,
}

/// Fact: a service's state, as far as dependencies care, changed.
#[derive(Message, Clone, Debug)]
#[rtype(result = "()")]
pub struct DependencyChanged {
    pub service: String,
    pub state: ServiceState,
    /// Ready/completed and past its `notify_delay`.
    pub released: bool,
    /// Somebody wants it running (autostart, an operator, a dependent).
    pub wanted: bool,
}

/// Forget a service (removed by a reload).
#[derive(Message)]
#[rtype(result = "()")]
pub struct ForgetService {
    pub service: String,
}

/// The stop order: layers, dependents first.
#[derive(Message)]
#[rtype(result = "Vec<Vec<String>>")]
pub struct GetShutdownLayers;

/// Fact for the ServiceManager: what dependencies now allow or demand.
#[derive(Message, Clone, Debug, Default, PartialEq)]
#[rtype(result = "()")]
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
