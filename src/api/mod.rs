//! The HTTP API of SPEC 4 on actix-web: listeners (unix sockets and TCP,
//! optionally TLS/mTLS), authentication and roles, the routes, Server-Sent
//! Events, and the OpenAPI document. It reaches the supervisor only through
//! the typed messages in `ApiBackend`.
//!
//! Use: `bind(settings)` early (errors are config errors: exit 2 before any
//! service starts), then `BoundApi::serve(backend, log)` inside the actix
//! system; or `start(...)` for both. `ApiHandle::stop` shuts it down.

pub mod auth;
pub mod backend;
pub mod conn;
mod control;
pub mod error;
pub mod listen;
pub mod openapi;
pub mod routes;
mod sse;
pub mod tls;
pub mod ui;

pub use backend::ApiBackend;

use actix_web::{web, App, HttpServer};
use auth::Authenticator;
use listen::ListenAddr;
use oneinit_actors::model::config::{ApiConfig, MetricsConfig};
use std::path::PathBuf;
use std::time::Duration;

/// Largest accepted request body (only `signal` takes one, a few bytes).
pub const BODY_LIMIT: usize = 64 * 1024;

/// Everything the API needs from the configuration and the command line.
#[derive(Clone, Debug)]
pub struct ApiSettings {
    pub api: ApiConfig,
    pub metrics: MetricsConfig,
    /// `--api-listen` addresses, served besides `api.listen` (or the default socket).
    pub extra_listen: Vec<String>,
    /// actix-web worker threads.
    pub workers: usize,
}

impl ApiSettings {
    pub fn new(api: ApiConfig, metrics: MetricsConfig, extra_listen: Vec<String>) -> Self {
        ApiSettings {
            api,
            metrics,
            extra_listen,
            workers: 1,
        }
    }
}

/// Why the API could not start; the binary prints it and exits 2.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Bad listen address, refused insecure listener, TLS files, token secrets.
    #[error("{0}")]
    Config(String),
    /// The address is taken, or the socket path is not usable.
    #[error("{0}")]
    Bind(String),
}

/// Shared by every request handler.
pub(crate) struct AppState {
    pub backend: ApiBackend,
    pub auth: Authenticator,
    pub metrics: MetricsConfig,
    pub log: slog::Logger,
}

/// Listeners bound and settings checked, not yet serving.
pub struct BoundApi {
    settings: ApiSettings,
    auth: Authenticator,
    tls: Option<rustls::ServerConfig>,
    unix: Vec<(PathBuf, std::os::unix::net::UnixListener)>,
    tcp: Vec<(String, std::net::TcpListener)>,
}

/// A running API; `stop` ends it gracefully within a bound.
pub struct ApiHandle {
    server: actix_web::dev::ServerHandle,
    sockets: Vec<PathBuf>,
    /// The addresses actually bound (port 0 resolved), for logs and tests.
    pub addresses: Vec<String>,
}

impl ApiHandle {
    /// Removes the unix socket files; for when the actix system is already
    /// gone and `stop` cannot run (oneinit's exit path).
    pub fn remove_sockets(&self) {
        for path in &self.sockets {
            let _ = std::fs::remove_file(path);
        }
    }

    /// Stops accepting, lets requests in flight finish (at most `grace`),
    /// and removes the socket files.
    pub async fn stop(self, grace: Duration) {
        if tokio::time::timeout(grace, self.server.stop(true))
            .await
            .is_err()
        {
            // Not done in time: stop without waiting any longer.
            let _ = tokio::time::timeout(Duration::from_millis(500), self.server.stop(false)).await;
        }
        self.remove_sockets();
    }
}

/// The listen addresses in effect: `api.listen` (or the default socket) plus
/// `--api-listen`.
pub fn listen_addresses(settings: &ApiSettings) -> Result<Vec<ListenAddr>, ApiError> {
    let mut texts: Vec<String> = settings.api.listen.clone();
    let mut out = Vec::new();
    if texts.is_empty() {
        let dir = oneinit_actors::sys::runtime_dir::ensure_runtime_dir().map_err(|e| {
            ApiError::Bind(format!(
                "runtime directory: {e}; set ONEINIT_RUNTIME_DIR to a writable folder"
            ))
        })?;
        out.push(ListenAddr::Unix(dir.join("oneinit.sock")));
    }
    texts.extend(settings.extra_listen.iter().cloned());
    for t in &texts {
        out.push(ListenAddr::parse(t).map_err(ApiError::Config)?);
    }
    Ok(out)
}

