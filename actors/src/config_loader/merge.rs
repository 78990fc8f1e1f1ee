//! Merge rules between files (SPEC 2.2) and `defaults` (SPEC 2.1), on the
//! position-aware tree: maps merge key by key, any other value is replaced
//! by the winning side; a service defined twice is an error unless the later
//! definition says `override: true`.

use super::budget::Budget;
use super::tree::{Entry, Node, Value};
use super::ConfigError;
use std::collections::HashMap;

/// Deep merge: `over` wins; maps merge key by key.
pub fn deep_merge(base: Node, over: Node) -> Node {
    match (base.value, over.value) {
        (Value::Map(mut entries), Value::Map(over_entries)) => {
            // An index, not a scan per key: two large maps merge in linear time.
            let mut index: HashMap<String, usize> = entries
                .iter()
                .enumerate()
                .map(|(i, e)| (e.key.clone(), i))
                .collect();
            for o in over_entries {
                match index.get(&o.key) {
                    Some(&i) => {
                        let placeholder = Node::new(Value::Null, o.value.pos.clone());
                        let old = std::mem::replace(&mut entries[i].value, placeholder);
                        entries[i] = Entry {
                            key: o.key,
                            key_pos: o.key_pos,
                            value: deep_merge(old, o.value),
                        };
                    }
                    None => {
                        index.insert(o.key.clone(), entries.len());
                        entries.push(o);
                    }
                }
            }
            Node::new(Value::Map(entries), over.pos)
        }
        (_, value) => Node::new(value, over.pos),
    }
}

fn has_override(service: &Node) -> bool {
    matches!(
        service.get("override").map(|n| &n.value),
        Some(Value::Bool(true))
    )
}

/// Merges the document `over` (read later, or the including file) into
/// `base`. Services follow the duplicate rule; other sections deep-merge.
pub fn merge_documents(mut base: Node, mut over: Node, errors: &mut Vec<ConfigError>) -> Node {
    if let Some(over_services) = over.take("services") {
        match base.take("services") {
            Some(mut base_services) => {
                merge_services(&mut base_services.value, over_services.value, errors);
                base.set(base_services);
            }
            None => base.set(over_services),
        }
    }
    deep_merge(base, over)
}

fn merge_services(base: &mut Node, over: Node, errors: &mut Vec<ConfigError>) {
    let Value::Map(over_entries) = over.value else {
        // Not a map: let typing report it at its own position.
        *base = over;
        return;
    };
    let Some(entries) = base.entries_mut() else {
        *base = Node::new(Value::Map(over_entries), over.pos);
        return;
    };
    let mut index: HashMap<String, usize> = entries
        .iter()
        .enumerate()
        .map(|(i, e)| (e.key.clone(), i))
        .collect();
    for o in over_entries {
        match index.get(&o.key).map(|&i| &mut entries[i]) {
            None => {
                index.insert(o.key.clone(), entries.len());
                entries.push(o);
            }
            Some(existing) if has_override(&o.value) => *existing = o,
            Some(existing) => errors.push(o.key_pos.error(format!(
                "service \"{}\" is already defined at {}; rename one of them, or add \
                 \"override: true\" to this definition to replace the earlier one",
                o.key,
                existing.key_pos.describe()
            ))),
        }
    }
}

/// Charges `budget` for the copies `apply_defaults` is about to make: the
/// whole `defaults` once per service (an upper bound), so a large
/// `defaults` times many services cannot multiply memory unchecked.
pub fn charge_defaults(root: &Node, budget: &mut Budget) -> Result<(), ConfigError> {
    let Some(defaults) = root.entry("defaults") else {
        return Ok(());
    };
    let services = root
        .get("services")
        .and_then(Node::entries)
        .map_or(0, Vec::len);
    let (nodes, text, _) = defaults.value.measure();
    budget
        .take(
            nodes.saturating_mul(services),
            text.saturating_mul(services),
            " after `defaults` are copied into every service",
        )
        .map_err(|e| defaults.key_pos.error(e.to_string()))
}

