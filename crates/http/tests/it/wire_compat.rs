//! What the old platforms' existing clients send and read, sent exactly as they send it: the
//! object catalog at the API root, bulk paths before bulk exists, and CORS for browser clients.

use axum::http::StatusCode;
use http_api::cors::CorsOrigins;
use serde_json::Value;

use crate::common::{error_message, Stack, StackOptions};

#[tokio::test]
async fn the_object_catalog_is_served_at_the_api_root_with_the_element_token() {
    let stack = Stack::start().await;
    let token = stack.create_instance().await["token"].as_str().unwrap().to_string();
    let get = |path: &str| stack.http.get(stack.api(path)).header("authorization", stack.hub_auth(&token)).send();
    let root: Value = get("/objects").await.unwrap().json().await.unwrap();
    let hub: Value = get("/hubs/crm/objects").await.unwrap().json().await.unwrap();
    assert_eq!(root, hub);
    assert!(root.as_array().unwrap().iter().any(|name| name == "contacts"), "{root}");
    let metadata = get("/objects/contacts/metadata").await.unwrap();
    assert_eq!(metadata.status(), StatusCode::OK);
    assert!(metadata.headers().contains_key("elements-element-instance-id"));
    let metadata: Value = metadata.json().await.unwrap();
    assert_eq!(metadata, get("/hubs/crm/objects/contacts/metadata").await.unwrap().json::<Value>().await.unwrap());
    error_message(get("/objects/widgets/metadata").await.unwrap(), 404).await;
    // Without the Element token: who is asking decides the element, so it is a 401.
    let anonymous = stack.http.get(stack.api("/objects")).header("authorization", stack.platform_auth()).send();
    error_message(anonymous.await.unwrap(), 401).await;
}

#[tokio::test]
async fn bulk_paths_are_the_bulk_api_and_never_object_routes() {
    let stack = Stack::start().await;
    let token = stack.create_instance().await["token"].as_str().unwrap().to_string();
    let auth = stack.hub_auth(&token);
    for (path, wanted) in [
        ("/hubs/crm/bulk", "No such bulk resource"),
        ("/hubs/crm/bulk/12/status", "No bulk job"),
        ("/hubs/erp/bulk/12/contacts", "No bulk job"),
        ("/hubs/crm/bulk/12/contacts/extra", "Unknown object"),
    ] {
        let answer = stack.http.get(stack.api(path)).header("authorization", &auth).send().await.unwrap();
        assert!(answer.headers().contains_key("elements-element-instance-id"), "{path}");
        let body = error_message(answer, 404).await;
        assert!(body["message"].as_str().unwrap().contains(wanted), "{path}: {body}");
    }
    let upload = stack.http.post(stack.api("/hubs/crm/bulk/contacts")).header("authorization", &auth).body("a,b\n");
    error_message(upload.send().await.unwrap(), 415).await;
    let wrong_method = stack.http.delete(stack.api("/hubs/crm/bulk/jobs")).header("authorization", &auth);
    let wrong_method = wrong_method.send().await.unwrap();
    assert!(wrong_method.headers().contains_key("allow"), "the methods it has");
    error_message(wrong_method, 405).await;
}

#[tokio::test]
async fn without_configured_origins_the_api_answers_no_cors_headers() {
    let stack = Stack::start().await;
    let answer =
        stack.http.get(stack.api("/elements")).header("origin", "https://app.example.com").send().await.unwrap();
    assert_eq!(answer.status(), StatusCode::OK);
    assert!(!answer.headers().contains_key("access-control-allow-origin"));
}

