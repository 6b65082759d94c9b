//! The common resources' documents in the platform document: definitions and transformations as
//! clients send them (`mapping::common::documents` parses them: unknown fields refused, `null`
//! read as absent) and as the routes of [`crate::common_resources`] answer them.
//!
//! Written by hand beside the rules they restate, like [`super::request_bodies`]: what the
//! documents' parsers and `check` functions refuse whatever the organization holds (names, path
//! and mask grammars, limits, which option goes where) is in the schemas; what depends on what is
//! stored (a transformation needs its definition; its fields must be in it and name fields of the
//! element's object; a definition's paths must not repeat or hold one another) is said in the
//! descriptions, since no JSON Schema can state it.

use std::borrow::Cow;
use std::collections::BTreeSet;

use domain::elements::Catalog;
use mapping::ObjectCatalog;
use serde_json::{json, Value};
use utoipa::openapi::extensions::Extensions;
use utoipa::openapi::schema::{
    AdditionalProperties, AllOfBuilder, AnyOfBuilder, ArrayBuilder, ObjectBuilder, OneOfBuilder, Schema, SchemaType,
    Type,
};
use utoipa::openapi::{Ref, RefOr};
use utoipa::{PartialSchema, ToSchema};

use super::request_bodies::{body_schema, string};

/// A common resource's name (`documents::check_name`): a letter, then letters, digits, `_` or `-`,
/// 64 at most.
const NAME: &str = r"^[A-Za-z][A-Za-z0-9_-]{0,63}$";
/// One step of a common path: a key, and a position in the array it holds (at most 1000).
const COMMON_STEP: &str = r"[A-Za-z0-9_]+(?:\[0*(?:1000|[0-9]{1,3})\])?";
/// One step of a vendor path: a common step, or a key and the array element whose property has a
/// value (`email_addresses[field=EMAIL1]`, or JSONPath's `[?(@.field=='EMAIL1')]`).
const VENDOR_STEP: &str = concat!(
    r"[A-Za-z0-9_]+(?:\[(?:0*(?:1000|[0-9]{1,3})",
    r#"|[A-Za-z0-9_]+=[^\[\]'"]+"#,
    r#"|\?\(\s*@\.\s*[A-Za-z0-9_]+\s*==\s*(?:'[^\[\]'"]+'|"[^\[\]'"]+"|[^\[\]'"]+?)\s*\))\])?"#
);
/// The longest path, and its most steps (`mapping::path`).
const MAX_PATH_LENGTH: usize = 512;
const MAX_STEPS: usize = 32;
/// A date mask (`mapping::DateFormat::parse`): a keyword in any case, or a Java date pattern of
/// the letters `y M d H m s S X Z` (with a year) and literal text, quoted with `'` where it holds
/// letters.
const MASK: &str = concat!(
    r"^\s*(?:[Ii][Ss][Oo]8601|[Ee][Pp][Oo][Cc][Hh]|(?:[Ee][Pp][Oo][Cc][Hh])?(?:[Ss][Ee][Cc][Oo][Nn][Dd][Ss]",
    r"|[Mm][Ii][Ll][Ll][Ii][Ss][Ee][Cc][Oo][Nn][Dd][Ss])|[Mm][Ii][Ll][Ll][Ii][Ss])\s*$",
    r"|^(?:[^A-Za-z']|'(?:[^']|'')*'|[yMdHmsSXZ])*y(?:[^A-Za-z']|'(?:[^']|'')*'|[yMdHmsSXZ])*$"
);
/// The most fields a document holds (`documents::MAX_FIELDS`).
const MAX_FIELDS: usize = mapping::common::documents::MAX_FIELDS;

fn any() -> ObjectBuilder {
    ObjectBuilder::new().schema_type(SchemaType::AnyValue)
}

fn closed(schema: ObjectBuilder) -> ObjectBuilder {
    schema.additional_properties(Some(AdditionalProperties::FreeForm(false)))
}

fn reference(name: &str) -> Ref {
    Ref::from_schema_name(name)
}

/// `^step(\.step){0,31}$`: a path of at most [`MAX_STEPS`] steps.
fn path_pattern(step: &str) -> String {
    format!(r"^{step}(?:\.{step}){{0,{}}}$", MAX_STEPS - 1)
}

/// The names no common resource may take: every element's objects and the hub API's own path
/// segments, in any case (`[Cc][Oo]...`).
fn taken_names() -> String {
    let catalog = ObjectCatalog::builtin();
    let mut names: BTreeSet<String> = Catalog::builtin()
        .keys()
        .into_iter()
        .flat_map(|key| catalog.objects(key).map(|(name, _)| name.to_ascii_lowercase()).collect::<Vec<_>>())
        .collect();
    names.extend(hub::objects::RESERVED_NAMES.iter().map(|name| name.to_string()));
    let any_case = |name: &String| -> String {
        name.chars()
            .map(|c| match c.is_ascii_alphabetic() {
                true => format!("[{}{}]", c.to_ascii_uppercase(), c.to_ascii_lowercase()),
                false => c.to_string(),
            })
            .collect()
    };
    format!("^(?:{})$", names.iter().map(any_case).collect::<Vec<_>>().join("|"))
}

