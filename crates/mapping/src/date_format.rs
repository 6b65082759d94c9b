//! How a date is written where it is not a hub `date`: ISO 8601 text, seconds or milliseconds since
//! the epoch, or text in a Java date pattern (`dd/MM/yyyy`), as organizations and the platforms'
//! configurations give them. A [`DateFormat`] reads a JSON value as an instant and writes an
//! instant back; it does not decide which side of a mapping it applies to ([`crate::Conversion`]
//! does).
//!
//! Java patterns are translated to chrono's strftime items once, when the format is parsed:
//! [`java_to_strftime`] for writing (also used by the events' `${date:…}` placeholders) and a
//! stricter translation for reading, where zones must be read rather than assumed.

use std::fmt::{self, Write as _};

use chrono::format::{Item, Parsed, StrftimeItems};
use chrono::{DateTime, FixedOffset, NaiveDate, NaiveTime, SecondsFormat, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A date's representation in a JSON value. Parsed from its mask with [`DateFormat::parse`], and
/// (de)serialized as that mask.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(try_from = "String", into = "String")]
pub enum DateFormat {
    /// RFC 3339 text (`2026-03-04T05:06:07Z`, any offset) or a calendar date (`2026-03-04`,
    /// midnight UTC); written in UTC with `Z`.
    Iso8601,
    /// Seconds since 1970-01-01T00:00:00Z, a JSON number (or numeric text when read).
    EpochSeconds,
    /// Milliseconds since 1970-01-01T00:00:00Z, a JSON number (or numeric text when read).
    EpochMilliseconds,
    /// Text in a Java date pattern.
    Pattern(DatePattern),
}

/// A Java date pattern (`yyyy-MM-dd'T'HH:mm:ss.SSSXXX`) checked and translated for chrono.
///
/// Invariant: the mask holds a year and only the letters `y M d H m s S X Z` outside quotes, and
/// both item lists were produced from it without error (so formatting cannot fail).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatePattern {
    mask: String,
    /// How an instant is written (always in UTC).
    format: Vec<Item<'static>>,
    /// How text is read: zones are read (`Z`, `+01`, `+0100`, `+01:00`), not assumed.
    parse: Vec<Item<'static>>,
}

/// The pattern letters a mask may hold (Java's meaning): year, month, day, hour of day (0-23),
/// minute, second, fraction of second, and zone offset.
const LETTERS: &str = "yMdHmsSXZ";

impl DateFormat {
    /// The format a mask names: `iso8601`, `epochSeconds` (or `epoch`, `seconds`),
    /// `epochMilliseconds` (or `milliseconds`, `millis`), keywords in any case; anything else is a
    /// Java date pattern. The error says what is wrong with the mask.
    pub fn parse(mask: &str) -> Result<DateFormat, String> {
        let mask = mask.trim();
        Ok(match mask.to_ascii_lowercase().as_str() {
            "iso8601" => DateFormat::Iso8601,
            "epochseconds" | "epoch" | "seconds" => DateFormat::EpochSeconds,
            "epochmilliseconds" | "milliseconds" | "millis" => DateFormat::EpochMilliseconds,
            _ => DateFormat::Pattern(DatePattern::parse(mask)?),
        })
    }

    /// Whether dates are numbers since the epoch in this format.
    pub fn is_epoch(&self) -> bool {
        matches!(self, DateFormat::EpochSeconds | DateFormat::EpochMilliseconds)
    }

    /// The instant `value` holds in this format; `None` when it holds none (wrong JSON type, text
    /// that does not match, a number out of range).
    pub fn read(&self, value: &Value) -> Option<DateTime<Utc>> {
        match self {
            DateFormat::Iso8601 => iso(value.as_str()?),
            DateFormat::EpochSeconds => epoch(value, 1000),
            DateFormat::EpochMilliseconds => epoch(value, 1),
            DateFormat::Pattern(pattern) => pattern.read(value.as_str()?),
        }
    }

