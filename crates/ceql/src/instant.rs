//! Reading date-times: the forms CEQL accepts for `DateTime` literals and row values (RFC 3339,
//! `YYYY-MM-DD` at midnight UTC, `YYYY-MM-DDTHH:MM:SS` in UTC), and the one form the planner sends
//! to the vendor (RFC 3339 in UTC).

use chrono::{DateTime, NaiveDate, NaiveDateTime, SecondsFormat, Utc};

/// The instant `text` denotes, if it is in one of the accepted forms.
pub fn parse_instant(text: &str) -> Option<DateTime<Utc>> {
    if let Ok(instant) = DateTime::parse_from_rfc3339(text) {
        return Some(instant.with_timezone(&Utc));
    }
    if let Ok(local) = NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S") {
        return Some(local.and_utc());
    }
    let date = NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()?;
    Some(date.and_hms_opt(0, 0, 0)?.and_utc())
}

/// `instant` as RFC 3339 in UTC with a `Z`, fractional seconds only when present.
pub fn render_instant(instant: DateTime<Utc>) -> String {
    instant.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}
