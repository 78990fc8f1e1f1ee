//! Server-Sent Events: log follow (the tail, then live lines) and the state
//! change feed. One JSON object per `data:` line. A keep-alive comment is
//! sent every 15 s; the timer lives inside the stream, so it exists only
//! while a client is connected (actix drops the stream on disconnect).
//! Open streams are capped per server (`SseLimit`): one over the cap is
//! answered 503 `too_many_subscribers`, counted and logged.

use super::auth::Principal;
use super::error::HttpError;
use actix_web::http::StatusCode;
use actix_web::web::Bytes;
use actix_web::HttpResponse;
use futures_util::stream::{self, Stream};
use oneinit_actors::model::view::{LogLine, StateChanged, Stream as LogStream};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast::{self, error::RecvError};

const KEEP_ALIVE: Duration = Duration::from_secs(15);

type Chunk = Result<Bytes, actix_web::Error>;

/// Open event streams of one server against its cap.
pub struct SseLimit {
    what: &'static str,
    pub cap: usize,
    open: AtomicUsize,
    /// Streams refused because the cap was reached.
    pub refused: AtomicU64,
    warned: AtomicBool,
    log: slog::Logger,
}

/// One open stream; released when the stream is dropped (client gone).
pub struct SseSlot(Arc<SseLimit>);

impl Drop for SseSlot {
    fn drop(&mut self) {
        if self.0.open.fetch_sub(1, Ordering::Relaxed) <= self.0.cap / 2 + 1 {
            self.0.warned.store(false, Ordering::Relaxed);
        }
    }
}

impl SseLimit {
    pub fn new(what: &'static str, cap: usize, log: slog::Logger) -> Arc<SseLimit> {
        Arc::new(SseLimit {
            what,
            cap,
            open: AtomicUsize::new(0),
            refused: AtomicU64::new(0),
            warned: AtomicBool::new(false),
            log,
        })
    }

    pub fn open(&self) -> usize {
        self.open.load(Ordering::Relaxed)
    }

    /// A slot for one more stream, or 503 when `cap` are open.
    pub fn enter(self: &Arc<Self>) -> Result<SseSlot, HttpError> {
        let taken = self
            .open
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                (n < self.cap).then_some(n + 1)
            });
        if taken.is_ok() {
            return Ok(SseSlot(self.clone()));
        }
        self.refused.fetch_add(1, Ordering::Relaxed);
        if !self.warned.swap(true, Ordering::Relaxed) {
            slog::warn!(self.log, "event stream refused: too many open streams";
                "listeners" => self.what, "cap" => self.cap);
        }
        Err(HttpError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "too_many_subscribers",
            format!(
                "{} event streams are already open on this listener; close one and retry",
                self.cap
            ),
        ))
    }
}

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
    /// Held while the stream lives.
    _slot: SseSlot,
    pending: VecDeque<Bytes>,
    rx: broadcast::Receiver<T>,
    keep_alive: tokio::time::Interval,
    render: F,
}

/// `initial` first, then every item `render` keeps, with keep-alives.
fn feed<T, F>(
    slot: SseSlot,
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
        _slot: slot,
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
    slot: SseSlot,
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
    feed(slot, initial, rx, move |line: LogLine| {
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
    slot: SseSlot,
    rx: broadcast::Receiver<StateChanged>,
    who: Principal,
) -> impl Stream<Item = Chunk> {
    let initial = vec![Bytes::from_static(b": events\n\n")];
    feed(slot, initial, rx, move |ev: StateChanged| {
        if who.can_see(&ev.service) {
            data(&ev)
        } else {
            None
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_over_the_cap_are_refused_counted_and_released() {
        let log = slog::Logger::root(slog::Discard, slog::o!());
        let limit = SseLimit::new("tcp", 2, log);
        let a = limit.enter().unwrap();
        let _b = limit.enter().unwrap();
        let e = limit.enter().err().unwrap();
        assert_eq!((e.status.as_u16(), e.code), (503, "too_many_subscribers"));
        assert_eq!(limit.refused.load(Ordering::Relaxed), 1);
        assert_eq!(limit.open(), 2);
        drop(a);
        assert_eq!(limit.open(), 1);
        assert!(limit.enter().is_ok());
    }
}