    /// `instant` in this format: ISO 8601 text in UTC (to the second, or to the millisecond when it
    /// has a fraction), a JSON integer since the epoch, or the pattern's text in UTC.
    pub fn write(&self, instant: DateTime<Utc>) -> Value {
        match self {
            DateFormat::Iso8601 => Value::String(iso_text(instant)),
            DateFormat::EpochSeconds => Value::from(instant.timestamp()),
            DateFormat::EpochMilliseconds => Value::from(instant.timestamp_millis()),
            DateFormat::Pattern(pattern) => Value::String(pattern.write(instant)),
        }
    }

    /// What a value in this format looks like, for an error ("Field x must be …").
    pub fn expected(&self) -> String {
        match self {
            DateFormat::Iso8601 => "an ISO 8601 date-time string".into(),
            DateFormat::EpochSeconds => "a number of seconds since 1970-01-01T00:00:00Z".into(),
            DateFormat::EpochMilliseconds => "a number of milliseconds since 1970-01-01T00:00:00Z".into(),
            DateFormat::Pattern(pattern) => format!("a date in the format {}", pattern.mask),
        }
    }
}

/// The mask [`DateFormat::parse`] reads back as the same format.
impl fmt::Display for DateFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DateFormat::Iso8601 => "iso8601",
            DateFormat::EpochSeconds => "epochSeconds",
            DateFormat::EpochMilliseconds => "epochMilliseconds",
            DateFormat::Pattern(pattern) => &pattern.mask,
        })
    }
}

impl TryFrom<String> for DateFormat {
    type Error = String;

    fn try_from(mask: String) -> Result<Self, String> {
        DateFormat::parse(&mask)
    }
}

impl From<DateFormat> for String {
    fn from(format: DateFormat) -> String {
        format.to_string()
    }
}

impl DatePattern {
    /// Checks and translates a Java date pattern; the error names what is wrong (an unsupported
    /// letter, an unclosed quote, no year).
    fn parse(mask: &str) -> Result<DatePattern, String> {
        if mask.is_empty() {
            return Err("a date format is empty".into());
        }
        // Quotes come in pairs (`''` is a quote), so an odd count leaves a literal open.
        if mask.matches('\'').count() % 2 == 1 {
            return Err(format!("date format `{mask}` has an unclosed quote"));
        }
        let tokens = tokens(mask);
        let letters: Vec<char> = tokens.iter().filter_map(Token::letter).collect();
        if letters.is_empty() {
            return Err(format!("date format `{mask}` has no pattern letters (such as yyyy-MM-dd)"));
        }
        if let Some(letter) = letters.iter().find(|letter| !LETTERS.contains(**letter)) {
            return Err(format!(
                "date format `{mask}`: pattern letter `{letter}` is not supported (only y M d H m s S X Z)"
            ));
        }
        if !letters.contains(&'y') {
            return Err(format!("date format `{mask}` has no year (y)"));
        }
        let items = |spec: String| {
            StrftimeItems::new(&spec).parse_to_owned().map_err(|_| format!("date format `{mask}` cannot be used"))
        };
        Ok(DatePattern {
            mask: mask.to_string(),
            format: items(strftime(&tokens, format_spec))?,
            parse: items(strftime(&tokens, parse_spec))?,
        })
    }

    /// The mask as given (`dd/MM/yyyy`).
    pub fn mask(&self) -> &str {
        &self.mask
    }

    /// The instant in `text`: midnight when the pattern has no time, UTC when it has no zone, the
    /// first month or day when it has none.
    fn read(&self, text: &str) -> Option<DateTime<Utc>> {
        let mut parsed = Parsed::new();
        chrono::format::parse(&mut parsed, text.trim(), self.parse.iter()).ok()?;
        if parsed.month().is_none() {
            parsed.set_month(1).ok()?;
        }
        if parsed.day().is_none() {
            parsed.set_day(1).ok()?;
        }
        if parsed.hour_div_12().is_none() {
            parsed.set_hour(0).ok()?;
        }
        if parsed.minute().is_none() {
            parsed.set_minute(0).ok()?;
        }
        let local = parsed.to_naive_date().ok()?.and_time(parsed.to_naive_time().ok()?);
        let offset = FixedOffset::east_opt(parsed.offset().unwrap_or(0))?;
        Some(offset.from_local_datetime(&local).single()?.with_timezone(&Utc))
    }

