//! The instance sub-resources against the simulator: the configuration listing and its PATCH,
//! trace logging, re-authentication after an `invalid_grant`, and tenant isolation on each of them.

use reqwest::Method;
use serde_json::{json, Value};
use store::{ACCESS_TOKEN_KEY, REFRESH_TOKEN_KEY};

use crate::common::{error_message, Stack, CALLBACK, CLIENT_SECRET, ENCRYPTED_KEY};

async fn send(stack: &Stack, method: Method, path: &str, body: Option<Value>) -> reqwest::Response {
    let request = stack.http.request(method, stack.api(path)).header("authorization", stack.platform_auth());
    let request = match body {
        Some(body) => request.json(&body),
        None => request,
    };
    request.send().await.expect("call")
}

fn entry<'a>(entries: &'a Value, key: &str) -> &'a Value {
    entries.as_array().expect("an array").iter().find(|entry| entry["key"] == key).expect(key)
}

#[tokio::test]
async fn the_configuration_lists_every_entry_with_secrets_masked() {
    let stack = Stack::start().await;
    let instance = stack.create_instance().await;
    let id = instance["id"].as_i64().unwrap();
    let answer = stack.platform(Method::GET, &format!("/instances/{id}/configuration")).await;
    assert_eq!(answer.status(), 200);
    let text = answer.text().await.unwrap();
    let entries: Value = serde_json::from_str(&text).unwrap();
    for item in entries.as_array().unwrap() {
        assert!(item["id"].is_u64() && item["key"].is_string() && item["name"].is_string(), "{item}");
        assert!(item.as_object().unwrap().contains_key("propertyValue"), "{item}");
        assert!(item["type"].is_string() && item["required"].is_boolean(), "{item}");
    }
    for key in ["oauth.api.key", "oauth.api.secret", "infusionsoft.private.key", ACCESS_TOKEN_KEY, REFRESH_TOKEN_KEY] {
        assert_eq!(entry(&entries, key)["propertyValue"], "********", "{key}");
    }
    assert_eq!(entry(&entries, "infusionsoft.server")["propertyValue"], "sandbox.infusionsoft.com");
    assert_eq!(entry(&entries, "oauth.callback.url")["propertyValue"], CALLBACK);
    assert_eq!(entry(&entries, "oauth.user.refresh_interval")["propertyValue"], "3600", "the default is shown");

    // No secret value appears anywhere in the listing.
    let record = stack.store.get_instance(stack.organization_id, store::InstanceId::new(id)).await.unwrap();
    let (access, refresh) = record.secrets.token_pair().unwrap();
    for secret in [CLIENT_SECRET, ENCRYPTED_KEY, access.expose(), refresh.expose()] {
        assert!(!text.contains(secret), "a secret leaked into the configuration listing");
    }

    // One entry, by key or by its catalog id.
    let by_key: Value = stack
        .platform(Method::GET, &format!("/instances/{id}/configuration/infusionsoft.server"))
        .await
        .json()
        .await
        .unwrap();
    let catalog_id = by_key["id"].as_u64().unwrap();
    let by_id: Value =
        stack.platform(Method::GET, &format!("/instances/{id}/configuration/{catalog_id}")).await.json().await.unwrap();
    assert_eq!(by_id, by_key);
    error_message(stack.platform(Method::GET, &format!("/instances/{id}/configuration/no.such.key")).await, 404).await;
}

