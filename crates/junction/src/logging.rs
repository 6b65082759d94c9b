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
//! tracing span. The one line per request is written here directly ([`write_request_line`], the
//! same bytes as through the subscriber), once the filter has let it through.

use std::cell::RefCell;
use std::fmt::{self, Write as _};
use std::io::{IsTerminal, Write as _};
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

use clap::ValueEnum;
use domain::InstanceId;
use http_api::request_id::{RequestLine, LINE_TARGET};
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Metadata, Subscriber};
use tracing_log::NormalizeEvent;
use tracing_subscriber::field::VisitOutput;
use tracing_subscriber::fmt::format::{DefaultVisitor, JsonFields, Writer};
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
    let buffer = (!at_terminal).then(LogBuffer::global);
    let writer = match buffer {
        None => BoxMakeWriter::new(std::io::stderr),
        Some(buffer) => {
            let previous = std::panic::take_hook();
            std::panic::set_hook(Box::new(move |panic| {
                buffer.flush();
                previous(panic);
            }));
            BoxMakeWriter::new(move || LineWriter::new(buffer))
        }
    };
    if REQUEST_LINES.set(RequestLines { json: format == LogFormat::Json, buffer }).is_ok() {
        http_api::request_id::write_lines_with(write_request_line);
    }
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

/// Where [`write_request_line`] writes, and how: as the subscriber's own lines.
static REQUEST_LINES: OnceLock<RequestLines> = OnceLock::new();

struct RequestLines {
    json: bool,
    /// `None` at a terminal: straight to stderr.
    buffer: Option<&'static LogBuffer>,
}

/// Writes a request's line as the subscriber writes the `tracing` event
/// ([`http_api::request_id::log_line`]) through [`Lines`], without that event's dispatch and
/// field visitors: 3,650 instructions a request against about 1,240.
fn write_request_line(line: &RequestLine<'_>) {
    thread_local! {
        static TEXT: RefCell<String> = const { RefCell::new(String::new()) };
    }
    let Some(lines) = REQUEST_LINES.get() else { return };
    TEXT.with_borrow_mut(|text| {
        text.clear();
        if request_line(text, line, lines.json).is_err() {
            return;
        }
        // Nowhere to report a failed log write but the log itself: the line is dropped.
        let _ = match lines.buffer {
            Some(buffer) => LineWriter::new(buffer).write_all(text.as_bytes()),
            None => std::io::stderr().lock().write_all(text.as_bytes()),
        };
    });
}

/// A request's line, as [`text_line`] or [`json_line`] write its event.
fn request_line(out: &mut String, line: &RequestLine<'_>, json: bool) -> fmt::Result {
    let (mut status, mut latency) = (itoa::Buffer::new(), itoa::Buffer::new());
    let (status, latency) = (status.format(line.status), latency.format(line.latency_ms));
    if json {
        out.write_str("{\"timestamp\":\"")?;
        write_timestamp(SystemTime::now(), out)?;
        out.write_str("\",\"level\":\"INFO\",\"fields\":{\"message\":\"request\",\"method\":")?;
        write_json_string(out, line.method)?;
        out.write_str(",\"path\":")?;
        write_json_string(out, line.path)?;
        for (name, value) in [(",\"status\":", status), (",\"latency_ms\":", latency)] {
            out.write_str(name)?;
            out.write_str(value)?;
        }
        out.write_str("},\"target\":")?;
        write_json_string(out, LINE_TARGET)?;
        let in_request = http_api::request_id::in_request(|id, instance| write_request_spans(out, id, instance, &[]));
        in_request.transpose()?;
        return out.write_str("}\n");
    }
    write_timestamp(SystemTime::now(), out)?;
    out.write_char(' ')?;
    out.write_str(padded(Level::INFO))?;
    out.write_char(' ')?;
    let in_request = http_api::request_id::in_request(|id, instance| {
        write_request_span(out, id, instance)?;
        out.write_char(' ')
    });
    in_request.transpose()?;
    let fields = [": request method=", line.method, " path=", line.path, " status=", status, " latency_ms=", latency];
    out.write_str(LINE_TARGET)?;
    for part in fields {
        out.write_str(part)?;
    }
    out.write_char('\n')
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
    fn format_event(&self, ctx: &FmtContext<'_, S, N>, writer: Writer<'_>, event: &Event<'_>) -> fmt::Result {
        // Events from the `log` crate name their own target and level.
        let normalized = event.normalized_metadata();
        let meta = normalized.as_ref().unwrap_or_else(|| event.metadata());
        // Spans a library opened (Junction opens none), outermost first: each one's name and its
        // fields as the field formatter wrote them. None, and so no allocation, on most lines.
        let spans: Vec<LibrarySpan> = ctx
            .event_scope()
            .into_iter()
            .flat_map(|scope| scope.from_root())
            .map(|span| {
                let fields = span.extensions().get::<FormattedFields<N>>().map(|fields| fields.fields.clone());
                LibrarySpan { name: span.metadata().name(), fields: fields.unwrap_or_default() }
            })
            .collect();
        match self.json {
            true => json_line(writer, event, meta, &spans),
            false => text_line(writer, event, meta, &spans),
        }
    }
}

