//! The API documents against the live stack: each element's hub document lists every catalog object
//! and matches the router (every documented path answers on a real instance), the platform
//! document documents only routes that exist, both are well-formed OpenAPI, and the docs routes
//! refuse what they should (no auth, another organization, unknown element, hostile ids) with the
//! platform's JSON errors. An instance's document adds the common resources it can call, in their
//! nested shape; the element's public document knows no organization's.

use std::collections::BTreeSet;

use mapping::ObjectCatalog;
use reqwest::Method;
use serde_json::{json, Value};

use crate::common::hub::{crm, erp, Instance};
use crate::common::{error_message, Stack, StackOptions};

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];
/// The bulk API's operations under `/hubs/{hub}/` (`crate::hub::routes`).
const BULK_OPERATIONS: [(&str, &str); 7] = [
    ("bulk/query", "post"),
    ("bulk/jobs", "get"),
    ("bulk/{objectName}", "post"),
    ("bulk/{id}/status", "get"),
    ("bulk/{id}/cancel", "put"),
    ("bulk/{id}/errors", "get"),
    ("bulk/{id}/{objectName}", "get"),
];

async fn get_json(stack: &Stack, path: &str, auth: Option<&str>) -> (u16, Value) {
    let mut request = stack.http.get(stack.api(path));
    if let Some(auth) = auth {
        request = request.header("authorization", auth);
    }
    let response = request.send().await.expect("docs call");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn element_doc(stack: &Stack, key: &str) -> Value {
    let (status, doc) = get_json(stack, &format!("/elements/{key}/docs"), None).await;
    assert_eq!(status, 200, "{key} docs: {doc}");
    doc
}

async fn platform_doc(stack: &Stack) -> Value {
    let (status, doc) = get_json(stack, "/docs", None).await;
    assert_eq!(status, 200, "platform docs: {doc}");
    doc
}

/// Every `(path, method, operation)` of a document.
fn operations(doc: &Value) -> Vec<(String, &'static str, &Value)> {
    let mut found = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in METHODS {
            if let Some(operation) = item.get(method) {
                found.push((path.clone(), method, operation));
            }
        }
    }
    found
}

/// The path part of the server an operation is served from (the path's own, else the document's).
fn server_prefix(doc: &Value, path: &str) -> String {
    let server = doc["paths"][path]["servers"][0]["url"].as_str().or(doc["servers"][0]["url"].as_str());
    let url = url::Url::parse(server.expect("a server url")).expect("server url parses");
    url.path().trim_end_matches('/').to_string()
}

/// Follows a local `$ref` (`#/components/schemas/Contact`).
fn resolve<'a>(doc: &'a Value, reference: &str) -> Option<&'a Value> {
    doc.pointer(reference.strip_prefix('#')?)
}

