//! Reading a child's stdout/stderr pipe line by line, without ever letting
//! the child block on a full pipe for long: the reader runs on the log
//! thread and hands lines to `ServiceLogs` (which drops and counts when the
//! output is backed up). Lines over 64 KiB are split; invalid UTF-8 is
//! replaced. An optional regex reports readiness (`readiness.log_line`).

use super::service_logs::ServiceLogs;
use crate::model::view::Stream;
use regex::Regex;
use std::os::fd::OwnedFd;
use std::sync::Arc;

/// Longest line kept whole; longer ones are split into pieces of this size.
pub const MAX_LINE: usize = 64 * 1024;

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

impl Reader {
    /// Starts reading on `arbiter` (the log thread). The reader counts as
    /// open from now on, so a shutdown that follows at once still waits for
    /// the lines already in the pipe.
    pub fn spawn_on(self, arbiter: &actix::ArbiterHandle) {
        self.logs.reader_opened();
        let open = OpenReader(self.logs.clone());
        arbiter.spawn(async move {
            self.run().await;
            drop(open);
        });
    }

    /// Reads until EOF (all writers closed). Run it on the log arbiter.
    /// A waiting reader holds no buffer: bytes are read into the log
    /// thread's one scratch buffer, and only an unfinished line is kept.
    pub async fn run(self) {
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
            if pipe.readable().await.is_err() {
                break;
            }
            let read = SCRATCH.with_borrow_mut(|chunk| match pipe.try_read(chunk) {
                Ok(0) => Read::Eof,
                Ok(n) => {
                    lines.feed(&chunk[..n]);
                    Read::Data
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => Read::Spurious,
                Err(_) => Read::Eof,
            });
            match read {
                Read::Eof => break,
                Read::Data => lines.logs.flush_file(),
                Read::Spurious => {}
            }
        }
        lines.finish();
        lines.logs.flush_file();
    }
}

thread_local! {
    /// One read buffer for all the pipe readers of a thread (they run on
    /// the log arbiter, one at a time).
    static SCRATCH: std::cell::RefCell<Vec<u8>> = std::cell::RefCell::new(vec![0u8; 16 * 1024]);
}

enum Read {
    Data,
    Eof,
    Spurious,
}

/// Cuts one stream's bytes into lines and hands them to `ServiceLogs`.
struct Lines {
    logs: Arc<ServiceLogs>,
    instance: u64,
    pid: i32,
    stream: Stream,
    ready_when: Option<(Regex, OnMatch)>,
    /// The start of a line whose newline has not come yet.
    partial: Vec<u8>,
}

impl Lines {
    fn new(
        logs: Arc<ServiceLogs>,
        instance: u64,
        pid: i32,
        stream: Stream,
        ready_when: Option<(Regex, OnMatch)>,
    ) -> Lines {
        Lines {
            logs,
            instance,
            pid,
            stream,
            ready_when,
            partial: Vec::new(),
        }
    }

    /// Emits every complete line of what was kept + `data`; keeps the
    /// rest (passing on full MAX_LINE pieces of a line with no newline yet).
    fn feed(&mut self, data: &[u8]) {
        let mut partial = std::mem::take(&mut self.partial);
        let mut rest = data;
        while let Some(pos) = rest.iter().position(|&b| b == b'\n') {
            if partial.is_empty() {
                self.emit(&rest[..pos]);
            } else {
                partial.extend_from_slice(&rest[..pos]);
                self.emit(&partial);
                partial.clear();
            }
            rest = &rest[pos + 1..];
        }
        partial.extend_from_slice(rest);
        // No newline yet in 64 KiB: pass the full pieces on now.
        while partial.len() >= MAX_LINE {
            let cut = cut_point(&partial);
            self.emit(&partial[..cut]);
            partial.drain(..cut);
        }
        // A quiet service keeps no buffer (not even a long line's).
        self.partial = if partial.is_empty() {
            Vec::new()
        } else {
            partial
        };
    }

    /// EOF: the last line, even without its newline.
    fn finish(&mut self) {
        let partial = std::mem::take(&mut self.partial);
        if !partial.is_empty() {
            self.emit(&partial);
        }
    }

