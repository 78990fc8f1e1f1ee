//! The HTTP client side of the API, used by onecli and the tests: one
//! `Client` over a unix socket (hyper 1 on a tokio `UnixStream`, since
//! reqwest cannot) or http/https (reqwest with rustls, optional `--cacert`).
//! Every wait is bounded except reading an event stream the user follows.

pub mod render;

use bytes::Bytes;
use futures_util::stream::{BoxStream, StreamExt};
use http_body_util::{BodyStream, Full};
use hyper_util::rt::TokioIo;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Connecting must succeed within this.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Why a request could not be made at all (answers with any status are
/// not errors). `is_usage` tells onecli's exit code: 2 for the caller's
/// input, 5 for a server it cannot reach.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("--server {server}: use unix:///path, http://host:port or https://host:port")]
    BadServer { server: String },
    #[error("--server {server}: a unix socket needs an absolute path, e.g. unix:///run/oneinit/oneinit.sock")]
    RelativeSocket { server: String },
    /// The socket's folder could have been planted by another user (SPEC 9).
    #[error("not sending the token to {server}: {reason}")]
    UntrustedSocket { server: String, reason: String },
    #[error("--cacert {}: {source}", .path.display())]
    CaCertRead {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("--cacert {}: not a PEM certificate: {source}", .path.display())]
    CaCertPem {
        path: PathBuf,
        source: reqwest::Error,
    },
    #[error("cannot set up HTTPS: {0}")]
    Https(reqwest::Error),
    #[error("bad method {method}: {source}")]
    BadMethod {
        method: String,
        source: hyper::http::method::InvalidMethod,
    },
    #[error("bad request {method} {path}: {source}")]
    BadRequest {
        method: String,
        path: String,
        source: hyper::http::Error,
    },
    /// Could not connect, or the connection broke / timed out.
    #[error("cannot reach oneinit at {server}: {cause}; is it running? (set --server or $ONECLI_SERVER)")]
    Unreachable { server: String, cause: String },
}

impl ClientError {
    /// The caller's input is wrong (as opposed to the server being unreachable).
    pub fn is_usage(&self) -> bool {
        !matches!(self, ClientError::Unreachable { .. })
    }
}

enum Transport {
    Unix(PathBuf),
    Http {
        client: reqwest::Client,
        base: String,
    },
}

/// A server to talk to.
pub struct Client {
    transport: Transport,
    token: Option<String>,
    /// Shown in messages: the `--server` value.
    pub server: String,
}

/// A whole answer.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub body: Bytes,
}

impl Response {
    pub fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_slice(&self.body).ok()
    }

    /// `error.code`/`error.message` of an error answer, else the raw body.
    pub fn error_text(&self) -> (String, String) {
        let v = self.json().unwrap_or_default();
        let code = v["error"]["code"].as_str().unwrap_or("").to_string();
        let msg = v["error"]["message"]
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| String::from_utf8_lossy(&self.body).trim().to_string());
        (code, msg)
    }
}

