//! Tests for line capture: long lines, lines across reads, UTF-8 cut points, the readiness pattern.

use super::*;
use crate::logging::sink::LogSink;
use crate::model::config::LogFormat;

fn lines() -> Lines {
    let sink = LogSink::start(Box::new(std::io::sink()));
    let logs = Arc::new(ServiceLogs::new("t", 100, LogFormat::Json, sink));
    Lines::new(logs, 0, 1, Stream::Stdout, None)
}

impl Lines {
    fn feed(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
        assert!(self.emit_ready(false));
        self.release();
    }

    fn finish(&mut self) {
        assert!(self.emit_ready(true));
    }

    fn partial(&self) -> &[u8] {
        &self.buf[self.pos..]
    }
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
    assert_eq!(l.partial(), b"e");
    l.feed(b"\n");
    assert_eq!(l.buf.capacity(), 0, "a finished line's buffer is freed");
    // 112 KiB without a newline, in 16 KiB reads: one full piece is
    // passed on as soon as 64 KiB are there.
    for _ in 0..7 {
        l.feed(&[b'x'; 16 * 1024]);
    }
    assert_eq!(l.partial().len(), 7 * 16 * 1024 - MAX_LINE);
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
