//! The event routes' answers to bad, hostile and foreign input, and the callback URL guard at
//! configuration time (the stack runs without `--allow-private-callbacks`). Delivery end to end is
//! tested with real processes in `crates/junction/tests/it/events.rs`.

use reqwest::Method;
use serde_json::{json, Value};

use crate::common::{error_message, Stack};

async fn patch_configuration(stack: &Stack, id: i64, configuration: Value) -> reqwest::Response {
    stack
        .http
        .patch(stack.api(&format!("/instances/{id}")))
        .header("authorization", stack.platform_auth())
        .json(&json!({ "configuration": configuration }))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn private_and_metadata_callback_urls_are_refused_naming_the_key() {
    let stack = Stack::start().await;
    let id = stack.create_instance().await["id"].as_i64().unwrap();
    for url in [
        "http://127.0.0.1:9000/hook",
        "http://localhost/hook",
        "http://10.1.2.3/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://192.168.0.10/hook",
        "ftp://example.com/hook",
    ] {
        let answer = patch_configuration(&stack, id, json!({"event.notification.callback.url": url})).await;
        let body = error_message(answer, 400).await;
        assert!(body["message"].as_str().unwrap().contains("event.notification.callback.url"), "{url}: {body}");
    }
    let answer =
        patch_configuration(&stack, id, json!({"event.notification.callback.url": "https://hooks.example.com/x"}))
            .await;
    assert_eq!(answer.status(), 200, "a public host is accepted");
}

#[tokio::test]
async fn bad_event_settings_are_400s_naming_the_key() {
    let stack = Stack::start().await;
    let id = stack.create_instance().await["id"].as_i64().unwrap();
    for (key, value) in [
        ("event.poller.configuration", json!("{\"widgets\": {}}")),
        ("event.poller.configuration", json!("{oops")),
        ("event.poller.configuration", json!("{\"contacts\": {\"url\": 7}}")),
        ("event.poller.refresh_interval", json!("0")),
        ("event.vendor.type", json!("carrier-pigeon")),
        ("event.notification.enabled", json!("maybe")),
    ] {
        let answer = patch_configuration(&stack, id, json!({ key: value })).await;
        let body = error_message(answer, 400).await;
        assert!(body["message"].as_str().unwrap().contains(key), "{key}={value}: {body}");
    }
}

#[tokio::test]
async fn the_event_log_refuses_bad_parameters_by_name() {
    let stack = Stack::start().await;
    let id = stack.create_instance().await["id"].as_i64().unwrap();
    let ok = stack.platform(Method::GET, &format!("/instances/{id}/events")).await;
    assert_eq!(ok.status(), 200);
    assert_eq!(ok.json::<Value>().await.unwrap(), json!([]));
    for (query, name) in [
        ("status=DONE", "status"),
        ("from=yesterday", "from"),
        ("to=2026-13-01", "to"),
        ("after=abc", "after"),
        ("pageSize=0", "pageSize"),
        ("pageSize=100000", "pageSize"),
        ("where=1", "where"),
    ] {
        let answer = stack.platform(Method::GET, &format!("/instances/{id}/events?{query}")).await;
        let body = error_message(answer, 400).await;
        assert!(body["message"].as_str().unwrap().contains(name), "{query}: {body}");
    }
    for (path, status) in [
        (format!("/instances/{id}/events/abc"), 400),
        (format!("/instances/{id}/events/-1"), 400),
        (format!("/instances/{id}/events/99999999999999999999"), 400),
        (format!("/instances/{id}/events/42"), 404),
    ] {
        error_message(stack.platform(Method::GET, &path).await, status).await;
    }
    let long = "9".repeat(5000);
    error_message(stack.platform(Method::GET, &format!("/instances/{id}/events/{long}")).await, 400).await;
}

#[tokio::test]
async fn poll_and_backfill_need_events_on_and_a_valid_since() {
    let stack = Stack::start().await;
    let id = stack.create_instance().await["id"].as_i64().unwrap();
    let answer = stack.platform(Method::PUT, &format!("/instances/{id}/events/poll")).await;
    let body = error_message(answer, 409).await;
    assert!(body["message"].as_str().unwrap().contains("event.notification.enabled"), "{body}");
    for (query, problem) in
        [("", "since"), ("since=last+week", "since"), ("since=2026-01-01T00:00:00Z&extra=1", "extra")]
    {
        let answer = stack.platform(Method::PUT, &format!("/instances/{id}/events/backfill?{query}")).await;
        let body = error_message(answer, 400).await;
        assert!(body["message"].as_str().unwrap().contains(problem), "{query}: {body}");
    }
    let answer = stack.platform(Method::PUT, &format!("/instances/{id}/events/poll?reconcile=perhaps")).await;
    error_message(answer, 400).await;
}

#[tokio::test]
async fn polling_through_the_api_records_the_baseline_and_then_changes() {
    let stack = Stack::start().await;
    let id = stack.create_instance().await["id"].as_i64().unwrap();
    let configuration = json!({
        "event.notification.enabled": "true",
        "event.notification.callback.url": "https://hooks.example.com/never-called",
        "event.poller.configuration": "{\"contacts\": {}, \"accounts\": {}}",
    });
    assert_eq!(patch_configuration(&stack, id, configuration).await.status(), 200);
    let first: Value = stack.platform(Method::PUT, &format!("/instances/{id}/events/poll")).await.json().await.unwrap();
    assert_eq!(first["events"], json!([]), "{first}");
    let objects: Vec<&str> =
        first["objects"].as_array().unwrap().iter().map(|o| o["objectType"].as_str().unwrap()).collect();
    assert_eq!(objects, ["accounts", "contacts"], "in name order");
    assert!(first["objects"][1]["recordsRead"].as_u64().unwrap() > 0, "the seed's contacts are the baseline");

    // A contact created through the hub (as any application would) is the next poll's CREATED.
    let created: Value = stack
        .http
        .post(stack.api("/hubs/crm/contacts"))
        .header("authorization", stack.hub_auth(stack_token(&stack, id).await.as_str()))
        .json(&json!({"FirstName": "Grace", "Email": "grace@example.com"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let next: Value = stack.platform(Method::PUT, &format!("/instances/{id}/events/poll")).await.json().await.unwrap();
    let events = &next["events"];
    assert_eq!(events.as_array().unwrap().len(), 1, "{next}");
    assert_eq!(events[0]["events"][0]["eventType"], "CREATED");
    assert_eq!(events[0]["events"][0]["objectId"], created["id"].to_string());
    assert_eq!(events[0]["status"], "NEW");

    // The id-less form reads the log of the instance the Element token names.
    let element_auth = format!("{}, Element {}", stack.platform_auth(), stack_token(&stack, id).await);
    let by_token: Value = stack
        .http
        .get(stack.api("/instances/events"))
        .header("authorization", element_auth)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(by_token[0]["id"], events[0]["id"]);

    // Another organization sees none of it.
    let (other, other_secret) = stack.store.create_organization("other").await.unwrap();
    let (_, user) = stack.store.create_user(other.id, "someone", false).await.unwrap();
    let auth = format!("User {}, Organization {}", user.expose(), other_secret.expose());
    let event_id = events[0]["id"].as_i64().unwrap();
    for (method, path) in [
        (Method::GET, format!("/instances/{id}/events")),
        (Method::GET, format!("/instances/{id}/events/{event_id}")),
        (Method::PUT, format!("/instances/{id}/events/{event_id}/retry")),
        (Method::PUT, format!("/instances/{id}/events/poll")),
    ] {
        let answer = stack.http.request(method, stack.api(&path)).header("authorization", &auth).send().await.unwrap();
        error_message(answer, 404).await;
    }
}

async fn stack_token(stack: &Stack, id: i64) -> String {
    let record = stack.store.get_instance(stack.organization_id, store::InstanceId::new(id)).await.unwrap();
    record.token.expose().to_string()
}

/// The receiving URL the vendor's hooks call for instance `id` (as `platform::events::hooks` makes it).
fn receiver(stack: &Stack, id: i64) -> String {
    let mac = stack.store.keyed_hash("event-hook-path", &id.to_string());
    stack.api(&format!("/events/infusionsoftcrm/{id}.{mac}"))
}

#[tokio::test]
async fn the_hook_receiver_answers_only_its_instance_and_refuses_bad_deliveries() {
    let stack = Stack::start().await;
    let id = stack.create_instance().await["id"].as_i64().unwrap();
    let url = receiver(&stack, id);
    let delivery = json!({"event_key": "contact.add", "object_keys": [{"id": 1}]});
    // Events off: Gone, so the vendor deactivates the hook.
    let answer = stack.http.post(&url).json(&delivery).send().await.unwrap();
    assert_eq!(answer.status(), 410);

    let configuration = json!({
        "event.notification.enabled": "true",
        "event.vendor.type": "webhook",
        "event.notification.callback.url": "https://hooks.example.com/x",
        "event.poller.configuration": "{\"contacts\": {}}",
    });
    assert_eq!(patch_configuration(&stack, id, configuration).await.status(), 200);

    // The handshake echoes the secret; an oversized one is refused.
    let answer = stack.http.post(&url).header("x-hook-secret", "s3cret").body("{}").send().await.unwrap();
    assert_eq!(answer.status(), 200);
    assert_eq!(answer.headers()["x-hook-secret"], "s3cret");
    let answer = stack.http.post(&url).header("x-hook-secret", "x".repeat(300)).send().await.unwrap();
    error_message(answer, 400).await;

    // Anything but the instance's own path, under its own element, is a 404.
    let wrong_mac = stack.api(&format!("/events/infusionsoftcrm/{id}.{}", "A".repeat(43)));
    let wrong_element = url.replace("/infusionsoftcrm/", "/infusionsofterp/");
    for wrong in [wrong_mac, wrong_element, stack.api("/events/infusionsoftcrm/nothing"), stack.api("/events/x/1.2")] {
        let answer = stack.http.post(&wrong).json(&delivery).send().await.unwrap();
        error_message(answer, 404).await;
    }

    let too_many: Vec<Value> = (1..=1001).map(|n| json!({"id": n})).collect();
    for (body, problem) in [
        ("not json".to_string(), "payload"),
        (json!({"object_keys": []}).to_string(), "payload"),
        (json!({"event_key": "invoice.add", "object_keys": []}).to_string(), "invoice.add"),
        (json!({"event_key": "contact.add", "object_keys": [{"id": "../1"}]}).to_string(), "record id"),
        (json!({"event_key": "contact.add", "object_keys": too_many}).to_string(), "1000"),
    ] {
        let answer = stack.http.post(&url).header("content-type", "application/json").body(body.clone()).send().await;
        let body_seen = error_message(answer.unwrap(), 400).await;
        assert!(body_seen["message"].as_str().unwrap().contains(problem), "{body}: {body_seen}");
    }
    let huge = format!("{{\"event_key\": \"contact.add\", \"pad\": \"{}\"}}", "x".repeat(600 * 1024));
    let answer = stack.http.post(&url).header("content-type", "application/json").body(huge).send().await.unwrap();
    error_message(answer, 413).await;

    let answer = stack.http.post(&url).json(&delivery).send().await.unwrap();
    assert_eq!(answer.status(), 200, "a well-formed delivery is accepted (its records are fetched later)");
}
