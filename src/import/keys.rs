//! The key-by-key mapping of one supervisord process to a service draft
//! (SPEC 8 table). Keys without an equivalent become `not converted` notes:
//! a comment in the service block and a warning on stderr.

use super::expand::{parse_environment, Expanded};
use super::ini::Section;
use super::program::{ProgramContext, ServiceDraft, DEFAULT_PRIORITY};
use super::ImportError;
use oneinit_actors::model::signal::{parse_signal, signal_short_name};
use oneinit_actors::model::units::parse_size;
use std::collections::BTreeMap;

/// Paths that mean "the container's own output": capture only, no file.
const CONSOLE_PATHS: &[&str] = &[
    "/dev/stdout",
    "/dev/stderr",
    "/dev/fd/1",
    "/dev/fd/2",
    "/proc/self/fd/1",
    "/proc/self/fd/2",
];

/// `stdout_logfile = syslog` is supervisord's special value (output to
/// syslog), not a file name: oneinit captures the output into its own log.
const SYSLOG_NOTE: &str = "{key} = syslog: supervisord sent this output to syslog; oneinit captures it into its own log (its stdout and `onecli logs`), not into a file named syslog";

/// supervisord's booleans.
fn parse_bool(text: &str) -> Option<bool> {
    match text.trim().to_ascii_lowercase().as_str() {
        "true" | "yes" | "on" | "1" => Some(true),
        "false" | "no" | "off" | "0" => Some(false),
        _ => None,
    }
}

/// Why a program key has no oneinit equivalent.
fn reason(key: &str) -> &'static str {
    match key {
        "stdout_capture_maxbytes" | "stderr_capture_maxbytes" => {
            "capture mode feeds supervisord events; oneinit has no equivalent"
        }
        "stdout_events_enabled" | "stderr_events_enabled" => {
            "supervisord events have no equivalent; use oneinit notifiers for failures"
        }
        "stdout_syslog" | "stderr_syslog" => "oneinit logs to stdout and files, not syslog",
        "stderr_logfile" => "oneinit writes stdout and stderr to the same logs.file",
        "stderr_logfile_maxbytes" | "stderr_logfile_backups" => {
            "rotation is set once for logs.file, from stdout_logfile_*"
        }
        "serverurl" => "services reach oneinit's API through onecli and ONECLI_SERVER",
        "stdout_logfile" => "NONE discards output; oneinit always captures it (logs.ring, stdout)",
        "stdout_logfile_maxbytes" => {
            "0 means never rotate; oneinit always rotates logs.file at logs.max_size"
        }
        "umask" => "not an octal number",
        "startretries" => {
            "0 = give up after the first failed start; oneinit's max_retries: 0 means never give up, so use restart.policy: never if that is what you want"
        }
        _ => "no oneinit equivalent",
    }
}

/// Renders a raw value for a comment: one line, credentials hidden.
pub fn shown_value(key: &str, raw: &str) -> String {
    if key.contains("password") || key == "username" {
        "<not copied>".into()
    } else {
        raw.split_whitespace().collect::<Vec<_>>().join(" ")
    }
}

