//! Writes the converted configuration as readable YAML text: keys in the
//! order SPEC 2.3 shows them, comments next to the service they are about.
//! Built by hand (serde_yaml cannot place comments); `mod.rs` parses the
//! result back into the config schema to prove it is valid.

use super::program::ServiceDraft;
use std::fmt::Write;

/// Comment lines about one non-program section, shown at the top.
pub struct TopNote {
    pub title: String,
    pub lines: Vec<String>,
}

/// Everything that goes into the output file.
pub struct Document {
    pub source: String,
    pub notes: Vec<TopNote>,
    pub log_level: Option<&'static str>,
    pub api_listen: Vec<String>,
    pub api_comments: Vec<String>,
    pub services: Vec<ServiceDraft>,
}

/// A YAML scalar: plain when that cannot be misread, else double-quoted
/// (JSON string syntax is valid YAML).
pub fn scalar(s: &str) -> String {
    const RESERVED: &[&str] = &["true", "false", "yes", "no", "on", "off", "null", "y", "n"];
    let first_ok = s
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '/' || c == '_');
    let rest_ok = s
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '/' | '-' | '+' | '@'));
    if first_ok && rest_ok && !RESERVED.contains(&s.to_ascii_lowercase().as_str()) {
        s.to_string()
    } else {
        quoted(s)
    }
}

/// A double-quoted YAML scalar (JSON string syntax, which YAML reads as is;
/// serialising a `str` to JSON cannot fail, the fallback is for form's sake).
fn quoted(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| format!("{s:?}"))
}

fn flow_list<T: AsRef<str>>(items: &[T]) -> String {
    let parts: Vec<String> = items.iter().map(|i| scalar(i.as_ref())).collect();
    format!("[{}]", parts.join(", "))
}

fn comment(out: &mut String, indent: usize, text: &str) {
    for line in text.lines() {
        let _ = writeln!(out, "{}# {}", " ".repeat(indent), line);
    }
}

pub fn render(doc: &Document) -> String {
    let mut out = String::new();
    comment(
        &mut out,
        0,
        "oneinit configuration converted by `oneinit import-supervisord`",
    );
    comment(&mut out, 0, &format!("from {}", doc.source));
    comment(
        &mut out,
        0,
        "Review every \"not converted\" comment, then run: oneinit check --config THIS_FILE",
    );
    for note in &doc.notes {
        out.push('\n');
        comment(&mut out, 0, &note.title);
        for line in &note.lines {
            comment(&mut out, 0, line);
        }
    }
    if let Some(level) = doc.log_level {
        let _ = write!(out, "\nlogging:\n  level: {level}\n");
    }
    if !doc.api_listen.is_empty() || !doc.api_comments.is_empty() {
        out.push_str("\napi:\n");
        for line in &doc.api_comments {
            comment(&mut out, 2, line);
        }
        if !doc.api_listen.is_empty() {
            out.push_str("  listen:\n");
            for l in &doc.api_listen {
                let _ = writeln!(out, "    - {}", scalar(l));
            }
        }
    }
    if doc.services.is_empty() {
        out.push_str("\nservices: {}\n");
        return out;
    }
    out.push_str("\nservices:\n");
    for (i, s) in doc.services.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        service(&mut out, s);
    }
    out
}

fn service(out: &mut String, s: &ServiceDraft) {
    let _ = writeln!(out, "  {}:", scalar(&s.name));
    for h in &s.header {
        comment(out, 4, h);
    }
    let kv = |out: &mut String, indent: usize, key: &str, value: String| {
        let _ = writeln!(out, "{}{key}: {value}", " ".repeat(indent));
    };
    let argv: Vec<String> = s.command.iter().map(|a| quoted(a)).collect();
    kv(out, 4, "command", format!("[{}]", argv.join(", ")));
    if s.instances > 1 {
        kv(out, 4, "instances", s.instances.to_string());
    }
    for (key, value) in [
        ("workdir", &s.workdir),
        ("user", &s.user),
        ("umask", &s.umask),
    ] {
        if let Some(v) = value {
            kv(out, 4, key, quoted(v));
        }
    }
    if !s.environment.is_empty() {
        out.push_str("    environment:\n");
        for (k, v) in &s.environment {
            kv(out, 6, &scalar(k), quoted(v));
        }
    }
    if let Some(a) = s.autostart {
        kv(out, 4, "autostart", a.to_string());
    }
    if !s.after.is_empty() {
        comment(
            out,
            4,
            &format!(
                "priority = {}: starts after every program with a lower priority",
                s.priority
            ),
        );
        kv(out, 4, "after", flow_list(&s.after));
    }
    if s.restart_policy.is_some() || s.max_retries.is_some() || s.success_codes.is_some() {
        out.push_str("    restart:\n");
        if let Some(p) = s.restart_policy {
            kv(out, 6, "policy", p.to_string());
        }
        if let Some(n) = s.max_retries {
            kv(out, 6, "max_retries", n.to_string());
        }
        if let Some(codes) = &s.success_codes {
            let parts: Vec<String> = codes.iter().map(i32::to_string).collect();
            kv(out, 6, "success_codes", format!("[{}]", parts.join(", ")));
        }
    }
    if s.stop_signal.is_some() || s.stop_timeout.is_some() || s.stop_group.is_some() {
        out.push_str("    stop:\n");
        if let Some(v) = &s.stop_signal {
            kv(out, 6, "signal", v.clone());
        }
        if let Some(v) = &s.stop_timeout {
            kv(out, 6, "timeout", v.clone());
        }
        if let Some(v) = s.stop_group {
            kv(out, 6, "group", v.to_string());
        }
    }
    if let Some(v) = &s.min_uptime {
        out.push_str("    readiness:\n");
        kv(out, 6, "min_uptime", v.clone());
    }
    if s.log_file.is_some() || s.log_capture {
        out.push_str("    logs:\n");
        if s.log_capture {
            kv(out, 6, "capture", "true".into());
        }
        if let Some(v) = &s.log_file {
            kv(out, 6, "file", quoted(v));
        }
        if let Some(v) = &s.log_max_size {
            kv(out, 6, "max_size", v.clone());
        }
        if let Some(v) = s.log_max_files {
            kv(out, 6, "max_files", v.to_string());
        }
    }
    for n in &s.notes {
        comment(out, 4, n);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scalars_quote_what_yaml_would_misread() {
        assert_eq!(scalar("web"), "web");
        assert_eq!(scalar("/usr/bin/python3"), "/usr/bin/python3");
        for tricky in [
            "yes", "0022", "1e3", "0x1F", "a: b", "", "-x", ".inf", "$$HOME", "#x",
        ] {
            let q = scalar(tricky);
            let back: String = serde_yaml::from_str(&q).expect("valid yaml");
            assert_eq!(back, tricky, "{q}");
        }
    }
}
