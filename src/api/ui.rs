//! The dashboard at `/ui/`: one HTML page, one script and one stylesheet,
//! embedded in the binary (no CDN, no build step). The page uses only the
//! public API plus `/ui/session` (who am I: role, scope, version), so the
//! same auth and RBAC apply. Served with a strict Content-Security-Policy:
//! no inline script or style, nothing loaded from elsewhere.

use super::error::HttpError;
use super::AppState;
use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use oneinit_actors::model::config::Role;
use std::sync::OnceLock;
use std::time::Instant;

const INDEX: &str = include_str!("ui/index.html");
const APP_JS: &str = include_str!("ui/app.js");
const STYLE: &str = include_str!("ui/style.css");

const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; \
img-src 'self' data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// When the dashboard was registered (server start): the supervisor's uptime.
static STARTED: OnceLock<Instant> = OnceLock::new();

/// Registers the dashboard routes; call before the API's catch-all.
pub fn configure(cfg: &mut web::ServiceConfig) {
    STARTED.get_or_init(Instant::now);
    cfg.route("/ui", web::get().to(redirect))
        .route(
            "/ui/",
            web::get().to(|| async { asset(INDEX, "text/html; charset=utf-8") }),
        )
        .route(
            "/ui/app.js",
            web::get().to(|| async { asset(APP_JS, "text/javascript; charset=utf-8") }),
        )
        .route(
            "/ui/style.css",
            web::get().to(|| async { asset(STYLE, "text/css; charset=utf-8") }),
        )
        .route("/ui/session", web::get().to(session));
}

fn asset(body: &'static str, content_type: &str) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, content_type))
        .insert_header((header::CONTENT_SECURITY_POLICY, CSP))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        .insert_header((header::X_FRAME_OPTIONS, "DENY"))
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .body(body)
}

async fn redirect() -> HttpResponse {
    HttpResponse::PermanentRedirect()
        .insert_header((header::LOCATION, "/ui/"))
        .finish()
}

/// `{"role", "services", "version", "uptime_seconds"}` of the caller.
async fn session(req: HttpRequest, st: web::Data<AppState>) -> Result<HttpResponse, HttpError> {
    let who = st.live.current().auth.authenticate(&req)?;
    let role = match who.role {
        Role::Viewer => "viewer",
        Role::Operator => "operator",
        Role::Admin => "admin",
    };
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(serde_json::json!({
            "name": who.name,
            "role": role,
            "services": who.services,
            "version": env!("CARGO_PKG_VERSION"),
            "uptime_seconds": STARTED.get().map(|t| t.elapsed().as_secs_f64()).unwrap_or(0.0),
        })))
}
