//! The HTTP contract of SPEC 4 against a fake supervisor, in-process: every
//! endpoint's success and error answers (checked against the OpenAPI
//! document), the role × endpoint matrix, scoped tokens, SSE, unix-socket
//! peer credentials, and the insecure-listener refusal.

use crate::util;

use oneinit::api::{self, ApiSettings};
use oneinit::client::{Client, SseParser};
use oneinit_actors::model::config::{ApiConfig, AuthConfig, MetricsConfig, Role, TokenConfig};
use serde_json::{json, Value};
use std::time::Duration;
use util::api::{assert_documented, call, http, sha_hex, FakeApi};
use util::fake::{EmitLog, FakeManager};

#[actix_rt::test]
async fn every_endpoint_succeeds_and_matches_the_document() {
    let api = FakeApi::start(ApiConfig::default(), MetricsConfig::default()).await;
    let cases: Vec<(&str, &str, String, Option<Value>)> = vec![
        ("GET", "/v1/services", "/v1/services".into(), None),
        (
            "GET",
            "/v1/services/{name}",
            "/v1/services/web".into(),
            None,
        ),
        (
            "POST",
            "/v1/services/{name}/start",
            "/v1/services/worker/start".into(),
            None,
        ),
        (
            "POST",
            "/v1/services/{name}/stop",
            "/v1/services/db/stop".into(),
            None,
        ),
        (
            "POST",
            "/v1/services/{name}/restart",
            "/v1/services/web/restart".into(),
            None,
        ),
        (
            "POST",
            "/v1/services/{name}/signal",
            "/v1/services/web/signal".into(),
            Some(json!({"signal": "HUP"})),
        ),
        (
            "POST",
            "/v1/services/{name}/trigger",
            "/v1/services/job/trigger".into(),
            None,
        ),
        (
            "GET",
            "/v1/services/{name}/logs",
            "/v1/services/web/logs?tail=2&stream=stdout".into(),
            None,
        ),
        ("GET", "/v1/graph", "/v1/graph".into(), None),
        ("POST", "/v1/reload", "/v1/reload".into(), None),
        ("GET", "/v1/openapi.json", "/v1/openapi.json".into(), None),
        ("GET", "/healthz", "/healthz".into(), None),
    ];
    for (method, templ, path, body) in cases {
        let (status, v) = call(method, &api.url(&path), None, body).await;
        assert_eq!(status, 200, "{method} {path}: {v}");
        assert_documented(method, templ, status, &v);
    }
    let (_, v) = call("GET", &api.url("/v1/services"), None, None).await;
    assert_eq!(v["services"].as_array().unwrap().len(), 6);
    let (_, v) = call(
        "GET",
        &api.url("/v1/services/web/logs?tail=2&stream=stdout"),
        None,
        None,
    )
    .await;
    let lines: Vec<&str> = v["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["line"].as_str().unwrap())
        .collect();
    assert_eq!(
        lines,
        ["web line 2", "web line 4"],
        "oldest first, stdout only"
    );
    let (_, v) = call("POST", &api.url("/v1/services/job/trigger"), None, None).await;
    assert_eq!(v, json!({"instance": 2}));
    let (_, v) = call("GET", &api.url("/v1/graph"), None, None).await;
    assert_eq!(
        v["edges"],
        json!([{"from": "web", "to": "db", "kind": "requires"}])
    );
    // /readyz: `worker` etc. are autostart and not ready in the fake.
    let (status, v) = call("GET", &api.url("/readyz"), None, None).await;
    assert_eq!(status, 503);
    assert_documented("GET", "/readyz", 503, &v);
    assert!(v["not_ready"]
        .as_array()
        .unwrap()
        .contains(&json!("broken")));
    // /metrics: Prometheus text.
    let resp = http().get(api.url("/metrics")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    assert!(resp
        .text()
        .await
        .unwrap()
        .contains("oneinit_service_up{service=\"job\"} 0"));
    api.stop().await;
}

#[actix_rt::test]
async fn wait_reaches_ready_stopped_or_times_out() {
    let api = FakeApi::start(ApiConfig::default(), MetricsConfig::default()).await;
    let (s, v) = call(
        "POST",
        &api.url("/v1/services/worker/start?wait=true&timeout=5s"),
        None,
        None,
    )
    .await;
    assert_eq!((s, v["state"].as_str()), (200, Some("ready")), "{v}");
    let (s, v) = call(
        "POST",
        &api.url("/v1/services/worker/restart?wait=true"),
        None,
        None,
    )
    .await;
    assert_eq!((s, v["state"].as_str()), (200, Some("ready")), "{v}");
    let (s, v) = call(
        "POST",
        &api.url("/v1/services/worker/stop?wait=true&timeout=5s"),
        None,
        None,
    )
    .await;
    assert_eq!((s, v["state"].as_str()), (200, Some("stopped")), "{v}");
    let (s, v) = call(
        "POST",
        &api.url("/v1/services/slow/start?wait=true&timeout=300ms"),
        None,
        None,
    )
    .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (504, Some("timeout")),
        "{v}"
    );
    assert_documented("POST", "/v1/services/{name}/start", 504, &v);
    let (s, v) = call(
        "POST",
        &api.url("/v1/services/broken/start?wait=true&timeout=5s"),
        None,
        None,
    )
    .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (409, Some("failed")),
        "{v}"
    );
    let (s, _) = call(
        "POST",
        &api.url("/v1/services/web/start?wait=maybe"),
        None,
        None,
    )
    .await;
    assert_eq!(s, 400);
    let (s, _) = call(
        "POST",
        &api.url("/v1/services/web/start?wait=true&timeout=soon"),
        None,
        None,
    )
    .await;
    assert_eq!(s, 400);
    api.stop().await;
}

