//! The one HTTP error type of the API (SPEC 4): every failure, from a bad
//! query string to an unknown path, answers
//! `{"error": {"code": "...", "message": "..."}}` with a fitting status.
//! Also the extractor error handlers that route actix-web's own errors
//! (malformed JSON, oversized bodies, bad query strings) through it.

use actix_web::error::{JsonPayloadError, PathError, QueryPayloadError};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, ResponseError};
use oneinit_actors::service_manager::messages::ControlError;
use serde::{Deserialize, Serialize};
use std::fmt;

/// The body of every error answer.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
pub struct ErrorDetail {
    /// Stable, machine-readable: `not_found`, `unauthorized`, `forbidden`, ...
    pub code: String,
    /// One sentence for humans: what went wrong and what to do.
    pub message: String,
    /// Extra lines, e.g. every config error of a refused reload.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub details: Vec<String>,
}

/// An error answer of the API.
#[derive(Clone, Debug, PartialEq)]
pub struct HttpError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub details: Vec<String>,
}

impl HttpError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        HttpError {
            status,
            code,
            message: message.into(),
            details: Vec::new(),
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    pub fn no_such_service(name: &str) -> Self {
        Self::not_found(format!(
            "no such service: {name} (GET /v1/services lists the configured ones)"
        ))
    }

    /// The supervisor did not answer (mailbox closed or full).
    pub fn unavailable(what: &str) -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            format!("the supervisor did not answer {what}; it may be shutting down, retry later"),
        )
    }

    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            error: ErrorDetail {
                code: self.code.to_string(),
                message: self.message.clone(),
                details: self.details.clone(),
            },
        }
    }
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.status.as_u16(),
            self.code,
            self.message
        )
    }
}

impl ResponseError for HttpError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut resp = HttpResponse::build(self.status);
        if self.status == StatusCode::UNAUTHORIZED {
            resp.insert_header(("WWW-Authenticate", "Bearer"));
        }
        resp.json(self.body())
    }
}

impl From<ControlError> for HttpError {
    fn from(e: ControlError) -> Self {
        match e {
            ControlError::NotFound(name) => HttpError::no_such_service(&name),
            ControlError::Conflict(msg) => HttpError::new(StatusCode::CONFLICT, "conflict", msg),
            ControlError::TooMany(msg) => {
                HttpError::new(StatusCode::TOO_MANY_REQUESTS, "too_many", msg)
            }
            ControlError::ShuttingDown => HttpError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "shutting_down",
                "oneinit is shutting down; no new commands are accepted",
            ),
        }
    }
}

impl From<actix::MailboxError> for HttpError {
    fn from(_: actix::MailboxError) -> Self {
        HttpError::unavailable("in time")
    }
}

/// `web::JsonConfig` error handler: malformed JSON → 400, too big → 413.
pub fn json_error(err: JsonPayloadError, _req: &HttpRequest) -> actix_web::Error {
    let e = match &err {
        JsonPayloadError::Overflow { limit }
        | JsonPayloadError::OverflowKnownLength { limit, .. } => HttpError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("request body is larger than {limit} bytes; send a smaller JSON body"),
        ),
        JsonPayloadError::ContentType => HttpError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "the body must be JSON (Content-Type: application/json)",
        ),
        other => HttpError::bad_request(format!("malformed JSON body: {other}")),
    };
    e.into()
}

/// `web::QueryConfig` error handler: 400 naming the bad parameter.
pub fn query_error(err: QueryPayloadError, _req: &HttpRequest) -> actix_web::Error {
    HttpError::bad_request(format!("bad query string: {err}")).into()
}

/// `web::PathConfig` error handler.
pub fn path_error(err: PathError, _req: &HttpRequest) -> actix_web::Error {
    HttpError::bad_request(format!("bad path: {err}")).into()
}

/// The default service: an unknown path.
pub async fn unknown_path(req: HttpRequest) -> HttpResponse {
    HttpError::not_found(format!(
        "no such endpoint: {} {} (GET /v1/openapi.json lists them)",
        req.method(),
        req.path()
    ))
    .error_response()
}

/// The default service of each resource: a known path, another method.
/// `allow` lists the methods the path has (the `Allow` header of RFC 9110).
pub fn wrong_method(req: HttpRequest, allow: &str) -> HttpResponse {
    let mut resp = HttpError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!(
            "{} is not allowed on {}; use {allow}",
            req.method(),
            req.path()
        ),
    )
    .error_response();
    if let Ok(v) = actix_web::http::header::HeaderValue::from_str(allow) {
        resp.headers_mut().insert(actix_web::http::header::ALLOW, v);
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_errors_map_to_statuses() {
        let cases = [
            (ControlError::NotFound("x".into()), 404, "not_found"),
            (ControlError::Conflict("no".into()), 409, "conflict"),
            (ControlError::TooMany("full".into()), 429, "too_many"),
            (ControlError::ShuttingDown, 503, "shutting_down"),
        ];
        for (err, status, code) in cases {
            let e = HttpError::from(err);
            assert_eq!(e.status.as_u16(), status);
            assert_eq!(e.code, code);
        }
    }

    #[test]
    fn body_has_spec_shape() {
        let v = serde_json::to_value(HttpError::not_found("gone").body()).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"error": {"code": "not_found", "message": "gone"}})
        );
    }
}
