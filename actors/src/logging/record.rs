//! Captured lines as output records, written straight into a reused batch
//! buffer: no per-line allocation, no serde. A JSON record is the same
//! bytes `serde_json` would give for SPEC 6's fields (`ts`, `level`, `msg`,
//! `service`, `instance`, `pid`, `stream`, in that order); a text record is
//! `TS INFO  service[instance] stream: line`, with control characters
//! escaped so a child can't forge a line break or drive a terminal.
//!
//! A record is cut in three: the part before the line (timestamp, and
//! for text the service, instance and stream), the escaped line, and the
//! part after it. Both parts change once per pipe read (the timestamp)
//! and are built then, into buffers of the log thread: a pipe reader keeps
//! only the few numbers they are made of, no allocation.

use crate::model::config::LogFormat;
use crate::model::view::Stream;
use std::fmt::Write as _;

/// What the records of one pipe reader say besides the line and the
/// service's name. `Copy`, no heap: one per pipe, kept for the pipe's life.
#[derive(Clone, Copy, Debug)]
pub struct RecordFormat {
    pub format: LogFormat,
    pub instance: u64,
    pub pid: i32,
    pub stream: Stream,
}

/// The bytes around the line in the records of one read (`RecordFormat::parts`).
#[derive(Default)]
pub struct RecordParts {
    /// JSON (the line is JSON-escaped) or text.
    json: bool,
    head: Vec<u8>,
    tail: Vec<u8>,
}

impl RecordFormat {
    /// Puts into `parts` what comes before and after the line in the
    /// records of `service` stamped `ts` (RFC 3339 UTC, ms).
    pub fn parts(&self, service: &str, ts: &str, parts: &mut RecordParts) {
        let (head, tail) = (&mut parts.head, &mut parts.tail);
        head.clear();
        tail.clear();
        parts.json = self.format == LogFormat::Json;
        let (instance, pid, stream) = (self.instance, self.pid, self.stream.as_str());
        match self.format {
            LogFormat::Json => {
                head.extend_from_slice(b"{\"ts\":\"");
                head.extend_from_slice(ts.as_bytes());
                head.extend_from_slice(b"\",\"level\":\"info\",\"msg\":\"");
                tail.extend_from_slice(b"\",\"service\":\"");
                json_escape(service, tail);
                let _ = writeln!(
                    Bytes(tail),
                    "\",\"instance\":{instance},\"pid\":{pid},\"stream\":\"{stream}\"}}"
                );
            }
            LogFormat::Text => {
                head.extend_from_slice(ts.as_bytes());
                head.extend_from_slice(b" INFO  ");
                text_escape(service, head);
                let _ = write!(Bytes(head), "[{instance}] {stream}: ");
                tail.push(b'\n');
            }
        }
    }
}

impl RecordParts {
    /// Appends the record of `line` (newline included) to `out`.
    pub fn write(&self, line: &str, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.head);
        if self.json {
            json_escape(line, out);
        } else {
            text_escape(line, out);
        }
        out.extend_from_slice(&self.tail);
    }
}

/// `fmt::Write` into a byte vector.
struct Bytes<'a>(&'a mut Vec<u8>);

impl std::fmt::Write for Bytes<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// What `serde_json` does to a string's content: `"` `\` and control
/// characters escaped (short forms where JSON has them), the rest as is.
pub fn json_escape(s: &str, out: &mut Vec<u8>) {
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if b >= 0x20 && b != b'"' && b != b'\\' {
            continue;
        }
        out.extend_from_slice(&bytes[start..i]);
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x0c => out.extend_from_slice(b"\\f"),
            _ => out.extend_from_slice(&[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[(b >> 4) as usize],
                HEX[(b & 0xf) as usize],
            ]),
        }
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
}

/// The text format's escaping: C0 controls but tab, DEL and C1 controls
/// (U+0080..U+009F, which some terminals take as escape sequences) become
/// `\r`, `\n`, `\e`, `\xNN` or `\u{NN}`, and `\` becomes `\\`, so every
/// record is one line and what a child wrote can be read back exactly.
pub fn text_escape(s: &str, out: &mut Vec<u8>) {
    let bytes = s.as_bytes();
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        let c1 = b == 0xc2 && bytes.get(i + 1).is_some_and(|&n| (0x80..0xa0).contains(&n));
        if !(b < 0x20 && b != b'\t' || b == 0x7f || b == b'\\' || c1) {
            i += 1;
            continue;
        }
        out.extend_from_slice(&bytes[start..i]);
        match b {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            0x1b => out.extend_from_slice(b"\\e"),
            0xc2 => {
                let n = bytes[i + 1];
                out.extend_from_slice(b"\\u{");
                out.extend_from_slice(&[HEX[(n >> 4) as usize], HEX[(n & 0xf) as usize], b'}']);
                i += 1;
            }
            _ => out.extend_from_slice(&[
                b'\\',
                b'x',
                HEX[(b >> 4) as usize],
                HEX[(b & 0xf) as usize],
            ]),
        }
        i += 1;
        start = i;
    }
    out.extend_from_slice(&bytes[start..]);
}

/// `text_escape` into a new string (for oneinit's own text records).
pub fn text_escaped(s: &str) -> String {
    let mut out = Vec::with_capacity(s.len());
    text_escape(s, &mut out);
    // Only ASCII was inserted, at character boundaries.
    String::from_utf8(out).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(format: LogFormat, line: &str) -> String {
        let f = RecordFormat {
            format,
            instance: 2,
            pid: 42,
            stream: Stream::Stderr,
        };
        let (mut parts, mut out) = (RecordParts::default(), Vec::new());
        f.parts("we\"b", "2026-01-01T00:00:00.000Z", &mut parts);
        parts.write(line, &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn json_records_are_what_serde_writes() {
        #[derive(serde::Serialize)]
        struct R<'a> {
            ts: &'a str,
            level: &'a str,
            msg: &'a str,
            service: &'a str,
            instance: u64,
            pid: i32,
            stream: &'a str,
        }
        for line in [
            "",
            "plain",
            "q\"uote\\back",
            "\u{0}\u{1}\u{8}\u{c}\t\r\n\u{1b}[31m\u{7f}",
            "é ☃ \u{85} 😀",
        ] {
            let want = serde_json::to_string(&R {
                ts: "2026-01-01T00:00:00.000Z",
                level: "info",
                msg: line,
                service: "we\"b",
                instance: 2,
                pid: 42,
                stream: "stderr",
            })
            .unwrap()
                + "\n";
            assert_eq!(record(LogFormat::Json, line), want, "{line:?}");
        }
    }

    #[test]
    fn text_records_escape_every_control_character() {
        let got = record(
            LogFormat::Text,
            "a\rb\nc\u{1b}[2Jd\u{7}e\\f\tg\u{9b}h\u{7f}ü",
        );
        assert_eq!(
            got,
            "2026-01-01T00:00:00.000Z INFO  we\"b[2] stderr: a\\rb\\nc\\e[2Jd\\x07e\\\\f\tg\\u{9b}h\\x7fü\n"
        );
        assert_eq!(got.matches('\n').count(), 1);
        assert!(!got.contains('\r') && !got.contains('\u{1b}'));
        assert_eq!(text_escaped("fake\n2026 INFO  x"), "fake\\n2026 INFO  x");
    }
}
