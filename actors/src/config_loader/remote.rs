//! Remote configuration sources (SPEC 2.2): one bounded https (or, when
//! allowed, http) GET per source with `remote.timeout` per request,
//! `remote.retries` with exponential backoff, redirects followed up to
//! `MAX_REDIRECTS` (a loop is an error), the body read incrementally up to
//! `MAX_BODY` bytes, `sha256` pinning, TLS verification always on (plus an
//! optional `remote.ca_file` bundle), and the last-good cache of `cache.rs`
//! used with a warning when a fetch fails.
//!
//! Called by `includes::Reader` through `Source::read`.

use super::cache;
use super::formats::Format;
use crate::model::config::RemoteConfig;
use sha2::{Digest, Sha256};
use std::time::Duration;
use url::Url;

/// Redirects followed for one request before giving up.
pub const MAX_REDIRECTS: usize = 10;
/// The largest configuration document accepted (10 MiB).
pub const MAX_BODY: u64 = 10 * 1024 * 1024;
/// First retry delay; doubled per attempt, capped at `MAX_BACKOFF`.
const BACKOFF: Duration = Duration::from_millis(200);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// A fetched (or cached) remote document.
#[derive(Debug)]
pub struct Fetched {
    pub text: String,
    pub format: Format,
    /// Hex sha256 of the bytes, for change detection (`remote.watch`).
    pub sha256: String,
}

/// Why one attempt failed: retrying helps (`Transient`) or not. The text
/// is the HTTP client's error with its causes.
enum Failure {
    Transient(String),
    Permanent(String),
}

/// Why the server did not deliver a document (before the cache is asked).
#[derive(Debug, thiserror::Error)]
pub enum FetchFailure {
    /// A failure retrying cannot help (TLS, redirects, 4xx, too large).
    #[error("{0}")]
    Permanent(String),
    #[error(
        "{why} (after {tries} attempt{}; see `remote.retries` and `remote.timeout`)",
        if *tries == 1 { "" } else { "s" }
    )]
    GaveUp { why: String, tries: u32 },
}

/// Fetched bytes that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error(
        "sha256 mismatch: the include pins {want} but the content has {got}; \
         update the pin if the change is expected"
    )]
    PinMismatch { want: String, got: String },
    #[error("the document is not UTF-8 text: {0}")]
    NotUtf8(#[from] std::string::FromUtf8Error),
}

/// Why a remote source could not be read, from the server or the cache.
#[derive(Debug, thiserror::Error)]
pub enum RemoteError {
    #[error(
        "plain http is refused for \"{url}\"; use https, or set `remote.allow_http: true` \
         in the top configuration file"
    )]
    HttpRefused { url: Url },
    #[error("cannot read `remote.ca_file` {ca}: {source}; fix the path or remove the key")]
    CaFileUnreadable { ca: String, source: std::io::Error },
    #[error("`remote.ca_file` {ca} is not a PEM certificate bundle: {why}")]
    CaFileNotPem { ca: String, why: reqwest::Error },
    #[error("`remote.ca_file` {ca} holds no PEM certificate; give a CA bundle in PEM format")]
    CaFileEmpty { ca: String },
    #[error("cannot set up the https client: {0}")]
    Client(String),
    #[error(transparent)]
    Decode(#[from] DecodeError),
    #[error("{failure}; the cached copy {} is unusable: {why}", path.display())]
    CacheUnusable {
        failure: FetchFailure,
        path: std::path::PathBuf,
        why: DecodeError,
    },
    #[error(
        "{failure}; no cached copy in {cache_dir} either: make the server reachable or remove \
         the include"
    )]
    NoCachedCopy {
        failure: FetchFailure,
        cache_dir: String,
    },
}

