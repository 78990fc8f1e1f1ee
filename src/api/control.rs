//! start / stop / restart, and `?wait=true&timeout=`: subscribe to state
//! changes before sending the command, then wait (bounded) for the target
//! state; a failed start is 409 `failed`, no target in time 504 `timeout`.

use super::error::HttpError;
use super::routes::{ask, fetch_service, scoped};
use super::AppState;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use oneinit_actors::model::config::Role;
use oneinit_actors::model::units::parse_duration;
use oneinit_actors::model::view::{ServiceState, ServiceView, StateChanged};
use oneinit_actors::service_manager::messages::{Action, ControlService, SubscribeEvents};
use serde::Deserialize;
use std::time::Duration;
use tokio::sync::broadcast::error::RecvError;

/// `?wait=true` without `timeout`.
const DEFAULT_WAIT: Duration = Duration::from_secs(30);
/// Upper bound for `?timeout=`.
const MAX_WAIT: Duration = Duration::from_secs(3600);

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct WaitQuery {
    #[serde(default)]
    wait: Option<bool>,
    #[serde(default)]
    timeout: Option<String>,
}

impl WaitQuery {
    fn timeout(&self) -> Result<Duration, HttpError> {
        match &self.timeout {
            None => Ok(DEFAULT_WAIT),
            Some(t) => {
                let d = parse_duration(t).map_err(|e| {
                    HttpError::bad_request(format!("timeout={t}: {e}; e.g. timeout=30s"))
                })?;
                Ok(d.min(MAX_WAIT))
            }
        }
    }
}

/// start / stop / restart; with `wait=true`, until the target state.
pub(super) async fn control(
    req: HttpRequest,
    st: web::Data<AppState>,
    name: web::Path<String>,
    q: web::Query<WaitQuery>,
    action: Action,
) -> Result<HttpResponse, HttpError> {
    let p = scoped(&req, &st, Role::Operator, &name)?;
    let timeout = q.timeout()?;
    let name = name.into_inner();
    // Subscribe before the command so no state change can slip by.
    let events = if q.wait.unwrap_or(false) {
        Some(ask(&st.backend.subscribe_events, SubscribeEvents).await?)
    } else {
        None
    };
    ask(
        &st.backend.control,
        ControlService {
            name: name.clone(),
            action,
        },
    )
    .await??;
    slog::info!(st.log, "service control requested";
        "service" => &name, "action" => format!("{action:?}").to_lowercase(), "by" => &p.name);
    let view = match events {
        Some(rx) => wait_for(&st, &name, action, rx, timeout).await?,
        None => fetch_service(&st, &name).await?,
    };
    Ok(HttpResponse::Ok().json(super::scope::view(&p, view)))
}

fn is_target(action: Action, state: ServiceState) -> bool {
    use ServiceState::*;
    match action {
        Action::Start | Action::Restart => matches!(state, Ready | Completed),
        Action::Stop => matches!(state, Stopped | Failed | Completed | Inactive),
    }
}

async fn wait_for(
    st: &AppState,
    name: &str,
    action: Action,
    mut rx: tokio::sync::broadcast::Receiver<StateChanged>,
    timeout: Duration,
) -> Result<ServiceView, HttpError> {
    let deadline = tokio::time::Instant::now() + timeout;
    // A restart must be seen leaving and reaching the target; a start or a
    // stop may already be there (the command was a no-op).
    let mut left = action != Action::Restart;
    if left {
        let now = fetch_service(st, name).await?;
        let already = match action {
            Action::Start => now.state == ServiceState::Ready,
            _ => is_target(action, now.state),
        };
        if already {
            return Ok(now);
        }
    }
    loop {
        let ev = match tokio::time::timeout_at(deadline, rx.recv()).await {
            Err(_) => {
                return Err(HttpError::new(
                    StatusCode::GATEWAY_TIMEOUT,
                    "timeout",
                    format!(
                        "{name} did not reach the wanted state within {}s; check `onecli logs {name}` or raise ?timeout=",
                        timeout.as_secs_f64()
                    ),
                ))
            }
            Ok(Err(RecvError::Closed)) => {
                return Err(HttpError::unavailable("with state changes (event feed closed)"))
            }
            Ok(Err(RecvError::Lagged(_))) => {
                let now = fetch_service(st, name).await?;
                if left && is_target(action, now.state) {
                    return Ok(now);
                }
                continue;
            }
            Ok(Ok(ev)) => ev,
        };
        if ev.service != name {
            continue;
        }
        if !left {
            left = !is_target(action, ev.state);
            continue;
        }
        if is_target(action, ev.state) {
            return fetch_service(st, name).await;
        }
        if action != Action::Stop && ev.state == ServiceState::Failed {
            break;
        }
    }
    Err(HttpError::new(
        StatusCode::CONFLICT,
        "failed",
        format!("{name} failed instead of becoming ready; see `onecli logs {name}`"),
    ))
}
