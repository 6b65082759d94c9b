//! An upload's file: received in parts ([`UploadWriter`], never whole in memory), checked in full
//! before the job is queued ([`check_file`]: nothing reaches the vendor from a malformed file),
//! read back a few rows at a time from any byte position ([`read_rows`]), and each row turned into
//! a hub body ([`row_body`]).
//!
//! Every part but the last is exactly [`PART_SIZE`] bytes, so a byte position names its part by
//! division. A row is taken only when the bytes after it show it ended (or the file did), so a row
//! split across parts is read whole.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use store::{BulkRowError, Store};

use super::BulkError;
use mapping::{FieldType, ObjectDef};

/// Bytes per stored part of a file.
pub const PART_SIZE: usize = 1024 * 1024;
/// The longest row (one CSV record, one JSON line).
pub const MAX_ROW_BYTES: usize = 4 * PART_SIZE;
/// The most columns a CSV header may have.
pub const MAX_COLUMNS: usize = 1000;
/// Rows read per batch by [`check_file`]: enough that a part (about 10,000 short rows) is rarely
/// read twice, few enough that a batch of wide rows stays tens of megabytes.
const CHECK_BATCH: usize = 20_000;

/// How a file's rows are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FileFormat {
    /// RFC 4180 with a header row naming the fields.
    Csv,
    /// One JSON object per line; blank lines are skipped.
    Jsonl,
}

impl FileFormat {
    /// The format a part's media type or file name says, if either does.
    pub fn declared(content_type: Option<&str>, file_name: Option<&str>) -> Option<Self> {
        let media = content_type.map(|value| value.split(';').next().unwrap_or("").trim().to_ascii_lowercase());
        match media.as_deref() {
            Some("text/csv" | "application/csv") => return Some(Self::Csv),
            Some("application/x-ndjson" | "application/jsonl" | "application/json" | "application/x-jsonlines") => {
                return Some(Self::Jsonl)
            }
            _ => {}
        }
        let extension = file_name?.rsplit_once('.')?.1.to_ascii_lowercase();
        match extension.as_str() {
            "csv" => Some(Self::Csv),
            "jsonl" | "ndjson" | "json" => Some(Self::Jsonl),
            _ => None,
        }
    }

    /// The format of a file starting with `head`: JSON lines when its first non-blank byte opens an
    /// object, CSV otherwise.
    pub fn sniffed(head: &[u8]) -> Self {
        match head.iter().find(|byte| !byte.is_ascii_whitespace()) {
            Some(b'{') => Self::Jsonl,
            _ => Self::Csv,
        }
    }
}

/// Where the next row of a file starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct FilePosition {
    /// Its byte offset in the file.
    pub offset: u64,
    /// Data rows before it (the CSV header is not one).
    pub row: u64,
}

/// One data row: its 1-based number, and its values by column (CSV) or as the line's object.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub number: u64,
    pub values: Map<String, Value>,
    /// The byte offset just after it.
    pub end_offset: u64,
}

/// Rows read from a position.
#[derive(Debug, Clone, PartialEq)]
pub struct Rows {
    pub rows: Vec<Row>,
    /// Where the row after the last one starts.
    pub next: FilePosition,
    /// No row is left after these.
    pub end: bool,
}

/// Receives a file's bytes as they arrive and stores them in parts.
pub struct UploadWriter<'a> {
    store: &'a dyn Store,
    job_id: i64,
    limit: u64,
    buffer: Vec<u8>,
    parts: i64,
    received: u64,
}

impl<'a> UploadWriter<'a> {
    pub fn new(store: &'a dyn Store, job_id: i64, limit: u64) -> Self {
        UploadWriter { store, job_id, limit, buffer: Vec::with_capacity(PART_SIZE), parts: 0, received: 0 }
    }

    /// Takes the next bytes; past the size limit, [`BulkError::TooLarge`].
    pub async fn write(&mut self, mut data: &[u8]) -> Result<(), BulkError> {
        self.received += data.len() as u64;
        if self.received > self.limit {
            return Err(BulkError::TooLarge(self.limit));
        }
        while !data.is_empty() {
            let room = PART_SIZE - self.buffer.len();
            let (now, rest) = data.split_at(room.min(data.len()));
            self.buffer.extend_from_slice(now);
            data = rest;
            if self.buffer.len() == PART_SIZE {
                self.flush().await?;
            }
        }
        Ok(())
    }

    /// Stores what is left; returns the file's size.
    pub async fn finish(mut self) -> Result<u64, BulkError> {
        if !self.buffer.is_empty() {
            self.flush().await?;
        }
        Ok(self.received)
    }