fn collect_refs(value: &Value, refs: &mut BTreeSet<String>) {
    match value {
        Value::Object(map) => {
            for (key, inner) in map {
                match (key.as_str(), inner) {
                    ("$ref", Value::String(reference)) => {
                        refs.insert(reference.clone());
                    }
                    _ => collect_refs(inner, refs),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|item| collect_refs(item, refs)),
        _ => {}
    }
}

/// Checks what every OpenAPI consumer relies on; the panic names the document and the place.
fn assert_valid_openapi(name: &str, doc: &Value) {
    assert!(doc["openapi"].as_str().is_some_and(|version| version.starts_with("3.")), "{name}: openapi {doc}");
    assert!(doc["info"]["title"].is_string() && doc["info"]["version"].is_string(), "{name}: info");
    assert!(doc["paths"].as_object().is_some_and(|paths| !paths.is_empty()), "{name}: paths");
    let mut refs = BTreeSet::new();
    collect_refs(doc, &mut refs);
    assert!(!refs.is_empty(), "{name}: schemas are referenced");
    for reference in &refs {
        assert!(reference.starts_with("#/components/"), "{name}: non-local $ref {reference}");
        assert!(resolve(doc, reference).is_some(), "{name}: $ref {reference} does not resolve");
    }
    let schemes = doc["components"]["securitySchemes"].as_object().cloned().unwrap_or_default();
    let mut ids = BTreeSet::new();
    for (path, method, operation) in operations(doc) {
        let at = format!("{name}: {method} {path}");
        let id = operation["operationId"].as_str().unwrap_or_else(|| panic!("{at}: operationId"));
        assert!(ids.insert(id.to_string()), "{at}: operationId {id} is used twice");
        assert!(operation["summary"].is_string(), "{at}: summary");
        assert!(operation["tags"].as_array().is_some_and(|tags| !tags.is_empty()), "{at}: tags");
        assert!(operation["responses"].as_object().is_some_and(|r| r.contains_key("200")), "{at}: 200 response");
        let declared: BTreeSet<&str> = operation["parameters"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|parameter| parameter["in"] == "path")
            .map(|parameter| parameter["name"].as_str().expect("a parameter name"))
            .collect();
        let templated: BTreeSet<&str> =
            path.split('/').filter_map(|segment| segment.strip_prefix('{')?.strip_suffix('}')).collect();
        assert_eq!(declared, templated, "{at}: path parameters");
        for requirement in operation["security"]
            .as_array()
            .into_iter()
            .flatten()
            .chain(doc["security"].as_array().into_iter().flatten())
        {
            for scheme in requirement.as_object().expect("a requirement").keys() {
                assert!(schemes.contains_key(scheme), "{at}: security scheme {scheme} is not defined");
            }
        }
    }
}

/// Whether an answer says the route itself does not exist (rather than its object or record). Only
/// Junction's own errors count (they carry `requestId`): the raw passthrough answers the vendor's.
async fn route_missing(response: reqwest::Response) -> Option<String> {
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    let message = body["message"].as_str().unwrap_or_default().to_string();
    let junction = body["requestId"].is_string();
    let missing = junction
        && (status == 405
            || (status == 404 && (message == "No such resource" || message.starts_with("Unknown object"))));
    missing.then(|| format!("{status} {body}"))
}

// ---------------------------------------------------------------------------------------------
// The element documents

#[tokio::test]
async fn the_element_document_lists_every_catalog_object_with_its_list_and_record_paths() {
    let stack = Stack::start().await;
    for (key, hub) in [("infusionsoftcrm", "crm"), ("infusionsofterp", "erp")] {
        let doc = element_doc(&stack, key).await;
        let paths = &doc["paths"];
        let objects: Vec<_> = ObjectCatalog::builtin().objects(key).collect();
        assert!(objects.len() >= 9, "{key}: the catalog has objects");
        for (name, object) in objects {
            let list = &paths[format!("/hubs/{hub}/{name}")];
            assert!(list["get"]["operationId"].is_string(), "{key}: GET /hubs/{hub}/{name} in {paths}");
            assert_eq!(list["get"]["tags"], json!([name]));
            assert_eq!(list["post"].is_object(), object.allows(mapping::Operation::Create), "{key}: POST {name}");
            let record = &paths[format!("/hubs/{hub}/{name}/{{id}}")];
            assert_eq!(record["get"].is_object(), object.allows(mapping::Operation::Get), "{key}: GET {name}/{{id}}");
            assert_eq!(record["patch"].is_object(), object.allows(mapping::Operation::Update), "{key}: PATCH {name}");
            assert_eq!(record["put"].is_object(), object.allows(mapping::Operation::Update), "{key}: PUT {name}");
            assert_eq!(record["delete"].is_object(), object.allows(mapping::Operation::Delete), "{key}: DELETE");
            for child in object.children.keys() {
                assert!(paths[format!("/hubs/{hub}/{name}/{{id}}/{child}")].is_object(), "{key}: {name}/{child}");
            }
            // The list answers an array of the object's schema, which has every field.
            let items = &list["get"]["responses"]["200"]["content"]["application/json"]["schema"]["items"]["$ref"];
            let schema = resolve(&doc, items.as_str().expect("a $ref to the record schema")).expect("the schema");
            for field in &object.fields {
                assert!(schema["properties"][&field.name].is_object(), "{key}: {name}.{} in {schema}", field.name);
            }
        }
        for special in ["objects", "objects/{object}/metadata", "ping", "raw/{path}", "products/{id}/inventory"] {
            assert!(paths[format!("/hubs/{hub}/{special}")].is_object(), "{key}: /hubs/{hub}/{special}");
        }
        for (bulk, method) in BULK_OPERATIONS {
            let operation = &paths[format!("/hubs/{hub}/{bulk}")][method];
            assert_eq!(operation["tags"], json!(["bulk"]), "{key}: {method} /hubs/{hub}/{bulk}");
        }
    }
}

#[tokio::test]
async fn the_element_document_describes_fields_parameters_errors_and_auth() {
    let stack = Stack::start().await;
    let doc = element_doc(&stack, "infusionsoftcrm").await;
    let contact = &doc["components"]["schemas"]["Contact"]["properties"];
    assert_eq!(contact["Id"]["type"], "number");
    assert_eq!(contact["Id"]["readOnly"], true, "not writable: read-only");
    assert_eq!(contact["FirstName"]["type"], json!(["string", "null"]), "null where the vendor has nothing");
    assert!(contact["FirstName"].get("readOnly").is_none(), "writable: not read-only");
    assert_eq!(contact["DateCreated"]["format"], "date-time");
    assert!(contact["Company"]["description"].as_str().is_some_and(|text| text.contains("CompanyID")));

    let list = &doc["paths"]["/hubs/crm/contacts"]["get"];
    assert_eq!(list["operationId"], "getContacts");
    assert_eq!(doc["paths"]["/hubs/crm/contacts"]["post"]["operationId"], "createContact");
    assert_eq!(doc["paths"]["/hubs/crm/contacts/{id}"]["delete"]["operationId"], "deleteContact");
    let parameters: Vec<&str> =
        list["parameters"].as_array().expect("parameters").iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert_eq!(parameters, ["where", "orderBy", "fields", "page", "pageSize", "nextPage", "returnCount"]);
    let page_size = list["parameters"].as_array().unwrap().iter().find(|p| p["name"] == "pageSize").unwrap();
    assert_eq!(
        (page_size["schema"]["default"].clone(), page_size["schema"]["maximum"].clone()),
        (json!(200), json!(5000))
    );
    let where_ = list["parameters"][0]["description"].as_str().unwrap();
    assert!(where_.contains("LIKE") && where_.contains("IN") && where_.contains("IS [NOT] NULL"), "{where_}");
    assert!(list["responses"]["200"]["headers"]["elements-next-page-token"].is_object());
    for status in ["400", "401", "403", "404", "429", "502", "504"] {
        let schema = &list["responses"][status]["content"]["application/json"]["schema"]["$ref"];
        assert_eq!(schema, "#/components/schemas/Error", "{status}");
    }
    assert_eq!(doc["components"]["schemas"]["Error"]["required"], json!(["requestId", "message"]));
    assert!(doc["components"]["schemas"]["Error"]["properties"]["providerMessage"].is_object());

    let scheme = &doc["components"]["securitySchemes"]["elements"];
    assert_eq!(
        (scheme["type"].as_str(), scheme["in"].as_str(), scheme["name"].as_str()),
        (Some("apiKey"), Some("header"), Some("Authorization"))
    );
    assert!(scheme["description"]
        .as_str()
        .unwrap()
        .contains("User <user secret>, Organization <organization secret>, Element <instance token>"));
    assert_eq!(
        doc["servers"],
        json!([{"url": format!("{}/elements/api-v2", stack.base)}]),
        "served from the public URL"
    );
    assert!(doc["paths"].get("/hubs/erp/orders").is_none(), "the CRM has no orders");
}

#[tokio::test]
async fn write_bodies_declare_what_the_server_and_the_vendor_take() {
    let stack = Stack::start().await;
    let doc = element_doc(&stack, "infusionsoftcrm").await;
    let schemas = &doc["components"]["schemas"];
    let body_of = |path: &str, method: &str| {
        let reference = &doc["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"]["$ref"];
        resolve(&doc, reference.as_str().unwrap_or_else(|| panic!("{method} {path} names its body"))).unwrap().clone()
    };
    // The fields a body may hold: the writable ones only, at least one, nothing else.
    let create = body_of("/hubs/crm/tags", "post");
    let update = body_of("/hubs/crm/tags/{id}", "patch");
    assert_eq!(update, body_of("/hubs/crm/tags/{id}", "put"), "PUT is PATCH");
    for body in [&create, &update] {
        assert_eq!(body["additionalProperties"], false, "{body}");
        assert_eq!(body["minProperties"], 1, "{body}");
        assert!(body["properties"].get("Id").is_none() && body["properties"].get("DateCreated").is_none());
    }
    // The vendor requires a tag's name: on create, and it cannot be cleared; null clears the rest.
    assert_eq!(create["required"], json!(["GroupName"]));
    assert_eq!(create["properties"]["GroupName"]["type"], "string");
    assert_eq!(update["properties"]["GroupName"]["type"], "string");
    assert_eq!(update["properties"]["GroupDescription"]["type"], json!(["string", "null"]));
    assert!(update.get("required").is_none(), "an update names what it changes");
    let category = &create["properties"]["GroupCategoryId"];
    assert_eq!((&category["type"], &category["minimum"]), (&json!(["integer", "null"]), &json!(1)), "{category}");

    // Required unless defaulted: an opportunity's stage defaults, its contact does not.
    let opportunity = &schemas["OpportunityCreate"];
    assert_eq!(opportunity["required"], json!(["OpportunityTitle", "ContactID"]));
    assert_eq!(opportunity["properties"]["StageID"]["type"], json!(["integer", "null"]));
    let product = &schemas["ProductCreate"];
    assert_eq!(product["allOf"][0]["required"], json!(["ProductName", "ProductPrice"]));
    let price = &product["allOf"][0]["properties"]["ProductPrice"];
    assert_eq!((&price["minimum"], &price["multipleOf"]), (&json!(0), &json!(0.01)), "whole cents: {price}");
    // A short description defaults to the name, when the name has text.
    let default = product["allOf"][1]["anyOf"].as_array().expect("the default's sources");
    assert_eq!(default[0]["required"], json!(["ShortDescription"]));
    assert_eq!(default[1]["properties"]["ProductName"]["pattern"], "\\S");

    // A contact needs an email address, a phone number or an address; a phone type its number.
    let contact = &schemas["ContactCreate"];
    let rules = contact["allOf"].as_array().expect("rules beside the properties");
    let needs = rules.iter().find(|rule| rule["anyOf"].as_array().is_some_and(|any| any.len() > 10)).unwrap();
    assert_eq!(needs["anyOf"][0]["required"], json!(["Email"]));
    assert_eq!(rules[0]["properties"]["Email"]["format"], "email");
    assert!(rules.iter().any(|rule| rule["anyOf"][1]["required"] == json!(["Phone1"])), "{contact}");
    let task = &schemas["TaskCreate"]["properties"]["Priority"];
    assert_eq!(task["enum"], json!(["CRITICAL", "ESSENTIAL", "NONESSENTIAL", null]));
    // Read: a new product has no stock values.
    assert_eq!(schemas["Inventory"]["properties"]["Quantity"]["type"], json!(["number", "null"]));
}

#[tokio::test]
async fn list_parameters_name_the_objects_fields_and_the_raw_passthrough_its_paths() {
    let stack = Stack::start().await;
    let doc = element_doc(&stack, "infusionsoftcrm").await;
    let parameters = doc["paths"]["/hubs/crm/contacts"]["get"]["parameters"].as_array().unwrap().clone();
    let named = |name: &str| parameters.iter().find(|p| p["name"] == name).unwrap().clone();
    for name in ["orderBy", "fields"] {
        let parameter = named(name);
        assert_eq!((&parameter["style"], &parameter["explode"]), (&json!("form"), &json!(false)), "comma separated");
        assert_eq!(parameter["allowEmptyValue"], true, "`{name}=` is read as absent");
        assert_eq!(parameter["schema"]["type"], "array");
    }
    let sort_terms = named("orderBy")["schema"]["items"]["enum"].clone();
    assert!(sort_terms.as_array().unwrap().contains(&json!("LastName desc")), "{sort_terms}");
    assert!(named("fields")["schema"]["items"]["enum"].as_array().unwrap().contains(&json!("Email")));
    assert_eq!(named("page")["schema"]["maximum"], 20001, "pages by number reach 20,000 rows");
    assert!(named("nextPage")["description"].as_str().unwrap().contains("opaque"));

    // The vendor's answers pass through as they came: nothing is promised of their bodies.
    let raw = &doc["paths"]["/hubs/crm/raw/{path}"];
    for method in METHODS {
        let responses = &raw[method]["responses"];
        assert!(responses["200"].is_object() && responses["default"].is_object(), "{method}");
        assert!(responses["200"].get("content").is_none() && responses["404"].is_null(), "{method}: {responses}");
    }
    // The paths the passthrough forwards (hub::raw): the schemathesis run of .ci/run checks the
    // pattern against the server's answers.
    let path = &raw["get"]["parameters"][0]["schema"];
    assert!(path["pattern"].as_str().is_some_and(|pattern| pattern.starts_with('^')), "{path}");
    assert_eq!(path["maxLength"], 2048);
}

#[tokio::test]
async fn platform_request_bodies_declare_their_required_fields() {
    let stack = Stack::start().await;
    let doc = platform_doc(&stack).await;
    let body_of = |path: &str, method: &str| {
        let reference = &doc["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"]["$ref"];
        resolve(&doc, reference.as_str().unwrap_or_else(|| panic!("{method} {path} names its body"))).unwrap().clone()
    };
    let instance = body_of("/instances", "post");
    assert_eq!(instance["allOf"][0]["required"], json!(["element"]));
    let code_or_initial = &instance["allOf"][1]["anyOf"];
    assert_eq!(code_or_initial[0]["required"], json!(["providerData"]), "{instance}");
    assert!(body_of("/elements/{keyOrId}/instances", "post")["allOf"][0].get("required").is_none());
    assert_eq!(body_of("/instances/{id}", "put")["required"], json!(["providerData"]));
    assert_eq!(body_of("/instances/{id}", "patch")["type"], "object");
    let organization = body_of("/organizations", "post");
    assert_eq!((&organization["required"], &organization["additionalProperties"]), (&json!(["name"]), &json!(false)));
    assert_eq!(body_of("/users", "post")["required"], json!(["email"]));
    assert_eq!(
        body_of("/elements/{keyOrId}/oauth/url", "post")["required"],
        json!(["apiKey", "apiSecret", "callbackUrl"])
    );
    let oauth_query: Vec<&str> = doc["paths"]["/elements/{keyOrId}/oauth/url"]["get"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["required"] == true && p["in"] == "query")
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(oauth_query, ["apiKey", "apiSecret", "callbackUrl"]);
}

#[tokio::test]
async fn an_element_is_documented_by_key_and_by_id_alike() {
    let stack = Stack::start().await;
    let (_, element) = get_json(&stack, "/elements/infusionsofterp", None).await;
    let id = element["id"].as_u64().expect("an element id");
    assert_eq!(element_doc(&stack, &id.to_string()).await, element_doc(&stack, "infusionsofterp").await);
}

/// Calls every documented operation of `doc` on `instance`: GETs without parameters must answer
/// 200, and no call may meet a missing route (ids are substituted with one that does not exist).
async fn call_every_documented_path(stack: &Stack, instance: &Instance, doc: &Value) -> usize {
    let mut called = 0;
    for (path, method, _) in operations(doc) {
        let concrete = path.replace("{id}", "999999999").replace("{childId}", "999999999");
        let concrete = concrete.replace("{object}", "accounts").replace("{path}", "v2/users");
        let concrete = concrete.replace("{objectName}", "accounts");
        let url = format!("{}{}{concrete}", stack.base, server_prefix(doc, &path));
        let method = Method::from_bytes(method.to_uppercase().as_bytes()).expect("a method");
        let mut request =
            stack.http.request(method.clone(), url).header("authorization", stack.hub_auth(&instance.token));
        if method != Method::GET && method != Method::DELETE {
            request = request.json(&json!({}));
        }
        let response = request.send().await.expect("hub call");
        if method == Method::GET && !path.contains('{') {
            assert_eq!(response.status(), 200, "GET {path} answers");
        } else if let Some(answer) = route_missing(response).await {
            panic!("{method} {path} is documented but not served: {answer}");
        }
        called += 1;
    }
    called
}

#[tokio::test]
async fn every_documented_hub_path_answers_on_a_live_instance() {
    let stack = Stack::start().await;
    let crm_instance = crm(&stack).await;
    let erp_instance = erp(&stack).await;
    let crm_doc = element_doc(&stack, "infusionsoftcrm").await;
    let erp_doc = element_doc(&stack, "infusionsofterp").await;
    assert!(call_every_documented_path(&stack, &crm_instance, &crm_doc).await > 30);
    assert!(call_every_documented_path(&stack, &erp_instance, &erp_doc).await > 30);
}

// ---------------------------------------------------------------------------------------------
// An instance's document: its element's objects and its common resources

/// A platform API write that must answer 200.
async fn must_put(stack: &Stack, method: Method, path: &str, body: Value) {
    let answer = stack
        .http
        .request(method.clone(), stack.api(path))
        .header("authorization", stack.platform_auth())
        .json(&body)
        .send()
        .await
        .expect("platform call");
    let status = answer.status().as_u16();
    assert_eq!(status, 200, "{method} {path}: {}", answer.text().await.unwrap_or_default());
}

/// `myContacts` defined for the organization and mapped onto the CRM's contacts: nested paths, a
/// field kept out of records, and the contacts' other fields passed through from the vendor only.
async fn define_my_contacts(stack: &Stack) {
    let definition = json!({"fields": [
        {"path": "name.first", "type": "string"},
        {"path": "name.last", "type": "string"},
        {"path": "emails[1].value", "type": "string"},
        {"path": "born", "type": "date", "mask": "yyyy-MM-dd"},
        {"path": "secret", "type": "string"},
    ]});
    must_put(stack, Method::POST, "/organizations/objects/myContacts/definitions", definition).await;
    let transformation = json!({
        "vendorName": "contacts",
        "fields": [
            {"path": "name.first", "vendorPath": "FirstName"},
            {"path": "name.last", "vendorPath": "LastName"},
            {"path": "emails[1].value", "vendorPath": "email_addresses[field=EMAIL2].email"},
            {"path": "born", "vendorPath": "Birthday", "vendorType": "date"},
            {"path": "secret", "vendorPath": "Nickname",
                "configuration": [{"type": "remove", "properties": {"fromVendor": true, "toVendor": false}}]},
        ],
        "configuration": [{"type": "passThrough", "properties": {"fromVendor": true, "toVendor": false}}],
    });
    let path = "/organizations/elements/infusionsoftcrm/transformations/myContacts";
    must_put(stack, Method::POST, path, transformation).await;
}

#[tokio::test]
async fn an_instances_document_describes_its_common_resources_in_the_nested_shape() {
    let stack = Stack::start().await;
    let instance = crm(&stack).await;
    let other = erp(&stack).await;
    define_my_contacts(&stack).await;
    let (status, doc) =
        get_json(&stack, &format!("/instances/{}/docs", instance.id), Some(&stack.platform_auth())).await;
    assert_eq!(status, 200, "{doc}");
    assert_valid_openapi("crm instance", &doc);

    // Beside the element's objects, with the operations the element's contacts allow.
    let contacts = ObjectCatalog::builtin().object("infusionsoftcrm", "contacts").unwrap().1;
    let paths = &doc["paths"];
    assert!(paths["/hubs/crm/contacts"].is_object(), "the element's objects are still there");
    let list = &paths["/hubs/crm/myContacts"];
    let record = &paths["/hubs/crm/myContacts/{id}"];
    assert_eq!(list["get"]["tags"], json!(["myContacts"]));
    assert_eq!(list["post"].is_object(), contacts.allows(mapping::Operation::Create));
    assert_eq!(record["get"].is_object(), contacts.allows(mapping::Operation::Get));
    assert_eq!(record["patch"].is_object(), contacts.allows(mapping::Operation::Update));
    assert_eq!(record["delete"].is_object(), contacts.allows(mapping::Operation::Delete));

    // The record in the common shape: `name.first` nested, `emails[1].value` the second element's.
    let items = &list["get"]["responses"]["200"]["content"]["application/json"]["schema"]["items"]["$ref"];
    let schema = resolve(&doc, items.as_str().expect("a $ref")).expect("the record schema");
    let properties = &schema["properties"];
    assert_eq!(properties["name"]["type"], "object", "{schema}");
    assert_eq!(properties["name"]["properties"]["first"]["type"], json!(["string", "null"]));
    assert!(properties["name"]["properties"]["last"].is_object());
    assert!(properties.get("name.first").is_none(), "paths are nested, not flat keys");
    let emails = &properties["emails"];
    assert_eq!(emails["type"], "array");
    assert_eq!(emails["prefixItems"][0]["type"], "null", "nothing at emails[0]: {emails}");
    assert!(emails["prefixItems"][1]["properties"]["value"].is_object(), "{emails}");
    assert_eq!(properties["born"]["description"], "A date in the format yyyy-MM-dd");
    assert!(properties.get("secret").is_none(), "removed from records: {properties}");
    assert_eq!(properties["Phone1"]["readOnly"], true, "passed through from the vendor only");
    assert!(properties.get("FirstName").is_none(), "mapped fields go by their common names");

    // A write names what it may: the removed-from-records field yes, read-only pass-through no.
    let create = &list["post"]["requestBody"]["content"]["application/json"]["schema"]["$ref"];
    let create = resolve(&doc, create.as_str().expect("a $ref")).expect("the create schema");
    assert_eq!(create["additionalProperties"], false, "{create}");
    assert!(create["properties"]["name"]["properties"]["first"].is_object(), "{create}");
    assert_eq!(create["properties"]["name"]["additionalProperties"], false);
    assert!(create["properties"]["secret"].is_object(), "written, only hidden from records");
    assert!(create["properties"].get("Phone1").is_none(), "pass-through fields may not be written");

    // Its bulk jobs take it too: it lists and creates as the element's contacts do.
    let bulk_names = |schema: &str| doc["components"]["schemas"][schema]["enum"].as_array().unwrap().clone();
    assert!(bulk_names("BulkObjectName").contains(&json!("myContacts")), "{}", doc["components"]["schemas"]);
    assert!(bulk_names("BulkUploadObjectName").contains(&json!("myContacts")));

    // Every documented path answers on the instance (the list with 200).
    assert!(call_every_documented_path(&stack, &instance, &doc).await > 30);

    // Neither the element's public document nor an instance of another element has it.
    let public = element_doc(&stack, "infusionsoftcrm").await;
    assert!(public["paths"].get("/hubs/crm/myContacts").is_none(), "the public document knows no organization");
    let public_names = &public["components"]["schemas"]["BulkObjectName"]["enum"];
    assert!(!public_names.as_array().unwrap().contains(&json!("myContacts")), "{public_names}");
    let (_, erp_doc) = get_json(&stack, &format!("/instances/{}/docs", other.id), Some(&stack.platform_auth())).await;
    assert!(erp_doc["paths"].get("/hubs/erp/myContacts").is_none(), "mapped for the CRM only");
}

// ---------------------------------------------------------------------------------------------
// The bulk API in the element document

/// The names in a document's enum schema `name`.
fn enum_of(doc: &Value, name: &str) -> Vec<String> {
    let values = doc["components"]["schemas"][name]["enum"].as_array().unwrap_or_else(|| panic!("{name} is an enum"));
    values.iter().map(|value| value.as_str().expect("a name").to_string()).collect()
}

#[tokio::test]
async fn the_element_document_describes_the_bulk_api_as_its_handlers_answer() {
    let stack = Stack::start().await;
    let doc = element_doc(&stack, "infusionsoftcrm").await;
    let operation = |path: &str, method: &str| doc["paths"][format!("/hubs/crm/{path}")][method].clone();
    let statuses = |operation: &Value| -> Vec<String> {
        operation["responses"].as_object().expect("responses").keys().cloned().collect()
    };
    let named = |operation: &Value, name: &str| -> Value {
        let parameters = operation["parameters"].as_array().expect("parameters");
        parameters.iter().find(|parameter| parameter["name"] == name).cloned().unwrap_or_else(|| panic!("{name}"))
    };

    // The object names a job takes: an export's those the element lists, an upload's those it creates.
    let catalog: Vec<_> = ObjectCatalog::builtin().objects("infusionsoftcrm").collect();
    let allowing = |allowed| -> Vec<String> {
        catalog.iter().filter(|(_, object)| object.allows(allowed)).map(|(name, _)| name.to_string()).collect()
    };
    assert_eq!(enum_of(&doc, "BulkObjectName"), allowing(mapping::Operation::List));
    assert_eq!(enum_of(&doc, "BulkUploadObjectName"), allowing(mapping::Operation::Create));
    assert!(!enum_of(&doc, "BulkUploadObjectName").contains(&"users".to_string()), "users are read-only");

    // A query job: `q` in the query or the body, an optional callback header, no vendor error.
    let query = operation("bulk/query", "post");
    assert_eq!(query["operationId"], "createBulkQuery");
    assert_eq!(
        (named(&query, "q")["in"].clone(), named(&query, "q")["required"].clone()),
        (json!("query"), json!(false))
    );
    let callback = named(&query, "Elements-Async-Callback-Url");
    assert_eq!((&callback["in"], &callback["required"]), (&json!("header"), &json!(false)));
    assert_eq!(query["requestBody"]["required"], false);
    assert_eq!(query["requestBody"]["content"]["application/json"]["schema"]["properties"]["q"]["type"], "string");
    assert_eq!(statuses(&query), ["200", "400", "401", "403", "404", "405", "413", "503"]);
    let created = &query["responses"]["200"];
    assert_eq!(created["content"]["application/json"]["schema"]["$ref"], "#/components/schemas/BulkJobCreated");
    assert_eq!(created["links"]["status"]["parameters"]["id"], "$response.body#/id");
    assert_eq!(doc["components"]["schemas"]["BulkJobCreated"]["required"], json!(["id", "status"]));

    // An upload: multipart with a binary `file` and JSON `metaData`; 413 too large, 415 not multipart.
    let upload = operation("bulk/{objectName}", "post");
    assert_eq!(named(&upload, "objectName")["schema"]["$ref"], "#/components/schemas/BulkUploadObjectName");
    let form = &upload["requestBody"]["content"]["multipart/form-data"];
    assert_eq!(upload["requestBody"]["required"], true);
    assert_eq!(form["schema"]["required"], json!(["file"]));
    assert_eq!(form["schema"]["properties"]["file"]["format"], "binary");
    let meta = &form["schema"]["properties"]["metaData"];
    assert_eq!(meta["properties"]["identifierFieldName"]["type"], json!(["string", "null"]));
    assert_eq!(meta["additionalProperties"], false, "unknown metaData fields are refused");
    assert_eq!(form["encoding"]["metaData"]["contentType"], "application/json");
    assert_eq!(statuses(&upload), ["200", "400", "401", "403", "404", "405", "413", "415", "503"]);
    assert_eq!(form["example"]["file"], "Company\nExample\n", "an example that works as it is (accounts)");

    // The jobs, a status, a cancel: the status document.
    let jobs = operation("bulk/jobs", "get");
    let items = &jobs["responses"]["200"]["content"]["application/json"]["schema"]["items"]["$ref"];
    assert_eq!(items, "#/components/schemas/BulkJobStatus");
    for (path, method) in [("bulk/{id}/status", "get"), ("bulk/{id}/cancel", "put")] {
        let operation = operation(path, method);
        let schema = &operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"];
        assert_eq!(schema, "#/components/schemas/BulkJobStatus", "{method} {path}");
        assert_eq!(statuses(&operation), ["200", "400", "401", "403", "404", "503"], "{method} {path}");
        assert_eq!(named(&operation, "id")["schema"]["pattern"], "^[1-9][0-9]{0,18}$");
    }
    let status = &doc["components"]["schemas"]["BulkJobStatus"];
    assert_eq!(
        status["properties"]["status"]["enum"],
        json!(["CREATED", "RUNNING", "COMPLETED", "FAILED", "CANCELLED"])
    );
    assert_eq!(status["properties"]["type"]["enum"], json!(["query", "upload"]));
    for nullable in ["startedDate", "completedDate", "estimatedCompletion"] {
        assert_eq!(status["properties"][nullable]["type"], json!(["string", "null"]), "{nullable}");
    }
    let required: Vec<&str> =
        status["required"].as_array().unwrap().iter().map(|name| name.as_str().unwrap()).collect();
    for optional in ["query", "expectedRecordsCount", "error"] {
        assert!(status["properties"][optional].is_object() && !required.contains(&optional), "{optional}");
    }

    // Errors: pages of at most 1000 rows, the total in a header.
    let errors = operation("bulk/{id}/errors", "get");
    assert_eq!(named(&errors, "pageSize")["schema"]["maximum"], 1000);
    let page = &errors["responses"]["200"];
    assert_eq!(page["headers"]["Elements-Total-Count"]["required"], true);
    let row = &doc["components"]["schemas"]["BulkRowError"];
    assert_eq!(row["required"], json!(["row", "field", "message"]));
    assert_eq!(row["properties"]["field"]["type"], json!(["string", "null"]));

    // The result: JSON lines or CSV, whole (200) or a range (206), 416 past the end.
    let result = operation("bulk/{id}/{objectName}", "get");
    assert_eq!(named(&result, "objectName")["schema"]["$ref"], "#/components/schemas/BulkObjectName");
    assert_eq!(named(&result, "Range")["in"], "header");
    assert_eq!(statuses(&result), ["200", "206", "400", "401", "403", "404", "416", "503"]);
    for code in ["200", "206"] {
        let answer = &result["responses"][code];
        let types: Vec<&String> = answer["content"].as_object().unwrap().keys().collect();
        assert_eq!(types, ["application/x-ndjson", "text/csv"], "{code}");
        for header in ["Content-Length", "Accept-Ranges", "Elements-Bulk-Status"] {
            assert_eq!(answer["headers"][header]["required"], true, "{code} {header}");
        }
    }
    assert_eq!(result["responses"]["206"]["headers"]["Content-Range"]["required"], true);
    assert!(result["responses"]["200"]["headers"].get("Content-Range").is_none());
}

/// Checks `value` against `schema` (of `doc`) for the keywords the documents use (`$ref`, `type`,
/// `enum`, `minimum`, `required`, `properties`, `items`); the error names the place.
fn conforms(doc: &Value, schema: &Value, value: &Value, at: &str) -> Result<(), String> {
    if let Some(reference) = schema["$ref"].as_str() {
        let target = resolve(doc, reference).ok_or_else(|| format!("{at}: {reference} does not resolve"))?;
        return conforms(doc, target, value, at);
    }
    let types: Vec<&str> = match &schema["type"] {
        Value::String(name) => vec![name.as_str()],
        Value::Array(names) => names.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    let actual = match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(number) if number.is_i64() || number.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    };
    let typed = types.is_empty() || types.contains(&actual) || (actual == "integer" && types.contains(&"number"));
    if !typed {
        return Err(format!("{at}: {value} is not of type {types:?}"));
    }
    if schema["enum"].as_array().is_some_and(|values| !values.contains(value)) {
        return Err(format!("{at}: {value} is not one of {}", schema["enum"]));
    }
    if let (Some(minimum), Some(number)) = (schema["minimum"].as_f64(), value.as_f64()) {
        if number < minimum {
            return Err(format!("{at}: {value} is below {minimum}"));
        }
    }
    for name in schema["required"].as_array().into_iter().flatten().filter_map(Value::as_str) {
        if value.get(name).is_none() {
            return Err(format!("{at}: {name} is missing from {value}"));
        }
    }
    if let (Some(properties), Some(object)) = (schema["properties"].as_object(), value.as_object()) {
        for (name, inner) in object {
            match properties.get(name) {
                Some(property) => conforms(doc, property, inner, &format!("{at}.{name}"))?,
                None => return Err(format!("{at}: {name} is not documented")),
            }
        }
    }
    if let (Some(items), Some(array)) = (schema.get("items"), value.as_array()) {
        for (index, item) in array.iter().enumerate() {
            conforms(doc, items, item, &format!("{at}[{index}]"))?;
        }
    }
    Ok(())
}

/// Checks an answer of `method path` (a documented path) against the document: its status is
/// documented, its content type is, its required headers are there, and a JSON body has the
/// documented shape. Returns the body.
async fn documented_answer(doc: &Value, method: &str, path: &str, answer: reqwest::Response) -> Vec<u8> {
    let status = answer.status().as_u16().to_string();
    let documented = &doc["paths"][path][method]["responses"][&status];
    assert!(documented.is_object(), "{method} {path} answered {status}, which is not documented");
    let content_type = answer.headers().get("content-type").map(|value| value.to_str().unwrap().to_string());
    for (name, header) in documented["headers"].as_object().into_iter().flatten() {
        let present = answer.headers().contains_key(name.to_ascii_lowercase().as_str());
        assert!(present || header["required"] != true, "{method} {path} {status}: no {name} header");
    }
    let body = answer.bytes().await.expect("the body").to_vec();
    let essence = content_type.as_deref().unwrap_or_default().split(';').next().unwrap().trim().to_string();
    let media = &documented["content"][&essence];
    assert!(media.is_object(), "{method} {path} {status}: {essence} is not documented in {documented}");
    if essence == "application/json" {
        let value: Value = serde_json::from_slice(&body).expect("a JSON body");
        let at = format!("{method} {path} {status}");
        conforms(doc, &media["schema"], &value, &at).unwrap_or_else(|error| panic!("{error}"));
    }
    body
}

/// A multipart upload of `file` (as `text/csv`) to `object`.
fn multipart(file: &str) -> (String, Vec<u8>) {
    let boundary = "api-docs-boundary-5c1e";
    let body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"rows.csv\"\r\n\
         Content-Type: text/csv\r\n\r\n{file}\r\n--{boundary}--\r\n"
    );
    (format!("multipart/form-data; boundary={boundary}"), body.into_bytes())
}

#[tokio::test]
async fn bulk_answers_have_the_documented_statuses_types_headers_and_shapes() {
    let quick = platform::bulk::BulkConfig {
        tick: std::time::Duration::from_millis(50),
        ..platform::bulk::BulkConfig::default()
    };
    let stack = Stack::start_with(StackOptions { bulk: Some(quick), ..StackOptions::default() }).await;
    let instance = crm(&stack).await;
    let doc = element_doc(&stack, "infusionsoftcrm").await;
    let auth = stack.hub_auth(&instance.token);
    let call = |method: Method, path: &str| stack.http.request(method, stack.api(path)).header("authorization", &auth);
    let json_of = |body: Vec<u8>| -> Value { serde_json::from_slice(&body).expect("JSON") };

    // An export, followed to its end.
    let answer = call(Method::POST, "/hubs/crm/bulk/query").query(&[("q", "select Id, Email from contacts")]);
    let created = json_of(documented_answer(&doc, "post", "/hubs/crm/bulk/query", answer.send().await.unwrap()).await);
    let export = created["id"].as_str().expect("an id").to_string();
    let status_path = format!("/hubs/crm/bulk/{export}/status");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let answer = call(Method::GET, &status_path).send().await.unwrap();
        let status = json_of(documented_answer(&doc, "get", "/hubs/crm/bulk/{id}/status", answer).await);
        if status["status"] == "COMPLETED" {
            assert_eq!(status["query"], "select Id, Email from contacts");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the export did not complete: {status}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let body = json!({"q": "select * from nothings"});
    let unknown = call(Method::POST, "/hubs/crm/bulk/query").json(&body).send().await.unwrap();
    assert_eq!(unknown.status(), 404, "an unknown object");
    documented_answer(&doc, "post", "/hubs/crm/bulk/query", unknown).await;

    // Its result, whole and in part, in both formats; a range past the end.
    let result = "/hubs/crm/bulk/{id}/{objectName}";
    let url = format!("/hubs/crm/bulk/{export}/contacts");
    let whole = call(Method::GET, &url).send().await.unwrap();
    assert_eq!(whole.status(), 200);
    let lines = documented_answer(&doc, "get", result, whole).await;
    let first: Value = serde_json::from_slice(lines.split(|byte| *byte == b'\n').next().unwrap()).expect("a line");
    assert!(first.is_object(), "one record per line");
    let csv = call(Method::GET, &url).query(&[("format", "csv")]).header("range", "bytes=0-9").send().await.unwrap();
    assert_eq!(csv.status(), 206);
    let content_range = csv.headers()["content-range"].to_str().unwrap().to_string();
    assert!(content_range.starts_with("bytes 0-9/") && !content_range.ends_with('*'), "{content_range}");
    let head = documented_answer(&doc, "get", result, csv).await;
    assert_eq!(head, b"Id,Email\r\n", "the CSV header row (RFC 4180 line ends)");
    let past = call(Method::GET, &url).header("range", format!("bytes={}-", lines.len() + 1)).send().await.unwrap();
    assert_eq!(past.status(), 416);
    documented_answer(&doc, "get", result, past).await;
    let other_object = call(Method::GET, &format!("/hubs/crm/bulk/{export}/accounts")).send().await.unwrap();
    assert_eq!(other_object.status(), 404);
    documented_answer(&doc, "get", result, other_object).await;

    // An upload whose row the hub refuses (a contact needs an email, a phone or an address).
    let (content_type, file) = multipart("FirstName\nAda\n");
    let upload = call(Method::POST, "/hubs/crm/bulk/contacts").header("content-type", content_type).body(file);
    let created =
        json_of(documented_answer(&doc, "post", "/hubs/crm/bulk/{objectName}", upload.send().await.unwrap()).await);
    let upload_id = created["id"].as_str().unwrap().to_string();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let answer = call(Method::GET, &format!("/hubs/crm/bulk/{upload_id}/status")).send().await.unwrap();
        let status = json_of(documented_answer(&doc, "get", "/hubs/crm/bulk/{id}/status", answer).await);
        if status["status"] == "COMPLETED" {
            assert_eq!((&status["type"], &status["recordsFailedCount"]), (&json!("upload"), &json!(1)), "{status}");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the upload did not complete: {status}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let errors = call(Method::GET, &format!("/hubs/crm/bulk/{upload_id}/errors")).query(&[("pageSize", "1000")]);
    let errors = errors.send().await.unwrap();
    assert_eq!(errors.headers()["elements-total-count"], "1");
    let rows = json_of(documented_answer(&doc, "get", "/hubs/crm/bulk/{id}/errors", errors).await);
    assert_eq!(rows[0]["row"], 1, "{rows}");
    let no_result = call(Method::GET, &format!("/hubs/crm/bulk/{upload_id}/contacts")).send().await.unwrap();
    assert_eq!(no_result.status(), 404, "an upload has no result");
    documented_answer(&doc, "get", result, no_result).await;

    // Refused uploads: a malformed file, not multipart, an object that takes no creates.
    let (content_type, file) = multipart("Nope\nx\n");
    let malformed = call(Method::POST, "/hubs/crm/bulk/contacts").header("content-type", content_type).body(file);
    let malformed = malformed.send().await.unwrap();
    assert_eq!(malformed.status(), 400);
    documented_answer(&doc, "post", "/hubs/crm/bulk/{objectName}", malformed).await;
    let not_multipart = call(Method::POST, "/hubs/crm/bulk/contacts").json(&json!({"file": "x"})).send().await.unwrap();
    assert_eq!(not_multipart.status(), 415);
    documented_answer(&doc, "post", "/hubs/crm/bulk/{objectName}", not_multipart).await;
    let (content_type, file) = multipart("Email\na@example.com\n");
    let read_only = call(Method::POST, "/hubs/crm/bulk/users").header("content-type", content_type).body(file);
    let read_only = read_only.send().await.unwrap();
    assert_eq!(read_only.status(), 405);
    documented_answer(&doc, "post", "/hubs/crm/bulk/{objectName}", read_only).await;

    // The jobs, a cancel of an ended job (answered as it is), an unknown job.
    let jobs = call(Method::GET, "/hubs/crm/bulk/jobs").send().await.unwrap();
    let jobs = json_of(documented_answer(&doc, "get", "/hubs/crm/bulk/jobs", jobs).await);
    assert_eq!(jobs.as_array().map(Vec::len), Some(2), "{jobs}");
    let cancel = call(Method::PUT, &format!("/hubs/crm/bulk/{export}/cancel")).send().await.unwrap();
    let cancelled = json_of(documented_answer(&doc, "put", "/hubs/crm/bulk/{id}/cancel", cancel).await);
    assert_eq!(cancelled["status"], "COMPLETED", "an ended job is answered as it is");
    let unknown = call(Method::GET, "/hubs/crm/bulk/999999/status").send().await.unwrap();
    assert_eq!(unknown.status(), 404);
    documented_answer(&doc, "get", "/hubs/crm/bulk/{id}/status", unknown).await;
}

// ---------------------------------------------------------------------------------------------
// The platform document

#[tokio::test]
async fn the_platform_document_documents_only_routes_that_exist() {
    let stack = Stack::start().await;
    let doc = platform_doc(&stack).await;
    let documented = operations(&doc);
    for (path, method) in [
        ("/instances", "post"),
        ("/instances/{id}", "patch"),
        ("/instances/{id}/configuration/{configId}", "patch"),
        ("/elements/{keyOrId}/docs", "get"),
        ("/instances/{id}/docs", "get"),
        ("/healthz", "get"),
    ] {
        assert!(documented.iter().any(|(p, m, _)| p == path && *m == method), "{method} {path} is documented");
    }
    for (path, method, _) in &documented {
        let concrete = path.replace("{keyOrId}", "infusionsoftcrm").replace("{id}", "999999999");
        let url = format!("{}{}{}", stack.base, server_prefix(&doc, path), concrete.replace("{configId}", "1"));
        let method = Method::from_bytes(method.to_uppercase().as_bytes()).expect("a method");
        let mut request = stack.http.request(method.clone(), url).header("authorization", stack.platform_auth());
        if method != Method::GET && method != Method::DELETE {
            request = request.json(&json!({}));
        }
        let response = request.send().await.expect("platform call");
        if let Some(answer) = route_missing(response).await {
            panic!("{method} {path} is documented but not served: {answer}");
        }
    }
}

#[tokio::test]
async fn every_common_resource_route_is_documented_with_its_body_and_answers() {
    let stack = Stack::start().await;
    let doc = platform_doc(&stack).await;
    let definitions =
        ["/organizations/objects/{objectName}/definitions", "/instances/{id}/objects/{objectName}/definitions"];
    let transformations = [
        "/organizations/elements/{keyOrId}/transformations/{objectName}",
        "/instances/{id}/transformations/{objectName}",
        "/instances/transformations/{objectName}",
    ];
    let lists = [
        "/organizations/objects/definitions",
        "/instances/{id}/objects/definitions",
        "/organizations/elements/{keyOrId}/transformations",
        "/instances/{id}/transformations",
        "/instances/transformations",
    ];
    let body_of = |path: &str, method: &str| {
        let reference = &doc["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"]["$ref"];
        reference.as_str().unwrap_or_else(|| panic!("{method} {path} names its body")).to_string()
    };
    for path in lists {
        let responses = &doc["paths"][path]["get"]["responses"];
        assert!(["200", "400", "401", "404"].iter().all(|status| responses[status].is_object()), "GET {path}");
    }
    for (path, body) in definitions
        .iter()
        .map(|path| (path, "Definition"))
        .chain(transformations.iter().map(|path| (path, "Transformation")))
    {
        for method in ["get", "post", "put", "delete"] {
            let responses = &doc["paths"][*path][method]["responses"];
            assert!(["200", "400", "401", "404"].iter().all(|status| responses[status].is_object()), "{method} {path}");
            assert_eq!(responses["409"].is_object(), method != "get", "{method} {path}: a 409 for writes");
        }
        for method in ["post", "put"] {
            assert_eq!(body_of(path, method), format!("#/components/schemas/{body}"), "{method} {path}");
        }
    }
    assert_eq!(body_of("/organizations/objects/definitions", "post"), "#/components/schemas/Definitions");

    let schemas = &doc["components"]["schemas"];
    assert_eq!(schemas["Definition"]["required"], json!(["fields"]));
    assert_eq!(schemas["Definition"]["additionalProperties"], false, "unknown fields are refused");
    let field = &schemas["DefinedField"]["allOf"][0];
    assert_eq!(field["required"], json!(["path", "type"]));
    assert_eq!(field["properties"]["type"]["enum"], json!(["string", "number", "boolean", "date"]));
    assert_eq!(schemas["MappedField"]["required"], json!(["path", "vendorPath"]));
    assert_eq!(schemas["Transformation"]["properties"]["script"]["type"], "null", "scripts are refused");
    let name = &schemas["ObjectName"];
    assert!(name["not"]["pattern"].as_str().is_some_and(|taken| taken.contains("[Cc][Oo][Nn][Tt][Aa][Cc][Tt][Ss]")));
    let stored = &schemas["StoredTransformation"];
    assert_eq!(stored["required"], json!(["fields", "level", "objectName", "startDate"]));
}

#[tokio::test]
async fn the_documents_are_valid_openapi_whose_references_resolve() {
    let stack = Stack::start().await;
    assert_valid_openapi("platform", &platform_doc(&stack).await);
    assert_valid_openapi("crm", &element_doc(&stack, "infusionsoftcrm").await);
    assert_valid_openapi("erp", &element_doc(&stack, "infusionsofterp").await);
}

// ---------------------------------------------------------------------------------------------
// Access and bad input

#[tokio::test]
async fn instance_docs_need_auth_and_belong_to_the_callers_organization() {
    let stack = Stack::start().await;
    let instance = crm(&stack).await;
    let path = format!("/instances/{}/docs", instance.id);

    let anonymous = stack.http.get(stack.api(&path)).send().await.unwrap();
    error_message(anonymous, 401).await;

    let (status, doc) = get_json(&stack, &path, Some(&stack.platform_auth())).await;
    assert_eq!(status, 200, "{doc}");
    assert_eq!(doc, element_doc(&stack, "infusionsoftcrm").await, "the instance's element's document");

    let (other, other_secret) = stack.store.create_organization("other").await.unwrap();
    let (_, user_secret) = stack.store.create_user(other.id, "someone", true).await.unwrap();
    let outsider = format!("User {}, Organization {}", user_secret.expose(), other_secret.expose());
    let foreign = stack.http.get(stack.api(&path)).header("authorization", outsider).send().await.unwrap();
    let body = error_message(foreign, 404).await;
    assert!(body["message"].as_str().unwrap().contains("instance"), "{body}");
}

#[tokio::test]
async fn an_unknown_element_has_no_docs() {
    let stack = Stack::start().await;
    let answer = stack.http.get(stack.api("/elements/nosuchelement/docs")).send().await.unwrap();
    let body = error_message(answer, 404).await;
    let (_, element) = get_json(&stack, "/elements/nosuchelement", None).await;
    assert_eq!(body["message"], element["message"], "the same error as the element itself");
}

#[tokio::test]
async fn hostile_ids_are_json_client_errors() {
    let stack = Stack::start().await;
    let long = "a".repeat(10 * 1024);
    for id in
        ["..%2F..%2Fdocs", "%2E%2E%2Fx", "%00", "%FF", "-1", "0", "99999999999999999999999", "1%20OR%201=1", &long]
    {
        for path in [format!("/elements/{id}/docs"), format!("/instances/{id}/docs")] {
            let answer = stack.platform(Method::GET, &path).await;
            let status = answer.status().as_u16();
            assert!((400..500).contains(&status), "{}: {status}", &path[..path.len().min(80)]);
            error_message(answer, status).await;
        }
    }
}
