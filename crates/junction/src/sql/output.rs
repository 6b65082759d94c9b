//! How `junction sql` prints a query's rows: an aligned text table, CSV, one JSON array, or JSON
//! lines. Values are typed by their column's declared kind (the driver's `Cell::to_json` and
//! `Cell::to_text`): numbers as numbers, booleans as `true`/`false`, NULL as `null` (JSON) or an
//! empty field (CSV, table).
//!
//! JSON objects are written by hand, key by key, so that their keys keep the columns' order
//! (`serde_json`'s map sorts them) and stay distinct when two columns share a name (a join's
//! `select *`): a repeated name gets `_2`, `_3`, … .

use std::io::{self, Write};

use ::sql::{Cell, ColumnKind, Rows};
use unicode_width::UnicodeWidthStr;

/// `--format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Aligned columns with a header and a row count, for people.
    Table,
    /// RFC 4180 (CRLF line ends, quotes where needed) with a header row.
    Csv,
    /// One JSON array of objects keyed by column name.
    Json,
    /// One JSON object per line.
    Jsonl,
}

impl Format {
    /// Whether the output is for programs: then everything that is not data (a write's count of
    /// affected rows) goes to stderr, so that stdout parses.
    pub fn is_machine_readable(self) -> bool {
        self != Format::Table
    }
}

/// Writes `rows` to `out` in `format`.
pub fn write_rows(out: &mut impl Write, format: Format, rows: &Rows) -> io::Result<()> {
    match format {
        Format::Table => write_table(out, rows),
        Format::Csv => write_csv(out, rows),
        Format::Json => write_json(out, rows),
        Format::Jsonl => write_jsonl(out, rows),
    }
}

/// What a write reports: `1 row affected`, `3 rows affected`.
pub fn affected(count: usize) -> String {
    format!("{count} row{} affected", if count == 1 { "" } else { "s" })
}

fn write_table(out: &mut impl Write, rows: &Rows) -> io::Result<()> {
    let texts: Vec<Vec<String>> = rows
        .rows
        .iter()
        .map(|row| row.iter().zip(&rows.columns).map(|(cell, column)| shown(cell, column.kind)).collect())
        .collect();
    let widths: Vec<usize> = rows
        .columns
        .iter()
        .enumerate()
        .map(|(index, column)| texts.iter().map(|row| row[index].width()).fold(column.name.width(), usize::max))
        .collect();
    let header: Vec<String> = rows
        .columns
        .iter()
        .zip(&widths)
        .map(|(column, &width)| pad(&column.name, width, matches!(column.kind, ColumnKind::Integer | ColumnKind::Real)))
        .collect();
    writeln!(out, "{}", header.join(" | ").trim_end())?;
    let rule: Vec<String> = widths.iter().map(|&width| "-".repeat(width)).collect();
    writeln!(out, "{}", rule.join("-+-"))?;
    for (row, text) in rows.rows.iter().zip(&texts) {
        let cells: Vec<String> = row
            .iter()
            .zip(text)
            .zip(&rows.columns)
            .zip(&widths)
            .map(|(((cell, text), column), &width)| pad(text, width, is_number(cell, column.kind)))
            .collect();
        writeln!(out, "{}", cells.join(" | ").trim_end())?;
    }
    let count = rows.rows.len();
    writeln!(out, "({count} row{})", if count == 1 { "" } else { "s" })
}

/// A cell as the table shows it: on one line (line breaks and tabs escaped, as psql and the
/// sqlite3 shell would otherwise break the grid), NULL as nothing.
fn shown(cell: &Cell, kind: ColumnKind) -> String {
    let text = cell.to_text(kind).unwrap_or_default();
    if !text.contains(['\n', '\r', '\t']) {
        return text;
    }
    text.replace('\\', "\\\\").replace('\n', "\\n").replace('\r', "\\r").replace('\t', "\\t")
}

/// Numbers are right-aligned, so that their digits line up (and so are the headers of numeric
/// columns, to sit over them).
fn is_number(cell: &Cell, kind: ColumnKind) -> bool {
    matches!(cell, Cell::Integer(_) | Cell::Real(_)) && kind != ColumnKind::Boolean
}

fn pad(text: &str, width: usize, right: bool) -> String {
    let fill = " ".repeat(width.saturating_sub(text.width()));
    if right {
        format!("{fill}{text}")
    } else {
        format!("{text}{fill}")
    }
}

fn write_csv(out: &mut impl Write, rows: &Rows) -> io::Result<()> {
    let mut writer = csv::WriterBuilder::new().terminator(csv::Terminator::CRLF).from_writer(out);
    writer.write_record(rows.columns.iter().map(|column| column.name.as_str()))?;
    for row in &rows.rows {
        let fields = row.iter().zip(&rows.columns).map(|(cell, column)| cell.to_text(column.kind).unwrap_or_default());
        writer.write_record(fields)?;
    }
    writer.flush()
}

