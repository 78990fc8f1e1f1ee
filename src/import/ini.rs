//! The INI dialect supervisord reads (Python's `RawConfigParser` as supervisord
//! configures it): `[section]` headers, `key = value` or `key: value`, `;` and
//! `#` whole-line comments, inline comments that start with whitespace then
//! `;` or `#`, continuation lines that start with whitespace, lower-cased
//! keys. Also follows `[include] files =` globs, relative to the including
//! file. Pure text handling plus file reads; no knowledge of what keys mean.

use super::expand::{expand, Expansions};
use super::ImportError;
use oneinit_actors::config_loader::budget::{Budget, BudgetExceeded, MAX_DOCUMENT_BYTES};
use oneinit_actors::config_loader::glob_walk::{self, GlobError};
use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// One `key = value` with where it was written.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    pub key: String,
    /// The raw value, continuation lines joined with `\n`, not expanded.
    pub value: String,
    pub line: usize,
}

/// One `[section]` and its entries, in file order.
#[derive(Clone, Debug, PartialEq)]
pub struct Section {
    pub name: String,
    /// The file the section was read from (as opened), for messages.
    pub source: String,
    /// The absolute folder of that file: `%(here)s`.
    pub here: PathBuf,
    pub line: usize,
    pub entries: Vec<Entry>,
}

impl Section {
    pub fn get(&self, key: &str) -> Option<&Entry> {
        self.entries.iter().find(|e| e.key == key)
    }
}

/// Include depth limit, so a self-including file cannot recurse forever.
const MAX_DEPTH: usize = 16;

/// The sections of a file and its includes, and what the includes did not
/// find (each an `[include]` pattern that matched no file).
pub struct Read {
    pub sections: Vec<Section>,
    pub unmatched: Vec<Unmatched>,
}

/// An `[include] files` pattern that matched no file.
pub struct Unmatched {
    /// `FILE:LINE` of the `files =` entry.
    pub at: String,
    pub pattern: String,
}

/// Reads `path` and every file its `[include]` sections name, in order
/// (included files' sections follow the including file's).
pub fn read_with_includes(path: &Path) -> Result<Read, ImportError> {
    let mut read = Read {
        sections: Vec::new(),
        unmatched: Vec::new(),
    };
    let mut seen = HashSet::new();
    let mut budget = Budget::default();
    read_file(path, 0, &mut seen, &mut budget, &mut read)?;
    check_duplicates(&read.sections)?;
    Ok(read)
}

/// Why a supervisord file cannot be read; the caller adds the file name.
#[derive(Debug, thiserror::Error)]
enum ReadError {
    #[error("cannot read the file: {0} (check the path and its permissions)")]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Budget(#[from] BudgetExceeded),
    #[error("cannot read the file: it is not UTF-8 text (invalid byte at offset {offset})")]
    NotUtf8 { offset: usize },
}

/// A file's text, within the same budgets as a oneinit config
/// (`config_loader::budget`): its size, all files together, their number.
/// A larger (or endless) file is refused without reading it all.
fn read_bounded(path: &Path, budget: &mut Budget) -> Result<String, ReadError> {
    use std::io::Read as _;
    let file = std::fs::File::open(path)?;
    let mut bytes = Vec::new();
    file.take(MAX_DOCUMENT_BYTES as u64 + 1)
        .read_to_end(&mut bytes)?;
    budget.take_document(bytes.len())?;
    String::from_utf8(bytes).map_err(|e| ReadError::NotUtf8 {
        offset: e.utf8_error().valid_up_to(),
    })
}

