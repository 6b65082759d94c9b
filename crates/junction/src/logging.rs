//! The process's log: one line per event on stderr, as text for a person or as JSON objects for a
//! log pipeline (`--log-format`), filtered by `RUST_LOG`. What is logged is decided where it
//! happens; this module owns only how it is written.
//!
//! Logs go to stderr so that stdout carries only what is meant for the operator (the bootstrap
//! secrets, printed once; `junction sql`'s rows): line by line at a terminal, in batches through
//! [`LogBuffer`] otherwise.
//!
//! Each line is written by [`Lines`], in the layout of tracing-subscriber's own formats (its full
//! text, its JSON with the current span and the span list), with one addition: a line logged while
//! a request is served names that request as an outermost `request` span, with its `request_id`
//! and `instance_id`, from the request's context ([`http_api::request_id`]) rather than from a
//! tracing span.

use std::cell::RefCell;
use std::fmt::{self, Write as _};
use std::io::IsTerminal;
use std::time::{SystemTime, UNIX_EPOCH};

use clap::ValueEnum;
use domain::InstanceId;
use tracing::{Event, Level, Subscriber};
use tracing_log::NormalizeEvent;
use tracing_subscriber::fmt::format::{JsonFields, Writer};
use tracing_subscriber::fmt::writer::BoxMakeWriter;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::EnvFilter;

use crate::log_buffer::{LineWriter, LogBuffer};

/// How each log line is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// `timestamp LEVEL span{fields}: target: message fields`, plain text (no colours).
    Text,
    /// One JSON object per line: `timestamp`, `level`, `target`, `fields` (with `message`), `span`
    /// (the innermost span's fields) and `spans` (every enclosing span, outermost first), so that a
    /// request's lines carry its `request_id` and `instance_id`.
    Json,
}

/// Installs the global subscriber; `default_filter` applies when `RUST_LOG` is unset or invalid.
/// Lines still buffered are written when the returned guard drops, and before a panic's message.
#[must_use = "buffered log lines are written when the guard drops"]
pub fn init(format: LogFormat, default_filter: &str) -> FlushOnDrop {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| default_filter.into());
    let at_terminal = std::io::stderr().is_terminal();
    let writer = match at_terminal {
        true => BoxMakeWriter::new(std::io::stderr),
        false => {
            let buffer = LogBuffer::global();
            let previous = std::panic::take_hook();
            std::panic::set_hook(Box::new(move |panic| {
                buffer.flush();
                previous(panic);
            }));
            BoxMakeWriter::new(move || LineWriter::new(buffer))
        }
    };
    let subscriber = tracing_subscriber::fmt().with_writer(writer).with_env_filter(filter);
    match format {
        LogFormat::Text => subscriber.event_format(Lines { json: false }).init(),
        LogFormat::Json => subscriber.fmt_fields(JsonFields::new()).event_format(Lines { json: true }).init(),
    }
    FlushOnDrop { buffered: !at_terminal }
}

/// Writes the buffered log lines when dropped: at the end of `main`, before an error it returns is
/// printed.
pub struct FlushOnDrop {
    buffered: bool,
}

impl Drop for FlushOnDrop {
    fn drop(&mut self) {
        if self.buffered {
            LogBuffer::global().flush();
        }
    }
}

/// How each line is written: `json` as [`LogFormat::Json`], else as [`LogFormat::Text`]. The span
/// fields of the registry's spans are formatted by the subscriber's field formatter (`JsonFields`
/// for JSON), as its own formats have them.
struct Lines {
    json: bool,
}

impl<S, N> FormatEvent<S, N> for Lines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(&self, ctx: &FmtContext<'_, S, N>, mut writer: Writer<'_>, event: &Event<'_>) -> fmt::Result {
        // Events from the `log` crate name their own target and level.
        let normalized = event.normalized_metadata();
        let meta = normalized.as_ref().unwrap_or_else(|| event.metadata());
        let spans = ctx.event_scope().into_iter().flat_map(|scope| scope.from_root());
        if self.json {
            writer.write_str("{\"timestamp\":\"")?;
            write_timestamp(SystemTime::now(), &mut writer)?;
            write!(writer, "\",\"level\":\"{}\",\"fields\":", meta.level())?;
            ctx.format_fields(writer.by_ref(), event)?;
            writer.write_str(",\"target\":")?;
            write_json_string(&mut writer, meta.target())?;
            // `span` is the innermost, `spans` all of them from the outermost, as
            // tracing-subscriber's JSON writes them.
            let mut objects: Vec<String> = http_api::request_id::in_request(request_object).into_iter().collect();
            for span in spans {
                let extensions = span.extensions();
                let fields = extensions.get::<FormattedFields<N>>().map_or("", |fields| fields.fields.as_str());
                let inner = fields.trim().strip_prefix('{').and_then(|rest| rest.strip_suffix('}')).unwrap_or("");
                let mut object = format!("{{{inner}{}\"name\":", if inner.is_empty() { "" } else { "," });
                write_json_string(&mut object, span.metadata().name())?;
                object.push('}');
                objects.push(object);
            }
            if let Some(innermost) = objects.last() {
                write!(writer, ",\"span\":{innermost},\"spans\":[{}]", objects.join(","))?;
            }
            writer.write_str("}\n")
        } else {
            write_timestamp(SystemTime::now(), &mut writer)?;
            write!(writer, " {} ", padded(*meta.level()))?;
            let in_request = http_api::request_id::in_request(|id, instance| {
                write!(writer, "request{{request_id={id}")?;
                if let Some(instance) = instance {
                    write!(writer, " instance_id={}", instance.get())?;
                }
                writer.write_str("}:")
            });
            let mut any_span = in_request.transpose()?.is_some();
            for span in spans {
                writer.write_str(span.metadata().name())?;
                let extensions = span.extensions();
                if let Some(fields) = extensions.get::<FormattedFields<N>>().filter(|fields| !fields.is_empty()) {
                    write!(writer, "{{{fields}}}")?;
                }
                writer.write_char(':')?;
                any_span = true;
            }
            if any_span {
                writer.write_char(' ')?;
            }
            write!(writer, "{}: ", meta.target())?;
            ctx.format_fields(writer.by_ref(), event)?;
            writer.write_char('\n')
        }
    }
}

