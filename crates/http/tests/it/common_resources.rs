//! Common resources over HTTP against the simulator: the platforms' own flow (define, map at
//! organization level, override at instance level, CRUD through the hub, read back at the vendor),
//! `where` on common names answered as in-memory evaluation with selective equalities pushed down,
//! conversions both ways, removal per direction, pass-through, nested and array paths, one shape
//! over CRM and ERP, bad documents refused with nothing stored, and tenant isolation.

use reqwest::Method;
use serde_json::{json, Map, Value};

use crate::common::hub::{self, Instance};
use crate::common::lists::{api_calls, enc, walk};
use crate::common::{error_message, Stack};

/// A platform API call with a JSON body (or none), answered as (status, JSON).
async fn platform(stack: &Stack, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
    let mut request = stack.http.request(method, stack.api(path)).header("authorization", stack.platform_auth());
    if let Some(body) = body {
        request = request.json(&body);
    }
    let answer = request.send().await.expect("a platform answer");
    let status = answer.status().as_u16();
    let text = answer.text().await.unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

async fn must(stack: &Stack, method: Method, path: &str, body: Option<Value>) -> Value {
    let (status, answer) = platform(stack, method.clone(), path, body).await;
    assert_eq!(status, 200, "{method} {path}: {answer}");
    answer
}

pub(crate) fn definition() -> Value {
    json!({"fields": [
        {"path": "id", "type": "number"},
        {"path": "name.first", "type": "string"},
        {"path": "name.last", "type": "string"},
        {"path": "email", "type": "string"},
        {"path": "work.title", "type": "string"},
        {"path": "born", "type": "date", "mask": "yyyy-MM-dd"},
        {"path": "city", "type": "string"},
        {"path": "emails[1].value", "type": "string"},
        {"path": "updated", "type": "date"},
    ]})
}

pub(crate) fn crm_transformation() -> Value {
    json!({"vendorName": "contacts", "fields": [
        {"path": "id", "vendorPath": "Id"},
        {"path": "name.first", "vendorPath": "FirstName"},
        {"path": "name.last", "vendorPath": "LastName"},
        {"path": "email", "vendorPath": "Email"},
        {"path": "work.title", "vendorPath": "JobTitle"},
        {"path": "born", "vendorPath": "Birthday", "vendorType": "date"},
        {"path": "city", "vendorPath": "City"},
        {"path": "emails[1].value", "vendorPath": "email_addresses[field=EMAIL2].email"},
        {"path": "updated", "vendorPath": "LastUpdated"},
    ]})
}

/// A CRM instance with `myContacts` defined and mapped at organization level.
async fn mapped() -> (Stack, Instance) {
    let stack = Stack::start().await;
    let instance = hub::crm(&stack).await;
    let defined = must(&stack, Method::POST, "/organizations/objects/myContacts/definitions", Some(definition())).await;
    assert_eq!(defined["level"], "organization");
    let mapped = must(
        &stack,
        Method::POST,
        "/organizations/elements/infusionsoftcrm/transformations/myContacts",
        Some(crm_transformation()),
    )
    .await;
    assert_eq!(mapped["level"], "organization");
    assert_eq!(mapped["vendorName"], "contacts");
    assert!(mapped["startDate"].is_string(), "{mapped}");
    (stack, instance)
}

/// `value`'s leaves by path (`name.first`, `emails[1].value`): a common record as CEQL sees it.
fn flat(value: &Value) -> Map<String, Value> {
    fn walk(path: String, value: &Value, out: &mut Map<String, Value>) {
        match value {
            Value::Object(fields) => {
                for (key, value) in fields {
                    let next = if path.is_empty() { key.clone() } else { format!("{path}.{key}") };
                    walk(next, value, out);
                }
            }
            Value::Array(elements) => {
                for (index, value) in elements.iter().enumerate() {
                    walk(format!("{path}[{index}]"), value, out);
                }
            }
            leaf => {
                out.insert(path, leaf.clone());
            }
        }
    }
    let mut out = Map::new();
    walk(String::new(), value, &mut out);
    out
}

#[tokio::test]
async fn the_platforms_flow_maps_the_common_shape_both_ways_with_an_instance_override() {
    let (stack, instance) = mapped().await;
    // One field overridden for this instance: the title comes from the contact's nickname.
    let overridden = must(
        &stack,
        Method::POST,
        &format!("/instances/{}/transformations/myContacts", instance.id),
        Some(json!({"fields": [{"path": "work.title", "vendorPath": "Nickname"}]})),
    )
    .await;
    assert_eq!(overridden["level"], "instance");
    let objects = hub::expect(&stack, &instance, Method::GET, "/hubs/crm/objects", None, 200).await;
    assert!(objects.as_array().unwrap().iter().any(|name| name == "myContacts"), "{objects}");

    let body = json!({
        "name": {"first": "Ada", "last": "Lovelace"}, "email": "ada@engine.example.com",
        "work": {"title": "Countess"}, "born": "1815-12-10", "city": "London",
        "emails": [null, {"value": "ada2@engine.example.com"}],
    });
    let created = hub::expect(&stack, &instance, Method::POST, "/hubs/crm/myContacts", Some(body), 200).await;
    let id = created["id"].as_u64().expect("the common id");
    assert_eq!(created["name"], json!({"first": "Ada", "last": "Lovelace"}));
    assert_eq!(created["born"], "1815-12-10");
    assert_eq!(created["emails"][1]["value"], "ada2@engine.example.com");
    assert!(created.get("Id").is_none() && created.get("FirstName").is_none(), "only the common shape: {created}");

    let vendor = hub::vendor_record(&stack, &instance, &format!("v2/contacts/{id}")).await;
    assert_eq!(vendor["given_name"], "Ada");
    assert_eq!(vendor["family_name"], "Lovelace");
    assert_eq!(vendor["preferred_name"], "Countess", "the instance's override wrote the nickname: {vendor}");
    assert!(vendor["job_title"].is_null() || vendor.get("job_title").is_none(), "{vendor}");
    assert!(vendor["birth_date"].as_str().unwrap().starts_with("1815-12-10"), "{vendor}");
    let emails = vendor["email_addresses"].as_array().unwrap();
    assert!(emails.iter().any(|entry| entry["field"] == "EMAIL2" && entry["email"] == "ada2@engine.example.com"));

    let read = hub::expect(&stack, &instance, Method::GET, &format!("/hubs/crm/myContacts/{id}"), None, 200).await;
    assert_eq!(read["work"]["title"], "Countess");
    assert_eq!(read["city"], "London");
    let patched = hub::expect(
        &stack,
        &instance,
        Method::PATCH,
        &format!("/hubs/crm/myContacts/{id}"),
        Some(json!({"name": {"last": "King"}, "born": "1816-01-02"})),
        200,
    )
    .await;
    assert_eq!(patched["name"]["last"], "King");
    assert_eq!(patched["name"]["first"], "Ada", "an update keeps what it does not name");
    let vendor = hub::vendor_record(&stack, &instance, &format!("v2/contacts/{id}")).await;
    assert_eq!(vendor["family_name"], "King");
    assert!(vendor["birth_date"].as_str().unwrap().starts_with("1816-01-02"), "{vendor}");

    let metadata =
        hub::expect(&stack, &instance, Method::GET, "/hubs/crm/objects/myContacts/metadata", None, 200).await;
    assert_eq!(metadata["vendorName"], "contacts");
    let fields: Vec<&str> =
        metadata["fields"].as_array().unwrap().iter().map(|f| f["name"].as_str().unwrap()).collect();
    assert!(fields.contains(&"name.first") && fields.contains(&"born"), "{fields:?}");

    hub::expect(&stack, &instance, Method::DELETE, &format!("/hubs/crm/myContacts/{id}"), None, 200).await;
    let (status, _) = hub::vendor(&stack, &instance, &format!("v2/contacts/{id}")).await;
    assert_eq!(status, 404, "deleted at the vendor");
}

#[tokio::test]
async fn where_on_common_names_answers_as_in_memory_evaluation_and_a_selective_equality_is_one_vendor_call() {
    let (stack, instance) = mapped().await;
    let all = walk(&stack, &instance.token, "/hubs/crm/myContacts?pageSize=1000", None).await;
    assert!(all.len() >= 100, "the sandbox's contacts, mapped");
    let rows: Vec<Map<String, Value>> = all.iter().map(flat).collect();
    let sample = rows
        .iter()
        .find(|row| row.get("email").is_some_and(Value::is_string) && row.get("name.last").is_some())
        .unwrap();
    let email = sample["email"].as_str().unwrap().to_string();
    let last = sample["name.last"].as_str().unwrap().to_string();
    let id = sample["id"].as_i64().unwrap();
    let schema = {
        let definition: mapping::common::Definition = serde_json::from_value(definition()).unwrap();
        let transformation: mapping::common::Transformation = serde_json::from_value(crm_transformation()).unwrap();
        mapping::common::compose("infusionsoftcrm", "myContacts", &definition, &transformation).unwrap().definition
    };
    let queries = [
        format!("email = '{email}'"),
        format!("id = {id}"),
        format!("id IN ({id}, 3, 5)"),
        format!("`name.last` = '{last}'"),
        format!("`name.last` LIKE '{}%'", &last[..1]),
        "`name.first` LIKE '%a%' AND id > 20".to_string(),
        "born < '1980-01-01'".to_string(),
        "born IS NULL OR city = 'Denver'".to_string(),
        "city IS NOT NULL AND NOT (id < 50)".to_string(),
        "updated >= '2026-01-01' OR `emails[1].value` IS NOT NULL".to_string(),
        format!("(email LIKE '%.com' OR `work.title` IS NULL) AND id != {id}"),
    ];
    for query in &queries {
        let expr = ceql::check(&ceql::parse(query).unwrap(), &schema).unwrap();
        let mut wanted: Vec<i64> =
            rows.iter().filter(|row| ceql::matches(&expr, row)).map(|row| row["id"].as_i64().unwrap()).collect();
        let path = format!("/hubs/crm/myContacts?where={}&pageSize=1000", enc(query));
        let mut served: Vec<i64> =
            walk(&stack, &instance.token, &path, None).await.iter().map(|row| row["id"].as_i64().unwrap()).collect();
        wanted.sort_unstable();
        served.sort_unstable();
        assert_eq!(served, wanted, "where {query}");
    }
    for pushed in [format!("email = '{email}'"), format!("id = {id}")] {
        let before = api_calls(&stack).await;
        let path = format!("/hubs/crm/myContacts?where={}", enc(&pushed));
        let served = walk(&stack, &instance.token, &path, None).await;
        assert!(!served.is_empty());
        assert_eq!(api_calls(&stack).await - before, 1, "{pushed} is one filtered vendor call");
    }
    // A condition on a converted field is evaluated here: it reads every page.
    // A hub page of 200 (the default) reads vendor pages of 200: every one of them.
    let before = api_calls(&stack).await;
    walk(&stack, &instance.token, &format!("/hubs/crm/myContacts?where={}", enc("born < '1980-01-01'")), None).await;
    let calls = (api_calls(&stack).await - before) as usize;
    assert!(calls >= all.len().div_ceil(200), "{calls} vendor calls for {} contacts", all.len());
    // orderBy and fields on common names.
    let ordered =
        walk(&stack, &instance.token, "/hubs/crm/myContacts?orderBy=id%20desc&fields=id,email&pageSize=50", Some(50))
            .await;
    let ids: Vec<i64> = ordered.iter().map(|row| row["id"].as_i64().unwrap()).collect();
    assert!(ids.windows(2).all(|pair| pair[0] > pair[1]), "descending ids");
    assert!(ordered.iter().all(|row| row.as_object().unwrap().keys().all(|key| key == "id" || key == "email")));
    let unknown = stack.hub(Method::GET, &instance.token, "/hubs/crm/myContacts?where=FirstName%3D'x'", None).await;
    let message = error_message(unknown, 400).await;
    assert!(message["message"].as_str().unwrap().contains("FirstName"), "{message}");
}

/// A tiny deterministic generator (xorshift64*), so that a failing query can be replayed.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n as u64) as usize
    }
}

