//! The route table of SPEC 4: which handler serves each method and path,
//! and the helpers every handler shares (authentication, role and scope
//! checks, bounded messages to the supervisor). Each handler authenticates,
//! checks role and service scope, reads or sends one typed message and
//! shapes the answer. The table (`endpoints`) is also what the OpenAPI test
//! walks. Handlers by group: `services.rs` (service objects, signal,
//! trigger), `logs.rs`, `system.rs` (graph, reload, events, health,
//! metrics); start/stop/restart are `control.rs`.

mod logs;
mod services;
mod system;

pub(crate) use services::fetch_service;
pub(crate) use system::metrics_only;

use super::auth::Principal;
use super::error::{self, HttpError};
use super::{control, AppState, BODY_LIMIT};
use actix_web::http::Method;
use actix_web::{web, HttpRequest};
use logs::{logs, LogsQuery};
use oneinit_actors::model::config::{MetricsConfig, Role};
use oneinit_actors::service_manager::messages::Action;
use services::{get_service, list_services, signal, trigger};
use std::time::Duration;
use system::{events, fallback, graph, healthz, openapi_doc, readyz, reload};

/// How long a backend message may take before the API answers 503.
const ASK_TIMEOUT: Duration = Duration::from_secs(10);

/// What an endpoint does; `configure` maps each to its handler.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    ListServices,
    GetService,
    Start,
    Stop,
    Restart,
    Signal,
    Trigger,
    Logs,
    Graph,
    Reload,
    Events,
    OpenApi,
    Metrics,
    Healthz,
    Readyz,
}

/// One row of the route table.
#[derive(Clone, Debug, PartialEq)]
pub struct Endpoint {
    pub method: Method,
    pub path: String,
    pub op: Op,
}

/// Every route the API serves (the metrics path comes from the config).
pub fn endpoints(metrics: &MetricsConfig) -> Vec<Endpoint> {
    let mut rows = vec![
        (Method::GET, "/v1/services", Op::ListServices),
        (Method::GET, "/v1/services/{name}", Op::GetService),
        (Method::POST, "/v1/services/{name}/start", Op::Start),
        (Method::POST, "/v1/services/{name}/stop", Op::Stop),
        (Method::POST, "/v1/services/{name}/restart", Op::Restart),
        (Method::POST, "/v1/services/{name}/signal", Op::Signal),
        (Method::POST, "/v1/services/{name}/trigger", Op::Trigger),
        (Method::GET, "/v1/services/{name}/logs", Op::Logs),
        (Method::GET, "/v1/graph", Op::Graph),
        (Method::POST, "/v1/reload", Op::Reload),
        (Method::GET, "/v1/events", Op::Events),
        (Method::GET, "/v1/openapi.json", Op::OpenApi),
        (Method::GET, "/healthz", Op::Healthz),
        (Method::GET, "/readyz", Op::Readyz),
    ]
    .into_iter()
    .map(|(method, path, op)| Endpoint {
        method,
        path: path.to_string(),
        op,
    })
    .collect::<Vec<_>>();
    if metrics.enabled {
        rows.push(Endpoint {
            method: Method::GET,
            path: metrics.path.clone(),
            op: Op::Metrics,
        });
    }
    rows
}

fn route_for(op: Op, method: Method) -> actix_web::Route {
    let r = web::method(method);
    match op {
        Op::ListServices => r.to(list_services),
        Op::GetService => r.to(get_service),
        Op::Start => r.to(|req, st, p, q| control::control(req, st, p, q, Action::Start)),
        Op::Stop => r.to(|req, st, p, q| control::control(req, st, p, q, Action::Stop)),
        Op::Restart => r.to(|req, st, p, q| control::control(req, st, p, q, Action::Restart)),
        Op::Signal => r.to(signal),
        Op::Trigger => r.to(trigger),
        Op::Logs => r.to(logs),
        Op::Graph => r.to(graph),
        Op::Reload => r.to(reload),
        Op::Events => r.to(events),
        Op::OpenApi => r.to(openapi_doc),
        Op::Metrics => r.to(fallback),
        Op::Healthz => r.to(healthz),
        Op::Readyz => r.to(readyz),
    }
}

/// Registers the table: one resource per path (so another method is a JSON
/// 405), JSON errors for extractors, and a JSON 404 for unknown paths.
pub fn configure(cfg: &mut web::ServiceConfig, metrics: &MetricsConfig) {
    cfg.app_data(
        web::JsonConfig::default()
            .limit(BODY_LIMIT)
            .content_type_required(false)
            .error_handler(error::json_error),
    )
    .app_data(web::PayloadConfig::default().limit(BODY_LIMIT))
    .app_data(web::QueryConfig::default().error_handler(error::query_error))
    .app_data(web::PathConfig::default().error_handler(error::path_error));
    // The metrics path follows the live settings (a reload may move or
    // disable it): it is answered by the default service, see `fallback`.
    let rows: Vec<Endpoint> = endpoints(metrics)
        .into_iter()
        .filter(|e| e.op != Op::Metrics)
        .collect();
    let mut paths: Vec<&str> = Vec::new();
    for e in &rows {
        if !paths.contains(&e.path.as_str()) {
            paths.push(&e.path);
        }
    }
    for path in paths {
        let mut res = web::resource(path);
        let mut allow: Vec<&str> = Vec::new();
        for e in rows.iter().filter(|e| e.path == path) {
            res = res.route(route_for(e.op, e.method.clone()));
            allow.push(e.method.as_str());
        }
        let allow = allow.join(", ");
        cfg.service(res.default_service(web::to(move |req: HttpRequest| {
            let allow = allow.clone();
            async move { error::wrong_method(req, &allow) }
        })));
    }
    cfg.default_service(web::to(fallback));
}

