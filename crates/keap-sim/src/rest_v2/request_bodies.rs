//! The request bodies of the implemented v2 operations, checked against the vendor's own document
//! (`vendor/keap-v2-openapi.json`, embedded): types, enums, required fields, formats, bounds and
//! unique items as the document states them, refused with a 400 that names the field
//! (`Invalid value for addresses[0].field: "AAA" is not one of ...`) before anything is stored.
//! It also owns `update_mask`, which names body fields: its values are the document's.
//!
//! What the document does not declare is dropped before the handlers see it, at every depth: the
//! vendor's JSON binding ignores unknown properties rather than refusing them, and a dropped field
//! is never stored nor echoed. Fields the document declares that the simulator does not model
//! (a PATCH's `payment_plan` on an order) are accepted and ignored the same way, by the handlers.
//!
//! Where the document is silent the simulator reads it strictly (a reference such as `company.id`
//! is a decimal id, a price is not negative): each such reading is written, with its reason, in
//! `vendor/readings.yml`, which is applied here to the document before the bodies are compiled, as
//! the conformance run applies it to the document it tests against: the simulator's document is
//! the vendor's narrowed by its readings. What no schema can state stays in the builders (a
//! reference must name an existing record, a contact needs an email, a phone or an address).

use crate::errors::ApiError;
use jsonschema::error::{TypeKind, ValidationErrorKind};
use jsonschema::paths::LocationSegment;
use jsonschema::{Draft, ValidationError, Validator};
use serde_json::{json, Map, Value};
use std::collections::HashMap;

/// Keap's REST v2 document, as published (YAML turned into JSON, nothing else changed).
const DOCUMENT: &str = include_str!("../../vendor/keap-v2-openapi.json");
/// The simulator's readings where the document is silent (`pointer` ones apply to bodies).
const READINGS: &str = include_str!("../../vendor/readings.yml");

/// The implemented operations that take a body, as the document spells them.
pub const OPERATIONS: &[(&str, &str)] = &[
    ("POST", "/rest/v2/contacts"),
    ("PATCH", "/rest/v2/contacts/{contact_id}"),
    ("POST", "/rest/v2/contacts/{contact_id}/notes"),
    ("PATCH", "/rest/v2/contacts/{contact_id}/notes/{note_id}"),
    ("POST", "/rest/v2/companies"),
    ("PATCH", "/rest/v2/companies/{company_id}"),
    ("POST", "/rest/v2/opportunities"),
    ("PATCH", "/rest/v2/opportunities/{opportunity_id}"),
    ("POST", "/rest/v2/opportunities/stages"),
    ("PATCH", "/rest/v2/opportunities/stages/{stage_id}"),
    ("POST", "/rest/v2/tags"),
    ("PATCH", "/rest/v2/tags/{tag_id}"),
    ("POST", "/rest/v2/tags/{tag_id}/contacts:applyTags"),
    ("POST", "/rest/v2/tags/{tag_id}/contacts:removeTags"),
    ("POST", "/rest/v2/tasks"),
    ("PATCH", "/rest/v2/tasks/{task_id}"),
    ("PATCH", "/rest/v2/users/{user_id}"),
    ("POST", "/rest/v2/products"),
    ("PATCH", "/rest/v2/products/{product_id}"),
    ("POST", "/rest/v2/products/{product_id}:adjustInventory"),
    ("POST", "/rest/v2/orders"),
    ("PATCH", "/rest/v2/orders/{order_id}"),
    ("POST", "/rest/v2/orders/{order_id}/items"),
    ("PATCH", "/rest/v2/orders/{order_id}/items/{order_item_id}"),
    ("POST", "/rest/v2/orders/{order_id}/payments"),
    ("POST", "/rest/v2/subscriptions"),
    ("PATCH", "/rest/v2/subscriptions/{subscription_id}"),
];

/// One operation's body: its compiled schema, the schema itself (to drop undeclared fields) and
/// the `update_mask` values the operation takes, if any.
struct Body {
    validator: Validator,
    schema: Value,
    update_mask: Option<Vec<String>>,
}

/// The bodies of [`OPERATIONS`], compiled once when the simulator starts.
pub struct RequestBodies {
    /// By `"METHOD /path"`.
    bodies: HashMap<String, Body>,
    /// The components of `components/schemas` the bodies refer to, for their `$ref`s.
    schemas: Map<String, Value>,
}

impl std::fmt::Debug for RequestBodies {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestBodies").field("operations", &self.bodies.len()).finish_non_exhaustive()
    }
}