/// A random condition on a common field, with a value taken from a real row.
fn random_condition(rng: &mut Rng, rows: &[Map<String, Value>]) -> String {
    const FIELDS: [&str; 8] = ["id", "name.first", "name.last", "email", "city", "born", "updated", "work.title"];
    let field = FIELDS[rng.below(FIELDS.len())];
    let quoted = format!("`{field}`");
    let value = rows[rng.below(rows.len())].get(field).cloned().unwrap_or(Value::Null);
    let literal = match &value {
        Value::Number(number) => number.to_string(),
        Value::String(text) => format!("'{}'", text.replace('\'', "''")),
        _ => return format!("{quoted} IS NULL"),
    };
    match rng.below(9) {
        0 => format!("{quoted} = {literal}"),
        1 => format!("{quoted} != {literal}"),
        2 => format!("{quoted} < {literal}"),
        3 => format!("{quoted} >= {literal}"),
        4 => format!("{quoted} IN ({literal})"),
        5 => format!("{quoted} IS NOT NULL"),
        6 if value.is_string() && !matches!(field, "born" | "updated") => {
            let text = value.as_str().unwrap();
            let prefix: String = text.chars().take(2).collect();
            format!("{quoted} LIKE '{}%'", prefix.replace('\'', "''"))
        }
        7 => format!("NOT ({quoted} = {literal})"),
        _ => format!("{quoted} > {literal}"),
    }
}

