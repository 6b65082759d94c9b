//! Records as the instance wants them: only the fields the client named, and without null fields
//! unless `filter.response.nulls` is false (the platforms dropped them by default).

use serde_json::{Map, Value};

/// `record` with only `fields` (when some are named) and, if `drop_nulls`, no null field.
pub fn shape(mut record: Map<String, Value>, drop_nulls: bool, fields: Option<&[String]>) -> Value {
    if let Some(fields) = fields {
        record.retain(|name, _| fields.iter().any(|wanted| wanted.eq_ignore_ascii_case(name)));
    }
    if drop_nulls {
        record.retain(|_, value| !value.is_null());
    }
    Value::Object(record)
}