/// A common resource's name, as a path parameter or a key.
pub fn object_name() -> ObjectBuilder {
    string()
        .pattern(Some(NAME))
        .max_length(Some(64))
        .description(Some(
            "The common resource's name: a letter, then letters, digits, `_` or `-`. Names are matched \
             ignoring case, and may not be an element object's (`contacts`) nor a hub path's (`bulk`, \
             `raw`, `objects`, `ping`)",
        ))
        .extensions(Some(Extensions::from_iter([("not", json!({ "pattern": taken_names() }))])))
}

/// A date field's format, or `null`.
fn mask(description: &str) -> ObjectBuilder {
    string().schema_type(SchemaType::from_iter([Type::String, Type::Null])).pattern(Some(MASK)).description(Some(
        format!(
            "{description}: `iso8601`, `epochSeconds`, `epochMilliseconds`, or a Java date pattern of the letters \
             y M d H m s S X Z with a year (`dd/MM/yyyy`; literal letters in quotes)"
        ),
    ))
}

/// A field type (`string`, `number`, `boolean`, `date`); with `nullable`, also `null` (absent).
fn field_type(nullable: bool) -> ObjectBuilder {
    let types: Vec<Value> = ["string", "number", "boolean", "date"].into_iter().map(Value::from).collect();
    match nullable {
        true => string()
            .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
            .enum_values(Some(types.into_iter().chain([Value::Null]))),
        false => string().enum_values(Some(types)),
    }
}

fn common_path(description: &str) -> ObjectBuilder {
    string().pattern(Some(path_pattern(COMMON_STEP))).max_length(Some(MAX_PATH_LENGTH)).description(Some(description))
}

/// Which directions an option applies to (both when left out).
fn directions(description: &str) -> ObjectBuilder {
    closed(ObjectBuilder::new())
        .property("fromVendor", ObjectBuilder::new().schema_type(Type::Boolean).description(Some("Default: true")))
        .property("toVendor", ObjectBuilder::new().schema_type(Type::Boolean).description(Some("Default: true")))
        .description(Some(description))
}

/// An option `{"type": kind, "properties": ...}`.
fn option(kind: &str, properties: ObjectBuilder, description: &str) -> ObjectBuilder {
    closed(ObjectBuilder::new())
        .property("type", string().enum_values(Some([kind])))
        .property("properties", properties)
        .required("type")
        .description(Some(description))
}

fn add_to_documentation() -> ObjectBuilder {
    option("addToDocumentation", any(), "Accepted for the platforms' clients: every common resource is documented")
}

body_schema! {
    /// One field of a definition.
    DefinedField => {
        let fields = closed(ObjectBuilder::new())
            .property("path", common_path(
                "Where the field sits in the common record: keys and array positions (`name.first`, \
                 `emails[0].value`), at most 32 steps",
            ))
            .property("type", field_type(false))
            .property("mask", mask("For a date: how records show it (ISO 8601 in UTC when absent)"))
            .required("path")
            .required("type");
        // A mask is for dates only.
        let mask_for_dates = AnyOfBuilder::new()
            .item(ObjectBuilder::new().property("type", string().enum_values(Some(["date"]))))
            .item(ObjectBuilder::new().property("mask", ObjectBuilder::new().schema_type(Type::Null)));
        AllOfBuilder::new().item(fields).item(mask_for_dates).into()
    }
}

body_schema! {
    /// A definition, as `POST`/`PUT` send it.
    Definition => closed(ObjectBuilder::new())
        .property(
            "fields",
            ArrayBuilder::new()
                .items(reference("DefinedField"))
                .min_items(Some(1))
                .max_items(Some(MAX_FIELDS))
                .description(Some(
                    "The resource's fields. No two paths may be the same ignoring case, nor one hold the other \
                     (`address` and `address.city`)",
                )),
        )
        .property("level", any().description(Some("Ignored: the level is the route's")))
        .required("fields")
        .description(Some(
            "A common resource's fields. Replacing a definition that transformations map is refused when one \
             of them would no longer fit",
        ))
        .into()
}

body_schema! {
    /// Several definitions by name, created at once (`POST /organizations/objects/definitions`).
    Definitions => ObjectBuilder::new()
        .property_names(Some(object_name()))
        .additional_properties(Some(reference("Definition")))
        .min_properties(Some(1))
        .description(Some("Definitions by name: each is checked before any is stored; a name that exists is a 409"))
        .into()
}

body_schema! {
    /// A definition as the routes answer it.
    StoredDefinition => ObjectBuilder::new()
        .property("fields", ArrayBuilder::new().items(reference("DefinedField")))
        .property("level", string().enum_values(Some(["organization", "instance"])))
        .required("fields")
        .required("level")
        .into()
}