fn read_file(
    path: &Path,
    depth: usize,
    seen: &mut HashSet<PathBuf>,
    budget: &mut Budget,
    out: &mut Read,
) -> Result<(), ImportError> {
    let source = path.display().to_string();
    if depth > MAX_DEPTH {
        return Err(ImportError::at(
            &source,
            None,
            format!("includes nested deeper than {MAX_DEPTH} levels; look for an include loop"),
        ));
    }
    let text = read_bounded(path, budget).map_err(|m| ImportError::at(&source, None, m))?;
    let canonical = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    if !seen.insert(canonical.clone()) {
        // supervisord reads each file once; a second include of it adds nothing.
        return Ok(());
    }
    let here = canonical
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("/"));
    let sections = parse(&text, &source, &here)?;
    let includes: Vec<Section> = sections
        .iter()
        .filter(|s| s.name == "include")
        .cloned()
        .collect();
    out.sections
        .extend(sections.into_iter().filter(|s| s.name != "include"));
    for inc in includes {
        for file in include_files(&inc, &mut out.unmatched)? {
            read_file(&file, depth + 1, seen, budget, out)?;
        }
    }
    Ok(())
}

/// The files an `[include]` section names: whitespace-separated globs,
/// relative to the including file's folder, each glob's matches sorted.
/// A pattern that matches nothing is not an error (supervisord skips it);
/// it is reported in `unmatched`.
fn include_files(
    inc: &Section,
    unmatched: &mut Vec<Unmatched>,
) -> Result<Vec<PathBuf>, ImportError> {
    let Some(entry) = inc.get("files") else {
        return Err(ImportError::at(
            &inc.source,
            Some(inc.line),
            "[include] has no `files =` key; list the files to include, e.g. `files = conf.d/*.conf`"
                .to_string(),
        ));
    };
    let exp = Expansions::for_file(&inc.here);
    let expanded = expand(&entry.value, &exp)
        .map_err(|m| ImportError::at(&inc.source, Some(entry.line), m))?;
    if let Some(var) = expanded.unset_env.first() {
        return Err(ImportError::at(
            &inc.source,
            Some(entry.line),
            format!(
                "[include] files uses %(ENV_{var})s, but {var} is not set; set it for the import"
            ),
        ));
    }
    let value = expanded.text_unescaped();
    let mut files = Vec::new();
    for pattern in value.split_whitespace() {
        let full = if Path::new(pattern).is_absolute() {
            PathBuf::from(pattern)
        } else {
            inc.here.join(pattern)
        };
        let full_text = full.display().to_string();
        let matched = glob_walk::expand(&full_text).map_err(|e| {
            let what = match e {
                GlobError::Pattern(_) => "invalid include pattern",
                GlobError::TooBroad { .. } => "include pattern too broad",
            };
            ImportError::at(
                &inc.source,
                Some(entry.line),
                format!("{what} {pattern:?}: {e}"),
            )
        })?;
        if matched.is_empty() {
            unmatched.push(Unmatched {
                at: format!("{}:{}", inc.source, entry.line),
                pattern: pattern.to_string(),
            });
        }
        files.extend(matched);
    }
    Ok(files)
}

/// Two sections with the same name are an error, as in supervisord.
fn check_duplicates(sections: &[Section]) -> Result<(), ImportError> {
    for (i, s) in sections.iter().enumerate() {
        if let Some(first) = sections[..i].iter().find(|f| f.name == s.name) {
            return Err(ImportError::at(
                &s.source,
                Some(s.line),
                format!(
                    "section [{}] is already defined at {}:{}; rename or remove one of them",
                    s.name, first.source, first.line
                ),
            ));
        }
    }
    Ok(())
}

/// Cuts an inline comment: `;` or `#` preceded by whitespace.
fn strip_inline_comment(value: &str) -> &str {
    let bytes = value.as_bytes();
    for i in 1..bytes.len() {
        if (bytes[i] == b';' || bytes[i] == b'#') && bytes[i - 1].is_ascii_whitespace() {
            return value[..i].trim_end();
        }
    }
    value
}