/// A span a library opened: its name, and its fields as the subscriber's field formatter wrote
/// them (`JsonFields`' object for JSON lines).
struct LibrarySpan {
    name: &'static str,
    fields: String,
}

/// `timestamp LEVEL request{request_id=.. instance_id=..}:span{fields}: target: message fields`.
fn text_line(mut writer: Writer<'_>, event: &Event<'_>, meta: &Metadata<'_>, spans: &[LibrarySpan]) -> fmt::Result {
    // Each line's constant parts and its numbers written as they are rather than through `fmt`,
    // which cost some 200 instructions for each piece formatted.
    write_timestamp(SystemTime::now(), &mut writer)?;
    writer.write_char(' ')?;
    writer.write_str(padded(*meta.level()))?;
    writer.write_char(' ')?;
    let in_request = http_api::request_id::in_request(|id, instance| write_request_span(&mut writer, id, instance));
    let in_request = in_request.transpose()?.is_some();
    for span in spans {
        writer.write_str(span.name)?;
        if !span.fields.is_empty() {
            write!(writer, "{{{}}}", span.fields)?;
        }
        writer.write_char(':')?;
    }
    if in_request || !spans.is_empty() {
        writer.write_char(' ')?;
    }
    writer.write_str(meta.target())?;
    writer.write_str(": ")?;
    let mut fields = TextFieldWriter { writer: writer.by_ref(), first: true, result: Ok(()) };
    event.record(&mut fields);
    fields.result?;
    writer.write_char('\n')
}

/// `{"timestamp":..,"level":..,"fields":{..},"target":..,"span":{..},"spans":[..]}`: `span` is the
/// innermost span, `spans` all of them from the outermost, as tracing-subscriber's JSON writes
/// them, with the request being served, if any, outermost.
fn json_line(mut writer: Writer<'_>, event: &Event<'_>, meta: &Metadata<'_>, spans: &[LibrarySpan]) -> fmt::Result {
    writer.write_str("{\"timestamp\":\"")?;
    write_timestamp(SystemTime::now(), &mut writer)?;
    writer.write_str("\",\"level\":\"")?;
    writer.write_str(meta.level().as_str())?;
    writer.write_str("\",\"fields\":{")?;
    let mut fields = JsonFieldWriter { writer: &mut writer, first: true, result: Ok(()) };
    event.record(&mut fields);
    fields.result?;
    writer.write_str("},\"target\":")?;
    write_json_string(&mut writer, meta.target())?;
    // The library's spans as objects: their fields and their name.
    let mut library: Vec<String> = Vec::with_capacity(spans.len());
    for span in spans {
        let inner = span.fields.trim().strip_prefix('{').and_then(|rest| rest.strip_suffix('}')).unwrap_or("");
        let mut object = format!("{{{inner}{}\"name\":", if inner.is_empty() { "" } else { "," });
        write_json_string(&mut object, span.name)?;
        object.push('}');
        library.push(object);
    }
    let in_request =
        http_api::request_id::in_request(|id, instance| write_request_spans(&mut writer, id, instance, &library));
    match (in_request, library.last()) {
        (Some(written), _) => written?,
        (None, Some(innermost)) => write!(writer, ",\"span\":{innermost},\"spans\":[{}]", library.join(","))?,
        (None, None) => {}
    }
    writer.write_str("}\n")
}

