//! Vendor → hub: a vendor record becomes the hub record of its object definition, every field
//! present (`null` where the vendor has nothing), values converted to the hub type (the
//! vendor's string ids become numbers).

use serde_json::{Map, Number, Value};

use crate::definition::{FieldDef, FieldType, ObjectDef};

/// The hub record for the vendor record `vendor`.
pub fn to_hub(object: &ObjectDef, vendor: &Value) -> Map<String, Value> {
    object.fields.iter().map(|field| (field.name.clone(), hub_value(field, vendor))).collect()
}

/// The hub value of `field` in the vendor record `vendor`.
pub fn hub_value(field: &FieldDef, vendor: &Value) -> Value {
    match field.path.get(vendor) {
        None | Some(Value::Null) => Value::Null,
        Some(value) => convert(field.field_type, value),
    }
}

/// `value` as `field_type`; a value that cannot be read as that type is kept as the vendor sent it
/// (clients see the data rather than a silent null).
fn convert(field_type: FieldType, value: &Value) -> Value {
    match (field_type, value) {
        (FieldType::Number, Value::String(text)) => number(text).unwrap_or_else(|| value.clone()),
        (FieldType::Boolean, Value::String(text)) => match text.to_ascii_lowercase().as_str() {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            _ => value.clone(),
        },
        (FieldType::String, Value::Number(number)) => Value::String(number.to_string()),
        (FieldType::String, Value::Bool(flag)) => Value::String(flag.to_string()),
        _ => value.clone(),
    }
}

/// A JSON number from text: an integer when it is one, else a finite decimal.
pub(crate) fn number(text: &str) -> Option<Value> {
    let text = text.trim();
    if let Ok(integer) = text.parse::<i64>() {
        return Some(Value::Number(integer.into()));
    }
    text.parse::<f64>().ok().and_then(Number::from_f64).map(Value::Number)
}
