//! How the driver's values cross the wire: column kinds as PostgreSQL types, cells as text-format
//! fields, bound parameters as cells, and [`SqlError`]s as error responses with a SQLSTATE.
//!
//! Results are sent in text format only; parameters are read in text format, and in binary for
//! the scalar types clients bind that way (integers, floats, booleans, text, bytea).
//!
//! | [`ColumnKind`] | PostgreSQL type | text sent |
//! |---|---|---|
//! | `Integer` | `int8` | `42` |
//! | `Real` | `float8` | `1.5`, `Infinity`, `NaN` |
//! | `Text`, `Unknown` | `text` | as stored |
//! | `Boolean` | `bool` | `t` / `f` (psycopg reads anything but `t` as false) |
//! | `DateTime` | `text` | the ISO 8601 text as stored |
//! | `Blob` | `bytea` | `\x` and hex |
//!
//! `DateTime` goes out as `text`, not `timestamptz`: the hub's date fields hold dates as well as
//! date-times, and a value a client's `timestamptz` parser rejects (psycopg's does, for a bare
//! date or a `T` separator in some versions) fails the whole fetch, while ISO 8601 text still sorts
//! and compares correctly.

use ::pgwire::api::portal::Format;
use ::pgwire::api::results::{FieldFormat, FieldInfo};
use ::pgwire::api::Type;
use ::pgwire::error::{ErrorInfo, PgWireError};
use bytes::Bytes;

use crate::error::SqlError;
use crate::rows::{Cell, Column, ColumnKind};

/// The PostgreSQL type a column of `kind` is described as.
pub(crate) fn pg_type(kind: ColumnKind) -> Type {
    match kind {
        ColumnKind::Integer => Type::INT8,
        ColumnKind::Real => Type::FLOAT8,
        ColumnKind::Boolean => Type::BOOL,
        ColumnKind::Blob => Type::BYTEA,
        ColumnKind::Text | ColumnKind::DateTime | ColumnKind::Unknown => Type::TEXT,
    }
}

/// The row description of `columns` (always text format).
pub(crate) fn fields(columns: &[Column]) -> Vec<FieldInfo> {
    columns
        .iter()
        .map(|column| FieldInfo::new(column.name.clone(), None, None, pg_type(column.kind), FieldFormat::Text))
        .collect()
}

