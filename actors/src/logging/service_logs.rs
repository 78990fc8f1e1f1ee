//! Everything that happens to the captured lines of one service: the
//! in-memory ring the API serves, the live feed for `follow=true`, the
//! optional file, the drop counter and its `dropped` records. Shared (Arc)
//! between the pipe readers (`capture.rs`, which does the per-line work a
//! whole pipe read at a time) and the ServiceManager, so reading logs never
//! goes through an actor's mailbox.

use super::ring::{LineRing, LogTail};
use super::sink::LogSink;
use crate::feed::Feed;
use crate::model::config::{LogFormat, OnFull};
use crate::model::view::{LogLine, Stream};
use slog::{o, warn, Logger};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};
use tokio::sync::{broadcast, oneshot};

/// `dropped` records of one service come at most this often.
pub const REPORT_EVERY: Duration = Duration::from_secs(1);

/// A per-service file copy of the output (`logs.file`), written off the
/// supervisor's thread.
pub trait LineFile: Send + Sync {
    /// Appends whole records (each ending in a newline); answers how many
    /// could not be written.
    fn append(&self, records: &[u8]) -> u64;
    /// Closes and reopens the file at its path (SIGUSR1).
    fn reopen(&self);
    /// Writes out what `append` buffered (called when the pipe is empty,
    /// so a burst of lines costs few writes, and nothing waits in a
    /// buffer); answers how many records were lost.
    fn flush(&self) -> u64;
}

/// Drops not reported yet in a `dropped` record.
#[derive(Default)]
struct DropReport {
    unreported: u64,
    last: Option<Instant>,
}

/// A pipe reader's side of "tell me once you have read everything that
/// is in the pipe now" (see `ServiceLogs::drained`).
pub(crate) struct DrainPoint {
    pub instance: u64,
    pub pid: i32,
    pub waiters: Mutex<Vec<oneshot::Sender<()>>>,
    /// The thread the reader reads on, where a request resumes it.
    pub arbiter: actix::ArbiterHandle,
    /// Its number among the thread's parked readers while it is parked
    /// (`capture::NOT_PARKED` otherwise); written on that thread only.
    pub parked: AtomicUsize,
}

pub struct ServiceLogs {
    pub service: String,
    pub(crate) format: LogFormat,
    pub(crate) on_full: OnFull,
    pub(crate) ring: Arc<Mutex<LineRing>>,
    /// `follow=true` readers; most services are never followed.
    pub(crate) live: Mutex<Feed<LogLine>>,
    pub(crate) sink: LogSink,
    file: Mutex<Option<Box<dyn LineFile>>>,
    /// Lines that missed stdout (drop mode, stuck stdout) or the file.
    pub dropped: AtomicU64,
    /// Lines captured in total.
    pub lines: AtomicU64,
    /// Pipe readers still reading (so shutdown can wait for the last lines).
    readers: AtomicUsize,
    report: Mutex<DropReport>,
    log: Logger,
    drains: Mutex<Vec<Weak<DrainPoint>>>,
}

impl ServiceLogs {
    /// `ring`: lines kept for the API; 1 MiB at most (`with_limits`).
    pub fn new(service: &str, ring: usize, format: LogFormat, sink: LogSink) -> ServiceLogs {
        ServiceLogs {
            service: service.to_string(),
            format,
            on_full: OnFull::Block,
            // Grows as lines come; a quiet service costs nothing.
            ring: Arc::new(Mutex::new(LineRing::new(ring, 1024 * 1024))),
            live: Mutex::new(Feed::new(1024)),
            sink,
            file: Mutex::new(None),
            dropped: AtomicU64::new(0),
            lines: AtomicU64::new(0),
            readers: AtomicUsize::new(0),
            report: Mutex::new(DropReport::default()),
            log: Logger::root(slog::Discard, o!()),
            drains: Mutex::new(Vec::new()),
        }
    }

    /// `logs.ring`, `logs.buffer` and `logs.on_full`.
    pub fn with_limits(mut self, ring: usize, buffer: u64, on_full: OnFull) -> ServiceLogs {
        let bytes = usize::try_from(buffer).unwrap_or(usize::MAX);
        // In place: a new Arc would leave the first one's 0.1 KiB as a
        // hole among what is allocated next, once per service.
        if let Ok(mut r) = self.ring.lock() {
            *r = LineRing::new(ring, bytes);
        }
        self.on_full = on_full;
        self
    }

    /// Where `dropped` records go (oneinit's log, with `service`).
    pub fn with_log(mut self, log: Logger) -> ServiceLogs {
        self.log = log;
        self
    }

    /// Sets (or clears) the persisted copy.
    pub fn set_file(&self, file: Option<Box<dyn LineFile>>) {
        if let Ok(mut f) = self.file.lock() {
            *f = file;
        }
    }

    /// Pipe readers of this service that have not reached EOF yet.
    pub fn open_readers(&self) -> usize {
        self.readers.load(Ordering::Acquire)
    }

