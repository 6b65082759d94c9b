//! An instance's common resources in its hub document (`GET /instances/{id}/docs`): for each
//! resource the instance can call, a list path and a record path with the operations its element
//! object allows, and its record, create and update schemas in the common shape: `name.first` is
//! property `first` of object `name`, `emails[1].value` the `value` of the second element of array
//! `emails`.
//!
//! What is documented is the composed object the hub engine runs ([`CommonObject`]), so the
//! document says what the calls do: fields a record hides are not in the record schema, fields a
//! write may not name (pass-through only from the vendor, or not writable at the vendor) are not in
//! the write bodies, and a date shown in another format than ISO 8601 says which.
//!
//! Schema and operation names carry the resource's name with a `.` (`Common.myContacts`,
//! `myContacts.list`): organizations choose names of letters, digits, `_` and `-`, so these never
//! meet the element's own (`Contact`, `getContacts`) nor each other.

use std::collections::BTreeMap;

use mapping::common::{CommonObject, CommonObjects};
use mapping::{DateFormat, FieldDef, FieldType, ObjectDef, Operation as Allowed, WriteMode};
use utoipa::openapi::schema::{
    AdditionalProperties, Array, ArrayBuilder, ArrayItems, ObjectBuilder, Schema, SchemaType, Type,
};
use utoipa::openapi::{OpenApi, PathItem, Ref, Response};

use super::element_document::{
    accepted, body, capitalized, id_parameter, list_parameters, list_response, nullable, operation, record_response,
    string, value_schema, with_errors, write_description,
};

/// Adds `common`'s resources to `document`, the hub document of an instance of hub `hub`, and
/// names in its description those that cannot be used (and why).
pub fn add(document: &mut OpenApi, hub: &str, common: &CommonObjects) {
    for object in common.iter() {
        add_object(document, hub, object);
        super::bulk_document::add_common_object(document, &object.name, &object.definition);
    }
    if common.problems().is_empty() {
        return;
    }
    let broken: Vec<String> = common.problems().iter().map(|(name, problem)| format!("`{name}` ({problem})")).collect();
    let description = document.info.description.get_or_insert_with(String::new);
    description.push_str(&format!(
        " These common resources of the organization cannot be used by this instance: {}.",
        broken.join("; ")
    ));
}

/// The list and record paths of `object` under `/hubs/{hub}/{name}`, and its schemas.
fn add_object(document: &mut OpenApi, hub: &str, object: &CommonObject) {
    let name = object.name.as_str();
    let definition = &object.definition;
    let components = document.components.get_or_insert_with(Default::default);
    let record_name = format!("Common.{name}");
    components.schemas.insert(record_name.clone(), Schema::Object(record_schema(object).build()).into());
    let record = Ref::from_schema_name(&record_name);
    let about = format!(
        "`{name}` is a common resource of the organization: the element's `{}` in the shape its definition gives.",
        object.vendor_name
    );
    let operation =
        |id: &str, summary: String| operation(name, &format!("{name}.{id}"), &summary).description(Some(about.clone()));

    let mut list = PathItem::default();
    if definition.allows(Allowed::List) {
        let shown = ObjectDef {
            fields: definition.fields.iter().filter(|field| object.shows(&field.name)).cloned().collect(),
            ..definition.clone()
        };
        let listing = operation("list", format!("List {name}"))
            .parameters(Some(list_parameters(&shown)))
            .response("200", list_response(&record));
        list.get = Some(with_errors(listing, false).build());
    }
    if definition.allows(Allowed::Create) {
        let create = format!("Common.{name}.Create");
        components.schemas.insert(create.clone(), write_schema(object, WriteMode::Create).into());
        let creating = operation("create", format!("Create one of {name}"))
            .request_body(Some(body(&Ref::from_schema_name(&create))))
            .response("200", record_response("The record as created", &record));
        list.post = Some(with_errors(creating, true).build());
    }
    if list.get.is_some() || list.post.is_some() {
        document.paths.paths.insert(format!("/hubs/{hub}/{name}"), list);
    }

    let mut item = PathItem::default();
    if definition.allows(Allowed::Get) {
        let reading = operation("get", format!("Read one of {name} by id"))
            .parameters(Some(id_parameters()))
            .response("200", record_response("The record", &record));
        item.get = Some(with_errors(reading, false).build());
    }
    if definition.allows(Allowed::Update) {
        let update = format!("Common.{name}.Update");
        components.schemas.insert(update.clone(), write_schema(object, WriteMode::Update).into());
        let update = Ref::from_schema_name(&update);
        let changing = |id: &str, summary: String| {
            let changing = operation(id, summary)
                .parameters(Some(id_parameters()))
                .request_body(Some(body(&update)))
                .response("200", record_response("The record as updated", &record));
            with_errors(changing, true).build()
        };
        item.patch = Some(changing("update", format!("Update one of {name}")));
        item.put = Some(changing("replace", format!("Update one of {name} (as PATCH)")));
    }
    if definition.allows(Allowed::Delete) {
        let deleting = operation("delete", format!("Delete one of {name}"))
            .parameters(Some(id_parameters()))
            .response("200", Response::new("Deleted; the body is empty"));
        item.delete = Some(with_errors(deleting, true).build());
    }
    if item.get.is_some() || item.patch.is_some() || item.delete.is_some() {
        document.paths.paths.insert(format!("/hubs/{hub}/{name}/{{id}}"), item);
    }
}

