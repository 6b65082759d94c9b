//! The vendor's rate limits: per OAuth client across all its accounts, reported in the
//! `x-keap-product-throttle-*` / `x-keap-product-quota-*` headers, 429 past them, configurable
//! through `/__sim/limits`.

use keap_sim::config::{AccountConfig, UserConfig};
use keap_sim::{Limits, SimConfig};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::common::*;

fn header(response: &reqwest::Response, name: &str) -> Option<String> {
    response.headers().get(name).map(|v| v.to_str().unwrap().to_string())
}

/// Moves the simulated clock to the start of the next UTC day, so day and minute windows are fresh
/// and far from their ends.
async fn align_to_midnight(h: &Harness) {
    let clock = h.stats().await["clock"].as_str().unwrap().to_string();
    let now = chrono::DateTime::parse_from_rfc3339(&clock).unwrap().timestamp();
    let to_midnight = 86_400 - now.rem_euclid(86_400);
    h.control("/__sim/clock/advance", &json!({"seconds": to_midnight})).await;
}

#[tokio::test]
async fn every_rest_answer_carries_the_throttle_and_quota_headers() {
    let h = start_with(SimConfig::sandbox()).await;
    let token = h.bearer().await;
    let first = h.get(&token, "/crm/rest/v2/contacts?page_size=1").await;
    let second = h.get(&token, "/crm/rest/v1/contacts?limit=1").await;
    for (response, used) in [(&first, "1"), (&second, "2")] {
        assert_eq!(header(response, "x-keap-product-throttle-limit").as_deref(), Some("1500"));
        assert_eq!(header(response, "x-keap-product-throttle-time-unit").as_deref(), Some("minute"));
        assert_eq!(header(response, "x-keap-product-throttle-interval").as_deref(), Some("1"));
        assert_eq!(header(response, "x-keap-product-quota-limit").as_deref(), Some("150000"));
        assert_eq!(header(response, "x-keap-product-quota-time-unit").as_deref(), Some("day"));
        assert_eq!(header(response, "x-keap-product-quota-used").as_deref(), Some(used));
    }
    assert_eq!(header(&second, "x-keap-product-quota-available").as_deref(), Some("149998"));
    let expiry: i64 = header(&first, "x-keap-product-quota-expiry-time").unwrap().parse().unwrap();
    assert_eq!(expiry % 86_400_000, 0, "the daily quota resets at 00:00 UTC (epoch ms)");
}

#[tokio::test]
async fn the_spike_limit_refuses_calls_beyond_the_per_second_rate() {
    let h = start().await;
    let token = h.bearer().await;
    h.control("/__sim/limits", &json!({"per_second": 3})).await;
    let mut statuses = Vec::new();
    for _ in 0..12 {
        statuses.push(h.get(&token, "/crm/rest/v2/users?page_size=1").await.status());
    }
    let ok = statuses.iter().filter(|s| **s == StatusCode::OK).count();
    let throttled = statuses.iter().filter(|s| **s == StatusCode::TOO_MANY_REQUESTS).count();
    assert_eq!(ok + throttled, 12);
    // Twelve quick calls span at most a few one-second windows of three calls each.
    assert!(throttled >= 3 && ok >= 3, "ok {ok}, throttled {throttled}");
    assert_eq!(h.stats().await["throttled"], throttled);
}

#[tokio::test]
async fn past_the_daily_quota_calls_get_429_until_midnight_utc() {
    let h = start().await;
    let token = h.bearer().await;
    align_to_midnight(&h).await;
    h.control("/__sim/limits", &json!({"per_day": 3})).await;
    for _ in 0..3 {
        assert_eq!(h.get(&token, "/crm/rest/v2/tags?page_size=1").await.status(), StatusCode::OK);
    }
    let refused = h.get(&token, "/crm/rest/v2/tags?page_size=1").await;
    assert_eq!(header(&refused, "x-keap-product-quota-available").as_deref(), Some("0"));
    let body = json_with(refused, StatusCode::TOO_MANY_REQUESTS).await;
    assert_eq!(body["message"], "Quota Exceeded");
    assert_eq!(body["status"], "Request Throttled");
    h.control("/__sim/clock/advance", &json!({"seconds": 86_400})).await;
    let token = h.bearer().await; // the old access token has expired with the day
    assert_eq!(h.get(&token, "/crm/rest/v2/tags?page_size=1").await.status(), StatusCode::OK);
}

