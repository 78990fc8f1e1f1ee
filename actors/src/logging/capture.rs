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
use super::pipes::{Read, ReadEnd};
use super::record::RecordFormat;
use super::service_logs::{DrainPoint, ServiceLogs};
use crate::model::config::OnFull;
use crate::model::view::{LogLine, Stream};
use chrono::Utc;
use regex::Regex;
use std::borrow::Cow;
use std::future::Future;
use std::os::fd::OwnedFd;
use std::sync::{Arc, Mutex};
use std::task::Poll;
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

/// `readiness.log_line`: the pattern and what to do on the first match.
/// Boxed: most services have none, and every pipe reader holds the field.
pub type ReadyWhen = Option<Box<(Regex, OnMatch)>>;

/// One pipe of a child: its read end, the stream it carries and the
/// readiness pattern to look for in it.
pub struct Pipe {
    pub fd: OwnedFd,
    pub stream: Stream,
    pub ready_when: ReadyWhen,
}

/// Everything the reader of one process needs; moved onto the log thread.
/// One reader (one task) reads both of the process's pipes: a task and its
/// drain point per pipe cost ~1 KiB per service at 1,000 services
/// (heaptrack), for two pipes that are empty nearly all the time.
pub struct Reader {
    pub logs: Arc<ServiceLogs>,
    pub instance: u64,
    pub pid: i32,
    /// stdout's and stderr's pipes (either may be absent).
    pub pipes: [Option<Pipe>; 2],
}

/// Counts a reader as open from spawn to EOF (or until its task is dropped).
struct OpenReader(Arc<ServiceLogs>);

impl Drop for OpenReader {
    fn drop(&mut self) {
        self.0.reader_closed();
    }
}

/// A pipe being read.
struct Open {
    pipe: ReadEnd,
    lines: Lines,
}

impl Reader {
    /// Starts reading on `arbiter` (the log thread). The reader counts as
    /// open from now on, so a shutdown that follows at once still waits for
    /// the lines already in the pipes.
    pub fn spawn_on(self, arbiter: &actix::ArbiterHandle) {
        let (point, counted) = self.count();
        // `spawn_fn` and a local spawn there, not `ArbiterHandle::spawn`:
        // that boxes the future and the task then holds the box, two
        // allocations for the life of the process instead of one.
        arbiter.spawn_fn(move || {
            actix::spawn(self.run(point, counted));
        });
    }

    /// The reader's drain point, registered with its logs, and the guard
    /// that counts it as open until the reader ends.
    fn count(&self) -> (Arc<DrainPoint>, OpenReader) {
        let point = Arc::new(DrainPoint {
            instance: self.instance,
            pid: self.pid,
            wake: Notify::new(),
            waiters: Mutex::new(Vec::new()),
        });
        self.logs.reader_opened(&point);
        (point, OpenReader(self.logs.clone()))
    }

    /// The reader's task, on the log thread: opens the pipes and reads
    /// them to EOF.
    async fn run(self, point: Arc<DrainPoint>, counted: OpenReader) {
        // Opened here, not passed in: an async fn keeps its arguments'
        // storage apart from its locals', so a moved-in array would take
        // its room in the task twice.
        let mut open = self.open();
        read(&mut open, &point, &counted.0).await;
    }

    /// The pipes, in the current thread's epoll set (the log thread's).
    fn open(self) -> [Option<Open>; 2] {
        let Reader {
            logs,
            instance,
            pid,
            pipes,
        } = self;
        pipes.map(|p| {
            let p = p?;
            let pipe = ReadEnd::new(p.fd).ok()?;
            let lines = Lines::new(logs.clone(), instance, pid, p.stream, p.ready_when);
            Some(Open { pipe, lines })
        })
    }
}

/// Reads until EOF on every pipe (all writers closed). Run it on the log
/// arbiter.
async fn read(open: &mut [Option<Open>; 2], point: &DrainPoint, logs: &ServiceLogs) {
    while open.iter().any(Option::is_some) {
        // One read per pipe and round, so a flood on one stream does not
        // starve the other.
        let mut more = false;
        for slot in open.iter_mut() {
            let Some(o) = slot else { continue };
            while !o.lines.emit_ready(false) {
                wait_for_room(logs).await;
            }
            match o.lines.read(&o.pipe) {
                Read::Data => more = true,
                Read::Eof => {
                    finish(&mut o.lines).await;
                    *slot = None;
                }
                Read::Empty => {}
            }
        }
        if more || open.iter().all(Option::is_none) {
            continue;
        }
        // Everything written so far is logged.
        logs.flush_file();
        answer(point);
        for o in open.iter_mut().flatten() {
            o.lines.release();
        }
        // The I/O driver is gone (shutdown): what was read is logged.
        if let Some(i) = wait_readable(open, point).await {
            if let Some(o) = open[i].as_mut() {
                finish(&mut o.lines).await;
            }
            open[i] = None;
        }
    }
    logs.flush_file();
    answer(point);
    // Drops not reported yet get their `dropped` record when it is due.
    if let Some(wait) = logs.report_dropped(false) {
        Box::pin(tokio::time::sleep(wait)).await;
        logs.report_dropped(true);
    }
}

/// Waits until a pipe has something or the drain point is woken. Answers
/// the index of a pipe whose wait failed (the log thread's reactor is gone).
async fn wait_readable(open: &[Option<Open>; 2], point: &DrainPoint) -> Option<usize> {
    let woken = point.wake.notified();
    tokio::pin!(woken);
    std::future::poll_fn(|cx| {
        for (i, o) in open.iter().enumerate() {
            if let Some(o) = o {
                if let Poll::Ready(r) = o.pipe.poll_read_ready(cx) {
                    return Poll::Ready(r.is_err().then_some(i));
                }
            }
        }
        woken.as_mut().poll(cx).map(|()| None)
    })
    .await
}

/// Waits for room in the output queue. Boxed: the wait is rare, and
/// inline its future would add its size to every reader's task.
async fn wait_for_room(logs: &ServiceLogs) {
    Box::pin(logs.sink.wait_for_room(ROOM_RECHECK)).await;
}

/// Logs what is left of a pipe that reached EOF, unfinished line included.
async fn finish(lines: &mut Lines) {
    while !lines.emit_ready(true) {
        wait_for_room(&lines.logs).await;
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
    /// The records' part before the line, for one read (`RecordFormat::head`).
    static HEAD: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Cuts one stream's bytes into lines and hands them on.
struct Lines {
    logs: Arc<ServiceLogs>,
    instance: u64,
    stream: Stream,
    ready_when: ReadyWhen,
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
        ready_when: ReadyWhen,
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
    fn read(&mut self, pipe: &ReadEnd) -> Read {
        pipe.read(&mut self.buf, READ_SIZE)
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
        HEAD.with_borrow_mut(|head| {
            OUT.with_borrow_mut(|out| {
                out.clear();
                self.emit_into(out, head, eof)
            })
        })
    }

    fn emit_into(&mut self, out: &mut Vec<u8>, head: &mut Vec<u8>, eof: bool) -> bool {
        let now = Utc::now();
        self.format.head(&now_ts_of(now), head);
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
            self.format.write(head, &text, out);
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
                .is_some_and(|r| r.0.is_match(&text))
            {
                if let Some(r) = self.ready_when.take() {
                    (r.1)();
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
