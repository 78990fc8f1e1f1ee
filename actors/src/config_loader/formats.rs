//! Parses one document (YAML, TOML or JSON) into the position-aware tree of
//! `tree.rs`, within the load's budgets. YAML: `read_yaml.rs`; TOML:
//! `read_toml.rs`; JSON (here) is first checked by serde_json (for exact
//! JSON syntax errors) and then read as YAML (JSON is YAML 1.2) for
//! positions.

use super::budget::{check_nesting, Budget};
use super::read_toml::parse_toml;
use super::read_yaml::{parse_yaml, read_yaml, YamlFailure};
use super::tree::{Node, Pos, Value};
use super::ConfigError;
use std::sync::Arc;
use yaml_rust2::Yaml;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Yaml,
    Toml,
    Json,
}

impl Format {
    /// By extension; anything unknown is YAML (SPEC 2).
    pub fn from_name(name: &str) -> Format {
        let lower = name.to_ascii_lowercase();
        if lower.ends_with(".toml") {
            Format::Toml
        } else if lower.ends_with(".json") {
            Format::Json
        } else {
            Format::Yaml
        }
    }
}

/// Parses `text` alone (a fresh budget); an empty document is an empty map.
#[cfg(test)]
pub fn parse(text: &str, format: Format, source: &Arc<str>) -> Result<Node, Vec<ConfigError>> {
    parse_within(text, format, source, &mut Budget::default())
}

/// Parses `text` as one document of a load whose budget is `budget`
/// (`budget.rs`): its size, values and nesting are charged, and running
/// out is an error at the place it happened.
pub fn parse_within(
    text: &str,
    format: Format,
    source: &Arc<str>,
    budget: &mut Budget,
) -> Result<Node, Vec<ConfigError>> {
    if let Err(e) = budget.take_document(text.len()) {
        return Err(vec![Pos::unknown(source).error(e.to_string())]);
    }
    match format {
        Format::Yaml => parse_yaml(text, source, budget),
        Format::Json => parse_json(text, source, budget),
        Format::Toml => parse_toml(text, source, budget),
    }
}

/// The type of an unquoted YAML scalar (YAML 1.2 core schema).
pub fn resolve_plain(text: &str) -> Value {
    match Yaml::from_str(text) {
        Yaml::Integer(i) => Value::Int(i),
        Yaml::Real(r) => match r.parse::<f64>() {
            Ok(f) => Value::Float(f),
            Err(_) => Value::Str {
                text: text.to_string(),
                plain: true,
            },
        },
        Yaml::Boolean(b) => Value::Bool(b),
        Yaml::Null => Value::Null,
        _ => Value::Str {
            text: text.to_string(),
            plain: true,
        },
    }
}

// ------------------------------------------------------------------ JSON

fn parse_json(
    text: &str,
    source: &Arc<str>,
    budget: &mut Budget,
) -> Result<Node, Vec<ConfigError>> {
    // Exact JSON syntax errors first, without building anything.
    let syntax = |e: serde_json::Error| {
        vec![Pos::new(source, e.line(), e.column().max(1)).error(format!("JSON syntax error: {e}"))]
    };
    serde_json::from_str::<serde::de::IgnoredAny>(text).map_err(syntax)?;
    if !text.trim_start().starts_with('{') {
        return Err(vec![Pos::new(source, 1, 1).error(
            "the document must be an object of sections (\"services\", \"api\", ...)",
        )]);
    }
    // Valid JSON is valid YAML 1.2; the YAML reader gives the positions
    // and charges the budget.
    let mut trial = budget.clone();
    match read_yaml(text, source, &mut trial) {
        Ok(node) => {
            // Should the readers ever disagree (duplicate keys, numbers
            // beyond i64), keep the JSON value without positions.
            let value: serde_json::Value = serde_json::from_str(text).map_err(syntax)?;
            *budget = trial;
            if node.to_json() == value {
                Ok(node)
            } else {
                Ok(Node::from_json(&value, &Pos::unknown(source)))
            }
        }
        Err(YamlFailure::Budget(e)) => Err(vec![e]),
        Err(YamlFailure::Errors(_)) => {
            // JSON the YAML reader does not take (a tab where YAML
            // wants none): serde_json's recursion limit (128) bounds
            // the depth of this tree, the budget the rest.
            let value: serde_json::Value = serde_json::from_str(text).map_err(syntax)?;
            let node = Node::from_json(&value, &Pos::unknown(source));
            let (nodes, text_bytes, depth) = node.measure();
            check_nesting(depth)
                .and_then(|()| budget.take(nodes, text_bytes, ""))
                .map_err(|e| vec![Pos::unknown(source).error(e.to_string())])?;
            Ok(node)
        }
    }
}