    pub(crate) fn reader_opened(&self, point: &Arc<DrainPoint>) {
        self.readers.fetch_add(1, Ordering::AcqRel);
        if let Ok(mut d) = self.drains.lock() {
            d.retain(|w| w.strong_count() > 0);
            d.push(Arc::downgrade(point));
        }
    }

    pub(crate) fn reader_closed(&self) {
        self.readers.fetch_sub(1, Ordering::AcqRel);
    }

    /// Resolves once the readers of `instance`'s process `pid` have read
    /// everything that is in its pipes now (or reached EOF), so the lines a
    /// process wrote before it exited are logged before its exit is.
    pub fn drained(&self, instance: u64, pid: i32) -> impl std::future::Future<Output = ()> {
        let mut pending = Vec::new();
        if let Ok(d) = self.drains.lock() {
            for point in d.iter().filter_map(Weak::upgrade) {
                if point.instance == instance && point.pid == pid {
                    let (tx, rx) = oneshot::channel();
                    if let Ok(mut w) = point.waiters.lock() {
                        w.push(tx);
                    }
                    // Resumes the reader if it is parked; if the thread is
                    // gone, the reader is too, and `rx` says so.
                    let p = point.clone();
                    point
                        .arbiter
                        .spawn_fn(move || super::capture::resume_for_drain(&p));
                    pending.push(rx);
                }
            }
        }
        async move {
            for rx in pending {
                // An error means the reader ended: drained as well.
                let _ = rx.await;
            }
        }
    }

    pub(crate) fn has_file(&self) -> bool {
        self.file.lock().is_ok_and(|f| f.is_some())
    }

    /// Writes records to the file, if any; answers how many failed.
    pub(crate) fn append_file(&self, records: &[u8]) -> u64 {
        if records.is_empty() {
            return 0;
        }
        match self.file.lock() {
            Ok(f) => f.as_ref().map_or(0, |file| file.append(records)),
            Err(_) => 0,
        }
    }

    /// Flushes the persisted copy, if any; lines lost are counted.
    pub fn flush_file(&self) {
        let lost = match self.file.lock() {
            Ok(f) => f.as_ref().map_or(0, |file| file.flush()),
            Err(_) => 0,
        };
        self.count_dropped(lost, false);
    }

    /// Reopens the persisted copy, if any (SIGUSR1, external rotation).
    pub fn reopen_file(&self) {
        if let Ok(f) = self.file.lock() {
            if let Some(file) = f.as_ref() {
                file.reopen();
            }
        }
    }

    pub(crate) fn ring(&self) -> Option<MutexGuard<'_, LineRing>> {
        self.ring.lock().ok()
    }

    /// Counts `n` dropped lines (`stuck`: stdout was stuck, which the sink
    /// warns about too) and reports them when a report is due.
    pub(crate) fn count_dropped(&self, n: u64, stuck: bool) {
        if n == 0 {
            return;
        }
        self.dropped.fetch_add(n, Ordering::Relaxed);
        if stuck {
            self.sink.count_stuck_drops(n);
        }
        if let Ok(mut r) = self.report.lock() {
            r.unreported += n;
        }
        self.report_dropped(false);
    }

    /// Writes a `dropped` record if lines were dropped since the last one
    /// and the last one is REPORT_EVERY old (or `now`: a reader ended).
    /// Answers how long until a report is due, if one is pending.
    pub(crate) fn report_dropped(&self, force: bool) -> Option<Duration> {
        let Ok(mut r) = self.report.lock() else {
            return None;
        };
        if r.unreported == 0 {
            return None;
        }
        let since = r.last.map(|t| t.elapsed());
        if !force && since.is_some_and(|s| s < REPORT_EVERY) {
            return since.map(|s| REPORT_EVERY - s);
        }
        let count = std::mem::take(&mut r.unreported);
        r.last = Some(Instant::now());
        drop(r);
        let mode = match self.on_full {
            OnFull::Drop => "logs.on_full is drop",
            OnFull::Block => "stdout or the log file could not take them",
        };
        warn!(self.log, "output lines dropped ({mode})"; "event" => "dropped", "count" => count);
        None
    }

    /// The last `tail` lines (all kept when None), oldest first, collected.
    pub fn tail(&self, tail: Option<usize>, stream: Option<Stream>) -> Vec<LogLine> {
        self.tail_reader(tail, stream).collect_all()
    }

    /// The last `tail` lines, to be read a batch at a time.
    pub fn tail_reader(&self, tail: Option<usize>, stream: Option<Stream>) -> LogTail {
        LogTail::of_ring(self.ring.clone(), tail, stream)
    }

    pub fn subscribe(&self) -> broadcast::Receiver<LogLine> {
        match self.live.lock() {
            Ok(mut live) => live.subscribe(),
            // A poisoned lock only means a reader panicked; give a live but
            // silent feed rather than fail the request.
            Err(_) => broadcast::channel(1).1,
        }
    }
}
