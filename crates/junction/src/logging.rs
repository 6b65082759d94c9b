//! The process's log: one line per event on stderr, as text for a person or as JSON objects for a
//! log pipeline (`--log-format`), filtered by `RUST_LOG`. What is logged is decided where it
//! happens; this module owns only how it is written.
//!
//! Logs go to stderr so that stdout carries only what is meant for the operator (the bootstrap
//! secrets, printed once; `junction sql`'s rows): line by line at a terminal, in batches through
//! [`LogBuffer`] otherwise.

use std::io::IsTerminal;

use clap::ValueEnum;
use tracing_subscriber::fmt::writer::BoxMakeWriter;
use tracing_subscriber::EnvFilter;

use crate::log_buffer::{LineWriter, LogBuffer};

/// How each log line is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// `timestamp LEVEL span{fields}: target: message fields`, coloured at a terminal.
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
        // Colours only for a person at a terminal: log files and test harnesses get plain text.
        LogFormat::Text => subscriber.with_ansi(at_terminal).init(),
        LogFormat::Json => subscriber.json().with_current_span(true).with_span_list(true).init(),
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
