//! Where spawns run. A spawn waits for its child's `exec` (the child
//! shares oneinit's memory until then: CLONE_VM|CLONE_VFORK), so it costs
//! the calling thread about as long as the kernel takes to load the
//! program. On the actor thread, 1,000 services would start one after
//! another with the supervisor idle in between; on a few launcher threads
//! the actors prepare the next spawns while the kernel runs several
//! `exec`s at once, one per core.
//!
//! A spawn job registers its pid in the `ProcessTable` behind the table's
//! spawn gate (`ProcessTable::spawning`), and tells its actor before it
//! leaves the gate, so the reaper, which reaps behind the same gate, always
//! knows the owner of an exit and the owner hears of the spawn before the
//! exit.
//!
//! Each launcher thread clones through a forker thread of its own, whose
//! fd table holds a few fds instead of oneinit's two pipe ends per service
//! (`sys::spawn::forker`): a child then copies and closes a few fds, not
//! 2,000 at 1,000 services.
//!
//! `Launcher::inline()` runs each job on the caller's thread at once (tests
//! with a fake kernel and paused time: nothing then happens behind tokio's
//! back).

use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::{Arc, Mutex};

/// A spawn and what follows it (registration, the answer to the actor).
pub type Job = Box<dyn FnOnce() + Send>;

/// Most launcher threads, whatever the core count: each mostly waits for
/// the kernel.
const MAX_THREADS: usize = 4;

/// Prepared spawns that may wait per launcher thread: enough that the
/// threads never wait while the actor thread handles a burst of answers,
/// few enough that a start of many services keeps only a few prepared
/// spawns (each with its whole environment, a few KiB) in memory.
const WAITING_PER_THREAD: usize = 4;

pub struct Launcher {
    /// `None`: run jobs inline. Holds at most `WAITING_PER_THREAD` jobs
    /// per thread; a caller with more waits.
    queue: Option<SyncSender<Job>>,
}

impl Launcher {
    /// One thread per core (at most `MAX_THREADS`), started now.
    pub fn threads() -> std::io::Result<Launcher> {
        let n = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .min(MAX_THREADS);
        let (tx, rx) = sync_channel::<Job>(n * WAITING_PER_THREAD);
        let rx = Arc::new(Mutex::new(rx));
        for i in 0..n {
            let rx = rx.clone();
            std::thread::Builder::new()
                .name(format!("oneinit-spawn{i}"))
                // Spawn preparation happens on the actor thread; a job only
                // runs `sys::spawn`, whose child stack is its own buffer.
                .stack_size(256 * 1024)
                .spawn(move || {
                    // Clone from a private fd table (`sys::spawn::forker`);
                    // without one, spawns clone here as before.
                    let _ = crate::sys::spawn::forker::use_on_this_thread();
                    work(&rx)
                })?;
        }
        Ok(Launcher { queue: Some(tx) })
    }

    /// Jobs run on the caller's thread.
    pub fn inline() -> Launcher {
        Launcher { queue: None }
    }

    /// Runs `job` on a launcher thread (or now, inline); waits while the
    /// queue is full (`WAITING_PER_THREAD` jobs per thread, each at most
    /// one exec long). A launcher whose threads are gone runs it inline
    /// too, so no spawn is ever lost.
    pub fn run(&self, job: Job) {
        let Some(queue) = &self.queue else {
            return job();
        };
        if let Err(back) = queue.send(job) {
            (back.0)();
        }
    }
}

fn work(rx: &Mutex<Receiver<Job>>) {
    loop {
        let job = match rx.lock() {
            Ok(rx) => rx.recv(),
            Err(_) => return,
        };
        match job {
            Ok(job) => job(),
            Err(_) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::{Duration, Instant};

    #[test]
    fn every_job_runs_once_on_a_launcher_thread() {
        let l = Launcher::threads().expect("threads");
        let done = Arc::new(AtomicUsize::new(0));
        let (tx, rx) = std::sync::mpsc::channel();
        for _ in 0..100 {
            let done = done.clone();
            let tx = tx.clone();
            l.run(Box::new(move || {
                done.fetch_add(1, Ordering::SeqCst);
                let name = std::thread::current().name().map(str::to_string);
                let _ = tx.send(name);
            }));
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        for _ in 0..100 {
            let left = deadline.saturating_duration_since(Instant::now());
            let name = rx.recv_timeout(left).expect("every job runs");
            assert!(name.is_some_and(|n| n.starts_with("oneinit-spawn")));
        }
        assert_eq!(done.load(Ordering::SeqCst), 100);
    }

    #[test]
    fn inline_runs_the_job_before_returning() {
        let l = Launcher::inline();
        let done = Arc::new(AtomicUsize::new(0));
        let d = done.clone();
        l.run(Box::new(move || {
            d.fetch_add(1, Ordering::SeqCst);
        }));
        assert_eq!(done.load(Ordering::SeqCst), 1);
    }
}
