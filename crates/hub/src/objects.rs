//! Objects by name: the element's object, or the instance's common resource, (or a child object
//! under an element object) for a name a client sent, which operations it allows, record ids, and
//! the metadata clients read (`GET /hubs/{hub}/objects/{object}/metadata`).

use mapping::common::{CommonObject, CommonObjects};
use mapping::{ObjectCatalog, ObjectDef, Operation};
use serde_json::{json, Map, Value};

use crate::{HubError, Session};

/// What an object name resolved to: an element object, or a common resource of the instance
/// (its composed definition, and the common shape the engine presents records in).
#[derive(Debug, Clone, Copy)]
pub struct Resolved<'a> {
    pub name: &'a str,
    pub definition: &'a ObjectDef,
    pub common: Option<&'a CommonObject>,
}

impl Resolved<'_> {
    /// A record as the object shows it (a common resource nests its paths, hides removed fields).
    pub fn present(&self, record: Value) -> Value {
        match record {
            Value::Object(fields) => Value::Object(self.present_fields(fields)),
            other => other,
        }
    }

    /// [`Resolved::present`] of a record as its fields (a scan's records).
    pub fn present_fields(&self, record: Map<String, Value>) -> Map<String, Value> {
        match self.common {
            Some(common) => common.present(record),
            None => record,
        }
    }

    /// A written body as the definition's fields (a common resource's nested paths flattened).
    pub fn fields_of(&self, body: Map<String, Value>) -> Result<Map<String, Value>, HubError> {
        match self.common {
            Some(common) => common.flatten(body).map_err(|error| HubError::BadRequest(error.to_string())),
            None => Ok(body),
        }
    }
}

/// The object `name` of the session: the element's (names match ignoring ASCII case), else the
/// instance's common resource, else a 404 saying where names are listed. Common resources cannot
/// take an element object's name, so the order only saves a lookup.
pub fn object<'a>(session: &Session<'a>, name: &str) -> Result<Resolved<'a>, HubError> {
    lookup(session.element_key, session.common, name)
}

/// [`object`] without a session: element `element_key`'s objects, then `common`.
pub fn lookup<'a>(element_key: &str, common: Option<&'a CommonObjects>, name: &str) -> Result<Resolved<'a>, HubError> {
    if let Some((found, definition)) = ObjectCatalog::builtin().object(element_key, name) {
        return Ok(Resolved { name: found, definition, common: None });
    }
    if let Some(common) = common.and_then(|objects| objects.get(name)) {
        let common: &'a CommonObject = common;
        return Ok(Resolved { name: &common.name, definition: &common.definition, common: Some(common) });
    }
    resolve(element_key, name).map(|(name, definition)| Resolved { name, definition, common: None })
}

/// The names of the session's objects: the element's in catalog order, then its common resources.
pub fn all_names(session: &Session<'_>) -> Vec<String> {
    let builtin = names(session.element_key).into_iter().map(str::to_string);
    builtin
        .chain(session.common.into_iter().flat_map(|objects| objects.iter().map(|object| object.name.clone())))
        .collect()
}

/// Path segments of the hub API that are not objects (`/hubs/{hub}/bulk/...`, `/raw/...`,
/// `/objects`, `/ping`): no object, built-in or defined by an organization, may take these names.
pub const RESERVED_NAMES: [&str; 4] = ["bulk", "raw", "objects", "ping"];

/// Whether `name` is one of [`RESERVED_NAMES`] (compared as the catalog compares names, ignoring
/// ASCII case).
pub fn is_reserved(name: &str) -> bool {
    RESERVED_NAMES.iter().any(|reserved| reserved.eq_ignore_ascii_case(name))
}

/// The names of the element's objects, in catalog order.
pub fn names(element_key: &str) -> Vec<&'static str> {
    ObjectCatalog::builtin().objects(element_key).map(|(name, _)| name).collect()
}

/// The element's object `name` (matched as the catalog does), or a 404 saying where names are listed.
pub fn resolve(element_key: &str, name: &str) -> Result<(&'static str, &'static ObjectDef), HubError> {
    ObjectCatalog::builtin().object(element_key, name).ok_or_else(|| {
        let shown: String = name.chars().take(64).collect();
        HubError::NotFound(format!(
            "Unknown object '{shown}' for element {element_key}; GET /hubs/{{hub}}/objects lists them"
        ))
    })
}

