//! The range rules of every duration and size in the configuration, in one
//! table. `model::units` already refuses what no field can hold, whatever
//! the spelling (negative, NaN, infinite, beyond `MAX_DURATION` /
//! `MAX_SIZE`); this file adds each field's minimum: intervals of 0 are a
//! busy loop (a health check `interval: 0` forks without pause), timeouts
//! of 0 fail every attempt. A field added to the schema gets a row here.

use super::validate::Ctx;
use crate::model::config::{CheckConfig, Config};
use crate::model::units::{format_duration, format_size, ConfDuration, ConfSize};
use std::collections::BTreeSet;
use std::time::Duration;

/// The shortest interval between runs (checks, schedules, remote watch).
pub const MIN_INTERVAL: Duration = Duration::from_millis(100);
/// The shortest timeout for an attempt that must be able to succeed.
pub const MIN_TIMEOUT: Duration = Duration::from_millis(1);

/// One field with a minimum, by its path in the document.
struct Row {
    path: Vec<String>,
    value: Value,
    why: &'static str,
}

enum Value {
    Duration(ConfDuration, Duration),
    Size(ConfSize, u64),
}

fn interval(path: Vec<String>, d: ConfDuration) -> Row {
    Row {
        path,
        value: Value::Duration(d, MIN_INTERVAL),
        why: "a shorter interval is a busy loop",
    }
}

fn timeout(path: Vec<String>, d: ConfDuration) -> Row {
    Row {
        path,
        value: Value::Duration(d, MIN_TIMEOUT),
        why: "a timeout of 0 fails every attempt",
    }
}

fn at(prefix: &[String], tail: &[&str]) -> Vec<String> {
    prefix
        .iter()
        .cloned()
        .chain(tail.iter().map(|s| s.to_string()))
        .collect()
}

fn check_rows(prefix: &[String], check: &CheckConfig, rows: &mut Vec<Row>) {
    rows.push(interval(at(prefix, &["interval"]), check.interval));
    rows.push(timeout(at(prefix, &["timeout"]), check.timeout));
    if let Some(t) = check.exec.as_ref().and_then(|e| e.timeout) {
        rows.push(timeout(at(prefix, &["exec", "timeout"]), t));
    }
}

/// Every duration or size that has a minimum above what its type allows.
/// Durations that may be 0 (delays, grace periods, `stop.timeout`: kill at
/// once) are not listed.
fn rows(config: &Config, skip: &BTreeSet<String>) -> Vec<Row> {
    let mut rows = Vec::new();
    let top = |p: &[&str]| p.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    rows.push(timeout(top(&["remote", "timeout"]), config.remote.timeout));
    if let Some(t) = config.logging.stall_timeout {
        rows.push(timeout(top(&["logging", "stall_timeout"]), t));
    }
    if let Some(w) = config.remote.watch {
        rows.push(interval(top(&["remote", "watch"]), w));
    }
    if let Some(f) = &config.logging.file {
        rows.push(Row {
            path: top(&["logging", "file", "max_size"]),
            value: Value::Size(f.max_size, 1),
            why: "a log file needs room for at least one byte before it is rotated",
        });
    }
    for (name, svc) in config.services.iter().filter(|(n, _)| !skip.contains(*n)) {
        let svc_path = top(&["services", name]);
        rows.push(timeout(
            at(&svc_path, &["readiness", "timeout"]),
            svc.readiness.timeout,
        ));
        if let Some(check) = &svc.readiness.check {
            check_rows(&at(&svc_path, &["readiness", "check"]), check, &mut rows);
        }
        for (i, check) in svc.health.iter().enumerate() {
            check_rows(
                &at(&svc_path, &["health", &format!("#{i}")]),
                check,
                &mut rows,
            );
        }
        if let Some(i) = svc.schedule.as_ref().and_then(|s| s.interval) {
            rows.push(interval(at(&svc_path, &["schedule", "interval"]), i));
        }
        rows.push(Row {
            path: at(&svc_path, &["logs", "max_size"]),
            value: Value::Size(svc.logs.max_size, 1),
            why: "a log file needs room for at least one byte before it is rotated",
        });
    }
    rows
}

/// `health[0].interval` for messages (`#0` steps are list indices).
fn shown(path: &[String]) -> String {
    let rest = match path {
        [s, _, rest @ ..] if s == "services" => rest,
        _ => path,
    };
    let mut out = String::new();
    for seg in rest {
        match seg.strip_prefix('#') {
            Some(i) => out.push_str(&format!("[{i}]")),
            None => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(seg);
            }
        }
    }
    match path {
        [s, name, ..] if s == "services" => format!("\"{out}\" of service \"{name}\""),
        _ => format!("\"{out}\""),
    }
}

/// The most cores `limits.cpu` may name (cgroup quotas are per-period
/// microseconds; far beyond any machine).
const MAX_CPU: f64 = 65_536.0;

/// Adds an error for every field below its minimum.
pub(super) fn check(cx: &mut Ctx, config: &Config, skip: &BTreeSet<String>) {
    for (name, svc) in config.services.iter().filter(|(n, _)| !skip.contains(*n)) {
        if let Some(cores) = svc.limits.cpu {
            if !(cores > 0.0 && cores <= MAX_CPU) {
                cx.err(
                    &["services", name, "limits", "cpu"],
                    false,
                    format!(
                        "\"limits.cpu\" of service \"{name}\" is {cores}; use a number of cores \
                         above 0 and at most {MAX_CPU}, such as 1.5"
                    ),
                );
            }
        }
    }
    for row in rows(config, skip) {
        let problem = match row.value {
            Value::Duration(d, min) if d.get() < min => {
                Some((format_duration(d.get()), format_duration(min)))
            }
            Value::Size(s, min) if s.0 < min => Some((format_size(s.0), format_size(min))),
            _ => None,
        };
        if let Some((value, min)) = problem {
            let path: Vec<&str> = row.path.iter().map(String::as_str).collect();
            cx.err(
                &path,
                false,
                format!(
                    "{} is {value}; the minimum is {min} ({})",
                    shown(&row.path),
                    row.why
                ),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_read_like_the_document() {
        let p = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(
            shown(&p(&["services", "web", "health", "#0", "interval"])),
            "\"health[0].interval\" of service \"web\""
        );
        assert_eq!(shown(&p(&["remote", "watch"])), "\"remote.watch\"");
    }
}
