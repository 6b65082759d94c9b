//! The platform API's request bodies as the handlers read them, for the platform document: what
//! each requires, the types and bounds of its fields, and whether it refuses unknown fields.
//!
//! The handlers read bodies as JSON values field by field ([`crate::provisioning`],
//! [`crate::instances`], [`crate::reauthentication`], [`crate::organizations`],
//! [`crate::instance_configuration`]; `domain::oauth_url` for the OAuth URL), so each schema here is
//! written by hand beside the rules it restates: required fields, `null` read as absent, names
//! trimmed and free of control characters. The schemathesis run of `.ci/run` holds the two to
//! each other.

use std::borrow::Cow;

use serde_json::json;
use utoipa::openapi::schema::{
    AdditionalProperties, AllOfBuilder, AnyOfBuilder, ArrayBuilder, ObjectBuilder, Schema, SchemaType, Type,
};
use utoipa::openapi::RefOr;
use utoipa::{PartialSchema, ToSchema};

/// Text with something besides spaces in it and no control characters (the handlers trim names and
/// refuse control characters: PostgreSQL cannot store NUL).
const PLAIN_TEXT: &str = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$";
/// `local@domain`, one `@`, no whitespace, around which spaces are trimmed.
const EMAIL: &str = r"^\s*[^@\s\x00-\x1f\x7f-\x9f]+@[^@\s\x00-\x1f\x7f-\x9f]+\s*$";
/// Not blank.
const NOT_BLANK: &str = r"\S";

/// Declares a body type whose schema is built by hand: `$name` is its component name.
macro_rules! body_schema {
    ($(#[$doc:meta])* $name:ident => $schema:expr) => {
        $(#[$doc])*
        pub struct $name;

        impl PartialSchema for $name {
            fn schema() -> RefOr<Schema> {
                $schema
            }
        }

        impl ToSchema for $name {
            fn name() -> Cow<'static, str> {
                Cow::Borrowed(stringify!($name))
            }
        }
    };
}

pub(super) use body_schema;

pub(super) fn string() -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::String)
}

/// `json_type` or `null` (the handlers read a `null` field as absent).
fn or_null(json_type: Type) -> SchemaType {
    SchemaType::from_iter([json_type, Type::Null])
}

fn closed(schema: ObjectBuilder) -> ObjectBuilder {
    schema.additional_properties(Some(AdditionalProperties::FreeForm(false)))
}

/// An instance's name (`domain::instance_fields`): at most 255 characters.
fn instance_name() -> ObjectBuilder {
    string()
        .schema_type(or_null(Type::String))
        .pattern(Some(PLAIN_TEXT))
        .max_length(Some(255))
        .description(Some("Default: the element's name"))
}

/// An instance's tags: at most 100, each at most 128 characters (blank ones are dropped).
fn tags() -> ArrayBuilder {
    let tag = string().max_length(Some(128)).pattern(Some(r"^[^\x00-\x1f\x7f-\x9f]*$"));
    ArrayBuilder::new().schema_type(or_null(Type::Array)).items(tag).max_items(Some(100))
}

/// The configuration entries to set, by key.
fn configuration() -> ObjectBuilder {
    ObjectBuilder::new().schema_type(or_null(Type::Object)).description(Some(
        "Configuration keys and their values, as GET /elements/{keyOrId}/configuration lists them \
         (which are required, their types); unknown keys are refused, the platform-reserved \
         `username`, `password` and `provisioning` ignored",
    ))
}

/// `{"code": ...}`: the code the vendor's redirect carried.
fn provider_data() -> ObjectBuilder {
    ObjectBuilder::new()
        .property("code", string().pattern(Some(NOT_BLANK)).description(Some("The OAuth authorization code")))
        .required("code")
}

/// The fields of a create, with or without the element (`POST /elements/{keyOrId}/instances`
/// takes it from the path).
fn instance_create(element: Option<RefOr<Schema>>) -> RefOr<Schema> {
    let external = string()
        .schema_type(or_null(Type::String))
        .enum_values(Some([json!("none"), json!("initial"), json!(null)]))
        .description(Some("`initial`: the configuration carries a refresh token to start from, and no code is sent"));
    let mut fields = ObjectBuilder::new()
        .property("providerData", provider_data())
        .property("configuration", configuration())
        .property("name", instance_name())
        .property("tags", tags())
        .property("externalAuthentication", external);
    if let Some(element) = element {
        fields = fields.property("element", element).required("element");
    }
    // A code, unless the instance starts from a refresh token.
    let code_or_initial = AnyOfBuilder::new().item(ObjectBuilder::new().required("providerData")).item(
        ObjectBuilder::new()
            .required("externalAuthentication")
            .property("externalAuthentication", string().enum_values(Some(["initial"]))),
    );
    AllOfBuilder::new().item(fields).item(code_or_initial).into()
}

