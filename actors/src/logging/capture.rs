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
use tokio::io::AsyncReadExt;

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
    pub async fn run(self) {
        let Reader {
            fd,
            logs,
            instance,
            pid,
            stream,
            mut ready_when,
        } = self;
        let mut pipe = match tokio::net::unix::pipe::Receiver::from_owned_fd(fd) {
            Ok(p) => p,
            Err(_) => return,
        };
        // Small to start with: most services print little; `buf` grows for
        // long lines only.
        let mut buf: Vec<u8> = Vec::new();
        let mut chunk = vec![0u8; 4 * 1024];
        loop {
            let n = match pipe.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            buf.extend_from_slice(&chunk[..n]);
            let mut start = 0;
            while let Some(pos) = buf[start..].iter().position(|&b| b == b'\n') {
                let end = start + pos;
                emit(
                    &logs,
                    instance,
                    pid,
                    stream,
                    &buf[start..end],
                    &mut ready_when,
                );
                start = end + 1;
            }
            buf.drain(..start);
            if buf.is_empty() && buf.capacity() > 64 * 1024 {
                buf = Vec::new();
            }
            // No newline yet in 64 KiB: pass the full pieces on now.
            while buf.len() >= MAX_LINE {
                let rest = buf.split_off(cut_point(&buf));
                emit(&logs, instance, pid, stream, &buf, &mut ready_when);
                buf = rest;
            }
            logs.flush_file();
        }
        if !buf.is_empty() {
            emit(&logs, instance, pid, stream, &buf, &mut ready_when);
        }
        logs.flush_file();
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
