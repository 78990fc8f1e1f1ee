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
//! thread, so no actor ever waits. A reader is a task only while its pipes
//! have something; between reads it is parked (`park`, `resume`).

use super::now_ts_of;
use super::pipes::{Read, ReadEnd};
use super::record::{RecordFormat, RecordParts};
use super::service_logs::{DrainPoint, ServiceLogs};
use crate::model::config::OnFull;
use crate::model::view::{LogLine, Stream};
use chrono::Utc;
use regex::Regex;
use std::borrow::Cow;
use std::cell::RefCell;
use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::oneshot;

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
/// One reader reads both of the process's pipes, and it is a task only
/// while it reads: between reads it is parked (`Parked`), a box of its
/// pipes' state that the pipes' next event or a drain request turns into a
/// task again. At 1,000 services a task per pipe cost ~1 KiB per service
/// (heaptrack), and a task per process ~0.7 KiB, for pipes that are empty
/// nearly all the time.
pub struct Reader {
    pub logs: Arc<ServiceLogs>,
    pub instance: u64,
    pub pid: i32,
    /// stdout's and stderr's pipes (either may be absent).
    pub pipes: [Option<Pipe>; 2],
}

/// Counts a reader as open from spawn to EOF (or until it is dropped).
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

/// A reader's state between its tasks (boxed, moved from task to park
/// and back).
struct State {
    open: [Option<Open>; 2],
    point: Arc<DrainPoint>,
    counted: OpenReader,
}

thread_local! {
    /// The log thread's parked readers; a reader's number here is what its
    /// pipes' `on_ready` calls and its drain point carry.
    static PARKED: RefCell<Parked> = RefCell::new(Parked::default());
}

#[derive(Default)]
struct Parked {
    readers: Vec<Option<Box<State>>>,
    free: Vec<usize>,
}

impl Reader {
    /// Starts reading on `arbiter` (the log thread). The reader counts as
    /// open from now on, so a shutdown that follows at once still waits for
    /// the lines already in the pipes.
    pub fn spawn_on(self, arbiter: &actix::ArbiterHandle) {
        let (point, counted) = self.count(arbiter);
        arbiter.spawn_fn(move || {
            let state = self.open(point, counted);
            // Parked at once, not read by a task first: a pipe that has
            // data already gets an event as it joins the epoll set, and
            // most processes write nothing at start. (A first task freed
            // right away left a ~0.6 KiB hole per process in the heap.)
            // No pipe at all: the reader ends here.
            if state.open.iter().any(Option::is_some) {
                park(state);
            }
        });
    }

    /// The reader's drain point, registered with its logs, and the guard
    /// that counts it as open until the reader ends. `arbiter`: the thread
    /// it reads on, where drain requests resume it.
    fn count(&self, arbiter: &actix::ArbiterHandle) -> (Arc<DrainPoint>, OpenReader) {
        let point = Arc::new(DrainPoint {
            instance: self.instance,
            pid: self.pid,
            waiters: Mutex::new(Vec::new()),
            arbiter: arbiter.clone(),
            parked: AtomicUsize::new(NOT_PARKED),
        });
        self.logs.reader_opened(&point);
        (point, OpenReader(self.logs.clone()))
    }

    /// The pipes, in the current thread's epoll set (the log thread's).
    fn open(self, point: Arc<DrainPoint>, counted: OpenReader) -> Box<State> {
        let Reader {
            logs,
            instance,
            pid,
            pipes,
        } = self;
        let open = pipes.map(|p| {
            let p = p?;
            let pipe = ReadEnd::new(p.fd).ok()?;
            let lines = Lines::new(logs.clone(), instance, pid, p.stream, p.ready_when);
            Some(Open { pipe, lines })
        });
        Box::new(State {
            open,
            point,
            counted,
        })
    }
}

/// `DrainPoint::parked` of a reader that is not parked.
pub(crate) const NOT_PARKED: usize = usize::MAX;

/// Parks a reader whose pipes are all empty (none `is_ready`) or that
/// joined the epoll set just now: its pipes' next event resumes it.
fn park(state: Box<State>) {
    PARKED.with_borrow_mut(|p| {
        let id = p.free.pop().unwrap_or(p.readers.len());
        for o in state.open.iter().flatten() {
            o.pipe.on_ready(resume, id);
        }
        state.point.parked.store(id, Ordering::Release);
        if id == p.readers.len() {
            p.readers.push(Some(state));
        } else {
            p.readers[id] = Some(state);
        }
    });
}

