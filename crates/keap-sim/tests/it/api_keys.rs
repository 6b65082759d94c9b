//! Keap API keys (personal access tokens, service account keys) in `X-Keap-API-Key`: created by
//! `POST /__sim/api-keys`, accepted by the gateway beside bearer tokens, refused with the gateway's
//! 401 when unknown.

use reqwest::StatusCode;
use serde_json::Value;

use crate::common::*;

const HEADER: &str = "X-Keap-API-Key";

async fn create_key(h: &Harness) -> String {
    let created = json_with(h.http.post(h.url("/__sim/api-keys")).send().await.unwrap(), StatusCode::CREATED).await;
    created["key"].as_str().expect("a key").to_string()
}

async fn get_with_key(h: &Harness, key: &str, path: &str) -> reqwest::Response {
    h.http.get(h.url(path)).header(HEADER, key).send().await.unwrap()
}

#[tokio::test]
async fn a_created_key_reads_the_demo_accounts_contacts() {
    let h = start().await;
    let key = create_key(&h).await;
    assert!(key.starts_with("KeapAK-"), "{key}");
    let response = get_with_key(&h, &key, "/crm/rest/v2/contacts?page_size=5").await;
    assert_eq!(response.headers()["x-keap-tenant-id"], "sandbox.infusionsoft.com");
    let page = json_with(response, StatusCode::OK).await;
    assert_eq!(page["contacts"].as_array().map(Vec::len), Some(5));
    let stats = h.stats().await;
    assert_eq!((stats["api_calls"].clone(), stats["grants"]["api_keys"].clone()), (1.into(), 1.into()));
}

#[tokio::test]
async fn a_wrong_key_is_the_gateways_401() {
    let h = start().await;
    let never_issued = "KeapAK-0000000000000000000000000000000000000000000000";
    let before =
        json_with(get_with_key(&h, never_issued, "/crm/rest/v2/contacts").await, StatusCode::UNAUTHORIZED).await;
    assert_eq!(before["fault"]["detail"]["errorcode"], "oauth.v2.InvalidApiKey", "no key is seeded: {before}");
    let key = create_key(&h).await;
    let wrong = format!("{key}x");
    let response = get_with_key(&h, &wrong, "/crm/rest/v2/contacts").await;
    let body: Value = json_with(response, StatusCode::UNAUTHORIZED).await;
    assert_eq!(body["fault"]["faultstring"], "Invalid ApiKey");
    assert_eq!(h.stats().await["unauthorized"], 2);
}

#[tokio::test]
async fn a_key_header_is_not_rescued_by_a_valid_bearer_token() {
    let h = start().await;
    let token = h.bearer().await;
    let response =
        h.http.get(h.url("/crm/rest/v2/contacts")).bearer_auth(&token).header(HEADER, "nope").send().await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn bearer_tokens_still_work_beside_keys() {
    let h = start().await;
    let key = create_key(&h).await;
    let token = h.bearer().await;
    assert_eq!(h.get(&token, "/crm/rest/v2/contacts?page_size=1").await.status(), StatusCode::OK);
    assert_eq!(get_with_key(&h, &key, "/crm/rest/v1/contacts?limit=1").await.status(), StatusCode::OK, "v1 too");
}

#[tokio::test]
async fn reset_forgets_every_key() {
    let h = start().await;
    let key = create_key(&h).await;
    assert_eq!(h.http.post(h.url("/__sim/reset")).send().await.unwrap().status(), StatusCode::NO_CONTENT);
    assert_eq!(get_with_key(&h, &key, "/crm/rest/v2/contacts").await.status(), StatusCode::UNAUTHORIZED);
}