#[tokio::test]
async fn a_configuration_entry_is_patched_validated_and_persisted() {
    let stack = Stack::start().await;
    let instance = stack.create_instance().await;
    let id = instance["id"].as_i64().unwrap();
    let path = format!("/instances/{id}/configuration/oauth.user.refresh_interval");

    let answer = send(&stack, Method::PATCH, &path, Some(json!({"propertyValue": "60"}))).await;
    assert_eq!(answer.status(), 200);
    let patched: Value = answer.json().await.unwrap();
    assert_eq!(patched["key"], "oauth.user.refresh_interval");
    assert_eq!(patched["propertyValue"], "60");
    let read: Value = stack.platform(Method::GET, &format!("/instances/{id}")).await.json().await.unwrap();
    assert_eq!(read["configuration"]["oauth.user.refresh_interval"], "60");
    let record = stack.store.get_instance(stack.organization_id, store::InstanceId::new(id)).await.unwrap();
    assert_eq!(record.configuration["oauth.user.refresh_interval"], "60");

    // By the entry's catalog id, with the whole entry as the body (as the platforms' clients send it).
    let mut body = patched.clone();
    body["propertyValue"] = json!("120");
    let by_id = format!("/instances/{id}/configuration/{}", patched["id"]);
    let answer = send(&stack, Method::PATCH, &by_id, Some(body)).await;
    assert_eq!(answer.status(), 200);
    assert_eq!(answer.json::<Value>().await.unwrap()["propertyValue"], "120");

    // Not a number: 400 naming the key, nothing changed.
    let answer = send(&stack, Method::PATCH, &path, Some(json!({"propertyValue": "soon"}))).await;
    let body = error_message(answer, 400).await;
    assert!(body["message"].as_str().unwrap().contains("oauth.user.refresh_interval"), "{body}");
    let record = stack.store.get_instance(stack.organization_id, store::InstanceId::new(id)).await.unwrap();
    assert_eq!(record.configuration["oauth.user.refresh_interval"], "120");

    // No propertyValue: 400 naming it.
    let body = error_message(send(&stack, Method::PATCH, &path, Some(json!({"value": "60"}))).await, 400).await;
    assert!(body["message"].as_str().unwrap().contains("propertyValue"), "{body}");

    // A secret goes to the sealed secrets and comes back masked; the mask sent back changes nothing.
    let secret_path = format!("/instances/{id}/configuration/infusionsoft.private.key");
    let answer = send(&stack, Method::PATCH, &secret_path, Some(json!({"propertyValue": "another-key"}))).await;
    assert_eq!(answer.status(), 200);
    assert_eq!(answer.json::<Value>().await.unwrap()["propertyValue"], "********");
    let answer = send(&stack, Method::PATCH, &secret_path, Some(json!({"propertyValue": "********"}))).await;
    assert_eq!(answer.status(), 200);
    let record = stack.store.get_instance(stack.organization_id, store::InstanceId::new(id)).await.unwrap();
    assert_eq!(record.secrets.get("infusionsoft.private.key").unwrap().expose(), "another-key");
    assert!(!record.configuration.contains_key("infusionsoft.private.key"));
}

#[tokio::test]
async fn the_token_keys_cannot_be_patched() {
    let stack = Stack::start().await;
    let instance = stack.create_instance().await;
    let id = instance["id"].as_i64().unwrap();
    let before = stack.store.get_instance(stack.organization_id, store::InstanceId::new(id)).await.unwrap();
    for key in [ACCESS_TOKEN_KEY, REFRESH_TOKEN_KEY, "oauth.user.refresh_time"] {
        let path = format!("/instances/{id}/configuration/{key}");
        let body =
            error_message(send(&stack, Method::PATCH, &path, Some(json!({"propertyValue": "x"}))).await, 400).await;
        assert!(body["message"].as_str().unwrap().contains(key), "{body}");
    }
    let after = stack.store.get_instance(stack.organization_id, store::InstanceId::new(id)).await.unwrap();
    assert_eq!(after.secrets.token_pair(), before.secrets.token_pair());
    assert_eq!(after.refresh_generation, before.refresh_generation);
    assert_eq!(stack.hub_contacts(instance["token"].as_str().unwrap()).await.status(), 200);
}

#[tokio::test]
async fn trace_logging_is_switched_on_and_off() {
    let stack = Stack::start().await;
    let instance = stack.create_instance().await;
    let id = instance["id"].as_i64().unwrap();
    assert_eq!(instance["traceLoggingEnabled"], false);
    let on: Value = stack.platform(Method::PUT, &format!("/instances/{id}/trace-logging")).await.json().await.unwrap();
    assert_eq!(on["traceLoggingEnabled"], true);
    let read: Value = stack.platform(Method::GET, &format!("/instances/{id}")).await.json().await.unwrap();
    assert_eq!(read["traceLoggingEnabled"], true);
    let off = stack.platform(Method::DELETE, &format!("/instances/{id}/trace-logging")).await;
    assert_eq!(off.status(), 200);
    assert_eq!(off.json::<Value>().await.unwrap()["traceLoggingEnabled"], false);
    assert!(!stack.store.get_instance(stack.organization_id, store::InstanceId::new(id)).await.unwrap().trace_logging);
}

