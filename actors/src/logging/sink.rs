//! The one output stream (stdout, plus optional files): a bounded queue
//! drained by a dedicated writer thread. Producers never block: when the
//! queue is full a record is dropped and counted, so a slow log reader can
//! never stall supervision, and no line is lost silently.
//!
//! The queue is an unbounded channel (its blocks are allocated as records
//! come and freed as they go) bounded by a depth counter: a quiet
//! supervisor holds no queue memory, where a preallocated ring of QUEUE
//! slots would cost 512 KiB for good.

use std::io::Write;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{channel, sync_channel, Receiver, Sender, SyncSender};
use std::sync::Arc;
use std::time::Duration;

/// Records the queue holds before producers start dropping.
const QUEUE: usize = 16 * 1024;

/// A batch this large means output is flooding (see `writer`).
const FLOOD_BATCH: usize = 64;
/// How long the writer lets records pile up during a flood; the queue
/// (QUEUE records) absorbs far more than producers write in this time.
const FLOOD_PAUSE: Duration = Duration::from_millis(1);
/// Batch buffer capacity kept between batches.
const KEEP_BUF: usize = 16 * 1024;

/// Extra destinations the writer thread copies every record to (the
/// oneinit log file); reopened on SIGUSR1.
pub trait Output: Send {
    fn write_record(&mut self, record: &[u8]);
    fn reopen(&mut self);
    fn flush(&mut self);
}

enum Msg {
    Record(Vec<u8>),
    Reopen,
    AddOutput(Box<dyn Output>),
    Flush(SyncSender<()>),
}

/// A cheap, cloneable handle to the writer thread.
#[derive(Clone)]
pub struct LogSink {
    tx: Sender<Msg>,
    /// Records queued and not yet taken by the writer (at most QUEUE).
    depth: Arc<AtomicUsize>,
    /// Records of oneinit's own log dropped because the queue was full.
    pub own_dropped: Arc<AtomicU64>,
}

impl LogSink {
    /// Starts the writer thread on `out` (stdout in production).
    pub fn start(out: Box<dyn Write + Send>) -> LogSink {
        let (tx, rx) = channel();
        let depth = Arc::new(AtomicUsize::new(0));
        let taken = depth.clone();
        std::thread::Builder::new()
            .name("oneinit-log".into())
            .spawn(move || writer(rx, &taken, out))
            .expect("cannot start the log writer thread");
        LogSink {
            tx,
            depth,
            own_dropped: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Queues one record (one line, newline included). False when dropped
    /// (QUEUE records wait already, or the writer is gone).
    pub fn try_write(&self, record: Vec<u8>) -> bool {
        if self.depth.fetch_add(1, Ordering::AcqRel) >= QUEUE {
            self.depth.fetch_sub(1, Ordering::AcqRel);
            return false;
        }
        if self.tx.send(Msg::Record(record)).is_err() {
            self.depth.fetch_sub(1, Ordering::AcqRel);
            return false;
        }
        true
    }

    /// Copies every later record to `output` too.
    pub fn add_output(&self, output: Box<dyn Output>) {
        let _ = self.tx.send(Msg::AddOutput(output));
    }

    /// Asks every file output to reopen its file (SIGUSR1). Control
    /// messages do not count against the bound, so a flood (exactly when
    /// files rotate externally) cannot make it lost.
    pub fn reopen(&self) {
        let _ = self.tx.send(Msg::Reopen);
    }

    /// Waits (bounded) until everything queued so far is written.
    pub fn flush(&self, timeout: Duration) {
        let (done_tx, done_rx) = sync_channel(1);
        if self.tx.send(Msg::Flush(done_tx)).is_ok() {
            let _ = done_rx.recv_timeout(timeout);
        }
    }
}

fn writer(rx: Receiver<Msg>, depth: &AtomicUsize, mut out: Box<dyn Write + Send>) {
    let mut outputs: Vec<Box<dyn Output>> = Vec::new();
    // Grows to the largest batch written (at most ~256 KiB, see below).
    let mut buf: Vec<u8> = Vec::new();
    while let Ok(first) = rx.recv() {
        let mut next = Some(first);
        let mut records = 0usize;
        // Batch whatever is queued into one write.
        while let Some(msg) = next.take() {
            match msg {
                Msg::Record(r) => {
                    depth.fetch_sub(1, Ordering::AcqRel);
                    records += 1;
                    for o in outputs.iter_mut() {
                        o.write_record(&r);
                    }
                    buf.extend_from_slice(&r);
                }
                Msg::Reopen => outputs.iter_mut().for_each(|o| o.reopen()),
                Msg::AddOutput(o) => outputs.push(o),
                Msg::Flush(done) => {
                    write_out(&mut out, &mut buf);
                    outputs.iter_mut().for_each(|o| o.flush());
                    let _ = done.try_send(());
                }
            }
            if buf.len() < 256 * 1024 {
                next = rx.try_recv().ok();
            }
        }
        write_out(&mut out, &mut buf);
        outputs.iter_mut().for_each(|o| o.flush());
        // A flood's batch buffer is not kept once the flood is written.
        buf.shrink_to(KEEP_BUF);
        if records >= FLOOD_BATCH {
            // A flood: let producers fill the queue for a moment instead of
            // waking this thread for every record (a futex wake and a context
            // switch per line otherwise dominate the cost of a line).
            std::thread::sleep(FLOOD_PAUSE);
        }
    }
}

fn write_out(out: &mut Box<dyn Write + Send>, buf: &mut Vec<u8>) {
    if !buf.is_empty() {
        // A closed stdout (EPIPE) must not stop supervision: drop the bytes.
        let _ = out.write_all(buf);
        let _ = out.flush();
        buf.clear();
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
            let record = std::mem::replace(&mut self.buf, Vec::with_capacity(512));
            if !self.sink.try_write(record) {
                self.sink.own_dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc::Receiver as Gate;

    /// An output that waits for the test before every write.
    struct Gated(Gate<()>, std::sync::mpsc::Sender<usize>);

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

    #[test]
    fn a_stuck_writer_makes_producers_drop_at_the_bound_then_recover() {
        let (open, gate) = channel();
        let (wrote, written) = channel();
        let sink = LogSink::start(Box::new(Gated(gate, wrote)));
        // The writer takes the first record and waits in `write`.
        assert!(sink.try_write(b"first\n".to_vec()));
        while sink.depth.load(Ordering::Acquire) > 0 {
            std::thread::yield_now();
        }
        let accepted = (0..QUEUE + 100)
            .filter(|_| sink.try_write(b"x\n".to_vec()))
            .count();
        assert_eq!(accepted, QUEUE, "the queue holds QUEUE records, no more");
        // Unblocked, the writer drains everything and room comes back.
        let mut bytes = 0;
        while bytes < 6 + 2 * QUEUE {
            let _ = open.send(());
            bytes += written
                .recv_timeout(Duration::from_secs(10))
                .expect("the writer wrote");
        }
        assert_eq!(sink.depth.load(Ordering::Acquire), 0);
        assert!(sink.try_write(b"again\n".to_vec()));
    }
}
