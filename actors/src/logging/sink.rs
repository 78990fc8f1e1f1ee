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

mod writer;

/// Bytes of captured output the queue holds before readers wait or drop.
pub const QUEUE_BYTES: usize = 1024 * 1024;
/// Extra room for oneinit's own records.
pub const RESERVE: usize = 256 * 1024;
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
            .spawn(move || writer::writer(&writer_shared, out))
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
mod tests;
