//! Quartz-style schedules for `scheduled` triggers: `sec min hour day-of-month month day-of-week
//! [year]`, with `?`, `L`, `W`, `#`, `0/15` steps and Quartz weekday numbers (1 = Sunday), as in
//! `0 0 12 ? * MON *`. Parsing is croner's (in its Quartz modes); this module adds the platforms'
//! rule that a schedule may not run more often than every [`MIN_SCHEDULE_INTERVAL`].

use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use croner::parser::{CronParser, Seconds, Year};
use croner::Cron;

/// The platforms refused schedules that run more often than this.
pub const MIN_SCHEDULE_INTERVAL: Duration = Duration::from_secs(15 * 60);

/// How many consecutive runs are compared to find the shortest interval: enough to cover a day
/// of any schedule that passes (96 runs a day at most at 15 minutes), and more.
const RUNS_COMPARED: usize = 400;

/// A parsed, accepted schedule.
#[derive(Debug, Clone)]
pub struct Schedule {
    cron: Cron,
}

/// Why a `cron` was refused.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum ScheduleError {
    #[error("'{cron}' is not a Quartz cron expression (seconds minutes hours day-of-month month day-of-week [year], e.g. '0 0 12 ? * MON *'): {reason}")]
    Invalid { cron: String, reason: String },
    #[error("'{cron}' runs every {interval}; schedules may run at most every 15 minutes")]
    TooFrequent { cron: String, interval: String },
    #[error("'{cron}' never runs")]
    NeverRuns { cron: String },
}

impl Schedule {
    /// Parses `cron` and checks it runs at most every [`MIN_SCHEDULE_INTERVAL`] (over its first
    /// runs from 2000-01-01 UTC, so the check is the same whenever it is made).
    pub fn parse(cron: &str) -> Result<Self, ScheduleError> {
        let parsed = parser()
            .parse(cron)
            .map_err(|e| ScheduleError::Invalid { cron: cron.to_owned(), reason: e.to_string() })?;
        let schedule = Self { cron: parsed };
        let reference = Utc.with_ymd_and_hms(2000, 1, 1, 0, 0, 0).single();
        let Some(mut previous) = reference.and_then(|r| schedule.next_after(&r)) else {
            return Err(ScheduleError::NeverRuns { cron: cron.to_owned() });
        };
        for _ in 0..RUNS_COMPARED {
            let Some(next) = schedule.next_after(&previous) else {
                break;
            };
            let gap = (next - previous).to_std().unwrap_or_default();
            if gap < MIN_SCHEDULE_INTERVAL {
                return Err(ScheduleError::TooFrequent { cron: cron.to_owned(), interval: describe(gap) });
            }
            previous = next;
        }
        Ok(schedule)
    }

    /// The first run strictly after `time`, if the schedule runs again.
    pub fn next_after(&self, time: &DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.cron.find_next_occurrence(time, false).ok()
    }
}

fn parser() -> CronParser {
    CronParser::builder()
        .seconds(Seconds::Required)
        .year(Year::Optional)
        .alternative_weekdays(true)
        .sloppy_ranges(true)
        .build()
}

fn describe(gap: Duration) -> String {
    let secs = gap.as_secs();
    match secs {
        0..=1 => "second".to_owned(),
        s if s < 60 => format!("{s} seconds"),
        s if s % 60 == 0 && s / 60 == 1 => "minute".to_owned(),
        s if s % 60 == 0 => format!("{} minutes", s / 60),
        s => format!("{} minutes {} seconds", s / 60, s % 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_platforms_examples_parse() {
        for cron in
            ["0 0 12 ? * MON *", "0 0/60 * 1/1 * ? *", "0 0/15 * * * ?", "0 30 2 1 * ?", "0 0 8 ? * 2-6", "0 0 0 ? * 1"]
        {
            Schedule::parse(cron).unwrap_or_else(|e| panic!("{cron}: {e}"));
        }
    }

    #[test]
    fn quartz_weekday_numbers_start_on_sunday() {
        let s = Schedule::parse("0 0 12 ? * 2 *").unwrap();
        let sat = Utc.with_ymd_and_hms(2026, 12, 5, 0, 0, 0).unwrap();
        let next = s.next_after(&sat).unwrap();
        assert_eq!(next, Utc.with_ymd_and_hms(2026, 12, 7, 12, 0, 0).unwrap()); // a Monday
    }

    #[test]
    fn too_frequent_schedules_name_their_interval() {
        let cases = [
            ("* * * * * ?", "every second"),
            ("0 * * * * ?", "every minute"),
            ("0 0/5 * * * ?", "every 5 minutes"),
            ("0 0,10 12 * * ?", "every 10 minutes"),
            ("0,30 0 12 * * ?", "every 30 seconds"),
        ];
        for (cron, says) in cases {
            let e = Schedule::parse(cron).unwrap_err();
            assert!(matches!(e, ScheduleError::TooFrequent { .. }) && e.to_string().contains(says), "{cron}: {e}");
        }
    }

    #[test]
    fn a_schedule_that_never_runs_is_refused_quickly() {
        for cron in ["0 0 0 31 2 ?", "0 0 0 30 2 ? *", "0 0 0 1 1 ? 1990"] {
            let started = std::time::Instant::now();
            let e = Schedule::parse(cron).unwrap_err();
            assert_eq!(e.to_string(), format!("'{cron}' never runs"));
            assert!(started.elapsed() < std::time::Duration::from_secs(1));
        }
        // Rare but real: once a leap day, the fifth Monday of a month.
        Schedule::parse("0 0 0 29 2 ? *").unwrap();
        Schedule::parse("0 0 0 ? * 2#5").unwrap();
    }

    #[test]
    fn malformed_schedules_are_invalid() {
        for cron in ["", "0 0 12", "0 0 25 * * ?", "0 0 12 ? * FUNDAY", "every hour"] {
            assert!(matches!(Schedule::parse(cron), Err(ScheduleError::Invalid { .. })), "{cron}");
        }
    }
}
