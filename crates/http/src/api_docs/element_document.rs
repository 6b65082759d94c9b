//! The OpenAPI 3.1 document of one element's hub API, generated from the object catalog
//! ([`mapping::ObjectCatalog`]): one list path and one record path per object, as its operations
//! allow, its child objects, and the routes every hub serves (objects, metadata, ping, inventory,
//! raw, and the bulk jobs of `bulk_document`). Nothing here lists objects by hand: a new catalog
//! entry is documented as it is served.
//!
//! Built with utoipa's `openapi` types rather than `json!`: they are barely longer and make a
//! misspelt OpenAPI key a compile error. The paths mirror the routes of [`crate::hub::routes`]; the
//! `api_docs` integration test calls every documented path on a live instance to keep them in step.

use mapping::{FieldDef, FieldType, ObjectCatalog, ObjectDef, Operation as Allowed, WriteMode};
use serde_json::Value;
use utoipa::openapi::extensions::Extensions;
use utoipa::openapi::path::{HttpMethod, OperationBuilder, Parameter, ParameterBuilder, ParameterIn, ParameterStyle};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::schema::{
    AdditionalProperties, AllOfBuilder, AnyOfBuilder, ArrayBuilder, KnownFormat, ObjectBuilder, Schema, SchemaFormat,
    SchemaType, Type,
};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{
    Components, ContentBuilder, HeaderBuilder, InfoBuilder, OpenApi, OpenApiBuilder, PathItem, Paths, Ref, RefOr,
    Required, Server,
};

use domain::elements::Element;

/// The name of the `Authorization` header's security scheme in every document.
pub const SECURITY_SCHEME: &str = "elements";
/// How the `Authorization` header is written, for the security scheme's description.
pub const AUTHORIZATION_FORMAT: &str =
    "User <user secret>, Organization <organization secret>, Element <instance token>";
/// The schema every error answer has (see [`crate::error`]).
pub const ERROR_SCHEMA: &str = "Error";

/// The hub's list page size when none is named, and the largest one (see `hub::list`).
const DEFAULT_PAGE_SIZE: u32 = 200;
const MAX_PAGE_SIZE: u32 = 5000;
/// The largest record id documented: JSON numbers are exact integers up to 2^53 - 1.
const MAX_ID: i64 = 9_007_199_254_740_991;
/// The largest stock change the vendor takes at once.
const MAX_INVENTORY_CHANGE: u32 = 1_000_000;
/// How far pages by number reach (see `hub::list::MAX_SORTED_ROWS`).
const MAX_PAGE_OFFSET: usize = hub::list::MAX_SORTED_ROWS;

/// The raw passthrough's vendor paths (see `hub::raw`): safe segments, none `.` or `..`, and no
/// `:` in the first (it would make a URL of the path).
const RAW_PATH: &str = concat!(
    r"^(?:\.{0,2}[A-Za-z0-9_~,-][A-Za-z0-9._~,-]*|\.{3}[A-Za-z0-9._~,-]*)",
    r"(?:/(?:\.{0,2}[A-Za-z0-9_~:,-][A-Za-z0-9._~:,-]*|\.{3}[A-Za-z0-9._~:,-]*))*$"
);

const WHERE_HELP: &str = "CEQL condition over the object's fields: comparisons `=`, `!=`, `<`, `<=`, `>`, `>=`; \
    `[NOT] LIKE 'pattern'` (`%` any run, `_` one character); `[NOT] IN ('a', 'b')`; `IS [NOT] NULL`; \
    combined with `AND`, `OR`, `NOT` and parentheses. Text in single quotes, dates as ISO 8601 text. \
    Example: `LastName = 'Lovelace' AND DateCreated > '2024-01-01T00:00:00Z'`.";

