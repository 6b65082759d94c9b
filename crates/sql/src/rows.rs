//! What a statement answers: typed columns and rows of cells ([`Rows`]), or a count of the records
//! a write changed ([`Outcome::Affected`]). Plain data, shared by the library API, `junction sql`'s
//! output formats and the PostgreSQL-protocol endpoint.

use serde_json::Value;

/// The type of a column as the driver declares it. SQLite stores what each cell holds (a computed
/// column may hold anything); the declared type says how clients should read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnKind {
    /// Whole numbers (ids, counts).
    Integer,
    /// Numbers with a fraction (amounts, quantities).
    Real,
    Text,
    /// `true`/`false`, held by SQLite as 1/0.
    Boolean,
    /// An ISO 8601 date-time in UTC, held as text.
    DateTime,
    Blob,
    /// An expression whose type SQLite does not declare (`count(*)`, `a || b`): read the cells.
    Unknown,
}

impl ColumnKind {
    /// The type name in `CREATE TABLE` (and so SQLite's affinity for the column).
    pub fn declared(self) -> &'static str {
        match self {
            ColumnKind::Integer => "INTEGER",
            ColumnKind::Real => "REAL",
            ColumnKind::Text => "TEXT",
            ColumnKind::Boolean => "BOOLEAN",
            ColumnKind::DateTime => "DATETIME",
            ColumnKind::Blob => "BLOB",
            ColumnKind::Unknown => "",
        }
    }

    /// The kind a declared type names (what [`ColumnKind::declared`] writes, and SQLite's usual
    /// spellings); anything else is [`ColumnKind::Unknown`].
    pub fn from_declared(declared: &str) -> ColumnKind {
        match declared.to_ascii_uppercase().as_str() {
            "INTEGER" | "INT" | "BIGINT" => ColumnKind::Integer,
            "REAL" | "DOUBLE" | "FLOAT" | "NUMERIC" | "DECIMAL" => ColumnKind::Real,
            "TEXT" | "VARCHAR" | "STRING" => ColumnKind::Text,
            "BOOLEAN" | "BOOL" => ColumnKind::Boolean,
            "DATETIME" | "TIMESTAMP" => ColumnKind::DateTime,
            "BLOB" => ColumnKind::Blob,
            _ => ColumnKind::Unknown,
        }
    }

    /// The name a driver user sees in `sys_tablecolumns` (the names CData drivers use).
    pub fn type_name(self) -> &'static str {
        match self {
            ColumnKind::Integer => "long",
            ColumnKind::Real => "decimal",
            ColumnKind::Text => "string",
            ColumnKind::Boolean => "bool",
            ColumnKind::DateTime => "datetime",
            ColumnKind::Blob => "binary",
            ColumnKind::Unknown => "unknown",
        }
    }
}

/// One column of an answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    pub name: String,
    pub kind: ColumnKind,
}

/// One value, as SQLite holds it.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Null,
    Integer(i64),
    Real(f64),
    Text(String),
    Blob(Vec<u8>),
}

impl Cell {
    /// The cell as JSON, read as `kind` says: booleans as `true`/`false`, blobs as hex text.
    pub fn to_json(&self, kind: ColumnKind) -> Value {
        match (self, kind) {
            (Cell::Null, _) => Value::Null,
            (Cell::Integer(value), ColumnKind::Boolean) => Value::Bool(*value != 0),
            (Cell::Integer(value), _) => Value::from(*value),
            (Cell::Real(value), _) => serde_json::Number::from_f64(*value).map_or(Value::Null, Value::Number),
            (Cell::Text(text), _) => Value::String(text.clone()),
            (Cell::Blob(bytes), _) => Value::String(bytes.iter().map(|byte| format!("{byte:02x}")).collect()),
        }
    }

    /// The cell as text, the way PostgreSQL's text format and CSV show it (`None` for NULL).
    pub fn to_text(&self, kind: ColumnKind) -> Option<String> {
        match (self, kind) {
            (Cell::Null, _) => None,
            (Cell::Integer(value), ColumnKind::Boolean) => Some(if *value != 0 { "true" } else { "false" }.to_string()),
            (Cell::Integer(value), _) => Some(value.to_string()),
            (Cell::Real(value), _) => Some(value.to_string()),
            (Cell::Text(text), _) => Some(text.clone()),
            (Cell::Blob(bytes), _) => Some(bytes.iter().map(|byte| format!("{byte:02x}")).collect()),
        }
    }
}

/// The answer of a query: its columns, and its rows in order (each as long as `columns`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Rows {
    pub columns: Vec<Column>,
    pub rows: Vec<Vec<Cell>>,
}

/// What a statement did.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// A query (`SELECT`, `WITH`, `PRAGMA`, …) and its answer.
    Rows(Rows),
    /// A write (`INSERT`, `UPDATE`, `DELETE`, `CREATE TEMP TABLE`, …) and the rows it changed.
    Affected(usize),
}