/// Parses one file's text into sections.
pub fn parse(text: &str, source: &str, here: &Path) -> Result<Vec<Section>, ImportError> {
    let mut sections: Vec<Section> = Vec::new();
    for (idx, raw) in text.lines().enumerate() {
        let line_no = idx + 1;
        let trimmed = raw.trim();
        if trimmed.is_empty() || trimmed.starts_with(';') || trimmed.starts_with('#') {
            continue;
        }
        let indented = raw.starts_with(' ') || raw.starts_with('\t');
        if indented {
            if let Some(entry) = sections.last_mut().and_then(|s| s.entries.last_mut()) {
                let more = strip_inline_comment(trimmed);
                if entry.value.is_empty() {
                    entry.value = more.to_string();
                } else {
                    entry.value.push('\n');
                    entry.value.push_str(more);
                }
                continue;
            }
        }
        if trimmed.starts_with('[') {
            let header = strip_inline_comment(trimmed);
            let Some(name) = header.strip_prefix('[').and_then(|h| h.strip_suffix(']')) else {
                return Err(ImportError::at(
                    source,
                    Some(line_no),
                    format!("malformed section header {trimmed:?}: expected `[name]`"),
                ));
            };
            sections.push(Section {
                name: name.trim().to_string(),
                source: source.to_string(),
                here: here.to_path_buf(),
                line: line_no,
                entries: Vec::new(),
            });
            continue;
        }
        let Some(section) = sections.last_mut() else {
            return Err(ImportError::at(
                source,
                Some(line_no),
                "a key outside any section; start the file with a `[section]` header",
            ));
        };
        let Some(pos) = trimmed.find(['=', ':']) else {
            return Err(ImportError::at(
                source,
                Some(line_no),
                format!("expected `key = value`, found {trimmed:?}"),
            ));
        };
        let key = trimmed[..pos].trim().to_ascii_lowercase();
        let value = strip_inline_comment(trimmed[pos + 1..].trim()).to_string();
        if key.is_empty() {
            return Err(ImportError::at(
                source,
                Some(line_no),
                format!("a value without a key: {trimmed:?}"),
            ));
        }
        if let Some(prev) = section.get(&key) {
            return Err(ImportError::at(
                source,
                Some(line_no),
                format!(
                    "key `{key}` is set twice in [{}] (first on line {}); keep one",
                    section.name, prev.line
                ),
            ));
        }
        section.entries.push(Entry {
            key,
            value,
            line: line_no,
        });
    }
    Ok(sections)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(text: &str) -> Vec<Section> {
        parse(text, "t.conf", Path::new("/etc")).expect("parses")
    }

    #[test]
    fn comments_continuations_and_keys() {
        let s = p(
            "; top\n# also\n[program:a]\nCommand = /bin/a --x=1 ; inline\n\
                   environment = A=1,\n  B=2\nurl: http://x#frag\n  ; indented comment\n",
        );
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].name, "program:a");
        assert_eq!(
            s[0].get("command").map(|e| e.value.as_str()),
            Some("/bin/a --x=1")
        );
        assert_eq!(
            s[0].get("environment").map(|e| e.value.as_str()),
            Some("A=1,\nB=2")
        );
        assert_eq!(
            s[0].get("url").map(|e| e.value.as_str()),
            Some("http://x#frag")
        );
        assert_eq!(s[0].get("environment").map(|e| e.line), Some(5));
    }

    #[test]
    fn oversize_and_endless_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let big = dir.path().join("big.conf");
        let line = format!("; {}\n", "x".repeat(1022));
        std::fs::write(&big, format!("[a]\n{}", line.repeat(10 * 1024 + 1))).unwrap();
        let e = read_with_includes(&big).err().expect("refused").to_string();
        assert!(e.contains("the document is too large"), "{e}");
        let e = read_with_includes(Path::new("/dev/zero"))
            .err()
            .expect("refused")
            .to_string();
        assert!(e.starts_with("/dev/zero: the document is too large"), "{e}");
    }

    #[test]
    fn errors_have_positions() {
        let e = parse("key = 1\n", "f.conf", Path::new("/")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "f.conf:1: a key outside any section; start the file with a `[section]` header"
        );
        let e = parse("[a]\nx=1\nx=2\n", "f.conf", Path::new("/")).unwrap_err();
        assert!(
            e.to_string().starts_with("f.conf:3: key `x` is set twice"),
            "{e}"
        );
        let e = parse("[a\n", "f.conf", Path::new("/")).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("f.conf:1: malformed section header"),
            "{e}"
        );
    }
}
