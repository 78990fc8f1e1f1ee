//! The sink's writer thread: the only thread that waits on stdout. It swaps
//! the queue's buffer for an empty one, copies the batch to the file
//! outputs, writes it to stdout in pieces (noting progress for the stall
//! check) and gives back a flood's buffers once output is quiet.

use super::{Ctrl, Output, Shared};
use std::io::Write;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// Batch buffer capacity kept while output is quiet.
const KEEP_BUF: usize = 64 * 1024;
/// Output quiet this long gives back its batch buffers.
const SHRINK_AFTER: Duration = Duration::from_secs(1);
/// Largest single write to stdout (progress is noted between writes).
const WRITE_PIECE: usize = 64 * 1024;

pub(super) fn writer(shared: &Shared, mut out: Box<dyn Write + Send>) {
    crate::sys::priority::lower_this_thread_for_logs();
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
