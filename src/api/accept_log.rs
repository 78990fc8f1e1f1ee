//! actix-server reports a failed `accept()` (EMFILE, ENFILE, ENOBUFS)
//! through the `log` crate and then pauses that listener for 510 ms: it
//! never spins. This bridge turns those records into one warning of
//! oneinit's own log per episode (the first failure, then at most one a
//! minute with the count of the ones in between), so a descriptor shortage
//! is visible without flooding the log. Every other `log` record is
//! dropped: oneinit logs through slog.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// At most one warning per this long.
const EVERY: Duration = Duration::from_secs(60);

struct AcceptLog {
    log: slog::Logger,
    last: Mutex<Option<Instant>>,
    suppressed: AtomicU64,
}

/// Accept failures seen since start (for tests and metrics).
pub static ACCEPT_ERRORS: AtomicU64 = AtomicU64::new(0);

impl log::Log for AcceptLog {
    fn enabled(&self, meta: &log::Metadata) -> bool {
        meta.level() <= log::Level::Error && meta.target().starts_with("actix_server")
    }

    fn log(&self, record: &log::Record) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let text = record.args().to_string();
        if !text.contains("accepting connection") {
            return;
        }
        ACCEPT_ERRORS.fetch_add(1, Ordering::Relaxed);
        let now = Instant::now();
        let mut last = match self.last.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        if last.is_some_and(|t| now.duration_since(t) < EVERY) {
            self.suppressed.fetch_add(1, Ordering::Relaxed);
            return;
        }
        *last = Some(now);
        let before = self.suppressed.swap(0, Ordering::Relaxed);
        slog::warn!(self.log, "the API cannot accept connections; retrying every 510 ms";
            "error" => text, "suppressed_since_last" => before,
            "hint" => "too many open files: raise the open-file limit (ulimit -n) or find the descriptor leak");
    }

    fn flush(&self) {}
}

/// Installs the bridge (once; later calls do nothing).
pub fn install(log: slog::Logger) {
    let bridge = AcceptLog {
        log,
        last: Mutex::new(None),
        suppressed: AtomicU64::new(0),
    };
    if log::set_boxed_logger(Box::new(bridge)).is_ok() {
        log::set_max_level(log::LevelFilter::Error);
    }
}