impl RequestBodies {
    /// Reads the embedded document and compiles the body of every operation in [`OPERATIONS`].
    ///
    /// # Panics
    /// If the embedded document lacks one of them or does not compile: the document is part of
    /// the build, so this is a defect of the build, caught by every test.
    pub fn load() -> Self {
        let mut document: Value = serde_json::from_str(DOCUMENT).expect("the embedded vendor document is JSON");
        apply_readings(&mut document);
        let schemas = document.pointer("/components/schemas").and_then(Value::as_object).cloned().unwrap_or_default();
        let mut bodies = HashMap::new();
        let mut referred = Map::new();
        for &(method, path) in OPERATIONS {
            let operation = &document["paths"][path][method.to_lowercase()];
            let schema = operation
                .pointer("/requestBody/content/application~1json/schema")
                .unwrap_or_else(|| panic!("{method} {path}: no JSON request body in the vendor document"))
                .clone();
            let mut needed = Map::new();
            collect_refs(&schema, &schemas, &mut needed);
            referred.extend(needed.clone());
            let mut schema = schema;
            integer_bounds(&mut schema);
            needed.values_mut().for_each(integer_bounds);
            let root = json!({"$ref": "#/$defs/body", "$defs": {"body": schema}, "components": {"schemas": needed}});
            let validator = jsonschema::options()
                .with_draft(Draft::Draft202012)
                .should_validate_formats(true)
                .build(&root)
                .unwrap_or_else(|e| panic!("{method} {path}: the vendor's body schema does not compile: {e}"));
            let update_mask = operation["parameters"]
                .as_array()
                .and_then(|ps| ps.iter().find(|p| p["name"] == "update_mask"))
                .and_then(|p| p.pointer("/schema/items/enum"))
                .and_then(Value::as_array)
                .map(|values| values.iter().filter_map(Value::as_str).map(String::from).collect());
            bodies.insert(format!("{method} {path}"), Body { validator, schema, update_mask });
        }
        RequestBodies { bodies, schemas: referred }
    }

    /// Checks `request` against the body of `method path` and drops what the document does not
    /// declare. A refusal names the first field at fault.
    pub fn accept(
        &self,
        method: &str,
        path: &str,
        request: Map<String, Value>,
    ) -> Result<Map<String, Value>, ApiError> {
        let body = self.body(method, path)?;
        let mut request = Value::Object(request);
        if let Some(error) = body.validator.iter_errors(&request).min_by_key(|e| e.instance_path().as_str().len()) {
            return Err(ApiError::bad_request(message(&error)));
        }
        self.drop_undeclared(&body.schema, &mut request);
        let Value::Object(request) = request else { unreachable!("an object stays an object") };
        Ok(request)
    }

    /// Checks the `update_mask` of `method path` against the values the document lists for it.
    pub fn check_update_mask(&self, method: &str, path: &str, mask: Option<&[String]>) -> Result<(), ApiError> {
        let (Some(mask), Some(allowed)) = (mask, self.body(method, path)?.update_mask.as_ref()) else { return Ok(()) };
        if let Some(bad) = mask.iter().find(|m| !allowed.contains(m)) {
            return Err(ApiError::bad_request(format!(
                "Invalid update_mask field: '{bad}' is not one of {}",
                allowed.join(", ")
            )));
        }
        if let Some(twice) = mask.iter().enumerate().find(|(i, m)| mask[..*i].contains(m)).map(|(_, m)| m) {
            return Err(ApiError::bad_request(format!("Invalid update_mask: '{twice}' appears twice")));
        }
        Ok(())
    }

    fn body(&self, method: &str, path: &str) -> Result<&Body, ApiError> {
        self.bodies.get(&format!("{method} {path}")).ok_or_else(|| ApiError {
            status: axum::http::StatusCode::INTERNAL_SERVER_ERROR,
            message: format!("No request body is known for {method} {path}"),
        })
    }

    /// Removes, at every depth, the properties `schema` does not declare.
    fn drop_undeclared(&self, schema: &Value, value: &mut Value) {
        let schema = self.resolve(schema);
        match value {
            Value::Object(map) => {
                let Some(properties) = schema.get("properties").and_then(Value::as_object) else { return };
                map.retain(|k, _| properties.contains_key(k));
                for (key, field) in map.iter_mut() {
                    self.drop_undeclared(&properties[key], field);
                }
            }
            Value::Array(items) => {
                let Some(item_schema) = schema.get("items") else { return };
                for item in items {
                    self.drop_undeclared(item_schema, item);
                }
            }
            _ => {}
        }
    }

    fn resolve<'a>(&'a self, mut schema: &'a Value) -> &'a Value {
        while let Some(name) = schema.get("$ref").and_then(Value::as_str).and_then(component_name) {
            match self.schemas.get(name) {
                Some(target) => schema = target,
                None => break,
            }
        }
        schema
    }
}

/// Merges each `pointer` reading's `set` into the node it points at (`parameter` readings are the
/// query parameters', checked elsewhere).
fn apply_readings(document: &mut Value) {
    let readings: Vec<Value> = serde_yaml_ng::from_str(READINGS).expect("vendor/readings.yml is a YAML list");
    for reading in readings {
        let Some(pointer) = reading.get("pointer").and_then(Value::as_str) else { continue };
        let target = document.pointer_mut(pointer).unwrap_or_else(|| panic!("a reading points at nothing: {pointer}"));
        if let (Value::Object(target), Some(Value::Object(set))) = (target, reading.get("set")) {
            target.extend(set.clone());
        }
    }
}