#[tokio::test]
async fn browser_clients_of_configured_origins_get_cors_answers() {
    let origins = CorsOrigins::parse("https://app.example.com").unwrap();
    let stack = Stack::start_with(StackOptions { cors_origins: origins, ..StackOptions::default() }).await;
    let answer =
        stack.http.get(stack.api("/elements")).header("origin", "https://app.example.com").send().await.unwrap();
    assert_eq!(answer.status(), StatusCode::OK);
    assert_eq!(answer.headers()["access-control-allow-origin"], "https://app.example.com");
    let exposed = answer.headers()["access-control-expose-headers"].to_str().unwrap().to_ascii_lowercase();
    for header in ["elements-next-page-token", "elements-returned-count", "elements-total-count", "elements-request-id"]
    {
        assert!(exposed.contains(header), "{header} exposed: {exposed}");
    }
    // The preflight a browser sends before a hub call with an Authorization header.
    let preflight = stack
        .http
        .request(reqwest::Method::OPTIONS, stack.api("/hubs/crm/contacts"))
        .header("origin", "https://app.example.com")
        .header("access-control-request-method", "GET")
        .header("access-control-request-headers", "authorization")
        .send()
        .await
        .unwrap();
    assert!(preflight.status().is_success(), "{}", preflight.status());
    assert_eq!(preflight.headers()["access-control-allow-origin"], "https://app.example.com");
    let allowed = preflight.headers()["access-control-allow-headers"].to_str().unwrap().to_ascii_lowercase();
    assert!(allowed.contains("authorization"), "{allowed}");
    // A raw passthrough, which the router serves while origins are configured, answers CORS too.
    let token = stack.create_instance().await["token"].as_str().unwrap().to_string();
    let raw = stack
        .http
        .get(stack.api("/hubs/crm/raw/v2/contacts/1"))
        .header("authorization", stack.hub_auth(&token))
        .header("origin", "https://app.example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status(), StatusCode::OK);
    assert_eq!(raw.headers()["access-control-allow-origin"], "https://app.example.com");
    // Another origin is not allowed.
    let other = stack.http.get(stack.api("/elements")).header("origin", "https://evil.example").send().await.unwrap();
    assert!(!other.headers().contains_key("access-control-allow-origin"));
}

#[tokio::test]
async fn records_carry_id_so_generic_helpers_can_address_them_next() {
    use reqwest::Method;
    let stack = Stack::start().await;
    let token = stack.create_instance().await["token"].as_str().unwrap().to_string();
    // A generic helper: create, then address the record by `body.id`.
    let created = stack
        .hub(
            Method::POST,
            &token,
            "/hubs/crm/accounts",
            Some(serde_json::json!({"FirstName": "Ada", "LastName": "Generic"})),
        )
        .await;
    assert_eq!(created.status(), StatusCode::OK);
    let created: Value = created.json().await.unwrap();
    assert!(created["id"].is_u64() && created["id"] == created["Id"], "{created}");
    let id = created["id"].as_u64().unwrap();
    let read: Value =
        stack.hub(Method::GET, &token, &format!("/hubs/crm/accounts/{id}"), None).await.json().await.unwrap();
    assert_eq!((read["id"].as_u64(), read["Id"].as_u64()), (Some(id), Some(id)));
    // Writes accept the id under either key, or both.
    let body = serde_json::json!({"id": id, "Id": id, "LastName": "Helper"});
    let updated = stack.hub(Method::PATCH, &token, &format!("/hubs/crm/accounts/{id}"), Some(body)).await;
    assert_eq!(updated.status(), StatusCode::OK);
    let updated: Value = updated.json().await.unwrap();
    assert_eq!((updated["LastName"].as_str(), updated["id"].as_u64()), (Some("Helper"), Some(id)));
    let wrong = serde_json::json!({"id": id + 1, "LastName": "X"});
    error_message(stack.hub(Method::PATCH, &token, &format!("/hubs/crm/accounts/{id}"), Some(wrong)).await, 400).await;
    // Lists and children too; `fields` still answers only what was named.
    let list: Value = stack.hub(Method::GET, &token, "/hubs/crm/contacts?pageSize=3", None).await.json().await.unwrap();
    assert!(list.as_array().unwrap().iter().all(|row| row["id"] == row["Id"] && row["id"].is_u64()), "{list}");
    let narrow: Value =
        stack.hub(Method::GET, &token, "/hubs/crm/contacts?pageSize=3&fields=Email", None).await.json().await.unwrap();
    assert!(narrow.as_array().unwrap().iter().all(|row| row.get("id").is_none()), "{narrow}");
    let tags: Value = stack.hub(Method::GET, &token, "/hubs/crm/contacts/1/tags", None).await.json().await.unwrap();
    assert!(tags.as_array().unwrap().iter().all(|row| row.get("id").is_some()), "{tags}");
}

#[tokio::test]
async fn an_instance_with_events_but_no_callback_is_told_where_its_events_go() {
    let stack = Stack::start().await;
    let plain: Value = stack.create_instance().await;
    assert!(plain.get("warnings").is_none(), "no warning without events: {plain}");

    let code = stack.consent(crate::common::CALLBACK).await;
    let mut body = stack.crm_body(&code);
    body["configuration"]["event.notification.enabled"] = serde_json::json!("true");
    let created = stack.post_instance(&body).await;
    assert_eq!(created.status(), StatusCode::OK);
    let created: Value = created.json().await.unwrap();
    assert_eq!(created["eventsEnabled"], true);
    let warnings = created["warnings"].as_array().expect("a warnings list").clone();
    assert!(warnings.iter().any(|warning| warning.as_str().unwrap().contains("event log")), "{created}");
    // Read back, the instance says so again; with a callback URL the warning goes.
    let id = created["id"].as_i64().unwrap();
    let read: Value = stack.platform(reqwest::Method::GET, &format!("/instances/{id}")).await.json().await.unwrap();
    assert_eq!(read["warnings"], created["warnings"]);
    let callback =
        serde_json::json!({"configuration": {"event.notification.callback.url": "https://app.example.com/events"}});
    let patched: Value = stack
        .http
        .patch(stack.api(&format!("/instances/{id}")))
        .header("authorization", stack.platform_auth())
        .json(&callback)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(patched.get("warnings").is_none(), "{patched}");
}

#[tokio::test]
async fn opportunities_are_created_as_the_old_clients_create_them() {
    use reqwest::Method;
    let stack = Stack::start().await;
    let token = stack.create_instance().await["token"].as_str().unwrap().to_string();
    // The old platform's test body: a title alone. The vendor needs a contact: the 400 says what
    // to send, beside the vendor's own text.
    let title_only = serde_json::json!({"OpportunityTitle": "Robot Test"});
    let refused = stack.hub(Method::POST, &token, "/hubs/crm/opportunities", Some(title_only)).await;
    let refused = error_message(refused, 400).await;
    let message = refused["message"].as_str().unwrap();
    assert!(message.contains("ContactID") && message.contains("GET /hubs/crm/contacts"), "{message}");
    assert!(refused["providerMessage"].as_str().unwrap().contains("contact_id"), "{refused}");

    // With the contact, the stage defaults to the account's first pipeline stage.
    let stages = stack.hub(Method::GET, &token, "/hubs/crm/raw/v2/opportunities/stages", None).await;
    let stages: Value = stages.json().await.unwrap();
    let first_stage = stages["stages"][0]["id"].as_str().unwrap().parse::<u64>().unwrap();
    let body = serde_json::json!({"OpportunityTitle": "Robot Test", "ContactID": 1});
    let created = stack.hub(Method::POST, &token, "/hubs/crm/opportunities", Some(body)).await;
    assert_eq!(created.status(), StatusCode::OK);
    let created: Value = created.json().await.unwrap();
    assert_eq!(created["StageID"].as_u64(), Some(first_stage), "{created}");
    assert_eq!(created["OpportunityTitle"], "Robot Test");
    // A stage the client names is kept.
    let second_stage = stages["stages"][1]["id"].as_str().unwrap().parse::<u64>().unwrap();
    let body = serde_json::json!({"OpportunityTitle": "Staged", "ContactID": 1, "StageID": second_stage});
    let staged: Value =
        stack.hub(Method::POST, &token, "/hubs/crm/opportunities", Some(body)).await.json().await.unwrap();
    assert_eq!(staged["StageID"].as_u64(), Some(second_stage));
}

#[tokio::test]
async fn money_reads_and_writes_in_currency_units_converted_exactly() {
    use reqwest::Method;
    let stack = Stack::start().await;
    let token = stack.create_instance().await["token"].as_str().unwrap().to_string();
    let body = serde_json::json!({"ProductName": "Gadget", "Sku": "G-1", "ProductPrice": 59.99});
    let created = stack.hub(Method::POST, &token, "/hubs/crm/products", Some(body)).await;
    assert_eq!(created.status(), StatusCode::OK);
    let text = created.text().await.unwrap();
    assert!(text.contains("\"ProductPrice\":59.99"), "shown as written: {text}");
    let id = serde_json::from_str::<Value>(&text).unwrap()["Id"].as_u64().unwrap();
    let raw = stack.hub(Method::GET, &token, &format!("/hubs/crm/raw/v2/products/{id}"), None).await;
    assert_eq!(raw.json::<Value>().await.unwrap()["price"]["amount"], 5999, "the vendor keeps cents");
    // 0.29 * 100 is 28.999… in floating point: the conversion goes through the decimal text.
    let patched = stack
        .hub(
            Method::PATCH,
            &token,
            &format!("/hubs/crm/products/{id}"),
            Some(serde_json::json!({"ProductPrice": 0.29})),
        )
        .await;
    assert_eq!(patched.json::<Value>().await.unwrap()["ProductPrice"], 0.29);
    let raw = stack.hub(Method::GET, &token, &format!("/hubs/crm/raw/v2/products/{id}"), None).await;
    assert_eq!(raw.json::<Value>().await.unwrap()["price"]["amount"], 29);
    // A fraction of a cent is refused by name, before the vendor sees it.
    let refused = stack
        .hub(
            Method::PATCH,
            &token,
            &format!("/hubs/crm/products/{id}"),
            Some(serde_json::json!({"ProductPrice": 1.005})),
        )
        .await;
    let refused = error_message(refused, 400).await;
    assert!(refused["message"].as_str().unwrap().contains("ProductPrice"), "{refused}");
    // The metadata says which fields are money.
    let metadata: Value =
        stack.hub(Method::GET, &token, "/hubs/crm/objects/products/metadata", None).await.json().await.unwrap();
    let price = metadata["fields"].as_array().unwrap().iter().find(|field| field["name"] == "ProductPrice").unwrap();
    assert_eq!(price["unit"], "currency", "{price}");
}

#[tokio::test]
async fn a_405_names_exactly_the_methods_the_object_supports_before_reading_any_body() {
    use reqwest::Method;
    let stack = Stack::start().await;
    let token = stack.create_instance().await["token"].as_str().unwrap().to_string();
    let cases: [(Method, &str, &str); 5] = [
        (Method::POST, "/hubs/crm/campaigns", "GET"),
        (Method::OPTIONS, "/hubs/crm/campaigns", "GET"),
        (Method::DELETE, "/hubs/crm/campaigns/1", "GET"),
        (Method::PUT, "/hubs/crm/contacts", "GET, POST"),
        (Method::POST, "/hubs/crm/contacts/1", "GET, PATCH, PUT, DELETE"),
    ];
    for (method, path, allow) in cases {
        // A body that is not even JSON: the method is refused first.
        let answer = stack
            .http
            .request(method.clone(), stack.api(path))
            .header("authorization", stack.hub_auth(&token))
            .header("content-type", "application/json")
            .body("{not json")
            .send()
            .await
            .unwrap();
        let given = answer.headers().get("allow").map(|value| value.to_str().unwrap().to_string());
        assert_eq!(given.as_deref(), Some(allow), "{method} {path}: {:?}", answer.headers());
        assert!(answer.headers().contains_key("elements-element-instance-id"));
        error_message(answer, 405).await;
    }
    // An unknown object is a 404 whatever the method.
    let unknown = stack.hub(Method::PUT, &token, "/hubs/crm/widgets", None).await;
    error_message(unknown, 404).await;
}
