//! What the endpoint answers itself rather than SQLite: the session commands PostgreSQL clients
//! send (`BEGIN`, `COMMIT`, `SET`, `SHOW`, `DISCARD ALL`, …) and the few server functions they
//! call alone (`select version()`, `select current_setting('…')`); and the splitting of a simple
//! query's text into statements, so each can be answered by the endpoint or by SQLite.
//!
//! Transactions are accepted and answered, but every statement takes effect when it runs: writes
//! go to the vendor at once and `ROLLBACK` undoes nothing (the vendor has no transactions).
//! `SET` is accepted and ignored. Catalog queries (`pg_catalog`, `information_schema`) go to
//! SQLite and fail there with an error response.

use crate::pgwire::values::user_error;
use ::pgwire::error::PgWireError;

/// The PostgreSQL version the endpoint presents (psql and drivers adapt their SQL to it).
pub(crate) const SERVER_VERSION: &str = "16.6";

/// How the endpoint answers one statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Command {
    /// `BEGIN`, `START TRANSACTION`: the session reports a transaction (nothing else changes).
    Begin,
    /// `COMMIT`, `END`, `ROLLBACK`, `ABORT`: the session reports none again; `tag` is PostgreSQL's.
    End { tag: &'static str },
    /// A command accepted with no effect (`SET`, `RESET`, `DISCARD ALL`, `SAVEPOINT`, …).
    Accepted { tag: &'static str },
    /// One text value in one row (`SHOW x`, `select version()`).
    Value { column: String, value: String },
    /// SQL for SQLite.
    Sql,
}

/// How to answer `sql`, one statement; an error for a `SHOW` of a setting the endpoint lacks.
pub(crate) fn classify(sql: &str) -> Result<Command, PgWireError> {
    let words: Vec<String> = strip_comments(sql)
        .split_whitespace()
        .take(3)
        .map(|word| word.trim_end_matches(';').to_ascii_uppercase())
        .collect();
    let first = words.first().map_or("", String::as_str);
    let second = words.get(1).map_or("", String::as_str);
    let command = match first {
        "BEGIN" => Command::Begin,
        "START" if second == "TRANSACTION" => Command::Begin,
        "COMMIT" | "END" => Command::End { tag: "COMMIT" },
        "ROLLBACK" if second == "TO" => Command::Accepted { tag: "ROLLBACK" },
        "ROLLBACK" | "ABORT" => Command::End { tag: "ROLLBACK" },
        "SAVEPOINT" => Command::Accepted { tag: "SAVEPOINT" },
        "RELEASE" => Command::Accepted { tag: "RELEASE" },
        "SET" => Command::Accepted { tag: "SET" },
        "RESET" => Command::Accepted { tag: "RESET" },
        "DISCARD" => Command::Accepted { tag: "DISCARD ALL" },
        "DEALLOCATE" => Command::Accepted { tag: "DEALLOCATE" },
        "SHOW" => {
            let name = strip_comments(sql).split_whitespace().nth(1).unwrap_or("").trim_end_matches(';').to_string();
            let value = setting(&name)?;
            Command::Value { column: name.to_ascii_lowercase(), value }
        }
        "SELECT" => server_function(sql)?.unwrap_or(Command::Sql),
        _ => Command::Sql,
    };
    Ok(command)
}

/// The first word of `sql` in upper case, after any comments (`INSERT`, `SELECT`, …).
pub(crate) fn first_word(sql: &str) -> String {
    strip_comments(sql).split_whitespace().next().unwrap_or("").trim_end_matches(';').to_ascii_uppercase()
}

/// `select version()` and its kind, alone in a statement: the functions clients call on connect.
/// (SQLite has none of them; inside a larger query they fail as unknown functions.)
fn server_function(sql: &str) -> Result<Option<Command>, PgWireError> {
    let normalized: String = strip_comments(sql)
        .trim()
        .trim_end_matches(';')
        .to_ascii_lowercase()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .replace("pg_catalog.", "")
        .replace(" (", "(")
        .replace("( ", "(")
        .replace(" )", ")");
    let Some(call) = normalized.strip_prefix("select ") else { return Ok(None) };
    let value = |column: &str, value: String| Ok(Some(Command::Value { column: column.into(), value }));
    match call {
        "version()" => value("version", version()),
        "current_database()" => value("current_database", "infusionsoft".into()),
        "current_schema()" => value("current_schema", "public".into()),
        _ => match call.strip_prefix("current_setting('").and_then(|rest| rest.strip_suffix("')")) {
            Some(name) if !name.contains('\'') => value("current_setting", setting(name)?),
            _ => Ok(None),
        },
    }
}

fn version() -> String {
    format!("PostgreSQL {SERVER_VERSION} (Junction SQL over Infusionsoft; SQLite {})", rusqlite::version())
}

/// The value `SHOW name` answers, as PostgreSQL spells it; the parameters the endpoint announces
/// at startup have the same values.
pub(crate) fn setting(name: &str) -> Result<String, PgWireError> {
    let value = match name.to_ascii_lowercase().as_str() {
        "server_version" => SERVER_VERSION,
        "server_version_num" => "160006",
        "server_encoding" | "client_encoding" => "UTF8",
        "datestyle" => "ISO, MDY",
        "intervalstyle" => "postgres",
        "timezone" | "log_timezone" => "UTC",
        "standard_conforming_strings" | "integer_datetimes" => "on",
        "transaction_isolation" | "default_transaction_isolation" => "read committed",
        "transaction_read_only" | "default_transaction_read_only" | "is_superuser" | "in_hot_standby" => "off",
        "search_path" => "public",
        "max_identifier_length" => "63",
        "application_name" => "",
        "lc_messages" | "lc_collate" | "lc_ctype" | "lc_monetary" | "lc_numeric" | "lc_time" => "C",
        "statement_timeout" | "lock_timeout" | "idle_in_transaction_session_timeout" => "0",
        _ => return Err(user_error("42704", format!("unrecognized configuration parameter \"{name}\""))),
    };
    Ok(value.to_string())
}

/// `sql` with its `--` and `/* */` comments blanked out (quoted text is left alone).
fn strip_comments(sql: &str) -> String {
    let mut kept = String::with_capacity(sql.len());
    for (piece, is_code) in scan(sql) {
        if is_code {
            kept.push_str(piece);
        } else if piece.starts_with("--") || piece.starts_with("/*") {
            kept.push(' ');
        } else {
            kept.push_str(piece);
        }
    }
    kept
}

/// The statements of a simple query's text: each as its start offset (bytes) and its text, with
/// no empty statements (only whitespace, comments or `;`).
pub(crate) fn split(sql: &str) -> Vec<(usize, &str)> {
    let mut statements = Vec::new();
    let mut start = 0;
    let mut has_code = false;
    let mut at = 0;
    for (piece, is_code) in scan(sql) {
        let end = at + piece.len();
        if is_code && piece == ";" {
            if has_code {
                statements.push((start, &sql[start..at]));
            }
            start = end;
            has_code = false;
        } else if !piece.trim().is_empty() && !piece.starts_with("--") && !piece.starts_with("/*") {
            has_code = true;
        }
        at = end;
    }
    if has_code {
        statements.push((start, &sql[start..]));
    }
    statements
}

/// `sql` with PostgreSQL's `$1`, `$2`, … written as SQLite's positional `?1`, `?2`, … (SQLite
/// reads `$2` as a *named* parameter and numbers those by first appearance, so `SET a = $2 WHERE
/// Id = $1` would bind the values the wrong way round). Quoted text and comments are left alone.
pub(crate) fn positional_parameters(sql: &str) -> String {
    let pieces: Vec<(&str, bool)> = scan(sql).collect();
    let mut rewritten = String::with_capacity(sql.len());
    for (index, (piece, plain)) in pieces.iter().enumerate() {
        let before_digit = pieces
            .get(index + 1)
            .is_some_and(|(next, next_plain)| *next_plain && next.starts_with(|c: char| c.is_ascii_digit()));
        if *plain && *piece == "$" && before_digit {
            rewritten.push('?');
        } else {
            rewritten.push_str(piece);
        }
    }
    rewritten
}

/// `sql` cut into pieces: quoted text (`'…'`, `"…"`, `` `…` ``, `[…]`) and comments as single
/// pieces marked `false`, everything else one character at a time marked `true`. An unterminated
/// quote or comment runs to the end (SQLite then reports it).
fn scan(sql: &str) -> impl Iterator<Item = (&str, bool)> {
    let mut rest = sql;
    std::iter::from_fn(move || {
        let first = rest.chars().next()?;
        let end = match first {
            '\'' | '"' | '`' => closing(rest, first, 1),
            '[' => closing(rest, ']', 1),
            '-' if rest.starts_with("--") => rest.find('\n').map_or(rest.len(), |at| at + 1),
            '/' if rest.starts_with("/*") => rest[2..].find("*/").map_or(rest.len(), |at| at + 4),
            _ => first.len_utf8(),
        };
        let (piece, tail) = rest.split_at(end);
        rest = tail;
        let quoted_or_comment = matches!(first, '\'' | '"' | '`' | '[') || (end > 1 && matches!(first, '-' | '/'));
        Some((piece, !quoted_or_comment))
    })
}

/// The end of a quoted piece that opened with one character and closes with `close`; a doubled
/// closing character is an escaped one.
fn closing(text: &str, close: char, from: usize) -> usize {
    let mut at = from;
    while let Some(found) = text[at..].find(close) {
        let after = at + found + close.len_utf8();
        if close != ']' && text[after..].starts_with(close) {
            at = after + close.len_utf8();
            continue;
        }
        return after;
    }
    text.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dollar_parameters_become_positional_outside_quotes() {
        assert_eq!(
            positional_parameters("UPDATE t SET a = $2 WHERE Id = $1 AND b = '$3' -- $4\n AND c = $name"),
            "UPDATE t SET a = ?2 WHERE Id = ?1 AND b = '$3' -- $4\n AND c = $name"
        );
    }

    #[test]
    fn splits_on_semicolons_outside_quotes_and_comments() {
        let sql = "select 'a;b'; -- c;d\n select \"x;y\" /* ; */ from t;; ;  ";
        let statements: Vec<&str> = split(sql).into_iter().map(|(_, text)| text.trim()).collect();
        assert_eq!(statements, ["select 'a;b'", "-- c;d\n select \"x;y\" /* ; */ from t"]);
        assert_eq!(split(" ; -- only a comment"), []);
        assert_eq!(split("select 'it''s; fine'"), [(0, "select 'it''s; fine'")]);
        let (start, text) = split("begin; select 1")[1];
        assert_eq!((start, text), (6, " select 1"));
    }

    #[test]
    fn session_commands_are_answered_here_and_the_rest_goes_to_sqlite() {
        assert_eq!(classify(" begin").unwrap(), Command::Begin);
        assert_eq!(classify("/* x */ COMMIT;").unwrap(), Command::End { tag: "COMMIT" });
        assert_eq!(classify("rollback to savepoint a").unwrap(), Command::Accepted { tag: "ROLLBACK" });
        assert_eq!(classify("SET datestyle = ISO").unwrap(), Command::Accepted { tag: "SET" });
        assert_eq!(classify("discard all").unwrap(), Command::Accepted { tag: "DISCARD ALL" });
        assert_eq!(
            classify("SHOW TimeZone").unwrap(),
            Command::Value { column: "timezone".into(), value: "UTC".into() }
        );
        assert!(classify("show no_such_thing").is_err());
        assert!(
            matches!(classify("SELECT  pg_catalog.version( ) ;").unwrap(), Command::Value { column, .. } if column == "version")
        );
        assert_eq!(
            classify("select current_setting('server_version_num')").unwrap(),
            Command::Value { column: "current_setting".into(), value: "160006".into() }
        );
        assert_eq!(classify("select version() || 'x'").unwrap(), Command::Sql);
        assert_eq!(classify("select count(*) from contacts").unwrap(), Command::Sql);
        assert_eq!(classify("settle").unwrap(), Command::Sql);
    }
}