/// One error case: method, path, body, expected status, error code, and the
/// OpenAPI path it is documented under.
type ErrorCase<'a> = (&'a str, String, Option<Value>, u16, &'a str, &'a str);

#[actix_rt::test]
async fn errors_have_the_spec_shape() {
    let api = FakeApi::start(ApiConfig::default(), MetricsConfig::default()).await;
    let signal_path = "/v1/services/{name}/signal";
    let cases: Vec<ErrorCase> = vec![
        (
            "GET",
            "/v1/services/nope".into(),
            None,
            404,
            "not_found",
            "/v1/services/{name}",
        ),
        (
            "POST",
            "/v1/services/nope/start".into(),
            None,
            404,
            "not_found",
            "/v1/services/{name}/start",
        ),
        (
            "GET",
            "/v1/services/nope/logs".into(),
            None,
            404,
            "not_found",
            "/v1/services/{name}/logs",
        ),
        (
            "GET",
            "/v1/services/web/logs?tail=abc".into(),
            None,
            400,
            "bad_request",
            "/v1/services/{name}/logs",
        ),
        (
            "GET",
            "/v1/services/web/logs?stream=both".into(),
            None,
            400,
            "bad_request",
            "/v1/services/{name}/logs",
        ),
        (
            "POST",
            "/v1/services/web/signal".into(),
            Some(json!({"signal": "NOPE"})),
            400,
            "bad_request",
            signal_path,
        ),
        (
            "POST",
            "/v1/services/web/signal".into(),
            Some(json!({"sig": 1})),
            400,
            "bad_request",
            signal_path,
        ),
        (
            "POST",
            "/v1/services/worker/signal".into(),
            Some(json!({"signal": 15})),
            409,
            "conflict",
            signal_path,
        ),
        (
            "POST",
            "/v1/services/web/trigger".into(),
            None,
            409,
            "conflict",
            "/v1/services/{name}/trigger",
        ),
        (
            "POST",
            "/v1/services/job/start".into(),
            None,
            409,
            "conflict",
            "/v1/services/{name}/start",
        ),
    ];
    for (method, path, body, status, code, templ) in cases {
        let (s, v) = call(method, &api.url(&path), None, body).await;
        assert_eq!(
            (s, v["error"]["code"].as_str()),
            (status, Some(code)),
            "{method} {path}: {v}"
        );
        assert!(!v["error"]["message"].as_str().unwrap().is_empty());
        assert_documented(method, templ, s, &v);
    }
    // Unknown path, wrong method: JSON too.
    let (s, v) = call("GET", &api.url("/v2/nothing"), None, None).await;
    assert_eq!((s, v["error"]["code"].as_str()), (404, Some("not_found")));
    let r = http()
        .put(api.url("/v1/services/web/start"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 405);
    assert_eq!(r.headers()["allow"], "POST", "RFC 9110 Allow header");
    let (s, v) = call("DELETE", &api.url("/v1/services"), None, None).await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (405, Some("method_not_allowed"))
    );
    let (s, v) = call("GET", &api.url("/v1/reload"), None, None).await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (405, Some("method_not_allowed"))
    );
    // Malformed and oversized bodies.
    let resp = http()
        .post(api.url("/v1/services/web/signal"))
        .header("content-type", "application/json")
        .body("{\"signal\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["code"], "bad_request");
    let big = format!("{{\"signal\": \"{}\"}}", "x".repeat(200_000));
    let resp = http()
        .post(api.url("/v1/services/web/signal"))
        .header("content-type", "application/json")
        .body(big)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 413);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["code"], "payload_too_large");
    api.stop().await;
}

