//! The OpenAPI 3 document served at `/v1/openapi.json`. Tests hold real
//! answers and the document's examples against it with a small schema
//! checker (tests/util/openapi_schema.rs, test-only), and compare its paths
//! with the route table, which keeps it true.

use super::routes::{endpoints, Op};
use oneinit_actors::model::config::MetricsConfig;
use serde_json::{json, Map, Value};

fn schema_ref(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

fn json_response(description: &str, schema: &str) -> Value {
    json!({ "description": description,
            "content": { "application/json": { "schema": schema_ref(schema) } } })
}

fn error_response(description: &str) -> Value {
    json_response(description, "Error")
}

/// One Server-Sent Event as clients parse it: `data` carries one JSON object.
fn sse_event_schema() -> Value {
    json!({ "type": "object", "required": ["data"], "properties": {
        "data": { "type": "string" }, "event": { "type": "string" }, "id": { "type": "string" } } })
}

fn sse_response(description: &str) -> Value {
    json!({ "description": description,
            "content": { "text/event-stream": { "schema": sse_event_schema() } } })
}

/// Signal names the API accepts (also with a `SIG` prefix, any case):
/// every named signal of `kill -l`, `RTMIN+N` included.
fn signal_names() -> Vec<String> {
    oneinit_actors::model::signal::Signal::all()
        .map(|s| s.name())
        .filter(|n| !n.starts_with(|c: char| c.is_ascii_digit()))
        .flat_map(|n| [n.to_string(), format!("SIG{n}")])
        .collect()
}

const STATES: [&str; 10] = [
    "inactive",
    "waiting",
    "starting",
    "running",
    "ready",
    "stopping",
    "stopped",
    "completed",
    "backoff",
    "failed",
];

fn schemas() -> Value {
    let state = json!({ "type": "string", "enum": STATES });
    let health = json!({ "type": "string", "enum": ["healthy", "unhealthy", "unknown"] });
    let names = json!({ "type": "array", "items": { "type": "string" } });
    json!({
        "Error": { "type": "object", "required": ["error"], "properties": {
            "error": { "type": "object", "required": ["code", "message"], "properties": {
                "code": { "type": "string" }, "message": { "type": "string" },
                "details": names } } },
            "example": { "error": { "code": "not_found", "message": "no such service: x" } } },
        "Instance": { "type": "object", "required": ["id", "pid", "state", "started_at"], "properties": {
            "id": { "type": "integer", "minimum": 0 },
            "pid": { "type": "integer", "nullable": true },
            "state": state,
            "started_at": { "type": "string", "format": "date-time", "nullable": true } } },
        "Exit": { "type": "object", "required": ["code", "signal", "at"], "nullable": true, "properties": {
            "code": { "type": "integer", "nullable": true },
            "signal": { "type": "string", "nullable": true },
            "at": { "type": "string", "format": "date-time" } } },
        "Service": { "type": "object",
            "required": ["name", "description", "type", "state", "health", "status_text", "instances",
                         "restarts", "uptime_seconds", "last_exit", "requires", "wants", "after", "before"],
            "properties": {
                "name": { "type": "string" },
                "description": { "type": "string", "nullable": true },
                "type": { "type": "string", "enum": ["ongoing", "oneshot", "on-demand", "per-demand"] },
                "state": state, "health": health,
                "status_text": { "type": "string", "nullable": true },
                "instances": { "type": "array", "items": schema_ref("Instance") },
                "restarts": { "type": "integer", "minimum": 0 },
                "uptime_seconds": { "type": "number", "nullable": true },
                "last_exit": schema_ref("Exit"),
                "requires": names, "wants": names, "after": names, "before": names,
                "autostart": { "type": "boolean" }, "critical": { "type": "boolean" },
                "next_run": { "type": "string", "format": "date-time", "nullable": true },
                "listen": names,
                "runs_total": { "type": "integer", "minimum": 0, "nullable": true },
                "memory_bytes": { "type": "integer", "minimum": 0, "nullable": true },
                "cpu_seconds": { "type": "number", "nullable": true },
                "limits": { "type": "object",
                    "description": "configured limits, each {value, mechanism}" } },
            "example": { "name": "web", "description": "Public web front", "type": "ongoing",
                "state": "ready", "health": "healthy", "status_text": null,
                "instances": [{ "id": 0, "pid": 4242, "state": "ready", "started_at": "2026-01-01T00:00:00.000Z" }],
                "restarts": 2, "uptime_seconds": 12.5,
                "last_exit": { "code": 1, "signal": null, "at": "2026-01-01T00:00:00.000Z" },
                "requires": ["db"], "wants": [], "after": [], "before": [],
                "autostart": true, "critical": false } },
        "ServiceList": { "type": "object", "required": ["services"], "properties": {
            "services": { "type": "array", "items": schema_ref("Service") } } },
        "LogLine": { "type": "object", "required": ["ts", "instance", "stream", "line"], "properties": {
            "ts": { "type": "string", "format": "date-time" },
            "instance": { "type": "integer", "minimum": 0 },
            "stream": { "type": "string", "enum": ["stdout", "stderr"] },
            "line": { "type": "string" } },
            "example": { "ts": "2026-01-01T00:00:00.000Z", "instance": 0, "stream": "stdout", "line": "listening on :8080" } },
        "LogList": { "type": "object", "required": ["lines"], "properties": {
            "lines": { "type": "array", "items": schema_ref("LogLine") } } },
        "GraphNode": { "type": "object", "required": ["name", "type", "state"], "properties": {
            "name": { "type": "string" }, "type": { "type": "string" }, "state": state } },
        "GraphEdge": { "type": "object", "required": ["from", "to", "kind"], "properties": {
            "from": { "type": "string" }, "to": { "type": "string" },
            "kind": { "type": "string", "enum": ["requires", "wants", "after"] } } },
        "Graph": { "type": "object", "required": ["nodes", "edges"], "properties": {
            "nodes": { "type": "array", "items": schema_ref("GraphNode") },
            "edges": { "type": "array", "items": schema_ref("GraphEdge") } },
            "example": { "nodes": [{ "name": "web", "type": "ongoing", "state": "ready" },
                                   { "name": "db", "type": "ongoing", "state": "ready" }],
                         "edges": [{ "from": "web", "to": "db", "kind": "requires" }] } },
        "ReloadReport": { "type": "object", "required": ["added", "removed", "changed", "unchanged"],
            "properties": { "added": names, "removed": names, "changed": names, "unchanged": names,
                "api": names, "metrics": names, "restart_needed": names },
            "example": { "added": ["cron"], "removed": [], "changed": ["web"], "unchanged": ["db"],
                "api": ["auth"], "metrics": [], "restart_needed": [] } },
        "Readiness": { "type": "object", "required": ["ready", "not_ready"], "properties": {
            "ready": { "type": "boolean" }, "not_ready": names },
            "example": { "ready": false, "not_ready": ["web"] } },
        "StateChanged": { "type": "object", "required": ["ts", "service", "state", "previous", "health", "pid"],
            "properties": { "ts": { "type": "string", "format": "date-time" },
                "service": { "type": "string" }, "state": state, "previous": state, "health": health,
                "pid": { "type": "integer", "nullable": true } } },
        "Trigger": { "type": "object", "required": ["instance"], "properties": {
            "instance": { "type": "integer", "minimum": 0 } }, "example": { "instance": 3 } },
        "SignalRequest": { "type": "object", "required": ["signal"], "properties": {
            "signal": { "oneOf": [{ "type": "string", "enum": signal_names() },
                                  { "type": "integer", "minimum": 1, "maximum": 64 }] } },
            "example": { "signal": "HUP" } },
        "SignalResult": { "type": "object", "required": ["service", "signal"], "properties": {
            "service": { "type": "string" }, "signal": { "type": "string" } } },
        "Health": { "type": "object", "required": ["status"], "properties": {
            "status": { "type": "string" } } }
    })
}

fn name_param() -> Value {
    json!({ "name": "name", "in": "path", "required": true,
            "schema": { "type": "string", "pattern": "^[A-Za-z0-9_.-]{1,64}$" } })
}

fn wait_params() -> Vec<Value> {
    vec![
        json!({ "name": "wait", "in": "query", "required": false, "schema": { "type": "boolean" },
                "description": "wait until ready/completed (start, restart) or stopped (stop)" }),
        json!({ "name": "timeout", "in": "query", "required": false,
                "schema": { "type": "string", "pattern": "^[0-9]{1,4}(\\.[0-9]{1,3})?(ms|s|m|h)?$" },
                "description": "with wait: give up after this long (504), default 30s; at most 10 years, like every duration" }),
    ]
}

/// The errors every authenticated endpoint may answer.
fn common_errors(ops: &mut Map<String, Value>, scoped: bool) {
    ops.insert("401".into(), error_response("no or bad token"));
    ops.insert(
        "403".into(),
        error_response("role or service scope does not allow it"),
    );
    ops.insert(
        "503".into(),
        error_response("the supervisor is not answering or shutting down"),
    );
    if scoped {
        ops.insert("400".into(), error_response("bad parameter"));
        ops.insert("404".into(), error_response("no such service"));
    }
}

fn operation(op: Op, metrics_open: bool) -> Value {
    let mut responses = Map::new();
    let mut params: Vec<Value> = Vec::new();
    let mut body: Option<Value> = None;
    let mut open = false;
    let (summary, role) = match op {
        Op::ListServices => {
            responses.insert("200".into(), json_response("all services", "ServiceList"));
            common_errors(&mut responses, false);
            ("All services (a scoped token sees only its own)", "viewer")
        }
        Op::GetService => {
            params.push(name_param());
            responses.insert("200".into(), json_response("the service", "Service"));
            common_errors(&mut responses, true);
            ("One service", "viewer")
        }
        Op::Start | Op::Stop | Op::Restart => {
            params.push(name_param());
            params.extend(wait_params());
            responses.insert(
                "200".into(),
                json_response(
                    "the service after the command (or after waiting)",
                    "Service",
                ),
            );
            common_errors(&mut responses, true);
            responses.insert(
                "409".into(),
                error_response("not allowed for its type or state, or it failed while waited for"),
            );
            responses.insert("429".into(), error_response("too many queued runs"));
            responses.insert(
                "504".into(),
                error_response("wait=true timed out (code `timeout`)"),
            );
            let s = match op {
                Op::Start => "Start a service",
                Op::Stop => "Stop a service",
                _ => "Restart a service",
            };
            (s, "operator")
        }
        Op::Signal => {
            params.push(name_param());
            body = Some(json!({ "required": true, "content": { "application/json": {
                "schema": schema_ref("SignalRequest") } } }));
            responses.insert("200".into(), json_response("sent", "SignalResult"));
            common_errors(&mut responses, true);
            responses.insert("409".into(), error_response("nothing running to signal"));
            responses.insert("413".into(), error_response("body too large"));
            responses.insert("415".into(), error_response("body is not JSON"));
            ("Send a signal to every running instance", "operator")
        }
        Op::Trigger => {
            params.push(name_param());
            responses.insert("200".into(), json_response("the new instance", "Trigger"));
            common_errors(&mut responses, true);
            responses.insert("409".into(), error_response("the type cannot be triggered"));
            responses.insert("429".into(), error_response("per-demand queue full"));
            (
                "Start one run of an on-demand / per-demand service",
                "operator",
            )
        }
        Op::Logs => {
            params.push(name_param());
            params.push(json!({ "name": "tail", "in": "query", "required": false,
                "schema": { "type": "integer", "minimum": 0, "maximum": 1_000_000_000u64 } }));
            params.push(json!({ "name": "stream", "in": "query", "required": false,
                "schema": { "type": "string", "enum": ["stdout", "stderr"] } }));
            params.push(json!({ "name": "follow", "in": "query", "required": false,
                "schema": { "type": "boolean" },
                "description": "true: text/event-stream, the tail then live lines, one LogLine per data:" }));
            let mut ok = json_response("the last lines, oldest first", "LogList");
            ok["content"]["text/event-stream"] = json!({ "schema": sse_event_schema() });
            responses.insert("200".into(), ok);
            common_errors(&mut responses, true);
            ("Captured output of a service", "viewer")
        }
        Op::Graph => {
            responses.insert("200".into(), json_response("the dependency graph", "Graph"));
            common_errors(&mut responses, false);
            (
                "The dependency graph (edges from the declaring service)",
                "viewer",
            )
        }
        Op::Reload => {
            responses.insert("200".into(), json_response("what changed", "ReloadReport"));
            common_errors(&mut responses, false);
            responses.insert("409".into(), error_response("reload not possible now"));
            responses.insert(
                "422".into(),
                error_response("the new configuration has errors (details)"),
            );
            (
                "Re-read the configuration and apply the difference",
                "admin",
            )
        }
        Op::Events => {
            responses.insert(
                "200".into(),
                sse_response("StateChanged objects, one per data:"),
            );
            common_errors(&mut responses, false);
            ("Server-Sent Events of state changes", "viewer")
        }
        Op::OpenApi => {
            open = true;
            responses.insert(
                "200".into(),
                json!({ "description": "this document",
                "content": { "application/json": { "schema": { "type": "object" } } } }),
            );
            ("This document", "none")
        }
        Op::Metrics => {
            open = metrics_open;
            responses.insert(
                "200".into(),
                json!({ "description": "Prometheus text format",
                "content": { "text/plain": { "schema": { "type": "string" } } } }),
            );
            common_errors(&mut responses, false);
            (
                "Prometheus metrics (viewer when metrics.auth is true)",
                "none or viewer",
            )
        }
        Op::Healthz => {
            open = true;
            responses.insert(
                "200".into(),
                json_response("the supervisor answers", "Health"),
            );
            responses.insert(
                "503".into(),
                error_response("the supervisor does not answer"),
            );
            ("Liveness of the supervisor", "none")
        }
        Op::Readyz => {
            open = true;
            responses.insert(
                "200".into(),
                json_response("every autostart service is ready", "Readiness"),
            );
            responses.insert(
                "503".into(),
                json_response("not ready, with the list", "Readiness"),
            );
            ("Readiness of the autostart services", "none")
        }
    };
    // Browser safety of TCP listeners (SPEC 9), on every operation.
    responses.insert(
        "421".into(),
        error_response(
            "TCP: the Host header is not the listener's address, localhost or in \
             api.allowed_hosts (code `misdirected_request`)",
        ),
    );
    responses
        .entry("403")
        .or_insert_with(|| error_response("TCP: a foreign Origin (code `forbidden_origin`)"));
    if matches!(
        op,
        Op::Start | Op::Stop | Op::Restart | Op::Signal | Op::Trigger | Op::Reload
    ) {
        responses.insert(
            "415".into(),
            error_response(
                "TCP: a POST without Content-Type: application/json \
                 (code `unsupported_media_type`)",
            ),
        );
    }
    if op == Op::Signal {
        responses.insert(
            "408".into(),
            error_response("the body did not arrive within 5s (code `request_timeout`)"),
        );
    }
    if matches!(op, Op::Events | Op::Logs) {
        responses.insert(
            "503".into(),
            error_response(
                "the supervisor is not answering, or too many event streams are open \
                 (code `too_many_subscribers`)",
            ),
        );
    }
    let mut o = json!({
        "summary": summary,
        "operationId": format!("{op:?}"),
        "x-role": role,
        "responses": responses,
    });
    if !params.is_empty() {
        o["parameters"] = Value::Array(params);
    }
    if let Some(b) = body {
        o["requestBody"] = b;
    }
    if open {
        o["security"] = json!([]);
    }
    o
}

/// The whole document for this configuration: the metrics path may move,
/// and without an `api.auth` section no operation needs a token.
pub fn document(metrics: &MetricsConfig) -> Value {
    document_for(metrics, true)
}

pub fn document_for(metrics: &MetricsConfig, auth: bool) -> Value {
    let mut paths = Map::new();
    for e in endpoints(metrics) {
        let entry = paths.entry(e.path.clone()).or_insert_with(|| json!({}));
        entry[e.method.as_str().to_ascii_lowercase()] = operation(e.op, !metrics.auth);
    }
    let mut doc = json!({
        "openapi": "3.0.3",
        "info": { "title": "oneinit API", "version": env!("CARGO_PKG_VERSION"),
                  "description": "Control a running oneinit (SPEC 4). Errors: {\"error\": {\"code\", \"message\"}}." },
        "servers": [{ "url": "/" }],
        "security": [{ "bearer": [] }],
        "paths": paths,
        "components": {
            "securitySchemes": { "bearer": { "type": "http", "scheme": "bearer" } },
            "schemas": schemas(),
        }
    });
    if !auth {
        if let Some(obj) = doc.as_object_mut() {
            obj.remove("security");
        }
        for ops in doc["paths"]
            .as_object_mut()
            .into_iter()
            .flat_map(|p| p.values_mut())
        {
            for op in ops.as_object_mut().into_iter().flat_map(|o| o.values_mut()) {
                if let Some(o) = op.as_object_mut() {
                    o.remove("security");
                    if let Some(r) = o.get_mut("responses").and_then(Value::as_object_mut) {
                        r.remove("401");
                        // Without auth, 403 is only a foreign Origin.
                        r.insert(
                            "403".into(),
                            error_response("TCP: a foreign Origin (code `forbidden_origin`)"),
                        );
                    }
                }
            }
        }
    }
    doc
}

// The schema checker is test-only code: it lives with the integration test
// helpers and is compiled into this crate's unit tests only.
#[cfg(test)]
#[path = "../../tests/util/openapi_schema.rs"]
mod openapi_schema;

#[cfg(test)]
mod tests {
    use super::openapi_schema::validate;
    use super::*;
    use oneinit_actors::model::view::{
        GraphView, LogLine, ReadinessView, ReloadReport, ServiceView,
    };

    #[test]
    fn every_route_is_documented_and_nothing_else() {
        let metrics = MetricsConfig::default();
        let doc = document(&metrics);
        let mut documented: Vec<(String, String)> = Vec::new();
        for (path, ops) in doc["paths"].as_object().unwrap() {
            for method in ops.as_object().unwrap().keys() {
                documented.push((method.to_ascii_uppercase(), path.clone()));
            }
        }
        let mut routed: Vec<(String, String)> = endpoints(&metrics)
            .into_iter()
            .map(|e| (e.method.to_string(), e.path))
            .collect();
        documented.sort();
        routed.sort();
        assert_eq!(documented, routed);
    }

    #[test]
    fn examples_validate_and_match_the_dtos() {
        let doc = document(&MetricsConfig::default());
        let schemas = doc["components"]["schemas"].as_object().unwrap();
        let mut checked = 0;
        for (name, schema) in schemas {
            if let Some(example) = schema.get("example") {
                validate(&doc, schema, example, name).unwrap();
                checked += 1;
            }
        }
        assert!(checked >= 7, "only {checked} examples");
        // The examples are also what the Rust types read and write.
        let ex = |n: &str| schemas[n]["example"].clone();
        let svc: ServiceView = serde_json::from_value(ex("Service")).unwrap();
        assert_eq!(svc.name, "web");
        let back = serde_json::to_value(&svc).unwrap();
        validate(&doc, &schemas["Service"], &back, "Service").unwrap();
        let _: LogLine = serde_json::from_value(ex("LogLine")).unwrap();
        let _: GraphView = serde_json::from_value(ex("Graph")).unwrap();
        let _: ReloadReport = serde_json::from_value(ex("ReloadReport")).unwrap();
        let _: ReadinessView = serde_json::from_value(ex("Readiness")).unwrap();
        let err: crate::api::error::ErrorBody = serde_json::from_value(ex("Error")).unwrap();
        assert_eq!(err.error.code, "not_found");
    }

    #[test]
    fn validator_catches_mismatches() {
        let doc = document(&MetricsConfig::default());
        let s = &doc["components"]["schemas"]["LogLine"];
        let bad = json!({"ts": "x", "instance": -1, "stream": "stdout", "line": "a"});
        assert!(validate(&doc, s, &bad, "l")
            .unwrap_err()
            .contains("minimum"));
        let bad = json!({"ts": "x", "instance": 0, "stream": "other", "line": "a"});
        assert!(validate(&doc, s, &bad, "l").is_err());
        let bad = json!({"ts": "x", "instance": 0, "stream": "stdout"});
        assert!(validate(&doc, s, &bad, "l").unwrap_err().contains("line"));
    }

    #[test]
    fn without_auth_nothing_needs_a_token() {
        let doc = document_for(&MetricsConfig::default(), false);
        assert!(doc.get("security").is_none());
        let op = &doc["paths"]["/v1/services"]["get"];
        assert!(op["responses"]["401"].is_null() && op["responses"]["200"].is_object());
        let with = document(&MetricsConfig::default());
        assert_eq!(with["security"], json!([{ "bearer": [] }]));
        assert_eq!(with["paths"]["/healthz"]["get"]["security"], json!([]));
        assert_eq!(with["paths"]["/metrics"]["get"]["security"], json!([]));
        let m = MetricsConfig {
            auth: true,
            ..MetricsConfig::default()
        };
        assert!(document(&m)["paths"]["/metrics"]["get"]
            .get("security")
            .is_none());
    }

    #[test]
    fn metrics_path_follows_config() {
        let m = MetricsConfig {
            path: "/prom".into(),
            ..MetricsConfig::default()
        };
        let doc = document(&m);
        assert!(doc["paths"]["/prom"]["get"].is_object());
        assert!(doc["paths"]["/metrics"].is_null());
    }
}
