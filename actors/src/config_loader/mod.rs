//! ConfigLoader: reads the configuration sources (SPEC 2) into one typed,
//! validated `Config`, and reports every error at once, compiler style.
//!
//! Pipeline: `source` (where text comes from) → `formats` (YAML/TOML/JSON to
//! a position-aware `tree`) → `expand` (`${VAR}`) → `includes` (follow
//! `include`, repeated `--config`) with `merge` (duplicate services,
//! section merge) → `defaults` → `typing` (serde, unknown keys with hints)
//! → `validate` (semantic rules). The `ConfigLoader` actor (`actor.rs`)
//! owns the source list, `remote.watch` and reloads. Remote sources:
//! `remote.rs` (fetch) and `cache.rs` (last-good copies).

mod access;
pub mod actor;
pub mod budget;
mod cache;
mod expand;
mod formats;
pub mod glob_walk;
mod includes;
mod merge;
mod ranges;
mod read_toml;
mod read_yaml;
mod remote;
mod source;
mod tree;
mod typing;
mod validate;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_includes;
#[cfg(test)]
mod tests_limits;

/// Kept in `model::config` (facts.rs and the manager use it too); re-exported
/// here because the loader is what produces it.
pub use crate::model::config::LoadedConfig;
use std::fmt;

pub use access::{is_public_literal, metrics_path_problem};
pub use actor::{ConfigLoader, Load, LoaderSetup, Reload};
pub use source::Source;

/// One configuration error, printed compiler style.
#[derive(Clone, Debug, PartialEq)]
pub struct ConfigError {
    pub source: String,
    pub line: Option<usize>,
    pub col: Option<usize>,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match (self.line, self.col) {
            (Some(l), Some(c)) => write!(f, "{}:{}:{}: {}", self.source, l, c, self.message),
            (Some(l), None) => write!(f, "{}:{}: {}", self.source, l, self.message),
            _ => write!(f, "{}: {}", self.source, self.message),
        }
    }
}

/// Where the configuration is read from when no `--config` is given:
/// `$ONEINIT_CONFIG` if set (one path), else `/etc/oneinit/oneinit.yaml`.
pub fn default_sources() -> Vec<String> {
    match std::env::var("ONEINIT_CONFIG") {
        Ok(path) if !path.trim().is_empty() => vec![path],
        _ => vec!["/etc/oneinit/oneinit.yaml".to_string()],
    }
}

/// Reads `sources` (the later ones merged as if included by the first),
/// follows includes, applies `defaults`, types and validates the result.
/// Returns all errors found, not just the first. Needs a tokio runtime
/// with timers (`enable_time`): reads and fetches have timeouts.
pub async fn load(sources: &[String]) -> Result<LoadedConfig, Vec<ConfigError>> {
    let mut errors = Vec::new();
    let mut parsed = Vec::new();
    for spec in sources {
        match Source::parse(spec) {
            Ok(s) => parsed.push(s),
            Err(e) => errors.push(ConfigError {
                source: spec.clone(),
                line: None,
                col: None,
                message: e.to_string(),
            }),
        }
    }
    if sources.is_empty() {
        errors.push(ConfigError {
            source: "oneinit".into(),
            line: None,
            col: None,
            message: "no configuration source given; pass --config PATH".into(),
        });
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let mut parsed = parsed.into_iter().map(|source| includes::Pending {
        source,
        named_at: None,
    });
    let Some(first) = parsed.next() else {
        return Err(errors);
    };
    let mut reader = includes::Reader::default();
    let tree = reader.read_tree(first, 0, parsed.collect()).await;
    errors.append(&mut reader.errors);
    let Some(mut root) = tree else {
        return Err(errors);
    };
    // Cross-references (dependencies, notifiers) are only checked when every
    // file could be read: a missing file would make them all look unknown.
    let complete = errors.is_empty();
    merge::drop_nulls(&mut root);
    typing::check_defaults(&mut root, &mut errors);
    if let Err(e) = merge::charge_defaults(&root, &mut reader.budget) {
        errors.push(e);
        return Err(errors);
    }
    merge::apply_defaults(&mut root);
    let typed = typing::type_config(&mut root, &mut errors);
    let mut suppressed = 0;
    if let Some(config) = &typed.config {
        let skip = validate::Skip {
            services: &typed.broken_services,
            references: !complete,
        };
        suppressed = validate::validate(config, &root, &skip, &mut errors);
    }
    dedup(&mut errors);
    sort_by_place(&mut errors, &reader.read);
    if suppressed > 0 {
        errors.push(ConfigError {
            source: reader.read.first().cloned().unwrap_or_default(),
            line: None,
            col: None,
            message: format!(
                "{suppressed} more errors not listed; fix the ones above and run `oneinit check` again"
            ),
        });
    }
    match typed.config {
        Some(config) if errors.is_empty() => Ok(LoadedConfig {
            config,
            sources: reader.read,
            warnings: reader.warnings,
            remote_digests: reader.remote_digests,
        }),
        _ => Err(errors),
    }
}

/// Drops repeated errors (the same text at the same place), keeping order.
fn dedup(errors: &mut Vec<ConfigError>) {
    let mut seen = std::collections::HashSet::new();
    errors.retain(|e| seen.insert(e.to_string()));
}

/// Orders errors like a compiler: by file (in reading order), line, column.
fn sort_by_place(errors: &mut [ConfigError], read: &[String]) {
    errors.sort_by_key(|e| {
        let file = read
            .iter()
            .position(|s| *s == e.source)
            .unwrap_or(read.len());
        (file, e.line.unwrap_or(0), e.col.unwrap_or(0))
    });
}