body_schema! {
    /// `POST /instances`.
    InstanceCreate => {
        let key = string().min_length(Some(1)).description(Some("The element's key (`infusionsoftcrm`)"));
        let id = ObjectBuilder::new()
            .schema_type(SchemaType::from_iter([Type::Integer, Type::String]))
            .min_length(Some(1))
            .description(Some("Or the element's id"));
        let element = ObjectBuilder::new().property("key", key).property("id", id).description(Some("The element"));
        let by_key_or_id =
            AnyOfBuilder::new().item(ObjectBuilder::new().required("key")).item(ObjectBuilder::new().required("id"));
        instance_create(Some(AllOfBuilder::new().item(element).item(by_key_or_id).into()))
    }
}

body_schema! {
    /// `POST /elements/{keyOrId}/instances`: the element is the path's.
    ElementInstanceCreate => instance_create(None)
}

body_schema! {
    /// `PATCH /instances/{id}`: what the body names changes.
    InstanceUpdate => ObjectBuilder::new()
        .property("name", instance_name())
        .property("tags", tags().description(Some("Replaces the tags")))
        .property(
            "disabled",
            ObjectBuilder::new().schema_type(or_null(Type::Boolean)).description(Some("Disabled instances' hub calls get 403")),
        )
        .property("configuration", configuration().description(Some(
            "Entries to change (merged); masked secrets sent back are left alone; the token keys the platform keeps are refused",
        )))
        .into()
}

body_schema! {
    /// `PUT /instances/{id}?reAuthenticate=true`: the instance as read, with a new code.
    InstanceReauthentication => ObjectBuilder::new()
        .property("providerData", provider_data())
        .required("providerData")
        .property("name", instance_name())
        .property("tags", tags())
        .property("configuration", configuration())
        .into()
}

body_schema! {
    /// `PATCH /instances/{id}/configuration/{configId}`.
    ConfigurationChange => ObjectBuilder::new()
        .property("propertyValue", ObjectBuilder::new().description(Some("The entry's new value (its type as the element lists it)")))
        .required("propertyValue")
        .into()
}

body_schema! {
    /// `POST /elements/{keyOrId}/oauth/url` (`domain::oauth_url`): unknown fields are ignored.
    OAuthUrlRequest => {
        let text = |description: &str| {
            string().schema_type(or_null(Type::String)).description(Some(description.to_string()))
        };
        let required = |description: &str| string().pattern(Some(NOT_BLANK)).description(Some(description.to_string()));
        ObjectBuilder::new()
            .property("apiKey", required("The OAuth client id"))
            .property("apiSecret", required("The OAuth client secret (never put in the URL)"))
            .property(
                "callbackUrl",
                required("The redirect URI registered with the vendor: an absolute http(s) URL")
                    .pattern(Some(r"^\s*[Hh][Tt][Tt][Pp][Ss]?://[^\s/?#]+\S*\s*$")),
            )
            .property("state", text("Default: the element key"))
            .property("scope", text("Default: `full`"))
            .property("siteAddress", text("Accepted and ignored"))
            .required("apiKey")
            .required("apiSecret")
            .required("callbackUrl")
            .into()
    }
}

body_schema! {
    /// `POST /organizations`: unknown fields are refused by name.
    OrganizationCreate => {
        let user = closed(ObjectBuilder::new())
            .schema_type(or_null(Type::Object))
            .property("email", string().pattern(Some(EMAIL)).max_length(Some(254)))
            .required("email")
            .description(Some("The organization's first admin; its secret is in the answer, this once"));
        closed(ObjectBuilder::new())
            .property("name", string().pattern(Some(PLAIN_TEXT)).max_length(Some(100)))
            .property("user", user)
            .required("name")
            .into()
    }
}

body_schema! {
    /// `POST /users`: unknown fields are refused by name.
    UserCreate => closed(ObjectBuilder::new())
        .property("email", string().pattern(Some(EMAIL)).max_length(Some(254)))
        .property("admin", ObjectBuilder::new().schema_type(or_null(Type::Boolean)).description(Some("Default: false")))
        .required("email")
        .into()
}
