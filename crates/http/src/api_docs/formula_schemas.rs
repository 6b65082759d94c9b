//! The formulas' documents in the platform document: a template as `POST /formulas` and
//! `PUT /formulas/{id}` take it, a merge patch, a template as the routes of [`crate::formulas`]
//! answer it, and the formula instances, executions and step records of [`crate::formula_runs`].
//!
//! Written by hand beside the rules they restate (`formulas::template`): the shape the loader
//! accepts (required fields and their types, `null` read as absent, the step and trigger types
//! Junction runs, unknown fields kept) is in the schemas. The rules of [`Formula::validate`] that
//! relate one part of a template to another (step names unique and every `onSuccess`/`onFailure`
//! naming a step, no cycle outside a loop, every `${...}` naming a slot or step, the properties
//! each step type needs, a Quartz cron, lengths in bytes) are said in the descriptions, since no
//! JSON Schema states them; a template breaking them is a 400 naming each problem with its path.
//!
//! [`Formula::validate`]: formulas::template::Formula::validate

use std::borrow::Cow;

use formulas::template::{MAX_NAME_BYTES, MAX_SLOTS, MAX_STEPS, MAX_TRIGGERS};
use serde_json::{json, Value};
use utoipa::openapi::schema::Schema;
use utoipa::openapi::RefOr;
use utoipa::{PartialSchema, ToSchema};

/// A formula's name: something besides spaces, no control characters (PostgreSQL cannot store
/// NUL), at most [`MAX_NAME_BYTES`] bytes.
const NAME: &str = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$";

/// The schema `value` states; the values below are constant and parse (a unit test checks each).
fn schema(value: Value) -> RefOr<Schema> {
    match serde_json::from_value::<Schema>(value) {
        Ok(schema) => RefOr::T(schema),
        Err(_) => RefOr::T(Schema::default()),
    }
}

fn step_names() -> Value {
    json!({"type": ["array", "null"], "items": {"type": "string"},
        "description": "Names of steps of this formula, run next"})
}

fn template() -> Value {
    json!({
        "type": "object",
        "description": "A formula template as the platforms had it. Fields not named here are kept as sent \
            (and exported). `id`, `createdDate` and `updatedDate` are the server's: ignored in a body, so an \
            export, or another platform's formula, is created unchanged. Besides its shape, a template must \
            validate: step names unique and not blank, every `onSuccess`/`onFailure` naming a step of the \
            formula, no cycle of steps without a `loop` step on it, every `${...}` reference naming a \
            configuration slot or a step, an `elementInstanceId` naming an `elementInstance` slot, the \
            properties each type needs (filter and script: `body`; elementRequest: `elementInstanceId`, \
            `method`, `api`; httpRequest and notification: `url`; loop: `list`; formula: `formulaId`; event \
            trigger: `elementInstanceId`; scheduled: a Quartz `cron` at least 15 minutes apart), names and \
            slot keys at most 200 bytes. A 400 names each problem with its JSON pointer.",
        "required": ["name"],
        "properties": {
            "name": {"type": "string", "minLength": 1, "maxLength": MAX_NAME_BYTES, "pattern": NAME,
                "description": "Unique in the organization, ignoring case"},
            "description": {"type": ["string", "null"]},
            "active": {"type": ["boolean", "null"]},
            "configuration": {"type": ["array", "null"], "maxItems": MAX_SLOTS, "items": {
                "type": "object", "required": ["key", "type"],
                "description": "A slot a formula instance binds: `${config.<key>}`",
                "properties": {
                    "key": {"type": "string"},
                    "name": {"type": ["string", "null"]},
                    "type": {"type": "string", "enum": ["elementInstance", "value"]},
                    "required": {"type": ["boolean", "null"]}
                }
            }},
            "triggers": {"type": ["array", "null"], "maxItems": MAX_TRIGGERS, "items": {
                "type": "object", "required": ["type"],
                "properties": {
                    "type": {"type": "string", "enum": ["event", "scheduled", "manual", "elementRequest"]},
                    "properties": {"type": ["object", "null"]},
                    "onSuccess": step_names(),
                    "onFailure": step_names()
                }
            }},
            "steps": {"type": ["array", "null"], "maxItems": MAX_STEPS, "items": {
                "type": "object", "required": ["name", "type"],
                "properties": {
                    "name": {"type": "string"},
                    "type": {"type": "string", "enum":
                        ["filter", "script", "elementRequest", "httpRequest", "loop", "formula", "notification"]},
                    "properties": {"type": ["object", "null"]},
                    "onSuccess": step_names(),
                    "onFailure": step_names()
                }
            }}
        }
    })
}