/// The level in five columns, right-aligned, as tracing-subscriber's text writes it.
fn padded(level: Level) -> &'static str {
    match level {
        Level::TRACE => "TRACE",
        Level::DEBUG => "DEBUG",
        Level::INFO => " INFO",
        Level::WARN => " WARN",
        Level::ERROR => "ERROR",
    }
}

/// The request being served as a JSON span object: its id (hex digits) and instance (a number).
fn request_object(id: &str, instance: Option<InstanceId>) -> String {
    match instance {
        Some(instance) => {
            format!("{{\"request_id\":\"{id}\",\"instance_id\":{},\"name\":\"request\"}}", instance.get())
        }
        None => format!("{{\"request_id\":\"{id}\",\"name\":\"request\"}}"),
    }
}

/// `text` as a JSON string, quoted and escaped.
fn write_json_string(writer: &mut impl fmt::Write, text: &str) -> fmt::Result {
    let plain = text.bytes().all(|byte| byte >= 0x20 && byte != b'"' && byte != b'\\');
    match plain {
        true => write!(writer, "\"{text}\""),
        false => writer.write_str(&serde_json::to_string(text).map_err(|_| fmt::Error)?),
    }
}

/// Each line's timestamp, in UTC to the microsecond as tracing-subscriber's default writes it
/// (`2026-12-06T01:02:03.456789Z`), with the date and time of day worked out once a second per
/// thread instead of on every line: the default's calendar arithmetic and nine padded numbers cost
/// 2,400 instructions a line, a fortieth of a raw passthrough (BENCHMARKS.md "The hot path").
fn write_timestamp(at: SystemTime, writer: &mut impl std::fmt::Write) -> std::fmt::Result {
    thread_local! {
        /// The second last written, and `YYYY-MM-DDTHH:MM:SS` for it.
        static SECOND: RefCell<(u64, String)> = const { RefCell::new((u64::MAX, String::new())) };
    }
    let since_epoch = at.duration_since(UNIX_EPOCH).unwrap_or_default();
    SECOND.with_borrow_mut(|(second, text)| {
        if *second != since_epoch.as_secs() {
            *second = since_epoch.as_secs();
            text.clear();
            let start = i64::try_from(*second).ok().and_then(|s| chrono::DateTime::from_timestamp(s, 0));
            write!(text, "{}", start.unwrap_or_default().format("%Y-%m-%dT%H:%M:%S"))?;
        }
        let mut fraction = *b".000000Z";
        let mut micros = since_epoch.subsec_micros();
        for digit in fraction[1..7].iter_mut().rev() {
            *digit = b'0' + (micros % 10) as u8;
            micros /= 10;
        }
        writer.write_str(text)?;
        // Only ASCII digits, a dot and a `Z`.
        writer.write_str(std::str::from_utf8(&fraction).map_err(|_| std::fmt::Error)?)
    })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn timestamp(at: SystemTime) -> String {
        let mut text = String::new();
        write_timestamp(at, &mut text).unwrap();
        text
    }

    #[test]
    fn timestamps_are_rfc3339_utc_to_the_microsecond() {
        let at = UNIX_EPOCH + Duration::new(1_796_519_223, 4_560_789);
        assert_eq!(timestamp(at), "2026-12-06T01:07:03.004560Z");
        // The same second again comes from the cache; the next one is worked out anew.
        assert_eq!(timestamp(at + Duration::from_micros(1)), "2026-12-06T01:07:03.004561Z");
        assert_eq!(timestamp(at + Duration::from_micros(999_000)), "2026-12-06T01:07:04.003560Z");
        assert_eq!(timestamp(UNIX_EPOCH), "1970-01-01T00:00:00.000000Z");
    }

    #[test]
    fn timestamps_match_chrono_across_days_and_years() {
        for seconds in [0u64, 59, 86_399, 86_400, 951_782_400, 1_709_164_799, 4_102_444_800] {
            for micros in [0u32, 1, 999_999] {
                let at = UNIX_EPOCH + Duration::new(seconds, micros * 1_000);
                let expected =
                    chrono::DateTime::<chrono::Utc>::from(at).to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
                assert_eq!(timestamp(at), expected);
            }
        }
    }
}