    fn write(&self, instant: DateTime<Utc>) -> String {
        let mut text = String::new();
        // The items were checked when the pattern was parsed; should chrono still refuse one, the
        // ISO form is a date the reader can at least recognise.
        if write!(text, "{}", instant.format_with_items(self.format.iter())).is_err() {
            return iso_text(instant);
        }
        text
    }
}

/// A Java date pattern (`yyyy-MM-dd'T'HH:mm:ss.SSSXXX`) as a strftime string that writes a UTC
/// instant the way Java would: `yy` is a two-digit year, a single `M`, `d`, `H`, `m` or `s` is not
/// zero-padded, `MMM` and `MMMM` are month names, `S` a fraction of a second. Zone letters (`X`,
/// `Z`) write `Z`, which is how Java's `X` writes UTC (Java's `Z` would write `+0000`; every
/// instant written here is UTC, and `Z` is what ISO 8601 readers expect). Quoted text is literal;
/// a letter without a meaning here is copied as it is.
pub fn java_to_strftime(pattern: &str) -> String {
    let tokens = tokens(pattern);
    strftime(&tokens, format_spec)
}

/// One piece of a Java pattern.
#[derive(Debug, Clone, PartialEq)]
enum Token {
    /// Text written as it is (quoted, or neither a letter nor a quote).
    Literal(String),
    /// A run of one pattern letter (`yyyy`: `y`, 4).
    Letter(char, usize),
}

impl Token {
    fn letter(&self) -> Option<char> {
        match self {
            Token::Letter(letter, _) => Some(*letter),
            Token::Literal(_) => None,
        }
    }
}

/// The pieces of a Java pattern: `'…'` is literal text and `''` a quote (inside quotes too); ASCII
/// letters are pattern letters; anything else is literal. An unclosed quote runs to the end.
fn tokens(pattern: &str) -> Vec<Token> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut tokens = Vec::new();
    let mut literal = String::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\'' {
            if chars.get(i + 1) == Some(&'\'') {
                literal.push('\'');
                i += 2;
                continue;
            }
            i += 1;
            while i < chars.len() {
                match (chars[i], chars.get(i + 1)) {
                    ('\'', Some('\'')) => {
                        literal.push('\'');
                        i += 2;
                    }
                    ('\'', _) => {
                        i += 1;
                        break;
                    }
                    (other, _) => {
                        literal.push(other);
                        i += 1;
                    }
                }
            }
            continue;
        }
        if !c.is_ascii_alphabetic() {
            literal.push(c);
            i += 1;
            continue;
        }
        if !literal.is_empty() {
            tokens.push(Token::Literal(std::mem::take(&mut literal)));
        }
        let run = chars[i..].iter().take_while(|&&r| r == c).count();
        tokens.push(Token::Letter(c, run));
        i += run;
    }
    if !literal.is_empty() {
        tokens.push(Token::Literal(literal));
    }
    tokens
}

/// `tokens` as strftime, each letter run translated by `spec` (`None`: copied as literal text).
fn strftime(tokens: &[Token], spec: fn(char, usize) -> Option<&'static str>) -> String {
    let mut out = String::new();
    for token in tokens {
        match token {
            Token::Literal(text) => out.push_str(&text.replace('%', "%%")),
            Token::Letter(letter, run) => match spec(*letter, *run) {
                Some(spec) => out.push_str(spec),
                None => out.extend(std::iter::repeat_n(*letter, *run)),
            },
        }
    }
    out
}

/// How a letter run is written (see [`java_to_strftime`]).
fn format_spec(letter: char, run: usize) -> Option<&'static str> {
    Some(match (letter, run) {
        ('y', 2) => "%y",
        ('y', _) => "%Y",
        ('M', 1) => "%-m",
        ('M', 2) => "%m",
        ('M', 3) => "%b",
        ('M', _) => "%B",
        ('d', 1) => "%-d",
        ('d', _) => "%d",
        ('H', 1) => "%-H",
        ('H', _) => "%H",
        ('m', 1) => "%-M",
        ('m', _) => "%M",
        ('s', 1) => "%-S",
        ('s', _) => "%S",
        ('S', _) => fraction(run),
        ('X' | 'Z', _) => "Z",
        _ => return None,
    })
}