/// The document of `element`'s hub API, served from `public_url` (no trailing slash).
pub fn build(public_url: &str, element: &Element) -> OpenApi {
    let hub = element.hub.as_str();
    let mut paths = Paths::new();
    let mut components = Components::new();
    components.schemas.insert(ERROR_SCHEMA.into(), error_schema().into());
    for (name, object) in ObjectCatalog::builtin().objects(&element.key) {
        add_object(&mut paths, &mut components, &format!("/hubs/{hub}/{name}"), &[name], object);
        for (child, definition) in &object.children {
            let base = format!("/hubs/{hub}/{name}/{{id}}/{child}");
            add_object(&mut paths, &mut components, &base, &[name, child], definition);
        }
    }
    add_hub_routes(&mut paths, &mut components, hub, element);
    components.security_schemes.insert(
        SECURITY_SCHEME.into(),
        SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description("Authorization", AUTHORIZATION_FORMAT)))
            .into(),
    );
    let description = format!(
        "The hub API of {} (hub `{hub}`): the vendor's data under the platform's object and field names. \
         Every call carries `Authorization: {AUTHORIZATION_FORMAT}`.",
        element.name
    );
    OpenApiBuilder::new()
        .info(InfoBuilder::new().title(format!("{} hub API", element.name)).version("1").description(Some(description)))
        .servers(Some([Server::new(format!("{public_url}{}", crate::API_PREFIX))]))
        .paths(paths)
        .components(Some(components))
        .security(Some([SecurityRequirement::new(SECURITY_SCHEME, Vec::<String>::new())]))
        .build()
}

/// The list and record paths of one object (or child object `names = [parent, child]`) under
/// `base`, with the operations its definition allows, and the schemas they name: the record as
/// read (`Contact`), and the bodies of a create (`ContactCreate`) and an update (`ContactUpdate`).
fn add_object(paths: &mut Paths, components: &mut Components, base: &str, names: &[&str], object: &ObjectDef) {
    let tag = names[0];
    let plural = type_name(names);
    let singular = singular(&plural);
    let shown = names.join(" ");
    let parent_id = (names.len() > 1).then(|| id_parameter("id", "The parent record's id"));
    components.schemas.insert(singular.clone(), record_schema(object).into());
    let record = Ref::from_schema_name(&singular);

    let mut list = PathItem::default();
    if object.allows(Allowed::List) {
        let mut operation = operation(tag, &format!("get{plural}"), &format!("List {shown}"))
            .parameters(Some(parent_id.clone().into_iter().chain(list_parameters(object))))
            .response("200", list_response(&record));
        operation = with_errors(operation, false);
        list.get = Some(operation.build());
    }
    if object.allows(Allowed::Create) {
        let create = format!("{singular}Create");
        components.schemas.insert(create.clone(), write_schema(object, WriteMode::Create));
        let operation = operation(tag, &format!("create{singular}"), &format!("Create one of {shown}"))
            .parameters(Some(parent_id.clone()))
            .request_body(Some(body(&Ref::from_schema_name(&create))))
            .response("200", record_response("The record as created", &record));
        list.post = Some(with_errors(operation, true).build());
    }
    if list.get.is_some() || list.post.is_some() {
        paths.paths.insert(base.to_string(), list);
    }

    let (id_name, id_help) =
        if names.len() > 1 { ("childId", "The child record's id") } else { ("id", "The record's id") };
    let record_parameters =
        || parent_id.clone().into_iter().chain([id_parameter(id_name, id_help)]).collect::<Vec<_>>();
    let mut item = PathItem::default();
    if object.allows(Allowed::Get) {
        let operation = operation(tag, &format!("get{singular}"), &format!("Read one of {shown} by id"))
            .parameters(Some(record_parameters()))
            .response("200", record_response("The record", &record));
        item.get = Some(with_errors(operation, false).build());
    }
    // Children are never updated: the router has no PATCH/PUT on a child record.
    if object.allows(Allowed::Update) && names.len() == 1 {
        let update = format!("{singular}Update");
        components.schemas.insert(update.clone(), write_schema(object, WriteMode::Update));
        let update = Ref::from_schema_name(&update);
        let patch = operation(tag, &format!("update{singular}"), &format!("Update one of {shown}"))
            .description(Some("Changes the fields the body names and keeps the others; `null` clears a field."))
            .parameters(Some(record_parameters()))
            .request_body(Some(body(&update)))
            .response("200", record_response("The record as updated", &record));
        item.patch = Some(with_errors(patch, true).build());
        let put = operation(tag, &format!("replace{singular}"), &format!("Update one of {shown} (as PATCH)"))
            .description(Some("Like PATCH: the vendor has no whole-record replace, so unnamed fields are kept."))
            .parameters(Some(record_parameters()))
            .request_body(Some(body(&update)))
            .response("200", record_response("The record as updated", &record));
        item.put = Some(with_errors(put, true).build());
    }
    if object.allows(Allowed::Delete) {
        let operation = operation(tag, &format!("delete{singular}"), &format!("Delete one of {shown}"))
            .parameters(Some(record_parameters()))
            .response("200", Response::new("Deleted; the body is empty"));
        item.delete = Some(with_errors(operation, true).build());
    }
    if item.get.is_some() || item.patch.is_some() || item.delete.is_some() {
        paths.paths.insert(format!("{base}/{{{id_name}}}"), item);
    }
}

