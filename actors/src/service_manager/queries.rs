//! The ServiceManager's answers to the API: queries answer from the
//! statuses the service actors last published (no round trip to them);
//! service views come from the view board (`view.rs`), which the API also
//! reads directly. Commands validate against type and state and forward to
//! the ServiceActor.

use super::messages::*;
use super::{Entry, ServiceManager};
use crate::model::config::ServiceType;
use crate::model::machine::StopTarget;
use crate::model::view::{GraphNode, GraphView, ReadinessView, ServiceState, ServiceView};
use crate::service::messages::{SendSignal, Stop};
use actix::prelude::*;
use slog::{info, o};

impl ServiceManager {
    fn entry(&self, name: &str) -> Result<&Entry, ControlError> {
        self.services
            .get(name)
            .ok_or_else(|| ControlError::NotFound(name.to_string()))
    }

    pub(crate) fn refuse_when_shutting_down(&self) -> Result<(), ControlError> {
        match self.shutdown {
            Some(_) => Err(ControlError::ShuttingDown),
            None => Ok(()),
        }
    }
}

/// The API reads views from the board (`view::ViewBoard`) on its own
/// threads; these answers are for peers that hold only the manager's
/// address (in-process tests, tools), built from the same board.
impl Handler<ListServices> for ServiceManager {
    type Result = MessageResult<ListServices>;
    fn handle(&mut self, _: ListServices, _: &mut Context<Self>) -> Self::Result {
        MessageResult(self.views.list())
    }
}

impl Handler<GetService> for ServiceManager {
    type Result = Option<ServiceView>;
    fn handle(&mut self, msg: GetService, _: &mut Context<Self>) -> Self::Result {
        self.views.get(&msg.name)
    }
}

impl Handler<ControlService> for ServiceManager {
    type Result = Result<(), ControlError>;
    fn handle(&mut self, msg: ControlService, _: &mut Context<Self>) -> Self::Result {
        self.refuse_when_shutting_down()?;
        let e = self.entry(&msg.name)?;
        let state = e.status.state;
        let addr = e.addr.clone();
        let log = self.log.new(o!("service" => msg.name.clone()));
        match msg.action {
            Action::Start if e.cfg.kind == ServiceType::PerDemand => {
                // One run, as `trigger` (per-demand instances are not started
                // as a group); the id is in the log.
                info!(log, "start requested: triggering one run");
                addr.do_send(crate::service::messages::Trigger { connection: None });
            }
            Action::Start => {
                info!(log, "start requested");
                self.cancel_stop_of(&msg.name);
                if !state.is_alive() && state != ServiceState::Backoff {
                    self.want(&msg.name);
                } else if let Some(e) = self.services.get_mut(&msg.name) {
                    e.wanted = true;
                }
            }
            Action::Stop => {
                info!(log, "stop requested");
                if let Some(e) = self.services.get_mut(&msg.name) {
                    e.wanted = false;
                }
                // Its `requires` dependents first (SPEC 9).
                self.stop_with_dependents(&msg.name);
            }
            Action::Restart => {
                info!(log, "restart requested");
                if state.is_alive() || state == ServiceState::Backoff {
                    if let Some(e) = self.services.get_mut(&msg.name) {
                        e.wanted = true;
                    }
                    addr.do_send(Stop {
                        target: StopTarget::Restart,
                        signal: None,
                    });
                } else {
                    self.want(&msg.name);
                }
            }
        }
        Ok(())
    }
}

impl Handler<SignalService> for ServiceManager {
    type Result = ResponseFuture<Result<(), ControlError>>;
    fn handle(&mut self, msg: SignalService, _: &mut Context<Self>) -> Self::Result {
        let addr = match self.entry(&msg.name) {
            Ok(e) => e.addr.clone(),
            Err(err) => return Box::pin(async move { Err(err) }),
        };
        let name = msg.name;
        Box::pin(async move {
            match addr.send(SendSignal { signal: msg.signal }).await {
                Ok(Ok(0)) => Err(ControlError::Conflict(format!(
                    "service {name} has no running process to signal"
                ))),
                Ok(Ok(_)) => Ok(()),
                Ok(Err(e)) => Err(ControlError::Conflict(e.to_string())),
                Err(_) => Err(ControlError::ShuttingDown),
            }
        })
    }
}

impl Handler<GetLogs> for ServiceManager {
    type Result = Result<crate::logging::ring::LogTail, ControlError>;
    fn handle(&mut self, msg: GetLogs, _: &mut Context<Self>) -> Self::Result {
        Ok(self
            .entry(&msg.name)?
            .logs
            .tail_reader(msg.tail, msg.stream))
    }
}

impl Handler<SubscribeLogs> for ServiceManager {
    type Result =
        Result<tokio::sync::broadcast::Receiver<crate::model::view::LogLine>, ControlError>;
    fn handle(&mut self, msg: SubscribeLogs, _: &mut Context<Self>) -> Self::Result {
        Ok(self.entry(&msg.name)?.logs.subscribe())
    }
}

impl Handler<GetGraph> for ServiceManager {
    type Result = MessageResult<GetGraph>;
    fn handle(&mut self, _: GetGraph, _: &mut Context<Self>) -> Self::Result {
        let nodes = self
            .services
            .iter()
            .map(|(name, e)| GraphNode {
                name: name.clone(),
                kind: e.cfg.kind,
                state: e.status.state,
            })
            .collect();
        MessageResult(GraphView {
            nodes,
            edges: self.graph.edges(),
        })
    }
}

impl Handler<SubscribeEvents> for ServiceManager {
    type Result = MessageResult<SubscribeEvents>;
    fn handle(&mut self, _: SubscribeEvents, _: &mut Context<Self>) -> Self::Result {
        MessageResult(self.events.subscribe())
    }
}

impl Handler<GetReadiness> for ServiceManager {
    type Result = MessageResult<GetReadiness>;
    fn handle(&mut self, _: GetReadiness, _: &mut Context<Self>) -> Self::Result {
        let not_ready: Vec<String> = self
            .services
            .iter()
            .filter(|(_, e)| e.cfg.autostart())
            .filter(|(_, e)| {
                !matches!(
                    e.status.state,
                    ServiceState::Ready | ServiceState::Completed
                ) || e.health == crate::model::view::Health::Unhealthy
            })
            .map(|(name, _)| name.clone())
            .collect();
        MessageResult(ReadinessView {
            ready: not_ready.is_empty() && self.shutdown.is_none(),
            not_ready,
        })
    }
}

impl Handler<Ping> for ServiceManager {
    type Result = ();
    fn handle(&mut self, _: Ping, _: &mut Context<Self>) {}
}

impl Handler<Shutdown> for ServiceManager {
    type Result = ();
    fn handle(&mut self, _: Shutdown, ctx: &mut Context<Self>) {
        self.begin_shutdown(None, ctx);
    }
}