#[tokio::test]
async fn random_queries_on_common_names_answer_as_in_memory_evaluation() {
    let (stack, instance) = mapped().await;
    let all = walk(&stack, &instance.token, "/hubs/crm/myContacts?pageSize=1000", None).await;
    let rows: Vec<Map<String, Value>> = all.iter().map(flat).collect();
    let definition: mapping::common::Definition = serde_json::from_value(definition()).unwrap();
    let transformation: mapping::common::Transformation = serde_json::from_value(crm_transformation()).unwrap();
    let schema =
        mapping::common::compose("infusionsoftcrm", "myContacts", &definition, &transformation).unwrap().definition;
    let mut rng = Rng(0xc0ff_ee12_3456_789a);
    for _ in 0..120 {
        let left = random_condition(&mut rng, &rows);
        let query = match rng.below(3) {
            0 => left,
            1 => format!("({left}) AND ({})", random_condition(&mut rng, &rows)),
            _ => format!("({left}) OR ({})", random_condition(&mut rng, &rows)),
        };
        let expr =
            ceql::check(&ceql::parse(&query).unwrap(), &schema).unwrap_or_else(|error| panic!("{query}: {error}"));
        let mut wanted: Vec<i64> =
            rows.iter().filter(|row| ceql::matches(&expr, row)).map(|row| row["id"].as_i64().unwrap()).collect();
        let path = format!("/hubs/crm/myContacts?where={}&pageSize=1000", enc(&query));
        let mut served: Vec<i64> =
            walk(&stack, &instance.token, &path, None).await.iter().map(|row| row["id"].as_i64().unwrap()).collect();
        let count = served.len();
        served.sort_unstable();
        served.dedup();
        assert_eq!(served.len(), count, "where {query}: no record twice");
        wanted.sort_unstable();
        assert_eq!(served, wanted, "where {query}");
    }
}

