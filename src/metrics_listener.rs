//! The metrics-only listener (`metrics.listen: host:port`, SPEC 7 and 9): a
//! small actix-web server that answers the metrics path and nothing else,
//! for Prometheus to scrape without access to the API. It shares the API's
//! live settings (so `metrics.auth`, `metrics.path` and tokens follow a
//! reload), the API's TLS configuration (`api.tls`), the browser-safety
//! checks, and the scope filter. A non-loopback bind without TLS and
//! `metrics.auth` (with `api.auth`) is refused at start, like the API's
//! insecure-listener rule, unless `api.insecure: true`.

use crate::api::{self, listen, ApiBackend, ApiError};
use actix_web::{web, App, HttpServer};
use oneinit_actors::model::config::{ApiConfig, MetricsConfig};
use std::net::{SocketAddr, TcpListener};

/// The metrics listener, bound and checked, not yet serving.
pub struct BoundMetrics {
    listener: TcpListener,
    pub addr: SocketAddr,
}

/// Checks the rule and binds `metrics.listen` (port 0 picks one).
pub fn bind(metrics: &MetricsConfig, api: &ApiConfig) -> Result<Option<BoundMetrics>, ApiError> {
    let Some(text) = metrics.listen.as_deref().filter(|_| metrics.enabled) else {
        return Ok(None);
    };
    let addr = listen::ListenAddr::parse_as("metrics.listen", text)?;
    if addr.is_public_tcp() && !api.insecure {
        let has_auth = metrics.auth && api.auth.is_some();
        if api.tls.is_none() || !has_auth {
            return Err(ApiError::Config(format!(
                "metrics.listen {text}: refusing a non-loopback listener without {}; configure \
                 api.tls, api.auth and metrics.auth: true, listen on 127.0.0.1, or set api.insecure: true",
                match (api.tls.is_some(), has_auth) {
                    (false, false) => "TLS and auth",
                    (false, true) => "TLS",
                    _ => "auth (metrics.auth with api.auth)",
                }
            )));
        }
    }
    let listen::ListenAddr::Tcp { addrs, .. } = addr else {
        return Err(ApiError::Config(format!(
            "metrics.listen {text}: give host:port (a unix socket is not supported here)"
        )));
    };
    let listener = TcpListener::bind(&addrs[..]).map_err(|e| {
        ApiError::Bind(format!(
            "metrics.listen {text}: cannot listen: {e}; choose a free host:port"
        ))
    })?;
    let addr = listener
        .local_addr()
        .map_err(|e| ApiError::Bind(format!("metrics.listen {text}: {e}")))?;
    Ok(Some(BoundMetrics { listener, addr }))
}

impl BoundMetrics {
    /// Serves the live metrics path on the current actix system. Answers
    /// `https://ADDR` or `http://ADDR`.
    pub fn serve(
        self,
        bound_api: &api::BoundApi,
        backend: ApiBackend,
        log: slog::Logger,
    ) -> std::io::Result<String> {
        let state = bound_api.app_state(backend, "metrics", log.clone());
        let server = HttpServer::new(move || {
            App::new()
                .app_data(state.clone())
                .wrap(actix_web::middleware::from_fn(api::guard::browser_safety))
                .default_service(web::to(api::routes::metrics_only))
        })
        .workers(1)
        .max_connections(api::connection_cap())
        .client_request_timeout(api::HEADER_TIMEOUT)
        .keep_alive(api::KEEP_ALIVE)
        // oneinit owns every signal (PID 1); the server must not install handlers.
        .disable_signals()
        .shutdown_timeout(1)
        .on_connect(api::conn::on_connect_uncounted);
        let (server, url) = match bound_api.tls_config() {
            Some(cfg) => (
                server.listen_rustls_0_23(self.listener, cfg)?,
                format!("https://{}", self.addr),
            ),
            None => (
                server.listen(self.listener)?,
                format!("http://{}", self.addr),
            ),
        };
        api::spawn_server(server.run(), "metrics", log);
        Ok(url)
    }
}
