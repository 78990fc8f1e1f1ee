//! Semantic validation of a typed `Config` (SPEC 2.1, 2.3, 2.4, 4.1, 5.3):
//! every rule that serde types cannot express. All errors are collected, each
//! located through the merged tree (source, line, column of what was written).

use super::tree::{Node, Seg, Value};
use super::typing::closest;
use super::ConfigError;
use crate::model::config::{CheckConfig, Config, ServiceConfig, ServiceType};
use crate::model::graph::DepGraph;
use std::collections::{BTreeMap, BTreeSet};

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

fn is_octal_mode(text: &str) -> bool {
    !text.is_empty() && text.len() <= 4 && u32::from_str_radix(text, 8).is_ok_and(|m| m <= 0o7777)
}

fn service(cx: &mut Ctx, config: &Config, name: &str, svc: &ServiceConfig, skip_refs: bool) {
    let at =
        |key: &'static str| -> [String; 3] { ["services".into(), name.to_string(), key.into()] };
    let err = |cx: &mut Ctx, key: &'static str, msg: String| {
        let p = at(key);
        let path: Vec<&str> = p.iter().map(String::as_str).collect();
        cx.err(&path, false, format!("service \"{name}\": {msg}"));
    };
    if let Err(e) = svc.command.argv(svc.shell) {
        err(
            cx,
            "command",
            format!("{e}; set \"command\" to the program to run"),
        );
    }
    if svc.instances < 1 {
        err(cx, "instances", "\"instances\" must be at least 1".into());
    }
    if let Some(user) = &svc.user {
        if user.parse::<u32>().is_err()
            && !matches!(nix::unistd::User::from_name(user), Ok(Some(_)))
        {
            err(
                cx,
                "user",
                format!("user \"{user}\" does not exist on this system"),
            );
        }
    }
    if let Some(group) = &svc.group {
        if group.parse::<u32>().is_err()
            && !matches!(nix::unistd::Group::from_name(group), Ok(Some(_)))
        {
            err(
                cx,
                "group",
                format!("group \"{group}\" does not exist on this system"),
            );
        }
    }
    if let Some(msg) = super::access::identity_problem(svc) {
        err(cx, "user", msg);
    }
    if let Some(umask) = &svc.umask {
        if !is_octal_mode(umask) {
            err(
                cx,
                "umask",
                format!("umask \"{umask}\" is not an octal mode such as \"0022\""),
            );
        }
    }
    let on_demand = matches!(svc.kind, ServiceType::OnDemand | ServiceType::PerDemand);
    if let Some(socket) = &svc.socket {
        if !on_demand {
            err(
                cx,
                "socket",
                format!(
                    "\"socket\" needs type on-demand or per-demand, not {}",
                    svc.kind.as_str()
                ),
            );
        }
        if socket.listen.is_empty() {
            err(cx, "socket", "\"socket.listen\" names no address".into());
        }
        if let Some(mode) = &socket.mode {
            if !is_octal_mode(mode) {
                err(
                    cx,
                    "socket",
                    format!("socket mode \"{mode}\" is not an octal mode such as \"0660\""),
                );
            }
        }
    }
    if let Some(schedule) = &svc.schedule {
        if !matches!(svc.kind, ServiceType::Oneshot | ServiceType::PerDemand) {
            err(
                cx,
                "schedule",
                format!(
                    "\"schedule\" needs type oneshot or per-demand, not {}",
                    svc.kind.as_str()
                ),
            );
        }
        match (&schedule.cron, &schedule.interval) {
            (Some(_), Some(_)) | (None, None) => err(
                cx,
                "schedule",
                "\"schedule\" needs exactly one of cron, interval".into(),
            ),
            (Some(expr), None) => {
                if let Err(e) = check_cron(expr) {
                    err(cx, "schedule", e);
                }
            }
            // The interval's minimum is in `ranges`.
            (None, Some(_)) => {}
        }
        if let Some(tz) = &schedule.timezone {
            if tz.parse::<chrono_tz::Tz>().is_err() {
                err(
                    cx,
                    "schedule",
                    format!(
                        "unknown timezone \"{tz}\"; use an IANA name such as \"Europe/Berlin\""
                    ),
                );
            }
        }
    }
    if svc.restart.backoff.is_nan() || svc.restart.backoff < 1.0 {
        err(
            cx,
            "restart",
            format!(
                "\"restart.backoff\" must be at least 1.0, not {}",
                svc.restart.backoff
            ),
        );
    }
    if let Some(re) = &svc.readiness.log_line {
        if let Err(e) = regex::Regex::new(re) {
            err(
                cx,
                "readiness",
                format!("\"readiness.log_line\" is not a valid regex: {e}"),
            );
        }
    }
    if let Some(check) = &svc.readiness.check {
        if let Some(msg) = check_problem(check) {
            err(cx, "readiness", format!("readiness check: {msg}"));
        }
    }
    for (i, check) in svc.health.iter().enumerate() {
        if let Some(msg) = check_problem(check) {
            let idx = format!("#{i}");
            cx.err(
                &["services", name, "health", &idx],
                false,
                format!("service \"{name}\": health check {i}: {msg}"),
            );
        }
    }
    if svc.max_instances < 1 {
        err(
            cx,
            "max_instances",
            "\"max_instances\" must be at least 1".into(),
        );
    }
    for (i, n) in svc.notify.iter().enumerate() {
        if !skip_refs && !config.notifiers.contains_key(n) {
            let idx = format!("#{i}");
            let hint = closest(n, config.notifiers.keys().map(String::as_str))
                .map(|c| format!(" (did you mean \"{c}\"?)"))
                .unwrap_or_default();
            cx.err(
                &["services", name, "notify", &idx],
                false,
                format!(
                    "service \"{name}\": notifier \"{n}\" is not defined under \"notifiers\"{hint}"
                ),
            );
        }
    }
}

fn check_cron(expr: &str) -> Result<(), String> {
    let fields = expr.split_whitespace().count();
    if fields != 5 {
        return Err(format!(
            "cron expression \"{expr}\" has {fields} fields; use 5 (minute hour day month weekday)"
        ));
    }
    // The cron crate wants a seconds field first.
    format!("0 {expr}")
        .parse::<cron::Schedule>()
        .map(|_| ())
        .map_err(|e| {
            // The cron crate's message repeats the expression with a caret
            // under it; its last line is the explanation.
            let text = e.to_string();
            let why = text.lines().last().unwrap_or_default().trim().to_string();
            format!("invalid cron expression \"{expr}\": {why}")
        })
}

fn check_problem(check: &CheckConfig) -> Option<String> {
    let kinds = [
        check.tcp.is_some(),
        check.http.is_some(),
        check.exec.is_some(),
        check.process.is_some(),
    ];
    if kinds.iter().filter(|k| **k).count() != 1 {
        return Some("needs exactly one of tcp, http, exec, process".into());
    }
    if let Some(exec) = &check.exec {
        if let Err(e) = exec.command.argv(exec.shell) {
            return Some(format!("exec: {e}"));
        }
    }
    None
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