#[tokio::test]
async fn dates_numbers_and_booleans_convert_both_ways_and_bad_values_name_the_field() {
    let stack = Stack::start().await;
    let instance = hub::crm(&stack).await;
    must(
        &stack,
        Method::POST,
        "/organizations/objects/typed/definitions",
        Some(json!({"fields": [
            {"path": "id", "type": "string"},
            {"path": "born", "type": "date", "mask": "dd/MM/yyyy"},
            {"path": "created", "type": "date", "mask": "epochMilliseconds"},
            {"path": "zip", "type": "number"},
            {"path": "vip", "type": "boolean"},
            {"path": "anniversary", "type": "date"},
        ]})),
    )
    .await;
    must(
        &stack,
        Method::POST,
        "/organizations/elements/191/transformations/typed",
        Some(json!({"vendorName": "contacts", "fields": [
            {"path": "id", "vendorPath": "Id"},
            {"path": "born", "vendorPath": "Birthday"},
            {"path": "created", "vendorPath": "DateCreated"},
            {"path": "zip", "vendorPath": "PostalCode"},
            {"path": "vip", "vendorPath": "SpouseName"},
            {"path": "anniversary", "vendorPath": "Nickname", "vendorType": "date", "mask": "yyyy/MM/dd"},
        ]})),
    )
    .await;
    let body =
        json!({"born": "10/12/1815", "zip": 80202, "vip": true, "anniversary": "2020-02-03T00:00:00Z", "id": null});
    let body = {
        let mut body = body;
        body.as_object_mut().unwrap().remove("id");
        body
    };
    let created = hub::expect(&stack, &instance, Method::POST, "/hubs/crm/typed", Some(body), 200).await;
    assert!(created["id"].as_str().is_some_and(|id| !id.is_empty()), "the id as a string: {created}");
    assert_eq!(created["born"], "10/12/1815");
    assert_eq!(created["zip"], 80202);
    assert_eq!(created["vip"], true);
    assert!(created["created"].as_i64().is_some_and(|millis| millis > 1_600_000_000_000), "{created}");
    assert_eq!(created["anniversary"], "2020-02-03T00:00:00Z");
    let id = created["id"].as_str().unwrap();
    let vendor = hub::vendor_record(&stack, &instance, &format!("v2/contacts/{id}")).await;
    assert!(vendor["birth_date"].as_str().unwrap().starts_with("1815-12-10"), "{vendor}");
    assert_eq!(vendor["spouse_name"], "true");
    assert_eq!(vendor["preferred_name"], "2020/02/03");
    let postal = vendor["addresses"].as_array().unwrap().iter().find_map(|address| address["postal_code"].as_str());
    assert_eq!(postal, Some("80202"));
    for (field, value) in [
        ("born", json!("1815-12-10")),
        ("zip", json!("eighty")),
        ("vip", json!("maybe")),
        ("anniversary", json!("soon")),
    ] {
        let answer = hub::call(
            &stack,
            &instance,
            Method::PATCH,
            &format!("/hubs/crm/typed/{id}"),
            Some(json!({ field: value })),
        )
        .await;
        assert_eq!(answer.status, 400, "{field}={value}: {}", answer.body);
        assert!(answer.body["message"].as_str().unwrap().contains(field), "{field}: {}", answer.body);
    }
}

