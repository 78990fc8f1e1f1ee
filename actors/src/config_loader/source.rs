//! Where configuration text comes from: a local file or an http(s) URL
//! (fetched by `remote.rs`, with the last-good cache of `cache.rs`), and how
//! an `include` entry of one source names others: a local path or glob
//! relative to a file's folder, a URL, or a reference relative to a remote
//! file's URL. A remote file names local files by absolute path
//! (`/etc/oneinit/conf.d/*.yaml`) or a `file://` URL.

use super::budget::{BudgetExceeded, MAX_DOCUMENT_BYTES};
use super::formats::Format;
use super::glob_walk::{self, GlobError};
use super::remote;
use crate::model::config::RemoteConfig;
use std::path::{Path, PathBuf};
use url::Url;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    File(PathBuf),
    Url {
        url: Url,
        /// The pinned hex sha256 of the content (`{url, sha256}` entries).
        sha256: Option<String>,
    },
}

/// Why a source cannot be named or read. Each message names the entry and
/// says what to write instead.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("invalid URL \"{spec}\": {why}")]
    InvalidUrl { spec: String, why: url::ParseError },
    #[error("invalid URL \"{spec}\": no host")]
    NoHost { spec: String },
    #[error("the sha256 pin of {url} must be 64 hex digits, got \"{pin}\"")]
    BadPin { url: Url, pin: String },
    #[error("invalid file URL \"{spec}\"; use file:///absolute/path")]
    InvalidFileUrl { spec: String },
    #[error("\"{entry}\" is a local file: `sha256` pins only http(s) URLs; remove it")]
    PinnedLocalFile { entry: String },
    #[error(
        "\"{entry}\" is a glob relative to the remote file {url}; a server cannot be listed, \
         name each file"
    )]
    RemoteGlob { entry: String, url: Url },
    #[error("cannot resolve \"{entry}\" against {url}: {why}")]
    Unresolvable {
        entry: String,
        url: Url,
        why: url::ParseError,
    },
    #[error("\"{entry}\" resolves to {joined}; only http and https URLs are supported")]
    NotHttp { entry: String, joined: Url },
    #[error("invalid include pattern \"{entry}\": {why}")]
    InvalidPattern {
        entry: String,
        why: glob::PatternError,
    },
    #[error("include pattern \"{entry}\" is too broad: {why}")]
    TooBroadPattern { entry: String, why: GlobError },
    #[error("cannot read the configuration file: {0}; check the path and its permissions")]
    Unreadable(std::io::Error),
    #[error(
        "cannot read the configuration file: it did not end within {secs}s (a FIFO without a \
         writer, or a device such as /proc/kmsg?); include regular files"
    )]
    ReadTimeout { secs: u64 },
    #[error(transparent)]
    TooLarge(#[from] BudgetExceeded),
    #[error(
        "cannot read the configuration file: it is not UTF-8 text (invalid byte at offset {offset})"
    )]
    NotUtf8 { offset: usize },
    #[error(transparent)]
    Remote(#[from] remote::RemoteError),
}

/// The text of a source and how to parse it.
pub struct Text {
    pub text: String,
    pub format: Format,
    /// Hex sha256 of a remote document (None for local files).
    pub remote_sha256: Option<String>,
}

impl Source {
    /// A source named on the command line or in `ONEINIT_CONFIG`.
    pub fn parse(spec: &str) -> Result<Source, SourceError> {
        if is_url(spec) {
            return parse_url(spec, None);
        }
        if let Some(path) = file_url(spec) {
            return Ok(Source::File(path?));
        }
        Ok(Source::File(PathBuf::from(spec)))
    }

    /// The name errors and `LoadedConfig::sources` use.
    pub fn name(&self) -> String {
        match self {
            Source::File(p) => p.display().to_string(),
            Source::Url { url, .. } => url.to_string(),
        }
    }

    /// A stable identity for cycle detection: the canonical path, or the
    /// normalised URL without its fragment.
    pub fn identity(&self) -> String {
        match self {
            Source::File(p) => std::fs::canonicalize(p)
                .unwrap_or_else(|_| p.clone())
                .display()
                .to_string(),
            Source::Url { url, .. } => {
                let mut url = url.clone();
                url.set_fragment(None);
                url.to_string()
            }
        }
    }

    pub fn is_remote(&self) -> bool {
        matches!(self, Source::Url { .. })
    }

    /// The whole text of the source. Remote fetches use `settings` and push
    /// cache fallbacks to `warnings`.
    pub async fn read(
        &self,
        settings: &RemoteConfig,
        warnings: &mut Vec<String>,
    ) -> Result<Text, SourceError> {
        match self {
            Source::File(p) => {
                let text = read_bounded(p).await?;
                Ok(Text {
                    text,
                    format: Format::from_name(&self.name()),
                    remote_sha256: None,
                })
            }
            Source::Url { url, sha256 } => {
                let fetched = remote::fetch(url, settings, sha256.as_deref(), warnings).await?;
                Ok(Text {
                    text: fetched.text,
                    format: fetched.format,
                    remote_sha256: Some(fetched.sha256),
                })
            }
        }
    }