pub(super) fn build(
    section: &Section,
    program: &str,
    name: &str,
    values: &BTreeMap<String, Expanded>,
    ctx: &ProgramContext,
    warnings: &mut Vec<String>,
) -> Result<ServiceDraft, ImportError> {
    let mut d = ServiceDraft {
        name: name.to_string(),
        program: program.to_string(),
        priority: DEFAULT_PRIORITY,
        instances: 1,
        ..ServiceDraft::default()
    };
    d.header
        .push(format!("from [program:{program}] in {}", section.source));
    if let Some(g) = ctx.group {
        d.header.push(format!(
            "member of supervisord group \"{g}\" (oneinit has no groups: act on each service by name)"
        ));
    }
    for v in values.values() {
        for var in &v.unset_env {
            warnings.push(format!(
                "{}: warning: [program:{program}] %(ENV_{var})s: {var} is not set here; written as ${{{var}}}, expanded when oneinit starts (set it, or `oneinit check` fails)",
                section.source
            ));
        }
    }
    let line_of = |key: &str| section.get(key).map_or(section.line, |e| e.line);
    let err = |key: &str, msg: String| ImportError::at(&section.source, Some(line_of(key)), msg);
    let text = |key: &str| values.get(key).map(|v| v.escaped.clone());
    let plain = |key: &str| values.get(key).map(Expanded::text_unescaped);
    let mut note = |d: &mut ServiceDraft, key: &str, why: &str| {
        let raw = section.get(key).map_or("", |e| e.value.as_str());
        let shown = shown_value(key, raw);
        d.notes
            .push(format!("not converted: {key} = {shown} ({why})"));
        warnings.push(format!(
            "{}: warning: [program:{program}] not converted: {key} = {shown} ({why})",
            section.source
        ));
    };

    let Some(command) = text("command").filter(|c| !c.trim().is_empty()) else {
        return Err(err(
            "command",
            format!("[program:{program}] has no command; add `command = ...`"),
        ));
    };
    d.command = shell_words::split(&command).map_err(|e| {
        err(
            "command",
            format!(
                "[program:{program}] command cannot be split into words: {e}; check its quotes"
            ),
        )
    })?;

    let bool_key = |key: &str| -> Result<Option<bool>, ImportError> {
        match plain(key) {
            None => Ok(None),
            Some(v) => parse_bool(&v).map(Some).ok_or_else(|| {
                err(
                    key,
                    format!("[program:{program}] {key} = {v:?} is not a boolean (true or false)"),
                )
            }),
        }
    };
    let num_key = |key: &str| -> Result<Option<i64>, ImportError> {
        match plain(key) {
            None => Ok(None),
            Some(v) => v.trim().parse::<i64>().map(Some).map_err(|_| {
                err(
                    key,
                    format!("[program:{program}] {key} = {v:?} is not a whole number"),
                )
            }),
        }
    };
    let non_negative = |key: &str| -> Result<Option<u64>, ImportError> {
        match num_key(key)? {
            Some(n) if n < 0 => Err(err(
                key,
                format!("[program:{program}] {key} cannot be negative"),
            )),
            other => Ok(other.map(|n| n as u64)),
        }
    };

    d.workdir = text("directory");
    d.user = text("user");
    if let Some(u) = plain("umask").or_else(|| ctx.global_umask.map(str::to_string)) {
        match u32::from_str_radix(u.trim(), 8) {
            Ok(mask) if mask <= 0o777 => d.umask = Some(format!("{mask:04o}")),
            _ => note(&mut d, "umask", reason("umask")),
        }
    }

    let mut env: Vec<(String, String)> = ctx.global_env.to_vec();
    if let Some(e) = text("environment") {
        let pairs = parse_environment(&e).map_err(|m| {
            err(
                "environment",
                format!("[program:{program}] environment: {m}"),
            )
        })?;
        for (k, v) in pairs {
            env.retain(|(ek, _)| *ek != k);
            env.push((k, v));
        }
    }
    d.environment = env;

    d.autostart = bool_key("autostart")?;
    d.priority = num_key("priority")?.unwrap_or(DEFAULT_PRIORITY);
    d.restart_policy = match plain("autorestart").map(|v| v.trim().to_ascii_lowercase()) {
        None => Some("on-failure"),
        Some(v) if v == "unexpected" => Some("on-failure"),
        Some(v) => match parse_bool(&v) {
            Some(true) => Some("always"),
            Some(false) => Some("never"),
            None => {
                return Err(err(
                    "autorestart",
                    format!(
                        "[program:{program}] autorestart = {v:?}: use true, false or unexpected"
                    ),
                ))
            }
        },
    };
    if let Some(codes) = plain("exitcodes") {
        let parsed: Result<Vec<i32>, _> =
            codes.split(',').map(|c| c.trim().parse::<i32>()).collect();
        d.success_codes = Some(parsed.map_err(|_| {
            err(
                "exitcodes",
                format!(
                    "[program:{program}] exitcodes = {codes:?}: write numbers separated by commas"
                ),
            )
        })?);
    }
    d.min_uptime = non_negative("startsecs")?.map(|s| format!("{s}s"));
    match non_negative("startretries")? {
        // oneinit's max_retries: 0 means "never give up", the opposite.
        Some(0) => note(&mut d, "startretries", reason("startretries")),
        n => d.max_retries = n.map(|n| n.min(u32::MAX as u64) as u32),
    }
    if let Some(sig) = plain("stopsignal") {
        let parsed = parse_signal(&sig)
            .map_err(|m| err("stopsignal", format!("[program:{program}] stopsignal: {m}")))?;
        d.stop_signal = Some(signal_short_name(parsed).to_string());
    }
    d.stop_timeout = non_negative("stopwaitsecs")?.map(|s| format!("{s}s"));
    let stop_as = bool_key("stopasgroup")?;
    let kill_as = bool_key("killasgroup")?;
    if stop_as.is_some() || kill_as.is_some() {
        let (s, k) = (stop_as.unwrap_or(false), kill_as.unwrap_or(false));
        d.stop_group = Some(s || k);
        if s != k {
            d.notes.push(
                "stopasgroup and killasgroup differ: oneinit sends both the stop signal and SIGKILL to the whole group"
                    .into(),
            );
        }
    }

    let redirect = bool_key("redirect_stderr")?.unwrap_or(false);
    let mut rotating_file = false;
    match plain("stdout_logfile") {
        Some(p) if CONSOLE_PATHS.contains(&p.trim()) => {
            d.log_capture = true;
            d.header.push(format!(
                "stdout_logfile = {}: output captured into oneinit's log only",
                p.trim()
            ));
        }
        Some(p) if p.trim().eq_ignore_ascii_case("syslog") => {
            d.log_capture = true;
            d.header
                .push(SYSLOG_NOTE.replace("{key}", "stdout_logfile"));
        }
        Some(p) if p.trim().eq_ignore_ascii_case("AUTO") => {}
        Some(p) if p.trim().eq_ignore_ascii_case("NONE") => {
            note(&mut d, "stdout_logfile", reason("stdout_logfile"))
        }
        Some(_) => {
            d.log_file = text("stdout_logfile");
            rotating_file = true;
        }
        None => {}
    }
    if rotating_file {
        if let Some(size) = plain("stdout_logfile_maxbytes") {
            match parse_size(&size) {
                Ok(0) => note(
                    &mut d,
                    "stdout_logfile_maxbytes",
                    reason("stdout_logfile_maxbytes"),
                ),
                Ok(_) => d.log_max_size = Some(size.trim().to_ascii_uppercase()),
                Err(m) => {
                    return Err(err(
                        "stdout_logfile_maxbytes",
                        format!("[program:{program}] {m}"),
                    ))
                }
            }
        }
        d.log_max_files =
            non_negative("stdout_logfile_backups")?.map(|n| n.min(u32::MAX as u64) as u32);
    }
    if redirect {
        d.header
            .push("redirect_stderr = true: stdout and stderr share one log (oneinit's way)".into());
    }
    let stderr_file = plain("stderr_logfile").map(|p| p.trim().to_string());
    let stderr_syslog = stderr_file
        .as_deref()
        .is_some_and(|p| p.eq_ignore_ascii_case("syslog"));
    if stderr_syslog {
        d.log_capture = true;
        d.header
            .push(SYSLOG_NOTE.replace("{key}", "stderr_logfile"));
    }
    let stderr_merged = redirect
        || match &stderr_file {
            None => true,
            Some(p) => {
                CONSOLE_PATHS.contains(&p.as_str())
                    || stderr_syslog
                    || p.eq_ignore_ascii_case("AUTO")
                    || Some(p.as_str()) == plain("stdout_logfile").as_deref().map(str::trim)
            }
        };

    const MAPPED: &[&str] = &[
        "command",
        "process_name",
        "numprocs",
        "numprocs_start",
        "directory",
        "user",
        "umask",
        "environment",
        "autostart",
        "priority",
        "autorestart",
        "exitcodes",
        "startsecs",
        "startretries",
        "stopsignal",
        "stopwaitsecs",
        "stopasgroup",
        "killasgroup",
        "redirect_stderr",
        "stdout_logfile",
        "stdout_logfile_maxbytes",
        "stdout_logfile_backups",
    ];
    for e in &section.entries {
        let key = e.key.as_str();
        let stderr_key = matches!(
            key,
            "stderr_logfile" | "stderr_logfile_maxbytes" | "stderr_logfile_backups"
        );
        if MAPPED.contains(&key) || (stderr_key && stderr_merged) {
            continue;
        }
        note(&mut d, key, reason(key));
    }
    Ok(d)
}
