//! The process's log: one line per event on stderr, as text for a person or as JSON objects for a
//! log pipeline (`--log-format`), filtered by `RUST_LOG`. What is logged is decided where it
//! happens; this module owns only how it is written.
//!
//! Logs go to stderr so that stdout carries only what is meant for the operator (the bootstrap
//! secrets, printed once; `junction sql`'s rows).

use clap::ValueEnum;
use tracing_subscriber::EnvFilter;

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
pub fn init(format: LogFormat, default_filter: &str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| default_filter.into());
    let subscriber = tracing_subscriber::fmt().with_writer(std::io::stderr).with_env_filter(filter);
    match format {
        // Colours only for a person at a terminal: log files and test harnesses get plain text.
        LogFormat::Text => subscriber.with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr())).init(),
        LogFormat::Json => subscriber.json().with_current_span(true).with_span_list(true).init(),
    }
}
