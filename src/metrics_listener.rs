//! The metrics-only listener (`metrics.listen: host:port`, SPEC 7): a tiny
//! actix-web server that answers the metrics path and nothing else, for
//! Prometheus to scrape without access to the API. The API serves the same
//! text on its own `/metrics`; both ask the MetricsExporter.

use actix::Addr;
use actix_web::{web, App, HttpResponse, HttpServer};
use oneinit_actors::metrics_exporter::messages::GatherMetrics;
use oneinit_actors::metrics_exporter::MetricsExporter;
use std::net::{SocketAddr, TcpListener};
use std::time::Duration;

/// Content type of the Prometheus text format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// A scrape waits this long for the exporter before answering 503.
const GATHER_TIMEOUT: Duration = Duration::from_secs(10);

/// Asks the exporter for the exposition; 503 when it does not answer.
pub async fn gather(exporter: &Addr<MetricsExporter>) -> HttpResponse {
    match tokio::time::timeout(GATHER_TIMEOUT, exporter.send(GatherMetrics)).await {
        Ok(Ok(text)) => HttpResponse::Ok().content_type(CONTENT_TYPE).body(text),
        _ => HttpResponse::ServiceUnavailable()
            .content_type("application/json")
            .body(
                r#"{"error": {"code": "unavailable", "message": "the metrics exporter did not answer in time; try again"}}"#,
            ),
    }
}

async fn metrics(exporter: web::Data<Addr<MetricsExporter>>) -> HttpResponse {
    gather(exporter.get_ref()).await
}

/// Binds `listen` (`host:port`; port 0 picks one) and starts serving `path`
/// on the current actix system. Returns the bound address.
pub fn serve(
    listen: &str,
    path: &str,
    exporter: Addr<MetricsExporter>,
) -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind(listen)?;
    let bound = listener.local_addr()?;
    let path = path.to_string();
    let data = web::Data::new(exporter);
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .route(&path, web::get().to(metrics))
    })
    .workers(1)
    // oneinit owns every signal (PID 1); the server must not install handlers.
    .disable_signals()
    .shutdown_timeout(1)
    .listen(listener)?
    .run();
    actix_rt::spawn(server);
    Ok(bound)
}
