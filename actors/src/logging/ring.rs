//! A service's in-memory log ring (`GET .../logs`), bounded in bytes
//! (`logs.buffer`) and in lines (`logs.ring`). The text of every line sits
//! in one byte ring and each line adds a small fixed-size entry, so keeping
//! a line costs no allocation of its own, and the budget counts both.
//!
//! Lines are numbered (`seq`) as they come; a `LogTail` reads a range of
//! numbers a batch at a time, so an API response never copies the ring.

use crate::model::view::{LogLine, Stream};
use chrono::{DateTime, Utc};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

/// Bookkeeping of one kept line.
#[derive(Clone, Copy)]
struct Entry {
    ts_nanos: i64,
    instance: u64,
    /// Absolute position of the text in the byte ring.
    start: u64,
    len: u32,
    stream: Stream,
}

/// What one line costs besides its text, as counted against `logs.buffer`.
pub const ENTRY_COST: usize = std::mem::size_of::<Entry>();

pub struct LineRing {
    entries: VecDeque<Entry>,
    text: VecDeque<u8>,
    /// Absolute position of `text[0]`.
    text_front: u64,
    /// `seq` of `entries[0]`.
    first_seq: u64,
    max_lines: usize,
    max_bytes: usize,
}

impl LineRing {
    pub fn new(max_lines: usize, max_bytes: usize) -> LineRing {
        LineRing {
            entries: VecDeque::new(),
            text: VecDeque::new(),
            text_front: 0,
            first_seq: 0,
            max_lines,
            max_bytes,
        }
    }

    /// Bytes held, as counted against the budget.
    pub fn bytes(&self) -> usize {
        self.text.len() + self.entries.len() * ENTRY_COST
    }

    /// The `seq` the next line will get.
    pub fn end_seq(&self) -> u64 {
        self.first_seq + self.entries.len() as u64
    }

    /// Keeps `line`, forgetting the oldest lines as needed. A line that is
    /// larger than the whole budget is not kept (it still went to stdout).
    pub fn push(&mut self, ts: DateTime<Utc>, instance: u64, stream: Stream, line: &str) {
        let cost = line.len() + ENTRY_COST;
        if self.max_lines == 0 || cost > self.max_bytes {
            return;
        }
        while !self.entries.is_empty()
            && (self.entries.len() >= self.max_lines || self.bytes() + cost > self.max_bytes)
        {
            self.clear_front(1);
        }
        // Grow the text ring by doubling, never past the budget.
        let need = self.text.len() + line.len();
        if need > self.text.capacity() {
            let target = (self.text.capacity() * 2).max(need).min(self.max_bytes);
            self.text.reserve_exact(target.max(need) - self.text.len());
        }
        let start = self.text_front + self.text.len() as u64;
        self.text.extend(line.as_bytes());
        self.entries.push_back(Entry {
            ts_nanos: ts.timestamp_nanos_opt().unwrap_or(0),
            instance,
            start,
            len: line.len() as u32,
            stream,
        });
    }

    fn clear_front(&mut self, n: usize) {
        for _ in 0..n {
            if let Some(e) = self.entries.pop_front() {
                self.first_seq += 1;
                let drop_to = e.start + u64::from(e.len) - self.text_front;
                self.text.drain(..drop_to as usize);
                self.text_front += drop_to;
            }
        }
    }

    /// The range of `seq` of the last `tail` lines of `stream` (all kept
    /// lines when None).
    pub fn tail_range(&self, tail: Option<usize>, stream: Option<Stream>) -> (u64, u64) {
        let end = self.end_seq();
        let Some(tail) = tail else {
            return (self.first_seq, end);
        };
        let mut found = 0;
        let mut start = end;
        for (i, e) in self.entries.iter().enumerate().rev() {
            if found == tail {
                break;
            }
            if stream.is_none_or(|s| s == e.stream) {
                found += 1;
                start = self.first_seq + i as u64;
            }
        }
        (start, end)
    }

    /// Appends lines from `from` (the first ones still kept) up to `to` to
    /// `out`, stopping after about `max_bytes` of text. Answers where to
    /// go on.
    pub fn read(
        &self,
        from: u64,
        to: u64,
        stream: Option<Stream>,
        max_bytes: usize,
        out: &mut Vec<LogLine>,
    ) -> u64 {
        let mut seq = from.max(self.first_seq);
        let mut taken = 0;
        while seq < to.min(self.end_seq()) && taken < max_bytes {
            let e = self.entries[(seq - self.first_seq) as usize];
            seq += 1;
            if stream.is_some_and(|s| s != e.stream) {
                continue;
            }
            let at = (e.start - self.text_front) as usize;
            let bytes: Vec<u8> = self.text.range(at..at + e.len as usize).copied().collect();
            taken += bytes.len() + ENTRY_COST;
            out.push(LogLine {
                ts: DateTime::from_timestamp_nanos(e.ts_nanos),
                instance: e.instance,
                stream: e.stream,
                line: String::from_utf8(bytes)
                    .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()),
            });
        }
        seq.max(from)
    }
}

/// Lines served to one API request, read a batch at a time (or, from a
/// test double, a fixed list).
pub struct LogTail {
    source: Source,
}

enum Source {
    Ring {
        ring: Arc<Mutex<LineRing>>,
        next: u64,
        end: u64,
        stream: Option<Stream>,
    },
    Lines(VecDeque<LogLine>),
}