#[tokio::test]
async fn removal_per_direction_and_pass_through() {
    let stack = Stack::start().await;
    let instance = hub::crm(&stack).await;
    must(
        &stack,
        Method::POST,
        "/organizations/objects/definitions",
        Some(json!({"slim": {"fields": [
            {"path": "mail", "type": "string"}, {"path": "readOnly", "type": "string"}, {"path": "writeOnly", "type": "string"},
        ]}})),
    )
    .await;
    must(
        &stack,
        Method::POST,
        "/organizations/elements/infusionsoftcrm/transformations/slim",
        Some(json!({"vendorName": "contacts", "fields": [
            {"path": "mail", "vendorPath": "Email"},
            {"path": "readOnly", "vendorPath": "FirstName", "configuration": [{"type": "remove", "properties": {"fromVendor": false, "toVendor": true}}]},
            {"path": "writeOnly", "vendorPath": "LastName", "configuration": [{"type": "remove", "properties": {"fromVendor": true, "toVendor": false}}]},
        ], "configuration": [{"type": "passThrough", "properties": {"fromVendor": true, "toVendor": false}}]})),
    )
    .await;
    let created = hub::expect(
        &stack,
        &instance,
        Method::POST,
        "/hubs/crm/slim",
        Some(json!({"mail": "slim@example.com", "readOnly": "dropped", "writeOnly": "Written"})),
        200,
    )
    .await;
    assert!(created.get("writeOnly").is_none(), "removed from the vendor: {created}");
    assert!(created.get("readOnly").is_none(), "nothing written, nothing read back: {created}");
    assert!(created["LastUpdated"].is_string(), "passed through from the vendor: {created}");
    assert!(created.get("Id").is_none() && created.get("id").is_some(), "the vendor id only as id: {created}");
    let id = created["id"].as_u64().unwrap();
    let vendor = hub::vendor_record(&stack, &instance, &format!("v2/contacts/{id}")).await;
    assert_eq!(vendor["family_name"], "Written");
    assert!(vendor["given_name"].is_null() || vendor.get("given_name").is_none(), "{vendor}");
    let refused =
        hub::call(&stack, &instance, Method::PATCH, &format!("/hubs/crm/slim/{id}"), Some(json!({"Phone1": "555"})))
            .await;
    assert_eq!(refused.status, 400, "pass-through does not go toward the vendor: {}", refused.body);
    assert!(refused.body["message"].as_str().unwrap().contains("Phone1"));
}