/// An event's fields as tracing-subscriber's text format writes them (its `DefaultFields`): the
/// message as it is, with terminal control characters escaped, and every other field as
/// `name=value`, the value's `Debug` text (quoted for a string), separated by spaces; the `log`
/// crate's metadata fields left out. Written without that format's per-field machinery (the name
/// and `=` each formatted through a style, integers through `fmt`), which cost 2,850 instructions
/// for a request line's five fields against 1,700 here; an error field is still written by
/// `DefaultFields`' own visitor, with its sources.
struct TextFieldWriter<'a> {
    writer: Writer<'a>,
    first: bool,
    result: fmt::Result,
}

impl TextFieldWriter<'_> {
    /// Writes the separator, then `name=` (nothing for the message) and the value; nothing for a
    /// `log.` field or after an error.
    fn field(&mut self, field: &Field, value: impl FnOnce(&mut Writer<'_>) -> fmt::Result) {
        let name = field.name();
        if self.result.is_err() || name.starts_with("log.") {
            return;
        }
        let separator = if std::mem::take(&mut self.first) { "" } else { " " };
        self.result = self.writer.write_str(separator).and_then(|()| match name {
            "message" => value(&mut self.writer),
            name => {
                self.writer.write_str(name.strip_prefix("r#").unwrap_or(name))?;
                self.writer.write_char('=')?;
                value(&mut self.writer)
            }
        });
    }
}

impl Visit for TextFieldWriter<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        match field.name() {
            "message" => self.field(field, |writer| write!(TerminalEscaped(writer), "{value:?}")),
            _ => self.field(field, |writer| write!(writer, "{value:?}")),
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "message" => self.field(field, |writer| TerminalEscaped(writer).write_str(value)),
            // As `Debug` quotes it: plain text between quotes as it is.
            _ if value.bytes().all(|byte| (b' '..=b'~').contains(&byte) && byte != b'"' && byte != b'\\') => self
                .field(field, |writer| {
                    writer.write_char('"')?;
                    writer.write_str(value)?;
                    writer.write_char('"')
                }),
            _ => self.field(field, |writer| write!(writer, "{value:?}")),
        }
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.field(field, |writer| writer.write_str(itoa::Buffer::new().format(value)));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.field(field, |writer| writer.write_str(itoa::Buffer::new().format(value)));
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        if self.result.is_err() {
            return;
        }
        let mut default = DefaultVisitor::new(self.writer.by_ref(), self.first);
        default.record_error(field, value);
        self.first &= field.name().starts_with("log.");
        self.result = default.finish();
    }
}

/// A writer that escapes the control characters a terminal would act on, as tracing-subscriber's
/// text format escapes a message: ESC, BEL, backspace, form feed and DEL as `\x1b`, and the C1
/// controls as `\u{80}`.
struct TerminalEscaped<'a, 'w>(&'a mut Writer<'w>);

impl fmt::Write for TerminalEscaped<'_, '_> {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        let mut plain = 0;
        for (at, character) in text.char_indices() {
            let escape = match character {
                '\x1b' => "\\x1b",
                '\x07' => "\\x07",
                '\x08' => "\\x08",
                '\x0c' => "\\x0c",
                '\x7f' => "\\x7f",
                '\u{80}'..='\u{9f}' => "",
                _ => continue,
            };
            self.0.write_str(&text[plain..at])?;
            match escape.is_empty() {
                true => write!(self.0, "\\u{{{:x}}}", u32::from(character))?,
                false => self.0.write_str(escape)?,
            }
            plain = at + character.len_utf8();
        }
        self.0.write_str(&text[plain..])
    }
}