/// A record path's one parameter.
fn id_parameters() -> Vec<utoipa::openapi::path::Parameter> {
    vec![id_parameter("id", "The record's id")]
}

/// The common fields, placed where their paths put them in a record.
#[derive(Debug)]
enum Node<'a> {
    Field(&'a FieldDef),
    Object(BTreeMap<String, Node<'a>>),
    /// An array's elements by position.
    Array(BTreeMap<usize, Node<'a>>),
}

/// One step of a common path: a key, and the position in the array it holds, if any.
type Step<'a> = (&'a str, Option<usize>);

/// `emails[1].value` → `[("emails", Some(1)), ("value", None)]`. Common paths hold keys and
/// positions only (the definition was checked when stored); a pass-through field's name is one key.
fn steps(path: &str) -> Vec<Step<'_>> {
    path.split('.')
        .map(|step| match step.split_once('[') {
            Some((key, rest)) => match rest.strip_suffix(']').and_then(|index| index.parse().ok()) {
                Some(index) => (key, Some(index)),
                None => (step, None),
            },
            None => (step, None),
        })
        .collect()
}

/// `fields` as a tree of nodes by their paths. A field whose place is taken (which a checked
/// definition never has) is left out.
fn tree<'a>(fields: impl Iterator<Item = &'a FieldDef>) -> BTreeMap<String, Node<'a>> {
    let mut root = BTreeMap::new();
    for field in fields {
        place(&mut root, &steps(&field.name), field);
    }
    root
}

fn place<'a>(children: &mut BTreeMap<String, Node<'a>>, steps: &[Step<'_>], field: &'a FieldDef) {
    let Some(((key, position), rest)) = steps.split_first() else { return };
    let slot = children.entry((*key).to_string());
    let node = match position {
        None if rest.is_empty() => {
            slot.or_insert(Node::Field(field));
            return;
        }
        None => slot.or_insert_with(|| Node::Object(BTreeMap::new())),
        Some(position) => {
            let Node::Array(elements) = slot.or_insert_with(|| Node::Array(BTreeMap::new())) else { return };
            let element = elements.entry(*position);
            if rest.is_empty() {
                element.or_insert(Node::Field(field));
                return;
            }
            element.or_insert_with(|| Node::Object(BTreeMap::new()))
        }
    };
    if let Node::Object(inner) = node {
        place(inner, rest, field);
    }
}

/// A record as read: the fields it shows, nested; `null` where the vendor has no value (unless the
/// instance drops nulls), read-only unless a write may set it.
fn record_schema(object: &CommonObject) -> ObjectBuilder {
    let definition = &object.definition;
    let shown = tree(definition.fields.iter().filter(|field| object.shows(&field.name)));
    let id_field = definition.id_field.as_str();
    let mut schema = ObjectBuilder::new().schema_type(Type::Object);
    for (key, node) in &shown {
        schema = schema.property(key, read_node(object, node, id_field));
    }
    // Every record also carries its id as `id`, for the platforms' generic client helpers.
    match definition.id().filter(|id| id.name != hub::shape::GENERIC_ID && !shown.contains_key(hub::shape::GENERIC_ID))
    {
        Some(id) => schema.property(
            hub::shape::GENERIC_ID,
            value_schema(id.field_type).read_only(true).description(Some("The record's id, for generic clients")),
        ),
        None => schema,
    }
}