/// How a letter run is read: numbers of one or two digits alike, and any offset form for a zone.
fn parse_spec(letter: char, run: usize) -> Option<&'static str> {
    Some(match (letter, run) {
        ('y', 2) => "%y",
        ('y', _) => "%Y",
        ('M', 1 | 2) => "%m",
        ('M', 3) => "%b",
        ('M', _) => "%B",
        ('d', _) => "%d",
        ('H', _) => "%H",
        ('m', _) => "%M",
        ('s', _) => "%S",
        ('S', _) => fraction(run),
        // `Z`, `+01`, `+0100` or `+01:00`: what Java's `X` and `Z` letters read between them.
        ('X' | 'Z', _) => "%#z",
        _ => return None,
    })
}

/// A fraction of a second of `run` digits, to the nearest precision chrono has.
fn fraction(run: usize) -> &'static str {
    match run {
        ..=3 => "%3f",
        4..=6 => "%6f",
        _ => "%9f",
    }
}

/// An instant as the hub writes dates: UTC with `Z`, milliseconds only when there is a fraction.
fn iso_text(instant: DateTime<Utc>) -> String {
    let precision = if instant.timestamp_subsec_nanos() == 0 { SecondsFormat::Secs } else { SecondsFormat::Millis };
    instant.to_rfc3339_opts(precision, true)
}

/// RFC 3339 text in any offset, or a calendar date at midnight UTC.
fn iso(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    if let Ok(instant) = DateTime::parse_from_rfc3339(text) {
        return Some(instant.with_timezone(&Utc));
    }
    let date = NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()?;
    Some(date.and_time(NaiveTime::MIN).and_utc())
}

