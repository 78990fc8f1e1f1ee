//! `oneinit import-supervisord FILE` (SPEC 8): reads a supervisord.conf and
//! its includes, converts it to oneinit YAML text plus warnings. Owns the
//! section-level mapping (`[supervisord]`, `[group:x]`, the HTTP servers,
//! `priority` ordering); `program` maps one program, `emit` writes the text,
//! `ini` and `expand` read supervisord's dialect. Called by `src/bin/oneinit/commands.rs`.

mod emit;
mod expand;
mod ini;
mod keys;
mod program;
mod sections;
#[cfg(test)]
mod tests;

use emit::{Document, TopNote};
use ini::Section;
use oneinit_actors::model::config::Config;
use program::{convert_program, ProgramContext, ServiceDraft};
use sections::{group_section, http_section, other_section, supervisord_section};
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
