//! `oneinit import-supervisord FILE` (SPEC 8): reads a supervisord.conf and
//! its includes, converts it to oneinit YAML text plus warnings. Owns the
//! section-level mapping (`[supervisord]`, `[group:x]`, the HTTP servers,
//! `priority` ordering); `program` maps one program, `emit` writes the text,
//! `ini` and `expand` read supervisord's dialect. Called by `src/bin/oneinit.rs`.

mod emit;
mod expand;
mod ini;
mod keys;
mod program;
#[cfg(test)]
mod tests;

use emit::{Document, TopNote};
use expand::{expand, parse_environment, Expansions};
use ini::Section;
use keys::shown_value;
use oneinit_actors::model::config::Config;
use program::{convert_program, ProgramContext, ServiceDraft};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::Path;

/// The converted configuration.
#[derive(Clone, Debug, PartialEq)]
pub struct Conversion {
    /// oneinit YAML, valid against the config schema.
    pub yaml: String,
    /// One line each, already `FILE: warning: ...`, for stderr.
    pub warnings: Vec<String>,
}

/// Why a supervisord file could not be converted, with its position.
#[derive(Clone, Debug, PartialEq)]
pub struct ImportError {
    pub source: String,
    pub line: Option<usize>,
    pub message: String,
}

impl ImportError {
    /// `message`: a typed error of the reading or expanding step, or text.
    pub(crate) fn at(source: &str, line: Option<usize>, message: impl fmt::Display) -> Self {
        ImportError {
            source: source.to_string(),
            line,
            message: message.to_string(),
        }
    }
}

impl fmt::Display for ImportError {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self.line {
            Some(l) => write!(f, "{}:{}: {}", self.source, l, self.message),
            None => write!(f, "{}: {}", self.source, self.message),
        }
    }
}

impl std::error::Error for ImportError {}

/// Converts the supervisord configuration at `path` (and its includes).
pub fn convert_supervisord(path: &Path) -> Result<Conversion, ImportError> {
    let ini::Read {
        sections,
        unmatched,
    } = ini::read_with_includes(path)?;
    let mut warnings: Vec<String> = unmatched
        .iter()
        .map(|u| {
            format!(
                "{}: warning: [include] files pattern {:?} matches no file; nothing is included from it",
                u.at, u.pattern
            )
        })
        .collect();
    let mut doc = Document {
        source: path.display().to_string(),
        notes: Vec::new(),
        log_level: None,
        api_listen: Vec::new(),
        api_comments: Vec::new(),
        services: Vec::new(),
    };

    if !unmatched.is_empty() {
        doc.notes.push(TopNote {
            title: "[include]: patterns that matched no file, so nothing was included from them (check the paths)".into(),
            lines: unmatched
                .iter()
                .map(|u| format!("{}: {:?} matches no file", u.at, u.pattern))
                .collect(),
        });
    }

    let mut global_env = Vec::new();
    let mut global_umask = None;
    let mut groups: BTreeMap<String, String> = BTreeMap::new();
    for s in &sections {
        match s.name.as_str() {
            "supervisord" => {
                (global_env, global_umask) = supervisord_section(s, &mut doc, &mut warnings)?;
            }
            name if name.starts_with("group:") => group_section(
                s,
                &name["group:".len()..],
                &mut groups,
                &mut doc,
                &mut warnings,
            )?,
            "unix_http_server" | "inet_http_server" => http_section(s, &mut doc, &mut warnings)?,
            _ => {}
        }
    }

    for s in &sections {
        if let Some(prog) = s.name.strip_prefix("program:") {
            let ctx = ProgramContext {
                group: groups.get(prog).map(String::as_str),
                global_env: &global_env,
                global_umask: global_umask.as_deref(),
            };
            doc.services
                .extend(convert_program(s, prog, &ctx, &mut warnings)?);
        } else if !matches!(
            s.name.as_str(),
            "supervisord" | "unix_http_server" | "inet_http_server"
        ) && !s.name.starts_with("group:")
        {
            other_section(s, &mut doc, &mut warnings);
        }
    }

    check_names(&sections, &doc.services)?;
    order_by_priority(&mut doc.services);
    let yaml = emit::render(&doc);
    // The output must load; a failure here is an importer bug, said plainly.
    if let Err(e) = serde_yaml::from_str::<Config>(&yaml) {
        return Err(ImportError::at(
            &doc.source,
            None,
            format!("internal error: the converted YAML does not match the oneinit schema ({e}); please report this with the input file"),
        ));
    }
    Ok(Conversion { yaml, warnings })
}

