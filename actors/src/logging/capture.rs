//! Reading a child's stdout/stderr pipe and turning it into records, a
//! whole pipe read at a time: one timestamp, one lock of the ring, one
//! append to the output queue and one file write per read, and no
//! allocation per line. Lines over 64 KiB are split; invalid UTF-8 is
//! replaced. An optional regex reports readiness (`readiness.log_line`).
//!
//! When the output queue is full (`LogSink::room`), a `logs.on_full:
//! block` reader stops reading its pipe until there is room, so the child
//! waits on its `write()` (backpressure: nothing is lost); a `drop` reader
//! keeps reading and drops and counts what doesn't fit. Either way the
//! lines still reach the ring and the file. All readers run on the log
//! thread, so no actor ever waits.

use super::now_ts_of;
use super::record::RecordFormat;
use super::service_logs::{DrainPoint, ServiceLogs};
use crate::model::config::OnFull;
use crate::model::view::{LogLine, Stream};
use chrono::Utc;
use regex::Regex;
use std::borrow::Cow;
use std::os::fd::OwnedFd;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Notify;

/// Longest line kept whole; longer ones are split into pieces of this size.
pub const MAX_LINE: usize = 64 * 1024;

/// Bytes asked for per read (a default pipe holds 64 KiB).
const READ_SIZE: usize = 64 * 1024;

/// Batch buffer capacity the log thread keeps between reads (the records
/// of one 64 KiB read of 50-byte lines take about 180 KiB).
const KEEP_OUT: usize = 256 * 1024;

/// How often a reader waiting for room checks whether stdout is stuck.
const ROOM_RECHECK: Duration = Duration::from_millis(250);

/// Records formatted for the file only (drop mode) are written in pieces
/// of at most this size.
const FILE_PIECE: usize = 256 * 1024;

/// Called once when a line matches the readiness regex.
pub type OnMatch = Box<dyn FnOnce() + Send>;

/// Everything a reader needs; moved onto the log thread.
pub struct Reader {
    pub fd: OwnedFd,
    pub logs: Arc<ServiceLogs>,
    pub instance: u64,
    pub pid: i32,
    pub stream: Stream,
    pub ready_when: Option<(Regex, OnMatch)>,
}

/// Counts a reader as open from spawn to EOF (or until its task is dropped).
struct OpenReader(Arc<ServiceLogs>);

impl Drop for OpenReader {
    fn drop(&mut self) {
        self.0.reader_closed();
    }
}

enum Read {
    Data,
    Eof,
    Empty,
}

impl Reader {
    /// Starts reading on `arbiter` (the log thread). The reader counts as
    /// open from now on, so a shutdown that follows at once still waits for
    /// the lines already in the pipe.
    pub fn spawn_on(self, arbiter: &actix::ArbiterHandle) {
        let point = Arc::new(DrainPoint {
            instance: self.instance,
            pid: self.pid,
            wake: Notify::new(),
            waiters: Mutex::new(Vec::new()),
        });
        self.logs.reader_opened(&point);
        let open = OpenReader(self.logs.clone());
        arbiter.spawn(async move {
            self.run(&point).await;
            drop(open);
        });
    }

    /// Reads until EOF (all writers closed). Run it on the log arbiter.
    async fn run(self, point: &DrainPoint) {
        let Reader {
            fd,
            logs,
            instance,
            pid,
            stream,
            ready_when,
        } = self;
        let Ok(pipe) = tokio::net::unix::pipe::Receiver::from_owned_fd(fd) else {
            return;
        };
        let mut lines = Lines::new(logs, instance, pid, stream, ready_when);
        loop {
            while !lines.emit_ready(false) {
                lines.logs.sink.wait_for_room(ROOM_RECHECK).await;
            }
            match lines.read(&pipe) {
                Read::Data => continue,
                Read::Eof => break,
                Read::Empty => {
                    // Everything written so far is logged.
                    lines.logs.flush_file();
                    answer(point);
                    lines.release();
                    tokio::select! {
                        r = pipe.readable() => if r.is_err() { break },
                        _ = point.wake.notified() => {}
                    }
                }
            }
        }
        while !lines.emit_ready(true) {
            lines.logs.sink.wait_for_room(ROOM_RECHECK).await;
        }
        lines.logs.flush_file();
        answer(point);
        // Drops not reported yet get their `dropped` record when it is due.
        if let Some(wait) = lines.logs.report_dropped(false) {
            tokio::time::sleep(wait).await;
            lines.logs.report_dropped(true);
        }
    }
}

/// Tells whoever waits for the pipe to be drained that it is.
fn answer(point: &DrainPoint) {
    if let Ok(mut w) = point.waiters.lock() {
        for tx in w.drain(..) {
            let _ = tx.send(());
        }
    }
}

