//! Formula templates over HTTP: the platforms' example formulas created unchanged and read back,
//! export then import, every refusal a 4xx JSON error naming the problem, replace and merge patch,
//! delete, and tenant isolation.

use reqwest::Method;
use serde_json::{json, Value};

use crate::common::{error_message, Stack};

/// The platforms' example formulas the template model is tested with.
const EXAMPLES: [(&str, &str); 4] = [
    ("event_filter_request", include_str!("../../../formulas/tests/it/formulas/event_filter_request.json")),
    ("manual", include_str!("../../../formulas/tests/it/formulas/manual.json")),
    ("scheduled", include_str!("../../../formulas/tests/it/formulas/scheduled.json")),
    ("loop", include_str!("../../../formulas/tests/it/formulas/loop.json")),
];

/// The fields the server owns in an answer.
const SERVER_FIELDS: [&str; 3] = ["id", "createdDate", "updatedDate"];

fn example(name: &str) -> Value {
    let (_, text) = EXAMPLES.iter().find(|(n, _)| *n == name).unwrap();
    serde_json::from_str(text).unwrap()
}

fn without_server_fields(mut value: Value) -> Value {
    for field in SERVER_FIELDS {
        value.as_object_mut().unwrap().remove(field);
    }
    value
}

/// A small valid formula named `name`.
fn manual(name: &str) -> Value {
    json!({
        "name": name,
        "configuration": [{"key": "crm", "type": "elementInstance"}],
        "triggers": [{"type": "manual", "onSuccess": ["read"]}],
        "steps": [{"name": "read", "type": "elementRequest",
            "properties": {"elementInstanceId": "${config.crm}", "method": "GET", "api": "/contacts"}}],
        "x-author-note": {"kept": true}
    })
}

async fn send(stack: &Stack, method: Method, path: &str, body: Option<&Value>) -> reqwest::Response {
    let mut request = stack.http.request(method, stack.api(path)).header("authorization", stack.platform_auth());
    if let Some(body) = body {
        request = request.json(body);
    }
    request.send().await.unwrap()
}

async fn create(stack: &Stack, body: &Value) -> Value {
    let answer = send(stack, Method::POST, "/formulas", Some(body)).await;
    assert_eq!(answer.status(), 200, "{}", answer.text().await.unwrap());
    answer.json().await.unwrap()
}

