//! The OpenAPI 3.1 document of one element's hub API, generated from the object catalog
//! ([`mapping::ObjectCatalog`]): one list path and one record path per object, as its operations
//! allow, its child objects, and the routes every hub serves (objects, metadata, ping, inventory,
//! raw). Nothing here lists objects by hand: a new catalog entry is documented as it is served.
//!
//! Built with utoipa's `openapi` types rather than `json!`: they are barely longer and make a
//! misspelt OpenAPI key a compile error. The paths mirror the routes of [`crate::hub::routes`]; the
//! `api_docs` integration test calls every documented path on a live instance to keep them in step.

use mapping::{FieldDef, FieldType, ObjectCatalog, ObjectDef, Operation as Allowed};
use utoipa::openapi::path::{HttpMethod, OperationBuilder, Parameter, ParameterBuilder, ParameterIn};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::schema::{ArrayBuilder, KnownFormat, ObjectBuilder, Schema, SchemaFormat, Type};
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
        let schema_name = singular(&type_name(&[name]));
        components.schemas.insert(schema_name.clone(), object_schema(object).into());
        add_object(&mut paths, &format!("/hubs/{hub}/{name}"), &[name], &schema_name, object);
        for (child, definition) in &object.children {
            let schema_name = singular(&type_name(&[name, child]));
            components.schemas.insert(schema_name.clone(), object_schema(definition).into());
            let base = format!("/hubs/{hub}/{name}/{{id}}/{child}");
            add_object(&mut paths, &base, &[name, child], &schema_name, definition);
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
/// `base`, with the operations its definition allows.
fn add_object(paths: &mut Paths, base: &str, names: &[&str], schema_name: &str, object: &ObjectDef) {
    let tag = names[0];
    let plural = type_name(names);
    let singular = singular(&plural);
    let shown = names.join(" ");
    let parent_id = (names.len() > 1).then(|| id_parameter("id", "The parent record's id"));
    let record = Ref::from_schema_name(schema_name);

    let mut list = PathItem::default();
    if object.allows(Allowed::List) {
        let mut operation = operation(tag, &format!("get{plural}"), &format!("List {shown}"))
            .parameters(Some(parent_id.clone().into_iter().chain(list_parameters())))
            .response("200", list_response(&record));
        operation = with_errors(operation, false);
        list.get = Some(operation.build());
    }
    if object.allows(Allowed::Create) {
        let operation = operation(tag, &format!("create{singular}"), &format!("Create one of {shown}"))
            .parameters(Some(parent_id.clone()))
            .request_body(Some(body(&record)))
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
        let patch = operation(tag, &format!("update{singular}"), &format!("Update one of {shown}"))
            .description(Some("Changes the fields the body names and keeps the others."))
            .parameters(Some(record_parameters()))
            .request_body(Some(body(&record)))
            .response("200", record_response("The record as updated", &record));
        item.patch = Some(with_errors(patch, true).build());
        let put = operation(tag, &format!("replace{singular}"), &format!("Update one of {shown} (as PATCH)"))
            .description(Some("Like PATCH: the vendor has no whole-record replace, so unnamed fields are kept."))
            .parameters(Some(record_parameters()))
            .request_body(Some(body(&record)))
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

/// The routes every hub serves whatever its objects: the catalog, ping, inventory and raw.
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
}

fn add_inventory(paths: &mut Paths, components: &mut Components, hub: &str) {
    let inventory = ObjectBuilder::new()
        .property("Id", ObjectBuilder::new().schema_type(Type::Integer).read_only(true))
        .property("Quantity", number())
        .property("InventoryLimit", number())
        .property("OutOfStockEnabled", ObjectBuilder::new().schema_type(Type::Boolean));
    components.schemas.insert("Inventory".into(), inventory.into());
    let change = ObjectBuilder::new()
        .property("Action", ObjectBuilder::new().schema_type(Type::String).enum_values(Some(["increase", "decrease"])))
        .property("Quantity", ObjectBuilder::new().schema_type(Type::Integer).minimum(Some(1)))
        .required("Action")
        .required("Quantity");
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
            .description(Some("The vendor REST path under its base (`v2/contacts`); may hold `/`"))
            .schema(Some(string()))
            .build();
        let summary = format!("{} a vendor REST path with the instance's credentials", method.to_ascii_uppercase());
        let operation = operation("raw", &format!("raw{}", capitalized(method)), &summary)
            .description(Some("The vendor's status, body and useful headers are returned as they came."))
            .parameter(path)
            .response("200", Response::new("The vendor's answer"));
        with_errors(operation, true).build()
    };
    let mut item = PathItem::new(HttpMethod::Get, raw("get"));
    item.post = Some(raw("post"));
    item.put = Some(raw("put"));
    item.patch = Some(raw("patch"));
    item.delete = Some(raw("delete"));
    paths.paths.insert(format!("/hubs/{hub}/raw/{{path}}"), item);
}

/// An object's record as a schema: every field with its JSON type, read-only unless writable.
fn object_schema(object: &ObjectDef) -> ObjectBuilder {
    let schema = object
        .fields
        .iter()
        .fold(ObjectBuilder::new(), |schema, field| schema.property(&field.name, field_schema(field)));
    match object.id().filter(|id| id.name != hub::shape::GENERIC_ID) {
        // Every record also carries its id as `id`, for the platforms' generic client helpers.
        Some(id) => schema.property(
            hub::shape::GENERIC_ID,
            field_schema(id)
                .read_only(true)
                .description(Some(format!("The same value as {}, for generic clients", id.name))),
        ),
        None => schema,
    }
}

fn field_schema(field: &FieldDef) -> ObjectBuilder {
    let schema = match field.field_type {
        FieldType::String => ObjectBuilder::new().schema_type(Type::String),
        FieldType::Number => ObjectBuilder::new().schema_type(Type::Number),
        FieldType::Boolean => ObjectBuilder::new().schema_type(Type::Boolean),
        FieldType::Date => ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime))),
    };
    let schema = schema.description(field.description.clone());
    if field.writable {
        schema
    } else {
        schema.read_only(true)
    }
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
fn with_errors(operation: OperationBuilder, write: bool) -> OperationBuilder {
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

fn operation(tag: &str, id: &str, summary: &str) -> OperationBuilder {
    OperationBuilder::new().tag(tag).operation_id(Some(id)).summary(Some(summary))
}

fn list_parameters() -> Vec<Parameter> {
    let query = |name: &str, schema: ObjectBuilder, description: &str| {
        ParameterBuilder::new()
            .name(name)
            .parameter_in(ParameterIn::Query)
            .required(Required::False)
            .description(Some(description))
            .schema(Some(schema))
            .build()
    };
    let integer = || ObjectBuilder::new().schema_type(Type::Integer).minimum(Some(1));
    vec![
        query("where", string(), WHERE_HELP),
        query(
            "orderBy",
            string(),
            "Fields to sort by, comma separated, each optionally `asc` or `desc` (`LastName desc, Id`)",
        ),
        query("fields", string(), "The fields to return, comma separated (all when absent)"),
        query("page", integer(), "The page number from 1 (prefer nextPage beyond the first pages)"),
        query(
            "pageSize",
            integer().maximum(Some(MAX_PAGE_SIZE)).default(Some(DEFAULT_PAGE_SIZE.into())),
            &format!("Records per page (default {DEFAULT_PAGE_SIZE}, at most {MAX_PAGE_SIZE})"),
        ),
        query("nextPage", string(), "The elements-next-page-token of the previous page"),
        query(
            "returnCount",
            ObjectBuilder::new().schema_type(Type::Boolean),
            "When true, the number of matches is in the elements-total-count header",
        ),
    ]
}

fn id_parameter(name: &str, description: &str) -> Parameter {
    ParameterBuilder::new()
        .name(name)
        .parameter_in(ParameterIn::Path)
        .required(Required::True)
        .description(Some(description))
        .schema(Some(ObjectBuilder::new().schema_type(Type::Integer).minimum(Some(1))))
        .build()
}

fn list_response(record: &Ref) -> Response {
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

fn record_response(description: &str, record: &Ref) -> Response {
    ResponseBuilder::new()
        .description(description)
        .content("application/json", ContentBuilder::new().schema(Some(record.clone())).build())
        .build()
}

fn body(record: &Ref) -> utoipa::openapi::request_body::RequestBody {
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

fn string() -> ObjectBuilder {
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

fn capitalized(name: &str) -> String {
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
