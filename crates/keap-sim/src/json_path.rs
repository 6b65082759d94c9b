//! Reading fields out of vendor records by a small path syntax, shared by v2 filters and ordering:
//! `given_name`, `company.id`, `email_addresses[*].email` (any element) and
//! `email_addresses[field=EMAIL1].email` (the element whose `field` is `EMAIL1`).

use serde_json::Value;

/// Every value at `path` in `record` (several when the path crosses an array with `[*]`).
pub fn values_at<'a>(record: &'a Value, path: &str) -> Vec<&'a Value> {
    let mut current = vec![record];
    for step in path.split('.') {
        let (key, selector) = match step.split_once('[') {
            Some((key, rest)) => (key, Some(rest.trim_end_matches(']'))),
            None => (step, None),
        };
        current = current.into_iter().filter_map(|v| v.get(key)).flat_map(|v| select(v, selector)).collect();
    }
    current.retain(|v| !v.is_null());
    current
}

fn select<'a>(value: &'a Value, selector: Option<&str>) -> Vec<&'a Value> {
    let Some(selector) = selector else { return vec![value] };
    let Some(items) = value.as_array() else { return Vec::new() };
    match selector.split_once('=') {
        None => items.iter().collect(),
        Some((field, wanted)) => {
            items.iter().filter(|item| item.get(field).and_then(Value::as_str) == Some(wanted)).collect()
        }
    }
}

/// The first value at `path` rendered as text (strings as-is, numbers and booleans printed).
pub fn text_at(record: &Value, path: &str) -> Option<String> {
    values_at(record, path).into_iter().find_map(as_text)
}

/// A scalar as text; `None` for objects, arrays and null.
pub fn as_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn selects_array_elements_by_field() {
        let contact = json!({"email_addresses": [
            {"email": "a@x.com", "field": "EMAIL2"}, {"email": "b@x.com", "field": "EMAIL1"}]});
        assert_eq!(text_at(&contact, "email_addresses[field=EMAIL1].email").as_deref(), Some("b@x.com"));
        assert_eq!(values_at(&contact, "email_addresses[*].email").len(), 2);
        assert!(values_at(&contact, "phone_numbers[*].number").is_empty());
        assert_eq!(text_at(&json!({"company": {"id": "7"}}), "company.id").as_deref(), Some("7"));
    }
}