/// The routes every hub serves whatever its objects: the catalog, ping, inventory, raw and bulk.
fn add_hub_routes(paths: &mut Paths, components: &mut Components, hub: &str, element: &Element) {
    let any = || RefOr::T(Schema::from(ObjectBuilder::new()));
    let json_of = |description: &str| {
        ResponseBuilder::new()
            .description(description)
            .content("application/json", ContentBuilder::new().schema(Some(any())).build())
            .build()
    };

    let objects = operation("objects", "getObjects", "List the names of the hub's objects")
        .response("200", json_array_of_strings());
    paths.paths.insert(format!("/hubs/{hub}/objects"), PathItem::new(HttpMethod::Get, with_errors(objects, false)));

    let object_name = ParameterBuilder::new()
        .name("object")
        .parameter_in(ParameterIn::Path)
        .required(Required::True)
        .description(Some("An object name from GET /objects"))
        .schema(Some(string()))
        .build();
    let metadata = operation("objects", "getObjectMetadata", "Describe an object's fields")
        .description(Some("Each field's name, type, whether it is writable, filterable and sortable."))
        .parameter(object_name)
        .response("200", json_of("The object's metadata"));
    paths.paths.insert(
        format!("/hubs/{hub}/objects/{{object}}/metadata"),
        PathItem::new(HttpMethod::Get, with_errors(metadata, false)),
    );

    let ping = operation("ping", "ping", "Check the instance's vendor credentials with one cheap call")
        .response("200", json_of("`instanceId`, `element`, `valid`, `vendorStatus`, `latencyMs`"));
    paths.paths.insert(format!("/hubs/{hub}/ping"), PathItem::new(HttpMethod::Get, with_errors(ping, false)));

    if ObjectCatalog::builtin().object(&element.key, "products").is_some() {
        add_inventory(paths, components, hub);
    }
    add_raw(paths, hub);
    super::bulk_document::add(paths, components, hub, element);
}

fn add_inventory(paths: &mut Paths, components: &mut Components, hub: &str) {
    // A product the vendor has never stocked has no inventory values: null.
    let id = || ObjectBuilder::new().schema_type(Type::Integer).read_only(true);
    let inventory = ObjectBuilder::new()
        .property("Id", id())
        .property(hub::shape::GENERIC_ID, id().description(Some("The same value as Id, for generic clients")))
        .property("Quantity", nullable(number()))
        .property("InventoryLimit", nullable(number()))
        .property("OutOfStockEnabled", nullable(ObjectBuilder::new().schema_type(Type::Boolean)));
    components.schemas.insert("Inventory".into(), inventory.into());
    let change = ObjectBuilder::new()
        .property("Action", ObjectBuilder::new().schema_type(Type::String).enum_values(Some(["increase", "decrease"])))
        .property(
            "Quantity",
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .minimum(Some(1))
                .maximum(Some(MAX_INVENTORY_CHANGE))
                .description(Some("The stock cannot go below zero: the vendor refuses such a decrease")),
        )
        .required("Action")
        .required("Quantity")
        .additional_properties(Some(AdditionalProperties::FreeForm(false)));
    components.schemas.insert("InventoryChange".into(), change.into());

    let inventory_ref = Ref::from_schema_name("Inventory");
    let id = || id_parameter("id", "The product's id");
    let show = operation("products", "getProductInventory", "Read a product's stock")
        .parameter(id())
        .response("200", record_response("The product's stock", &inventory_ref));
    let adjust = operation("products", "adjustProductInventory", "Increase or decrease a product's stock")
        .parameter(id())
        .request_body(Some(body(&Ref::from_schema_name("InventoryChange"))))
        .response("200", record_response("The product's stock after the change", &inventory_ref));
    let mut item = PathItem::new(HttpMethod::Get, with_errors(show, false));
    item.patch = Some(with_errors(adjust, true).build());
    paths.paths.insert(format!("/hubs/{hub}/products/{{id}}/inventory"), item);
}