/// Checks the settings and binds every listener. Nothing is served yet.
pub fn bind(settings: ApiSettings) -> Result<BoundApi, ApiError> {
    let api = &settings.api;
    let auth = Authenticator::new(api.auth.as_ref()).map_err(ApiError::Config)?;
    let addrs = listen_addresses(&settings)?;
    for a in &addrs {
        listen::check_secure(a, api.tls.is_some(), api.auth.is_some(), api.insecure)
            .map_err(ApiError::Config)?;
    }
    let client_auth = api.auth.as_ref().and_then(|a| a.client_auth);
    let tls = match &api.tls {
        Some(t) => Some(tls::server_config(t, client_auth).map_err(ApiError::Config)?),
        None => None,
    };
    let mut unix = Vec::new();
    let mut tcp = Vec::new();
    for a in addrs {
        match a {
            ListenAddr::Unix(path) => {
                let l = listen::bind_unix(&path).map_err(ApiError::Bind)?;
                unix.push((path, l));
            }
            ListenAddr::Tcp { text, addrs } => {
                for l in listen::bind_tcp(&text, &addrs).map_err(ApiError::Bind)? {
                    tcp.push((text.clone(), l));
                }
            }
        }
    }
    Ok(BoundApi {
        settings,
        auth,
        tls,
        unix,
        tcp,
    })
}

impl BoundApi {
    /// Starts serving on the bound listeners (inside an actix system).
    pub fn serve(self, backend: ApiBackend, log: slog::Logger) -> Result<ApiHandle, ApiError> {
        let state = web::Data::new(AppState {
            backend,
            auth: self.auth,
            metrics: self.settings.metrics.clone(),
            log: log.clone(),
        });
        let metrics = self.settings.metrics.clone();
        let with_ui = self.settings.api.ui;
        let mut server = HttpServer::new(move || {
            App::new().app_data(state.clone()).configure(|cfg| {
                if with_ui {
                    ui::configure(cfg);
                }
                routes::configure(cfg, &metrics)
            })
        })
        .workers(self.settings.workers.max(1))
        .disable_signals()
        .shutdown_timeout(5)
        .on_connect(conn::on_connect);
        let mut addresses = Vec::new();
        let mut sockets = Vec::new();
        let bind_err = |what: &str, e: std::io::Error| ApiError::Bind(format!("{what}: {e}"));
        for (path, l) in self.unix {
            addresses.push(format!("unix://{}", path.display()));
            server = server
                .listen_uds(l)
                .map_err(|e| bind_err(&path.display().to_string(), e))?;
            sockets.push(path);
        }
        for (text, l) in self.tcp {
            let local = l
                .local_addr()
                .map(|a| a.to_string())
                .unwrap_or_else(|_| text.clone());
            server = match &self.tls {
                Some(cfg) => {
                    addresses.push(format!("https://{local}"));
                    server
                        .listen_rustls_0_23(l, cfg.clone())
                        .map_err(|e| bind_err(&text, e))?
                }
                None => {
                    addresses.push(format!("http://{local}"));
                    server.listen(l).map_err(|e| bind_err(&text, e))?
                }
            };
        }
        let server = server.run();
        let handle = server.handle();
        actix_rt::spawn(async move {
            if let Err(e) = server.await {
                slog::error!(log, "API server ended with an error"; "error" => e.to_string());
            }
        });
        Ok(ApiHandle {
            server: handle,
            sockets,
            addresses,
        })
    }
}

/// `bind` + `serve`.
pub async fn start(
    settings: ApiSettings,
    backend: ApiBackend,
    log: slog::Logger,
) -> Result<ApiHandle, ApiError> {
    bind(settings)?.serve(backend, log)
}