/// The parent object and its child `child` (`orders` and `items`).
pub fn resolve_child(
    element_key: &str,
    object: &str,
    child: &str,
) -> Result<(&'static str, &'static str, &'static ObjectDef), HubError> {
    let (parent, definition) = resolve(element_key, object)?;
    let (child_name, child_definition) =
        definition.children.iter().find(|(name, _)| name.eq_ignore_ascii_case(child)).ok_or_else(|| {
            let shown: String = child.chars().take(64).collect();
            let known: Vec<&str> = definition.children.keys().map(String::as_str).collect();
            HubError::NotFound(format!(
                "{parent} has no child object '{shown}' (it has: {})",
                if known.is_empty() { "none".to_string() } else { known.join(", ") }
            ))
        })?;
    Ok((parent, child_name.as_str(), child_definition))
}

/// Refuses, naming the object, an operation it does not support.
pub fn allow(name: &str, definition: &ObjectDef, operation: Operation) -> Result<(), HubError> {
    if definition.allows(operation) {
        return Ok(());
    }
    let verb = match operation {
        Operation::List => "listed",
        Operation::Get => "read one by one",
        Operation::Create => "created",
        Operation::Update => "updated",
        Operation::Delete => "deleted",
    };
    Err(HubError::NotAllowed(format!("{name} cannot be {verb} through the vendor's API")))
}

/// A record id from a path: the vendor's ids are positive integers.
pub fn record_id(text: &str) -> Result<u64, HubError> {
    text.trim().parse::<u64>().ok().filter(|id| *id > 0).ok_or_else(|| {
        let shown: String = text.chars().take(32).collect();
        HubError::BadRequest(format!("Invalid id '{shown}': expected a positive integer"))
    })
}

/// The object `name` described: fields, types, which are writable, pushed down and sortable, its
/// operations and children; for a common resource, the element object it maps and each field's
/// vendor side.
pub fn metadata(session: &Session<'_>, name: &str) -> Result<Value, HubError> {
    let resolved = object(session, name)?;
    let (name, object) = (resolved.name, resolved.definition);
    let shown = |field: &&mapping::FieldDef| resolved.common.is_none_or(|common| common.shows(&field.name));
    let fields: Vec<Value> = object
        .fields
        .iter()
        .filter(shown)
        .map(|field| {
            let mut described = json!({
                "name": field.name,
                "type": field.field_type,
                "vendorPath": field.path,
                "writable": field.writable,
                "filterable": true,
                "pushedDown": field.filters.iter().map(|filter| &filter.name).collect::<Vec<_>>(),
                "sortable": field.sort.is_some(),
                "description": field.description,
            });
            if field.money.is_some() {
                // Amounts are in currency units (59.99), converted exactly from the vendor's cents.
                described["unit"] = json!("currency");
            }
            if let Some(common) = resolved.common {
                described["writable"] = json!(field.writable && common.takes(&field.name));
            }
            described
        })
        .collect();
    let mut described = json!({
        "name": name,
        "vendorResource": object.resource,
        "idField": object.id_field,
        "operations": object.operations,
        "children": object.children.keys().collect::<Vec<_>>(),
        "fields": fields,
    });
    if let Some(common) = resolved.common {
        described["commonResource"] = json!(true);
        described["vendorName"] = json!(common.vendor_name);
    }
    Ok(described)
}

#[cfg(test)]
mod tests {
    use super::*;
    use mapping::ObjectCatalog;

    #[test]
    fn no_built_in_object_takes_a_reserved_name() {
        for element in ["infusionsoftcrm", "infusionsofterp"] {
            let names: Vec<&str> = ObjectCatalog::builtin().objects(element).map(|(name, _)| name).collect();
            assert!(!names.is_empty());
            assert!(names.iter().all(|name| !is_reserved(name)), "{names:?}");
        }
        assert!(is_reserved("Bulk") && !is_reserved("contacts"));
    }
}
