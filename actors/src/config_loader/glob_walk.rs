//! Include globs (`include:` entries, `oneinit import-supervisord`'s
//! `[include] files =`), expanded with a bound on the work: the `glob`
//! crate walks every directory its pattern can reach, and a pattern such
//! as `/????/????/…` (20 levels) reaches through `/proc/<pid>/root` back to
//! `/` again and again — minutes of directory reads before loading fails or
//! goes on. Here each component is matched with `glob::Pattern` (the same
//! syntax and options as `glob::glob`: `*`, `?`, `[…]`, `**`, dot files
//! matched), and the walk stops with `TooBroad` after `MAX_ENTRIES`
//! directory entries.

use glob::{MatchOptions, Pattern, PatternError};
use std::path::{Component, Path, PathBuf};

/// How many directory entries one pattern may look at: far more than a
/// `conf.d` holds, far less than a walk of `/proc`.
pub const MAX_ENTRIES: usize = 100_000;

/// Why a pattern was not expanded.
#[derive(Debug, thiserror::Error)]
pub enum GlobError {
    #[error(transparent)]
    Pattern(#[from] PatternError),
    #[error(
        "it looks at more than {limit} directory entries; name the folder to search \
         (e.g. conf.d/*.yaml) instead of wildcards in its path"
    )]
    TooBroad { limit: usize },
}

/// The paths `pattern` matches (files and directories; unreadable
/// directories are skipped, as `glob::glob` skips them), sorted. A relative
/// pattern gives relative paths.
pub fn expand(pattern: &str) -> Result<Vec<PathBuf>, GlobError> {
    // `start` stays empty for a relative pattern: joined, it adds nothing.
    let mut start = PathBuf::new();
    let mut parts = Vec::new();
    for c in Path::new(pattern).components() {
        match c {
            Component::RootDir | Component::Prefix(_) => start.push(c.as_os_str()),
            Component::CurDir => {}
            Component::ParentDir => parts.push(Part::Literal("..".into())),
            Component::Normal(s) => {
                let s = s.to_string_lossy();
                if s == "**" {
                    parts.push(Part::Recursive);
                } else if s.contains(['*', '?', '[']) {
                    parts.push(Part::Any(Pattern::new(&s)?));
                } else {
                    parts.push(Part::Literal(s.into_owned()));
                }
            }
        }
    }
    let mut walk = Walk {
        seen: 0,
        found: Vec::new(),
    };
    walk.step(&start, &parts)?;
    walk.found.sort();
    walk.found.dedup();
    Ok(walk.found)
}

enum Part {
    Literal(String),
    Any(Pattern),
    Recursive,
}

struct Walk {
    seen: usize,
    found: Vec<PathBuf>,
}

impl Walk {
    fn count(&mut self) -> Result<(), GlobError> {
        self.seen += 1;
        if self.seen > MAX_ENTRIES {
            return Err(GlobError::TooBroad { limit: MAX_ENTRIES });
        }
        Ok(())
    }

    /// The names in `dir` (`.` for the empty start of a relative pattern;
    /// none when it cannot be read), each counted.
    fn entries(&mut self, dir: &Path) -> Result<Vec<String>, GlobError> {
        let dir = if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        };
        let mut out = Vec::new();
        let Ok(rd) = std::fs::read_dir(dir) else {
            return Ok(out);
        };
        for entry in rd.flatten() {
            self.count()?;
            out.push(entry.file_name().to_string_lossy().into_owned());
        }
        Ok(out)
    }

    /// Matches `parts` below `at`.
    fn step(&mut self, at: &Path, parts: &[Part]) -> Result<(), GlobError> {
        let Some((first, rest)) = parts.split_first() else {
            self.count()?;
            // `exists` is false for the empty start: a pattern of no parts.
            if at.exists() {
                self.found.push(at.to_path_buf());
            }
            return Ok(());
        };
        match first {
            Part::Literal(name) => self.step(&at.join(name), rest),
            Part::Any(p) => {
                for name in self.entries(at)? {
                    let path = at.join(&name);
                    if p.matches_with(&name, MatchOptions::new())
                        && (rest.is_empty() || path.is_dir())
                    {
                        self.step(&path, rest)?;
                    }
                }
                Ok(())
            }
            Part::Recursive => {
                // Zero directories (a trailing `**` matches only the
                // directories below), then each subdirectory and below it.
                if !rest.is_empty() {
                    self.step(at, rest)?;
                }
                for name in self.entries(at)? {
                    let sub = at.join(&name);
                    if sub.is_dir() {
                        if rest.is_empty() {
                            self.found.push(sub.clone());
                        }
                        self.step(&sub, parts)?;
                    }
                }
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(dir: &Path, pattern: &str) -> Vec<String> {
        let full = format!("{}/{pattern}", dir.display());
        expand(&full)
            .unwrap()
            .iter()
            .map(|p| p.strip_prefix(dir).unwrap().display().to_string())
            .collect()
    }

    #[test]
    fn matches_what_the_glob_crate_matches() {
        let d = tempfile::tempdir().unwrap();
        for f in [
            "a.yaml",
            "b.yaml",
            ".hidden.yaml",
            "c.toml",
            "sub/d.yaml",
            "sub/deep/e.yaml",
        ] {
            let p = d.path().join(f);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, "x").unwrap();
        }
        for pattern in [
            "*.yaml",
            "?.yaml",
            "[ab].yaml",
            "*",
            "*/*.yaml",
            "**/*.yaml",
            "sub/**",
            "none/*",
            "a.yaml",
            "sub/../a.yaml",
        ] {
            let full = format!("{}/{pattern}", d.path().display());
            let mut want: Vec<PathBuf> =
                glob::glob(&full).unwrap().filter_map(Result::ok).collect();
            want.sort();
            want.dedup();
            assert_eq!(expand(&full).unwrap(), want, "{pattern}");
        }
        assert_eq!(
            names(d.path(), "*.yaml"),
            [".hidden.yaml", "a.yaml", "b.yaml"]
        );
    }

    /// Two links back to their own folder and 30 levels of `*`: 2^30 paths
    /// for `glob::glob` to walk (it did not finish in minutes); refused
    /// after the budget here.
    #[test]
    fn a_pattern_that_explodes_is_refused_after_the_budget() {
        let d = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(".", d.path().join("a")).unwrap();
        std::os::unix::fs::symlink(".", d.path().join("b")).unwrap();
        let pattern = format!("{}/{}x.yaml", d.path().display(), "*/".repeat(30));
        let started = std::time::Instant::now();
        let e = expand(&pattern).unwrap_err();
        assert!(
            matches!(e, GlobError::TooBroad { limit: MAX_ENTRIES }),
            "{e}"
        );
        assert!(
            e.to_string().contains("more than 100000 directory entries"),
            "{e}"
        );
        assert!(started.elapsed() < std::time::Duration::from_secs(30));
        // The same folder with a pattern of a few levels is fine.
        let few = format!("{}/*/*/x.yaml", d.path().display());
        assert_eq!(expand(&few).unwrap(), Vec::<PathBuf>::new());
    }

    #[test]
    fn an_invalid_pattern_is_the_glob_crates_error() {
        assert!(matches!(
            expand("conf.d/[a.yaml"),
            Err(GlobError::Pattern(_))
        ));
    }
}
