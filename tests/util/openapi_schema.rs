//! A small checker of JSON values against the OpenAPI document's schemas,
//! for tests only: the integration tests use it through `util`, and the unit
//! tests of `src/api/openapi/` include this file with `#[path]`. It is not
//! part of the oneinit library or binary.

use serde_json::Value;

/// Checks `value` against `schema` (the subset this document uses: type,
/// nullable, enum, required, properties, items, oneOf, minimum, $ref).
/// Answers the first mismatch as `path: what`.
pub fn validate(doc: &Value, schema: &Value, value: &Value, path: &str) -> Result<(), String> {
    if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
        let name = r.rsplit('/').next().unwrap_or_default();
        let target = &doc["components"]["schemas"][name];
        if target.is_null() {
            return Err(format!("{path}: unknown $ref {r}"));
        }
        return validate(doc, target, value, path);
    }
    if value.is_null() {
        return if schema.get("nullable") == Some(&Value::Bool(true)) {
            Ok(())
        } else {
            Err(format!("{path}: null where the schema does not allow it"))
        };
    }
    if let Some(one_of) = schema.get("oneOf").and_then(Value::as_array) {
        return if one_of.iter().any(|s| validate(doc, s, value, path).is_ok()) {
            Ok(())
        } else {
            Err(format!("{path}: matches none of oneOf"))
        };
    }
    if let Some(values) = schema.get("enum").and_then(Value::as_array) {
        if !values.contains(value) {
            return Err(format!("{path}: {value} is not one of {values:?}"));
        }
    }
    let ty = schema.get("type").and_then(Value::as_str).unwrap_or("");
    let ok = match ty {
        "" => true,
        "string" => value.is_string(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        "boolean" => value.is_boolean(),
        "array" => value.is_array(),
        "object" => value.is_object(),
        other => return Err(format!("{path}: unsupported schema type {other}")),
    };
    if !ok {
        return Err(format!("{path}: expected {ty}, got {value}"));
    }
    if let (Some(min), Some(n)) = (
        schema.get("minimum").and_then(Value::as_f64),
        value.as_f64(),
    ) {
        if n < min {
            return Err(format!("{path}: {n} is below the minimum {min}"));
        }
    }
    if let (Some(max), Some(n)) = (
        schema.get("maximum").and_then(Value::as_f64),
        value.as_f64(),
    ) {
        if n > max {
            return Err(format!("{path}: {n} is above the maximum {max}"));
        }
    }
    if let Some(items) = schema.get("items") {
        for (i, v) in value.as_array().into_iter().flatten().enumerate() {
            validate(doc, items, v, &format!("{path}[{i}]"))?;
        }
    }
    if let Some(obj) = value.as_object() {
        for req in schema
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let key = req.as_str().unwrap_or_default();
            if !obj.contains_key(key) {
                return Err(format!("{path}: missing required key {key:?}"));
            }
        }
        if let Some(props) = schema.get("properties").and_then(Value::as_object) {
            for (k, v) in obj {
                if let Some(s) = props.get(k) {
                    validate(doc, s, v, &format!("{path}.{k}"))?;
                }
            }
        }
    }
    Ok(())
}