fn write_json(out: &mut impl Write, rows: &Rows) -> io::Result<()> {
    let keys = object_keys(rows);
    if rows.rows.is_empty() {
        return writeln!(out, "[]");
    }
    writeln!(out, "[")?;
    for (index, row) in rows.rows.iter().enumerate() {
        let separator = if index + 1 < rows.rows.len() { "," } else { "" };
        writeln!(out, "{}{separator}", json_object(&keys, rows, row))?;
    }
    writeln!(out, "]")
}

fn write_jsonl(out: &mut impl Write, rows: &Rows) -> io::Result<()> {
    let keys = object_keys(rows);
    for row in &rows.rows {
        writeln!(out, "{}", json_object(&keys, rows, row))?;
    }
    Ok(())
}

/// The JSON keys of the columns, already quoted: their names, made distinct.
fn object_keys(rows: &Rows) -> Vec<String> {
    let mut keys: Vec<String> = Vec::with_capacity(rows.columns.len());
    for column in &rows.columns {
        let mut key = column.name.clone();
        let mut suffix = 2;
        while keys.contains(&key) {
            key = format!("{}_{suffix}", column.name);
            suffix += 1;
        }
        keys.push(key);
    }
    keys.into_iter().map(|key| serde_json::Value::String(key).to_string()).collect()
}

fn json_object(keys: &[String], rows: &Rows, row: &[Cell]) -> String {
    let members: Vec<String> = keys
        .iter()
        .zip(row.iter().zip(&rows.columns))
        .map(|(key, (cell, column))| format!("{key}:{}", cell.to_json(column.kind)))
        .collect();
    format!("{{{}}}", members.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ::sql::Column;

    fn sample() -> Rows {
        let column = |name: &str, kind| Column { name: name.into(), kind };
        Rows {
            columns: vec![
                column("Id", ColumnKind::Integer),
                column("Name", ColumnKind::Text),
                column("Active", ColumnKind::Boolean),
                column("Id", ColumnKind::Real),
            ],
            rows: vec![
                vec![Cell::Integer(7), Cell::Text("Zoë, \"Z\"".into()), Cell::Integer(1), Cell::Real(2.5)],
                vec![Cell::Integer(12), Cell::Null, Cell::Integer(0), Cell::Null],
            ],
        }
    }

    fn printed(format: Format, rows: &Rows) -> String {
        let mut out = Vec::new();
        write_rows(&mut out, format, rows).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn table_aligns_columns_by_display_width_and_numbers_right() {
        let expected = "\
Id | Name     | Active |  Id
---+----------+--------+----
 7 | Zoë, \"Z\" | true   | 2.5
12 |          | false  |
(2 rows)
";
        assert_eq!(printed(Format::Table, &sample()), expected);
    }

    #[test]
    fn table_keeps_each_row_on_one_line() {
        let rows = Rows {
            columns: vec![Column { name: "Notes".into(), kind: ColumnKind::Text }],
            rows: vec![vec![Cell::Text("a\nb\\c".into())]],
        };
        assert_eq!(printed(Format::Table, &rows), "Notes\n-------\na\\nb\\\\c\n(1 row)\n");
    }

    #[test]
    fn csv_quotes_per_rfc_4180_with_a_header_and_empty_nulls() {
        let expected = "Id,Name,Active,Id\r\n7,\"Zoë, \"\"Z\"\"\",true,2.5\r\n12,,false,\r\n";
        assert_eq!(printed(Format::Csv, &sample()), expected);
    }

    #[test]
    fn json_is_one_array_of_typed_objects_in_column_order() {
        let expected = "[\n\
{\"Id\":7,\"Name\":\"Zoë, \\\"Z\\\"\",\"Active\":true,\"Id_2\":2.5},\n\
{\"Id\":12,\"Name\":null,\"Active\":false,\"Id_2\":null}\n\
]\n";
        assert_eq!(printed(Format::Json, &sample()), expected);
        assert_eq!(printed(Format::Json, &Rows { columns: sample().columns, rows: vec![] }), "[]\n");
    }

    #[test]
    fn jsonl_is_one_object_per_line() {
        let text = printed(Format::Jsonl, &sample());
        let lines: Vec<serde_json::Value> = text.lines().map(|line| serde_json::from_str(line).unwrap()).collect();
        assert_eq!(lines[1], serde_json::json!({"Id": 12, "Name": null, "Active": false, "Id_2": null}));
    }
}
