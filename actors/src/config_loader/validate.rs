//! Semantic validation of a typed `Config` (SPEC 2.1, 2.3, 2.4, 4.1, 5.3):
//! every rule that serde types cannot express. All errors are collected, each
//! located through the merged tree (source, line, column of what was written).

use super::tree::{Node, Seg, Value};
use super::typing::closest;
use super::ConfigError;
use crate::model::config::{Config, ServiceConfig};
use crate::model::graph::DepGraph;
use std::collections::{BTreeMap, BTreeSet};

mod service;
use service::service;

pub(super) struct Ctx<'a> {
    root: &'a Node,
    errors: &'a mut Vec<ConfigError>,
    /// Errors past `MAX_LISTED`, counted but not located.
    suppressed: usize,
}

/// More errors than this are counted, not listed: locating each one costs
/// a walk of the tree, and nobody reads the ten-thousandth.
const MAX_LISTED: usize = 200;

fn segs(path: &[&str]) -> Vec<Seg> {
    path.iter()
        .map(|s| match s.strip_prefix('#').and_then(|i| i.parse().ok()) {
            Some(i) => Seg::Index(i),
            None => Seg::Key((*s).to_string()),
        })
        .collect()
}

impl Ctx<'_> {
    /// An error at `path` (`#N` steps are list indices), pointing at the
    /// value, or at the key when `at_key`.
    pub(super) fn err(&mut self, path: &[&str], at_key: bool, message: String) {
        if self.errors.len() >= MAX_LISTED {
            self.suppressed += 1;
            return;
        }
        let pos = self.root.pos_of(&segs(path), at_key);
        self.errors.push(pos.error(message));
    }
}

impl Ctx<'_> {
    /// Whether `path` was written as an empty list (`[]`), which the typed
    /// config cannot tell from a missing key.
    pub(super) fn is_empty_list(&self, path: &[&str]) -> bool {
        matches!(
            self.root.lookup(&segs(path)),
            Some((node, _)) if matches!(&node.value, Value::Seq(items) if items.is_empty())
        )
    }
}

/// What validation leaves out because an earlier stage already failed.
pub struct Skip<'a> {
    /// Services whose typing failed (their checks would repeat the errors).
    pub services: &'a BTreeSet<String>,
    /// Names defined elsewhere may be missing (a file could not be read).
    pub references: bool,
}

/// Validates `config`, adding every problem found to `errors`. Answers how
/// many more were found past the listing limit (counted, not located).
pub fn validate(config: &Config, root: &Node, skip: &Skip, errors: &mut Vec<ConfigError>) -> usize {
    let mut cx = Ctx {
        root,
        errors,
        suppressed: 0,
    };
    for (name, svc) in &config.services {
        if !valid_name(name) {
            cx.err(
                &["services", name],
                true,
                format!(
                    "invalid service name \"{name}\": use 1 to 64 of the characters A-Z a-z 0-9 _ . -"
                ),
            );
        }
        if !skip.services.contains(name) {
            service(&mut cx, config, name, svc, skip.references);
        }
    }
    if !skip.references {
        dependencies(&mut cx, config, skip.services);
    }
    listen_addresses(&mut cx, config);
    for (name, n) in &config.notifiers {
        let kinds = [n.webhook.is_some(), n.slack.is_some(), n.command.is_some()];
        if kinds.iter().filter(|k| **k).count() != 1 {
            cx.err(
                &["notifiers", name],
                true,
                format!("notifier \"{name}\" must have exactly one of webhook, slack, command"),
            );
        }
    }
    if let Some(auth) = &config.api.auth {
        for (i, t) in auth.tokens.iter().enumerate() {
            let kinds = [
                t.sha256.is_some(),
                t.token_file.is_some(),
                t.token_env.is_some(),
            ];
            if kinds.iter().filter(|k| **k).count() != 1 {
                let idx = format!("#{i}");
                cx.err(
                    &["api", "auth", "tokens", &idx],
                    false,
                    format!(
                        "token \"{}\" must have exactly one of sha256, token_file, token_env",
                        t.name
                    ),
                );
            }
        }
    }
    super::access::check(&mut cx, config);
    super::ranges::check(&mut cx, config, skip.services);
    cx.suppressed
}

fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

fn dependencies(cx: &mut Ctx, config: &Config, skip: &BTreeSet<String>) {
    let graph = DepGraph::build(&config.services);
    for u in graph.unknown_deps() {
        if skip.contains(&u.missing) {
            continue;
        }
        let hint = closest(&u.missing, config.services.keys().map(String::as_str))
            .map(|c| format!(" (did you mean \"{c}\"?)"))
            .unwrap_or_default();
        let index = config
            .services
            .get(&u.service)
            .and_then(|s| {
                s.dependency_list(u.key)
                    .iter()
                    .position(|d| *d == u.missing)
            })
            .map(|i| format!("#{i}"))
            .unwrap_or_default();
        cx.err(
            &["services", &u.service, u.key, &index],
            false,
            format!(
                "service \"{}\": unknown dependency \"{}\" in \"{}\"{hint}",
                u.service, u.missing, u.key
            ),
        );
    }
    if let Some(cycle) = graph.find_cycle() {
        let first = cycle.first().cloned().unwrap_or_default();
        cx.err(
            &["services", &first],
            true,
            format!("dependency cycle: {}", cycle.join(" -> ")),
        );
    }
}

fn listen_addresses(cx: &mut Ctx, config: &Config) {
    let mut seen: BTreeMap<&str, &str> = BTreeMap::new();
    for (name, svc) in &config.services {
        let Some(socket) = &svc.socket else { continue };
        for (i, addr) in socket.listen.iter().enumerate() {
            match seen.get(addr.as_str()) {
                Some(other) => {
                    let idx = format!("#{i}");
                    cx.err(
                        &["services", name, "socket", "listen", &idx],
                        false,
                        format!("service \"{name}\": listen address \"{addr}\" is already used by service \"{other}\""),
                    );
                }
                None => {
                    seen.insert(addr, name);
                }
            }
        }
    }
}

/// The list a dependency key names, to point at the offending entry.
trait DependencyList {
    fn dependency_list(&self, key: &str) -> &[String];
}

impl DependencyList for ServiceConfig {
    fn dependency_list(&self, key: &str) -> &[String] {
        match key {
            "requires" => &self.requires,
            "wants" => &self.wants,
            "after" => &self.after,
            "before" => &self.before,
            _ => &[],
        }
    }
}