#[actix_rt::test]
async fn reload_errors_are_422_with_the_messages() {
    let mut fake = FakeManager::new();
    let mut extra = fake.services["worker"].clone();
    extra.name = "reload-fails".into();
    fake.services.insert(extra.name.clone(), extra);
    let api = FakeApi::start_with(ApiConfig::default(), MetricsConfig::default(), fake).await;
    let (s, v) = call("POST", &api.url("/v1/reload"), None, None).await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (422, Some("invalid_config")),
        "{v}"
    );
    assert_eq!(
        v["error"]["details"],
        json!(["a.yaml:3:5: unknown key `comand`"])
    );
    assert_documented("POST", "/v1/reload", 422, &v);
    api.stop().await;
}

#[actix_rt::test]
async fn healthz_is_503_when_the_supervisor_hangs() {
    let mut fake = FakeManager::new();
    fake.ping_delay = Duration::from_secs(4);
    let api = FakeApi::start_with(ApiConfig::default(), MetricsConfig::default(), fake).await;
    let started = std::time::Instant::now();
    let (s, v) = call("GET", &api.url("/healthz"), None, None).await;
    assert_eq!((s, v["error"]["code"].as_str()), (503, Some("unhealthy")));
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "bounded by the 2s deadline"
    );
    api.stop().await;
}

fn token(name: &str, role: Role, services: &[&str]) -> TokenConfig {
    TokenConfig {
        name: name.into(),
        sha256: Some(sha_hex(&format!("{name}-secret"))),
        token_file: None,
        token_env: None,
        role,
        services: services.iter().map(|s| s.to_string()).collect(),
    }
}

fn auth_config(metrics_auth: bool) -> (ApiConfig, MetricsConfig) {
    let api = ApiConfig {
        auth: Some(AuthConfig {
            tokens: vec![
                token("viewer", Role::Viewer, &[]),
                token("operator", Role::Operator, &[]),
                token("admin", Role::Admin, &[]),
                token("scoped", Role::Operator, &["web*"]),
            ],
            ..Default::default()
        }),
        ..Default::default()
    };
    let metrics = MetricsConfig {
        auth: metrics_auth,
        ..Default::default()
    };
    (api, metrics)
}

