//! The route table of SPEC 4 and its handlers. Each handler authenticates,
//! checks role and service scope, sends one typed message and shapes the
//! answer. The table (`endpoints`) is also what the OpenAPI test walks.

use super::auth::Principal;
use super::error::{self, HttpError};
use super::{control, openapi, scope, sse, AppState, BODY_LIMIT, BODY_TIMEOUT};
use actix_web::http::{Method, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse, ResponseError};
use oneinit_actors::config_loader::Reload;
use oneinit_actors::logging::ring::LogTail;
use oneinit_actors::model::config::{MetricsConfig, Role};
use oneinit_actors::model::signal::{parse_signal, signal_short_name};
use oneinit_actors::model::view::{ServiceView, Stream};
use oneinit_actors::service_manager::messages::{
    Action, GetGraph, GetLogs, GetReadiness, GetService, ListServices, Ping, SignalService,
    SubscribeEvents, SubscribeLogs, TriggerService,
};
use serde::Deserialize;
use std::time::Duration;

/// How long a backend message may take before the API answers 503.
const ASK_TIMEOUT: Duration = Duration::from_secs(10);
/// `/healthz`: the supervisor must answer `Ping` within this.
const PING_TIMEOUT: Duration = Duration::from_secs(2);
/// Upper bound for `?tail=` (documented as the schema's maximum).
const MAX_TAIL: usize = 1_000_000_000;

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
async fn fallback(req: HttpRequest, st: web::Data<AppState>) -> HttpResponse {
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
pub(super) async fn ask<M>(to: &actix::Recipient<M>, msg: M) -> Result<M::Result, HttpError>
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

pub(super) fn scoped(
    req: &HttpRequest,
    st: &AppState,
    role: Role,
    name: &str,
) -> Result<Principal, HttpError> {
    let p = who(req, st, role)?;
    p.require_service(name)?;
    Ok(p)
}

async fn list_services(
    req: HttpRequest,
    st: web::Data<AppState>,
) -> Result<HttpResponse, HttpError> {
    let p = who(&req, &st, Role::Viewer)?;
    let services: Vec<ServiceView> = ask(&st.backend.list_services, ListServices)
        .await?
        .into_iter()
        .filter(|s| p.can_see(&s.name))
        .map(|s| scope::view(&p, s))
        .collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({ "services": services })))
}

pub(super) async fn fetch_service(st: &AppState, name: &str) -> Result<ServiceView, HttpError> {
    ask(&st.backend.get_service, GetService { name: name.into() })
        .await?
        .ok_or_else(|| HttpError::no_such_service(name))
}

async fn get_service(
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

async fn signal(
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

async fn trigger(
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

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LogsQuery {
    #[serde(default)]
    tail: Option<usize>,
    #[serde(default)]
    stream: Option<String>,
    #[serde(default)]
    follow: Option<bool>,
}

async fn logs(
    req: HttpRequest,
    st: web::Data<AppState>,
    name: web::Path<String>,
    q: web::Query<LogsQuery>,
) -> Result<HttpResponse, HttpError> {
    scoped(&req, &st, Role::Viewer, &name)?;
    let name = name.into_inner();
    let slot = match q.follow {
        Some(true) => Some(st.sse.enter()?),
        _ => None,
    };
    let stream = match q.stream.as_deref() {
        None => None,
        Some("stdout") => Some(Stream::Stdout),
        Some("stderr") => Some(Stream::Stderr),
        Some(other) => {
            return Err(HttpError::bad_request(format!(
                "stream={other}: use stdout or stderr"
            )))
        }
    };
    if q.tail.is_some_and(|t| t > MAX_TAIL) {
        return Err(HttpError::bad_request(format!(
            "tail must be at most {MAX_TAIL} (the ring buffer is never larger)"
        )));
    }
    // Follow: subscribe first, then read the tail, so nothing falls between.
    let live = if q.follow.unwrap_or(false) {
        Some(
            ask(
                &st.backend.subscribe_logs,
                SubscribeLogs { name: name.clone() },
            )
            .await??,
        )
    } else {
        None
    };
    let tail = ask(
        &st.backend.get_logs,
        GetLogs {
            name: name.clone(),
            tail: q.tail,
            stream,
        },
    )
    .await??;
    match (live, slot) {
        (Some(rx), Some(slot)) => Ok(sse::response(sse::log_stream(
            slot,
            tail.collect_all(),
            rx,
            stream,
        ))),
        _ => Ok(HttpResponse::Ok()
            .content_type("application/json")
            .streaming(lines_body(tail))),
    }
}

/// `{"lines":[...]}`, written a batch of lines at a time as the client
/// reads: memory per request stays at one batch, whatever the ring holds.
fn lines_body(
    tail: LogTail,
) -> impl futures_util::Stream<Item = Result<actix_web::web::Bytes, actix_web::Error>> {
    enum At {
        Start,
        Lines { first: bool },
        Done,
    }
    futures_util::stream::unfold((tail, At::Start), |(mut tail, at)| async move {
        let (chunk, next) = match at {
            At::Start => (b"{\"lines\":[".to_vec(), At::Lines { first: true }),
            At::Lines { first } => {
                let batch = tail.next_batch();
                if batch.is_empty() {
                    (b"]}".to_vec(), At::Done)
                } else {
                    let mut out = Vec::with_capacity(batch.len() * 96);
                    for (i, line) in batch.iter().enumerate() {
                        if !(first && i == 0) {
                            out.push(b',');
                        }
                        if serde_json::to_writer(&mut out, line).is_err() {
                            return None;
                        }
                    }
                    (out, At::Lines { first: false })
                }
            }
            At::Done => return None,
        };
        Some((Ok(actix_web::web::Bytes::from(chunk)), (tail, next)))
    })
}

async fn graph(req: HttpRequest, st: web::Data<AppState>) -> Result<HttpResponse, HttpError> {
    let p = who(&req, &st, Role::Viewer)?;
    let mut g = ask(&st.backend.get_graph, GetGraph).await?;
    g.nodes.retain(|n| p.can_see(&n.name));
    g.edges.retain(|e| p.can_see(&e.from) && p.can_see(&e.to));
    Ok(HttpResponse::Ok().json(g))
}

async fn reload(req: HttpRequest, st: web::Data<AppState>) -> Result<HttpResponse, HttpError> {
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

async fn events(req: HttpRequest, st: web::Data<AppState>) -> Result<HttpResponse, HttpError> {
    let p = who(&req, &st, Role::Viewer)?;
    let slot = st.sse.enter()?;
    let rx = ask(&st.backend.subscribe_events, SubscribeEvents).await?;
    Ok(sse::response(sse::event_stream(slot, rx, p)))
}

async fn openapi_doc(st: web::Data<AppState>) -> HttpResponse {
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

async fn healthz(st: web::Data<AppState>) -> Result<HttpResponse, HttpError> {
    match tokio::time::timeout(PING_TIMEOUT, st.backend.ping.send(Ping)).await {
        Ok(Ok(())) => Ok(HttpResponse::Ok().json(serde_json::json!({ "status": "ok" }))),
        _ => Err(HttpError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unhealthy",
            "the supervisor did not answer within 2s",
        )),
    }
}

async fn readyz(st: web::Data<AppState>) -> Result<HttpResponse, HttpError> {
    let view = ask(&st.backend.get_readiness, GetReadiness).await?;
    let status = if view.ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    Ok(HttpResponse::build(status).json(view))
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