    async fn flush(&mut self) -> Result<(), BulkError> {
        self.store.put_bulk_file_part(self.job_id, self.parts, &self.buffer).await?;
        self.parts += 1;
        self.buffer.clear();
        Ok(())
    }
}

/// What a checked file holds: its format's header (CSV: the columns as the object names them),
/// where its first data row starts, and how many data rows there are.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckedFile {
    pub header: Option<Vec<String>>,
    pub start: FilePosition,
    pub rows: u64,
}

/// Reads the whole file of job `job_id` once: the header must name fields of `definition` (CSV),
/// every row must parse (same column count as the header; a JSON object per line), and there must
/// be at least one data row. The error names the row and what is wrong.
pub async fn check_file(
    store: &dyn Store,
    job_id: i64,
    format: FileFormat,
    definition: &ObjectDef,
) -> Result<CheckedFile, BulkError> {
    let (header, start) = match format {
        FileFormat::Csv => {
            let (columns, start) = read_header(store, job_id).await?;
            (Some(canonical_columns(&columns, definition)?), start)
        }
        FileFormat::Jsonl => (None, FilePosition::default()),
    };
    let mut position = start;
    loop {
        let batch = read_rows(store, job_id, format, header.as_deref(), position, CHECK_BATCH).await?;
        position = batch.next;
        if batch.end {
            break;
        }
    }
    if position.row == 0 {
        return Err(BulkError::BadFile("the file has no data rows".into()));
    }
    Ok(CheckedFile { header, start, rows: position.row })
}

/// The CSV header's columns and where the data starts.
async fn read_header(store: &dyn Store, job_id: i64) -> Result<(Vec<String>, FilePosition), BulkError> {
    let (records, _) = read_records(store, job_id, FileFormat::Csv, 0, 1).await?;
    let Some((bytes, end)) = records.into_iter().next() else {
        return Err(BulkError::BadFile("the file is empty: a CSV upload starts with a header row".into()));
    };
    let record = csv_record(&bytes, 0)?;
    if record.len() > MAX_COLUMNS {
        return Err(BulkError::BadFile(format!("the header has {} columns; at most {MAX_COLUMNS}", record.len())));
    }
    let columns: Vec<String> =
        record.iter().map(|name| name.trim().trim_start_matches('\u{feff}').to_string()).collect();
    Ok((columns, FilePosition { offset: end, row: 0 }))
}

/// The header's names as the object spells them; an empty, unknown or repeated name is an error.
fn canonical_columns(columns: &[String], definition: &ObjectDef) -> Result<Vec<String>, BulkError> {
    let mut canonical: Vec<String> = Vec::with_capacity(columns.len());
    for (index, name) in columns.iter().enumerate() {
        if name.is_empty() {
            return Err(BulkError::BadFile(format!("column {} of the header has no name", index + 1)));
        }
        let Some(field) = definition.field(name) else {
            let shown: String = name.chars().take(64).collect();
            return Err(BulkError::BadFile(format!("the header names '{shown}', which is not a field of the object")));
        };
        if canonical.contains(&field.name) {
            return Err(BulkError::BadFile(format!("the header names '{}' twice", field.name)));
        }
        canonical.push(field.name.clone());
    }
    Ok(canonical)
}

/// Up to `max` data rows from `from`.
pub async fn read_rows(
    store: &dyn Store,
    job_id: i64,
    format: FileFormat,
    header: Option<&[String]>,
    from: FilePosition,
    max: usize,
) -> Result<Rows, BulkError> {
    let (records, end) = read_records(store, job_id, format, from.offset, max).await?;
    let mut next = from;
    let mut rows = Vec::with_capacity(records.len());
    for (bytes, record_end) in records {
        next.offset = record_end;
        let number = next.row + 1;
        let values = match format {
            FileFormat::Csv => {
                let header = header.unwrap_or_default();
                let record = csv_record(&bytes, number)?;
                if record.len() == 1 && record.get(0) == Some("") {
                    continue;
                }
                if record.len() != header.len() {
                    return Err(BulkError::BadFile(format!(
                        "row {number} has {} fields; the header has {}",
                        record.len(),
                        header.len()
                    )));
                }
                header.iter().cloned().zip(record.iter().map(|cell| Value::String(cell.to_string()))).collect()
            }
            FileFormat::Jsonl => {
                let line = text_of(&bytes, number)?;
                if line.trim().is_empty() {
                    continue;
                }
                match serde_json::from_str::<Value>(line) {
                    Ok(Value::Object(values)) => values,
                    Ok(_) => return Err(BulkError::BadFile(format!("row {number} is JSON but not an object"))),
                    Err(error) => {
                        return Err(BulkError::BadFile(format!("row {number} is not JSON: {error}")));
                    }
                }
            }
        };
        next.row = number;
        rows.push(Row { number, values, end_offset: record_end });
    }
    Ok(Rows { rows, next, end })
}

