//! The one output stream (stdout, plus optional files): a byte-budgeted
//! queue drained by a dedicated writer thread, the only thread that ever
//! waits on stdout.
//!
//! - Records are appended to one buffer; the writer swaps it for an empty
//!   one and writes the whole batch at once (flush on idle: a lone record
//!   goes out at once, a flood in large writes).
//! - Captured output may fill the queue up to `QUEUE_BYTES`. When it is
//!   full, pipe readers wait (`wait_for_room`; backpressure, `logs.on_full:
//!   block`) or drop and count (`drop`).
//! - oneinit's own records may use `RESERVE` bytes more, so a flood of
//!   captured output never crowds out an `exited` record. Beyond that they
//!   are dropped and counted (`own_dropped`): an actor never waits.
//! - Stuck: when stdout has taken nothing for the stall timeout
//!   (`logging.stall_timeout`) while records wait, or is gone (EPIPE),
//!   captured output stops waiting for it and is dropped and counted
//!   instead, so a stdout nobody reads never freezes services for good. A
//!   warning goes to stderr at most once a second, from a thread of its
//!   own (stderr may be stuck too).
//!
//! Memory: the queue holds at most QUEUE_BYTES + RESERVE, and the batch
//! being written as much again.

use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, SyncSender, TrySendError};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Bytes of captured output the queue holds before readers wait or drop.
pub const QUEUE_BYTES: usize = 1024 * 1024;
/// Extra room for oneinit's own records.
pub const RESERVE: usize = 256 * 1024;
/// Batch buffer capacity kept while output is quiet.
const KEEP_BUF: usize = 64 * 1024;
/// Output quiet this long gives back its batch buffers.
const SHRINK_AFTER: Duration = Duration::from_secs(1);
/// Largest single write to stdout (progress is noted between writes).
const WRITE_PIECE: usize = 64 * 1024;
/// A flush gives up after this long without progress.
const FLUSH_IDLE: Duration = Duration::from_secs(2);
/// Default of `logging.stall_timeout`.
pub const DEFAULT_STALL: Duration = Duration::from_secs(10);

/// Extra destinations the writer thread copies every record to (the
/// oneinit log file); reopened on SIGUSR1.
pub trait Output: Send {
    fn write_record(&mut self, record: &[u8]);
    fn reopen(&mut self);
    fn flush(&mut self);
}

enum Ctrl {
    Reopen,
    AddOutput(Box<dyn Output>),
}

struct Queue {
    buf: Vec<u8>,
    /// Control messages, each with the length of `buf` when it came, so
    /// the records before it are handled before it.
    ctrl: Vec<(usize, Ctrl)>,
    writer_waiting: bool,
    /// Bytes ever queued and ever handled (written or given up), for flush.
    queued_total: u64,
    done_total: u64,
}

struct Shared {
    queue: Mutex<Queue>,
    wake_writer: Condvar,
    done: Condvar,
    /// Woken whenever the writer takes the queue (room again).
    room: tokio::sync::Notify,
    stall: Duration,
    epoch: Instant,
    /// When stdout last took bytes, or the writer last found nothing to
    /// write (ms since `epoch`).
    progress_ms: AtomicU64,
    /// The writer holds bytes it has not written yet.
    busy: AtomicBool,
    /// stdout is gone for good (EPIPE and the like).
    broken: AtomicBool,
    /// Records of oneinit's own log dropped (queue full).
    own_dropped: AtomicU64,
    /// Lines or records dropped because stdout was stuck, since the last
    /// warning.
    stuck_dropped: AtomicU64,
    warned_ms: AtomicU64,
    warn: SyncSender<String>,
}

/// A cheap, cloneable handle to the writer thread.
#[derive(Clone)]
pub struct LogSink {
    shared: Arc<Shared>,
}

impl LogSink {
    /// Starts the writer thread on `out` (stdout in production), with the
    /// default stall timeout.
    pub fn start(out: Box<dyn Write + Send>) -> LogSink {
        LogSink::start_with(out, DEFAULT_STALL)
    }