/// Why an answer's body stopped arriving (the connection broke or timed out).
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    /// Over http/https.
    #[error("{0}")]
    Http(#[from] reqwest::Error),
    /// Over the unix socket.
    #[error("{0}")]
    Unix(#[from] hyper::Error),
}

/// The status and a body still arriving (for Server-Sent Events).
pub struct Streaming {
    pub status: u16,
    pub body: BoxStream<'static, Result<Bytes, BodyError>>,
}

impl Client {
    /// `unix:///path`, `http://host:port` or `https://host:port`.
    pub fn new(
        server: &str,
        token: Option<String>,
        cacert: Option<&Path>,
    ) -> Result<Client, ClientError> {
        let transport = if let Some(path) = server.strip_prefix("unix://") {
            if !path.starts_with('/') {
                return Err(ClientError::RelativeSocket {
                    server: server.to_string(),
                });
            }
            let path = PathBuf::from(path);
            // The token goes only to a socket in a folder that no other
            // user could have planted (SPEC 9).
            if token.as_deref().is_some_and(|t| !t.is_empty()) {
                oneinit_actors::sys::runtime_dir::check_socket_dir(&path).map_err(|e| {
                    ClientError::UntrustedSocket {
                        server: server.to_string(),
                        reason: e.to_string(),
                    }
                })?;
            }
            Transport::Unix(path)
        } else if server.starts_with("http://") || server.starts_with("https://") {
            let mut b = reqwest::Client::builder()
                .connect_timeout(CONNECT_TIMEOUT)
                .use_rustls_tls();
            if let Some(ca) = cacert {
                let pem = std::fs::read(ca).map_err(|source| ClientError::CaCertRead {
                    path: ca.to_path_buf(),
                    source,
                })?;
                let cert = reqwest::Certificate::from_pem(&pem).map_err(|source| {
                    ClientError::CaCertPem {
                        path: ca.to_path_buf(),
                        source,
                    }
                })?;
                b = b.add_root_certificate(cert);
            }
            let client = b.build().map_err(ClientError::Https)?;
            Transport::Http {
                client,
                base: server.trim_end_matches('/').to_string(),
            }
        } else {
            return Err(ClientError::BadServer {
                server: server.to_string(),
            });
        };
        Ok(Client {
            transport,
            token: token.filter(|t| !t.is_empty()),
            server: server.to_string(),
        })
    }

    fn unreachable(&self, cause: impl std::fmt::Display) -> ClientError {
        ClientError::Unreachable {
            server: self.server.clone(),
            cause: cause.to_string(),
        }
    }

    /// Sends a request and reads the whole answer within `timeout`.
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<&serde_json::Value>,
        timeout: Duration,
    ) -> Result<Response, ClientError> {
        let fut = async {
            let s = self.send(method, path, body).await?;
            let mut body = s.body;
            let mut all = Vec::new();
            while let Some(chunk) = body.next().await {
                all.extend_from_slice(&chunk.map_err(|e| self.unreachable(e))?);
            }
            Ok(Response {
                status: s.status,
                body: Bytes::from(all),
            })
        };
        match tokio::time::timeout(timeout, fut).await {
            Ok(r) => r,
            Err(_) => Err(self.unreachable(format!("no answer within {}s", timeout.as_secs()))),
        }
    }

    /// Sends a request; the body is read by the caller as it arrives.
    pub async fn send(
        &self,
        method: &str,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<Streaming, ClientError> {
        let payload = body.map(|b| b.to_string()).unwrap_or_default();
        match &self.transport {
            Transport::Http { client, base } => {
                let m = reqwest::Method::from_bytes(method.as_bytes()).map_err(|source| {
                    ClientError::BadMethod {
                        method: method.to_string(),
                        source,
                    }
                })?;
                let mut rb = client.request(m, format!("{base}{path}"));
                if let Some(t) = &self.token {
                    rb = rb.bearer_auth(t);
                }
                // Every mutating request says JSON, even without a body: the
                // API refuses others on TCP (browser safety, SPEC 9).
                if body.is_some() || method != "GET" {
                    rb = rb.header("Content-Type", "application/json").body(payload);
                }
                let resp = rb
                    .send()
                    .await
                    .map_err(|e| self.unreachable(error_chain(&e)))?;
                let status = resp.status().as_u16();
                let stream = resp
                    .bytes_stream()
                    .map(|r| r.map_err(BodyError::from))
                    .boxed();
                Ok(Streaming {
                    status,
                    body: stream,
                })
            }
            Transport::Unix(sock) => {
                let stream =
                    tokio::time::timeout(CONNECT_TIMEOUT, tokio::net::UnixStream::connect(sock))
                        .await
                        .map_err(|_| self.unreachable("connect timed out"))?
                        .map_err(|e| self.unreachable(e))?;
                let (mut sender, conn) =
                    hyper::client::conn::http1::handshake(TokioIo::new(stream))
                        .await
                        .map_err(|e| self.unreachable(e))?;
                tokio::spawn(async move {
                    // Ends when the answer is read or the peer closes.
                    let _ = conn.await;
                });
                let mut rb = hyper::Request::builder()
                    .method(method)
                    .uri(path)
                    .header("Host", "localhost");
                if let Some(t) = &self.token {
                    rb = rb.header("Authorization", format!("Bearer {t}"));
                }
                if body.is_some() || method != "GET" {
                    rb = rb.header("Content-Type", "application/json");
                }
                let req = rb.body(Full::new(Bytes::from(payload))).map_err(|source| {
                    ClientError::BadRequest {
                        method: method.to_string(),
                        path: path.to_string(),
                        source,
                    }
                })?;
                let resp = sender
                    .send_request(req)
                    .await
                    .map_err(|e| self.unreachable(e))?;
                let status = resp.status().as_u16();
                let stream = BodyStream::new(resp.into_body())
                    .filter_map(|frame| async move {
                        match frame {
                            Ok(f) => f.into_data().ok().map(Ok),
                            Err(e) => Some(Err(BodyError::from(e))),
                        }
                    })
                    .boxed();
                Ok(Streaming {
                    status,
                    body: stream,
                })
            }
        }
    }
}

/// reqwest hides the cause (connection refused, certificate) in `source()`.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cur = e.source();
    while let Some(s) = cur {
        text.push_str(": ");
        text.push_str(&s.to_string());
        cur = s.source();
    }
    text
}

/// Splits a Server-Sent Events byte stream into the `data:` payloads.
#[derive(Default)]
pub struct SseParser {
    buf: Vec<u8>,
}

impl SseParser {
    /// Feeds bytes; answers the complete `data:` payloads seen so far.
    pub fn push(&mut self, chunk: &[u8]) -> Vec<String> {
        self.buf.extend_from_slice(chunk);
        let mut out = Vec::new();
        while let Some(pos) = self.buf.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = self.buf.drain(..=pos).collect();
            let line = String::from_utf8_lossy(&line);
            let line = line.trim_end_matches(['\n', '\r']);
            if let Some(data) = line.strip_prefix("data:") {
                out.push(data.trim_start().to_string());
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sse_parser_splits_across_chunks() {
        let mut p = SseParser::default();
        assert!(p.push(b": hi\n\ndata: {\"a\"").is_empty());
        assert_eq!(p.push(b":1}\n\ndata: x\n"), vec!["{\"a\":1}", "x"]);
    }

    #[test]
    fn server_forms() {
        assert!(Client::new("unix:///tmp/x.sock", None, None).is_ok());
        assert!(Client::new("http://127.0.0.1:1", None, None).is_ok());
        assert!(matches!(
            Client::new("ftp://x", None, None),
            Err(ClientError::BadServer { .. })
        ));
        let relative = Client::new("unix://rel", None, None)
            .err()
            .expect("refused");
        assert!(relative.is_usage());
        assert!(matches!(relative, ClientError::RelativeSocket { .. }));
    }
}