fn read_node(object: &CommonObject, node: &Node<'_>, id_field: &str) -> Schema {
    match node {
        Node::Field(field) => {
            let value = common_value(field);
            let value = if field.name == id_field { value } else { nullable(value) };
            let value = value.description(described(field, field.description.clone()));
            let writable = field.writable && object.takes(&field.name);
            Schema::Object(if writable { value } else { value.read_only(true) }.build())
        }
        Node::Object(children) => {
            let schema =
                children.iter().fold(ObjectBuilder::new().schema_type(Type::Object), |schema, (key, child)| {
                    schema.property(key, read_node(object, child, id_field))
                });
            Schema::Object(schema.build())
        }
        // Elements before the last one a record has are `null` when the vendor has nothing there.
        Node::Array(elements) => {
            Schema::Array(array(elements, |element| or_null(read_node(object, element, id_field))))
        }
    }
}

/// A create's or an update's body: the fields a write may name (writable at the vendor, and not
/// passed through from the vendor only), nested, nothing else, at least one. `null` clears a field
/// (except one the vendor requires) and skips a nested object or array element.
fn write_schema(object: &CommonObject, mode: WriteMode) -> Schema {
    let definition = &object.definition;
    let written = tree(definition.fields.iter().filter(|field| field.writable && object.takes(&field.name)));
    let (schema, _) = write_object(&written, mode);
    let mut schema = schema.min_properties(Some(1));
    if mode == WriteMode::Create && !definition.create_needs_one_of.is_empty() {
        schema = schema.description(Some(format!(
            "The vendor needs one of these fields to create a record: {}",
            definition.create_needs_one_of.join(", ")
        )));
    }
    Schema::Object(schema.build())
}

/// A closed object of `children`, and whether a create must give it (it holds a required field).
fn write_object(children: &BTreeMap<String, Node<'_>>, mode: WriteMode) -> (ObjectBuilder, bool) {
    let mut schema = ObjectBuilder::new()
        .schema_type(Type::Object)
        .additional_properties(Some(AdditionalProperties::FreeForm(false)));
    let mut required = false;
    for (key, node) in children {
        let (value, needed) = write_node(node, mode);
        schema = schema.property(key, value);
        if needed {
            schema = schema.required(key);
            required = true;
        }
    }
    (schema, required)
}

fn write_node(node: &Node<'_>, mode: WriteMode) -> (Schema, bool) {
    match node {
        Node::Field(field) => {
            let defaulted = field.create_default.is_some() || field.create_default_from.is_some();
            let required = field.required_on_create.is_some();
            let non_null = match mode {
                WriteMode::Update => required,
                WriteMode::Create => required && !defaulted,
            };
            let value = if field.conversion.is_some() { common_value(field) } else { accepted(field) };
            let value = if non_null { value } else { nullable(value) };
            let value = value.description(described(field, write_description(field)));
            (Schema::Object(value.build()), mode == WriteMode::Create && non_null)
        }
        Node::Object(children) => {
            let (schema, required) = write_object(children, mode);
            let schema = schema.min_properties(Some(1));
            (Schema::Object(if required { schema } else { nullable(schema) }.build()), required)
        }
        Node::Array(elements) => {
            let mut schema = array(elements, |element| or_null(write_node(element, mode).0));
            // An empty array names no field: the write refuses it.
            schema.min_items = Some(1);
            schema.schema_type = SchemaType::from_iter([Type::Array, Type::Null]);
            (Schema::Array(schema), false)
        }
    }
}

/// An array whose element at each position is `element(node)` where a field sits, `null` where
/// none does, and nothing past the last.
fn array(elements: &BTreeMap<usize, Node<'_>>, element: impl Fn(&Node<'_>) -> Schema) -> Array {
    let last = elements.keys().next_back().copied().unwrap_or_default();
    let positions = (0..=last).map(|position| match elements.get(&position) {
        Some(node) => element(node),
        None => Schema::Object(ObjectBuilder::new().schema_type(Type::Null).build()),
    });
    ArrayBuilder::new().prefix_items(positions.collect::<Vec<_>>()).items(ArrayItems::False).build()
}