/// Up to `max` raw records (bytes, and the offset after each) from `offset`, and whether the file
/// ends after them. A record is one CSV record (quoted line breaks included) or one line.
async fn read_records(
    store: &dyn Store,
    job_id: i64,
    format: FileFormat,
    offset: u64,
    max: usize,
) -> Result<(Vec<(Vec<u8>, u64)>, bool), BulkError> {
    let part_size = PART_SIZE as u64;
    let mut next_part = i64::try_from(offset / part_size).unwrap_or(i64::MAX);
    let mut buffer: Vec<u8> = Vec::new();
    let mut skip = usize::try_from(offset % part_size).unwrap_or(0);
    let mut eof = false;
    loop {
        if !eof {
            let parts = store.bulk_file_parts(job_id, next_part, 1).await?;
            match parts.into_iter().next() {
                Some((seq, data)) if seq == next_part => {
                    buffer.extend_from_slice(&data[skip.min(data.len())..]);
                    skip = 0;
                    next_part += 1;
                    eof = data.len() < PART_SIZE;
                }
                _ => eof = true,
            }
        }
        let ends = record_ends(&buffer, format, eof, max);
        if ends.len() >= max || eof {
            let mut records = Vec::with_capacity(ends.len());
            let mut start = 0;
            for end in &ends {
                records.push((buffer[start..*end].to_vec(), offset + *end as u64));
                start = *end;
            }
            let end = eof && start == buffer.len();
            return Ok((records, end));
        }
        if ends.is_empty() && buffer.len() > MAX_ROW_BYTES {
            return Err(BulkError::BadFile(format!(
                "a row longer than {} MB starts at byte {offset} (is it a text file?)",
                MAX_ROW_BYTES / PART_SIZE
            )));
        }
    }
}

/// The offsets in `buffer` where its first `max` complete records end. A record that runs to the
/// end of the buffer counts only at the end of the file: more bytes may belong to it.
fn record_ends(buffer: &[u8], format: FileFormat, eof: bool, max: usize) -> Vec<usize> {
    let mut ends = Vec::new();
    match format {
        FileFormat::Jsonl => {
            let mut start = 0;
            while ends.len() < max && start < buffer.len() {
                match buffer[start..].iter().position(|byte| *byte == b'\n') {
                    Some(at) => {
                        start += at + 1;
                        ends.push(start);
                    }
                    None if eof => {
                        ends.push(buffer.len());
                        start = buffer.len();
                    }
                    None => break,
                }
            }
        }
        FileFormat::Csv => {
            let mut reader = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(buffer);
            let mut record = csv::ByteRecord::new();
            while ends.len() < max {
                match reader.read_byte_record(&mut record) {
                    Ok(true) => {
                        let mut end = usize::try_from(reader.position().byte()).unwrap_or(buffer.len());
                        // The reader stops after the `\r` of a `\r\n`; the `\n` belongs to this record.
                        if end > 0 && buffer[end - 1] == b'\r' && buffer.get(end) == Some(&b'\n') {
                            end += 1;
                        }
                        if end >= buffer.len() && !eof {
                            break;
                        }
                        ends.push(end.min(buffer.len()));
                    }
                    // A byte record never fails on content; end of input or an I/O error ends it.
                    Ok(false) | Err(_) => break,
                }
            }
        }
    }
    ends
}

/// One CSV record's fields as text.
fn csv_record(bytes: &[u8], number: u64) -> Result<csv::StringRecord, BulkError> {
    text_of(bytes, number)?;
    let mut reader = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(bytes);
    let mut record = csv::StringRecord::new();
    match reader.read_record(&mut record) {
        Ok(_) => Ok(record),
        Err(error) => Err(BulkError::BadFile(format!("row {number} is not valid CSV: {error}"))),
    }
}

/// A record's bytes as text: UTF-8 without NUL bytes (a binary file has them).
fn text_of(bytes: &[u8], number: u64) -> Result<&str, BulkError> {
    let what = if number == 0 { "the header".to_string() } else { format!("row {number}") };
    if bytes.contains(&0) {
        return Err(BulkError::BadFile(format!("{what} holds a NUL byte: the file is binary, not CSV or JSON lines")));
    }
    std::str::from_utf8(bytes).map_err(|_| BulkError::BadFile(format!("{what} is not UTF-8 text")))
}