    /// Starts the writer thread on `out`; `stall`: see the module doc.
    pub fn start_with(out: Box<dyn Write + Send>, stall: Duration) -> LogSink {
        let (warn, warnings) = sync_channel::<String>(4);
        let shared = Arc::new(Shared {
            queue: Mutex::new(Queue {
                buf: Vec::new(),
                ctrl: Vec::new(),
                writer_waiting: false,
                queued_total: 0,
                done_total: 0,
            }),
            wake_writer: Condvar::new(),
            done: Condvar::new(),
            room: tokio::sync::Notify::new(),
            stall,
            epoch: Instant::now(),
            progress_ms: AtomicU64::new(0),
            busy: AtomicBool::new(false),
            broken: AtomicBool::new(false),
            own_dropped: AtomicU64::new(0),
            stuck_dropped: AtomicU64::new(0),
            warned_ms: AtomicU64::new(0),
            warn,
        });
        let writer_shared = shared.clone();
        std::thread::Builder::new()
            .name("oneinit-log".into())
            .spawn(move || writer(&writer_shared, out))
            .expect("cannot start the log writer thread");
        std::thread::Builder::new()
            .name("oneinit-warn".into())
            .stack_size(64 * 1024)
            .spawn(move || {
                for w in warnings {
                    let _ = std::io::stderr().write_all(w.as_bytes());
                }
            })
            .expect("cannot start the log warning thread");
        LogSink { shared }
    }

    fn lock(&self) -> MutexGuard<'_, Queue> {
        self.shared
            .queue
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn append(&self, q: &mut Queue, bytes: &[u8]) {
        q.buf.extend_from_slice(bytes);
        q.queued_total += bytes.len() as u64;
        if q.writer_waiting {
            q.writer_waiting = false;
            self.shared.wake_writer.notify_one();
        }
    }

    /// Queues one record of oneinit's own log (newline included). False
    /// when dropped (counted): the queue and its reserve are full.
    pub fn try_write(&self, record: &[u8]) -> bool {
        let mut q = self.lock();
        let full = !q.buf.is_empty() && q.buf.len() + record.len() > QUEUE_BYTES + RESERVE;
        if full || self.broken() {
            drop(q);
            self.shared.own_dropped.fetch_add(1, Ordering::Relaxed);
            if self.stuck() {
                self.count_stuck_drops(1);
            }
            return false;
        }
        self.append(&mut q, record);
        true
    }

    /// Bytes of captured output that fit now.
    pub fn room(&self) -> usize {
        QUEUE_BYTES.saturating_sub(self.lock().buf.len())
    }

    /// Queues captured records (whole lines) that `room` said fit.
    pub fn write_captured(&self, records: &[u8]) {
        if !records.is_empty() {
            let mut q = self.lock();
            self.append(&mut q, records);
        }
    }

    /// Waits until the writer takes the queue, or `at_most` passed.
    pub async fn wait_for_room(&self, at_most: Duration) {
        let notified = self.shared.room.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        if self.room() > 0 {
            return;
        }
        let _ = tokio::time::timeout(at_most, notified).await;
    }

    /// stdout is gone, or has taken nothing for the stall timeout while
    /// records wait: captured output stops waiting for it.
    pub fn stuck(&self) -> bool {
        let s = &self.shared;
        if s.broken.load(Ordering::Relaxed) {
            return true;
        }
        if !s.busy.load(Ordering::Acquire) {
            return false;
        }
        let since = self
            .now_ms()
            .saturating_sub(s.progress_ms.load(Ordering::Acquire));
        since >= s.stall.as_millis() as u64
    }

    /// stdout is gone for good (EPIPE).
    pub fn broken(&self) -> bool {
        self.shared.broken.load(Ordering::Relaxed)
    }

    /// The writer holds records it has not written yet.
    pub fn busy(&self) -> bool {
        self.shared.busy.load(Ordering::Acquire)
    }

    fn now_ms(&self) -> u64 {
        self.shared.epoch.elapsed().as_millis() as u64
    }