#[tokio::test]
async fn an_invalid_instance_is_re_authenticated_with_a_new_code() {
    let stack = Stack::start().await;
    let instance = stack.create_instance().await;
    let id = instance["id"].as_i64().unwrap();
    let token = instance["token"].as_str().unwrap();

    // The stored refresh token is refreshed behind the platform's back: the vendor retires it.
    let refresh_token = stack.retire_refresh_token_elsewhere(id).await;
    stack.expire_access_tokens().await;
    error_message(stack.hub_contacts(token).await, 403).await;
    let read: Value = stack.platform(Method::GET, &format!("/instances/{id}")).await.json().await.unwrap();
    assert_eq!(read["valid"], false);

    // The body: the instance as read, minus nothing (its masked tokens are ignored), plus the code.
    let path = format!("/instances/{id}");
    let code = stack.consent(CALLBACK).await;
    let mut body = read.clone();
    body["providerData"] = json!({"code": code});
    body["name"] = json!("Re-authenticated");

    // Without the flag: 400 asking for it; nothing exchanged (the code stays usable).
    let answer = send(&stack, Method::PUT, &path, Some(body.clone())).await;
    let message = error_message(answer, 400).await;
    assert!(message["message"].as_str().unwrap().contains("reAuthenticate=true"), "{message}");
    // Without a code: 400 naming it.
    let mut no_code = body.clone();
    no_code.as_object_mut().unwrap().remove("providerData");
    let message =
        error_message(send(&stack, Method::PUT, &format!("{path}?reAuthenticate=true"), Some(no_code)).await, 400)
            .await;
    assert!(message["message"].as_str().unwrap().contains("providerData.code"), "{message}");
    // A code the vendor refuses: 400 with its message, the instance unchanged.
    let mut bad = body.clone();
    bad["providerData"]["code"] = json!("not-a-code");
    let message =
        error_message(send(&stack, Method::PUT, &format!("{path}?reAuthenticate=true"), Some(bad)).await, 400).await;
    assert!(message["providerMessage"].is_string(), "{message}");
    assert!(!stack.store.get_instance(stack.organization_id, store::InstanceId::new(id)).await.unwrap().valid);
    // A name creation would refuse (a NUL, a control character) is refused here too, by name,
    // before the vendor sees the code.
    for bad_name in [json!("bad\u{0}name"), json!("tab\there"), json!("   ")] {
        let mut bad = body.clone();
        bad["name"] = bad_name;
        let path = format!("{path}?reAuthenticate=true");
        let message = error_message(send(&stack, Method::PUT, &path, Some(bad)).await, 400).await;
        assert!(message["message"].as_str().unwrap().contains("'name'"), "{message}");
    }

    let answer = send(&stack, Method::PUT, &format!("{path}?reAuthenticate=true"), Some(body)).await;
    assert_eq!(answer.status(), 200);
    let reauthenticated: Value = answer.json().await.unwrap();
    assert_eq!(reauthenticated["valid"], true);
    assert_eq!(reauthenticated["name"], "Re-authenticated");
    assert_eq!(reauthenticated["token"], token, "the instance token stays the same");
    assert_eq!(reauthenticated["configuration"][REFRESH_TOKEN_KEY], "********");

    let after = stack.store.get_instance(stack.organization_id, store::InstanceId::new(id)).await.unwrap();
    assert_ne!(after.secrets.get(REFRESH_TOKEN_KEY).unwrap().expose(), refresh_token);
    assert_eq!(after.secrets.get("oauth.api.secret").unwrap().expose(), CLIENT_SECRET, "masked values kept");
    assert_eq!(after.secrets.get("infusionsoft.private.key").unwrap().expose(), ENCRYPTED_KEY);
    assert_eq!(stack.hub_contacts(token).await.status(), 200);
    // And the new refresh token works: a refresh through the platform succeeds.
    assert_eq!(stack.platform(Method::PUT, &format!("/instances/{id}/tokens/refresh")).await.status(), 200);
    assert_eq!(stack.hub_contacts(token).await.status(), 200);
}

