//! The rules for one service (SPEC 2.3, 2.4): command, identity, umask,
//! sockets, schedule, checks, notifier references. Called by
//! `validate::validate` for every service whose typing succeeded.

use super::Ctx;
use crate::config_loader::typing::closest;
use crate::model::config::{CheckConfig, Config, ServiceConfig, ServiceType};
use crate::model::schedule::{to_six_fields, CronError};

fn is_octal_mode(text: &str) -> bool {
    !text.is_empty() && text.len() <= 4 && u32::from_str_radix(text, 8).is_ok_and(|m| m <= 0o7777)
}

pub(super) fn service(
    cx: &mut Ctx,
    config: &Config,
    name: &str,
    svc: &ServiceConfig,
    skip_refs: bool,
) {
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
    if let Some(msg) = crate::config_loader::access::identity_problem(svc) {
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
                    err(cx, "schedule", e.to_string());
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

/// A `schedule.cron` expression the scheduler could not run.
#[derive(Debug, thiserror::Error)]
enum CronProblem {
    #[error(
        "cron expression \"{expr}\" has {fields} fields; use 5 (minute hour day month weekday)"
    )]
    FieldCount { expr: String, fields: usize },
    #[error("invalid cron expression \"{expr}\": {why}")]
    Invalid { expr: String, why: String },
}

/// Checks `expr` exactly as the scheduler reads it (`model::schedule`):
/// weekdays 0-7 with 0 and 7 for Sunday, as in classic cron.
fn check_cron(expr: &str) -> Result<(), CronProblem> {
    let fields = expr.split_whitespace().count();
    if fields != 5 {
        let expr = expr.to_string();
        return Err(CronProblem::FieldCount { expr, fields });
    }
    let invalid = |why: String| CronProblem::Invalid {
        expr: expr.to_string(),
        why,
    };
    let six = to_six_fields(expr).map_err(|e| match e {
        CronError::Weekday { day, .. } => invalid(format!(
            "day of week {day} is out of range (0-7, 0 and 7 are Sunday)"
        )),
        other => invalid(other.to_string()),
    })?;
    six.parse::<cron::Schedule>().map(|_| ()).map_err(|e| {
        // The cron crate's message repeats the expression with a caret
        // under it; its last line is the explanation.
        let text = e.to_string();
        invalid(text.lines().last().unwrap_or_default().trim().to_string())
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
