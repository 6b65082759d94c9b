//! The instance's own fields as clients send them: its `name` and its `tags`. One validation for
//! every way they arrive (creation, `PATCH`, re-authentication, the console's forms).

use serde_json::Value;

use crate::DomainError;

/// Longest instance name and tag, and most tags, an instance may carry.
const MAX_NAME_LEN: usize = 255;
const MAX_TAG_LEN: usize = 128;
const MAX_TAGS: usize = 100;

/// An instance name: non-empty text without control characters (PostgreSQL refuses NUL in text,
/// SQLite does not, so both are held to the stricter rule), at most 255 characters.
pub fn instance_name(value: &Value) -> Result<String, DomainError> {
    let sent = value.as_str().ok_or_else(|| invalid("name", "must be a non-empty string"))?;
    plain_text(sent, MAX_NAME_LEN).map_err(|reason| invalid("name", reason))?;
    let name = sent.trim();
    if name.is_empty() {
        return Err(invalid("name", "must be a non-empty string"));
    }
    Ok(name.to_string())
}

/// Tags as the seeds send them: strings (the platforms' older `{"name": ...}` objects too).
pub fn tags(value: Option<&Value>) -> Result<Vec<String>, DomainError> {
    let Some(value) = value.filter(|value| !value.is_null()) else { return Ok(Vec::new()) };
    let items = value.as_array().ok_or_else(|| invalid("tags", "must be an array of strings"))?;
    if items.len() > MAX_TAGS {
        return Err(invalid("tags", "may hold at most 100 tags"));
    }
    let tags = items
        .iter()
        .map(|item| match item {
            Value::String(tag) => {
                plain_text(tag, MAX_TAG_LEN).map_err(|reason| invalid("tags", reason))?;
                Ok(tag.trim().to_string())
            }
            Value::Object(object) => object
                .get("name")
                .and_then(Value::as_str)
                .map(str::to_string)
                .ok_or_else(|| invalid("tags", "must be strings")),
            _ => Err(invalid("tags", "must be an array of strings")),
        })
        .filter(|tag| tag.as_ref().map_or(true, |tag| !tag.is_empty()))
        .collect::<Result<Vec<String>, DomainError>>()?;
    for tag in &tags {
        plain_text(tag, MAX_TAG_LEN).map_err(|reason| invalid("tags", reason))?;
    }
    Ok(tags)
}

/// No control characters, and at most `max` characters as sent (before trimming: the bound the API
/// document declares as `maxLength`).
fn plain_text(text: &str, max: usize) -> Result<(), &'static str> {
    if text.chars().any(char::is_control) {
        return Err("must not contain control characters");
    }
    if text.chars().count() > max {
        return Err("is too long");
    }
    Ok(())
}

fn invalid(name: &str, reason: &str) -> DomainError {
    DomainError::InvalidParameter { name: name.into(), reason: reason.into() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names_are_trimmed_plain_text() {
        assert_eq!(instance_name(&json!("  CRM  ")).unwrap(), "CRM");
        // The bound is on the text as sent, as the API document's maxLength says.
        let padded = json!(format!("{}x", " ".repeat(255)));
        for bad in [json!(""), json!("   "), json!(7), json!("a\u{0}b"), json!("x".repeat(256)), padded] {
            assert!(instance_name(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn tags_are_strings_or_named_objects() {
        assert_eq!(tags(Some(&json!(["a", {"name": "b"}, " "]))).unwrap(), ["a", "b"]);
        assert_eq!(tags(None).unwrap(), Vec::<String>::new());
        assert!(tags(Some(&json!("a"))).is_err());
        assert!(tags(Some(&json!(["a\nb"]))).is_err());
        assert!(tags(Some(&json!(vec!["t"; 101]))).is_err());
        assert!(tags(Some(&json!([format!("{}t", " ".repeat(128))]))).is_err());
    }
}
