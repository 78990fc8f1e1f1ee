//! Durations, sizes and cron expressions as the config writes them
//! (SPEC 2, 3): parse, format back, and compute the next due times.
//! Input: one line; the first byte picks a timezone for cron.
#![no_main]

use chrono::{TimeZone, Utc};
use libfuzzer_sys::fuzz_target;
use oneinit_actors::model::config::ScheduleConfig;
use oneinit_actors::model::schedule::Timetable;
use oneinit_actors::model::units::{format_duration, format_size, parse_duration, parse_size};

const ZONES: [Option<&str>; 4] = [None, Some("Europe/Berlin"), Some("America/New_York"), Some("Asia/Kolkata")];

fuzz_target!(|data: &[u8]| {
    let Some((&zone, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    if let Ok(d) = parse_duration(text) {
        // What was accepted formats back to text that parses again.
        let again = parse_duration(&format_duration(d)).expect("formatted duration parses");
        assert!(again <= d, "{text:?}: {d:?} formatted as {again:?}");
    }
    if let Ok(s) = parse_size(text) {
        assert_eq!(parse_size(&format_size(s)), Ok(s), "{text:?}");
    }
    let schedule = ScheduleConfig {
        cron: Some(text.to_string()),
        timezone: ZONES[zone as usize % ZONES.len()].map(str::to_string),
        ..ScheduleConfig::default()
    };
    if let Ok(table) = Timetable::from_config(&schedule) {
        let start = Utc.with_ymd_and_hms(2026, 3, 29, 0, 30, 0).single().expect("date");
        let mut at = start;
        for _ in 0..3 {
            match table.next_after(at) {
                Some(next) => {
                    assert!(next > at, "{text:?}: {next} is not after {at}");
                    at = next;
                }
                None => break,
            }
        }
    }
});
