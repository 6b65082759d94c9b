//! Vendor → hub: a vendor record becomes the hub record of its object definition, every field
//! present (`null` where the vendor has nothing), values converted to the hub type (the
//! vendor's string ids become numbers, calendar dates and offset times become UTC date-times),
//! then, for a common resource's field, to the common type ([`crate::Conversion::to_common`]).

use serde_json::{Map, Value};

use crate::definition::{FieldDef, FieldType, ObjectDef};

/// The hub record for the vendor record `vendor`.
pub fn to_hub(object: &ObjectDef, vendor: &Value) -> Map<String, Value> {
    // In name order, the order the map keeps them in: collecting then finds them sorted already.
    let in_order = object.fields_by_name();
    in_order.iter().map(|&at| &object.fields[at]).map(|field| (field.name.clone(), hub_value(field, vendor))).collect()
}

/// The value of `field` in the vendor record `vendor`: of the hub field's type, then converted to
/// the field's own type when it carries a conversion.
pub fn hub_value(field: &FieldDef, vendor: &Value) -> Value {
    field.path.get(vendor).map_or(Value::Null, |value| hub_value_of(field, value))
}

/// The hub value of `field` whose vendor value, found at its path, is `value`.
pub fn hub_value_of(field: &FieldDef, value: &Value) -> Value {
    if value.is_null() {
        return Value::Null;
    }
    let hub = match &field.money {
        Some(money) => money.to_hub(value),
        None => convert(field.hub_type(), value),
    };
    match &field.conversion {
        Some(conversion) => conversion.to_common(field.field_type, hub),
        None => hub,
    }
}

/// `value` as `field_type`; a value that cannot be read as that type is kept as the vendor sent it
/// (clients see the data rather than a silent null).
fn convert(field_type: FieldType, value: &Value) -> Value {
    match (field_type, value) {
        (FieldType::Number, Value::String(text)) => crate::conversion::number(text).unwrap_or_else(|| value.clone()),
        (FieldType::Boolean, Value::String(text)) => match text.to_ascii_lowercase().as_str() {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            _ => value.clone(),
        },
        (FieldType::String, Value::Number(number)) => Value::String(number.to_string()),
        (FieldType::String, Value::Bool(flag)) => Value::String(flag.to_string()),
        (FieldType::Date, Value::String(text)) => utc(text).map_or_else(|| value.clone(), Value::String),
        _ => value.clone(),
    }
}

/// An ISO 8601 date-time or calendar date as a UTC date-time (`2026-03-04T00:00:00Z`), the one
/// form the hub shows dates in; `None` when `text` is neither.
pub(crate) fn utc(text: &str) -> Option<String> {
    let text = text.trim();
    if let Ok(instant) = chrono::DateTime::parse_from_rfc3339(text) {
        // Already UTC: kept as the vendor wrote it (its precision included).
        if text.ends_with('Z') {
            return Some(text.to_string());
        }
        let instant = instant.with_timezone(&chrono::Utc);
        return Some(instant.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true));
    }
    let date = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()?;
    Some(format!("{date}T00:00:00Z"))
}