thread_local! {
    /// The records of one read, before they go to the queue and the file
    /// (one buffer for all the readers of the log thread).
    static OUT: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Cuts one stream's bytes into lines and hands them on.
struct Lines {
    logs: Arc<ServiceLogs>,
    instance: u64,
    stream: Stream,
    ready_when: Option<(Regex, OnMatch)>,
    format: RecordFormat,
    /// Bytes read and not logged yet: at most an unfinished line, plus a
    /// read that waits for room in the output queue.
    buf: Vec<u8>,
    /// Where the bytes not logged yet start in `buf`.
    pos: usize,
}

impl Lines {
    fn new(
        logs: Arc<ServiceLogs>,
        instance: u64,
        pid: i32,
        stream: Stream,
        ready_when: Option<(Regex, OnMatch)>,
    ) -> Lines {
        let format = RecordFormat::new(logs.format, &logs.service, instance, pid, stream);
        Lines {
            logs,
            instance,
            stream,
            ready_when,
            format,
            buf: Vec::new(),
            pos: 0,
        }
    }

    /// One read from the pipe, appended to `buf`.
    fn read(&mut self, pipe: &tokio::net::unix::pipe::Receiver) -> Read {
        self.buf.reserve(READ_SIZE);
        match pipe.try_read_buf(&mut self.buf) {
            Ok(0) => Read::Eof,
            Ok(_) => Read::Data,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => Read::Empty,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => Read::Data,
            Err(_) => Read::Eof,
        }
    }

    /// The pipe is empty: keep no more memory than an unfinished line (and
    /// give back a flood's batch buffer: kept while the flood lasts, it
    /// saves an allocation and its page faults per read).
    fn release(&mut self) {
        OUT.with_borrow_mut(|out| {
            out.clear();
            out.shrink_to(KEEP_OUT);
        });
        self.buf.drain(..self.pos);
        self.pos = 0;
        if self.buf.is_empty() {
            self.buf = Vec::new();
        } else {
            self.buf.shrink_to_fit();
        }
    }

    /// The next line (or MAX_LINE piece of one) waiting in `buf`: its
    /// bytes (without `\r\n`) and how many bytes it takes up. At `eof`, an
    /// unfinished line counts too.
    fn next_line(&self, eof: bool) -> Option<(usize, usize)> {
        let rest = &self.buf[self.pos..];
        match memchr::memchr(b'\n', rest) {
            Some(i) => {
                let line = rest[..i].strip_suffix(b"\r").unwrap_or(&rest[..i]);
                if line.len() > MAX_LINE {
                    let cut = cut_point(line);
                    Some((cut, cut))
                } else {
                    Some((line.len(), i + 1))
                }
            }
            None if rest.len() >= MAX_LINE => {
                let cut = cut_point(rest);
                Some((cut, cut))
            }
            None if eof && !rest.is_empty() => Some((rest.len(), rest.len())),
            None => None,
        }
    }

    /// Logs every complete line in `buf` (and the unfinished one at `eof`).
    /// Answers false when a `block` reader stopped because the output
    /// queue is full: the rest stays in `buf` for the next call.
    fn emit_ready(&mut self, eof: bool) -> bool {
        if self.next_line(eof).is_none() {
            return true;
        }
        OUT.with_borrow_mut(|out| {
            out.clear();
            self.emit_into(out, eof)
        })
    }

    fn emit_into(&mut self, out: &mut Vec<u8>, eof: bool) -> bool {
        let now = Utc::now();
        self.format.set_time(&now_ts_of(now));
        let logs = self.logs.clone();
        let sink = &logs.sink;
        // Nothing waits for a stdout that is gone.
        let room = if sink.broken() { 0 } else { sink.room() };
        let drop_mode = logs.on_full == OnFull::Drop;
        // Once a record did not fit, the rest of this read goes to the file
        // only (drop mode, or stdout stuck).
        let mut file_only = false;
        let mut stuck = false;
        let mut dropped = 0u64;
        let mut failed = 0u64;
        let mut count = 0u64;
        let mut blocked = false;
        let has_file = logs.has_file();
        let mut ring = logs.ring();
        let mut live = logs.live.lock().ok();
        while let Some((len, used)) = self.next_line(eof) {
            let raw = &self.buf[self.pos..self.pos + len];
            let text = match std::str::from_utf8(raw) {
                Ok(s) => Cow::Borrowed(s),
                Err(_) => String::from_utf8_lossy(raw),
            };
            let start = out.len();
            self.format.write(&text, out);
            if !file_only && out.len() > room {
                stuck = sink.stuck();
                if !drop_mode && !stuck {
                    out.truncate(start);
                    blocked = true;
                    break;
                }
                failed += logs.append_file(&out[..start]);
                sink.write_captured(&out[..start]);
                out.drain(..start);
                file_only = true;
            }
            if file_only {
                dropped += 1;
                if !has_file {
                    out.clear();
                } else if out.len() > FILE_PIECE {
                    logs.append_file(out);
                    out.clear();
                }
            }
            if self
                .ready_when
                .as_ref()
                .is_some_and(|(re, _)| re.is_match(&text))
            {
                if let Some((_, on_match)) = self.ready_when.take() {
                    on_match();
                }
            }
            if let Some(ring) = ring.as_mut() {
                ring.push(now, self.instance, self.stream, &text);
            }
            if let Some(live) = live.as_mut() {
                live.send(|| LogLine {
                    ts: now,
                    instance: self.instance,
                    stream: self.stream,
                    line: text.clone().into_owned(),
                });
            }
            self.pos += used;
            count += 1;
        }
        drop(ring);
        drop(live);
        logs.lines
            .fetch_add(count, std::sync::atomic::Ordering::Relaxed);
        if file_only {
            // Already counted as dropped from stdout.
            logs.append_file(out);
        } else {
            failed += logs.append_file(out);
            sink.write_captured(out);
        }
        logs.count_dropped(dropped, stuck);
        logs.count_dropped(failed, false);
        if !blocked {
            // Keep only the unfinished line, at the start.
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
        !blocked
    }
}

/// Where to cut a line longer than MAX_LINE: at MAX_LINE bytes, moved back
/// (at most 3 bytes) to the start of a UTF-8 character so the cut does not
/// garble one.
fn cut_point(raw: &[u8]) -> usize {
    if raw.len() <= MAX_LINE {
        return raw.len();
    }
    let mut cut = MAX_LINE;
    while cut > MAX_LINE - 3 && (raw[cut] & 0xC0) == 0x80 {
        cut -= 1;
    }
    cut
}

#[cfg(test)]
mod tests;