/// Reads an `integer` of `format` `int32` or `int64` as holding in that many bits, as the vendor's
/// Java server (`int`, `long`) and schemathesis do; JSON Schema leaves formats unchecked on numbers.
fn integer_bounds(schema: &mut Value) {
    match schema {
        Value::Object(map) => {
            if map.get("type").and_then(Value::as_str) == Some("integer") {
                let bounds = match map.get("format").and_then(Value::as_str) {
                    Some("int32") => Some((i64::from(i32::MIN), i64::from(i32::MAX))),
                    Some("int64") => Some((i64::MIN, i64::MAX)),
                    _ => None,
                };
                if let Some((low, high)) = bounds {
                    map.entry("minimum").or_insert(json!(low));
                    map.entry("maximum").or_insert(json!(high));
                }
            }
            map.values_mut().for_each(integer_bounds);
        }
        Value::Array(items) => items.iter_mut().for_each(integer_bounds),
        _ => {}
    }
}

/// The component a `#/components/schemas/NAME` reference names.
fn component_name(reference: &str) -> Option<&str> {
    reference.strip_prefix("#/components/schemas/")
}

/// Copies into `needed` every component `schema` refers to, directly or not.
fn collect_refs(schema: &Value, schemas: &Map<String, Value>, needed: &mut Map<String, Value>) {
    match schema {
        Value::Object(map) => {
            if let Some(name) = map.get("$ref").and_then(Value::as_str).and_then(component_name) {
                if let Some(target) = schemas.get(name).filter(|_| !needed.contains_key(name)) {
                    needed.insert(name.to_string(), target.clone());
                    collect_refs(target, schemas, needed);
                }
            }
            map.values().for_each(|v| collect_refs(v, schemas, needed));
        }
        Value::Array(items) => items.iter().for_each(|v| collect_refs(v, schemas, needed)),
        _ => {}
    }
}

/// A refusal in words: the field as a client writes it (`addresses[0].field`) and the problem.
fn message(error: &ValidationError) -> String {
    let mut field = String::new();
    for segment in error.instance_path().iter() {
        match segment {
            LocationSegment::Property(name) if field.is_empty() => field.push_str(&name),
            LocationSegment::Property(name) => {
                field.push('.');
                field.push_str(&name);
            }
            LocationSegment::Index(i) => field.push_str(&format!("[{i}]")),
        }
    }
    let instance = error.instance();
    match error.kind() {
        ValidationErrorKind::Required { property } => {
            let name = property.as_str().unwrap_or_default();
            let full = if field.is_empty() { name.to_string() } else { format!("{field}.{name}") };
            format!("Missing required field: {full}")
        }
        kind => {
            let problem = match kind {
                ValidationErrorKind::Enum { options } => {
                    let options: Vec<String> = options
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(|o| o.as_str().map_or(o.to_string(), String::from))
                        .collect();
                    format!("{instance} is not one of {}", options.join(", "))
                }
                ValidationErrorKind::Type { kind: TypeKind::Single(t) } => {
                    format!("expected {}", article(&t.to_string()))
                }
                ValidationErrorKind::Type { kind: TypeKind::Multiple(ts) } => {
                    format!("expected one of {}", ts.iter().map(|t| t.to_string()).collect::<Vec<_>>().join(", "))
                }
                ValidationErrorKind::Format { format } => match format.as_str() {
                    "date-time" => format!("{instance} is not an ISO-8601 date-time"),
                    "date" => format!("{instance} is not an ISO-8601 date (YYYY-MM-DD)"),
                    other => format!("{instance} is not a valid {other}"),
                },
                _ => error.to_string(),
            };
            let field = if field.is_empty() { "request body".to_string() } else { field };
            format!("Invalid value for {field}: {problem}")
        }
    }
}

fn article(type_name: &str) -> String {
    match type_name {
        "integer" | "object" | "array" => format!("an {type_name}"),
        other => format!("a {other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_operation_has_a_body_in_the_document() {
        let bodies = RequestBodies::load();
        assert_eq!(bodies.bodies.len(), OPERATIONS.len());
    }

    #[test]
    fn a_refusal_names_the_field_and_the_allowed_values() {
        let bodies = RequestBodies::load();
        let request = json!({"addresses": [{"field": "AAA"}]}).as_object().cloned().unwrap_or_default();
        let error = bodies.accept("POST", "/rest/v2/contacts", request).err().map(|e| e.message);
        assert_eq!(
            error.as_deref(),
            Some(
                r#"Invalid value for addresses[0].field: "AAA" is not one of ADDRESS_FIELD_UNSPECIFIED, BILLING, SHIPPING, OTHER"#
            )
        );
    }

    #[test]
    fn undeclared_fields_are_dropped_at_every_depth() {
        let bodies = RequestBodies::load();
        let request = json!({"given_name": "Ann", "shoe_size": 9, "addresses": [{"field": "BILLING", "moon": 1}]});
        let accepted = bodies.accept("POST", "/rest/v2/contacts", request.as_object().cloned().unwrap_or_default());
        assert_eq!(
            accepted.ok().map(Value::Object),
            Some(json!({"given_name": "Ann", "addresses": [{"field": "BILLING"}]}))
        );
    }
}
