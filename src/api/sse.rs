//! Server-Sent Events: log follow (the tail, then live lines) and the state
//! change feed. One JSON object per `data:` line. A keep-alive comment is
//! sent every 15 s; the timer lives inside the stream, so it exists only
//! while a client is connected (actix drops the stream on disconnect).

use super::auth::Principal;
use actix_web::web::Bytes;
use actix_web::HttpResponse;
use futures_util::stream::{self, Stream};
use oneinit_actors::model::view::{LogLine, StateChanged, Stream as LogStream};
use std::collections::VecDeque;
use std::time::Duration;
use tokio::sync::broadcast::{self, error::RecvError};

const KEEP_ALIVE: Duration = Duration::from_secs(15);

type Chunk = Result<Bytes, actix_web::Error>;

pub fn response<S>(body: S) -> HttpResponse
where
    S: Stream<Item = Chunk> + 'static,
{
    HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header(("Cache-Control", "no-cache"))
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(body)
}

fn data<T: serde::Serialize>(item: &T) -> Option<Bytes> {
    serde_json::to_string(item)
        .ok()
        .map(|json| Bytes::from(format!("data: {json}\n\n")))
}

struct Feed<T, F> {
    pending: VecDeque<Bytes>,
    rx: broadcast::Receiver<T>,
    keep_alive: tokio::time::Interval,
    render: F,
}

/// `initial` first, then every item `render` keeps, with keep-alives.
fn feed<T, F>(
    initial: Vec<Bytes>,
    rx: broadcast::Receiver<T>,
    render: F,
) -> impl Stream<Item = Chunk>
where
    T: Clone + Send + 'static,
    F: FnMut(T) -> Option<Bytes> + 'static,
{
    let start = tokio::time::Instant::now() + KEEP_ALIVE;
    let state = Feed {
        pending: initial.into(),
        rx,
        keep_alive: tokio::time::interval_at(start, KEEP_ALIVE),
        render,
    };
    stream::unfold(state, |mut st| async move {
        loop {
            if let Some(chunk) = st.pending.pop_front() {
                return Some((Ok(chunk), st));
            }
            tokio::select! {
                item = st.rx.recv() => match item {
                    Ok(v) => {
                        if let Some(chunk) = (st.render)(v) {
                            return Some((Ok(chunk), st));
                        }
                    }
                    Err(RecvError::Lagged(n)) => {
                        let note = Bytes::from(format!(": {n} items skipped (client too slow)\n\n"));
                        return Some((Ok(note), st));
                    }
                    Err(RecvError::Closed) => return None,
                },
                _ = st.keep_alive.tick() => {
                    return Some((Ok(Bytes::from_static(b": keep-alive\n\n")), st));
                }
            }
        }
    })
}

/// Log follow: `tail` (read after subscribing), then live lines not already
/// in it, filtered by stream.
pub fn log_stream(
    tail: Vec<LogLine>,
    rx: broadcast::Receiver<LogLine>,
    only: Option<LogStream>,
) -> impl Stream<Item = Chunk> {
    let last_ts = tail.last().map(|l| l.ts);
    // Lines at the boundary timestamp may be both in the tail and live.
    let mut boundary: Vec<LogLine> = tail
        .iter()
        .filter(|l| Some(l.ts) == last_ts)
        .cloned()
        .collect();
    let mut initial: Vec<Bytes> = vec![Bytes::from_static(b": following\n\n")];
    initial.extend(tail.iter().filter_map(data));
    feed(initial, rx, move |line: LogLine| {
        if only.is_some_and(|s| s != line.stream) {
            return None;
        }
        if let Some(ts) = last_ts {
            if line.ts < ts {
                return None;
            }
            if let Some(i) = boundary.iter().position(|b| *b == line) {
                boundary.remove(i);
                return None;
            }
        }
        data(&line)
    })
}

/// The state-change feed, limited to what the caller may see.
pub fn event_stream(
    rx: broadcast::Receiver<StateChanged>,
    who: Principal,
) -> impl Stream<Item = Chunk> {
    let initial = vec![Bytes::from_static(b": events\n\n")];
    feed(initial, rx, move |ev: StateChanged| {
        if who.can_see(&ev.service) {
            data(&ev)
        } else {
            None
        }
    })
}
