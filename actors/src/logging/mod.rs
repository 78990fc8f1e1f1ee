//! oneinit's own log (slog, JSON or text, SPEC 6) and captured child output.
//! Both go through one `LogSink`, so they share stdout and its ordering.
//! Own records are filtered by level; captured lines never are. The level
//! lives in a `LevelHandle` (an atomic) so a reload can change it without
//! rebuilding the logger every actor holds a child of.

pub mod capture;
mod pipes;
pub mod record;
pub mod ring;
pub mod rotate;
pub mod service_logs;
pub mod sink;

use crate::model::config::{LogFormat, LogLevel};
use chrono::{DateTime, SecondsFormat, Utc};
use sink::{LogSink, SinkWriter};
use slog::{o, Drain, Key, Level, OwnedKVList, Record, KV};
use std::fmt::Write as _;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// `ts` of every record: RFC 3339, UTC, milliseconds.
pub fn now_ts() -> String {
    now_ts_of(Utc::now())
}

/// `ts` of a record made at `t`.
pub fn now_ts_of(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn level_str(l: Level) -> &'static str {
    match l {
        Level::Critical => "critical",
        Level::Error => "error",
        Level::Warning => "warn",
        Level::Info => "info",
        Level::Debug => "debug",
        Level::Trace => "trace",
    }
}

fn slog_level(l: LogLevel) -> Level {
    match l {
        LogLevel::Trace => Level::Trace,
        LogLevel::Debug => Level::Debug,
        LogLevel::Info => Level::Info,
        LogLevel::Warn => Level::Warning,
        LogLevel::Error => Level::Error,
    }
}

/// The run-time level of oneinit's own log (shared by the logger's drain
/// and whoever may change it: the ServiceManager on reload).
#[derive(Clone, Debug)]
pub struct LevelHandle(Arc<AtomicUsize>);

impl LevelHandle {
    pub fn new(level: LogLevel) -> LevelHandle {
        LevelHandle(Arc::new(AtomicUsize::new(slog_level(level).as_usize())))
    }

    pub fn set(&self, level: LogLevel) {
        self.0
            .store(slog_level(level).as_usize(), Ordering::Relaxed);
    }

    /// The current level, as configured.
    pub fn get(&self) -> LogLevel {
        match Level::from_usize(self.0.load(Ordering::Relaxed)) {
            Some(Level::Trace) => LogLevel::Trace,
            Some(Level::Debug) => LogLevel::Debug,
            Some(Level::Warning) => LogLevel::Warn,
            Some(Level::Error | Level::Critical) => LogLevel::Error,
            _ => LogLevel::Info,
        }
    }

    fn allows(&self, level: Level) -> bool {
        level.as_usize() <= self.0.load(Ordering::Relaxed)
    }
}

/// A level filter reading its level from a `LevelHandle` on every record.
struct DynLevel<D> {
    drain: D,
    level: LevelHandle,
}

impl<D: Drain> Drain for DynLevel<D> {
    type Ok = Option<D::Ok>;
    type Err = D::Err;

    fn log(&self, record: &Record, values: &OwnedKVList) -> Result<Self::Ok, D::Err> {
        if self.level.allows(record.level()) {
            self.drain.log(record, values).map(Some)
        } else {
            Ok(None)
        }
    }

    fn is_enabled(&self, level: Level) -> bool {
        self.level.allows(level) && self.drain.is_enabled(level)
    }
}

/// Builds the root logger writing to `sink`, at a fixed level.
pub fn root_logger(sink: &LogSink, format: LogFormat, level: LogLevel) -> slog::Logger {
    root_logger_with_level(sink, format, LevelHandle::new(level))
}

/// Builds the root logger writing to `sink`; `level` can be changed later.
pub fn root_logger_with_level(
    sink: &LogSink,
    format: LogFormat,
    level: LevelHandle,
) -> slog::Logger {
    match format {
        LogFormat::Json => {
            let json = slog_json::Json::new(SinkWriter::new(sink.clone()))
                .set_newlines(true)
                .set_flush(true)
                // slog serialises these last-first: ts, level, msg come out in that order.
                .add_key_value(o!(
                    "msg" => slog::PushFnValue(|r, ser| ser.emit(r.msg())),
                    "level" => slog::FnValue(|r| level_str(r.level())),
                    "ts" => slog::PushFnValue(|_, ser| ser.emit(now_ts())),
                ))
                .build();
            let drain = Mutex::new(json).map(slog::Fuse);
            let drain = DynLevel { drain, level }.fuse();
            slog::Logger::root(drain, o!())
        }
        LogFormat::Text => {
            let drain = TextDrain { sink: sink.clone() };
            let drain = DynLevel { drain, level }.fuse();
            slog::Logger::root(drain, o!())
        }
    }
}

/// `2026-01-01T00:00:00.000Z INFO  message key=value ...`
struct TextDrain {
    sink: LogSink,
}

impl Drain for TextDrain {
    type Ok = ();
    type Err = std::io::Error;

    fn log(&self, record: &Record, values: &OwnedKVList) -> Result<(), std::io::Error> {
        // Messages and values may carry what a child wrote (a command
        // line, a status text): escaped like captured lines.
        let mut line = format!(
            "{} {:<5} {}",
            now_ts(),
            level_str(record.level()).to_uppercase(),
            record::text_escaped(&record.msg().to_string())
        );
        let mut ser = TextSer(String::new());
        let _ = record.kv().serialize(record, &mut ser);
        let _ = values.serialize(record, &mut ser);
        line.push_str(&ser.0);
        line.push('\n');
        self.sink.try_write(line.as_bytes());
        Ok(())
    }
}

struct TextSer(String);

impl slog::Serializer for TextSer {
    fn emit_arguments(&mut self, key: Key, val: &std::fmt::Arguments) -> slog::Result {
        let _ = write!(self.0, " {key}={}", record::text_escaped(&val.to_string()));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Counts the records that reach it.
    struct Count(Arc<AtomicUsize>);

    impl Drain for Count {
        type Ok = ();
        type Err = slog::Never;
        fn log(&self, _: &Record, _: &OwnedKVList) -> Result<(), slog::Never> {
            self.0.fetch_add(1, Ordering::Relaxed);
            Ok(())
        }
    }

    #[test]
    fn level_changes_apply_to_existing_loggers() {
        let seen = Arc::new(AtomicUsize::new(0));
        let level = LevelHandle::new(LogLevel::Info);
        let root = slog::Logger::root(
            DynLevel {
                drain: Count(seen.clone()),
                level: level.clone(),
            }
            .fuse(),
            o!(),
        );
        let child = root.new(o!("service" => "x"));
        slog::debug!(child, "hidden");
        slog::info!(child, "shown");
        assert_eq!(seen.load(Ordering::Relaxed), 1);
        level.set(LogLevel::Debug);
        assert_eq!(level.get(), LogLevel::Debug);
        slog::debug!(child, "now shown");
        assert_eq!(seen.load(Ordering::Relaxed), 2);
        level.set(LogLevel::Error);
        slog::warn!(child, "hidden again");
        slog::error!(child, "shown");
        assert_eq!(seen.load(Ordering::Relaxed), 3);
    }
}