/// `ANY /raw/{path}`: one operation per method clients use, each answering the vendor as it came.
fn add_raw(paths: &mut Paths, hub: &str) {
    let raw = |method: &str| {
        let path = ParameterBuilder::new()
            .name("path")
            .parameter_in(ParameterIn::Path)
            .required(Required::True)
            .description(Some(
                "The vendor REST path under its base (`v2/contacts`): segments of letters, digits and \
                 `- _ . ~ : ,` separated by `/`, none of them `.` or `..`, no `:` in the first",
            ))
            .schema(Some(string().pattern(Some(RAW_PATH)).max_length(Some(2048))))
            .build();
        let summary = format!("{} a vendor REST path with the instance's credentials", method.to_ascii_uppercase());
        // Whatever the vendor answers, with its status and content type, is passed on: the
        // answers are not Junction's to describe (Junction's own errors, such as a 401, are JSON
        // with the Error schema).
        operation("raw", &format!("raw{}", capitalized(method)), &summary)
            .description(Some("The vendor's status, body and useful headers are returned as they came."))
            .parameter(path)
            .response("200", Response::new("The vendor's answer"))
            .response("default", Response::new("The vendor's answer, or Junction's own error"))
            .build()
    };
    let mut item = PathItem::new(HttpMethod::Get, raw("get"));
    item.post = Some(raw("post"));
    item.put = Some(raw("put"));
    item.patch = Some(raw("patch"));
    item.delete = Some(raw("delete"));
    paths.paths.insert(format!("/hubs/{hub}/raw/{{path}}"), item);
}

/// An object's record as read: every field with its JSON type, `null` where the vendor has no value
/// (unless the instance drops nulls), read-only unless writable.
fn record_schema(object: &ObjectDef) -> ObjectBuilder {
    let id_name = object.id().map(|id| id.name.as_str());
    let schema = object.fields.iter().fold(ObjectBuilder::new(), |schema, field| {
        let value = value_schema(field.field_type);
        let value = if Some(field.name.as_str()) == id_name { value } else { nullable(value) };
        let value = value.description(field.description.clone());
        schema.property(&field.name, if field.writable { value } else { value.read_only(true) })
    });
    match object.id().filter(|id| id.name != hub::shape::GENERIC_ID) {
        // Every record also carries its id as `id`, for the platforms' generic client helpers.
        Some(id) => schema.property(
            hub::shape::GENERIC_ID,
            value_schema(id.field_type)
                .read_only(true)
                .description(Some(format!("The same value as {}, for generic clients", id.name))),
        ),
        None => schema,
    }
}

/// The body of a create or an update: the writable fields only (others are refused by name), each
/// as the vendor accepts it, at least one of them. `null` clears a field, except one the vendor
/// requires; a create must give the fields the vendor requires and Junction cannot default.
fn write_schema(object: &ObjectDef, mode: WriteMode) -> RefOr<Schema> {
    let writable: Vec<&FieldDef> = object.fields.iter().filter(|field| field.writable).collect();
    let mut schema =
        ObjectBuilder::new().additional_properties(Some(AdditionalProperties::FreeForm(false))).min_properties(Some(1));
    let mut rules = Vec::new();
    for field in &writable {
        let defaulted = field.create_default.is_some() || field.create_default_from.is_some();
        let required = field.required_on_create.is_some();
        let non_null = match mode {
            WriteMode::Update => required,
            WriteMode::Create => required && !defaulted,
        };
        let value = accepted(field);
        let value = if non_null { value } else { nullable(value) };
        schema = schema.property(&field.name, value.description(write_description(field)));
        if mode == WriteMode::Create && non_null {
            schema = schema.required(&field.name);
        }
        if mode == WriteMode::Create && required && field.create_default.is_some() {
            rules.extend(default_sources(object, field));
        }
        // On update the other field may already be in the record (a contact's number when its
        // type is written): only the vendor knows, so only a create is held to it here.
        if mode == WriteMode::Create && !field.accepts.written_with.is_empty() {
            rules.push(written_with(object, field));
        }
    }
    if mode == WriteMode::Create && !object.create_needs_one_of.is_empty() {
        let needs = object.create_needs_one_of.iter().filter_map(|name| object.field(name));
        rules.push(needs.fold(AnyOfBuilder::new(), |any, field| any.item(given(field))).into());
    }
    if rules.is_empty() {
        return schema.into();
    }
    // The rules that span fields apply beside the properties: JSON Schema's allOf.
    rules.into_iter().fold(AllOfBuilder::new().item(schema), |all, rule| all.item(rule)).into()
}

