//! `junction sql`'s interactive shell: a line editor with history (`~/.junction_sql_history`, as
//! psql and sqlite3 keep theirs in the home directory), statements over several lines until one
//! ends with `;`, and a few dot-commands. A failing statement prints its error and the shell goes
//! on; Ctrl-C drops the statement being typed; `.quit`, `.exit` or Ctrl-D leave.

use std::io::{self, Write};
use std::path::PathBuf;

use ::sql::{Cell, Outcome};
use rustyline::error::ReadlineError;
use rustyline::DefaultEditor;

use super::{note, script, RunError, Runner};

const HELP: &str = "\
End each statement with ';' (it may span several lines).
.tables            list the tables
.columns TABLE     list a table's columns, their types and whether they are writable
.help              show this help
.quit, .exit       leave (or Ctrl-D)";

/// Reads and runs statements until the user leaves.
pub fn run(runner: &Runner) -> anyhow::Result<()> {
    let mut editor = DefaultEditor::new()?;
    let history = history_file();
    if let Some(path) = &history {
        // A first run has no history yet; an unreadable one only costs the recall.
        let _ = editor.load_history(path);
    }
    note("Connected. End statements with ';'. Type .help for commands, .quit to leave.");
    let mut pending = String::new();
    loop {
        let prompt = if pending.is_empty() { "junction> " } else { "     ...> " };
        let line = match editor.readline(prompt) {
            Ok(line) => line,
            Err(ReadlineError::Interrupted) => {
                pending.clear();
                continue;
            }
            Err(ReadlineError::Eof) => break,
            Err(error) => return Err(error.into()),
        };
        if pending.is_empty() && line.trim_start().starts_with('.') {
            let _ = editor.add_history_entry(line.trim());
            match command(runner, line.trim()) {
                Ok(Flow::Quit) => break,
                Ok(Flow::Continue) => {}
                Err(error) => note(&format!("error: {error}")),
            }
            continue;
        }
        pending.push_str(&line);
        pending.push('\n');
        let split = script::split(&pending);
        if split.unterminated.is_some() {
            continue;
        }
        let _ = editor.add_history_entry(pending.trim());
        pending.clear();
        for statement in split.statements {
            if let Err(error) = runner.run(&statement.text) {
                note(&format!("error: {error}"));
                break;
            }
        }
    }
    if let Some(path) = &history {
        if let Err(error) = editor.save_history(path) {
            note(&format!("warning: cannot save the history to {}: {error}", path.display()));
        }
    }
    Ok(())
}

/// What the shell does after a dot-command.
enum Flow {
    Continue,
    Quit,
}

fn command(runner: &Runner, line: &str) -> Result<Flow, RunError> {
    let mut words = line.split_whitespace();
    match (words.next().unwrap_or_default(), words.next()) {
        (".quit" | ".exit", None) => return Ok(Flow::Quit),
        (".help", None) => note(HELP),
        (".tables", None) => {
            print_column("SELECT TableName FROM sys_tables ORDER BY TableName", &[], runner)?;
        }
        (".columns", Some(table)) => {
            let sql = "SELECT ColumnName || '  ' || DataTypeName || CASE WHEN IsReadOnly = 'true' OR IsReadOnly = 1 \
                       THEN '  read-only' ELSE '' END FROM sys_tablecolumns WHERE TableName = ? COLLATE NOCASE \
                       ORDER BY CAST(Ordinal AS INTEGER)";
            let found = print_column(sql, &[Cell::Text(table.to_string())], runner)?;
            if found == 0 {
                note(&format!("error: no table named {table} (.tables lists them)"));
            }
        }
        (".columns", None) => note("error: .columns needs a table name, e.g. .columns Contacts"),
        _ => note(&format!("error: unknown command {line} (.help lists them)")),
    }
    Ok(Flow::Continue)
}

/// Prints the first column of a query's rows, one per line; returns how many.
fn print_column(sql: &str, parameters: &[Cell], runner: &Runner) -> Result<usize, RunError> {
    let Outcome::Rows(rows) = runner.connection().run(sql, parameters)? else { return Ok(0) };
    let mut out = io::stdout().lock();
    for row in &rows.rows {
        let text = row.first().and_then(|cell| cell.to_text(::sql::ColumnKind::Text)).unwrap_or_default();
        writeln!(out, "{text}")?;
    }
    out.flush()?;
    Ok(rows.rows.len())
}

/// `~/.junction_sql_history`; none without a home directory.
fn history_file() -> Option<PathBuf> {
    let home = std::env::var_os("HOME").filter(|home| !home.is_empty())?;
    Some(PathBuf::from(home).join(".junction_sql_history"))
}