/// Fetches `url` under `settings`; falls back to the cached copy (with a
/// warning pushed to `warnings`) when the server cannot deliver it.
/// `pin` is the expected hex sha256 of the body, if the include pinned one.
pub async fn fetch(
    url: &Url,
    settings: &RemoteConfig,
    pin: Option<&str>,
    warnings: &mut Vec<String>,
) -> Result<Fetched, RemoteError> {
    if url.scheme() == "http" && !settings.allow_http {
        return Err(RemoteError::HttpRefused { url: url.clone() });
    }
    let client = client(settings)?;
    let error = match fetch_with_retries(&client, url, settings).await {
        Ok((bytes, content_type)) => {
            let fetched = decode(url, &bytes, content_type.as_deref(), pin)?;
            let (s, u) = (settings.clone(), url.clone());
            // Disk writes (with fsync) stay off the actor thread.
            let stored = tokio::task::spawn_blocking(move || {
                cache::store(&s, &u, content_type.as_deref(), &bytes)
            })
            .await
            .unwrap_or_else(|e| Err(cache::StoreError::Writer(e.to_string())));
            if let Err(e) = stored {
                warnings.push(format!("{url}: {e}"));
            }
            return Ok(fetched);
        }
        Err(e) => e,
    };
    let (s, u) = (settings.clone(), url.clone());
    let hit = tokio::task::spawn_blocking(move || cache::load(&s, &u))
        .await
        .ok()
        .flatten();
    match hit {
        Some(hit) => {
            let fetched = match decode(url, &hit.bytes, hit.content_type.as_deref(), pin) {
                Ok(fetched) => fetched,
                Err(why) => {
                    return Err(RemoteError::CacheUnusable {
                        failure: error,
                        path: hit.path,
                        why,
                    })
                }
            };
            warnings.push(format!(
                "{url}: {error}; using the cached copy {} (last fetched {})",
                hit.path.display(),
                hit.fetched_at
            ));
            Ok(fetched)
        }
        None => Err(RemoteError::NoCachedCopy {
            failure: error,
            cache_dir: settings.cache_dir.clone(),
        }),
    }
}

/// The client for one load: per-request timeout, bounded redirects (a loop
/// is an error), https only unless `allow_http`, extra trusted CAs.
fn client(settings: &RemoteConfig) -> Result<reqwest::Client, RemoteError> {
    let timeout = settings.timeout.get();
    let policy = reqwest::redirect::Policy::custom(|attempt| {
        let from_https = attempt.previous().iter().any(|u| u.scheme() == "https");
        if from_https && attempt.url().scheme() == "http" {
            // Never downgrade, even with `allow_http`: the https source
            // was chosen for its integrity.
            let msg = format!(
                "refusing the redirect from https to plain http ({}); fix the server's redirect",
                attempt.url()
            );
            attempt.error(msg)
        } else if attempt.previous().iter().any(|u| u == attempt.url()) {
            let chain: Vec<String> = attempt.previous().iter().map(Url::to_string).collect();
            let msg = format!("redirect loop: {} -> {}", chain.join(" -> "), attempt.url());
            attempt.error(msg)
        } else if attempt.previous().len() > MAX_REDIRECTS {
            attempt.error(format!("more than {MAX_REDIRECTS} redirects"))
        } else {
            attempt.follow()
        }
    });
    let mut builder = reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout)
        .redirect(policy)
        .https_only(!settings.allow_http)
        .user_agent(concat!("oneinit/", env!("CARGO_PKG_VERSION")));
    if let Some(ca) = &settings.ca_file {
        let pem = std::fs::read(ca).map_err(|source| RemoteError::CaFileUnreadable {
            ca: ca.clone(),
            source,
        })?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|why| {
            RemoteError::CaFileNotPem {
                ca: ca.clone(),
                why,
            }
        })?;
        if certs.is_empty() {
            return Err(RemoteError::CaFileEmpty { ca: ca.clone() });
        }
        for cert in certs {
            builder = builder.add_root_certificate(cert);
        }
    }
    builder.build().map_err(|e| RemoteError::Client(chain(&e)))
}

/// Up to `1 + retries` attempts; transient failures are retried after
/// 200 ms × 2^n (capped), permanent ones end at once.
async fn fetch_with_retries(
    client: &reqwest::Client,
    url: &Url,
    settings: &RemoteConfig,
) -> Result<(Vec<u8>, Option<String>), FetchFailure> {
    let mut attempt: u32 = 0;
    loop {
        match fetch_once(client, url).await {
            Ok(ok) => return Ok(ok),
            Err(Failure::Permanent(e)) => return Err(FetchFailure::Permanent(e)),
            Err(Failure::Transient(why)) if attempt >= settings.retries => {
                return Err(FetchFailure::GaveUp {
                    why,
                    tries: attempt + 1,
                });
            }
            Err(Failure::Transient(_)) => {
                tokio::time::sleep(backoff(attempt)).await;
                attempt += 1;
            }
        }
    }
}