/// A field's value as a write accepts it: its type and what the vendor holds it to.
pub(super) fn accepted(field: &FieldDef) -> ObjectBuilder {
    let rules = &field.accepts;
    let mut schema = value_schema(field.field_type);
    if rules.id_of.is_some() {
        // An id, as a JSON number that is exactly an integer (up to 2^53 - 1).
        schema = value_schema(FieldType::Number).schema_type(Type::Integer).minimum(Some(1)).maximum(Some(MAX_ID));
    }
    if let Some(format) = &rules.format {
        schema = schema.format(Some(SchemaFormat::Custom(format.clone())));
    }
    if !rules.values.is_empty() {
        schema = schema.enum_values(Some(rules.values.clone()));
    }
    if let Some(length) = rules.max_length {
        schema = schema.max_length(Some(length));
    }
    if let Some(minimum) = rules.minimum {
        schema = schema.minimum(Some(minimum));
    }
    if let Some(maximum) = rules.maximum {
        schema = schema.maximum(Some(maximum));
    }
    schema.multiple_of(rules.multiple_of)
}

/// What a write should know of a field: its own description, and what the vendor refers to.
pub(super) fn write_description(field: &FieldDef) -> Option<String> {
    let reference = field.accepts.id_of.as_ref().map(|kind| format!("The Id of one of the account's {kind}"));
    let required = field.required_on_create.as_ref().map(|what| format!("Required by the vendor: {what}"));
    let parts: Vec<String> = [field.description.clone(), reference, required].into_iter().flatten().collect();
    (!parts.is_empty()).then(|| parts.join(". "))
}

/// A create that leaves out a required field with a `{Field}` default must give a field the
/// default is made of, with text in it (or the field itself).
fn default_sources(object: &ObjectDef, field: &FieldDef) -> Option<RefOr<Schema>> {
    let template = field.create_default.as_deref()?;
    let sources: Vec<&FieldDef> = template
        .split('{')
        .skip(1)
        .filter_map(|part| part.split_once('}'))
        .filter_map(|(name, _)| object.field(name))
        .collect();
    if sources.is_empty() {
        // A constant default (`true`): always filled.
        return None;
    }
    let with_text = |source: &FieldDef| -> RefOr<Schema> {
        ObjectBuilder::new().required(&source.name).property(&source.name, string().pattern(Some(r"\S"))).into()
    };
    Some(
        sources
            .into_iter()
            .fold(AnyOfBuilder::new().item(given(field)), |any, source| any.item(with_text(source)))
            .into(),
    )
}

/// A field written with others (a phone's type with its number): absent, null, or beside them.
fn written_with(object: &ObjectDef, field: &FieldDef) -> RefOr<Schema> {
    let absent_or_null = ObjectBuilder::new().property(&field.name, ObjectBuilder::new().schema_type(Type::Null));
    let together = field
        .accepts
        .written_with
        .iter()
        .filter_map(|name| object.field(name))
        .fold(ObjectBuilder::new(), |schema, other| {
            schema.required(&other.name).property(&other.name, value_schema(other.field_type))
        });
    AnyOfBuilder::new().item(absent_or_null).item(together).into()
}

/// An object that gives `field` a value (not null).
fn given(field: &FieldDef) -> RefOr<Schema> {
    ObjectBuilder::new().required(&field.name).property(&field.name, value_schema(field.field_type)).into()
}

pub(super) fn value_schema(field_type: FieldType) -> ObjectBuilder {
    match field_type {
        FieldType::String => ObjectBuilder::new().schema_type(Type::String),
        FieldType::Number => ObjectBuilder::new().schema_type(Type::Number),
        FieldType::Boolean => ObjectBuilder::new().schema_type(Type::Boolean),
        FieldType::Date => ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime))),
    }
}

