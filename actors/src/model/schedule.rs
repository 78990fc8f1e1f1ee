//! Timetables of scheduled services (SPEC 2.3 `schedule`, SPEC 3): parses a
//! 5-field cron expression (with an optional IANA timezone) or a fixed
//! interval, and computes the next due time as a pure function of a given
//! clock reading, so month ends and DST changes are unit-tested with fixed
//! clocks. The ServiceActor arms one timer per scheduled service from it.
//!
//! Cron parsing is the `cron` crate's; it wants 6 or 7 fields (seconds
//! first) and counts weekdays from 1 = Sunday, so a classic 5-field
//! expression is translated: `0 ` is prepended and numeric weekdays
//! (0 or 7 = Sunday, 1 = Monday, ...) become names. Times that do not exist
//! in a timezone (the hour skipped when DST starts) are skipped; a time that
//! exists twice (DST ends) runs once, at its first occurrence.

use super::config::ScheduleConfig;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use std::str::FromStr;
use std::time::Duration;

/// When a scheduled service is due.
#[derive(Clone, Debug)]
pub enum Timetable {
    Cron {
        schedule: Box<cron::Schedule>,
        /// None: UTC.
        tz: Option<Tz>,
    },
    Interval(Duration),
}

const WEEKDAYS: [&str; 8] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN"];

/// Why a `schedule` cannot be used. Each message names the key and says
/// what to write.
#[derive(Debug, thiserror::Error)]
pub enum ScheduleError {
    #[error("schedule: set either `cron` or `interval`, not both")]
    Both,
    #[error("schedule: set `cron` (5 fields) or `interval` (a duration)")]
    Neither,
    #[error("schedule: `timezone` applies to `cron` only; remove it or use `cron`")]
    TimezoneWithInterval,
    #[error("schedule.interval must be longer than 0s")]
    ZeroInterval,
    #[error("schedule.cron: {0}")]
    Cron(#[from] CronError),
    #[error("schedule.cron: {expr:?} is not a valid cron expression: {source}")]
    InvalidCron {
        expr: String,
        source: cron::error::Error,
    },
    #[error("schedule.timezone: {name:?} is not an IANA timezone name such as \"Europe/Berlin\"")]
    UnknownTimezone { name: String },
}

/// A classic 5-field cron expression that cannot be translated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CronError {
    #[error("cron expression {expr:?} has {fields} fields; write 5: minute hour day-of-month month day-of-week, e.g. \"*/5 * * * *\"")]
    FieldCount { expr: String, fields: usize },
    #[error(
        "cron expression {expr:?}: day of week {day} is out of range (0-7, 0 and 7 are Sunday)"
    )]
    Weekday { expr: String, day: String },
}

/// Rewrites numeric weekdays (0-7) of a cron day-of-week field as names.
/// `expr` is the whole expression, for the message.
fn weekday_names(expr: &str, field: &str) -> Result<String, CronError> {
    let mut out = String::with_capacity(field.len() + 8);
    let mut number = String::new();
    // A number after `/` is a step, not a weekday.
    let mut after_slash = false;
    let flush = |number: &mut String, out: &mut String, after_slash: bool| {
        if number.is_empty() {
            return Ok(());
        }
        if after_slash {
            out.push_str(number);
        } else {
            let name = number
                .parse::<usize>()
                .ok()
                .and_then(|n| WEEKDAYS.get(n))
                .ok_or_else(|| CronError::Weekday {
                    expr: expr.to_string(),
                    day: number.clone(),
                })?;
            out.push_str(name);
        }
        number.clear();
        Ok::<(), CronError>(())
    };
    for c in field.chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        flush(&mut number, &mut out, after_slash)?;
        after_slash = c == '/';
        if c == ',' {
            after_slash = false;
        }
        out.push(c);
    }
    flush(&mut number, &mut out, after_slash)?;
    Ok(out)
}

/// Translates a classic 5-field cron expression to the `cron` crate's form.
pub fn to_six_fields(expr: &str) -> Result<String, CronError> {
    let fields: Vec<&str> = expr.split_whitespace().collect();
    if fields.len() != 5 {
        return Err(CronError::FieldCount {
            expr: expr.to_string(),
            fields: fields.len(),
        });
    }
    let dow = weekday_names(expr, fields[4])?;
    Ok(format!(
        "0 {} {} {} {} {}",
        fields[0], fields[1], fields[2], fields[3], dow
    ))
}