#[tokio::test]
async fn one_common_resource_over_crm_and_erp_gives_records_of_one_shape() {
    let (stack, crm) = mapped().await;
    let erp = hub::erp(&stack).await;
    let mut transformation = crm_transformation();
    transformation["vendorName"] = json!("customers");
    must(
        &stack,
        Method::POST,
        "/organizations/elements/infusionsofterp/transformations/myContacts",
        Some(transformation),
    )
    .await;
    // Both instances authenticate the same vendor account: the same contact through either.
    let from_crm = hub::expect(&stack, &crm, Method::GET, "/hubs/crm/myContacts?pageSize=20", None, 200).await;
    for record in from_crm.as_array().unwrap() {
        let id = record["id"].as_u64().unwrap();
        let from_erp = hub::expect(&stack, &erp, Method::GET, &format!("/hubs/erp/myContacts/{id}"), None, 200).await;
        assert_eq!(&from_erp, record, "the same record in the same shape through CRM and ERP");
    }
    let crm_meta = hub::expect(&stack, &crm, Method::GET, "/hubs/crm/objects/myContacts/metadata", None, 200).await;
    let erp_meta = hub::expect(&stack, &erp, Method::GET, "/hubs/erp/objects/myContacts/metadata", None, 200).await;
    let names = |meta: &Value| meta["fields"].as_array().unwrap().iter().map(|f| f["name"].clone()).collect::<Vec<_>>();
    assert_eq!(names(&crm_meta), names(&erp_meta));
}

