//! The OpenAPI 3 document served at `/v1/openapi.json`. Tests hold real
//! answers and the document's examples against it with a small schema
//! checker (tests/util/openapi_schema.rs, test-only), and compare its paths
//! with the route table, which keeps it true.

mod operations;
mod schemas;

use super::routes::endpoints;
use oneinit_actors::model::config::MetricsConfig;
use operations::operation;
use schemas::schemas;
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
#[path = "../../../tests/util/openapi_schema.rs"]
mod openapi_schema;

#[cfg(test)]
mod tests;
