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
            mut ready_when,
        } = self;
        let Ok(pipe) = tokio::net::unix::pipe::Receiver::from_owned_fd(fd) else {
            return;
        };
        // The start of a line whose newline has not come yet.
        let mut partial: Vec<u8> = Vec::new();
        loop {
            if pipe.readable().await.is_err() {
                break;
            }
            let read = SCRATCH.with_borrow_mut(|chunk| match pipe.try_read(chunk) {
                Ok(0) => Read::Eof,
                Ok(n) => {
                    let mut lines = Lines {
                        logs: &logs,
                        instance,
                        pid,
                        stream,
                        ready_when: &mut ready_when,
                    };
                    lines.feed(&mut partial, &chunk[..n]);
                    Read::Data
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => Read::Spurious,
                Err(_) => Read::Eof,
            });
            match read {
                Read::Eof => break,
                Read::Data => logs.flush_file(),
                Read::Spurious => {}
            }
        }
        if !partial.is_empty() {
            emit(&logs, instance, pid, stream, &partial, &mut ready_when);
        }
        logs.flush_file();
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

/// Where the lines of one read go.
struct Lines<'a> {
    logs: &'a ServiceLogs,
    instance: u64,
    pid: i32,
    stream: Stream,
    ready_when: &'a mut Option<(Regex, OnMatch)>,
}

impl Lines<'_> {
    /// Emits every complete line of `partial` + `data`; keeps the rest in
    /// `partial` (passing on full MAX_LINE pieces of a line with no newline
    /// yet).
    fn feed(&mut self, partial: &mut Vec<u8>, data: &[u8]) {
        let mut rest = data;
        while let Some(pos) = rest.iter().position(|&b| b == b'\n') {
            if partial.is_empty() {
                self.emit(&rest[..pos]);
            } else {
                partial.extend_from_slice(&rest[..pos]);
                self.emit(partial);
                partial.clear();
            }
            rest = &rest[pos + 1..];
        }
        partial.extend_from_slice(rest);
        // No newline yet in 64 KiB: pass the full pieces on now.
        while partial.len() >= MAX_LINE {
            let cut = cut_point(partial);
            self.emit(&partial[..cut]);
            partial.drain(..cut);
        }
        if partial.is_empty() && partial.capacity() > 0 {
            // Do not keep a long line's buffer while the service is quiet.
            *partial = Vec::new();
        }
    }

    fn emit(&mut self, raw: &[u8]) {
        emit(
            self.logs,
            self.instance,
            self.pid,
            self.stream,
            raw,
            self.ready_when,
        );
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

/// One line of output: pieces of at most MAX_LINE bytes (a line that ends
/// in the same read as its first 64 KiB never went through the split above).
fn emit(
    logs: &ServiceLogs,
    instance: u64,
    pid: i32,
    stream: Stream,
    raw: &[u8],
    ready_when: &mut Option<(Regex, OnMatch)>,
) {
    let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
    let mut rest = raw;
    loop {
        let cut = cut_point(rest);
        emit_piece(logs, instance, pid, stream, &rest[..cut], ready_when);
        rest = &rest[cut..];
        if rest.is_empty() {
            break;
        }
    }
}

fn emit_piece(
    logs: &ServiceLogs,
    instance: u64,
    pid: i32,
    stream: Stream,
    raw: &[u8],
    ready_when: &mut Option<(Regex, OnMatch)>,
) {
    let line = String::from_utf8_lossy(raw).into_owned();
    if ready_when
        .as_ref()
        .is_some_and(|(re, _)| re.is_match(&line))
    {
        if let Some((_, on_match)) = ready_when.take() {
            on_match();
        }
    }
    logs.push(instance, pid, stream, line);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logging::sink::LogSink;
    use crate::model::config::LogFormat;

    fn logs() -> ServiceLogs {
        let sink = LogSink::start(Box::new(std::io::sink()));
        ServiceLogs::new("t", 100, LogFormat::Json, sink)
    }

    #[test]
    fn a_long_line_that_ends_in_one_read_is_still_split() {
        let l = logs();
        let mut raw = vec![b'a'; 150_000];
        raw.push(b'\r');
        emit(&l, 0, 1, Stream::Stdout, &raw, &mut None);
        let lens: Vec<usize> = l.tail(None, None).iter().map(|x| x.line.len()).collect();
        assert_eq!(lens, [MAX_LINE, MAX_LINE, 150_000 - 2 * MAX_LINE]);
    }

    #[test]
    fn lines_split_across_reads_are_joined_and_only_the_unfinished_rest_is_kept() {
        let l = logs();
        let mut ready = None;
        let mut lines = Lines {
            logs: &l,
            instance: 0,
            pid: 1,
            stream: Stream::Stdout,
            ready_when: &mut ready,
        };
        let mut partial = Vec::new();
        lines.feed(&mut partial, b"ab");
        lines.feed(&mut partial, b"c\nd\r\ne");
        assert_eq!(partial, b"e");
        lines.feed(&mut partial, b"\n");
        assert_eq!(partial.capacity(), 0, "a finished line's buffer is freed");
        // 100 KiB without a newline, in 16 KiB reads: one full piece is
        // passed on as soon as 64 KiB are there.
        for _ in 0..7 {
            lines.feed(&mut partial, &[b'x'; 16 * 1024]);
        }
        assert_eq!(partial.len(), 7 * 16 * 1024 - MAX_LINE);
        let got: Vec<String> = l.tail(None, None).into_iter().map(|x| x.line).collect();
        assert_eq!(got[..3], ["abc", "d", "e"]);
        assert_eq!(got[3].len(), MAX_LINE);
        assert_eq!(got.len(), 4);
    }

    #[test]
    fn cuts_fall_on_character_boundaries() {
        // 'é' is two bytes: a cut at MAX_LINE would land inside one.
        let mut raw = vec![b'a'; MAX_LINE - 1];
        raw.extend_from_slice("éé".as_bytes());
        assert_eq!(cut_point(&raw), MAX_LINE - 1);
        let l = logs();
        emit(&l, 0, 1, Stream::Stdout, &raw, &mut None);
        let lines = l.tail(None, None);
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[1].line, "éé");
        assert!(!lines[0].line.contains('\u{FFFD}'));
        // An empty line is one empty record.
        emit(&l, 0, 1, Stream::Stdout, b"", &mut None);
        assert_eq!(l.tail(Some(1), None)[0].line, "");
    }
}