/// A cell in PostgreSQL's text format for a column described as `kind` (`None` is NULL).
pub(crate) fn text_of(cell: &Cell, kind: ColumnKind) -> Option<String> {
    match (cell, kind) {
        (Cell::Null, _) => None,
        (Cell::Integer(value), ColumnKind::Boolean) => Some(if *value != 0 { "t" } else { "f" }.into()),
        (Cell::Text(text), ColumnKind::Boolean) => Some(match text.to_ascii_lowercase().as_str() {
            "true" | "t" | "1" => "t".into(),
            "false" | "f" | "0" => "f".into(),
            _ => text.clone(),
        }),
        (Cell::Real(value), _) if value.is_infinite() => {
            Some(if value.is_sign_positive() { "Infinity" } else { "-Infinity" }.into())
        }
        (Cell::Blob(bytes), ColumnKind::Blob) => Some(format!("\\x{}", hex(bytes))),
        (cell, kind) => cell.to_text(kind),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// Whether every result column of a portal is asked for in text format (the only one served).
pub(crate) fn all_text(format: &Format) -> bool {
    match format {
        Format::UnifiedText => true,
        Format::UnifiedBinary => false,
        Format::Individual(codes) => codes.iter().all(|code| FieldFormat::from(*code) == FieldFormat::Text),
    }
}

/// Whether parameter `index` was sent in binary format. Reads the codes itself: pgwire's own
/// accessor indexes them unchecked, and a client may send fewer codes than parameters.
fn is_binary(format: &Format, index: usize) -> bool {
    match format {
        Format::UnifiedText => false,
        Format::UnifiedBinary => true,
        Format::Individual(codes) => {
            codes.get(index).is_some_and(|code| FieldFormat::from(*code) == FieldFormat::Binary)
        }
    }
}

/// The cells of a portal's bound parameters, read by the types the client declared (a parameter
/// of no declared type, or `text`, stays text: SQLite's column affinity converts it where needed).
pub(crate) fn parameters(
    values: &[Option<Bytes>],
    format: &Format,
    declared: &[Option<Type>],
) -> Result<Vec<Cell>, PgWireError> {
    values
        .iter()
        .enumerate()
        .map(|(index, value)| {
            let Some(bytes) = value else { return Ok(Cell::Null) };
            let declared = declared.get(index).and_then(Option::as_ref);
            let cell = if is_binary(format, index) {
                binary_parameter(bytes, declared)
            } else {
                text_parameter(bytes, declared)
            };
            cell.map_err(|message| user_error("22P02", format!("parameter ${}: {message}", index + 1)))
        })
        .collect()
}

fn text_parameter(bytes: &[u8], declared: Option<&Type>) -> Result<Cell, String> {
    let text = std::str::from_utf8(bytes).map_err(|_| "is not valid UTF-8".to_string())?;
    let invalid = |kind: &str| format!("invalid input syntax for type {kind}: \"{text}\"");
    let Some(declared) = declared else { return Ok(Cell::Text(text.into())) };
    Ok(match *declared {
        Type::INT2 | Type::INT4 | Type::INT8 | Type::OID => {
            Cell::Integer(text.trim().parse().map_err(|_| invalid(declared.name()))?)
        }
        Type::FLOAT4 | Type::FLOAT8 | Type::NUMERIC => match text.trim().parse::<i64>() {
            Ok(whole) if *declared == Type::NUMERIC => Cell::Integer(whole),
            _ => Cell::Real(text.trim().parse().map_err(|_| invalid(declared.name()))?),
        },
        Type::BOOL => match text.trim().to_ascii_lowercase().as_str() {
            "t" | "true" | "1" | "on" | "yes" | "y" => Cell::Integer(1),
            "f" | "false" | "0" | "off" | "no" | "n" => Cell::Integer(0),
            _ => return Err(invalid("boolean")),
        },
        Type::BYTEA => Cell::Blob(unhex(text).ok_or_else(|| invalid("bytea"))?),
        _ => Cell::Text(text.into()),
    })
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    let digits = text.strip_prefix("\\x")?;
    if digits.len() % 2 != 0 {
        return None;
    }
    (0..digits.len()).step_by(2).map(|at| u8::from_str_radix(digits.get(at..at + 2)?, 16).ok()).collect()
}

fn binary_parameter(bytes: &[u8], declared: Option<&Type>) -> Result<Cell, String> {
    let wrong_size = || format!("{} bytes is not a binary {}", bytes.len(), declared.map_or("value", Type::name));
    let Some(declared) = declared else {
        return Err("a binary parameter needs a declared type".into());
    };
    Ok(match *declared {
        Type::INT2 => Cell::Integer(i16::from_be_bytes(bytes.try_into().map_err(|_| wrong_size())?).into()),
        Type::INT4 => Cell::Integer(i32::from_be_bytes(bytes.try_into().map_err(|_| wrong_size())?).into()),
        Type::INT8 => Cell::Integer(i64::from_be_bytes(bytes.try_into().map_err(|_| wrong_size())?)),
        Type::OID => Cell::Integer(u32::from_be_bytes(bytes.try_into().map_err(|_| wrong_size())?).into()),
        Type::FLOAT4 => Cell::Real(f32::from_be_bytes(bytes.try_into().map_err(|_| wrong_size())?).into()),
        Type::FLOAT8 => Cell::Real(f64::from_be_bytes(bytes.try_into().map_err(|_| wrong_size())?)),
        Type::BOOL => match bytes {
            [value] => Cell::Integer(i64::from(*value != 0)),
            _ => return Err(wrong_size()),
        },
        Type::BYTEA => Cell::Blob(bytes.to_vec()),
        Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::UNKNOWN | Type::JSON => {
            Cell::Text(std::str::from_utf8(bytes).map_err(|_| "is not valid UTF-8".to_string())?.into())
        }
        _ => return Err(format!("binary parameters of type {} are not supported; send it as text", declared.name())),
    })
}

/// An `ERROR` with `code` and `message`.
pub(crate) fn user_error(code: &str, message: impl Into<String>) -> PgWireError {
    PgWireError::UserError(Box::new(ErrorInfo::new("ERROR".into(), code.into(), message.into())))
}

/// A `FATAL` error (the connection closes after it).
pub(crate) fn fatal_error(code: &str, message: impl Into<String>) -> PgWireError {
    PgWireError::UserError(Box::new(ErrorInfo::new("FATAL".into(), code.into(), message.into())))
}

/// `error` as PostgreSQL reports it, for a statement that starts `start` bytes into `text`, the
/// query text the client sent (the error position counts characters of that text, from 1).
pub(crate) fn error_info(error: &SqlError, text: &str, start: usize) -> ErrorInfo {
    let (code, message, position) = match error {
        SqlError::Statement { message, position } => (statement_code(message), message.clone(), *position),
        SqlError::SignIn(_) => ("28000", error.to_string(), None),
        SqlError::Source(_) => ("58000", error.to_string(), None),
        SqlError::ConnectionString(_) | SqlError::Startup(_) => ("XX000", error.to_string(), None),
    };
    let mut info = ErrorInfo::new("ERROR".into(), code.into(), message);
    info.position = position
        .and_then(|at| text.get(..start.saturating_add(at)))
        .map(|before| (before.chars().count() + 1).to_string());
    info
}

/// The SQLSTATE of a statement SQLite or a table refused, from SQLite's message.
fn statement_code(message: &str) -> &'static str {
    if message.contains("syntax error")
        || message.contains("incomplete input")
        || message.contains("unrecognized token")
    {
        "42601"
    } else if message.starts_with("no such table") {
        "42P01"
    } else if message.starts_with("no such column") {
        "42703"
    } else if message.starts_with("no such function") || message.starts_with("wrong number of arguments") {
        "42883"
    } else {
        "42000"
    }
}

/// [`error_info`] as a handler's error.
pub(crate) fn sql_error(error: &SqlError, text: &str, start: usize) -> PgWireError {
    PgWireError::UserError(Box::new(error_info(error, text, start)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn booleans_and_special_floats_read_as_postgresql_writes_them() {
        assert_eq!(text_of(&Cell::Integer(1), ColumnKind::Boolean).as_deref(), Some("t"));
        assert_eq!(text_of(&Cell::Integer(0), ColumnKind::Boolean).as_deref(), Some("f"));
        assert_eq!(text_of(&Cell::Real(f64::NEG_INFINITY), ColumnKind::Real).as_deref(), Some("-Infinity"));
        assert_eq!(text_of(&Cell::Blob(vec![1, 171]), ColumnKind::Blob).as_deref(), Some("\\x01ab"));
        assert_eq!(text_of(&Cell::Null, ColumnKind::Text), None);
    }

    #[test]
    fn parameters_follow_the_declared_types_and_refuse_bad_input() {
        let values = [Some(Bytes::from_static(b"7")), Some(Bytes::from_static(b"x")), None];
        let cells = parameters(&values, &Format::UnifiedText, &[Some(Type::INT2), None, None]).unwrap();
        assert_eq!(cells, [Cell::Integer(7), Cell::Text("x".into()), Cell::Null]);
        assert!(parameters(&values[1..2], &Format::UnifiedText, &[Some(Type::INT8)]).is_err());
        let binary = [Some(Bytes::from_static(&[0, 0, 0, 5]))];
        // Fewer format codes than parameters: the rest are text (and these bytes are no text int4).
        assert!(parameters(&binary, &Format::Individual(vec![]), &[Some(Type::INT4)]).is_err());
        let cells = parameters(&binary, &Format::UnifiedBinary, &[Some(Type::INT4)]).unwrap();
        assert_eq!(cells, [Cell::Integer(5)]);
        assert!(parameters(&binary, &Format::UnifiedBinary, &[Some(Type::INT8)]).is_err());
    }

    #[test]
    fn sqlite_errors_get_their_sqlstate_and_a_character_position() {
        let error = SqlError::Statement { message: "near \"selec\": syntax error".into(), position: Some(0) };
        let info = error_info(&error, "select 'é'; selec 1", 13);
        assert_eq!((info.code.as_str(), info.position.as_deref()), ("42601", Some("13")));
        let error = SqlError::Statement { message: "no such table: nothing".into(), position: None };
        assert_eq!(error_info(&error, "", 0).code, "42P01");
    }
}