    /// Notes lines dropped because stdout is stuck; warns on stderr at most
    /// once a second.
    pub fn count_stuck_drops(&self, n: u64) {
        let s = &self.shared;
        let total = s.stuck_dropped.fetch_add(n, Ordering::Relaxed) + n;
        let now = self.now_ms().max(1);
        let last = s.warned_ms.load(Ordering::Relaxed);
        if (last == 0 || now >= last + 1000)
            && s.warned_ms
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            s.stuck_dropped.fetch_sub(total, Ordering::Relaxed);
            let why = if s.broken.load(Ordering::Relaxed) {
                "is closed".to_string()
            } else {
                format!(
                    "has taken nothing for {}s",
                    s.stall.as_secs_f64().round() as u64
                )
            };
            let msg = format!(
                "oneinit: warning: stdout {why}; {total} log lines and records were dropped \
                 (counted per service in oneinit_log_lines_dropped_total); \
                 make sure something reads oneinit's output\n"
            );
            match s.warn.try_send(msg) {
                Ok(()) | Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {}
            }
        }
    }

    /// Records of oneinit's own log dropped so far.
    pub fn own_dropped(&self) -> u64 {
        self.shared.own_dropped.load(Ordering::Relaxed)
    }

    /// Copies every later record to `output` too.
    pub fn add_output(&self, output: Box<dyn Output>) {
        self.control(Ctrl::AddOutput(output));
    }

    /// Asks every file output to reopen its file (SIGUSR1). Control
    /// messages do not count against the budget, so a flood (exactly when
    /// files rotate externally) cannot make one lost.
    pub fn reopen(&self) {
        self.control(Ctrl::Reopen);
    }

    fn control(&self, c: Ctrl) {
        let mut q = self.lock();
        let at = q.buf.len();
        q.ctrl.push((at, c));
        if q.writer_waiting {
            q.writer_waiting = false;
            self.shared.wake_writer.notify_one();
        }
    }

    /// Waits until everything queued so far is written: as long as stdout
    /// keeps taking bytes, but no more than `at_most`, and no more than
    /// FLUSH_IDLE (or the stall timeout, if shorter) without progress.
    pub fn flush(&self, at_most: Duration) {
        let deadline = Instant::now() + at_most;
        let idle = FLUSH_IDLE.min(self.shared.stall).as_millis() as u64;
        let start_ms = self.now_ms();
        let mut q = self.lock();
        let target = q.queued_total;
        while q.done_total < target {
            let now = Instant::now();
            let s = &self.shared;
            let progress = s.progress_ms.load(Ordering::Acquire).max(start_ms);
            let idle_for = self.now_ms().saturating_sub(progress);
            if now >= deadline || s.broken.load(Ordering::Relaxed) || idle_for >= idle {
                return;
            }
            let wait = (deadline - now).min(Duration::from_millis(100));
            q = match self.shared.done.wait_timeout(q, wait) {
                Ok((q, _)) => q,
                Err(poisoned) => poisoned.into_inner().0,
            };
        }
    }
}

fn writer(shared: &Shared, mut out: Box<dyn Write + Send>) {
    let mut outputs: Vec<Box<dyn Output>> = Vec::new();
    let mut batch: Vec<u8> = Vec::new();
    let now_ms = || shared.epoch.elapsed().as_millis() as u64;
    loop {
        let ctrl = {
            let mut q = shared
                .queue
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            let mut idle_since: Option<Instant> = None;
            while q.buf.is_empty() && q.ctrl.is_empty() {
                shared.busy.store(false, Ordering::Release);
                // Quiet for a while: give back a flood's buffers (not at
                // every pause of a flood: new pages cost page faults).
                let since = *idle_since.get_or_insert_with(Instant::now);
                let quiet = since.elapsed() >= SHRINK_AFTER;
                if quiet {
                    q.buf.shrink_to(KEEP_BUF);
                    batch.shrink_to(KEEP_BUF);
                }
                q.writer_waiting = true;
                q = if quiet || batch.capacity() <= KEEP_BUF {
                    shared
                        .wake_writer
                        .wait(q)
                        .unwrap_or_else(|poisoned| poisoned.into_inner())
                } else {
                    shared
                        .wake_writer
                        .wait_timeout(q, SHRINK_AFTER)
                        .map(|(q, _)| q)
                        .unwrap_or_else(|poisoned| poisoned.into_inner().0)
                };
            }
            shared.progress_ms.store(now_ms(), Ordering::Release);
            shared.busy.store(true, Ordering::Release);
            std::mem::swap(&mut q.buf, &mut batch);
            std::mem::take(&mut q.ctrl)
        };
        shared.room.notify_waiters();
        let mut from = 0;
        for (at, c) in ctrl {
            copy_to(&mut outputs, &batch[from..at]);
            from = at;
            match c {
                Ctrl::Reopen => outputs.iter_mut().for_each(|o| o.reopen()),
                Ctrl::AddOutput(o) => outputs.push(o),
            }
        }
        copy_to(&mut outputs, &batch[from..]);
        outputs.iter_mut().for_each(|o| o.flush());
        write_out(shared, &mut out, &batch, now_ms);
        let mut q = shared
            .queue
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        q.done_total += batch.len() as u64;
        shared.done.notify_all();
        drop(q);
        batch.clear();
    }
}

/// Every record of `records` to every file output.
fn copy_to(outputs: &mut [Box<dyn Output>], records: &[u8]) {
    if outputs.is_empty() || records.is_empty() {
        return;
    }
    for record in records.split_inclusive(|&b| b == b'\n') {
        outputs.iter_mut().for_each(|o| o.write_record(record));
    }
}

