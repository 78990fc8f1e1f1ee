//! The `components.schemas` of the OpenAPI document: the DTOs of the API
//! (`Service`, `LogLine`, `ReloadReport`, ...) with an example each, which
//! the tests validate against the real types.

use super::schema_ref;
use serde_json::{json, Value};

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

pub(super) fn schemas() -> Value {
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
