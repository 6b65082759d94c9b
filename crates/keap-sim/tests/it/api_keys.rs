//! Keap API keys (personal access tokens, service account keys) in `X-Keap-API-Key`: configured
//! per account or created by `POST /__sim/api-keys`, accepted by the gateway beside bearer tokens,
//! refused with the gateway's 401 when unknown, and counted under the vendor's per-key limits and
//! the account's.

use keap_sim::config::{ApiKeyConfig, ApiKeyKind};
use keap_sim::{Limits, SimConfig};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::common::*;

const HEADER: &str = "X-Keap-API-Key";

/// The service account key the tests configure for the sandbox account.
const CONFIGURED: &str = "KeapAK-5dc860633b018e8de6df08eefc3f549d521ca66e84411f714e";

/// `config` with [`CONFIGURED`] as a service account key of the demo user's account.
fn with_configured_key(mut config: SimConfig) -> SimConfig {
    config.accounts[0].api_keys = vec![ApiKeyConfig {
        key: CONFIGURED.into(),
        kind: ApiKeyKind::ServiceAccount,
        user: "demo@example.com".into(),
    }];
    config
}

fn header<'a>(response: &'a reqwest::Response, name: &str) -> &'a str {
    response.headers().get(name).map_or("", |v| v.to_str().unwrap())
}

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

#[tokio::test]
async fn a_configured_key_authenticates_and_survives_a_reset() {
    let h = start_with(with_configured_key(unlimited())).await;
    let issued = create_key(&h).await;
    let response = get_with_key(&h, CONFIGURED, "/crm/rest/v2/contacts?page_size=2").await;
    assert_eq!(header(&response, "x-keap-tenant-id"), "sandbox.infusionsoft.com");
    assert_eq!(json_with(response, StatusCode::OK).await["contacts"].as_array().map(Vec::len), Some(2));
    assert_eq!(h.stats().await["grants"]["api_keys"], 2, "the configured key and the issued one");

    assert_eq!(h.http.post(h.url("/__sim/reset")).send().await.unwrap().status(), StatusCode::NO_CONTENT);
    assert_eq!(get_with_key(&h, CONFIGURED, "/crm/rest/v1/contacts?limit=1").await.status(), StatusCode::OK);
    assert_eq!(get_with_key(&h, &issued, "/crm/rest/v1/contacts?limit=1").await.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(h.stats().await["grants"]["api_keys"], 1);
}

/// Eleven calls with `key` inside one wall-clock second (the simulator's windows follow the wall
/// clock until it is advanced): starts just after a second begins, and tries again if a slow
/// machine let the calls spill into the next second.
async fn eleven_calls_in_one_second(h: &Harness, key: &str) -> Vec<reqwest::Response> {
    for _ in 0..5 {
        let into_second = chrono::Utc::now().timestamp_subsec_millis();
        tokio::time::sleep(std::time::Duration::from_millis(u64::from(1000 - into_second.min(999)))).await;
        let second = chrono::Utc::now().timestamp();
        let mut responses = Vec::new();
        for _ in 0..11 {
            responses.push(get_with_key(h, key, "/crm/rest/v2/tags?page_size=1").await);
        }
        if chrono::Utc::now().timestamp() == second {
            return responses;
        }
    }
    panic!("eleven calls never fitted in one second");
}

#[tokio::test]
async fn a_keys_eleventh_call_in_a_second_is_a_429_with_the_key_limit_headers() {
    let h = start_with(with_configured_key(SimConfig::sandbox())).await;
    let responses = eleven_calls_in_one_second(&h, CONFIGURED).await;
    let statuses: Vec<StatusCode> = responses.iter().map(reqwest::Response::status).collect();
    assert_eq!(statuses[..10], [StatusCode::OK; 10], "the vendor allows a key 10 calls a second");
    let (tenth, refused) = (&responses[9], &responses[10]);
    for (name, value) in [
        ("x-keap-product-spike-limit", "10ps"),
        ("x-keap-product-throttle-limit", "240"),
        ("x-keap-product-throttle-time-unit", "minute"),
        ("x-keap-product-quota-limit", "30000"),
        ("x-keap-product-quota-time-unit", "day"),
        ("x-keap-tenant-throttle-limit", "10000"),
        ("x-keap-tenant-quota-limit", "250000"),
    ] {
        assert_eq!((name, header(tenth, name)), (name, value));
        assert_eq!((name, header(refused, name)), (name, value), "the 429 carries the key's headers too");
    }
    let used = |response, family: &str| -> u64 {
        header(response, &format!("x-keap-{family}-throttle-used")).parse().unwrap()
    };
    assert_eq!(used(refused, "product"), used(tenth, "product"), "the refused call is not counted");
    assert_eq!(used(refused, "tenant"), used(tenth, "tenant"), "nor against the account");
    let available: u64 = header(refused, "x-keap-product-throttle-available").parse().unwrap();
    assert_eq!(available, 240 - used(refused, "product"));
    let body = json_with(responses.into_iter().nth(10).unwrap(), StatusCode::TOO_MANY_REQUESTS).await;
    assert_eq!(
        (body["message"].as_str(), body["status"].as_str()),
        (Some("Quota Exceeded"), Some("Request Throttled"))
    );

    let token = h.bearer().await;
    let oauth = h.get(&token, "/crm/rest/v2/tags?page_size=1").await;
    assert_eq!(oauth.status(), StatusCode::OK, "the OAuth client's limits are its own");
    assert_eq!(header(&oauth, "x-keap-product-throttle-limit"), "1500");
    assert_eq!(header(&oauth, "x-keap-product-spike-limit"), "", "the vendor reports no spike metrics for OAuth");
    let stats = h.stats().await;
    assert_eq!(
        stats["rate_limits"]["api_keys"]["limits"],
        json!({"per_second": 10, "per_minute": 240, "per_day": 30_000})
    );
    assert!(stats["rate_limits"]["api_keys"]["clients"]["api-key-1"]["minute"].as_u64() >= Some(10), "{stats}");
}

#[tokio::test]
async fn key_calls_count_against_the_accounts_limits_too() {
    let mut config = with_configured_key(unlimited());
    config.tenant_limits = Limits { per_second: None, per_minute: None, per_day: Some(3) };
    let h = start_with(config).await;
    let clock = h.stats().await["clock"].as_str().unwrap().to_string();
    let now = chrono::DateTime::parse_from_rfc3339(&clock).unwrap().timestamp();
    h.control("/__sim/clock/advance", &json!({"seconds": 86_400 - now.rem_euclid(86_400)})).await;
    let token = h.bearer().await;
    assert_eq!(h.get(&token, "/crm/rest/v2/tags").await.status(), StatusCode::OK);
    assert_eq!(h.get(&token, "/crm/rest/v2/tags").await.status(), StatusCode::OK);
    let third = get_with_key(&h, CONFIGURED, "/crm/rest/v2/tags").await;
    assert_eq!(third.status(), StatusCode::OK);
    assert_eq!(header(&third, "x-keap-tenant-quota-used"), "3", "the key's call is the account's third");
    let refused = get_with_key(&h, CONFIGURED, "/crm/rest/v2/tags").await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(header(&refused, "x-keap-tenant-quota-available"), "0");
    assert_eq!(h.get(&token, "/crm/rest/v2/tags").await.status(), StatusCode::TOO_MANY_REQUESTS);
}