/// Declares a schema component built from JSON.
macro_rules! json_schema {
    ($(#[$doc:meta])* $name:ident => $value:expr) => {
        $(#[$doc])*
        pub struct $name;

        impl PartialSchema for $name {
            fn schema() -> RefOr<Schema> {
                schema($value)
            }
        }

        impl ToSchema for $name {
            fn name() -> Cow<'static, str> {
                Cow::Borrowed(stringify!($name))
            }
        }
    };
}

json_schema! {
    /// A template as written (`POST`, `PUT`) and as exported.
    FormulaTemplate => template()
}

json_schema! {
    /// A JSON merge patch (RFC 7396) of a template.
    FormulaPatch => json!({
        "type": "object",
        "description": "A JSON merge patch (RFC 7396) of the template: objects merge member by member, `null` \
            removes a member, anything else (arrays included) replaces it. The result must be a valid \
            template (see FormulaTemplate); the server's `id` and dates cannot be patched."
    })
}

json_schema! {
    /// A stored template as the routes answer it.
    Formula => {
        let mut value = template();
        value["description"] = json!("A stored template: as written, with the server's id and dates");
        value["required"] = json!(["id", "name", "createdDate", "updatedDate"]);
        value["properties"]["id"] = json!({"type": "integer", "minimum": 1});
        value["properties"]["createdDate"] = json!({"type": "string", "format": "date-time"});
        value["properties"]["updatedDate"] = json!({"type": "string", "format": "date-time"});
        // What was stored is answered as stored: the shape's bounds hold, the name pattern too.
        value
    }
}

json_schema! {
    /// A formula instance to create.
    NewFormulaInstance => json!({
        "type": "object",
        "required": ["name"],
        "description": "Binds the template's configuration slots: every key of `configuration` is a slot of the \
            template, every required slot is bound, an `elementInstance` slot holds the id of an instance of the \
            caller's organization, a `value` slot a string, number or boolean. A 400 names the slot at fault.",
        "properties": {
            "name": {"type": "string", "minLength": 1, "maxLength": 200, "pattern": NAME},
            "active": {"type": ["boolean", "null"], "description": "Absent: active"},
            "configuration": {"type": ["object", "null"], "additionalProperties":
                {"type": ["string", "integer", "number", "boolean"]}},
            "settings": {"type": ["object", "null"], "description": "Kept as sent (at most 64 KiB of JSON)"}
        }
    })
}

json_schema! {
    /// A formula instance as the routes answer it.
    FormulaInstance => json!({
        "type": "object",
        "required": ["id", "name", "active", "formula", "configuration", "settings", "createdDate", "updatedDate"],
        "properties": {
            "id": {"type": "integer", "minimum": 1},
            "name": {"type": "string"},
            "active": {"type": "boolean"},
            "formula": {"type": "object", "required": ["id"], "properties": {
                "id": {"type": "integer"}, "name": {"type": "string"}, "active": {"type": "boolean"}}},
            "configuration": {"type": "object"},
            "settings": {"type": "object"},
            "createdDate": {"type": "string", "format": "date-time"},
            "updatedDate": {"type": "string", "format": "date-time"}
        }
    })
}

json_schema! {
    /// An execution as the routes answer it.
    FormulaExecution => json!({
        "type": "object",
        "required": ["id", "formulaId", "formulaInstanceId", "status", "trigger", "createdDate", "updatedDate"],
        "properties": {
            "id": {"type": "integer", "minimum": 1},
            "formulaId": {"type": "integer"},
            "formulaInstanceId": {"type": "integer"},
            "status": {"type": "string", "enum": ["queued", "pending", "success", "failed", "cancelled"]},
            "trigger": {"type": "object", "description": "What started it, as the run's `trigger`: \
                `{\"type\": \"manual\", \"args\"}`, `{\"type\": \"event\", \"eventId\", \"instanceId\", \"event\", \"body\"}` \
                or `{\"type\": \"scheduled\", \"scheduledTime\", \"cron\"}`"},
            "error": {"type": "string", "description": "Why it failed"},
            "createdDate": {"type": "string", "format": "date-time"},
            "updatedDate": {"type": "string", "format": "date-time"},
            "finishedDate": {"type": "string", "format": "date-time"}
        }
    })
}

json_schema! {
    /// One step run of an execution.
    FormulaExecutionStep => json!({
        "type": "object",
        "required": ["seq", "stepName", "type", "status", "input", "output", "attempts", "startedDate"],
        "properties": {
            "seq": {"type": "integer", "minimum": 0, "description": "Its place among the execution's step runs"},
            "stepName": {"type": "string", "description": "A sub-formula's steps are `<step>.<its step>`"},
            "type": {"type": "string"},
            "status": {"type": "string", "enum": ["started", "success", "failed"]},
            "next": {"type": "string", "enum": ["onSuccess", "onFailure"]},
            "input": {"type": "object",
                "description": "The properties it ran with, resolved; secret-looking header values masked"},
            "output": {"type": ["object", "array", "string", "number", "boolean", "null"],
                "description": "`steps.<name>` for the steps after it"},
            "error": {"type": "string"},
            "attempts": {"type": "integer", "minimum": 0},
            "startedDate": {"type": "string", "format": "date-time"},
            "finishedDate": {"type": "string", "format": "date-time"}
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_schema_parses() {
        for value in [template(), json!({"type": "object"})] {
            assert!(serde_json::from_value::<Schema>(value).is_ok());
        }
        let RefOr::T(Schema::Object(object)) = Formula::schema() else { panic!("an object schema") };
        assert!(object.required.contains(&"id".to_string()));
        for (name, parsed) in [
            ("NewFormulaInstance", NewFormulaInstance::schema()),
            ("FormulaInstance", FormulaInstance::schema()),
            ("FormulaExecution", FormulaExecution::schema()),
            ("FormulaExecutionStep", FormulaExecutionStep::schema()),
        ] {
            let RefOr::T(Schema::Object(object)) = parsed else { panic!("{name}: an object schema") };
            assert!(!object.required.is_empty(), "{name} parsed, not the empty fallback");
        }
    }
}