impl Timetable {
    /// Reads `schedule`; errors name the key and say what to write.
    pub fn from_config(s: &ScheduleConfig) -> Result<Timetable, ScheduleError> {
        match (&s.cron, &s.interval) {
            (Some(_), Some(_)) => Err(ScheduleError::Both),
            (None, None) => Err(ScheduleError::Neither),
            (None, Some(i)) => {
                if s.timezone.is_some() {
                    return Err(ScheduleError::TimezoneWithInterval);
                }
                let d = i.get();
                if d.is_zero() {
                    return Err(ScheduleError::ZeroInterval);
                }
                Ok(Timetable::Interval(d))
            }
            (Some(expr), None) => {
                let six = to_six_fields(expr)?;
                let schedule = cron::Schedule::from_str(&six).map_err(|source| {
                    ScheduleError::InvalidCron {
                        expr: expr.clone(),
                        source,
                    }
                })?;
                let tz = s
                    .timezone
                    .as_deref()
                    .map(|name| {
                        Tz::from_str(name).map_err(|_| ScheduleError::UnknownTimezone {
                            name: name.to_string(),
                        })
                    })
                    .transpose()?;
                Ok(Timetable::Cron {
                    schedule: Box::new(schedule),
                    tz,
                })
            }
        }
    }

    /// The first due time strictly after `after`. For an interval, `after`
    /// is the previous due time (or the start), so runs keep a fixed rate.
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match self {
            Timetable::Interval(d) => chrono::Duration::from_std(*d)
                .ok()
                .and_then(|d| after.checked_add_signed(d)),
            Timetable::Cron { schedule, tz: None } => schedule.after(&after).next(),
            Timetable::Cron {
                schedule,
                tz: Some(tz),
            } => schedule
                .after(&after.with_timezone(tz))
                .next()
                .map(|t| t.with_timezone(&Utc)),
        }
    }

    /// The next due time as the actor needs it: after the previous due time
    /// `last`, but never in the past (a suspended machine or a late timer
    /// does not cause a burst of catch-up runs).
    pub fn next_due(&self, last: DateTime<Utc>, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let next = self.next_after(last)?;
        if next >= now {
            return Some(next);
        }
        match self {
            Timetable::Interval(_) => Some(now),
            Timetable::Cron { .. } => self.next_after(now),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::units::ConfDuration;
    use chrono::TimeZone;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn cron(expr: &str, tz: Option<&str>) -> Timetable {
        Timetable::from_config(&ScheduleConfig {
            cron: Some(expr.into()),
            timezone: tz.map(str::to_string),
            ..ScheduleConfig::default()
        })
        .unwrap()
    }

    fn next(t: &Timetable, after: &str) -> String {
        t.next_after(utc(after)).unwrap().to_rfc3339()
    }

    #[test]
    fn five_fields_become_six_with_named_weekdays() {
        assert_eq!(to_six_fields("*/5 * * * *").unwrap(), "0 */5 * * * *");
        assert_eq!(to_six_fields("0 9 * * 1-5").unwrap(), "0 0 9 * * MON-FRI");
        assert_eq!(to_six_fields("0 9 * * 0,7").unwrap(), "0 0 9 * * SUN,SUN");
        assert_eq!(to_six_fields("0 9 * * */2").unwrap(), "0 0 9 * * */2");
        assert!(to_six_fields("* * * *")
            .unwrap_err()
            .to_string()
            .contains("4 fields"));
        assert!(to_six_fields("* * * * 8")
            .unwrap_err()
            .to_string()
            .contains("out of range"));
    }

    #[test]
    fn every_five_minutes_and_weekdays() {
        let t = cron("*/5 * * * *", None);
        assert_eq!(
            next(&t, "2026-03-10T10:02:30Z"),
            "2026-03-10T10:05:00+00:00"
        );
        assert_eq!(
            next(&t, "2026-03-10T10:05:00Z"),
            "2026-03-10T10:10:00+00:00"
        );
        // 1 = Monday as in classic cron; 2026-03-14 is a Saturday.
        let t = cron("30 8 * * 1", None);
        assert_eq!(
            next(&t, "2026-03-14T12:00:00Z"),
            "2026-03-16T08:30:00+00:00"
        );
        let t = cron("0 0 * * 0", None);
        assert_eq!(
            next(&t, "2026-03-14T12:00:00Z"),
            "2026-03-15T00:00:00+00:00"
        );
    }

    #[test]
    fn month_ends_and_leap_years() {
        // Day 31 skips the months that do not have one.
        let t = cron("0 12 31 * *", None);
        assert_eq!(
            next(&t, "2026-01-31T13:00:00Z"),
            "2026-03-31T12:00:00+00:00"
        );
        assert_eq!(
            next(&t, "2026-04-01T00:00:00Z"),
            "2026-05-31T12:00:00+00:00"
        );
        // Year end rolls over.
        let t = cron("59 23 31 12 *", None);
        assert_eq!(
            next(&t, "2026-12-31T23:59:00Z"),
            "2027-12-31T23:59:00+00:00"
        );
        // Feb 29 only in leap years.
        let t = cron("0 0 29 2 *", None);
        assert_eq!(
            next(&t, "2026-01-01T00:00:00Z"),
            "2028-02-29T00:00:00+00:00"
        );
        // Midnight of the first of each month, from the last minute of a month.
        let t = cron("0 0 1 * *", None);
        assert_eq!(
            next(&t, "2026-02-28T23:59:59Z"),
            "2026-03-01T00:00:00+00:00"
        );
    }

    #[test]
    fn timezone_and_dst_in_berlin() {
        // 02:30 local does not exist on 2026-03-29 (clocks jump 02:00 -> 03:00):
        // that day is skipped, the next run is the following night.
        let t = cron("30 2 * * *", Some("Europe/Berlin"));
        assert_eq!(
            next(&t, "2026-03-28T12:00:00Z"),
            "2026-03-30T00:30:00+00:00"
        );
        // 09:00 local is 08:00 UTC before the change and 07:00 UTC after.
        let t = cron("0 9 * * *", Some("Europe/Berlin"));
        assert_eq!(
            next(&t, "2026-03-28T12:00:00Z"),
            "2026-03-29T07:00:00+00:00"
        );
        assert_eq!(
            next(&t, "2026-03-27T12:00:00Z"),
            "2026-03-28T08:00:00+00:00"
        );
        // 02:30 exists twice on 2026-10-25 (03:00 -> 02:00): one run, the first.
        let t = cron("30 2 * * *", Some("Europe/Berlin"));
        let first = next(&t, "2026-10-24T12:00:00Z");
        assert_eq!(first, "2026-10-25T00:30:00+00:00");
        assert_eq!(next(&t, &first), "2026-10-26T01:30:00+00:00");
    }

    #[test]
    fn interval_keeps_a_fixed_rate_and_never_bursts() {
        let t = Timetable::from_config(&ScheduleConfig {
            interval: Some(ConfDuration::from_secs(30)),
            ..ScheduleConfig::default()
        })
        .unwrap();
        let start = Utc.with_ymd_and_hms(2026, 1, 31, 23, 59, 45).unwrap();
        assert_eq!(
            t.next_after(start).unwrap(),
            Utc.with_ymd_and_hms(2026, 2, 1, 0, 0, 15).unwrap()
        );
        // A timer that fires late: the next run is now, not a backlog.
        let late = start + chrono::Duration::seconds(100);
        assert_eq!(t.next_due(start, late), Some(late));
        let on_time = start + chrono::Duration::seconds(10);
        assert_eq!(
            t.next_due(start, on_time),
            Some(start + chrono::Duration::seconds(30))
        );
        // A late cron timer moves on to the next future slot.
        let c = cron("0 * * * *", None);
        assert_eq!(
            c.next_due(utc("2026-01-01T00:00:00Z"), utc("2026-01-01T05:30:00Z")),
            Some(utc("2026-01-01T06:00:00Z"))
        );
    }

    #[test]
    fn bad_schedules_are_explained() {
        let both = ScheduleConfig {
            cron: Some("* * * * *".into()),
            interval: Some(ConfDuration::from_secs(1)),
            ..ScheduleConfig::default()
        };
        assert!(Timetable::from_config(&both)
            .unwrap_err()
            .to_string()
            .contains("not both"));
        assert!(Timetable::from_config(&ScheduleConfig::default())
            .unwrap_err()
            .to_string()
            .contains("set `cron`"));
        let bad_tz = ScheduleConfig {
            cron: Some("* * * * *".into()),
            timezone: Some("Mars/Olympus".into()),
            ..ScheduleConfig::default()
        };
        assert!(Timetable::from_config(&bad_tz)
            .unwrap_err()
            .to_string()
            .contains("IANA"));
        let bad = ScheduleConfig {
            cron: Some("61 * * * *".into()),
            ..ScheduleConfig::default()
        };
        assert!(Timetable::from_config(&bad)
            .unwrap_err()
            .to_string()
            .contains("not a valid cron"));
    }
}