fn warn_note(
    s: &Section,
    key: &str,
    raw: &str,
    why: &str,
    lines: &mut Vec<String>,
    warnings: &mut Vec<String>,
) {
    let shown = shown_value(key, raw);
    lines.push(format!("not converted: {key} = {shown} ({why})"));
    warnings.push(format!(
        "{}: warning: [{}] not converted: {key} = {shown} ({why})",
        s.source, s.name
    ));
}

type Globals = (Vec<(String, String)>, Option<String>);

/// `[supervisord]`: `environment` and `umask` apply to every program (as in
/// supervisord, whose children inherit both); `loglevel` maps to
/// `logging.level`; the rest is about the daemon itself.
fn supervisord_section(
    s: &Section,
    doc: &mut Document,
    warnings: &mut Vec<String>,
) -> Result<Globals, ImportError> {
    let exp = Expansions::for_file(&s.here);
    let mut env = Vec::new();
    let mut umask = None;
    let mut lines = Vec::new();
    for e in &s.entries {
        let value =
            expand(&e.value, &exp).map_err(|m| ImportError::at(&s.source, Some(e.line), m))?;
        match e.key.as_str() {
            "environment" => {
                env = parse_environment(&value.escaped).map_err(|m| {
                    ImportError::at(
                        &s.source,
                        Some(e.line),
                        format!("[supervisord] environment: {m}"),
                    )
                })?;
                lines.push("environment: copied into every service's environment".into());
            }
            "umask" => umask = Some(value.text_unescaped()),
            "loglevel" => match value.text_unescaped().trim().to_ascii_lowercase().as_str() {
                "critical" | "error" => doc.log_level = Some("error"),
                "warn" => doc.log_level = Some("warn"),
                "info" => doc.log_level = Some("info"),
                "debug" => doc.log_level = Some("debug"),
                "trace" | "blather" => doc.log_level = Some("trace"),
                _ => warn_note(s, &e.key, &e.value, "unknown level", &mut lines, warnings),
            },
            key => {
                let why = match key {
                    "nodaemon" => "oneinit always runs in the foreground",
                    "logfile" | "logfile_maxbytes" | "logfile_backups" => {
                        "oneinit logs to stdout; set logging.file for a file copy"
                    }
                    "pidfile" => "oneinit writes no pidfile",
                    "childlogdir" => "set logs.file per service",
                    "user" => "oneinit runs as the user that starts it; set user per service",
                    "minfds" | "minprocs" => "set limits.nofile / limits.pids per service",
                    _ => "no oneinit equivalent",
                };
                warn_note(s, key, &e.value, why, &mut lines, warnings);
            }
        }
    }
    if !lines.is_empty() {
        doc.notes.push(TopNote {
            title: format!("[supervisord] in {}:", s.source),
            lines,
        });
    }
    Ok((env, umask))
}

/// `[group:x]`: oneinit has no groups; members get a comment.
fn group_section(
    s: &Section,
    group: &str,
    groups: &mut BTreeMap<String, String>,
    doc: &mut Document,
    warnings: &mut Vec<String>,
) -> Result<(), ImportError> {
    let mut lines = Vec::new();
    for e in &s.entries {
        if e.key == "programs" {
            for p in e.value.split(',').map(str::trim).filter(|p| !p.is_empty()) {
                groups.insert(p.to_string(), group.to_string());
            }
            lines.push(format!(
                "programs = {}: no groups in oneinit; each program is a service of its own",
                shown_value("programs", &e.value)
            ));
        } else {
            warn_note(
                s,
                &e.key,
                &e.value,
                "oneinit has no groups; order services with after/requires",
                &mut lines,
                warnings,
            );
        }
    }
    doc.notes.push(TopNote {
        title: format!("[group:{group}] in {}:", s.source),
        lines,
    });
    Ok(())
}

