//! The ServiceManager's side of health and readiness: it stores the health
//! the HealthChecker reports (views, `/readyz`), logs `unhealthy`/`healthy`
//! events (SPEC 6), performs `on_unhealthy` (SPEC 5.1), and passes
//! readiness and `STATUS=` text from the HealthChecker to the ServiceActor.

use super::process_table::ProcessTable;
use super::ServiceManager;
use crate::health_checker::messages::HealthChanged;
use crate::model::config::OnUnhealthy;
use crate::model::machine::StopTarget;
use crate::model::view::{Health, ServiceState};
use crate::service::messages::{InstanceReady, SetStatusText, Stop};
use actix::prelude::*;
use slog::{info, o, warn};

/// Fact: a new configuration was applied (reload). Peers that follow
/// services (HealthChecker, Notifier) rebuild what they watch from it.
#[derive(Message, Clone, Debug)]
#[rtype(result = "()")]
pub struct ConfigApplied {
    pub config: crate::model::config::Config,
}

/// An instance of `service` reported readiness (readiness check passed,
/// sd_notify `READY=1`).
#[derive(Message)]
#[rtype(result = "()")]
pub struct MarkReady {
    pub service: String,
    pub instance: u64,
    pub pid: Option<i32>,
}

/// sd_notify `STATUS=` text of `service`, shown as `status_text`.
#[derive(Message)]
#[rtype(result = "()")]
pub struct SetServiceStatus {
    pub service: String,
    pub text: String,
}

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
        e.view.health = msg.health;
        if before == msg.health {
            return;
        }
        let log = self.log.new(o!("service" => msg.service.clone()));
        let check = msg.check.clone().unwrap_or_default();
        match msg.health {
            Health::Unhealthy => {
                let action = e.cfg.on_unhealthy;
                warn!(log, "unhealthy: {}", msg.message;
                    "event" => "unhealthy", "check" => &check, "action" => action_name(action));
                let up = matches!(e.view.state, ServiceState::Running | ServiceState::Ready);
                if shutting_down || !up {
                    return;
                }
                match action {
                    OnUnhealthy::Restart => e.addr.do_send(Stop {
                        target: StopTarget::Restart,
                        signal: None,
                    }),
                    OnUnhealthy::Stop => {
                        e.wanted = false;
                        e.addr.do_send(Stop {
                            target: StopTarget::Stopped,
                            signal: None,
                        });
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

impl Handler<MarkReady> for ServiceManager {
    type Result = ();
    fn handle(&mut self, msg: MarkReady, _: &mut Context<Self>) {
        if let Some(e) = self.services.get(&msg.service) {
            e.addr.do_send(InstanceReady {
                instance: msg.instance,
                pid: msg.pid,
            });
        }
    }
}

impl Handler<SetServiceStatus> for ServiceManager {
    type Result = ();
    fn handle(&mut self, msg: SetServiceStatus, _: &mut Context<Self>) {
        if let Some(e) = self.services.get(&msg.service) {
            e.addr.do_send(SetStatusText { text: msg.text });
        }
    }
}