/// The delay before retry number `attempt + 1`.
pub fn backoff(attempt: u32) -> Duration {
    BACKOFF
        .checked_mul(1u32 << attempt.min(16))
        .map_or(MAX_BACKOFF, |d| d.min(MAX_BACKOFF))
}

async fn fetch_once(
    client: &reqwest::Client,
    url: &Url,
) -> Result<(Vec<u8>, Option<String>), Failure> {
    let mut resp = client.get(url.clone()).send().await.map_err(classify)?;
    let status = resp.status();
    if !status.is_success() {
        let msg = format!("the server answered HTTP {status}");
        let retry = status.is_server_error()
            || status == reqwest::StatusCode::TOO_MANY_REQUESTS
            || status == reqwest::StatusCode::REQUEST_TIMEOUT;
        return Err(if retry {
            Failure::Transient(msg)
        } else {
            Failure::Permanent(msg)
        });
    }
    if let Some(len) = resp.content_length() {
        if len > MAX_BODY {
            return Err(Failure::Permanent(too_big(Some(len))));
        }
    }
    let content_type = resp
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(classify)? {
        if body.len() as u64 + chunk.len() as u64 > MAX_BODY {
            return Err(Failure::Permanent(too_big(None)));
        }
        body.extend_from_slice(&chunk);
    }
    Ok((body, content_type))
}

fn too_big(len: Option<u64>) -> String {
    let size = len.map_or("more than 10 MiB".to_string(), |l| format!("{l} bytes"));
    format!("the document is too large ({size}; the limit is {MAX_BODY} bytes)")
}

fn classify(e: reqwest::Error) -> Failure {
    // The URL is already at the front of every message.
    let e = e.without_url();
    let text = chain(&e);
    if e.is_redirect() || e.is_builder() || e.is_decode() || tls_failure(&e) {
        Failure::Permanent(text)
    } else if e.is_timeout() {
        Failure::Transient(format!("{text} (no answer within `remote.timeout`)"))
    } else {
        Failure::Transient(text)
    }
}

/// A failed TLS handshake (untrusted certificate, wrong name, not TLS):
/// tokio-rustls reports it as an `InvalidData` I/O error. Retrying cannot
/// help, so it is not retried.
fn tls_failure(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur = Some(e);
    while let Some(err) = cur {
        // An io::Error's `source()` skips the error it wraps, and the
        // connector wraps rustls' InvalidData error in another io::Error.
        let mut io = err.downcast_ref::<std::io::Error>();
        while let Some(e) = io {
            if e.kind() == std::io::ErrorKind::InvalidData {
                return true;
            }
            io = e
                .get_ref()
                .and_then(|inner| inner.downcast_ref::<std::io::Error>());
        }
        cur = err.source();
    }
    false
}

/// An error with all its causes, `outer: inner: innermost`.
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cur = e.source();
    while let Some(s) = cur {
        let part = s.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        cur = s.source();
    }
    text
}

/// Checks the pin and turns the bytes into text of a known format.
fn decode(
    url: &Url,
    bytes: &[u8],
    content_type: Option<&str>,
    pin: Option<&str>,
) -> Result<Fetched, DecodeError> {
    let sha256 = hex::encode(Sha256::digest(bytes));
    if let Some(want) = pin {
        if !want.eq_ignore_ascii_case(&sha256) {
            return Err(DecodeError::PinMismatch {
                want: want.to_string(),
                got: sha256,
            });
        }
    }
    let text = String::from_utf8(bytes.to_vec())?;
    Ok(Fetched {
        text,
        format: format_of(url, content_type),
        sha256,
    })
}

/// By the URL path's extension, then the Content-Type, then YAML.
pub fn format_of(url: &Url, content_type: Option<&str>) -> Format {
    let path = url.path().to_ascii_lowercase();
    for (ext, format) in [
        (".yaml", Format::Yaml),
        (".yml", Format::Yaml),
        (".toml", Format::Toml),
        (".json", Format::Json),
    ] {
        if path.ends_with(ext) {
            return format;
        }
    }
    let mime = content_type
        .and_then(|c| c.split(';').next())
        .map(|c| c.trim().to_ascii_lowercase())
        .unwrap_or_default();
    if mime.ends_with("json") {
        Format::Json
    } else if mime.ends_with("toml") {
        Format::Toml
    } else {
        Format::Yaml
    }
}

#[cfg(test)]
mod tests;