/// Text bytes per batch (a batch is one chunk of the HTTP response).
pub const BATCH_BYTES: usize = 64 * 1024;

impl LogTail {
    pub(crate) fn of_ring(
        ring: Arc<Mutex<LineRing>>,
        tail: Option<usize>,
        stream: Option<Stream>,
    ) -> LogTail {
        let (next, end) = match ring.lock() {
            Ok(r) => r.tail_range(tail, stream),
            Err(_) => (0, 0),
        };
        LogTail {
            source: Source::Ring {
                ring,
                next,
                end,
                stream,
            },
        }
    }

    /// A fixed list (test doubles of the manager).
    pub fn from_lines(lines: Vec<LogLine>) -> LogTail {
        LogTail {
            source: Source::Lines(lines.into()),
        }
    }

    /// The next lines (about BATCH_BYTES of text); empty at the end.
    /// Lines forgotten by the ring while a slow client reads are skipped.
    pub fn next_batch(&mut self) -> Vec<LogLine> {
        let mut out = Vec::new();
        match &mut self.source {
            Source::Ring {
                ring,
                next,
                end,
                stream,
            } => {
                if let Ok(r) = ring.lock() {
                    *next = r.read(*next, *end, *stream, BATCH_BYTES, &mut out);
                }
            }
            Source::Lines(lines) => {
                let mut taken = 0;
                while taken < BATCH_BYTES {
                    let Some(l) = lines.pop_front() else { break };
                    taken += l.line.len() + ENTRY_COST;
                    out.push(l);
                }
            }
        }
        out
    }

    /// Every remaining line at once (log follow, whose tail is bounded by
    /// the ring anyway).
    pub fn collect_all(mut self) -> Vec<LogLine> {
        let mut all = Vec::new();
        loop {
            let batch = self.next_batch();
            if batch.is_empty() {
                return all;
            }
            all.extend(batch);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(r: &LineRing, tail: Option<usize>, stream: Option<Stream>) -> Vec<String> {
        let (from, to) = r.tail_range(tail, stream);
        let mut out = Vec::new();
        r.read(from, to, stream, usize::MAX, &mut out);
        out.into_iter().map(|l| l.line).collect()
    }

    #[test]
    fn the_ring_keeps_the_newest_lines_within_both_caps() {
        let mut r = LineRing::new(3, 1 << 20);
        for i in 0..5 {
            r.push(Utc::now(), 0, Stream::Stdout, &format!("l{i}"));
        }
        assert_eq!(lines(&r, None, None), ["l2", "l3", "l4"]);
        let budget = 4 * (100 + ENTRY_COST);
        let mut r = LineRing::new(1000, budget);
        for i in 0..50 {
            r.push(Utc::now(), 0, Stream::Stdout, &format!("{i:0100}"));
            assert!(r.bytes() <= budget);
        }
        let kept = lines(&r, None, None);
        assert_eq!(kept.len(), 4);
        assert!(kept[3].ends_with("49"));
        assert!(r.text.capacity() <= budget * 2, "{}", r.text.capacity());
        // Too big for the whole budget: not kept, and nothing breaks.
        r.push(Utc::now(), 0, Stream::Stdout, &"x".repeat(budget));
        assert_eq!(lines(&r, None, None), kept);
        r.push(Utc::now(), 0, Stream::Stdout, "after");
        assert_eq!(lines(&r, None, None).last().unwrap(), "after");
    }

    #[test]
    fn tail_and_stream_pick_the_last_matching_lines() {
        let mut r = LineRing::new(100, 1 << 20);
        for i in 0..10 {
            let s = if i % 2 == 0 {
                Stream::Stdout
            } else {
                Stream::Stderr
            };
            r.push(Utc::now(), i, s, &format!("l{i}"));
        }
        assert_eq!(lines(&r, Some(2), Some(Stream::Stderr)), ["l7", "l9"]);
        assert_eq!(lines(&r, Some(3), None), ["l7", "l8", "l9"]);
        assert_eq!(lines(&r, Some(0), None), Vec::<String>::new());
        assert_eq!(lines(&r, Some(100), Some(Stream::Stdout)).len(), 5);
    }

    #[test]
    fn a_tail_reads_in_batches_and_skips_what_was_forgotten_meanwhile() {
        let ring = Arc::new(Mutex::new(LineRing::new(100_000, 64 << 20)));
        for i in 0..20_000 {
            ring.lock()
                .unwrap()
                .push(Utc::now(), 0, Stream::Stdout, &format!("{i:020}"));
        }
        let mut tail = LogTail::of_ring(ring.clone(), None, None);
        let first = tail.next_batch();
        assert!(first.len() > 100 && first.len() < 20_000, "{}", first.len());
        let mut got = first.len();
        loop {
            let b = tail.next_batch();
            if b.is_empty() {
                break;
            }
            got += b.len();
        }
        assert_eq!(got, 20_000);
        // Lines that go while a client reads are skipped, never repeated.
        let mut tail = LogTail::of_ring(ring.clone(), None, None);
        let first = tail.next_batch();
        {
            let mut r = ring.lock().unwrap();
            r.max_lines = 10;
            r.push(Utc::now(), 0, Stream::Stdout, "new");
        }
        let rest = tail.collect_all();
        assert_eq!(
            rest.len(),
            9,
            "the 9 old lines left; `new` came after the request"
        );
        assert!(rest[0].line > first.last().unwrap().line);
    }
}
