//! One record through the mappings: get, create, update and delete of a record of an object or
//! of a child object under a parent record (`orders/{id}/items`). An update writes the fields it
//! names: the vendor has no whole-record replace, and the platforms' PUT behaved the same.

use std::fmt::Write as _;

use connector::reqwest::Method;
use connector::{VendorError, VendorRequest};
use mapping::{needs_current, to_hub, to_vendor, ObjectDef, Operation, WriteMode};
use serde_json::{Map, Value};

use crate::objects::{allow, object, record_id, resolve_child, Resolved};
use crate::record_json;
use crate::shape::{shape, GENERIC_ID};
use crate::{Hub, HubError, Session};

/// Which object an operation acts on: one of the element's objects, or a child object under a
/// parent record. Names and ids are as the client sent them; they are checked here.
#[derive(Debug, Clone, Copy)]
pub enum Target<'a> {
    Object(&'a str),
    Child { object: &'a str, parent_id: &'a str, child: &'a str },
}

impl Hub {
    /// One record of `target`, mapped.
    pub async fn get(&self, session: &Session<'_>, target: Target<'_>, id: &str) -> Result<Value, HubError> {
        let (resolved, path) = item(session, target, id, Operation::Get)?;
        let vendor = self.vendor.send_json(&session.call, &VendorRequest::new(Method::GET, path)).await?;
        Ok(record(session, resolved, &vendor))
    }

    /// [`Hub::get`] as the JSON text of the record (the same bytes as the record serialized),
    /// written from the vendor's answer without building either record as a tree when the object
    /// is not a common resource ([`crate::record_json`]).
    pub async fn get_json(&self, session: &Session<'_>, target: Target<'_>, id: &str) -> Result<Vec<u8>, HubError> {
        let (resolved, path) = item(session, target, id, Operation::Get)?;
        let body = self.vendor.send_for_body(&session.call, &VendorRequest::new(Method::GET, path)).await?;
        if resolved.common.is_none() {
            if let Some(json) = record_json::write(resolved.definition, &body, session.drop_nulls) {
                return Ok(json);
            }
        }
        let vendor = match body.is_empty() {
            true => Value::Null,
            false => serde_json::from_slice(&body).map_err(|_| VendorError::NotJson)?,
        };
        Ok(record(session, resolved, &vendor).to_string().into_bytes())
    }

    /// Deletes one record of `target`.
    pub async fn delete(&self, session: &Session<'_>, target: Target<'_>, id: &str) -> Result<(), HubError> {
        let (_, path) = item(session, target, id, Operation::Delete)?;
        self.vendor.send_json(&session.call, &VendorRequest::new(Method::DELETE, path)).await?;
        Ok(())
    }

    /// Creates a record of `target` from the hub fields in `body`, and returns it as the vendor
    /// stored it.
    pub async fn create(&self, session: &Session<'_>, target: Target<'_>, body: Value) -> Result<Value, HubError> {
        let (resolved, collection) = match target {
            Target::Object(name) => {
                let resolved = object(session, name)?;
                allow(resolved.name, resolved.definition, Operation::Create)?;
                (resolved, resolved.definition.resource.clone())
            }
            Target::Child { object, parent_id, child } => {
                let (_, name, definition) = resolve_child(session.element_key, object, child)?;
                allow(name, definition, Operation::Create)?;
                let parent_id = record_id(parent_id)?;
                let collection = definition.resource.replace("{parentId}", &parent_id.to_string());
                (Resolved { name, definition, common: None }, collection)
            }
        };
        let (name, definition) = (resolved.name, resolved.definition);
        let mut fields = resolved.fields_of(object_body(body)?)?;
        self.complete_creation(session, name, definition, &mut fields).await?;
        let write = to_vendor(name, definition, &fields, WriteMode::Create, None)
            .map_err(|error| HubError::BadRequest(error.to_string()))?;
        let request = VendorRequest::new(Method::POST, collection).json(&write.body);
        let vendor = self
            .vendor
            .send_json(&session.call, &request)
            .await
            .map_err(|error| incomplete(name, definition, &fields, error))?;
        Ok(record(session, resolved, &vendor))
    }

    /// Updates the fields `body` names in record `id` of `object`, and returns the record.
    pub async fn update(&self, session: &Session<'_>, name: &str, id: &str, body: Value) -> Result<Value, HubError> {
        let resolved = object(session, name)?;
        let (name, definition) = (resolved.name, resolved.definition);
        allow(name, definition, Operation::Update)?;
        let id = record_id(id)?;
        let mut fields = resolved.fields_of(object_body(body)?)?;
        drop_matching_id(definition, &mut fields, id)?;
        let path = item_path(definition, "", id);
        let current = match needs_current(definition, &fields) {
            true => Some(self.vendor.send_json(&session.call, &VendorRequest::new(Method::GET, path.clone())).await?),
            false => None,
        };
        let write = to_vendor(name, definition, &fields, WriteMode::Update, current.as_ref())
            .map_err(|error| HubError::BadRequest(error.to_string()))?;
        let request =
            VendorRequest::new(Method::PATCH, path).query("update_mask", write.update_mask.join(",")).json(&write.body);
        let vendor = self.vendor.send_json(&session.call, &request).await?;
        Ok(record(session, resolved, &vendor))
    }
}

impl Hub {
    /// Each field a create leaves out that has a vendor default (`createDefaultFrom`) gets it (an
    /// opportunity's stage: the account's first pipeline stage, as the platforms' XML-RPC back end
    /// defaulted it).
    async fn complete_creation(
        &self,
        session: &Session<'_>,
        name: &str,
        definition: &ObjectDef,
        fields: &mut Map<String, Value>,
    ) -> Result<(), HubError> {
        for field in &definition.fields {
            let given = fields.iter().any(|(key, value)| key.eq_ignore_ascii_case(&field.name) && !value.is_null());
            if given {
                continue;
            }
            let Some(lookup) = &field.create_default_from else { continue };
            let request = VendorRequest::new(Method::GET, lookup.resource.clone());
            let answer = self.vendor.send_json(&session.call, &request).await?;
            let first = answer.get(&lookup.list_key).and_then(Value::as_array).and_then(|records| records.first());
            let value = first.and_then(|record| lookup.path.get(record)).ok_or_else(|| {
                HubError::BadRequest(format!(
                    "Field {} is required to create {name}: the vendor account has none to default to",
                    field.name
                ))
            })?;
            fields.insert(field.name.clone(), as_hub_value(field, value));
        }
        Ok(())
    }
}

/// The vendor's refusal of a create that left out a field the object requires on create
/// (`requiredOnCreate`), with what to send; any other error as it is.
fn incomplete(name: &str, definition: &ObjectDef, fields: &Map<String, Value>, error: VendorError) -> HubError {
    let VendorError::Status { status: status @ (400 | 422), provider_message } = error else { return error.into() };
    // A field with a default was filled before the vendor saw the request: its refusal is about
    // something else.
    let missing = definition.fields.iter().find(|field| {
        field.required_on_create.is_some()
            && field.create_default.is_none()
            && field.create_default_from.is_none()
            && !fields.iter().any(|(key, value)| key.eq_ignore_ascii_case(&field.name) && !value.is_null())
    });
    match missing {
        Some(field) => HubError::Incomplete {
            message: format!(
                "Field {} is required to create {name}: {}",
                field.name,
                field.required_on_create.as_deref().unwrap_or_default()
            ),
            provider_message,
        },
        None => VendorError::Status { status, provider_message }.into(),
    }
}

/// A vendor value as the hub field's type: the vendor's string ids are numbers to the hub.
fn as_hub_value(field: &mapping::FieldDef, value: &Value) -> Value {
    match (field.field_type, value.as_str().and_then(|text| text.parse::<u64>().ok())) {
        (mapping::FieldType::Number, Some(number)) => Value::from(number),
        _ => value.clone(),
    }
}

/// The object and vendor path of record `id` of `target`, once `operation` is checked to be
/// allowed.
fn item<'a>(
    session: &Session<'a>,
    target: Target<'_>,
    id: &str,
    operation: Operation,
) -> Result<(Resolved<'a>, String), HubError> {
    let (resolved, parent_id) = match target {
        Target::Object(name) => (object(session, name)?, None),
        Target::Child { object, parent_id, child } => {
            let (_, name, definition) = resolve_child(session.element_key, object, child)?;
            (Resolved { name, definition, common: None }, Some(parent_id))
        }
    };
    allow(resolved.name, resolved.definition, operation)?;
    let parent_id = match parent_id {
        None => String::new(),
        Some(parent_id) => record_id(parent_id)?.to_string(),
    };
    Ok((resolved, item_path(resolved.definition, &parent_id, record_id(id)?)))
}

