//! `GET /v1/services/{name}/logs`: the ring buffer's tail as JSON,
//! streamed a batch at a time, or with `follow=true` as Server-Sent Events.

use super::{ask, scoped};
use crate::api::error::HttpError;
use crate::api::{sse, AppState};
use actix_web::{web, HttpRequest, HttpResponse};
use oneinit_actors::logging::ring::LogTail;
use oneinit_actors::model::config::Role;
use oneinit_actors::model::view::Stream;
use oneinit_actors::service_manager::messages::{GetLogs, SubscribeLogs};
use serde::Deserialize;

/// Upper bound for `?tail=` (documented as the schema's maximum).
const MAX_TAIL: usize = 1_000_000_000;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct LogsQuery {
    #[serde(default)]
    tail: Option<usize>,
    #[serde(default)]
    stream: Option<String>,
    #[serde(default)]
    follow: Option<bool>,
}

pub(super) async fn logs(
    req: HttpRequest,
    st: web::Data<AppState>,
    name: web::Path<String>,
    q: web::Query<LogsQuery>,
) -> Result<HttpResponse, HttpError> {
    scoped(&req, &st, Role::Viewer, &name)?;
    let name = name.into_inner();
    let slot = match q.follow {
        Some(true) => Some(st.sse.enter()?),
        _ => None,
    };
    let stream = match q.stream.as_deref() {
        None => None,
        Some("stdout") => Some(Stream::Stdout),
        Some("stderr") => Some(Stream::Stderr),
        Some(other) => {
            return Err(HttpError::bad_request(format!(
                "stream={other}: use stdout or stderr"
            )))
        }
    };
    if q.tail.is_some_and(|t| t > MAX_TAIL) {
        return Err(HttpError::bad_request(format!(
            "tail must be at most {MAX_TAIL} (the ring buffer is never larger)"
        )));
    }
    // Follow: subscribe first, then read the tail, so nothing falls between.
    let live = if q.follow.unwrap_or(false) {
        Some(
            ask(
                &st.backend.subscribe_logs,
                SubscribeLogs { name: name.clone() },
            )
            .await??,
        )
    } else {
        None
    };
    let tail = ask(
        &st.backend.get_logs,
        GetLogs {
            name: name.clone(),
            tail: q.tail,
            stream,
        },
    )
    .await??;
    match (live, slot) {
        (Some(rx), Some(slot)) => Ok(sse::response(sse::log_stream(
            slot,
            tail.collect_all(),
            rx,
            stream,
        ))),
        _ => Ok(HttpResponse::Ok()
            .content_type("application/json")
            .streaming(lines_body(tail))),
    }
}

/// `{"lines":[...]}`, written a batch of lines at a time as the client
/// reads: memory per request stays at one batch, whatever the ring holds.
fn lines_body(
    tail: LogTail,
) -> impl futures_util::Stream<Item = Result<actix_web::web::Bytes, actix_web::Error>> {
    enum At {
        Start,
        Lines { first: bool },
        Done,
    }
    futures_util::stream::unfold((tail, At::Start), |(mut tail, at)| async move {
        let (chunk, next) = match at {
            At::Start => (b"{\"lines\":[".to_vec(), At::Lines { first: true }),
            At::Lines { first } => {
                let batch = tail.next_batch();
                if batch.is_empty() {
                    (b"]}".to_vec(), At::Done)
                } else {
                    let mut out = Vec::with_capacity(batch.len() * 96);
                    for (i, line) in batch.iter().enumerate() {
                        if !(first && i == 0) {
                            out.push(b',');
                        }
                        if serde_json::to_writer(&mut out, line).is_err() {
                            return None;
                        }
                    }
                    (out, At::Lines { first: false })
                }
            }
            At::Done => return None,
        };
        Some((Ok(actix_web::web::Bytes::from(chunk)), (tail, next)))
    })
}