#[tokio::test]
async fn another_organizations_instance_is_404_on_every_sub_resource() {
    let stack = Stack::start().await;
    let instance = stack.create_instance().await;
    let id = instance["id"].as_i64().unwrap();
    let before = stack.store.get_instance(stack.organization_id, store::InstanceId::new(id)).await.unwrap();
    let (other_org, other_org_secret) = stack.store.create_organization("other").await.unwrap();
    let (_, other_user_secret) = stack.store.create_user(other_org.id, "someone", true).await.unwrap();
    let auth = format!("User {}, Organization {}", other_user_secret.expose(), other_org_secret.expose());
    let code = stack.consent(CALLBACK).await;
    let calls = [
        (Method::GET, format!("/instances/{id}/configuration"), None),
        (Method::GET, format!("/instances/{id}/configuration/oauth.user.refresh_interval"), None),
        (
            Method::PATCH,
            format!("/instances/{id}/configuration/oauth.user.refresh_interval"),
            Some(json!({"propertyValue": "60"})),
        ),
        (Method::PUT, format!("/instances/{id}/trace-logging"), None),
        (Method::DELETE, format!("/instances/{id}/trace-logging"), None),
        (Method::PUT, format!("/instances/{id}?reAuthenticate=true"), Some(json!({"providerData": {"code": code}}))),
    ];
    for (method, path, body) in calls {
        let request = stack.http.request(method.clone(), stack.api(&path)).header("authorization", &auth);
        let request = match body {
            Some(body) => request.json(&body),
            None => request,
        };
        let answer = request.send().await.unwrap();
        assert_eq!(answer.status(), 404, "{method} {path}");
        error_message(answer, 404).await;
    }
    let record = stack.store.get_instance(stack.organization_id, store::InstanceId::new(id)).await.unwrap();
    assert_eq!(record.configuration["oauth.user.refresh_interval"], "3600");
    assert!(!record.trace_logging);
    assert_eq!(record.refresh_generation, before.refresh_generation, "no re-authentication happened");
}

#[tokio::test]
async fn the_id_less_forms_act_on_the_instance_of_the_element_token() {
    let stack = Stack::start().await;
    let instance = stack.create_instance().await;
    let id = instance["id"].as_i64().unwrap();
    let token = instance["token"].as_str().unwrap();
    let auth = format!("{}, Element {token}", stack.platform_auth());
    let call = |method: Method, path: &str, auth: &str| {
        stack.http.request(method, stack.api(path)).header("authorization", auth.to_string())
    };

    let entries: Value =
        call(Method::GET, "/instances/configuration", &auth).send().await.unwrap().json().await.unwrap();
    assert_eq!(entry(&entries, "oauth.api.secret")["propertyValue"], "********");
    let answer = call(Method::PATCH, "/instances/configuration/oauth.user.refresh_interval", &auth)
        .json(&json!({"propertyValue": "90"}))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    let one: Value = call(Method::GET, "/instances/configuration/oauth.user.refresh_interval", &auth)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(one["propertyValue"], "90");

    let on: Value = call(Method::PUT, "/instances/trace-logging", &auth).send().await.unwrap().json().await.unwrap();
    assert_eq!((on["id"].as_i64(), &on["traceLoggingEnabled"]), (Some(id), &json!(true)));
    let off: Value =
        call(Method::DELETE, "/instances/trace-logging", &auth).send().await.unwrap().json().await.unwrap();
    assert_eq!(off["traceLoggingEnabled"], false);

    let disabled: Value = call(Method::DELETE, "/instances/enabled", &auth).send().await.unwrap().json().await.unwrap();
    assert_eq!(disabled["disabled"], true);
    error_message(stack.hub_contacts(token).await, 403).await;
    let enabled: Value = call(Method::PUT, "/instances/enabled", &auth).send().await.unwrap().json().await.unwrap();
    assert_eq!(enabled["disabled"], false);
    assert_eq!(stack.hub_contacts(token).await.status(), 200);

    // Without the Element part: 401. Another organization's caller with this token: 404.
    error_message(call(Method::GET, "/instances/configuration", &stack.platform_auth()).send().await.unwrap(), 401)
        .await;
    let (other_org, other_org_secret) = stack.store.create_organization("other").await.unwrap();
    let (_, other_user_secret) = stack.store.create_user(other_org.id, "someone", true).await.unwrap();
    let other =
        format!("User {}, Organization {}, Element {token}", other_user_secret.expose(), other_org_secret.expose());
    for (method, path) in [
        (Method::GET, "/instances/configuration"),
        (Method::GET, "/instances/configuration/oauth.user.refresh_interval"),
        (Method::PUT, "/instances/trace-logging"),
        (Method::DELETE, "/instances/enabled"),
    ] {
        error_message(call(method, path, &other).send().await.unwrap(), 404).await;
    }
    let answer = call(Method::PATCH, "/instances/configuration/oauth.user.refresh_interval", &other)
        .json(&json!({"propertyValue": "60"}))
        .send()
        .await
        .unwrap();
    error_message(answer, 404).await;
    let record = stack.store.get_instance(stack.organization_id, store::InstanceId::new(id)).await.unwrap();
    assert_eq!(record.configuration["oauth.user.refresh_interval"], "90");
    assert!(!record.disabled && !record.trace_logging);
}
