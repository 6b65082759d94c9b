//! An export's records as the result's two formats: JSON lines, and CSV (RFC 4180, a header row,
//! nested fields flattened with dots and array positions as the hub writes paths, `address.city`,
//! `emails[0].value`). A step renders its page once, in both, and the store keeps both, so a
//! download (or a `Range` of one) is a read of stored text.

use serde_json::{Map, Value};
use store::ResultChunk;

/// The CSV header of `columns`, with its line end.
pub fn csv_header(columns: &[String]) -> String {
    let mut line = String::new();
    for (index, column) in columns.iter().enumerate() {
        if index > 0 {
            line.push(',');
        }
        push_cell(&mut line, column);
    }
    line.push_str("\r\n");
    line
}

/// `records` as one chunk of both formats; CSV cells follow `columns`.
pub fn render(records: &[Map<String, Value>], columns: &[String]) -> ResultChunk {
    let mut chunk = ResultChunk { records: records.len() as u64, ..ResultChunk::default() };
    for record in records {
        // Serializing a map of JSON values cannot fail.
        chunk.json.push_str(&serde_json::to_string(record).unwrap_or_default());
        chunk.json.push('\n');
        let flat = flatten(record);
        for (index, column) in columns.iter().enumerate() {
            if index > 0 {
                chunk.csv.push(',');
            }
            if let Some(value) = flat.get(column.as_str()) {
                push_cell(&mut chunk.csv, &cell_text(value));
            }
        }
        chunk.csv.push_str("\r\n");
    }
    chunk
}

/// The leaves of `record` under their paths.
pub fn flatten(record: &Map<String, Value>) -> Map<String, Value> {
    let mut flat = Map::new();
    for (key, value) in record {
        flatten_into(&mut flat, key.clone(), value);
    }
    flat
}

fn flatten_into(flat: &mut Map<String, Value>, path: String, value: &Value) {
    match value {
        Value::Object(fields) if !fields.is_empty() => {
            for (key, value) in fields {
                flatten_into(flat, format!("{path}.{key}"), value);
            }
        }
        Value::Array(items) if !items.is_empty() => {
            for (index, value) in items.iter().enumerate() {
                flatten_into(flat, format!("{path}[{index}]"), value);
            }
        }
        _ => {
            flat.insert(path, value.clone());
        }
    }
}

/// A leaf as a CSV cell: text as it is, null as nothing, anything else as JSON.
fn cell_text(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// Appends `text` as one CSV field, quoted when it holds a comma, a quote or a line break (and
/// when it starts with a character spreadsheets run as a formula: `=`, `+`, `-`, `@`, which a
/// quote alone does not stop, so those get a leading `'` as OWASP advises).
fn push_cell(line: &mut String, text: &str) {
    let formula = text.starts_with(['=', '+', '@']) || (text.starts_with('-') && text.parse::<f64>().is_err());
    let text = if formula { format!("'{text}") } else { text.to_string() };
    if text.contains([',', '"', '\r', '\n']) {
        line.push('"');
        line.push_str(&text.replace('"', "\"\""));
        line.push('"');
    } else {
        line.push_str(&text);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn record(value: Value) -> Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    #[test]
    fn both_formats_hold_the_same_records() {
        let records = [record(json!({"Id": 1, "Email": "a@x.com", "Informed": true})), record(json!({"Id": 2}))];
        let columns = ["Id".to_string(), "Email".to_string(), "Informed".to_string()];
        let chunk = render(&records, &columns);
        assert_eq!(chunk.records, 2);
        assert_eq!(chunk.json, "{\"Email\":\"a@x.com\",\"Id\":1,\"Informed\":true}\n{\"Id\":2}\n");
        assert_eq!(chunk.csv, "1,a@x.com,true\r\n2,,\r\n");
        assert_eq!(csv_header(&columns), "Id,Email,Informed\r\n");
    }

    #[test]
    fn csv_cells_are_quoted_and_formulas_defused() {
        let records = [record(json!({"a": "x,\"y\"\nz", "b": "=HYPERLINK(1)", "c": -3, "d": "-x"}))];
        let columns: Vec<String> = ["a", "b", "c", "d"].iter().map(|c| c.to_string()).collect();
        assert_eq!(render(&records, &columns).csv, "\"x,\"\"y\"\"\nz\",'=HYPERLINK(1),-3,'-x\r\n");
    }

    #[test]
    fn nested_fields_flatten_to_paths() {
        let flat = flatten(&record(json!({"address": {"city": "Oslo"}, "emails": [{"value": "a@x"}], "tags": []})));
        assert_eq!(flat, record(json!({"address.city": "Oslo", "emails[0].value": "a@x", "tags": []})));
    }
}