/// Writes `batch` to stdout in pieces, noting progress after each. A
/// closed stdout (EPIPE) must not stop supervision: the bytes are dropped
/// and the sink counts as stuck from then on.
fn write_out(
    shared: &Shared,
    out: &mut Box<dyn Write + Send>,
    batch: &[u8],
    now_ms: impl Fn() -> u64,
) {
    if shared.broken.load(Ordering::Relaxed) {
        return;
    }
    for piece in batch.chunks(WRITE_PIECE) {
        let result = out.write_all(piece).and_then(|()| out.flush());
        shared.progress_ms.store(now_ms(), Ordering::Release);
        if let Err(e) = result {
            if e.kind() == std::io::ErrorKind::BrokenPipe {
                shared.broken.store(true, Ordering::Relaxed);
            }
            return;
        }
    }
}

/// An `io::Write` for slog's drains: buffers one record and queues it on flush.
pub struct SinkWriter {
    sink: LogSink,
    buf: Vec<u8>,
}

impl SinkWriter {
    pub fn new(sink: LogSink) -> SinkWriter {
        SinkWriter {
            sink,
            buf: Vec::with_capacity(512),
        }
    }
}

impl Write for SinkWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if !self.buf.is_empty() {
            self.sink.try_write(&self.buf);
            self.buf.clear();
            self.buf.shrink_to(512);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc::{channel, Receiver};

    /// An output that waits for the test before every write.
    struct Gated(Receiver<()>, std::sync::mpsc::Sender<usize>);

    impl Write for Gated {
        fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
            let _ = self.0.recv();
            let _ = self.1.send(data.len());
            Ok(data.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn taken_by_writer(sink: &LogSink) {
        while !sink.lock().buf.is_empty() {
            std::thread::yield_now();
        }
    }

    #[test]
    fn a_stuck_writer_fills_the_budget_then_own_records_drop_and_room_comes_back() {
        let (open, gate) = channel();
        let (wrote, written) = channel();
        let sink = LogSink::start_with(Box::new(Gated(gate, wrote)), Duration::from_secs(3600));
        // The writer takes the first record and waits in `write`.
        assert!(sink.try_write(b"first\n"));
        taken_by_writer(&sink);
        let line = [b'x'; 99];
        let mut captured = 0;
        while sink.room() >= 100 {
            sink.write_captured(&[&line[..], b"\n"].concat());
            captured += 1;
        }
        assert_eq!(captured, QUEUE_BYTES / 100);
        // oneinit's own records still fit, in the reserve, then drop.
        let own = (0..RESERVE).filter(|_| sink.try_write(&[b'o'; 99])).count();
        assert!(
            (RESERVE / 99 - 1..=RESERVE / 99 + 1).contains(&own),
            "{own}"
        );
        assert!(sink.own_dropped() > 0);
        assert!(!sink.stuck(), "an hour of stall timeout has not passed");
        // Unblocked, the writer drains everything and room comes back.
        let total = 6 + captured * 100 + own * 99;
        let mut bytes = 0;
        while bytes < total {
            let _ = open.send(());
            bytes += written
                .recv_timeout(Duration::from_secs(10))
                .expect("the writer wrote");
        }
        sink.flush(Duration::from_secs(10));
        assert_eq!(sink.room(), QUEUE_BYTES);
        assert!(sink.try_write(b"again\n"));
    }

    #[test]
    fn a_writer_that_takes_nothing_is_stuck_after_the_stall_timeout() {
        let (_open, gate) = channel();
        let (wrote, _written) = channel();
        let sink = LogSink::start_with(Box::new(Gated(gate, wrote)), Duration::from_millis(200));
        assert!(!sink.stuck());
        assert!(sink.try_write(b"first\n"));
        taken_by_writer(&sink);
        let t = Instant::now();
        while !sink.stuck() {
            assert!(t.elapsed() < Duration::from_secs(10));
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(t.elapsed() >= Duration::from_millis(150));
        // A bounded flush returns.
        sink.flush(Duration::from_secs(10));
    }

    #[test]
    fn a_closed_stdout_counts_as_stuck_at_once() {
        struct Closed;
        impl Write for Closed {
            fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
                Err(std::io::ErrorKind::BrokenPipe.into())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let sink = LogSink::start(Box::new(Closed));
        assert!(sink.try_write(b"lost\n"));
        sink.flush(Duration::from_secs(10));
        assert!(sink.stuck());
    }
}
