//! `/v1/services` and `/v1/services/{name}` with its `signal` and
//! `trigger` actions (start/stop/restart are `control.rs`). Service objects
//! are read from the manager's view board, not asked for: a busy manager
//! does not slow these down.

use super::{ask, scoped, who};
use crate::api::error::HttpError;
use crate::api::{scope, AppState, BODY_LIMIT, BODY_TIMEOUT};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use oneinit_actors::model::config::Role;
use oneinit_actors::model::signal::{parse_signal, signal_short_name};
use oneinit_actors::model::view::ServiceView;
use oneinit_actors::service_manager::messages::{
    GetService, ListServices, SignalService, TriggerService,
};
use serde::Deserialize;

/// Every service object: built here from the manager's view board when
/// there is one (the usual case), else asked for. Building on this worker
/// thread is cheap: the parts are shared, usage is sampled at most once a
/// second per service (`view::USAGE_MAX_AGE`).
async fn all_services(st: &AppState) -> Result<Vec<ServiceView>, HttpError> {
    match &st.backend.views {
        Some(board) => Ok(board.list()),
        None => ask(&st.backend.list_services, ListServices).await,
    }
}

/// One service object (from the board, as `all_services`); 404 if unknown.
pub(crate) async fn fetch_service(st: &AppState, name: &str) -> Result<ServiceView, HttpError> {
    let found = match &st.backend.views {
        Some(board) => board.get(name),
        None => ask(&st.backend.get_service, GetService { name: name.into() }).await?,
    };
    found.ok_or_else(|| HttpError::no_such_service(name))
}

pub(super) async fn list_services(
    req: HttpRequest,
    st: web::Data<AppState>,
) -> Result<HttpResponse, HttpError> {
    let p = who(&req, &st, Role::Viewer)?;
    if let (Some(board), true) = (&st.backend.views, p.services.is_empty()) {
        // Unscoped: every object as it is, from the board's cached JSON.
        let mut body = Vec::with_capacity(LIST_CAPACITY);
        board.write_list_json(&mut body, |_| true).map_err(|e| {
            HttpError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                format!("cannot serialize the services: {e}; please report this"),
            )
        })?;
        return Ok(HttpResponse::Ok()
            .content_type("application/json")
            .body(body));
    }
    let services: Vec<ServiceView> = all_services(&st)
        .await?
        .into_iter()
        .filter(|s| p.can_see(&s.name))
        .map(|s| scope::view(&p, s))
        .collect();
    Ok(HttpResponse::Ok().json(ServiceList {
        services: &services,
    }))
}

/// A first guess at the size of `GET /v1/services` (about 400 bytes per
/// service at 100 services), so the body is seldom copied as it grows.
const LIST_CAPACITY: usize = 64 * 1024;

/// The body of `GET /v1/services`, serialized straight from the views
/// (no `serde_json::Value` in between): each object's keys in the order
/// of SPEC 4's example, as `GET /v1/services/{name}` has them.
#[derive(serde::Serialize)]
struct ServiceList<'a> {
    services: &'a [ServiceView],
}

pub(super) async fn get_service(
    req: HttpRequest,
    st: web::Data<AppState>,
    name: web::Path<String>,
) -> Result<HttpResponse, HttpError> {
    let p = scoped(&req, &st, Role::Viewer, &name)?;
    Ok(HttpResponse::Ok().json(scope::view(&p, fetch_service(&st, &name).await?)))
}

#[derive(Debug, Deserialize)]
struct SignalBody {
    signal: serde_json::Value,
}

/// Reads a JSON body of at most `BODY_LIMIT` bytes within `BODY_TIMEOUT`
/// (a client that sends its body byte by byte is cut off, 408).
async fn json_body<T: serde::de::DeserializeOwned>(
    mut payload: web::Payload,
) -> Result<T, HttpError> {
    use futures_util::StreamExt;
    let read = async {
        let mut buf = web::BytesMut::new();
        while let Some(chunk) = payload.next().await {
            let chunk =
                chunk.map_err(|e| HttpError::bad_request(format!("cannot read the body: {e}")))?;
            if buf.len() + chunk.len() > BODY_LIMIT {
                return Err(HttpError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "payload_too_large",
                    format!(
                        "request body is larger than {BODY_LIMIT} bytes; send a smaller JSON body"
                    ),
                ));
            }
            buf.extend_from_slice(&chunk);
        }
        Ok(buf)
    };
    let buf = tokio::time::timeout(BODY_TIMEOUT, read)
        .await
        .map_err(|_| {
            HttpError::new(
                StatusCode::REQUEST_TIMEOUT,
                "request_timeout",
                format!(
                    "the request body did not arrive within {}s; send it at once",
                    BODY_TIMEOUT.as_secs()
                ),
            )
        })??;
    serde_json::from_slice(&buf)
        .map_err(|e| HttpError::bad_request(format!("malformed JSON body: {e}")))
}

pub(super) async fn signal(
    req: HttpRequest,
    st: web::Data<AppState>,
    name: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, HttpError> {
    scoped(&req, &st, Role::Operator, &name)?;
    let body: SignalBody = json_body(payload).await?;
    let text = match &body.signal {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Number(n) => n.to_string(),
        _ => {
            return Err(HttpError::bad_request(
                "\"signal\" must be a name such as \"HUP\" or a number",
            ))
        }
    };
    let sig = parse_signal(&text).map_err(|e| HttpError::bad_request(e.to_string()))?;
    let name = name.into_inner();
    ask(
        &st.backend.signal,
        SignalService {
            name: name.clone(),
            signal: sig,
        },
    )
    .await??;
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "service": name, "signal": signal_short_name(sig)
    })))
}

pub(super) async fn trigger(
    req: HttpRequest,
    st: web::Data<AppState>,
    name: web::Path<String>,
) -> Result<HttpResponse, HttpError> {
    scoped(&req, &st, Role::Operator, &name)?;
    let id = ask(
        &st.backend.trigger,
        TriggerService {
            name: name.into_inner(),
        },
    )
    .await??;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "instance": id })))
}