#[tokio::test]
async fn the_minute_throttle_counts_only_accepted_calls() {
    let h = start().await;
    let token = h.bearer().await;
    align_to_midnight(&h).await;
    h.control("/__sim/limits", &json!({"per_minute": 2})).await;
    h.get(&token, "/crm/rest/v2/tags").await;
    h.get(&token, "/crm/rest/v2/tags").await;
    let refused = h.get(&token, "/crm/rest/v2/tags").await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(header(&refused, "x-keap-product-throttle-used").as_deref(), Some("2"));
    assert_eq!(header(&refused, "x-keap-product-throttle-available").as_deref(), Some("0"));
    assert_eq!(h.stats().await["api_calls"], 2, "a refused call is not counted as an API call");
    h.control("/__sim/clock/advance", &json!({"seconds": 60})).await;
    let fresh = h.get(&token, "/crm/rest/v2/tags").await;
    assert_eq!(fresh.status(), StatusCode::OK);
    assert_eq!(header(&fresh, "x-keap-product-throttle-used").as_deref(), Some("1"));
}

#[tokio::test]
async fn limits_are_shared_by_every_account_of_one_oauth_client() {
    let mut config = unlimited();
    config.limits = Limits { per_second: None, per_minute: None, per_day: Some(2) };
    config.accounts.push(AccountConfig {
        host: "two.infusionsoft.com".into(),
        encrypted_key: "k".into(),
        seed_demo_data: false,
        demo_contacts: None,
        api_keys: Vec::new(),
    });
    config.users.push(UserConfig {
        username: "two@example.com".into(),
        password: "pw".into(),
        accounts: vec!["two.infusionsoft.com".into()],
    });
    let h = start_with(config).await;
    align_to_midnight(&h).await;
    let first = h.bearer().await;
    let second = h.tokens_as("two@example.com", "pw").await.access;
    assert_eq!(h.get(&first, "/crm/rest/v2/tags").await.status(), StatusCode::OK);
    assert_eq!(h.get(&second, "/crm/rest/v2/tags").await.status(), StatusCode::OK);
    assert_eq!(h.get(&first, "/crm/rest/v2/tags").await.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(h.get(&second, "/crm/rest/v2/tags").await.status(), StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn null_lifts_a_limit_and_its_headers() {
    let h = start_with(SimConfig::sandbox()).await;
    let token = h.bearer().await;
    let answer =
        json_with(h.control("/__sim/limits", &json!({"per_day": null, "per_minute": null})).await, StatusCode::OK)
            .await;
    assert_eq!(
        answer,
        json!({"per_second": 25, "per_minute": null, "per_day": null,
            "tenant": {"per_second": null, "per_minute": 10_000, "per_day": 250_000}})
    );
    let response = h.get(&token, "/crm/rest/v2/tags").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(header(&response, "x-keap-product-quota-limit").is_none());
    assert!(header(&response, "x-keap-product-throttle-limit").is_none());
    let state: Value = h.stats().await["rate_limits"].clone();
    assert_eq!(state["limits"]["per_second"], 25);
    assert_eq!(state["clients"][CLIENT_ID]["day"], 1);
}

#[tokio::test]
async fn account_limits_apply_across_oauth_clients_with_the_tenant_headers() {
    let mut config = unlimited();
    config.clients.push(keap_sim::config::ClientConfig {
        client_id: "second-app".into(),
        client_secret: "second-secret".into(),
        redirect_uris: vec!["*".into()],
    });
    let h = start_with(config).await;
    align_to_midnight(&h).await;
    h.control("/__sim/limits", &json!({"tenant": {"per_day": 2}})).await;
    let first = h.bearer().await;
    let url =
        format!("{}?client_id=second-app&redirect_uri={REDIRECT}&response_type=code", h.url("/app/oauth/authorize"));
    assert_eq!(h.http.get(url).send().await.unwrap().status(), StatusCode::OK);
    let form = [
        ("client_id", "second-app"),
        ("redirect_uri", REDIRECT),
        ("response_type", "code"),
        ("username", "demo@example.com"),
        ("password", "demo"),
        ("decision", "allow"),
    ];
    let redirect = h.http.post(h.url("/app/oauth/authorize")).form(&form).send().await.unwrap();
    let code =
        query_param(&reqwest::Url::parse(redirect.headers()["location"].to_str().unwrap()).unwrap(), "code").unwrap();
    let exchange = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT),
        ("client_id", "second-app"),
        ("client_secret", "second-secret"),
    ];
    let second = tokens_of(json_with(h.token_call(&exchange).await, StatusCode::OK).await).access;
    let ok = h.get(&first, "/crm/rest/v2/tags").await;
    assert_eq!(header(&ok, "x-keap-tenant-quota-used").as_deref(), Some("1"));
    assert_eq!(header(&ok, "x-keap-tenant-id").as_deref(), Some("sandbox.infusionsoft.com"));
    assert_eq!(h.get(&second, "/crm/rest/v2/tags").await.status(), StatusCode::OK);
    let refused = h.get(&second, "/crm/rest/v2/tags").await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(header(&refused, "x-keap-tenant-quota-available").as_deref(), Some("0"));
    assert_eq!(h.get(&first, "/crm/rest/v2/tags").await.status(), StatusCode::TOO_MANY_REQUESTS);
    let stats = h.stats().await;
    assert_eq!(stats["rate_limits"]["clients"][CLIENT_ID]["day"], 1, "refused calls are not counted");
}
