//! One `[program:x]` section to oneinit service drafts (SPEC 8 table):
//! expansions per process, and `numprocs` as `instances` or as separate
//! services. The key-by-key mapping of one process is in `keys`.

use super::expand::{expand, Expanded, Expansions, Val};
use super::ini::Section;
use super::keys::build;
use super::ImportError;
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
    /// `stdout_logfile` was the console: write `logs.capture: true`.
    pub log_capture: bool,
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
pub(super) const DEFAULT_PRIORITY: i64 = 999;

/// Converts one program. Warnings (already `FILE: warning: ...`) go to `warnings`.
/// The most processes one `[program:x]` may declare.
const MAX_NUMPROCS: i64 = 10_000;

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
                    .map_err(|m| err(e.line, m.to_string()))?
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
    // Each process may become a service of its own: bounded like any
    // config (`config_loader::budget`), and `start + count` must not wrap.
    if numprocs > MAX_NUMPROCS || numprocs_start.checked_add(numprocs).is_none() {
        return Err(err(
            section.line,
            format!(
                "[program:{program}] numprocs = {numprocs} (from {numprocs_start}) is out of \
                 range; at most {MAX_NUMPROCS} processes per program"
            ),
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
                expand(&e.value, &exp).map_err(|m| err(e.line, m.to_string()))?,
            );
        }
        let name = match values.get("process_name") {
            Some(v) => v.text_unescaped(),
            None => program.to_string(),
        };
        per_process.push((name, values));
    }

    // Instances share everything but their id. Per-process log file names
    // do not prevent that: the instances then share one file, each line
    // tagged with its instance.
    let differing = |keys: &dyn Fn(&str) -> bool| {
        per_process.windows(2).any(|w| {
            let pick = |m: &BTreeMap<String, Expanded>| {
                m.iter()
                    .filter(|(k, _)| keys(k))
                    .map(|(k, v)| (k.clone(), v.escaped.clone()))
                    .collect::<Vec<_>>()
            };
            pick(&w[0].1) != pick(&w[1].1)
        })
    };
    let is_log = |k: &str| matches!(k, "stdout_logfile" | "stderr_logfile");
    let same_except_name = !differing(&|k| k != "process_name" && !is_log(k));
    let logs_differ = differing(&is_log);

    let mut drafts = Vec::new();
    if numprocs > 1 && same_except_name {
        let (_, values) = &per_process[0];
        let mut d = build(section, program, program, values, ctx, warnings)?;
        d.instances = numprocs as u32;
        d.header.push(format!(
            "numprocs = {numprocs}: one service with {numprocs} instances (ids 0..{}; ONEINIT_INSTANCE tells them apart)",
            numprocs - 1
        ));
        if logs_differ {
            d.header.push(
                "the log file names differ per process in supervisord; here all instances share the first one"
                    .into(),
            );
        }
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
