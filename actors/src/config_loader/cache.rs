//! The last-good cache of remote configuration documents (SPEC 2.2): one
//! file per normalised URL in `remote.cache_dir` (named by the sha256 of the
//! URL), written atomically (temp file + rename) after every successful
//! fetch. When `remote.cache_dir` is not writable (a non-root oneinit and
//! the default `/var/cache/oneinit`), the runtime directory's `cache/` is
//! used instead; reads look in both.
//!
//! File layout: the first line is the Content-Type (possibly empty), the
//! rest is the document exactly as served.

use crate::model::config::RemoteConfig;
use crate::sys::runtime_dir::ensure_runtime_dir;
use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::{Path, PathBuf};
use url::Url;

/// A cached copy of a document.
pub struct Hit {
    pub path: PathBuf,
    pub content_type: Option<String>,
    pub bytes: Vec<u8>,
    /// When it was written (RFC 3339), for the warning.
    pub fetched_at: String,
}

/// The cache file name of `url`: sha256 of the normalised URL (the `url`
/// crate lower-cases scheme and host, drops default ports and resolves dot
/// segments), without its fragment.
pub fn key(url: &Url) -> String {
    let mut url = url.clone();
    url.set_fragment(None);
    hex::encode(Sha256::digest(url.as_str().as_bytes()))
}

fn fallback_dir() -> Option<PathBuf> {
    ensure_runtime_dir().ok().map(|d| d.join("cache"))
}

/// Why the last good copy could not be written. Names the folders tried;
/// the caller turns it into a warning (the fetch worked).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(
        "cannot cache the document in {}: {source}; set `remote.cache_dir` to a writable folder",
        dir.display()
    )]
    Primary {
        dir: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "cannot cache the document in {} ({first}) nor in {} ({second}); set `remote.cache_dir` \
         to a writable folder",
        primary.display(),
        fallback.display()
    )]
    Both {
        primary: PathBuf,
        first: std::io::Error,
        fallback: PathBuf,
        second: std::io::Error,
    },
    /// The blocking task that writes the copy panicked or was cancelled.
    #[error("the cache writer failed: {0}")]
    Writer(String),
}

/// Writes `bytes` as the last good copy of `url`.
pub fn store(
    settings: &RemoteConfig,
    url: &Url,
    content_type: Option<&str>,
    bytes: &[u8],
) -> Result<(), StoreError> {
    let name = key(url);
    let mut record = content_type
        .unwrap_or("")
        .replace(['\r', '\n'], " ")
        .into_bytes();
    record.push(b'\n');
    record.extend_from_slice(bytes);
    let primary = PathBuf::from(&settings.cache_dir);
    let first = match write_atomic(&primary, &name, &record) {
        Ok(()) => return Ok(()),
        Err(e) => e,
    };
    let Some(fallback) = fallback_dir() else {
        return Err(StoreError::Primary {
            dir: primary,
            source: first,
        });
    };
    write_atomic(&fallback, &name, &record).map_err(|second| StoreError::Both {
        primary,
        first,
        fallback: fallback.clone(),
        second,
    })
}

/// temp file in the same folder, fsync, rename: a reader never sees half
/// a document, a crash leaves the old copy. The temp file is created new
/// (`O_EXCL`, which never follows a symlink) with mode 0600, so a planted
/// link cannot redirect the write and no other user can read the copy; the
/// rename replaces a link at the final name instead of following it.
fn write_atomic(dir: &Path, name: &str, record: &[u8]) -> std::io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    // A leftover of a crashed writer with the same pid.
    let _ = std::fs::remove_file(&tmp);
    let result = (|| {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&tmp)?;
        f.write_all(record)?;
        f.sync_all()?;
        std::fs::rename(&tmp, dir.join(name))
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Whether documents can be written into `dir` (created if missing).
fn writable(dir: &Path) -> bool {
    let probe = dir.join(format!(".probe.{}", std::process::id()));
    let ok = std::fs::create_dir_all(dir).is_ok() && std::fs::File::create(&probe).is_ok();
    let _ = std::fs::remove_file(&probe);
    ok
}

/// The cached copy of `url`, from `remote.cache_dir` or the fallback.
pub fn load(settings: &RemoteConfig, url: &Url) -> Option<Hit> {
    let name = key(url);
    let primary = PathBuf::from(&settings.cache_dir);
    // The fallback only stands in for an unwritable `remote.cache_dir`;
    // otherwise a stale copy from another configuration could be found.
    let fallback = if writable(&primary) {
        None
    } else {
        fallback_dir()
    };
    for dir in std::iter::once(primary).chain(fallback) {
        let path = dir.join(&name);
        let Ok(record) = std::fs::read(&path) else {
            continue;
        };
        let split = record
            .iter()
            .position(|&b| b == b'\n')
            .unwrap_or(record.len());
        let content_type = String::from_utf8_lossy(&record[..split]).trim().to_string();
        let bytes = record.get(split + 1..).unwrap_or_default().to_vec();
        let fetched_at = std::fs::metadata(&path)
            .and_then(|m| m.modified())
            .map(|t| {
                chrono::DateTime::<chrono::Utc>::from(t)
                    .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            })
            .unwrap_or_else(|_| "at an unknown time".into());
        return Some(Hit {
            path,
            content_type: (!content_type.is_empty()).then_some(content_type),
            bytes,
            fetched_at,
        });
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_copy_reads_back_under_the_normalised_url() {
        let dir = tempfile::tempdir().unwrap();
        let settings = RemoteConfig {
            cache_dir: dir.path().display().to_string(),
            ..RemoteConfig::default()
        };
        let url = Url::parse("https://Example.COM:443/a/../b.yaml#frag").unwrap();
        store(&settings, &url, Some("text/yaml"), b"x: 1\n").unwrap();
        let same = Url::parse("https://example.com/b.yaml").unwrap();
        let hit = load(&settings, &same).unwrap();
        assert_eq!(hit.bytes, b"x: 1\n");
        assert_eq!(hit.content_type.as_deref(), Some("text/yaml"));
        let other = Url::parse("https://example.com/c.yaml").unwrap();
        assert!(load(&settings, &other).is_none());
        // No temp files left behind.
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1);
    }

    #[test]
    fn cache_files_are_private_and_links_are_not_followed() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let settings = RemoteConfig {
            cache_dir: dir.path().display().to_string(),
            ..RemoteConfig::default()
        };
        let url = Url::parse("https://example.com/a.yaml").unwrap();
        // A symlink planted at the final name points at a victim file.
        let victim = dir.path().join("victim");
        std::fs::write(&victim, "keep").unwrap();
        std::os::unix::fs::symlink(&victim, dir.path().join(key(&url))).unwrap();
        store(&settings, &url, None, b"x: 1\n").unwrap();
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep");
        let path = dir.path().join(key(&url));
        let meta = std::fs::symlink_metadata(&path).unwrap();
        assert!(meta.is_file());
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    }
}
