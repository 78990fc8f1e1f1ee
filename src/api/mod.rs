//! The HTTP API of SPEC 4 on actix-web: listeners (unix sockets and TCP,
//! optionally TLS/mTLS), authentication and roles, the routes, Server-Sent
//! Events, and the OpenAPI document. It reaches the supervisor only through
//! the typed messages in `ApiBackend`.
//!
//! Use: `bind(settings)` early (errors are config errors: exit 2 before any
//! service starts), then `BoundApi::serve(backend, log)` inside the actix
//! system; or `start(...)` for both. `ApiHandle::stop` shuts it down.
//!
//! Starvation limits (issue 15): unix-socket listeners and TCP listeners are
//! served by two separate servers, each with its own connection cap, so a
//! flood on TCP never locks the local admin out of the socket. The caps
//! follow the open-file limit (a quarter of it each, see `connection_cap`),
//! so connections alone can never exhaust the descriptors that spawning
//! services needs. Request heads must arrive within `HEADER_TIMEOUT`, a
//! body within `BODY_TIMEOUT`; idle keep-alive connections close after
//! `KEEP_ALIVE`. Server-Sent Event streams are capped per server too
//! (`sse::SseLimit`). actix-server backs off 510 ms when accept() fails
//! (EMFILE/ENFILE); `accept_log` reports it once.

pub mod accept_log;
pub mod auth;
pub mod backend;
pub mod conn;
mod control;
pub mod error;
pub mod guard;
pub mod listen;
pub mod live;
pub mod openapi;
pub mod routes;
pub mod scope;
pub mod sse;
pub mod tls;
pub mod ui;

pub use backend::ApiBackend;

use actix_web::{web, App, HttpServer};
use conn::ConnCounter;
use listen::ListenAddr;
use live::{Live, LiveControl};
use oneinit_actors::model::config::{ApiConfig, MetricsConfig};
use oneinit_actors::sys::priority;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Largest accepted request body (only `signal` takes one, a few bytes).
pub const BODY_LIMIT: usize = 64 * 1024;
/// The request line and headers must arrive within this.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(5);
/// A request body must arrive within this (`signal`'s few bytes).
pub const BODY_TIMEOUT: Duration = Duration::from_secs(5);
/// An idle keep-alive connection is closed after this.
pub const KEEP_ALIVE: Duration = Duration::from_secs(15);
/// The most connections one server (unix or TCP) keeps open.
pub const MAX_CONNECTIONS: usize = 256;
/// The fewest, whatever the open-file limit.
const MIN_CONNECTIONS: usize = 4;