    /// One line of output: pieces of at most MAX_LINE bytes (a line that
    /// ends in the same read as its first 64 KiB never went through the
    /// split in `feed`).
    fn emit(&mut self, raw: &[u8]) {
        let mut rest = raw.strip_suffix(b"\r").unwrap_or(raw);
        loop {
            let cut = cut_point(rest);
            self.emit_piece(&rest[..cut]);
            rest = &rest[cut..];
            if rest.is_empty() {
                break;
            }
        }
    }

    fn emit_piece(&mut self, raw: &[u8]) {
        let line = String::from_utf8_lossy(raw).into_owned();
        if self
            .ready_when
            .as_ref()
            .is_some_and(|(re, _)| re.is_match(&line))
        {
            if let Some((_, on_match)) = self.ready_when.take() {
                on_match();
            }
        }
        self.logs.push(self.instance, self.pid, self.stream, line);
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
mod tests {
    use super::*;
    use crate::logging::sink::LogSink;
    use crate::model::config::LogFormat;

    fn lines() -> Lines {
        let sink = LogSink::start(Box::new(std::io::sink()));
        let logs = Arc::new(ServiceLogs::new("t", 100, LogFormat::Json, sink));
        Lines::new(logs, 0, 1, Stream::Stdout, None)
    }

    fn kept(l: &Lines) -> Vec<String> {
        l.logs
            .tail(None, None)
            .into_iter()
            .map(|x| x.line)
            .collect()
    }

    #[test]
    fn a_long_line_that_ends_in_one_read_is_still_split() {
        let mut l = lines();
        let mut raw = vec![b'a'; 150_000];
        raw.extend_from_slice(b"\r\n");
        l.feed(&raw);
        let lens: Vec<usize> = kept(&l).iter().map(String::len).collect();
        assert_eq!(lens, [MAX_LINE, MAX_LINE, 150_000 - 2 * MAX_LINE]);
    }

    #[test]
    fn lines_split_across_reads_are_joined_and_only_the_unfinished_rest_is_kept() {
        let mut l = lines();
        l.feed(b"ab");
        l.feed(b"c\nd\r\ne");
        assert_eq!(l.partial, b"e");
        l.feed(b"\n");
        assert_eq!(l.partial.capacity(), 0, "a finished line's buffer is freed");
        // 112 KiB without a newline, in 16 KiB reads: one full piece is
        // passed on as soon as 64 KiB are there.
        for _ in 0..7 {
            l.feed(&[b'x'; 16 * 1024]);
        }
        assert_eq!(l.partial.len(), 7 * 16 * 1024 - MAX_LINE);
        let got = kept(&l);
        assert_eq!(got[..3], ["abc", "d", "e"]);
        assert_eq!(got[3].len(), MAX_LINE);
        assert_eq!(got.len(), 4);
        // EOF passes on the rest, newline or not.
        l.finish();
        assert_eq!(kept(&l)[4].len(), 7 * 16 * 1024 - MAX_LINE);
    }

    #[test]
    fn cuts_fall_on_character_boundaries() {
        // 'é' is two bytes: a cut at MAX_LINE would land inside one.
        let mut raw = vec![b'a'; MAX_LINE - 1];
        raw.extend_from_slice("éé\n".as_bytes());
        assert_eq!(cut_point(&raw), MAX_LINE - 1);
        let mut l = lines();
        l.feed(&raw);
        let got = kept(&l);
        assert_eq!(got.len(), 2);
        assert_eq!(got[1], "éé");
        assert!(!got[0].contains('\u{FFFD}'));
        // An empty line is one empty record.
        l.feed(b"\n");
        assert_eq!(l.logs.tail(Some(1), None)[0].line, "");
    }

    #[test]
    fn the_readiness_pattern_fires_once() {
        let mut l = lines();
        let fired = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let f = fired.clone();
        l.ready_when = Some((
            Regex::new("listening").unwrap(),
            Box::new(move || {
                f.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            }),
        ));
        l.feed(b"starting\nlistening on :80\nlistening again\n");
        assert_eq!(fired.load(std::sync::atomic::Ordering::SeqCst), 1);
    }
}