/// `schema` with `null` allowed too (and among its values, when it lists them).
pub(super) fn nullable(schema: ObjectBuilder) -> ObjectBuilder {
    let mut schema = schema.build();
    if let SchemaType::Type(json_type) = schema.schema_type {
        schema.schema_type = SchemaType::from_iter([json_type, Type::Null]);
    }
    if let Some(values) = &mut schema.enum_values {
        values.push(Value::Null);
    }
    schema.into()
}

/// `{"requestId", "message", "providerMessage"?}`, as [`crate::error::ApiError`] answers.
pub fn error_schema() -> ObjectBuilder {
    ObjectBuilder::new()
        .description(Some("Every error's body"))
        .property("requestId", string().description(Some("Also in the Elements-Request-Id header")))
        .property("message", string().description(Some("What went wrong, naming the field or cause")))
        .property("providerMessage", string().description(Some("The vendor's own message, when it gave one")))
        .required("requestId")
        .required("message")
}

/// The error answers of a hub call (`write`: also 409).
pub(super) fn with_errors(operation: OperationBuilder, write: bool) -> OperationBuilder {
    let errors: &[(&str, &str)] = &[
        ("400", "Bad input: a parameter, a body field or a CEQL query, named in the message"),
        ("401", "Missing or wrong credentials, or an unknown instance token"),
        ("403", "The instance is disabled, or the vendor refused its authorization"),
        ("404", "No such object or record"),
        ("409", "The vendor reports a conflict (e.g. a duplicate)"),
        ("429", "The vendor's rate limit was reached; see Retry-After"),
        ("502", "The vendor answered with an error, or not in a usable form"),
        ("504", "The vendor did not answer in time"),
    ];
    errors
        .iter()
        .filter(|(status, _)| write || *status != "409")
        .fold(operation, |operation, (status, description)| operation.response(*status, error_response(description)))
}

/// A response with the [`ERROR_SCHEMA`] body.
pub fn error_response(description: &str) -> Response {
    ResponseBuilder::new()
        .description(description)
        .content("application/json", ContentBuilder::new().schema(Some(Ref::from_schema_name(ERROR_SCHEMA))).build())
        .build()
}

pub(super) fn operation(tag: &str, id: &str, summary: &str) -> OperationBuilder {
    OperationBuilder::new().tag(tag).operation_id(Some(id)).summary(Some(summary))
}

/// The list parameters of `object`: `orderBy` and `fields` list its field names (comma-separated
/// on the wire: OpenAPI's form style without explode); `where` is CEQL and `nextPage` an opaque
/// token, which JSON Schema cannot describe further: the 400 names what is wrong.
pub(super) fn list_parameters(object: &ObjectDef) -> Vec<Parameter> {
    let query = |name: &str, schema: RefOr<Schema>, description: &str| {
        ParameterBuilder::new()
            .name(name)
            .parameter_in(ParameterIn::Query)
            .required(Required::False)
            .description(Some(description))
            .schema(Some(schema))
            .build()
    };
    let comma_separated = |name: &str, values: Vec<String>, description: &str| {
        let mut parameter =
            query(name, ArrayBuilder::new().items(string().enum_values(Some(values))).into(), description);
        parameter.style = Some(ParameterStyle::Form);
        parameter.explode = Some(false);
        // An empty value (`orderBy=`, which generic clients send) is read as absent. utoipa has no
        // field for OpenAPI's allowEmptyValue (deprecated in 3.1, still part of it); its
        // extensions are written as they are named.
        parameter.extensions = Some(Extensions::from_iter([("allowEmptyValue", true)]));
        parameter
    };
    let names: Vec<String> = object.fields.iter().map(|field| field.name.clone()).collect();
    let sort_terms = names.iter().flat_map(|name| [name.clone(), format!("{name} asc"), format!("{name} desc")]);
    let returned = names.iter().cloned().chain([hub::shape::GENERIC_ID.to_string()]).collect();
    let integer = || ObjectBuilder::new().schema_type(Type::Integer).minimum(Some(1));
    vec![
        query("where", string().into(), WHERE_HELP),
        comma_separated(
            "orderBy",
            sort_terms.collect(),
            "Fields to sort by, comma separated, each optionally `asc` or `desc` (`LastName desc,Id`)",
        ),
        comma_separated("fields", returned, "The fields to return, comma separated (all when absent)"),
        query(
            "page",
            integer().maximum(Some(MAX_PAGE_OFFSET + 1)).into(),
            &format!(
                "The page number from 1. Pages by number reach the first {MAX_PAGE_OFFSET} matches \
                 ((page - 1) × pageSize at most {MAX_PAGE_OFFSET}); beyond, follow nextPage"
            ),
        ),
        query(
            "pageSize",
            integer().maximum(Some(MAX_PAGE_SIZE)).default(Some(DEFAULT_PAGE_SIZE.into())).into(),
            &format!("Records per page (default {DEFAULT_PAGE_SIZE}, at most {MAX_PAGE_SIZE})"),
        ),
        query(
            "nextPage",
            string().into(),
            "An opaque token: the elements-next-page-token header of the previous page of the same query \
             (same where and orderBy). Any other value is refused with a 400",
        ),
        query(
            "returnCount",
            ObjectBuilder::new().schema_type(Type::Boolean).into(),
            "When true, the number of matches is in the elements-total-count header",
        ),
    ]
}

