//! The sections of a supervisord.conf that are not programs:
//! `[supervisord]` (global environment, umask, log level), `[group:x]`,
//! the HTTP servers (`api.listen`, never their credentials), and every
//! other section, kept as a comment. Called by `convert_supervisord`.

use super::emit::{Document, TopNote};
use super::expand::{expand, parse_environment, Expansions};
use super::ini::Section;
use super::keys::shown_value;
use super::ImportError;
use std::collections::BTreeMap;

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

pub(super) type Globals = (Vec<(String, String)>, Option<String>);

/// `[supervisord]`: `environment` and `umask` apply to every program (as in
/// supervisord, whose children inherit both); `loglevel` maps to
/// `logging.level`; the rest is about the daemon itself.
pub(super) fn supervisord_section(
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
pub(super) fn group_section(
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
pub(super) fn http_section(
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
pub(super) fn other_section(s: &Section, doc: &mut Document, warnings: &mut Vec<String>) {
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
