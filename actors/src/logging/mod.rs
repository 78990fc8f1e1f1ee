//! oneinit's own log (slog, JSON or text, SPEC 6) and captured child output.
//! Both go through one `LogSink`, so they share stdout and its ordering.
//! Own records are filtered by level; captured lines never are.

pub mod capture;
pub mod rotate;
pub mod service_logs;
pub mod sink;

use crate::model::config::{LogFormat, LogLevel};
use crate::model::view::Stream;
use chrono::{SecondsFormat, Utc};
use sink::{LogSink, SinkWriter};
use slog::{o, Drain, Key, Level, OwnedKVList, Record, KV};
use std::fmt::Write as _;
use std::sync::Mutex;

/// `ts` of every record: RFC 3339, UTC, milliseconds.
pub fn now_ts() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true)
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

/// Builds the root logger writing to `sink`.
pub fn root_logger(sink: &LogSink, format: LogFormat, level: LogLevel) -> slog::Logger {
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
            let drain = slog::LevelFilter::new(drain, slog_level(level)).fuse();
            slog::Logger::root(drain, o!())
        }
        LogFormat::Text => {
            let drain = TextDrain { sink: sink.clone() };
            let drain = slog::LevelFilter::new(drain, slog_level(level)).fuse();
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
        let mut line = format!(
            "{} {:<5} {}",
            now_ts(),
            level_str(record.level()).to_uppercase(),
            record.msg()
        );
        let mut ser = TextSer(String::new());
        let _ = record.kv().serialize(record, &mut ser);
        let _ = values.serialize(record, &mut ser);
        line.push_str(&ser.0);
        line.push('\n');
        if !self.sink.try_write(line.into_bytes()) {
            self.sink
                .own_dropped
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        Ok(())
    }
}

struct TextSer(String);

impl slog::Serializer for TextSer {
    fn emit_arguments(&mut self, key: Key, val: &std::fmt::Arguments) -> slog::Result {
        let _ = write!(self.0, " {key}={val}");
        Ok(())
    }
}

/// A captured line as a JSON record (SPEC 6 fields, `ts` first). A struct
/// rather than a `json!` map: no map allocation per line, stable key order.
#[derive(serde::Serialize)]
struct CapturedRecord<'a> {
    ts: String,
    level: &'static str,
    msg: &'a str,
    service: &'a str,
    instance: u64,
    pid: i32,
    stream: &'static str,
}

/// One captured output line as a record of the configured format.
pub fn format_captured(
    format: LogFormat,
    service: &str,
    instance: u64,
    pid: i32,
    stream: Stream,
    line: &str,
) -> Vec<u8> {
    match format {
        LogFormat::Json => {
            let record = CapturedRecord {
                ts: now_ts(),
                level: "info",
                msg: line,
                service,
                instance,
                pid,
                stream: stream.as_str(),
            };
            let mut v = Vec::with_capacity(line.len() + 128);
            if serde_json::to_writer(&mut v, &record).is_err() {
                v.clear();
            }
            v.push(b'\n');
            v
        }
        LogFormat::Text => format!(
            "{} INFO  {service}[{instance}] {}: {line}\n",
            now_ts(),
            stream.as_str()
        )
        .into_bytes(),
    }
}
