//! One OpenAPI operation per route: parameters, request body, responses
//! (with the errors every authenticated endpoint may answer) and the role
//! it needs.

use super::{error_response, json_response, schema_ref, sse_event_schema, sse_response};
use crate::api::routes::Op;
use serde_json::{json, Map, Value};

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

pub(super) fn operation(op: Op, metrics_open: bool) -> Value {
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
