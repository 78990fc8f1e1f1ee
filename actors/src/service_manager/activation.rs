//! The ServiceManager's side of on-demand and per-demand services (SPEC 3):
//! `TriggerService` from the API (on-demand: a start; per-demand: a new
//! instance whose id is the answer) and `ActivateService` from a service's
//! own socket watcher or schedule (a start with dependencies first).

use super::messages::{ActivateService, ControlError, TriggerService};
use super::ServiceManager;
use crate::model::config::ServiceConfig;
use crate::model::config::ServiceType;
use crate::model::view::ServiceState;
use crate::service::messages::Trigger;
use crate::sys::socket::{self, ListenSocket};
use actix::prelude::*;
use slog::{debug, error, info, o};
use std::collections::BTreeMap;
use std::rc::Rc;
use std::sync::Arc;

impl ServiceManager {
    /// The activation sockets of a service being added: the ones bound at
    /// start (or for an earlier config with the same addresses), else bound
    /// now (a service added or changed by a reload).
    pub(crate) fn sockets_for(
        &mut self,
        name: &str,
        cfg: &Arc<ServiceConfig>,
    ) -> Vec<Rc<ListenSocket>> {
        let Some(sock) = &cfg.socket else {
            self.sockets.remove(name);
            return Vec::new();
        };
        if let Some(have) = self.sockets.get(name) {
            let same = have.len() == sock.listen.len()
                && have.iter().zip(&sock.listen).all(|(h, a)| &h.addr == a);
            if same {
                return have.clone();
            }
        }
        // Close the old addresses first: the new list may reuse some.
        self.sockets.remove(name);
        let mut one = BTreeMap::new();
        one.insert(name.to_string(), cfg.clone());
        match socket::bind_all(&one) {
            Ok(mut bound) => {
                let socks: Vec<Rc<ListenSocket>> = bound
                    .remove(name)
                    .unwrap_or_default()
                    .into_iter()
                    .map(Rc::new)
                    .collect();
                self.sockets.insert(name.to_string(), socks.clone());
                socks
            }
            Err(errors) => {
                for e in errors {
                    error!(self.log, "socket activation is off for this service: {e}; free the address and reload"; "service" => name);
                }
                Vec::new()
            }
        }
    }

    /// Starts an on-demand (or scheduled oneshot) service unless it runs.
    fn start_if_idle(&mut self, name: &str) {
        let Some(e) = self.services.get(name) else {
            return;
        };
        let state = e.status.state;
        if !state.is_alive() && !matches!(state, ServiceState::Backoff | ServiceState::Waiting) {
            self.want(name);
        }
    }
}

impl Handler<TriggerService> for ServiceManager {
    type Result = ResponseFuture<Result<u64, ControlError>>;
    fn handle(&mut self, msg: TriggerService, _: &mut Context<Self>) -> Self::Result {
        let checked = self.refuse_when_shutting_down().and_then(|_| {
            self.services
                .get(&msg.name)
                .map(|e| (e.cfg.kind, e.addr.clone()))
                .ok_or_else(|| ControlError::NotFound(msg.name.clone()))
        });
        let (kind, addr) = match checked {
            Ok(found) => found,
            Err(e) => return Box::pin(async move { Err(e) }),
        };
        let log = self.log.new(o!("service" => msg.name.clone()));
        match kind {
            ServiceType::OnDemand => {
                info!(log, "trigger requested");
                self.start_if_idle(&msg.name);
                Box::pin(async { Ok(0) })
            }
            ServiceType::PerDemand => Box::pin(async move {
                addr.send(Trigger { connection: None })
                    .await
                    .map_err(|_| ControlError::ShuttingDown)?
            }),
            kind => {
                let message = format!(
                    "service {} is {}: only on-demand and per-demand services can be triggered; use start",
                    msg.name,
                    kind.as_str()
                );
                Box::pin(async move { Err(ControlError::Conflict(message)) })
            }
        }
    }
}

impl Handler<ActivateService> for ServiceManager {
    type Result = ();
    fn handle(&mut self, msg: ActivateService, _: &mut Context<Self>) {
        let log = self.log.new(o!("service" => msg.name.clone()));
        if self.shutdown.is_some() {
            debug!(log, "activation ignored: shutting down"; "reason" => msg.reason);
            return;
        }
        info!(log, "activated"; "reason" => msg.reason);
        self.start_if_idle(&msg.name);
    }
}
