//! The token lifecycle against the simulator: reactive refresh on an expired token, exactly one
//! refresh under concurrency, transient vendor failures, and a refresh token retired elsewhere.

use reqwest::Method;
use serde_json::{json, Value};
use store::REFRESH_TOKEN_KEY;

use crate::common::{self, error_message, Stack, CLIENT_ID, CLIENT_SECRET};

#[tokio::test]
async fn an_expired_token_is_refreshed_exactly_once() {
    let stack = Stack::start().await;
    let instance = stack.create_instance().await;
    let token = instance["token"].as_str().unwrap();
    stack.expire_access_tokens().await;
    let before = stack.refresh_grants().await;
    assert_eq!(stack.hub_contacts(token).await.status(), 200);
    assert_eq!(stack.refresh_grants().await, before + 1);
    // The new pair is stored: the next call needs no refresh.
    assert_eq!(stack.hub_contacts(token).await.status(), 200);
    assert_eq!(stack.refresh_grants().await, before + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_calls_on_an_expired_token_refresh_once() {
    let stack = Stack::start().await;
    let instance = stack.create_instance().await;
    let token = instance["token"].as_str().unwrap().to_string();
    stack.expire_access_tokens().await;
    let before = stack.refresh_grants().await;
    let mut calls = tokio::task::JoinSet::new();
    for _ in 0..50 {
        let request = stack.http.get(stack.api("/hubs/crm/contacts")).header("authorization", stack.hub_auth(&token));
        calls.spawn(async move { request.send().await.map(|answer| answer.status().as_u16()) });
    }
    let statuses: Vec<u16> = calls.join_all().await.into_iter().map(|status| status.expect("an answer")).collect();
    assert!(statuses.iter().all(|status| *status == 200), "{statuses:?}");
    assert_eq!(stack.refresh_grants().await, before + 1);
}

#[tokio::test]
async fn a_vendor_503_on_refresh_is_a_502_and_the_instance_stays_valid() {
    let stack = Stack::start().await;
    let instance = stack.create_instance().await;
    let token = instance["token"].as_str().unwrap();
    stack.expire_access_tokens().await;
    stack.sim_post("/__sim/faults", json!({"path_prefix": "/token", "status": 503})).await;
    error_message(stack.hub_contacts(token).await, 502).await;
    let read: Value =
        stack.platform(Method::GET, &format!("/instances/{}", instance["id"])).await.json().await.unwrap();
    assert_eq!(read["valid"], true);
    // The fault is spent: the next call refreshes and succeeds.
    assert_eq!(stack.hub_contacts(token).await.status(), 200);
}

#[tokio::test]
async fn a_refresh_token_retired_elsewhere_makes_the_instance_invalid() {
    let stack = Stack::start().await;
    let instance = stack.create_instance().await;
    let id = instance["id"].as_i64().unwrap();
    let token = instance["token"].as_str().unwrap();
    // Someone refreshes the stored refresh token behind the platform's back.
    stack.retire_refresh_token_elsewhere(id).await;

    let answer = stack.platform(Method::PUT, &format!("/instances/{id}/tokens/refresh")).await;
    let body = error_message(answer, 403).await;
    assert!(body["providerMessage"].is_string(), "{body}");
    let read: Value = stack.platform(Method::GET, &format!("/instances/{id}")).await.json().await.unwrap();
    assert_eq!(read["valid"], false);
    // Hub calls keep working until the access token expires, then say why they cannot.
    stack.expire_access_tokens().await;
    error_message(stack.hub_contacts(token).await, 403).await;
}

#[tokio::test]
async fn a_manual_refresh_rotates_the_stored_pair() {
    let stack = Stack::start().await;
    let instance = stack.create_instance().await;
    let id = instance["id"].as_i64().unwrap();
    let before = stack.store.get_instance(stack.organization_id, store::InstanceId::new(id)).await.unwrap();
    let answer = stack.platform(Method::PUT, &format!("/instances/{id}/tokens/refresh")).await;
    assert_eq!(answer.status(), 200);
    let after = stack.store.get_instance(stack.organization_id, store::InstanceId::new(id)).await.unwrap();
    assert_eq!(after.refresh_generation, before.refresh_generation + 1);
    assert_ne!(after.secrets.get(REFRESH_TOKEN_KEY), before.secrets.get(REFRESH_TOKEN_KEY));
    assert_eq!(stack.hub_contacts(instance["token"].as_str().unwrap()).await.status(), 200);
}

#[tokio::test]
async fn an_instance_is_provisioned_from_a_refresh_token() {
    let stack = Stack::start().await;
    let code = stack.consent(common::CALLBACK).await;
    let grant: Value = stack
        .http
        .post(format!("{}/token", stack.sim.url()))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", common::CALLBACK),
            ("client_id", CLIENT_ID),
            ("client_secret", CLIENT_SECRET),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut body = stack.crm_body("unused");
    body.as_object_mut().unwrap().remove("providerData");
    body["externalAuthentication"] = json!("initial");
    body["configuration"]["oauth.user.refresh_token"] = grant["refresh_token"].clone();
    let answer = stack.post_instance(&body).await;
    assert_eq!(answer.status(), 200);
    let instance: Value = answer.json().await.unwrap();
    assert_eq!(instance["externalAuthentication"], "initial");
    assert_eq!(stack.hub_contacts(instance["token"].as_str().unwrap()).await.status(), 200);
}

#[tokio::test]
async fn a_refused_initial_refresh_token_is_a_400_and_leaves_no_instance() {
    let stack = Stack::start().await;
    let mut body = stack.crm_body("unused");
    body.as_object_mut().unwrap().remove("providerData");
    body["externalAuthentication"] = json!("initial");
    body["configuration"]["oauth.user.refresh_token"] = json!("not-a-refresh-token-the-vendor-issued");
    let answer = stack.post_instance(&body).await;
    let error = common::error_message(answer, 400).await;
    assert!(error["message"].as_str().unwrap().contains("oauth.user.refresh_token"), "{error}");
    assert!(error["providerMessage"].is_string(), "the vendor's own words: {error}");
    let listed: Value = stack.platform(reqwest::Method::GET, "/instances").await.json().await.unwrap();
    assert_eq!(listed, json!([]), "nothing kept");
}

#[tokio::test]
async fn a_token_past_its_refresh_interval_is_refreshed_before_the_call() {
    let stack = Stack::start().await;
    let code = stack.consent(common::CALLBACK).await;
    let mut body = stack.crm_body(&code);
    body["configuration"]["oauth.user.refresh_interval"] = json!("1");
    let instance: Value = stack.post_instance(&body).await.json().await.unwrap();
    let token = instance["token"].as_str().unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let (grants, unauthorized) = (stack.refresh_grants().await, stack.sim_stats().await["unauthorized"].clone());
    assert_eq!(stack.hub_contacts(token).await.status(), 200);
    assert_eq!(stack.refresh_grants().await, grants + 1);
    assert_eq!(stack.sim_stats().await["unauthorized"], unauthorized, "proactive: the vendor never saw a stale token");
}

#[tokio::test]
async fn a_failed_early_refresh_does_not_fail_a_call_whose_token_still_works() {
    let stack = Stack::start().await;
    let instance = stack.create_instance().await;
    let id = instance["id"].as_i64().unwrap();
    let token = instance["token"].as_str().unwrap();
    let patch = stack
        .http
        .patch(stack.api(&format!("/instances/{id}/configuration/oauth.user.refresh_interval")))
        .header("authorization", stack.platform_auth())
        .json(&json!({"propertyValue": "1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(patch.status(), 200);
    tokio::time::sleep(std::time::Duration::from_millis(1_500)).await;
    stack.sim_post("/__sim/faults", json!({"path_prefix": "/token", "status": 503, "count": 1})).await;
    assert_eq!(stack.hub_contacts(token).await.status(), 200, "the stored access token still works");
    assert_eq!(stack.sim_stats().await["faults_injected"], 1, "the early refresh was attempted, and failed");
    let read: Value = stack.platform(Method::GET, &format!("/instances/{id}")).await.json().await.unwrap();
    assert_eq!(read["valid"], true);
}