/// Connections one server may keep open: `MAX_CONNECTIONS`, but at most a
/// quarter of the soft open-file limit, so that the two servers together
/// leave half of the descriptors to services (pipes, sockets, log files).
pub fn connection_cap() -> usize {
    let soft = nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE)
        .map(|(soft, _)| soft)
        .unwrap_or(1024);
    let quarter = usize::try_from(soft / 4).unwrap_or(MAX_CONNECTIONS);
    quarter.clamp(MIN_CONNECTIONS, MAX_CONNECTIONS)
}

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
    /// A listen address: invalid, refused (insecure), or not bindable.
    #[error(transparent)]
    Listen(#[from] listen::ListenError),
    /// The `api.tls` files.
    #[error(transparent)]
    Tls(#[from] tls::TlsError),
    /// The token secrets of `api.auth`.
    #[error(transparent)]
    Auth(#[from] auth::AuthError),
}

/// Shared by every request handler of one server.
pub(crate) struct AppState {
    pub backend: ApiBackend,
    /// Auth, allowed hosts and metrics settings; swapped by a reload.
    pub live: Arc<LiveControl>,
    /// Server-Sent Event streams open on this server.
    pub sse: Arc<sse::SseLimit>,
    pub log: slog::Logger,
}

/// Listeners bound and settings checked, not yet serving.
pub struct BoundApi {
    settings: ApiSettings,
    live: Arc<LiveControl>,
    tls: Option<rustls::ServerConfig>,
    unix: Vec<(PathBuf, std::os::unix::net::UnixListener)>,
    tcp: Vec<(String, std::net::TcpListener)>,
}

/// A running API; `stop` ends it gracefully within a bound.
pub struct ApiHandle {
    servers: Vec<actix_web::dev::ServerHandle>,
    /// The live settings, for the reload hook (`LiveControl::apply`).
    pub live: Arc<LiveControl>,
    /// Open-connection counters (unix server, TCP server), for metrics.
    pub counters: Vec<Arc<ConnCounter>>,
    /// SSE limits (unix server, TCP server), for metrics.
    pub sse: Vec<Arc<sse::SseLimit>>,
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
        let graceful = futures_util::future::join_all(self.servers.iter().map(|s| s.stop(true)));
        if tokio::time::timeout(grace, graceful).await.is_err() {
            // Not done in time: stop without waiting any longer.
            let now = futures_util::future::join_all(self.servers.iter().map(|s| s.stop(false)));
            let _ = tokio::time::timeout(Duration::from_millis(500), now).await;
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
        out.push(ListenAddr::parse(t)?);
    }
    Ok(out)
}

/// Checks the settings and binds every listener. Nothing is served yet.
pub fn bind(settings: ApiSettings) -> Result<BoundApi, ApiError> {
    let api = &settings.api;
    let live = Live::new(api, &settings.metrics)?;
    let addrs = listen_addresses(&settings)?;
    for a in &addrs {
        listen::check_secure(a, api.tls.is_some(), api.auth.is_some(), api.insecure)?;
    }
    let client_auth = api.auth.as_ref().and_then(|a| a.client_auth);
    let (tls, reloadable) = match &api.tls {
        Some(t) => {
            let (config, reloadable) = tls::server_config(t, client_auth)?;
            (Some(config), Some(reloadable))
        }
        None => (None, None),
    };
    let live = Arc::new(LiveControl::new(
        live,
        api.clone(),
        settings.metrics.clone(),
        reloadable,
    ));
    let mut unix = Vec::new();
    let mut tcp = Vec::new();
    for a in addrs {
        match a {
            ListenAddr::Unix(path) => {
                let l = listen::bind_unix(&path)?;
                unix.push((path, l));
            }
            ListenAddr::Tcp { text, addrs } => {
                for l in listen::bind_tcp(&text, &addrs)? {
                    tcp.push((text.clone(), l));
                }
            }
        }
    }
    Ok(BoundApi {
        settings,
        live,
        tls,
        unix,
        tcp,
    })
}

impl BoundApi {
    /// The live settings (for the reload hook), before serving.
    pub fn live(&self) -> Arc<LiveControl> {
        self.live.clone()
    }

    /// The TLS configuration of the TCP listeners (shared, reloadable).
    pub fn tls_config(&self) -> Option<rustls::ServerConfig> {
        self.tls.clone()
    }

    /// Request-handler state for a server of its own (the metrics
    /// listener): the same live settings, its own event-stream limit.
    pub(crate) fn app_state(
        &self,
        backend: ApiBackend,
        what: &'static str,
        log: slog::Logger,
    ) -> web::Data<AppState> {
        web::Data::new(AppState {
            backend,
            live: self.live.clone(),
            sse: sse::SseLimit::new(what, 2, log.clone()),
            log,
        })
    }

    /// Builds, binds and starts one actix server over a group of
    /// listeners, with its own connection cap and SSE limit.
    fn run_group(
        &self,
        group: Group,
        backend: &ApiBackend,
        log: &slog::Logger,
        out: &mut ApiHandle,
    ) -> Result<(), ApiError> {
        let what = match group {
            Group::Unix(_) => "unix",
            Group::Tcp(_) => "tcp",
        };
        let cap = connection_cap();
        let counter = ConnCounter::new(what, cap, log.clone());
        let sse = sse::SseLimit::new(what, (cap / 2).max(2), log.clone());
        let state = web::Data::new(AppState {
            backend: backend.clone(),
            live: self.live.clone(),
            sse: sse.clone(),
            log: log.clone(),
        });
        let metrics = self.settings.metrics.clone();
        let with_ui = self.settings.api.ui;
        let conn_counter = counter.clone();
        let mut server = HttpServer::new(move || {
            App::new()
                .app_data(state.clone())
                .wrap(actix_web::middleware::from_fn(guard::browser_safety))
                .configure(|cfg| {
                    if with_ui {
                        ui::configure(cfg);
                    }
                    routes::configure(cfg, &metrics)
                })
        })
        .workers(self.settings.workers.max(1))
        .max_connections(cap)
        .client_request_timeout(HEADER_TIMEOUT)
        .client_disconnect_timeout(Duration::from_secs(1))
        .keep_alive(KEEP_ALIVE)
        .disable_signals()
        .shutdown_timeout(5)
        .on_connect(move |conn, ext| conn::on_connect(&conn_counter, conn, ext));
        let bind_err = |what: &str, e: std::io::Error| ApiError::Bind(format!("{what}: {e}"));
        match group {
            Group::Unix(listeners) => {
                for (path, l) in listeners {
                    let shown = path.display().to_string();
                    out.addresses.push(format!("unix://{shown}"));
                    server = server.listen_uds(l).map_err(|e| bind_err(&shown, e))?;
                    out.sockets.push(path);
                }
            }
            Group::Tcp(listeners) => {
                for (text, l) in listeners {
                    let local = l
                        .local_addr()
                        .map(|a| a.to_string())
                        .unwrap_or_else(|_| text.clone());
                    server = match &self.tls {
                        Some(cfg) => {
                            out.addresses.push(format!("https://{local}"));
                            server
                                .listen_rustls_0_23(l, cfg.clone())
                                .map_err(|e| bind_err(&text, e))?
                        }
                        None => {
                            out.addresses.push(format!("http://{local}"));
                            server.listen(l).map_err(|e| bind_err(&text, e))?
                        }
                    };
                }
            }
        }
        let server = server.run();
        out.servers.push(server.handle());
        spawn_server(server, "API", log.clone());
        self.live.register_limits(counter.clone(), sse.clone());
        out.counters.push(counter);
        out.sse.push(sse);
        Ok(())
    }

    /// Starts serving on the bound listeners (inside an actix system).
    pub fn serve(mut self, backend: ApiBackend, log: slog::Logger) -> Result<ApiHandle, ApiError> {
        let mut out = ApiHandle {
            servers: Vec::new(),
            live: self.live.clone(),
            counters: Vec::new(),
            sse: Vec::new(),
            sockets: Vec::new(),
            addresses: Vec::new(),
        };
        let unix = std::mem::take(&mut self.unix);
        if !unix.is_empty() {
            self.run_group(Group::Unix(unix), &backend, &log, &mut out)?;
        }
        let tcp = std::mem::take(&mut self.tcp);
        if !tcp.is_empty() {
            self.run_group(Group::Tcp(tcp), &backend, &log, &mut out)?;
        }
        Ok(out)
    }
}

/// Runs an actix server whose threads start `API_NICE` levels above
/// oneinit (`sys::priority`): the server makes its acceptor and workers
/// (and restarts a failed worker) while it is polled, and each poll runs
/// with this thread raised and put back after, so those threads start
/// raised and stay so. Under a storm of busy services, operators and
/// probes are answered without waiting for a CPU. Without CAP_SYS_NICE
/// the threads run at oneinit's own priority, said once at `info`.
pub(crate) fn spawn_server(
    mut server: actix_web::dev::Server,
    what: &'static str,
    log: slog::Logger,
) {
    actix_rt::spawn(async move {
        let ended = std::future::poll_fn(|cx| {
            let (poll, raised) = priority::with_this_thread_at(priority::API_NICE, || {
                std::future::Future::poll(std::pin::Pin::new(&mut server), cx)
            });
            if let Err(e) = raised {
                static SAID: std::sync::Once = std::sync::Once::new();
                SAID.call_once(|| {
                    slog::info!(log, "the API and metrics threads run at oneinit's own priority";
                        "reason" => format!("cannot raise them by {} nice levels: {e}; grant CAP_SYS_NICE (e.g. docker run --cap-add SYS_NICE) so that busy services do not delay API answers and probes", -priority::API_NICE));
                });
            }
            poll
        })
        .await;
        if let Err(e) = ended {
            slog::error!(log, "{what} server ended with an error"; "error" => e.to_string());
        }
    });
}

/// The listeners one actix server serves.
enum Group {
    Unix(Vec<(PathBuf, std::os::unix::net::UnixListener)>),
    Tcp(Vec<(String, std::net::TcpListener)>),
}

/// `bind` + `serve`.
pub async fn start(
    settings: ApiSettings,
    backend: ApiBackend,
    log: slog::Logger,
) -> Result<ApiHandle, ApiError> {
    bind(settings)?.serve(backend, log)
}