/// The hub body of `row` for `definition`: CSV cells typed as their fields (an empty cell writes
/// nothing; a cell that does not parse as its type is passed on for the hub to name), nested paths
/// (`address.city`) nested. A row with nothing to write is an error row.
pub fn row_body(row: &Row, definition: &ObjectDef, csv: bool) -> Result<Value, BulkRowError> {
    let error = |field: Option<&str>, message: String| BulkRowError {
        row: row.number,
        field: field.map(str::to_string),
        message,
    };
    let mut body = Map::new();
    for (name, value) in &row.values {
        let value = match (csv, value) {
            (true, Value::String(text)) if text.is_empty() => continue,
            (true, Value::String(text)) => typed(definition.field(name).map(|field| field.field_type), text),
            _ => value.clone(),
        };
        insert_path(&mut body, name, value).map_err(|message| error(Some(name), message))?;
    }
    if body.is_empty() {
        return Err(error(None, "the row has no values to write".into()));
    }
    Ok(Value::Object(body))
}

/// A CSV cell as its field's type when it parses as one.
fn typed(field_type: Option<FieldType>, text: &str) -> Value {
    match field_type {
        Some(FieldType::Number) => {
            let trimmed = text.trim();
            trimmed
                .parse::<i64>()
                .map(Value::from)
                .ok()
                .or_else(|| {
                    trimmed.parse::<f64>().ok().and_then(|n| serde_json::Number::from_f64(n).map(Value::Number))
                })
                .unwrap_or_else(|| Value::String(text.to_string()))
        }
        Some(FieldType::Boolean) => match text.trim().to_ascii_lowercase().as_str() {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            _ => Value::String(text.to_string()),
        },
        _ => Value::String(text.to_string()),
    }
}

/// Puts `value` at `path` (`a.b` nests) in `body`.
fn insert_path(body: &mut Map<String, Value>, path: &str, value: Value) -> Result<(), String> {
    match path.split_once('.') {
        None => {
            body.insert(path.to_string(), value);
            Ok(())
        }
        Some((head, rest)) => {
            let inner = body.entry(head.to_string()).or_insert_with(|| Value::Object(Map::new()));
            match inner {
                Value::Object(inner) => insert_path(inner, rest, value),
                _ => Err(format!("'{head}' is both a value and an object in this row")),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_records_that_visibly_end_are_complete_before_the_end_of_the_file() {
        let csv = b"a,b\r\n\"x\ny\",2\r\n3,4";
        assert_eq!(record_ends(csv, FileFormat::Csv, false, 10), vec![5, 14]);
        assert_eq!(record_ends(csv, FileFormat::Csv, true, 10), vec![5, 14, 17]);
        let split_in_quotes = b"a,b\n\"x\n";
        assert_eq!(record_ends(split_in_quotes, FileFormat::Csv, false, 10), vec![4]);
        let lines = b"{\"a\":1}\n{\"a\":2}";
        assert_eq!(record_ends(lines, FileFormat::Jsonl, false, 10), vec![8]);
        assert_eq!(record_ends(lines, FileFormat::Jsonl, true, 10), vec![8, 15]);
        assert_eq!(record_ends(lines, FileFormat::Jsonl, true, 1), vec![8]);
    }

    #[test]
    fn formats_are_declared_or_sniffed() {
        assert_eq!(FileFormat::declared(Some("text/csv; charset=utf-8"), None), Some(FileFormat::Csv));
        assert_eq!(FileFormat::declared(Some("application/octet-stream"), Some("x.NDJSON")), Some(FileFormat::Jsonl));
        assert_eq!(FileFormat::declared(None, Some("upload")), None);
        assert_eq!(FileFormat::sniffed(b"  {\"a\":1}"), FileFormat::Jsonl);
        assert_eq!(FileFormat::sniffed(b"Email,FirstName"), FileFormat::Csv);
    }

    #[test]
    fn cells_nest_by_path() {
        let mut body = Map::new();
        insert_path(&mut body, "address.city", Value::from("Oslo")).unwrap();
        insert_path(&mut body, "Email", Value::from("a@x")).unwrap();
        assert_eq!(Value::Object(body.clone()), serde_json::json!({"address": {"city": "Oslo"}, "Email": "a@x"}));
        assert!(insert_path(&mut body, "Email.x", Value::from(1)).is_err());
    }
}