#[actix_rt::test]
async fn role_by_endpoint_matrix() {
    let (api_cfg, metrics) = auth_config(true);
    let api = FakeApi::start(api_cfg, metrics).await;
    // (method, path, body, minimum role; None = open)
    let endpoints: Vec<(&str, &str, Option<Value>, Option<Role>)> = vec![
        ("GET", "/v1/services", None, Some(Role::Viewer)),
        ("GET", "/v1/services/web", None, Some(Role::Viewer)),
        ("POST", "/v1/services/web/start", None, Some(Role::Operator)),
        (
            "POST",
            "/v1/services/worker/stop",
            None,
            Some(Role::Operator),
        ),
        (
            "POST",
            "/v1/services/db/restart",
            None,
            Some(Role::Operator),
        ),
        (
            "POST",
            "/v1/services/web/signal",
            Some(json!({"signal": "USR1"})),
            Some(Role::Operator),
        ),
        (
            "POST",
            "/v1/services/job/trigger",
            None,
            Some(Role::Operator),
        ),
        ("GET", "/v1/services/web/logs", None, Some(Role::Viewer)),
        ("GET", "/v1/graph", None, Some(Role::Viewer)),
        ("POST", "/v1/reload", None, Some(Role::Admin)),
        ("GET", "/metrics", None, Some(Role::Viewer)),
        ("GET", "/v1/openapi.json", None, None),
        ("GET", "/healthz", None, None),
    ];
    let callers: [(Option<&str>, Option<Role>); 5] = [
        (None, None),
        (Some("wrong-secret"), None),
        (Some("viewer-secret"), Some(Role::Viewer)),
        (Some("operator-secret"), Some(Role::Operator)),
        (Some("admin-secret"), Some(Role::Admin)),
    ];
    let mut checked = 0;
    for (method, path, body, needed) in &endpoints {
        for (tok, role) in &callers {
            let expected = match (needed, role) {
                (None, _) => 200,
                (Some(_), None) => 401,
                (Some(n), Some(r)) if r >= n => 200,
                _ => 403,
            };
            let (s, v) = call(method, &api.url(path), *tok, body.clone()).await;
            assert_eq!(s, expected, "{method} {path} as {tok:?}: {v}");
            if s != 200 {
                let code = if s == 401 {
                    "unauthorized"
                } else {
                    "forbidden"
                };
                assert_eq!(v["error"]["code"], code);
            }
            checked += 1;
        }
    }
    assert_eq!(checked, 65);
    // Events (SSE) need viewer too.
    let (s, _) = call("GET", &api.url("/v1/events"), None, None).await;
    assert_eq!(s, 401);
    // A malformed Authorization header is 401.
    let resp = http()
        .get(api.url("/v1/services"))
        .header("Authorization", "Basic abc")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    api.stop().await;
}

#[actix_rt::test]
async fn metrics_open_without_metrics_auth() {
    let (api_cfg, metrics) = auth_config(false);
    let api = FakeApi::start(api_cfg, metrics).await;
    let (s, _) = call("GET", &api.url("/metrics"), None, None).await;
    assert_eq!(s, 200);
    let (s, _) = call("GET", &api.url("/v1/services"), None, None).await;
    assert_eq!(s, 401);
    api.stop().await;
}

#[actix_rt::test]
async fn scoped_token_sees_only_its_services() {
    let (api_cfg, metrics) = auth_config(false);
    let api = FakeApi::start(api_cfg, metrics).await;
    let t = Some("scoped-secret");
    let (s, v) = call("GET", &api.url("/v1/services"), t, None).await;
    assert_eq!(s, 200);
    let names: Vec<&str> = v["services"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["web"]);
    for (method, path) in [
        ("GET", "/v1/services/db"),
        ("POST", "/v1/services/db/start"),
        ("GET", "/v1/services/db/logs"),
        ("POST", "/v1/services/job/trigger"),
    ] {
        let (s, v) = call(method, &api.url(path), t, None).await;
        assert_eq!(
            (s, v["error"]["code"].as_str()),
            (403, Some("forbidden")),
            "{path}"
        );
    }
    let (s, _) = call("GET", &api.url("/v1/services/web"), t, None).await;
    assert_eq!(s, 200);
    let (_, v) = call("GET", &api.url("/v1/graph"), t, None).await;
    assert_eq!(v["nodes"].as_array().unwrap().len(), 1);
    assert_eq!(v["edges"], json!([]), "the edge to db is hidden");
    // Events: only web's state changes reach the scoped token.
    let client = Client::new(&api.base, Some("scoped-secret".into()), None).unwrap();
    let mut s = client.send("GET", "/v1/events", None).await.unwrap();
    assert_eq!(s.status, 200);
    let admin = Client::new(&api.base, Some("admin-secret".into()), None).unwrap();
    for svc in ["db", "web"] {
        let r = admin
            .call(
                "POST",
                &format!("/v1/services/{svc}/restart"),
                None,
                Duration::from_secs(5),
            )
            .await
            .unwrap();
        assert_eq!(r.status, 200);
    }
    let mut parser = SseParser::default();
    let mut seen = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(2), async {
        use futures_util::StreamExt;
        while let Some(Ok(chunk)) = s.body.next().await {
            for d in parser.push(&chunk) {
                let v: Value = serde_json::from_str(&d).unwrap();
                seen.push(v["service"].as_str().unwrap().to_string());
            }
            if seen.len() >= 5 {
                break;
            }
        }
    })
    .await;
    assert!(!seen.is_empty(), "web's events arrive");
    assert!(seen.iter().all(|s| s == "web"), "{seen:?}");
    api.stop().await;
}