/// The message of a 400 to `POST /formulas` with `body`.
async fn refused(stack: &Stack, body: &Value) -> String {
    let answer = send(stack, Method::POST, "/formulas", Some(body)).await;
    error_message(answer, 400).await["message"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn the_platforms_example_formulas_are_created_unchanged_and_read_back_identical() {
    let stack = Stack::start().await;
    for (name, _) in EXAMPLES {
        let original = example(name);
        let created = create(&stack, &original).await;
        let id = created["id"].as_i64().unwrap();
        assert_ne!(Some(id), original["id"].as_i64(), "{name}: the id is this deployment's");
        assert!(created["createdDate"].is_string() && created["updatedDate"].is_string(), "{name}");
        assert_eq!(without_server_fields(created.clone()), without_server_fields(original.clone()), "{name}");
        let read: Value = send(&stack, Method::GET, &format!("/formulas/{id}"), None).await.json().await.unwrap();
        assert_eq!(read, created, "{name}: read back as created");
        // Unknown fields of every level are kept.
        assert_eq!(read["steps"][0]["id"], original["steps"][0]["id"], "{name}");
    }
    let listed: Value = send(&stack, Method::GET, "/formulas", None).await.json().await.unwrap();
    assert_eq!(listed.as_array().unwrap().len(), EXAMPLES.len());
}

#[tokio::test]
async fn an_export_imports_as_an_equal_template() {
    let stack = Stack::start().await;
    let created = create(&stack, &example("event_filter_request")).await;
    let id = created["id"].as_i64().unwrap();
    let export: Value = send(&stack, Method::GET, &format!("/formulas/{id}/export"), None).await.json().await.unwrap();
    for field in SERVER_FIELDS {
        assert!(export.get(field).is_none(), "the export holds no {field} of this deployment: {export}");
    }
    assert_eq!(export, without_server_fields(created.clone()));
    // Imported into another organization (another deployment's view of it), unchanged.
    let (other, other_secret) = stack.store.create_organization("elsewhere").await.unwrap();
    let (_, user) = stack.store.create_user(other.id, "someone", false).await.unwrap();
    let auth = format!("User {}, Organization {}", user.expose(), other_secret.expose());
    let imported: Value = stack
        .http
        .post(stack.api("/formulas"))
        .header("authorization", auth)
        .json(&export)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(without_server_fields(imported), export);
    // The same organization cannot import it twice under one name.
    let again = send(&stack, Method::POST, "/formulas", Some(&export)).await;
    let message = error_message(again, 409).await["message"].as_str().unwrap().to_owned();
    assert!(message.contains(export["name"].as_str().unwrap()), "{message}");
}

#[tokio::test]
async fn every_invalid_template_is_a_400_naming_each_problem_with_its_path() {
    let stack = Stack::start().await;
    let mut unknown_step = manual("a");
    unknown_step["triggers"][0]["onSuccess"] = json!(["nowhere"]);
    let message = refused(&stack, &unknown_step).await;
    assert!(message.contains("/triggers/0/onSuccess/0") && message.contains("'nowhere'"), "{message}");

    let mut cycle = manual("b");
    cycle["steps"][0]["onSuccess"] = json!(["read"]);
    assert!(refused(&stack, &cycle).await.contains("cycle"));

    let mut missing_slot = manual("c");
    missing_slot["steps"][0]["properties"]["elementInstanceId"] = json!("${config.erp}");
    let message = refused(&stack, &missing_slot).await;
    assert!(message.contains("/steps/0/properties/elementInstanceId"), "{message}");

    let scheduled = json!({"name": "d", "triggers": [{"type": "scheduled", "properties": {"cron": "every day"}}]});
    assert!(refused(&stack, &scheduled).await.contains("/triggers/0/properties/cron"));

    let mut two = manual("e");
    two["name"] = json!(" ");
    two["steps"][0]["properties"]["method"] = json!("FETCH");
    let message = refused(&stack, &two).await;
    assert!(message.contains("/name") && message.contains("FETCH"), "both problems named: {message}");

    let mut unsupported = manual("f");
    unsupported["steps"][0]["type"] = json!("amqpRequest");
    assert!(refused(&stack, &unsupported).await.contains("amqpRequest"));

    let message = refused(&stack, &json!({"name": 5})).await;
    assert!(message.contains("name"), "{message}");
    assert!(refused(&stack, &json!({"steps": []})).await.contains("name"));
    assert!(refused(&stack, &json!(["not", "an", "object"])).await.contains("object"));
    assert!(refused(&stack, &json!({"name": "nul\u{0}name"})).await.contains("control"));

    let listed: Value = send(&stack, Method::GET, "/formulas", None).await.json().await.unwrap();
    assert_eq!(listed, json!([]), "nothing refused was stored");
}

#[tokio::test]
async fn unusable_bodies_and_ids_are_4xx_json_errors() {
    let stack = Stack::start().await;
    let post = |body: Vec<u8>, content_type: &'static str| {
        stack
            .http
            .post(stack.api("/formulas"))
            .header("authorization", stack.platform_auth())
            .header("content-type", content_type)
            .body(body)
            .send()
    };
    error_message(post(b"{\"name\": \"x\"}".to_vec(), "text/plain").await.unwrap(), 415).await;
    error_message(post(b"{\"name\": ".to_vec(), "application/json").await.unwrap(), 400).await;
    error_message(post(Vec::new(), "application/json").await.unwrap(), 400).await;
    let mut huge = b"{\"name\": \"big\", \"x\": \"".to_vec();
    huge.extend(std::iter::repeat_n(b'a', 10 * 1024 * 1024));
    huge.extend(b"\"}");
    error_message(post(huge, "application/json").await.unwrap(), 413).await;
    let deep = format!("{{\"name\": \"deep\", \"x\": {}{}}}", "[".repeat(100_000), "]".repeat(100_000));
    error_message(post(deep.into_bytes(), "application/json").await.unwrap(), 400).await;

    let created = create(&stack, &manual("ok")).await;
    let id = created["id"].as_i64().unwrap();
    for path in ["/formulas/abc", "/formulas/0", "/formulas/-1", "/formulas/99999999999999999999"] {
        error_message(send(&stack, Method::GET, path, None).await, 404).await;
    }
    error_message(send(&stack, Method::GET, "/formulas/%FF", None).await, 400).await;
    let answer = send(&stack, Method::PATCH, &format!("/formulas/{id}"), Some(&json!([1]))).await;
    error_message(answer, 400).await;
    let answer = send(&stack, Method::GET, "/formulas?pageSize=0", None).await;
    error_message(answer, 400).await;
    let answer = send(&stack, Method::GET, "/formulas?nextPage=bogus", None).await;
    error_message(answer, 400).await;
}

#[tokio::test]
async fn every_route_needs_platform_credentials() {
    let stack = Stack::start().await;
    let id = create(&stack, &manual("mine")).await["id"].as_i64().unwrap();
    let body = manual("other");
    for (method, path) in [
        (Method::POST, "/formulas".to_string()),
        (Method::GET, "/formulas".to_string()),
        (Method::GET, format!("/formulas/{id}")),
        (Method::PUT, format!("/formulas/{id}")),
        (Method::PATCH, format!("/formulas/{id}")),
        (Method::DELETE, format!("/formulas/{id}")),
        (Method::GET, format!("/formulas/{id}/export")),
    ] {
        let answer = stack.http.request(method.clone(), stack.api(&path)).json(&body).send().await.unwrap();
        error_message(answer, 401).await;
        let wrong = stack
            .http
            .request(method.clone(), stack.api(&path))
            .header("authorization", "User nope, Organization nope")
            .json(&body)
            .send()
            .await
            .unwrap();
        error_message(wrong, 401).await;
    }
}

#[tokio::test]
async fn another_organization_never_sees_changes_deletes_or_exports_a_formula() {
    let stack = Stack::start().await;
    let id = create(&stack, &manual("private")).await["id"].as_i64().unwrap();
    let (other, other_secret) = stack.store.create_organization("other").await.unwrap();
    let (_, user) = stack.store.create_user(other.id, "someone", false).await.unwrap();
    let auth = format!("User {}, Organization {}", user.expose(), other_secret.expose());
    let call = |method: Method, path: String, body: Option<Value>| {
        let mut request = stack.http.request(method, stack.api(&path)).header("authorization", auth.clone());
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send()
    };
    let listed: Value = call(Method::GET, "/formulas".into(), None).await.unwrap().json().await.unwrap();
    assert_eq!(listed, json!([]));
    for (method, path, body) in [
        (Method::GET, format!("/formulas/{id}"), None),
        (Method::GET, format!("/formulas/{id}/export"), None),
        (Method::PUT, format!("/formulas/{id}"), Some(manual("taken over"))),
        (Method::PATCH, format!("/formulas/{id}"), Some(json!({"description": "mine now"}))),
        (Method::DELETE, format!("/formulas/{id}"), None),
    ] {
        error_message(call(method, path, body).await.unwrap(), 404).await;
    }
    // The same name is free in the other organization.
    let own = call(Method::POST, "/formulas".into(), Some(manual("private"))).await.unwrap();
    assert_eq!(own.status(), 200);
    let read: Value = send(&stack, Method::GET, &format!("/formulas/{id}"), None).await.json().await.unwrap();
    assert_eq!(without_server_fields(read), manual("private"), "untouched");
}

#[tokio::test]
async fn put_replaces_and_patch_merges_and_both_revalidate() {
    let stack = Stack::start().await;
    let created = create(&stack, &manual("sync")).await;
    let id = created["id"].as_i64().unwrap();
    let path = format!("/formulas/{id}");

    // PUT replaces: what the new body lacks is gone; the id and creation date stay.
    let replacement = json!({"name": "sync", "description": "replaced"});
    let answer = send(&stack, Method::PUT, &path, Some(&replacement)).await;
    assert_eq!(answer.status(), 200);
    let replaced: Value = answer.json().await.unwrap();
    assert_eq!(without_server_fields(replaced.clone()), replacement);
    assert_eq!((&replaced["id"], &replaced["createdDate"]), (&created["id"], &created["createdDate"]));

    // PATCH merges (RFC 7396): members added, null removes, arrays replaced whole.
    send(&stack, Method::PUT, &path, Some(&manual("sync"))).await;
    let patch = json!({"description": "patched", "x-author-note": null, "configuration": [
        {"key": "crm", "type": "elementInstance"}, {"key": "limit", "type": "value"}]});
    let answer = stack
        .http
        .patch(stack.api(&path))
        .header("authorization", stack.platform_auth())
        .header("content-type", "application/merge-patch+json")
        .body(patch.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    let patched: Value = answer.json().await.unwrap();
    let mut expected = manual("sync");
    expected["description"] = json!("patched");
    expected.as_object_mut().unwrap().remove("x-author-note");
    expected["configuration"] = patch["configuration"].clone();
    assert_eq!(without_server_fields(patched), expected);

    // Both re-validate, and a refused write changes nothing.
    let breaking = json!({"triggers": [{"type": "manual", "onSuccess": ["gone"]}]});
    let message = error_message(send(&stack, Method::PATCH, &path, Some(&breaking)).await, 400).await;
    assert!(message["message"].as_str().unwrap().contains("'gone'"), "{message}");
    let message = error_message(send(&stack, Method::PUT, &path, Some(&json!({"name": ""}))).await, 400).await;
    assert!(message["message"].as_str().unwrap().contains("/name"), "{message}");
    let read: Value = send(&stack, Method::GET, &path, None).await.json().await.unwrap();
    assert_eq!(without_server_fields(read), expected);

    // Renaming onto another template's name is a 409 naming it.
    create(&stack, &manual("other")).await;
    let clash = send(&stack, Method::PATCH, &path, Some(&json!({"name": "OTHER"}))).await;
    let message = error_message(clash, 409).await;
    assert!(message["message"].as_str().unwrap().contains("'OTHER'"), "{message}");
}

#[tokio::test]
async fn a_deleted_formula_is_gone() {
    let stack = Stack::start().await;
    let id = create(&stack, &manual("short-lived")).await["id"].as_i64().unwrap();
    let path = format!("/formulas/{id}");
    assert_eq!(send(&stack, Method::DELETE, &path, None).await.status(), 200);
    error_message(send(&stack, Method::GET, &path, None).await, 404).await;
    error_message(send(&stack, Method::GET, &format!("{path}/export"), None).await, 404).await;
    error_message(send(&stack, Method::DELETE, &path, None).await, 404).await;
    // Its name is free again.
    create(&stack, &manual("short-lived")).await;
}

#[tokio::test]
async fn formulas_are_listed_in_pages_and_warnings_are_named() {
    let stack = Stack::start().await;
    for i in 0..3 {
        create(&stack, &manual(&format!("f{i}"))).await;
    }
    let first = send(&stack, Method::GET, "/formulas?pageSize=2", None).await;
    let next = first.headers()["elements-next-page-token"].to_str().unwrap().to_owned();
    let first: Value = first.json().await.unwrap();
    assert_eq!(first.as_array().unwrap().len(), 2);
    let second = send(&stack, Method::GET, &format!("/formulas?pageSize=2&nextPage={next}"), None).await;
    assert!(second.headers().get("elements-next-page-token").is_none());
    let second: Value = second.json().await.unwrap();
    assert_eq!(second[0]["name"], "f2");

    // A step no trigger reaches is stored, with a warning.
    let mut aside = manual("aside");
    aside["steps"]
        .as_array_mut()
        .unwrap()
        .push(json!({"name": "later", "type": "script", "properties": {"body": "done({})"}}));
    let answer = send(&stack, Method::POST, "/formulas", Some(&aside)).await;
    assert_eq!(answer.status(), 200);
    let warning = answer.headers()["elements-error"].to_str().unwrap().to_owned();
    assert!(warning.contains("'later'"), "{warning}");
}
