//! Records as the instance wants them: only the fields the client named, and without null fields
//! unless `filter.response.nulls` is false (the platforms dropped them by default). Every record
//! also carries its id as `id` beside the object's id field (`Id`): the platforms' generic client
//! helpers read `body.id` to address a record next.

use serde_json::{Map, Value};

/// The key generic clients read a record's id from.
pub const GENERIC_ID: &str = "id";

/// `record` with only `fields` (when some are named) and, if `drop_nulls`, no null field; its
/// `id_field`'s value copied to `id` unless the client named fields without naming `id`.
pub fn shape(mut record: Map<String, Value>, id_field: &str, drop_nulls: bool, fields: Option<&[String]>) -> Value {
    let wants_generic_id = fields.is_none_or(|fields| fields.iter().any(|wanted| wanted == GENERIC_ID));
    if wants_generic_id && id_field != GENERIC_ID {
        if let Some(id) = record.get(id_field).filter(|id| !id.is_null()).cloned() {
            record.insert(GENERIC_ID.to_string(), id);
        }
    }
    if let Some(fields) = fields {
        record.retain(|name, _| name == GENERIC_ID || fields.iter().any(|wanted| wanted.eq_ignore_ascii_case(name)));
    }
    if drop_nulls {
        record.retain(|_, value| !value.is_null());
    }
    Value::Object(record)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn record() -> Map<String, Value> {
        json!({"Id": 7, "Email": "a@b.c", "Phone1": null}).as_object().unwrap().clone()
    }

    #[test]
    fn the_id_is_also_under_id_unless_other_fields_are_named() {
        assert_eq!(shape(record(), "Id", true, None), json!({"Id": 7, "id": 7, "Email": "a@b.c"}));
        assert_eq!(shape(record(), "Id", false, None), json!({"Id": 7, "id": 7, "Email": "a@b.c", "Phone1": null}));
        let named = ["Id".to_string(), "Email".to_string()];
        assert_eq!(shape(record(), "Id", true, Some(&named)), json!({"Id": 7, "Email": "a@b.c"}));
        let generic = ["id".to_string()];
        assert_eq!(shape(record(), "Id", true, Some(&generic)), json!({"Id": 7, "id": 7}));
        let without_id = json!({"Email": "a@b.c"}).as_object().unwrap().clone();
        assert_eq!(shape(without_id, "Id", true, None), json!({"Email": "a@b.c"}));
    }
}