pub(super) fn id_parameter(name: &str, description: &str) -> Parameter {
    ParameterBuilder::new()
        .name(name)
        .parameter_in(ParameterIn::Path)
        .required(Required::True)
        .description(Some(description))
        .schema(Some(ObjectBuilder::new().schema_type(Type::Integer).minimum(Some(1)).maximum(Some(MAX_ID))))
        .build()
}

pub(super) fn list_response(record: &Ref) -> Response {
    let page_token = HeaderBuilder::new()
        .schema(Some(string()))
        .description(Some("The nextPage value of the following page; absent on the last page"))
        .build();
    let total = HeaderBuilder::new()
        .schema(Some(ObjectBuilder::new().schema_type(Type::Integer)))
        .description(Some("The number of matches, when returnCount=true"))
        .build();
    ResponseBuilder::new()
        .description("One page of records")
        .content(
            "application/json",
            ContentBuilder::new().schema(Some(ArrayBuilder::new().items(record.clone()))).build(),
        )
        .header("elements-next-page-token", page_token)
        .header("elements-total-count", total)
        .build()
}

pub(super) fn record_response(description: &str, record: &Ref) -> Response {
    ResponseBuilder::new()
        .description(description)
        .content("application/json", ContentBuilder::new().schema(Some(record.clone())).build())
        .build()
}

pub(super) fn body(record: &Ref) -> utoipa::openapi::request_body::RequestBody {
    RequestBodyBuilder::new()
        .required(Some(Required::True))
        .content("application/json", ContentBuilder::new().schema(Some(record.clone())).build())
        .build()
}

fn json_array_of_strings() -> Response {
    ResponseBuilder::new()
        .description("The object names")
        .content("application/json", ContentBuilder::new().schema(Some(ArrayBuilder::new().items(string()))).build())
        .build()
}

pub(super) fn string() -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::String)
}

fn number() -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::Number)
}

/// `["orders", "items"]` → `OrderItems`; `["contacts"]` → `Contacts`.
fn type_name(names: &[&str]) -> String {
    let last = names.len() - 1;
    names
        .iter()
        .enumerate()
        .map(|(index, name)| if index < last { singular(&capitalized(name)) } else { capitalized(name) })
        .collect()
}

pub(super) fn capitalized(name: &str) -> String {
    let mut chars = name.chars();
    chars.next().map(|first| first.to_ascii_uppercase().to_string() + chars.as_str()).unwrap_or_default()
}

/// The catalog's object names are regular English plurals (`opportunities`, `contacts`).
fn singular(plural: &str) -> String {
    if let Some(stem) = plural.strip_suffix("ies") {
        format!("{stem}y")
    } else {
        plural.strip_suffix('s').unwrap_or(plural).to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_singular_and_capitalized() {
        assert_eq!(type_name(&["contacts"]), "Contacts");
        assert_eq!(type_name(&["orders", "items"]), "OrderItems");
        assert_eq!(singular("Opportunities"), "Opportunity");
        assert_eq!(singular("Contacts"), "Contact");
    }
}
