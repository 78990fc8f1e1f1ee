//! The supervisor-wide routes: `/v1/graph`, `/v1/reload`, `/v1/events`,
//! `/v1/openapi.json`, `/healthz`, `/readyz` and the metrics path (which
//! follows the live settings, so it is served by the default service).

use super::{ask, who};
use crate::api::error::{self, HttpError};
use crate::api::{openapi, scope, sse, AppState};
use actix_web::http::{Method, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse, ResponseError};
use oneinit_actors::config_loader::Reload;
use oneinit_actors::model::config::Role;
use oneinit_actors::service_manager::messages::{GetGraph, GetReadiness, Ping, SubscribeEvents};
use std::time::Duration;

/// `/healthz`: the supervisor must answer `Ping` within this.
const PING_TIMEOUT: Duration = Duration::from_secs(2);

pub(super) async fn graph(
    req: HttpRequest,
    st: web::Data<AppState>,
) -> Result<HttpResponse, HttpError> {
    let p = who(&req, &st, Role::Viewer)?;
    let mut g = ask(&st.backend.get_graph, GetGraph).await?;
    g.nodes.retain(|n| p.can_see(&n.name));
    g.edges.retain(|e| p.can_see(&e.from) && p.can_see(&e.to));
    Ok(HttpResponse::Ok().json(g))
}

pub(super) async fn reload(
    req: HttpRequest,
    st: web::Data<AppState>,
) -> Result<HttpResponse, HttpError> {
    let p = who(&req, &st, Role::Admin)?;
    slog::info!(st.log, "reload requested"; "by" => &p.name);
    match ask(&st.backend.reload, Reload).await? {
        Ok(report) => Ok(HttpResponse::Ok().json(report)),
        Err(errors) => {
            let mut e = HttpError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_config",
                format!(
                    "the new configuration has {} error(s); nothing was changed: {}",
                    errors.len(),
                    errors.join("; ")
                ),
            );
            e.details = errors;
            Err(e)
        }
    }
}

pub(super) async fn events(
    req: HttpRequest,
    st: web::Data<AppState>,
) -> Result<HttpResponse, HttpError> {
    let p = who(&req, &st, Role::Viewer)?;
    let slot = st.sse.enter()?;
    let rx = ask(&st.backend.subscribe_events, SubscribeEvents).await?;
    Ok(sse::response(sse::event_stream(slot, rx, p)))
}

pub(super) async fn openapi_doc(st: web::Data<AppState>) -> HttpResponse {
    let live = st.live.current();
    HttpResponse::Ok().json(openapi::document_for(&live.metrics, live.auth.enabled()))
}

/// `/metrics`: open, or with `metrics.auth` the viewer role; a scoped
/// caller sees only the series of its services.
pub(super) async fn metrics(
    req: HttpRequest,
    st: web::Data<AppState>,
) -> Result<HttpResponse, HttpError> {
    let caller = if st.live.current().metrics.auth {
        Some(who(&req, &st, Role::Viewer)?)
    } else {
        None
    };
    let Some(exporter) = &st.backend.gather_metrics else {
        return Err(HttpError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "metrics are not collected: no metrics exporter is running in this build",
        ));
    };
    let text = ask(
        exporter,
        oneinit_actors::metrics_exporter::messages::GatherMetrics,
    )
    .await?;
    let mut text = match &caller {
        Some(p) => scope::metrics(p, &text),
        None => text,
    };
    text.push_str(&st.live.exposition());
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(text))
}

pub(super) async fn healthz(st: web::Data<AppState>) -> Result<HttpResponse, HttpError> {
    match tokio::time::timeout(PING_TIMEOUT, st.backend.ping.send(Ping)).await {
        Ok(Ok(())) => Ok(HttpResponse::Ok().json(serde_json::json!({ "status": "ok" }))),
        _ => Err(HttpError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unhealthy",
            "the supervisor did not answer within 2s",
        )),
    }
}

pub(super) async fn readyz(st: web::Data<AppState>) -> Result<HttpResponse, HttpError> {
    let view = ask(&st.backend.get_readiness, GetReadiness).await?;
    let status = if view.ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    Ok(HttpResponse::build(status).json(view))
}

/// The metrics listener's only route: the live metrics path.
pub(crate) async fn metrics_only(req: HttpRequest, st: web::Data<AppState>) -> HttpResponse {
    let path = st.live.current().metrics.path.clone();
    match serve_live_metrics(req, st).await {
        Ok(r) => r,
        Err(_) => {
            HttpError::not_found(format!("this listener serves only {path}")).error_response()
        }
    }
}

/// Unknown paths, and the metrics path of the live settings.
pub(super) async fn fallback(req: HttpRequest, st: web::Data<AppState>) -> HttpResponse {
    match serve_live_metrics(req, st).await {
        Ok(r) => r,
        Err(req) => error::unknown_path(req).await,
    }
}

/// Answers the request when it is for the metrics path of the live settings
/// (reload may move or disable it); otherwise gives the request back.
async fn serve_live_metrics(
    req: HttpRequest,
    st: web::Data<AppState>,
) -> Result<HttpResponse, HttpRequest> {
    let live = st.live.current();
    if !(live.metrics.enabled && req.path() == live.metrics.path) {
        return Err(req);
    }
    if req.method() != Method::GET {
        return Ok(error::wrong_method(req, "GET"));
    }
    Ok(match metrics(req, st).await {
        Ok(r) => r,
        Err(e) => e.error_response(),
    })
}
