//! One `[program:x]` section to oneinit service drafts (SPEC 8 table):
//! expansions per process, `numprocs` as `instances` or as separate services,
//! and the key-by-key mapping. Keys without an equivalent become
//! `not converted` notes (comments in the output, warnings on stderr).

use super::expand::{expand, parse_environment, Expanded, Expansions, Val};
use super::ini::Section;
use super::ImportError;
use oneinit_actors::model::signal::{parse_signal, signal_short_name};
use oneinit_actors::model::units::parse_size;
use std::collections::BTreeMap;

/// A service as the emitter writes it; `None` fields are left out.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ServiceDraft {
    pub name: String,
    /// The supervisord program it came from (for `priority` ordering).
    pub program: String,
    pub priority: i64,
    /// Comment lines at the top of the service block.
    pub header: Vec<String>,
    pub command: Vec<String>,
    pub instances: u32,
    pub workdir: Option<String>,
    pub user: Option<String>,
    pub umask: Option<String>,
    pub environment: Vec<(String, String)>,
    pub autostart: Option<bool>,
    pub after: Vec<String>,
    pub restart_policy: Option<&'static str>,
    pub max_retries: Option<u32>,
    pub success_codes: Option<Vec<i32>>,
    pub stop_signal: Option<String>,
    pub stop_timeout: Option<String>,
    pub stop_group: Option<bool>,
    pub min_uptime: Option<String>,
    pub log_file: Option<String>,
    pub log_max_size: Option<String>,
    pub log_max_files: Option<u32>,
    /// Comment lines at the end of the block (`not converted: ...`).
    pub notes: Vec<String>,
}

/// What the rest of the file contributes to every program.
pub struct ProgramContext<'a> {
    pub group: Option<&'a str>,
    /// `[supervisord] environment`, already escaped.
    pub global_env: &'a [(String, String)],
    pub global_umask: Option<&'a str>,
}

/// supervisord's default priority.
const DEFAULT_PRIORITY: i64 = 999;

/// Paths that mean "the container's own output": capture only, no file.
const CONSOLE_PATHS: &[&str] = &[
    "/dev/stdout",
    "/dev/stderr",
    "/dev/fd/1",
    "/dev/fd/2",
    "/proc/self/fd/1",
    "/proc/self/fd/2",
];

/// Converts one program. Warnings (already `FILE: warning: ...`) go to `warnings`.
pub fn convert_program(
    section: &Section,
    program: &str,
    ctx: &ProgramContext,
    warnings: &mut Vec<String>,
) -> Result<Vec<ServiceDraft>, ImportError> {
    let err = |line: usize, msg: String| ImportError::at(&section.source, Some(line), msg);
    let base = Expansions::for_file(&section.here)
        .with("program_name", Val::Str(program.into()))
        .with("group_name", Val::Str(ctx.group.unwrap_or(program).into()));
    let int_key = |key: &str, default: i64| -> Result<i64, ImportError> {
        match section.get(key) {
            None => Ok(default),
            Some(e) => {
                let text = expand(&e.value, &base)
                    .map_err(|m| err(e.line, m))?
                    .text_unescaped();
                text.trim().parse::<i64>().map_err(|_| {
                    err(
                        e.line,
                        format!("[program:{program}] {key} = {text:?} is not a whole number"),
                    )
                })
            }
        }
    };
    let numprocs = int_key("numprocs", 1)?;
    let numprocs_start = int_key("numprocs_start", 0)?;
    if numprocs < 1 {
        return Err(err(
            section.line,
            format!("[program:{program}] numprocs must be at least 1"),
        ));
    }
    let name_entry = section.get("process_name");
    let name_raw = name_entry.map_or("%(program_name)s", |e| e.value.as_str());
    if numprocs > 1 && !name_raw.contains("%(process_num)") {
        return Err(err(
            name_entry.map_or(section.line, |e| e.line),
            format!("[program:{program}] has numprocs = {numprocs} but its process_name does not use %(process_num); add e.g. `process_name = %(program_name)s_%(process_num)02d`"),
        ));
    }

    let mut per_process = Vec::new();
    for num in numprocs_start..numprocs_start + numprocs {
        let exp = base
            .clone()
            .with("process_num", Val::Int(num))
            .with("numprocs", Val::Int(numprocs));
        let mut values: BTreeMap<String, Expanded> = BTreeMap::new();
        for e in &section.entries {
            values.insert(
                e.key.clone(),
                expand(&e.value, &exp).map_err(|m| err(e.line, m))?,
            );
        }
        let name = match values.get("process_name") {
            Some(v) => v.text_unescaped(),
            None => program.to_string(),
        };
        per_process.push((name, values));
    }

    let same_except_name = per_process.windows(2).all(|w| {
        let strip = |m: &BTreeMap<String, Expanded>| {
            m.iter()
                .filter(|(k, _)| k.as_str() != "process_name")
                .map(|(k, v)| (k.clone(), v.escaped.clone()))
                .collect::<Vec<_>>()
        };
        strip(&w[0].1) == strip(&w[1].1)
    });

    let mut drafts = Vec::new();
    if numprocs > 1 && same_except_name {
        let (_, values) = &per_process[0];
        let mut d = build(section, program, program, values, ctx, warnings)?;
        d.instances = numprocs as u32;
        d.header.push(format!(
            "numprocs = {numprocs}: one service with {numprocs} instances (ids 0..{}; ONEINIT_INSTANCE tells them apart)",
            numprocs - 1
        ));
        drafts.push(d);
    } else {
        for (i, (name, values)) in per_process.iter().enumerate() {
            // Warnings are the same for every process; say them once.
            let mut sink = Vec::new();
            let out = if i == 0 { &mut *warnings } else { &mut sink };
            let mut d = build(section, program, name, values, ctx, out)?;
            if numprocs > 1 {
                d.header.push(format!(
                    "process {} of {numprocs} (numprocs; the processes differ in more than their name)",
                    i + 1
                ));
            }
            drafts.push(d);
        }
    }
    Ok(drafts)
}

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

fn build(
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
    match plain("umask").or_else(|| ctx.global_umask.map(str::to_string)) {
        Some(u) => match u32::from_str_radix(u.trim(), 8) {
            Ok(mask) if mask <= 0o777 => d.umask = Some(format!("{mask:04o}")),
            _ => note(&mut d, "umask", reason("umask")),
        },
        None => {}
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
    d.max_retries = non_negative("startretries")?.map(|n| n.min(u32::MAX as u64) as u32);
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
            d.header.push(format!(
                "stdout_logfile = {}: output captured into oneinit's log only",
                p.trim()
            ));
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
    let stderr_merged = redirect
        || match &stderr_file {
            None => true,
            Some(p) => {
                CONSOLE_PATHS.contains(&p.as_str())
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