/// `[unix_http_server]` / `[inet_http_server]` become `api.listen`;
/// credentials are never copied.
fn http_section(
    s: &Section,
    doc: &mut Document,
    warnings: &mut Vec<String>,
) -> Result<(), ImportError> {
    let exp = Expansions::for_file(&s.here);
    let mut lines = Vec::new();
    let mut has_credentials = false;
    for e in &s.entries {
        let value = expand(&e.value, &exp)
            .map_err(|m| ImportError::at(&s.source, Some(e.line), m))?
            .text_unescaped();
        match (s.name.as_str(), e.key.as_str()) {
            ("unix_http_server", "file") => doc.api_listen.push(format!("unix://{}", value.trim())),
            ("inet_http_server", "port") => listen_tcp(value.trim(), doc, warnings, s),
            (_, "username" | "password") => has_credentials = true,
            (_, "chmod") => warn_note(
                s,
                &e.key,
                &e.value,
                "oneinit creates its socket with mode 0600",
                &mut lines,
                warnings,
            ),
            (_, key) => warn_note(
                s,
                key,
                &e.value,
                "no oneinit equivalent",
                &mut lines,
                warnings,
            ),
        }
    }
    if has_credentials {
        warnings.push(format!(
            "{}: warning: [{}] username/password are not copied; create an API token instead (see the comment under api:)",
            s.source, s.name
        ));
        doc.api_comments.extend([
            format!(
                "[{}] had a username and password: they are not copied.",
                s.name
            ),
            "Create a token instead and keep only its hash here:".into(),
            "  TOKEN=$(head -c 32 /dev/urandom | base64); echo -n \"$TOKEN\" | sha256sum".into(),
            "  auth: {tokens: [{name: admin, sha256: <the hash>, role: admin}]}".into(),
            "then call the API with `onecli --token \"$TOKEN\"` (or ONECLI_TOKEN).".into(),
        ]);
    }
    doc.api_comments
        .extend(lines.into_iter().map(|l| format!("[{}] {l}", s.name)));
    Ok(())
}

/// supervisord's `port = [host]:port`. A non-loopback address needs auth or
/// TLS in oneinit, so it is narrowed to loopback with an explanation.
fn listen_tcp(port: &str, doc: &mut Document, warnings: &mut Vec<String>, s: &Section) {
    let (host, num) = port.rsplit_once(':').unwrap_or(("", port));
    let loopback = matches!(host, "127.0.0.1" | "localhost" | "[::1]" | "::1");
    if loopback {
        doc.api_listen.push(format!(
            "{}:{num}",
            if host == "localhost" {
                "127.0.0.1"
            } else {
                host
            }
        ));
        return;
    }
    doc.api_listen.push(format!("127.0.0.1:{num}"));
    let why = format!(
        "supervisord listened on {port}; oneinit refuses a non-loopback listener without TLS and auth, so this listens on 127.0.0.1:{num}. Add api.auth tokens (and api.tls) before widening it"
    );
    doc.api_comments.push(why.clone());
    warnings.push(format!(
        "{}: warning: [inet_http_server] port = {port}: {why}",
        s.source
    ));
}

/// Sections oneinit has nothing for: one comment per key.
fn other_section(s: &Section, doc: &mut Document, warnings: &mut Vec<String>) {
    let why = if s.name == "supervisorctl" {
        "use onecli instead of supervisorctl"
    } else if s.name.starts_with("rpcinterface:") {
        "oneinit's REST API replaces XML-RPC"
    } else if s.name.starts_with("eventlistener:") {
        "no event listeners; use notifiers (webhook, slack, command)"
    } else if s.name.starts_with("fcgi-program:") {
        "convert by hand: an on-demand service with socket.listen"
    } else {
        "unknown section"
    };
    let mut lines = Vec::new();
    for e in &s.entries {
        warn_note(s, &e.key, &e.value, why, &mut lines, warnings);
    }
    if s.entries.is_empty() {
        warnings.push(format!(
            "{}: warning: [{}] not converted ({why})",
            s.source, s.name
        ));
    }
    doc.notes.push(TopNote {
        title: format!("[{}] in {}: not converted ({why})", s.name, s.source),
        lines,
    });
}

fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

/// Service names must fit SPEC 2.1 and be unique.
fn check_names(sections: &[Section], services: &[ServiceDraft]) -> Result<(), ImportError> {
    let mut seen = BTreeSet::new();
    for d in services {
        let section = sections
            .iter()
            .find(|s| s.name == format!("program:{}", d.program));
        let (source, line) = section.map_or(("?".to_string(), None), |s| {
            (s.source.clone(), Some(s.line))
        });
        if !valid_name(&d.name) {
            return Err(ImportError::at(&source, line, format!(
                "[program:{}] becomes service {:?}, but oneinit names use only A-Z a-z 0-9 _ . - (1 to 64 characters); rename the program or its process_name",
                d.program, d.name
            )));
        }
        if !seen.insert(d.name.clone()) {
            return Err(ImportError::at(&source, line, format!(
                "two processes would both become service {:?}; give them distinct process_name values",
                d.name
            )));
        }
    }
    Ok(())
}

/// `priority`: each program starts after every program with a lower number.
fn order_by_priority(services: &mut [ServiceDraft]) {
    let all: Vec<(String, i64)> = services
        .iter()
        .map(|s| (s.name.clone(), s.priority))
        .collect();
    for s in services.iter_mut() {
        s.after = all
            .iter()
            .filter(|(_, p)| *p < s.priority)
            .map(|(n, _)| n.clone())
            .collect();
    }
}