#[actix_rt::test]
async fn sse_follow_delivers_a_line_written_after_the_request() {
    use futures_util::StreamExt;
    let api = FakeApi::start(ApiConfig::default(), MetricsConfig::default()).await;
    let client = Client::new(&api.base, None, None).unwrap();
    let mut s = client
        .send("GET", "/v1/services/web/logs?tail=1&follow=true", None)
        .await
        .unwrap();
    assert_eq!(s.status, 200);
    // The route subscribes before it answers (routes.rs: subscribe first,
    // then read the tail), so a line emitted after the 200 is a live one.
    let fake = api.fake.clone();
    actix_rt::spawn(async move {
        let _ = fake
            .send(EmitLog {
                name: "web".into(),
                line: "written later".into(),
            })
            .await;
    });
    let mut parser = SseParser::default();
    let mut lines = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), async {
        while let Some(Ok(chunk)) = s.body.next().await {
            for d in parser.push(&chunk) {
                let v: Value = serde_json::from_str(&d).unwrap();
                assert_documented(
                    "GET",
                    "/v1/services/{name}/logs",
                    200,
                    &json!({"lines": [v.clone()]}),
                );
                lines.push(v["line"].as_str().unwrap().to_string());
            }
            if lines.len() >= 2 {
                break;
            }
        }
    })
    .await
    .expect("the live line arrives within 5s");
    assert_eq!(lines, ["web line 4", "written later"]);
    api.stop().await;
}

#[actix_rt::test]
async fn unix_socket_peer_with_own_uid_is_admin() {
    let (api_cfg, metrics) = auth_config(false);
    let api = FakeApi::start(api_cfg, metrics).await;
    let sock = api.socket();
    let path = sock.trim_start_matches("unix://");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let client = Client::new(&sock, None, None).unwrap();
    let r = client
        .call("POST", "/v1/reload", None, Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{:?}", r.body);
    // Over TCP the same call needs a token.
    let (s, _) = call("POST", &api.url("/v1/reload"), None, None).await;
    assert_eq!(s, 401);
    api.stop().await;
    assert!(
        !std::path::Path::new(path).exists(),
        "socket removed at stop"
    );
}

#[actix_rt::test]
async fn public_listener_without_tls_and_auth_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let api = ApiConfig {
        listen: vec![format!("unix://{}/a.sock", tmp.path().display())],
        ..Default::default()
    };
    let settings = ApiSettings::new(
        api.clone(),
        MetricsConfig::default(),
        vec!["0.0.0.0:0".into()],
    );
    let err = api::bind(settings).err().expect("refused");
    assert!(err.to_string().contains("api.insecure"), "{err}");
    let insecure = ApiConfig {
        insecure: true,
        ..api
    };
    let settings = ApiSettings::new(insecure, MetricsConfig::default(), vec!["0.0.0.0:0".into()]);
    assert!(api::bind(settings).is_ok());
}