/// What the router and the query extractors make of a request target.
#[derive(Clone, Debug, PartialEq)]
pub struct Resolved {
    pub op: Op,
    /// The `{name}` segment, percent-decoded as the handlers see it.
    pub name: Option<String>,
    /// Whether the query string deserializes into the route's query type.
    pub query_ok: bool,
}

/// Resolves `method` and `target` (`/v1/services/web/logs?tail=5`) with the
/// route table and query types the server uses; None for an unknown path
/// or method (404/405). Pure: no state, no I/O. The fuzz target and the
/// tests call it; the server routes through actix with the same table.
pub fn resolve(method: &Method, target: &str, metrics: &MetricsConfig) -> Option<Resolved> {
    use actix_web::dev::{Path, ResourceDef, Url};
    let uri: actix_web::http::Uri = target.parse().ok()?;
    let query = uri.query().unwrap_or_default().to_string();
    let url = Url::new(uri);
    // actix-router leaks the name of each `{segment}` it parses (they are
    // `&'static str`): parse each pattern once, as the server does.
    static DEFS: std::sync::Mutex<Vec<(String, ResourceDef)>> = std::sync::Mutex::new(Vec::new());
    let mut defs = DEFS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    for e in endpoints(metrics)
        .into_iter()
        .filter(|e| e.method == *method)
    {
        let i = match defs.iter().position(|(p, _)| *p == e.path) {
            Some(i) => i,
            None => {
                defs.push((e.path.clone(), ResourceDef::new(e.path.as_str())));
                defs.len() - 1
            }
        };
        let mut path = Path::new(url.clone());
        if defs[i].1.capture_match_info(&mut path) {
            let query_ok = match e.op {
                Op::Logs => web::Query::<LogsQuery>::from_query(&query).is_ok(),
                Op::Start | Op::Stop | Op::Restart => {
                    web::Query::<control::WaitQuery>::from_query(&query).is_ok()
                }
                _ => true,
            };
            return Some(Resolved {
                op: e.op,
                name: path.get("name").map(str::to_string),
                query_ok,
            });
        }
    }
    None
}

/// Sends `msg` with a bound; no answer in time is 503.
pub(crate) async fn ask<M>(to: &actix::Recipient<M>, msg: M) -> Result<M::Result, HttpError>
where
    M: actix::Message + Send + 'static,
    M::Result: Send,
{
    match tokio::time::timeout(ASK_TIMEOUT, to.send(msg)).await {
        Ok(Ok(v)) => Ok(v),
        _ => Err(HttpError::unavailable("within 10s")),
    }
}

fn who(req: &HttpRequest, st: &AppState, role: Role) -> Result<Principal, HttpError> {
    let p = st.live.current().auth.authenticate(req)?;
    p.require(role)?;
    Ok(p)
}

pub(crate) fn scoped(
    req: &HttpRequest,
    st: &AppState,
    role: Role,
    name: &str,
) -> Result<Principal, HttpError> {
    let p = who(req, st, role)?;
    p.require_service(name)?;
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolve_matches_routes_names_and_queries() {
        let m = MetricsConfig::default();
        let r = resolve(
            &Method::GET,
            "/v1/services/we%20b/logs?tail=5&follow=true",
            &m,
        )
        .unwrap();
        assert_eq!(
            (r.op, r.name.as_deref(), r.query_ok),
            (Op::Logs, Some("we b"), true)
        );
        let r = resolve(&Method::GET, "/v1/services/web/logs?tail=-1", &m).unwrap();
        assert!(!r.query_ok);
        let r = resolve(
            &Method::POST,
            "/v1/services/web/stop?wait=true&timeout=5s",
            &m,
        )
        .unwrap();
        assert_eq!((r.op, r.query_ok), (Op::Stop, true));
        assert!(
            !resolve(&Method::POST, "/v1/services/web/stop?bogus=1", &m)
                .unwrap()
                .query_ok
        );
        assert_eq!(
            resolve(&Method::GET, "/metrics", &m).unwrap().op,
            Op::Metrics
        );
        assert_eq!(resolve(&Method::DELETE, "/v1/services", &m), None);
        assert_eq!(resolve(&Method::GET, "/nope", &m), None);
        assert_eq!(resolve(&Method::GET, "not a uri", &m), None);
    }
}