/// `schema`, or `null`.
fn or_null(schema: Schema) -> Schema {
    match schema {
        Schema::Object(object) => Schema::Object(nullable(object.into()).build()),
        Schema::Array(mut array) => {
            array.schema_type = SchemaType::from_iter([Type::Array, Type::Null]);
            Schema::Array(array)
        }
        other => other,
    }
}

/// A common field's value: its type, or for a date shown in another format than ISO 8601, a number
/// since the epoch or text.
fn common_value(field: &FieldDef) -> ObjectBuilder {
    match (field.field_type, common_format(field)) {
        (FieldType::Date, Some(format)) if format.is_epoch() => ObjectBuilder::new().schema_type(Type::Integer),
        (FieldType::Date, Some(DateFormat::Pattern(_))) => string(),
        (field_type, _) => value_schema(field_type),
    }
}

/// How a date field is shown, when not in ISO 8601 (`A date in the format yyyy-MM-dd`).
fn common_format(field: &FieldDef) -> Option<&DateFormat> {
    let format = field.conversion.as_ref()?.format.as_ref()?;
    (field.field_type == FieldType::Date && *format != DateFormat::Iso8601).then_some(format)
}

/// `description` after the field's format, when it has one of its own.
fn described(field: &FieldDef, description: Option<String>) -> Option<String> {
    let format = common_format(field).map(|format| capitalized(&format.expected()));
    let parts: Vec<String> = format.into_iter().chain(description).collect();
    (!parts.is_empty()).then(|| parts.join(". "))
}

#[cfg(test)]
mod tests {
    use mapping::common::{compose, Definition, Transformation};
    use serde_json::{json, Value};

    use super::*;

    fn composed() -> CommonObject {
        let definition: Definition = serde_json::from_value(json!({"fields": [
            {"path": "name.first", "type": "string"},
            {"path": "emails[1].value", "type": "string"},
            {"path": "born", "type": "date", "mask": "yyyy-MM-dd"},
            {"path": "created", "type": "date"},
        ]}))
        .unwrap();
        let transformation: Transformation = serde_json::from_value(json!({"vendorName": "contacts", "fields": [
            {"path": "name.first", "vendorPath": "FirstName"},
            {"path": "emails[1].value", "vendorPath": "email_addresses[field=EMAIL2].email"},
            {"path": "born", "vendorPath": "Birthday"},
            {"path": "created", "vendorPath": "DateCreated"},
        ]}))
        .unwrap();
        compose("infusionsoftcrm", "myContacts", &definition, &transformation).unwrap()
    }

    fn json_of(schema: Schema) -> Value {
        serde_json::to_value(schema).unwrap()
    }

    #[test]
    fn steps_read_keys_and_positions() {
        assert_eq!(steps("emails[1].value"), [("emails", Some(1)), ("value", None)]);
        assert_eq!(steps("Email"), [("Email", None)]);
    }

    #[test]
    fn a_record_nests_paths_and_hides_the_unmapped_id() {
        let record = json_of(Schema::Object(record_schema(&composed()).build()));
        let properties = &record["properties"];
        assert_eq!(properties["name"]["properties"]["first"]["type"], json!(["string", "null"]));
        let emails = &properties["emails"];
        assert_eq!(emails["prefixItems"][0]["type"], "null", "{emails}");
        assert!(emails["prefixItems"][1]["properties"]["value"].is_object(), "{emails}");
        assert_eq!(emails["items"], false);
        assert!(properties.get("Id").is_none(), "hidden: {properties}");
        assert_eq!(properties["id"]["readOnly"], true);
        assert_eq!(properties["born"]["description"], "A date in the format yyyy-MM-dd");
        assert!(properties["born"].get("format").is_none());
        assert_eq!(properties["created"]["readOnly"], true, "the vendor sets it");
    }

    #[test]
    fn a_write_names_the_writable_fields_only_nested_and_closed() {
        let create = json_of(write_schema(&composed(), WriteMode::Create));
        assert_eq!(create["additionalProperties"], false);
        assert_eq!(create["minProperties"], 1);
        let name = &create["properties"]["name"];
        assert_eq!((&name["additionalProperties"], &name["minProperties"]), (&json!(false), &json!(1)));
        assert!(name["properties"]["first"].is_object());
        assert!(create["properties"].get("created").is_none(), "not writable: {create}");
        assert!(create["properties"].get("id").is_none());
        assert_eq!(create["properties"]["emails"]["minItems"], 1);
    }
}