body_schema! {
    /// Definitions by name, as the list routes answer them.
    StoredDefinitions => ObjectBuilder::new()
        .additional_properties(Some(reference("StoredDefinition")))
        .description(Some("Definitions by name"))
        .into()
}

body_schema! {
    /// One field of a transformation.
    MappedField => {
        let vendor_path = string()
            .pattern(Some(path_pattern(VENDOR_STEP)))
            .max_length(Some(MAX_PATH_LENGTH))
            .description(Some(
                "A field of the element's object (`Email`), or a path in the vendor's own record under one of \
                 its fields (`email_addresses[field=EMAIL3].email`, `addresses[0].locality`)",
            ));
        let options = OneOfBuilder::new()
            .item(option(
                "remove",
                directions("Default: both"),
                "Leave the field out of records read (`fromVendor`) and drop it from writes (`toVendor`)",
            ))
            .item(add_to_documentation());
        closed(ObjectBuilder::new())
            .property("path", common_path("The common field: a path of the definition"))
            .property("vendorPath", vendor_path)
            .property("type", field_type(true).description(Some("The common type; must be the definition's")))
            .property(
                "vendorType",
                field_type(true).description(Some(
                    "What the vendor side holds when it differs from the element field's type (`date` for a date \
                     kept in a text field, with a `mask`)",
                )),
            )
            .property("mask", mask("For a date on the vendor side: its format"))
            .property("configuration", ArrayBuilder::new().items(options))
            .required("path")
            .required("vendorPath")
            .into()
    }
}

/// A transformation's fields and options, as sent or answered.
fn transformation(vendor_name: ObjectBuilder) -> ObjectBuilder {
    let options = OneOfBuilder::new()
        .item(option(
            "passThrough",
            directions("Default: both"),
            "The element object's unmapped fields pass under their own names, in records read (`fromVendor`) \
             and writes (`toVendor`)",
        ))
        .item(add_to_documentation());
    ObjectBuilder::new()
        .property("vendorName", vendor_name)
        .property(
            "fields",
            ArrayBuilder::new()
                .items(reference("MappedField"))
                .max_items(Some(MAX_FIELDS))
                .description(Some("Each common field once; each must be in the definition")),
        )
        .property("configuration", ArrayBuilder::new().items(options))
}

body_schema! {
    /// A transformation, as `POST`/`PUT` send it.
    Transformation => {
        let objects: BTreeSet<&str> = Catalog::builtin()
            .keys()
            .into_iter()
            .flat_map(|key| ObjectCatalog::builtin().objects(key).map(|(name, _)| name).collect::<Vec<_>>())
            .collect();
        let vendor_name = string()
            .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
            .enum_values(Some(objects.into_iter().map(Value::from).chain([Value::Null])))
            .description(Some(
                "The element object it maps (an object of the route's element, or of the instance's). An \
                 instance's transformation may leave it to its organization's",
            ));
        let ignored = || any().description(Some("Ignored: the platforms' clients echo what they read"));
        closed(transformation(vendor_name))
            .property(
                "script",
                ObjectBuilder::new()
                    .schema_type(Type::Null)
                    .description(Some("Not supported: transformation scripts are refused; map fields with vendorPath")),
            )
            .property("level", ignored())
            .property("startDate", ignored())
            .property("objectName", ignored())
            .description(Some(
                "How a common resource maps onto one element object, field by field. It needs the resource's \
                 definition (a 400 otherwise) and must fit the element's object: every field of the definition's, \
                 every vendorPath one of the object's fields or a path under one, and the types convertible. An \
                 instance's transformation overrides its organization's field by field",
            ))
            .into()
    }
}

body_schema! {
    /// A transformation as the routes answer it.
    StoredTransformation => transformation(string())
        .property("level", string().enum_values(Some(["organization", "instance"])))
        .property("objectName", string())
        .property("startDate", string().description(Some("When it was first stored (`2014-12-12 18:03:32.012321`, UTC)")))
        .required("fields")
        .required("level")
        .required("objectName")
        .required("startDate")
        .into()
}

body_schema! {
    /// Transformations by name, as the list routes answer them.
    StoredTransformations => ObjectBuilder::new()
        .additional_properties(Some(reference("StoredTransformation")))
        .description(Some("Transformations by name"))
        .into()
}

/// A path parameter's `objectName`.
pub struct ObjectName;

impl PartialSchema for ObjectName {
    fn schema() -> RefOr<Schema> {
        object_name().into()
    }
}

impl ToSchema for ObjectName {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("ObjectName")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_name_the_hub_gives_is_left_to_a_common_resource() {
        let taken = taken_names();
        for key in Catalog::builtin().keys() {
            for (name, _) in ObjectCatalog::builtin().objects(key) {
                let any_case: String =
                    name.chars().map(|c| format!("[{}{}]", c.to_ascii_uppercase(), c.to_ascii_lowercase())).collect();
                assert!(taken.contains(&any_case), "{name} in {taken}");
            }
        }
        assert!(taken.contains("[Bb][Uu][Ll][Kk]") && taken.starts_with("^(?:") && taken.ends_with(")$"));
    }
}
