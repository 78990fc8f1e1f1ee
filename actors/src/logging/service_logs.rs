//! Everything that happens to one captured line of one service: the
//! in-memory ring the API serves, the live feed for `follow=true`, the
//! shared output stream, and the drop counter. Shared (Arc) between the pipe
//! readers and the ServiceManager, so reading logs never goes through an
//! actor's mailbox.

use super::format_captured;
use super::sink::LogSink;
use crate::feed::Feed;
use crate::model::config::LogFormat;
use crate::model::view::{LogLine, Stream};
use chrono::Utc;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;
use tokio::sync::broadcast;

/// A per-service file copy of the output (`logs.file`), written off the
/// supervisor's thread.
pub trait LineFile: Send + Sync {
    /// Appends one formatted line; false when it could not be written.
    fn append(&self, line: &[u8]) -> bool;
    /// Closes and reopens the file at its path (SIGUSR1).
    fn reopen(&self);
    /// Writes out what `append` buffered (called once per pipe read, so a
    /// burst of lines costs one write, and nothing waits in a buffer).
    fn flush(&self);
}

pub struct ServiceLogs {
    pub service: String,
    format: LogFormat,
    ring: Mutex<VecDeque<LogLine>>,
    capacity: usize,
    /// `follow=true` readers; most services are never followed.
    live: Mutex<Feed<LogLine>>,
    sink: LogSink,
    file: Mutex<Option<Box<dyn LineFile>>>,
    /// Lines that could not reach the output stream (queue full).
    pub dropped: AtomicU64,
    /// Lines captured in total.
    pub lines: AtomicU64,
    /// Pipe readers still reading (so shutdown can wait for the last lines).
    readers: AtomicUsize,
}

impl ServiceLogs {
    pub fn new(service: &str, capacity: usize, format: LogFormat, sink: LogSink) -> ServiceLogs {
        ServiceLogs {
            service: service.to_string(),
            format,
            // Grows as lines come; a quiet service costs nothing.
            ring: Mutex::new(VecDeque::new()),
            capacity,
            live: Mutex::new(Feed::new(1024)),
            sink,
            file: Mutex::new(None),
            dropped: AtomicU64::new(0),
            lines: AtomicU64::new(0),
            readers: AtomicUsize::new(0),
        }
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

    pub(crate) fn reader_opened(&self) {
        self.readers.fetch_add(1, Ordering::AcqRel);
    }

    pub(crate) fn reader_closed(&self) {
        self.readers.fetch_sub(1, Ordering::AcqRel);
    }

    /// Flushes the persisted copy, if any.
    pub fn flush_file(&self) {
        if let Ok(f) = self.file.lock() {
            if let Some(file) = f.as_ref() {
                file.flush();
            }
        }
    }

    /// Reopens the persisted copy, if any (SIGUSR1, external rotation).
    pub fn reopen_file(&self) {
        if let Ok(f) = self.file.lock() {
            if let Some(file) = f.as_ref() {
                file.reopen();
            }
        }
    }

    /// Records one line of a child's output.
    pub fn push(&self, instance: u64, pid: i32, stream: Stream, line: String) {
        self.lines.fetch_add(1, Ordering::Relaxed);
        let record = format_captured(self.format, &self.service, instance, pid, stream, &line);
        if let Ok(f) = self.file.lock() {
            if let Some(file) = f.as_ref() {
                file.append(&record);
            }
        }
        if !self.sink.try_write(record) {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
        let entry = LogLine {
            ts: Utc::now(),
            instance,
            stream,
            line,
        };
        if let Ok(mut live) = self.live.lock() {
            live.send(|| entry.clone());
        }
        if self.capacity > 0 {
            if let Ok(mut ring) = self.ring.lock() {
                if ring.len() >= self.capacity {
                    ring.pop_front();
                }
                ring.push_back(entry);
            }
        }
    }

    /// The last `tail` lines (all kept when None), oldest first.
    pub fn tail(&self, tail: Option<usize>, stream: Option<Stream>) -> Vec<LogLine> {
        let Ok(ring) = self.ring.lock() else {
            return Vec::new();
        };
        let matching: Vec<&LogLine> = ring
            .iter()
            .filter(|l| stream.is_none_or(|s| s == l.stream))
            .collect();
        let skip = tail.map(|t| matching.len().saturating_sub(t)).unwrap_or(0);
        matching.into_iter().skip(skip).cloned().collect()
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