    /// The sources an `include` entry of this source names: a URL; a path
    /// relative to this file's folder, or a glob (matches in lexical order,
    /// none is fine); in a remote file, a reference relative to its URL.
    /// `sha256` pins the content of a URL entry.
    pub fn resolve_include(
        &self,
        entry: &str,
        sha256: Option<String>,
    ) -> Result<Vec<Source>, SourceError> {
        if is_url(entry) {
            return Ok(vec![parse_url(entry, sha256)?]);
        }
        if let Some(path) = file_url(entry) {
            no_pin(entry, &sha256)?;
            return local_include(Path::new(""), &path?.display().to_string());
        }
        match self {
            Source::File(me) => {
                no_pin(entry, &sha256)?;
                local_include(me.parent().unwrap_or(Path::new("")), entry)
            }
            Source::Url { .. } if entry.starts_with('/') => {
                no_pin(entry, &sha256)?;
                local_include(Path::new(""), entry)
            }
            Source::Url { url, .. } => {
                if entry.contains(['*', '?', '[']) {
                    return Err(SourceError::RemoteGlob {
                        entry: entry.into(),
                        url: url.clone(),
                    });
                }
                let joined = url.join(entry).map_err(|why| SourceError::Unresolvable {
                    entry: entry.into(),
                    url: url.clone(),
                    why,
                })?;
                if !matches!(joined.scheme(), "http" | "https") {
                    return Err(SourceError::NotHttp {
                        entry: entry.into(),
                        joined,
                    });
                }
                Ok(vec![Source::Url {
                    url: joined,
                    sha256,
                }])
            }
        }
    }
}

/// How long a local file may take to read to its end. A file whose read
/// blocks (a FIFO nobody writes to, `/proc/kmsg`) would otherwise stop the
/// start or a reload for good.
const LOCAL_READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// A local file's text, read up to the document budget (a larger file, or
/// an endless one such as `/dev/zero`, is refused without reading it all
/// into memory) and within `LOCAL_READ_TIMEOUT`. The read runs on a thread
/// of its own, not tokio's blocking pool: a read that never returns leaves
/// that thread behind, and the pool would wait for it when the runtime
/// ends (`oneinit check`, or oneinit's exit after such a reload).
async fn read_bounded(path: &Path) -> Result<String, SourceError> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let owned = path.to_path_buf();
    std::thread::Builder::new()
        .name("oneinit-read".into())
        .stack_size(64 * 1024)
        .spawn(move || {
            let _ = tx.send(read_bounded_blocking(&owned));
        })
        .map_err(SourceError::Unreadable)?;
    match tokio::time::timeout(LOCAL_READ_TIMEOUT, rx).await {
        Ok(Ok(read)) => read,
        Ok(Err(_)) => Err(SourceError::Unreadable(std::io::Error::other(
            "the reading thread ended without an answer",
        ))),
        Err(_) => Err(SourceError::ReadTimeout {
            secs: LOCAL_READ_TIMEOUT.as_secs(),
        }),
    }
}

fn read_bounded_blocking(path: &Path) -> Result<String, SourceError> {
    use std::io::Read as _;
    let cannot = SourceError::Unreadable;
    let file = std::fs::File::open(path).map_err(cannot)?;
    let limit = MAX_DOCUMENT_BYTES as u64;
    let mut bytes = Vec::new();
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(cannot)?;
    if bytes.len() as u64 > limit {
        let size = std::fs::metadata(path)
            .map(|m| m.len())
            .unwrap_or(0)
            .max(limit + 1);
        return Err(BudgetExceeded::DocumentSize { size }.into());
    }
    String::from_utf8(bytes).map_err(|e| SourceError::NotUtf8 {
        offset: e.utf8_error().valid_up_to(),
    })
}

/// A path or glob relative to `base` (a local folder).
fn local_include(base: &Path, entry: &str) -> Result<Vec<Source>, SourceError> {
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
    let paths = glob_walk::expand(&pattern).map_err(|e| match e {
        GlobError::Pattern(why) => SourceError::InvalidPattern {
            entry: entry.into(),
            why,
        },
        why @ GlobError::TooBroad { .. } => SourceError::TooBroadPattern {
            entry: entry.into(),
            why,
        },
    })?;
    Ok(paths
        .into_iter()
        .filter(|p| p.is_file())
        .map(Source::File)
        .collect())
}

fn no_pin(entry: &str, sha256: &Option<String>) -> Result<(), SourceError> {
    match sha256 {
        Some(_) => Err(SourceError::PinnedLocalFile {
            entry: entry.into(),
        }),
        None => Ok(()),
    }
}

fn parse_url(spec: &str, sha256: Option<String>) -> Result<Source, SourceError> {
    let url = Url::parse(spec).map_err(|why| SourceError::InvalidUrl {
        spec: spec.into(),
        why,
    })?;
    if matches!(url.host_str(), None | Some("")) {
        return Err(SourceError::NoHost { spec: spec.into() });
    }
    if let Some(pin) = &sha256 {
        if pin.len() != 64 || !pin.bytes().all(|b| b.is_ascii_hexdigit()) {
            let pin = pin.clone();
            return Err(SourceError::BadPin { url, pin });
        }
    }
    Ok(Source::Url { url, sha256 })
}

/// `file:///abs/path` as a path; None for anything else.
fn file_url(spec: &str) -> Option<Result<PathBuf, SourceError>> {
    if !spec.get(..7)?.eq_ignore_ascii_case("file://") {
        return None;
    }
    Some(
        Url::parse(spec)
            .ok()
            .and_then(|u| u.to_file_path().ok())
            .ok_or_else(|| SourceError::InvalidFileUrl { spec: spec.into() }),
    )
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
    if paths.iter().any(|p| p.contains("://")) {
        // Mixed local and remote: full names say where each one is.
        return paths.to_vec();
    }
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