/// The instant `value` units after the epoch, one unit being `unit_millis` milliseconds: a JSON
/// number or numeric text, a fraction rounded to the millisecond.
fn epoch(value: &Value, unit_millis: i64) -> Option<DateTime<Utc>> {
    let number = match value {
        Value::Number(number) => number.clone(),
        Value::String(text) => match crate::conversion::number(text)? {
            Value::Number(number) => number,
            _ => return None,
        },
        _ => return None,
    };
    let millis = match number.as_i64() {
        Some(units) => units.checked_mul(unit_millis)?,
        None => {
            let millis = (number.as_f64()? * unit_millis as f64).round();
            // Beyond this an `f64` no longer converts to an `i64` exactly (and chrono's range ends
            // long before).
            if !millis.is_finite() || millis.abs() >= 9.0e18 {
                return None;
            }
            millis as i64
        }
    };
    DateTime::from_timestamp_millis(millis)
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use serde_json::json;

    use super::*;

    fn format(mask: &str) -> DateFormat {
        DateFormat::parse(mask).unwrap()
    }

    fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, s).unwrap()
    }

    #[test]
    fn keywords_name_the_fixed_formats_in_any_case() {
        assert_eq!(format("iso8601"), DateFormat::Iso8601);
        assert_eq!(format("ISO8601"), DateFormat::Iso8601);
        for mask in ["epochSeconds", "EPOCH", "seconds", " epochseconds "] {
            assert_eq!(format(mask), DateFormat::EpochSeconds, "{mask}");
        }
        for mask in ["epochMilliseconds", "milliseconds", "Millis"] {
            assert_eq!(format(mask), DateFormat::EpochMilliseconds, "{mask}");
        }
        assert!(matches!(format("yyyy-MM-dd"), DateFormat::Pattern(_)));
    }

    #[test]
    fn a_format_reads_back_from_its_mask() {
        for mask in ["iso8601", "epochSeconds", "epochMilliseconds", "dd/MM/yyyy HH:mm:ss"] {
            let parsed = format(mask);
            assert_eq!(parsed.to_string(), mask);
            assert_eq!(format(&parsed.to_string()), parsed);
            let json = serde_json::to_value(&parsed).unwrap();
            assert_eq!(serde_json::from_value::<DateFormat>(json).unwrap(), parsed);
        }
        assert!(serde_json::from_value::<DateFormat>(json!("yyyy-QQ")).is_err());
    }

    #[test]
    fn bad_patterns_are_refused_with_the_reason() {
        for (mask, reason) in [
            ("", "empty"),
            ("  ", "empty"),
            ("--//", "no pattern letters"),
            ("'yyyy'", "no pattern letters"),
            ("yyyy-MM-dd hh:mm a", "letter `h`"),
            ("EEE, dd MMM yyyy", "letter `E`"),
            ("dd/MM", "no year"),
            ("yyyy-MM-dd'T", "unclosed quote"),
        ] {
            let error = DateFormat::parse(mask).unwrap_err();
            assert!(error.contains(reason), "{mask}: {error}");
        }
    }

    #[test]
    fn iso_reads_rfc3339_in_any_offset_and_calendar_dates() {
        let iso = DateFormat::Iso8601;
        assert_eq!(iso.read(&json!("2026-03-04T05:06:07Z")), Some(at(2026, 3, 4, 5, 6, 7)));
        assert_eq!(iso.read(&json!("2026-03-04T07:06:07+02:00")), Some(at(2026, 3, 4, 5, 6, 7)));
        assert_eq!(iso.read(&json!(" 2026-03-04 ")), Some(at(2026, 3, 4, 0, 0, 0)));
        for bad in [json!("04/03/2026"), json!("2026-13-01"), json!(""), json!(1772600767), json!(true)] {
            assert_eq!(iso.read(&bad), None, "{bad}");
        }
    }

    #[test]
    fn iso_writes_utc_to_the_second_or_the_millisecond() {
        let iso = DateFormat::Iso8601;
        assert_eq!(iso.write(at(2026, 3, 4, 5, 6, 7)), json!("2026-03-04T05:06:07Z"));
        let with_fraction = at(2026, 3, 4, 5, 6, 7) + chrono::Duration::milliseconds(250);
        assert_eq!(iso.write(with_fraction), json!("2026-03-04T05:06:07.250Z"));
    }

    #[test]
    fn epoch_seconds_and_milliseconds_differ_by_a_thousand() {
        let instant = at(2026, 3, 4, 5, 6, 7);
        assert_eq!(DateFormat::EpochSeconds.write(instant), json!(1772600767));
        assert_eq!(DateFormat::EpochMilliseconds.write(instant), json!(1772600767000i64));
        assert_eq!(DateFormat::EpochSeconds.read(&json!(1772600767)), Some(instant));
        assert_eq!(DateFormat::EpochMilliseconds.read(&json!(1772600767000i64)), Some(instant));
        assert_eq!(DateFormat::EpochSeconds.read(&json!(" 1772600767 ")), Some(instant), "numeric text");
        assert_eq!(DateFormat::EpochMilliseconds.read(&json!("1772600767000")), Some(instant));
        assert_eq!(
            DateFormat::EpochSeconds.read(&json!(1772600767.25)),
            Some(instant + chrono::Duration::milliseconds(250)),
            "a fraction of a second is kept to the millisecond"
        );
        assert_eq!(
            DateFormat::EpochMilliseconds.read(&json!(1772600767)),
            Some(at(1970, 1, 21, 12, 23, 20) + chrono::Duration::milliseconds(767)),
            "seconds read as milliseconds are a date in January 1970"
        );
        assert_eq!(DateFormat::EpochSeconds.read(&json!(-1)), Some(at(1969, 12, 31, 23, 59, 59)));
    }

    #[test]
    fn epoch_formats_refuse_what_is_not_a_number_in_range() {
        for bad in [json!("soon"), json!("2026-03-04"), json!(true), json!(null), json!("NaN"), json!("inf")] {
            assert_eq!(DateFormat::EpochSeconds.read(&bad), None, "{bad}");
            assert_eq!(DateFormat::EpochMilliseconds.read(&bad), None, "{bad}");
        }
        assert_eq!(DateFormat::EpochSeconds.read(&json!(i64::MAX)), None);
        assert_eq!(DateFormat::EpochSeconds.read(&json!(1e300)), None);
    }

    #[test]
    fn a_pattern_without_a_time_is_midnight_utc() {
        let day_first = format("dd/MM/yyyy");
        assert_eq!(day_first.read(&json!("04/03/2026")), Some(at(2026, 3, 4, 0, 0, 0)));
        assert_eq!(day_first.read(&json!("4/3/2026")), Some(at(2026, 3, 4, 0, 0, 0)), "one digit is enough");
        assert_eq!(day_first.write(at(2026, 3, 4, 5, 6, 7)), json!("04/03/2026"));
        for bad in [json!("2026-03-04"), json!("31/02/2026"), json!("04/03/2026 10:00"), json!(20260304)] {
            assert_eq!(day_first.read(&bad), None, "{bad}");
        }
        assert_eq!(format("yyyyMMdd").read(&json!("20260304")), Some(at(2026, 3, 4, 0, 0, 0)));
        assert_eq!(format("MM/yyyy").read(&json!("03/2026")), Some(at(2026, 3, 1, 0, 0, 0)), "the first day");
    }

    #[test]
    fn a_pattern_without_a_zone_is_utc_and_one_with_a_zone_reads_it() {
        let local = format("dd/MM/yyyy HH:mm:ss");
        assert_eq!(local.read(&json!("04/03/2026 05:06:07")), Some(at(2026, 3, 4, 5, 6, 7)));
        assert_eq!(local.write(at(2026, 3, 4, 5, 6, 7)), json!("04/03/2026 05:06:07"));
        let zoned = format("yyyy-MM-dd'T'HH:mm:ss.SSSXXX");
        let instant = at(2026, 3, 4, 5, 6, 7) + chrono::Duration::milliseconds(89);
        assert_eq!(zoned.read(&json!("2026-03-04T05:06:07.089Z")), Some(instant));
        assert_eq!(zoned.read(&json!("2026-03-04T07:06:07.089+02:00")), Some(instant));
        assert_eq!(zoned.write(instant), json!("2026-03-04T05:06:07.089Z"));
        assert_eq!(format("yyyy-MM-dd HH:mmZ").read(&json!("2026-03-04 06:06+0100")), Some(at(2026, 3, 4, 5, 6, 0)));
        assert_eq!(zoned.read(&json!("2026-03-04T05:06:07Z")), None, "the fraction is part of the pattern");
    }

    #[test]
    fn pattern_letters_follow_java() {
        let instant = at(2026, 3, 4, 5, 6, 7);
        assert_eq!(format("d/M/yy H:m:s").write(instant), json!("4/3/26 5:6:7"));
        assert_eq!(format("d/M/yy").read(&json!("4/3/26")), Some(at(2026, 3, 4, 0, 0, 0)));
        assert_eq!(format("dd MMM yyyy").write(instant), json!("04 Mar 2026"));
        assert_eq!(format("dd MMMM yyyy").read(&json!("04 March 2026")), Some(at(2026, 3, 4, 0, 0, 0)));
        assert_eq!(format("yyyy-MM-dd 'at' HH'h' '100%'").write(instant), json!("2026-03-04 at 05h 100%"));
        assert_eq!(format("dd 'o''clock' ''yy").write(instant), json!("04 o'clock '26"));
        assert_eq!(format("dd/MM/yyyy").expected(), "a date in the format dd/MM/yyyy");
    }

    #[test]
    fn the_strftime_translation_writes_utc_with_z_and_keeps_unknown_letters() {
        assert_eq!(java_to_strftime("yyyy-MM-dd'T'HH:mm:ss'Z'"), "%Y-%m-%dT%H:%M:%SZ");
        assert_eq!(java_to_strftime("yyyy-MM-dd'T'HH:mm:ss.SSSXXX"), "%Y-%m-%dT%H:%M:%S.%3fZ");
        assert_eq!(java_to_strftime("HH:mmZ"), "%H:%MZ");
        assert_eq!(java_to_strftime("yyyy QQ '%'"), "%Y QQ %%");
        assert_eq!(java_to_strftime("yyyy 'open"), "%Y open", "an unclosed quote runs to the end");
    }
}
