//! The ServiceManager's side of health and readiness: it stores the health
//! the HealthChecker reports (views, `/readyz`), logs `unhealthy`/`healthy`
//! events (SPEC 6) and performs `on_unhealthy` (SPEC 5.1). Readiness and
//! `STATUS=` text go from the HealthChecker straight to the ServiceActor,
//! whose recipients the manager announces (`ServiceActorStarted`).

use super::ServiceManager;
pub use crate::facts::ConfigApplied;
use crate::health_checker::messages::HealthChanged;
use crate::model::config::{OnUnhealthy, ServiceConfig};
use crate::model::machine::StopTarget;
use crate::model::view::{Health, ServiceState};
use crate::processes::ProcessTable;
use crate::service::messages::{ServiceActorStarted, Stop};
use crate::service::ServiceActor;
use actix::prelude::*;
use slog::{info, o, warn};
use std::sync::Arc;

impl ServiceManager {
    /// The table of child pids and their owners, for peers that spawn helper
    /// processes (exec checks, command notifiers) through the one reaper.
    pub fn process_table(&self) -> ProcessTable {
        self.procs.clone()
    }

    /// Tells `to` of every configuration applied from now on.
    pub fn observe_config(&mut self, to: Recipient<ConfigApplied>) {
        self.config_observers.push(to);
    }

    /// Tells `to` which actor runs each service, from now on.
    pub fn observe_actors(&mut self, to: Recipient<ServiceActorStarted>) {
        self.actor_observers.push(to);
    }

    pub(crate) fn tell_actor_observers(
        &self,
        name: &str,
        cfg: &Arc<ServiceConfig>,
        addr: &Addr<ServiceActor>,
    ) {
        for r in &self.actor_observers {
            r.do_send(ServiceActorStarted {
                service: name.to_string(),
                cfg: cfg.clone(),
                ready: addr.clone().recipient(),
                status_text: addr.clone().recipient(),
            });
        }
    }

    pub(crate) fn tell_config_observers(&self) {
        for r in &self.config_observers {
            r.do_send(ConfigApplied {
                config: self.config.clone(),
            });
        }
    }
}

impl Handler<HealthChanged> for ServiceManager {
    type Result = ();
    fn handle(&mut self, msg: HealthChanged, _: &mut Context<Self>) {
        let shutting_down = self.shutdown.is_some();
        let Some(e) = self.services.get_mut(&msg.service) else {
            return;
        };
        let before = e.health;
        e.health = msg.health;
        if before == msg.health {
            return;
        }
        self.views.publish(&msg.service, e.view_parts());
        let log = self.log.new(o!("service" => msg.service.clone()));
        let check = msg.check.clone().unwrap_or_default();
        match msg.health {
            Health::Unhealthy => {
                let action = e.cfg.on_unhealthy;
                warn!(log, "unhealthy: {}", msg.message;
                    "event" => "unhealthy", "check" => &check, "action" => action_name(action));
                let up = matches!(e.status.state, ServiceState::Running | ServiceState::Ready);
                if shutting_down || !up {
                    return;
                }
                match action {
                    OnUnhealthy::Restart => e.addr.do_send(Stop {
                        target: StopTarget::Restart,
                        signal: None,
                    }),
                    OnUnhealthy::Stop => {
                        // As an operator's stop: its `requires` dependents
                        // first, then the service (SPEC 9).
                        e.wanted = false;
                        self.stop_with_dependents(&msg.service);
                    }
                    OnUnhealthy::Notify | OnUnhealthy::Ignore => {}
                }
            }
            Health::Healthy => {
                info!(log, "healthy"; "event" => "healthy", "check" => &check);
            }
            Health::Unknown => {}
        }
    }
}

fn action_name(a: OnUnhealthy) -> &'static str {
    match a {
        OnUnhealthy::Restart => "restart",
        OnUnhealthy::Stop => "stop",
        OnUnhealthy::Notify => "notify",
        OnUnhealthy::Ignore => "ignore",
    }
}