/// Deep-merges the top-level `defaults` into every service (the service's
/// own values win).
pub fn apply_defaults(root: &mut Node) {
    let Some(defaults) = root.get("defaults").cloned() else {
        return;
    };
    if !matches!(defaults.value, Value::Map(_)) {
        return;
    }
    let Some(services) = root
        .entries_mut()
        .and_then(|e| e.iter_mut().find(|e| e.key == "services"))
    else {
        return;
    };
    let Some(entries) = services.value.entries_mut() else {
        return;
    };
    for entry in entries {
        let service = std::mem::replace(
            &mut entry.value,
            Node::new(Value::Null, defaults.pos.clone()),
        );
        entry.value = match service.value {
            Value::Null => Node::new(defaults.value.clone(), service.pos),
            Value::Map(_) => {
                let pos = service.pos.clone();
                let mut merged = deep_merge(defaults.clone(), service);
                merged.pos = pos;
                merged
            }
            _ => service,
        };
    }
}

/// A key written with no value (`api:`, `restart:`) means "not set", as in
/// most YAML-configured tools: such entries are dropped so their defaults
/// apply. A service with no value becomes an empty service (which then
/// fails validation for its missing command, a clearer message).
pub fn drop_nulls(root: &mut Node) {
    fn walk(node: &mut Node) {
        match &mut node.value {
            Value::Map(entries) => {
                // `process:` alone is the natural way to ask for that check.
                for e in entries.iter_mut() {
                    if e.key == "process" && e.value.value == Value::Null {
                        e.value.value = Value::Map(Vec::new());
                    }
                }
                entries.retain(|e| e.value.value != Value::Null);
                entries.iter_mut().for_each(|e| walk(&mut e.value));
            }
            Value::Seq(items) => items.iter_mut().for_each(walk),
            _ => {}
        }
    }
    if let Some(services) = root
        .entries_mut()
        .and_then(|e| e.iter_mut().find(|e| e.key == "services"))
    {
        for entry in services.value.entries_mut().into_iter().flatten() {
            if entry.value.value == Value::Null {
                entry.value.value = Value::Map(Vec::new());
            }
        }
    }
    walk(root);
}

#[cfg(test)]
mod tests {
    use super::super::formats::{parse, Format};
    use super::*;
    use std::sync::Arc;

    fn doc(name: &str, text: &str) -> Node {
        parse(text, Format::Yaml, &Arc::from(name)).expect("test document parses")
    }

    #[test]
    fn later_wins_and_maps_merge_deeply() {
        let a = doc(
            "a.yaml",
            "api: {insecure: true, listen: [a]}\nlogging: {level: info}\n",
        );
        let b = doc("b.yaml", "api: {listen: [b]}\nlogging: {format: text}\n");
        let mut errors = Vec::new();
        let merged = merge_documents(a, b, &mut errors);
        assert!(errors.is_empty());
        assert_eq!(
            merged.to_json(),
            serde_json::json!({
                "api": {"insecure": true, "listen": ["b"]},
                "logging": {"level": "info", "format": "text"}
            })
        );
    }

    #[test]
    fn duplicate_service_needs_override() {
        let a = doc("a.yaml", "services:\n  web: {command: a}\n");
        let b = doc("b.yaml", "services:\n  web: {command: b}\n");
        let mut errors = Vec::new();
        merge_documents(a.clone(), b, &mut errors);
        assert_eq!(errors.len(), 1);
        let e = errors[0].to_string();
        assert!(
            e.starts_with("b.yaml:2:3: service \"web\" is already defined at a.yaml:2:3"),
            "{e}"
        );

        let c = doc("c.yaml", "services:\n  web: {command: c, override: true}\n");
        let mut errors = Vec::new();
        let merged = merge_documents(a, c, &mut errors);
        assert!(errors.is_empty());
        assert_eq!(
            merged.to_json()["services"]["web"],
            serde_json::json!({"command": "c", "override": true})
        );
    }

    #[test]
    fn defaults_deep_merge_and_service_wins() {
        let mut root = doc(
            "a.yaml",
            "defaults:\n  environment: {A: '1', B: '2'}\n  restart: {delay: 5s}\n\
             services:\n  web:\n    environment: {B: x}\n  db:\n",
        );
        apply_defaults(&mut root);
        let j = root.to_json();
        assert_eq!(
            j["services"]["web"],
            serde_json::json!({"environment": {"A": "1", "B": "x"}, "restart": {"delay": "5s"}})
        );
        assert_eq!(
            j["services"]["db"],
            serde_json::json!({"environment": {"A": "1", "B": "2"}, "restart": {"delay": "5s"}})
        );
    }
}
