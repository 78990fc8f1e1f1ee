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
    l.ready_when = Some(Box::new((
        Regex::new("listening").unwrap(),
        Box::new(move || {
            f.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }),
    )));
    l.feed(b"starting\nlistening on :80\nlistening again\n");
    assert_eq!(fired.load(std::sync::atomic::Ordering::SeqCst), 1);
}

/// Waits (bounded) until no reader of `logs` is open.
async fn all_readers_end(logs: &ServiceLogs) {
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while logs.open_readers() > 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the reader ends at EOF on both pipes"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// One reader takes both pipes of a process: each line lands with its
/// stream, a drain is answered only once both pipes are read (also when
/// the drain comes before the reactor has seen the data, and when the
/// reader is parked), and the reader ends (and stops counting as open)
/// when both reach EOF.
#[actix::test]
async fn one_reader_logs_both_pipes_and_answers_a_drain_once_both_are_read() {
    use std::io::Write;
    let (out_r, mut out_w) = std::io::pipe().unwrap();
    let (err_r, mut err_w) = std::io::pipe().unwrap();
    let logs = lines().logs.clone();
    let pipe = |fd: std::io::PipeReader, stream| {
        Some(Pipe {
            fd: fd.into(),
            stream,
            ready_when: None,
        })
    };
    let reader = Reader {
        logs: logs.clone(),
        instance: 0,
        pid: 7,
        pipes: [pipe(out_r, Stream::Stdout), pipe(err_r, Stream::Stderr)],
    };
    reader.spawn_on(&actix::Arbiter::current());
    out_w.write_all(b"to out\n").unwrap();
    err_w.write_all(b"to err\n").unwrap();
    // At once: the reactor has not seen the data yet when the drain
    // resumes the reader (the lines used to be missed then).
    tokio::time::timeout(Duration::from_secs(5), logs.drained(0, 7))
        .await
        .expect("the drain is answered");
    let got: Vec<(Stream, String)> = logs
        .tail(None, None)
        .into_iter()
        .map(|l| (l.stream, l.line))
        .collect();
    assert!(got.contains(&(Stream::Stdout, "to out".into())), "{got:?}");
    assert!(got.contains(&(Stream::Stderr, "to err".into())), "{got:?}");
    assert_eq!(logs.open_readers(), 1);
    // Parked now (its pipes are empty): a write wakes it, and a drain
    // made before the write is seen is answered after it is logged.
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(PARKED.with_borrow(|p| p.readers.iter().flatten().count()) == 1);
    err_w.write_all(b"again\n").unwrap();
    tokio::time::timeout(Duration::from_secs(5), logs.drained(0, 7))
        .await
        .expect("the drain of a parked reader is answered");
    assert_eq!(logs.tail(Some(1), None)[0].line, "again");
    // stderr closes first; stdout still counts, and its last
    // (unfinished) line is logged at EOF.
    drop(err_w);
    out_w.write_all(b"last words").unwrap();
    drop(out_w);
    all_readers_end(&logs).await;
    let last = logs.tail(Some(1), None);
    assert_eq!(last[0].line, "last words");
    assert_eq!(last[0].stream, Stream::Stdout);
    assert_eq!(
        PARKED.with_borrow(|p| p.readers.iter().flatten().count()),
        0,
        "an ended reader leaves nothing parked"
    );
}

/// Between reads a reader is only its pipes' state, boxed: no task, no
/// future. At 1,000 services every byte here is a KiB of RSS (it was a
/// task of ~660 bytes per process, and two per process before that).
#[test]
fn a_parked_reader_is_about_the_size_of_its_two_pipes() {
    let state = std::mem::size_of::<State>();
    let pipes = 2 * std::mem::size_of::<Option<Open>>();
    assert!(
        state <= pipes + 16,
        "a parked reader takes {state} bytes; its two pipes {pipes}"
    );
    assert!(state <= 240, "a parked reader takes {state} bytes");
}