#[tokio::test]
async fn bad_documents_are_4xx_naming_the_problem_and_store_nothing() {
    let stack = Stack::start().await;
    let instance = hub::crm(&stack).await;
    let deep = (0..40).map(|n| format!("k{n}")).collect::<Vec<_>>().join(".");
    let many: Vec<Value> = (0..10_000).map(|n| json!({"path": format!("f{n}"), "type": "string"})).collect();
    let cases: Vec<(&str, Value, &str)> = vec![
        ("myContacts", json!({"fields": [{"path": "a", "type": "money"}]}), "money"),
        ("myContacts", json!({"fields": [{"path": "a"}]}), "type"),
        ("myContacts", json!({"fields": "all"}), "fields"),
        ("myContacts", json!({"fields": [{"path": deep, "type": "string"}]}), "path"),
        ("myContacts", json!({"fields": many}), "10000 fields"),
        (
            "myContacts",
            json!({"fields": [{"path": "a", "type": "string"}, {"path": "a.b", "type": "string"}]}),
            "a.b clashes with a",
        ),
        ("contacts", json!({"fields": [{"path": "a", "type": "string"}]}), "infusionsoftcrm's object contacts"),
        ("bulk", json!({"fields": [{"path": "a", "type": "string"}]}), "path of the hub API"),
        ("bad%07name", json!({"fields": [{"path": "a", "type": "string"}]}), "must start with a letter"),
    ];
    for (name, body, wanted) in cases {
        let (status, answer) =
            platform(&stack, Method::POST, &format!("/organizations/objects/{name}/definitions"), Some(body)).await;
        assert_eq!(status, 400, "{name} {wanted}: {answer}");
        assert!(answer["message"].as_str().unwrap().contains(wanted), "{wanted} in {answer}");
    }
    let malformed = stack
        .http
        .post(stack.api("/organizations/objects/x/definitions"))
        .header("authorization", stack.platform_auth())
        .header("content-type", "application/json")
        .body("{\"fields\": [")
        .send()
        .await
        .unwrap();
    error_message(malformed, 400).await;
    assert_eq!(must(&stack, Method::GET, "/organizations/objects/definitions", None).await, json!({}));

    must(
        &stack,
        Method::POST,
        "/organizations/objects/myContacts/definitions",
        Some(json!({"fields": [{"path": "mail", "type": "boolean"}, {"path": "n", "type": "number"}]})),
    )
    .await;
    let transformations: Vec<(Value, &str)> = vec![
        (
            json!({"vendorName": "contacts", "fields": [{"path": "mail", "vendorPath": "Emial"}]}),
            "unknown vendor field 'Emial'",
        ),
        (
            json!({"vendorName": "contacts", "fields": [{"path": "mail", "vendorPath": "Email", "vendorType": "number"}]}),
            "vendorType",
        ),
        (
            json!({"vendorName": "contacts", "fields": [{"path": "mail", "vendorPath": "DateCreated"}]}),
            "cannot be mapped",
        ),
        (
            json!({"vendorName": "contacts", "fields": [{"path": "nope", "vendorPath": "Email"}]}),
            "not in the definition",
        ),
        (json!({"vendorName": "widgets", "fields": []}), "'widgets' is not an object"),
        (json!({"vendorName": "contacts", "fields": [{"path": "n", "vendorPath": "Email", "mask": "qqq"}]}), "mask"),
        (json!({"vendorName": "contacts", "fields": [], "configuration": [{"type": "explode"}]}), "explode"),
        (json!({"vendorName": "contacts", "fields": [], "script": {"body": "done()"}}), "not supported"),
    ];
    for (body, wanted) in transformations {
        let (status, answer) = platform(
            &stack,
            Method::POST,
            "/organizations/elements/infusionsoftcrm/transformations/myContacts",
            Some(body),
        )
        .await;
        assert_eq!(status, 400, "{wanted}: {answer}");
        assert!(answer["message"].as_str().unwrap().contains(wanted), "{wanted} in {answer}");
    }
    let (status, answer) = platform(
        &stack,
        Method::POST,
        "/organizations/elements/infusionsoftcrm/transformations/undefined",
        Some(json!({"vendorName": "contacts", "fields": []})),
    )
    .await;
    assert_eq!(status, 400, "{answer}");
    assert!(answer["message"].as_str().unwrap().contains("no definition of undefined"), "{answer}");
    let (status, _) = platform(
        &stack,
        Method::POST,
        "/organizations/elements/nosuchelement/transformations/myContacts",
        Some(json!({"vendorName": "contacts"})),
    )
    .await;
    assert_eq!(status, 404);
    assert_eq!(
        must(&stack, Method::GET, "/organizations/elements/infusionsoftcrm/transformations", None).await,
        json!({})
    );
    let missing = hub::call(&stack, &instance, Method::GET, "/hubs/crm/myContacts", None).await;
    assert_eq!(missing.status, 404, "defined but not mapped: {}", missing.body);

    // Create twice is a conflict; replacing a missing one is a 404; a mapped definition cannot go.
    let (status, _) = platform(
        &stack,
        Method::POST,
        "/organizations/objects/myContacts/definitions",
        Some(json!({"fields": [{"path": "a", "type": "string"}]})),
    )
    .await;
    assert_eq!(status, 409);
    let (status, _) = platform(
        &stack,
        Method::PUT,
        "/organizations/objects/other/definitions",
        Some(json!({"fields": [{"path": "a", "type": "string"}]})),
    )
    .await;
    assert_eq!(status, 404);
    must(
        &stack,
        Method::POST,
        "/organizations/elements/infusionsoftcrm/transformations/myContacts",
        Some(json!({"vendorName": "contacts", "fields": [{"path": "n", "vendorPath": "Id"}]})),
    )
    .await;
    let (status, answer) =
        platform(&stack, Method::DELETE, "/organizations/objects/myContacts/definitions", None).await;
    assert_eq!(status, 409, "{answer}");
    let (status, answer) = platform(
        &stack,
        Method::PUT,
        "/organizations/objects/myContacts/definitions",
        Some(json!({"fields": [{"path": "mail", "type": "boolean"}]})),
    )
    .await;
    assert_eq!(status, 400, "the replacement would break the transformation: {answer}");
    assert!(answer["message"].as_str().unwrap().contains("field n is not in the definition"), "{answer}");
}