/// Turns parked reader `id` into a task again (if it is still parked).
fn resume(id: usize) {
    let state = PARKED.with_borrow_mut(|p| {
        let state = p.readers.get_mut(id)?.take()?;
        p.free.push(id);
        Some(state)
    });
    if let Some(state) = state {
        state.point.parked.store(NOT_PARKED, Ordering::Release);
        for o in state.open.iter().flatten() {
            o.pipe.clear_on_ready();
        }
        actix::spawn(read(state));
    }
}

/// A drain request for `point` (on the log thread): a parked reader reads
/// its pipes again and answers; a running one answers once it has read
/// everything anyway.
pub(crate) fn resume_for_drain(point: &Arc<DrainPoint>) {
    let id = point.parked.load(Ordering::Acquire);
    let same = PARKED.with_borrow(|p| {
        p.readers
            .get(id)
            .and_then(Option::as_ref)
            .is_some_and(|s| Arc::ptr_eq(&s.point, point))
    });
    if same {
        resume(id);
    }
}

/// Reads until every pipe is empty, then parks; ends at EOF on every pipe
/// (all writers closed). Runs on the log arbiter.
async fn read(mut state: Box<State>) {
    let State {
        open,
        point,
        counted,
    } = &mut *state;
    let logs = &counted.0;
    // Drain requests taken, answered after the round that follows them.
    let mut taken = Vec::new();
    loop {
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
        if open.iter().all(Option::is_none) {
            break;
        }
        if more || open.iter().flatten().any(|o| o.pipe.is_ready()) {
            continue;
        }
        // A request that came after this round's reads began asks about
        // lines written before it, maybe after those reads: one more
        // round (the kernel, not the driver, says whether a pipe is empty).
        if take_requests(point, &mut taken) {
            continue;
        }
        // Everything written so far is logged.
        logs.flush_file();
        for tx in taken.drain(..) {
            let _ = tx.send(());
        }
        for o in open.iter_mut().flatten() {
            o.lines.release();
        }
        if open.iter().flatten().any(|o| o.pipe.closed()) {
            // The I/O driver is gone (shutdown): what was read is logged.
            for o in open.iter_mut().flatten() {
                finish(&mut o.lines).await;
            }
            break;
        }
        park(state);
        return;
    }
    logs.flush_file();
    take_requests(point, &mut taken);
    for tx in taken {
        let _ = tx.send(());
    }
    // Drops not reported yet get their `dropped` record when it is due.
    if let Some(wait) = logs.report_dropped(false) {
        Box::pin(tokio::time::sleep(wait)).await;
        logs.report_dropped(true);
    }
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

/// Moves the drain requests made since the last call into `taken`;
/// answers whether there were any.
fn take_requests(point: &DrainPoint, taken: &mut Vec<oneshot::Sender<()>>) -> bool {
    let before = taken.len();
    if let Ok(mut w) = point.waiters.lock() {
        taken.append(&mut w);
    }
    taken.len() > before
}

thread_local! {
    /// The records of one read, before they go to the queue and the file
    /// (one buffer for all the readers of the log thread).
    static OUT: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
    /// The records' parts around the line, for one read (`RecordFormat::parts`).
    static PARTS: std::cell::RefCell<RecordParts> = std::cell::RefCell::new(RecordParts::default());
}

/// Cuts one stream's bytes into lines and hands them on.
struct Lines {
    logs: Arc<ServiceLogs>,
    ready_when: ReadyWhen,
    /// Also the instance and stream the lines are logged with.
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
        let format = RecordFormat {
            format: logs.format,
            instance,
            pid,
            stream,
        };
        Lines {
            logs,
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
        PARTS.with_borrow_mut(|parts| {
            OUT.with_borrow_mut(|out| {
                out.clear();
                self.emit_into(out, parts, eof)
            })
        })
    }

    fn emit_into(&mut self, out: &mut Vec<u8>, parts: &mut RecordParts, eof: bool) -> bool {
        let now = Utc::now();
        let logs = self.logs.clone();
        self.format.parts(&logs.service, &now_ts_of(now), parts);
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
            parts.write(&text, out);
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
                ring.push(now, self.format.instance, self.format.stream, &text);
            }
            if let Some(live) = live.as_mut() {
                live.send(|| LogLine {
                    ts: now,
                    instance: self.format.instance,
                    stream: self.format.stream,
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