/// An event's fields as the members of a JSON object, written as they are recorded: strings and
/// numbers as themselves, anything else as its `Debug` text, and the `log` crate's metadata fields
/// left out, as tracing-subscriber's JSON has them. Straight into the line rather than through its
/// `JsonFields`, which builds a map of `serde_json` values and serializes it into a string of its
/// own first (4,200 instructions more for a request line's five fields).
struct JsonFieldWriter<'a, W: fmt::Write> {
    writer: &'a mut W,
    first: bool,
    result: fmt::Result,
}

impl<W: fmt::Write> JsonFieldWriter<'_, W> {
    /// Writes `"name":` (after a comma unless first) and then the value; nothing for a `log.`
    /// field or after an error.
    fn member(&mut self, field: &Field, value: impl FnOnce(&mut W) -> fmt::Result) {
        let name = field.name();
        if self.result.is_err() || name.starts_with("log.") {
            return;
        }
        let name = name.strip_prefix("r#").unwrap_or(name);
        let separator = if std::mem::take(&mut self.first) { "" } else { "," };
        self.result = self
            .writer
            .write_str(separator)
            .and_then(|()| write_json_string(self.writer, name))
            .and_then(|()| self.writer.write_char(':'))
            .and_then(|()| value(self.writer));
    }
}

impl<W: fmt::Write> Visit for JsonFieldWriter<'_, W> {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.member(field, |writer| {
            writer.write_char('"')?;
            write!(JsonEscaped(writer), "{value:?}")?;
            writer.write_char('"')
        });
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.member(field, |writer| write_json_string(writer, value));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.member(field, |writer| writer.write_str(itoa::Buffer::new().format(value)));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.member(field, |writer| writer.write_str(itoa::Buffer::new().format(value)));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.member(field, |writer| write!(writer, "{value}"));
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        // As serde_json writes a float: JSON has no NaN nor infinity, which have no `Number`.
        self.member(field, |writer| match serde_json::Number::from_f64(value) {
            Some(number) => write!(writer, "{number}"),
            None => writer.write_str("null"),
        });
    }
}

/// A writer that escapes what goes through it for the inside of a JSON string, as serde_json
/// escapes: the quote, the backslash and the control characters.
struct JsonEscaped<'a, W: fmt::Write>(&'a mut W);

impl<W: fmt::Write> fmt::Write for JsonEscaped<'_, W> {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        let mut plain = 0;
        for (at, byte) in text.bytes().enumerate() {
            let escape = match byte {
                b'"' => "\\\"",
                b'\\' => "\\\\",
                b'\n' => "\\n",
                b'\r' => "\\r",
                b'\t' => "\\t",
                0x08 => "\\b",
                0x0c => "\\f",
                0x00..=0x1f => "",
                _ => continue,
            };
            self.0.write_str(&text[plain..at])?;
            match escape.is_empty() {
                true => write!(self.0, "\\u{byte:04x}")?,
                false => self.0.write_str(escape)?,
            }
            plain = at + 1;
        }
        self.0.write_str(&text[plain..])
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

/// The request being served as a text span: `request{request_id=.. instance_id=..}:`.
fn write_request_span(writer: &mut impl fmt::Write, id: &str, instance: Option<InstanceId>) -> fmt::Result {
    writer.write_str("request{request_id=")?;
    writer.write_str(id)?;
    if let Some(instance) = instance {
        writer.write_str(" instance_id=")?;
        writer.write_str(itoa::Buffer::new().format(instance.get()))?;
    }
    writer.write_str("}:")
}

/// `,"span":..,"spans":[..]` of a JSON line logged while a request is served: the request
/// outermost, then the library's spans (as objects, outermost first), the innermost as `span`.
fn write_request_spans(
    writer: &mut impl fmt::Write,
    id: &str,
    instance: Option<InstanceId>,
    library: &[String],
) -> fmt::Result {
    writer.write_str(",\"span\":")?;
    match library.last() {
        Some(innermost) => writer.write_str(innermost)?,
        None => write_request_object(writer, id, instance)?,
    }
    writer.write_str(",\"spans\":[")?;
    write_request_object(writer, id, instance)?;
    for object in library {
        writer.write_char(',')?;
        writer.write_str(object)?;
    }
    writer.write_char(']')
}

