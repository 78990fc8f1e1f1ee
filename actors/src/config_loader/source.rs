//! Where configuration text comes from. Today only local files; a remote
//! (http/https) source becomes another variant of `Source` with its own
//! `read` (fetch + cache) and `resolve_include` (relative URLs), and the rest
//! of the loader stays as it is.

use super::formats::Format;
use std::path::{Path, PathBuf};

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    File(PathBuf),
}

impl Source {
    /// A source named on the command line or in `ONEINIT_CONFIG`.
    pub fn parse(spec: &str) -> Result<Source, String> {
        if is_url(spec) {
            return Err(format!(
                "remote configuration sources are not supported yet; download \"{spec}\" \
                 and pass the local file"
            ));
        }
        Ok(Source::File(PathBuf::from(spec)))
    }

    /// The name errors and `LoadedConfig::sources` use.
    pub fn name(&self) -> String {
        match self {
            Source::File(p) => p.display().to_string(),
        }
    }

    /// A stable identity for cycle detection (the canonical path).
    pub fn identity(&self) -> String {
        match self {
            Source::File(p) => std::fs::canonicalize(p)
                .unwrap_or_else(|_| p.clone())
                .display()
                .to_string(),
        }
    }

    pub fn format(&self) -> Format {
        Format::from_name(&self.name())
    }

    /// The whole text of the source.
    pub async fn read(&self) -> Result<String, String> {
        match self {
            Source::File(p) => tokio::fs::read_to_string(p).await.map_err(|e| {
                format!(
                    "cannot read the configuration file: {e}; check the path and its permissions"
                )
            }),
        }
    }

    /// The sources an `include` entry of this source names: a path relative
    /// to this file's folder, or a glob (matches in lexical order, none is
    /// fine).
    pub fn resolve_include(&self, entry: &str) -> Result<Vec<Source>, String> {
        if is_url(entry) {
            return Err(format!(
                "remote include \"{entry}\" is not supported yet; use a local path"
            ));
        }
        let Source::File(me) = self;
        let base = me.parent().unwrap_or(Path::new(""));
        let joined = normalize(&base.join(entry));
        if !entry.contains(['*', '?', '[']) {
            return Ok(vec![Source::File(joined)]);
        }
        // The folder part is literal even when it holds `[` or `*`.
        let base_text = base.display().to_string();
        let pattern = if base_text.is_empty() || Path::new(entry).is_absolute() {
            joined.display().to_string()
        } else {
            format!("{}/{entry}", glob::Pattern::escape(&base_text))
        };
        let paths = glob::glob(&pattern)
            .map_err(|e| format!("invalid include pattern \"{entry}\": {e}"))?;
        let mut files: Vec<PathBuf> = paths
            .filter_map(Result::ok)
            .filter(|p| p.is_file())
            .collect();
        files.sort();
        Ok(files.into_iter().map(Source::File).collect())
    }
}

fn is_url(s: &str) -> bool {
    let lower = s.to_ascii_lowercase();
    lower.starts_with("http://") || lower.starts_with("https://")
}

/// `a/b/../c` -> `a/c`, `./x` -> `x`, lexically (what the user wrote, not
/// where symlinks lead), so names in messages stay short.
fn normalize(path: &Path) -> PathBuf {
    use std::path::Component;
    let mut out: Vec<Component> = Vec::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir if matches!(out.last(), Some(Component::Normal(_))) => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out.iter().collect()
}

/// The names of `paths` without the folder they all share, for short
/// messages such as an include cycle (`a.yaml -> b.yaml -> a.yaml`).
pub fn short_names(paths: &[String]) -> Vec<String> {
    let dirs: Vec<Vec<_>> = paths
        .iter()
        .map(|p| {
            let parent = Path::new(p).parent().unwrap_or(Path::new(""));
            parent.components().collect()
        })
        .collect();
    let common = match dirs.split_first() {
        Some((first, rest)) => (0..first.len())
            .take_while(|&i| rest.iter().all(|d| d.get(i) == first.get(i)))
            .count(),
        None => 0,
    };
    paths
        .iter()
        .map(|p| {
            let comps: Vec<_> = Path::new(p).components().collect();
            comps[common.min(comps.len().saturating_sub(1))..]
                .iter()
                .collect::<PathBuf>()
                .display()
                .to_string()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_normalized_and_shortened() {
        assert_eq!(
            normalize(Path::new("etc/x/../y/./a.yaml")),
            PathBuf::from("etc/y/a.yaml")
        );
        assert_eq!(
            normalize(Path::new("../a.yaml")),
            PathBuf::from("../a.yaml")
        );
        let names = short_names(&[
            "/t/a.yaml".into(),
            "/t/sub/b.yaml".into(),
            "/t/a.yaml".into(),
        ]);
        assert_eq!(names, ["a.yaml", "sub/b.yaml", "a.yaml"]);
        assert_eq!(
            short_names(&["a.yaml".into(), "a.yaml".into()]),
            ["a.yaml", "a.yaml"]
        );
    }
}