/// `{resource}/{id}`, with `{parentId}` filled for child objects (only their resources have a
/// `{`: searching every resource for the placeholder cost more than the rest of this).
fn item_path(definition: &ObjectDef, parent_id: &str, id: u64) -> String {
    let mut path = match definition.resource.contains('{') {
        true => definition.resource.replace("{parentId}", parent_id),
        false => definition.resource.clone(),
    };
    // Writing to a `String` does not fail.
    let _ = write!(path, "/{id}");
    path
}

fn object_body(body: Value) -> Result<Map<String, Value>, HubError> {
    match body {
        Value::Object(fields) if !fields.is_empty() => Ok(fields),
        Value::Object(_) => Err(HubError::BadRequest("The request body has no fields to write".into())),
        _ => Err(HubError::BadRequest("The request body must be a JSON object of fields".into())),
    }
}

/// Clients often send back the record they read, its id included (as `Id`, as `id`, or both): an
/// id equal to the path's is accepted and dropped, another id is refused.
fn drop_matching_id(definition: &ObjectDef, fields: &mut Map<String, Value>, id: u64) -> Result<(), HubError> {
    let keys: Vec<String> = fields
        .keys()
        .filter(|key| key.eq_ignore_ascii_case(&definition.id_field) || key.as_str() == GENERIC_ID)
        .cloned()
        .collect();
    for key in keys {
        let given = fields.remove(&key).unwrap_or(Value::Null);
        let same = given.as_u64() == Some(id) || given.as_str().is_some_and(|text| text.trim() == id.to_string());
        if !same {
            return Err(HubError::BadRequest(format!("Field {key} does not match the id in the path ({id})")));
        }
    }
    Ok(())
}

fn record(session: &Session<'_>, object: Resolved<'_>, vendor: &Value) -> Value {
    let definition = object.definition;
    object.present(shape(to_hub(definition, vendor), &definition.id_field, session.drop_nulls, None))
}

#[cfg(test)]
mod tests {
    use mapping::ObjectCatalog;

    use super::*;

    #[test]
    fn item_paths_put_the_id_after_the_resource_and_the_parent_in_its_placeholder() {
        let catalog = ObjectCatalog::builtin();
        let (_, contacts) = catalog.object("infusionsoftcrm", "contacts").unwrap();
        assert_eq!(item_path(contacts, "", 7), "v2/contacts/7");
        let mut child = contacts.clone();
        child.resource = "v2/orders/{parentId}/payments".into();
        assert_eq!(item_path(&child, "12", 7), "v2/orders/12/payments/7");
    }
}