/// The request being served as a JSON span object: its id (hex digits) and instance (a number).
fn write_request_object(writer: &mut impl fmt::Write, id: &str, instance: Option<InstanceId>) -> fmt::Result {
    writer.write_str("{\"request_id\":\"")?;
    writer.write_str(id)?;
    writer.write_char('"')?;
    if let Some(instance) = instance {
        writer.write_str(",\"instance_id\":")?;
        writer.write_str(itoa::Buffer::new().format(instance.get()))?;
    }
    writer.write_str(",\"name\":\"request\"}")
}

/// `text` as a JSON string, quoted and escaped.
fn write_json_string(writer: &mut impl fmt::Write, text: &str) -> fmt::Result {
    writer.write_char('"')?;
    JsonEscaped(writer).write_str(text)?;
    writer.write_char('"')
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

    /// A subscriber writing through [`Lines`] into the returned buffer, set up as `init` sets it up
    /// (JSON span fields for JSON lines).
    fn capture(json: bool) -> (tracing::Dispatch, std::sync::Arc<std::sync::Mutex<Vec<u8>>>) {
        let buffer = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = std::sync::Arc::clone(&buffer);
        let writer = move || SharedBuffer(std::sync::Arc::clone(&sink));
        let subscriber = tracing_subscriber::fmt().with_writer(writer);
        let dispatch = match json {
            true => {
                tracing::Dispatch::new(subscriber.fmt_fields(JsonFields::new()).event_format(Lines { json }).finish())
            }
            false => tracing::Dispatch::new(subscriber.event_format(Lines { json }).finish()),
        };
        (dispatch, buffer)
    }

    fn lines_in(buffer: &std::sync::Mutex<Vec<u8>>) -> Vec<String> {
        String::from_utf8(buffer.lock().unwrap().clone()).unwrap().lines().map(str::to_string).collect()
    }

    /// The lines `log` writes through [`Lines`] as JSON, one per element.
    fn json_lines(log: impl FnOnce()) -> Vec<serde_json::Value> {
        let (dispatch, buffer) = capture(true);
        tracing::dispatcher::with_default(&dispatch, log);
        let lines = lines_in(&buffer);
        lines.iter().map(|line| serde_json::from_str(line).unwrap_or_else(|_| panic!("not JSON: {line}"))).collect()
    }

    struct SharedBuffer(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

    impl std::io::Write for SharedBuffer {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// Formats each event's fields twice, by tracing-subscriber's `DefaultFields` and by
    /// [`TextFieldWriter`], for the test to compare.
    struct BothTextWriters(std::sync::Arc<std::sync::Mutex<Vec<(String, String)>>>);

    impl<S: Subscriber> tracing_subscriber::Layer<S> for BothTextWriters {
        fn on_event(&self, event: &Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
            let mut theirs = String::new();
            tracing_subscriber::fmt::format::DefaultFields::new()
                .format_fields(Writer::new(&mut theirs), event)
                .unwrap();
            let mut ours = String::new();
            let mut fields = TextFieldWriter { writer: Writer::new(&mut ours), first: true, result: Ok(()) };
            event.record(&mut fields);
            fields.result.unwrap();
            self.0.lock().unwrap().push((theirs, ours));
        }
    }

    #[derive(Debug)]
    struct Failed(Option<std::io::Error>);

    impl fmt::Display for Failed {
        fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
            formatter.write_str("failed \x1b[31m")
        }
    }

    impl std::error::Error for Failed {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            self.0.as_ref().map(|source| source as _)
        }
    }

    #[test]
    fn text_fields_are_written_as_tracing_subscribers_own_text_format_writes_them() {
        use tracing_subscriber::layer::SubscriberExt;
        let written = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let subscriber = tracing_subscriber::registry().with(BothTextWriters(std::sync::Arc::clone(&written)));
        let hostile =
            "quote \" backslash \\ newline \n tab \t esc \x1b[2J bell \u{7} del \u{7f} c1 \u{85} nul \0 é \u{1F600}";
        let with_source = Failed(Some(std::io::Error::other("the disk \x1b is full")));
        tracing::subscriber::with_default(subscriber, || {
            let path = "/elements/api-v2/hubs/crm/raw/v2/contacts/7";
            tracing::info!(method = %"GET", path = %path, status = 200u16, latency_ms = 0u64, "request");
            tracing::warn!(text = hostile, shown = %hostile, debugged = ?hostile, "message {hostile} and {}", 7);
            tracing::warn!(
                plain = "a b",
                signed = -7i64,
                unsigned = 7u64,
                flag = true,
                ratio = 0.5f64,
                big = 1u128 << 100,
                r#type = "raw name"
            );
            tracing::error!(error = &with_source as &(dyn std::error::Error + 'static), "{hostile}");
            tracing::error!(error = &Failed(None) as &(dyn std::error::Error + 'static), after = 1);
            tracing::info!("log." = "not a field name", log.target = "skipped", log.line = 3u32, kept = 1, "from log");
            tracing::info!(message = hostile);
            tracing::info!(message = %hostile, other = 1);
            tracing::info!(only = "fields", r#ref = ?Some("x"));
        });
        let written = written.lock().unwrap();
        assert_eq!(written.len(), 9);
        for (theirs, ours) in written.iter() {
            assert_eq!(ours, theirs);
        }
        assert!(
            written[1].1.starts_with("message quote \" backslash \\ newline \n tab \t esc \\x1b[2J"),
            "{}",
            written[1].1
        );
        assert_eq!(
            written[0].1,
            "request method=GET path=/elements/api-v2/hubs/crm/raw/v2/contacts/7 status=200 latency_ms=0"
        );
    }

    #[test]
    fn json_fields_keep_their_types_and_any_text_survives_escaping() {
        let hostile = "quote \" backslash \\ newline \n tab \t bell \u{7} nul \0 é \u{1F600}";
        let lines = json_lines(|| {
            tracing::warn!(
                text = hostile,
                shown = %hostile,
                debugged = ?Some(3),
                signed = -7i64,
                unsigned = 7u64,
                flag = true,
                ratio = 0.5f64,
                not_a_number = f64::NAN,
                r#type = "raw name",
                "message with {} and {hostile}",
                "braces"
            );
        });
        let [line] = lines.as_slice() else { panic!("one line: {lines:?}") };
        let fields = &line["fields"];
        assert_eq!(fields["message"], format!("message with braces and {hostile}"));
        assert_eq!(fields["text"], hostile);
        assert_eq!(fields["shown"], hostile);
        assert_eq!(fields["debugged"], "Some(3)");
        assert_eq!(fields["signed"], -7);
        assert_eq!(fields["unsigned"], 7);
        assert_eq!(fields["flag"], true);
        assert_eq!(fields["ratio"], 0.5);
        assert!(fields["not_a_number"].is_null(), "{line}");
        assert_eq!(fields["type"], "raw name");
        assert_eq!(line["level"], "WARN");
        assert_eq!(line["target"], module_path!());
        assert!(line.get("span").is_none(), "outside a request and any span there is none: {line}");
    }

    #[test]
    fn json_lines_list_a_library_span_with_its_fields() {
        let lines = json_lines(|| {
            let span = tracing::info_span!("pool", size = 3, name_with_quote = "a\"b");
            let _entered = span.enter();
            tracing::info!("inside");
        });
        let [line] = lines.as_slice() else { panic!("one line: {lines:?}") };
        let expected = serde_json::json!({"size": 3, "name_with_quote": "a\"b", "name": "pool"});
        assert_eq!(line["span"], expected);
        assert_eq!(line["spans"], serde_json::json!([expected]));
    }

    /// The line [`request_line`] writes and the line the subscriber writes for the same event
    /// (`log_line`), in the format `json` says, inside a request that recorded instance 9; their
    /// timestamps cut out.
    async fn both_request_lines(json: bool, method: &'static str, path: &'static str) -> (String, String) {
        use tower::{Layer as _, Service as _};

        let (dispatch, buffer) = capture(json);
        let ours = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let written = std::sync::Arc::clone(&ours);
        let route = tower::service_fn(move |_: axum::extract::Request| {
            let written = std::sync::Arc::clone(&written);
            async move {
                http_api::request_id::record_instance(InstanceId::new(9));
                let line = RequestLine { method, path, status: 201, latency_ms: 12 };
                request_line(&mut written.lock().unwrap(), &line, json).unwrap();
                http_api::request_id::log_line(&line);
                Ok::<_, std::convert::Infallible>(axum::response::Response::new(axum::body::Body::empty()))
            }
        });
        {
            let _default = tracing::dispatcher::set_default(&dispatch);
            let request = axum::extract::Request::new(axum::body::Body::empty());
            http_api::request_id::AssignLayer.layer(route).call(request).await.unwrap();
        }
        let theirs = lines_in(&buffer).into_iter().next().expect("the event's line");
        let ours = ours.lock().unwrap().strip_suffix('\n').expect("one line").to_string();
        let at = if json { "{\"timestamp\":\"".len() } else { 0 };
        let cut = |line: &str| format!("{}{}", &line[..at], &line[at + "2026-12-06T01:02:03.456789Z".len()..]);
        (cut(&ours), cut(&theirs))
    }

    #[tokio::test]
    async fn a_request_line_is_written_as_the_subscriber_writes_its_event() {
        for json in [false, true] {
            for (method, path) in [("GET", "/elements/api-v2/hubs/crm/contacts/7"), ("BREW", "/a\"b\\c\té\u{1b}")] {
                let (ours, theirs) = both_request_lines(json, method, path).await;
                assert_eq!(ours, theirs, "json: {json}");
                assert!(ours.contains("instance_id") && ours.contains("201") && ours.contains("12"), "{ours}");
            }
        }
    }

    /// The lines written, in the format `json` says, while serving one request through the
    /// request-id layer whose route records instance 9 and logs inside a library's span; and the
    /// request's id.
    async fn lines_of_a_request(json: bool) -> (Vec<String>, String) {
        use tower::{Layer as _, Service as _};

        let (dispatch, buffer) = capture(json);
        let route = tower::service_fn(|_: axum::extract::Request| async {
            http_api::request_id::record_instance(InstanceId::new(9));
            let span = tracing::info_span!("pool", size = 3);
            let _entered = span.enter();
            tracing::info!("inside");
            Ok::<_, std::convert::Infallible>(axum::response::Response::new(axum::body::Body::empty()))
        });
        let request = axum::extract::Request::new(axum::body::Body::empty());
        let response = {
            let _default = tracing::dispatcher::set_default(&dispatch);
            http_api::request_id::AssignLayer.layer(route).call(request).await.unwrap()
        };
        let id = response.headers()[http_api::request_id::HEADER].to_str().unwrap().to_string();
        (lines_in(&buffer), id)
    }

    #[tokio::test]
    async fn json_lines_of_a_request_name_it_outermost_with_its_instance() {
        let (lines, id) = lines_of_a_request(true).await;
        let lines: Vec<serde_json::Value> = lines.iter().map(|line| serde_json::from_str(line).unwrap()).collect();
        let [inside, request_line] = lines.as_slice() else { panic!("two lines: {lines:?}") };
        let request = serde_json::json!({"request_id": id, "instance_id": 9, "name": "request"});
        let pool = serde_json::json!({"size": 3, "name": "pool"});
        assert_eq!(inside["span"], pool, "the innermost span: {inside}");
        assert_eq!(inside["spans"], serde_json::json!([request, pool]), "{inside}");
        assert_eq!(request_line["fields"]["message"], "request");
        assert_eq!(request_line["span"], request, "{request_line}");
        assert_eq!(request_line["spans"], serde_json::json!([request]), "{request_line}");
    }

    #[tokio::test]
    async fn text_lines_of_a_request_name_it_before_a_library_span() {
        let (lines, id) = lines_of_a_request(false).await;
        let [inside, request_line] = lines.as_slice() else { panic!("two lines: {lines:?}") };
        let expected =
            format!(" INFO request{{request_id={id} instance_id=9}}:pool{{size=3}}: {}: inside", module_path!());
        assert!(inside.ends_with(&expected), "{inside}");
        let expected = format!(" INFO request{{request_id={id} instance_id=9}}: http_api::request_id: request method=GET path=/ status=200 latency_ms=");
        assert!(request_line.contains(&expected), "{request_line}");
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