#[tokio::test]
async fn another_organization_never_sees_nor_uses_the_common_resources() {
    let (stack, instance) = mapped().await;
    let (other, other_secret) = stack.store.create_organization("other").await.unwrap();
    let (_, user) = stack.store.create_user(other.id, "someone", false).await.unwrap();
    let auth = format!("User {}, Organization {}", user.expose(), other_secret.expose());
    let get = |path: &str| stack.http.get(stack.api(path)).header("authorization", auth.clone()).send();
    assert_eq!(get("/organizations/objects/definitions").await.unwrap().json::<Value>().await.unwrap(), json!({}));
    assert_eq!(get("/organizations/objects/myContacts/definitions").await.unwrap().status(), 404);
    assert_eq!(
        get("/organizations/elements/infusionsoftcrm/transformations").await.unwrap().json::<Value>().await.unwrap(),
        json!({})
    );
    assert_eq!(get(&format!("/instances/{}/transformations", instance.id)).await.unwrap().status(), 404);
    let put = stack
        .http
        .post(stack.api(&format!("/instances/{}/transformations/myContacts", instance.id)))
        .header("authorization", auth.clone())
        .json(&json!({"fields": []}))
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 404);
    // The other organization's own instance does not get this organization's mapping.
    let code = stack.consent(crate::common::CALLBACK).await;
    let created = stack
        .http
        .post(stack.api("/instances"))
        .header("authorization", auth.clone())
        .json(&stack.crm_body(&code))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 200);
    let token = created.json::<Value>().await.unwrap()["token"].as_str().unwrap().to_string();
    let answer = stack
        .http
        .get(stack.api("/hubs/crm/myContacts"))
        .header("authorization", format!("User {}, Element {token}", user.expose()))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 404);
}
