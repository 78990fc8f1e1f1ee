//! The document against the route table, the DTOs and the schema checker.

use super::openapi_schema::validate;
use super::*;
use oneinit_actors::model::view::{GraphView, LogLine, ReadinessView, ReloadReport, ServiceView};

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
