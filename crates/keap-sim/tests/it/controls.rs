//! The test controls under `/__sim/`: stats (binding shape), clock, faults (status, delay, dropped
//! connection; by path prefix; next N calls or a share of calls), reset.

use reqwest::{Method, StatusCode};
use serde_json::json;
use std::time::{Duration, Instant};

use crate::common::*;

#[tokio::test]
async fn stats_have_the_binding_shape_and_count_calls() {
    let h = start().await;
    let token = h.bearer().await;
    h.get(&token, "/crm/rest/v2/contacts/5").await;
    h.get(&token, "/crm/rest/v2/contacts/6").await;
    let stats = h.stats().await;
    assert_eq!(stats["token_grants"]["authorization_code"], 1);
    assert_eq!(stats["token_grants"]["refresh_token"], 0);
    assert_eq!(stats["api_calls"], 2);
    assert_eq!(stats["calls_by_route"]["GET /crm/rest/v2/contacts/{id}"], 2);
    assert!(stats["records"]["sandbox.infusionsoft.com"]["contacts"].as_u64().unwrap() >= 300);
}

#[tokio::test]
async fn a_counted_fault_fails_the_next_matching_calls_only() {
    let h = start().await;
    let token = h.bearer().await;
    let fault = json!({"path_prefix": "/crm/rest/v2/contacts", "status": 503, "count": 2});
    assert_eq!(h.control("/__sim/faults", &fault).await.status(), StatusCode::CREATED);
    assert_eq!(h.get(&token, "/crm/rest/v2/tags").await.status(), StatusCode::OK, "other paths are untouched");
    for _ in 0..2 {
        let failed = json_with(h.get(&token, "/crm/rest/v2/contacts").await, StatusCode::SERVICE_UNAVAILABLE).await;
        assert_eq!(failed["code"], 503);
    }
    assert_eq!(h.get(&token, "/crm/rest/v2/contacts").await.status(), StatusCode::OK);
    assert_eq!(h.stats().await["faults_injected"], 2);
}

#[tokio::test]
async fn a_share_of_calls_fails_until_the_faults_are_cleared() {
    let h = start().await;
    let fault = json!({"path_prefix": "/token", "method": "POST", "status": 500, "probability": 1.0});
    h.control("/__sim/faults", &fault).await;
    for _ in 0..3 {
        assert_eq!(h.token_call(&[("grant_type", "refresh_token")]).await.status(), StatusCode::INTERNAL_SERVER_ERROR);
    }
    let cleared = h.http.delete(h.url("/__sim/faults")).send().await.unwrap();
    assert_eq!(cleared.status(), StatusCode::NO_CONTENT);
    assert_eq!(h.token_call(&[("grant_type", "refresh_token")]).await.status(), StatusCode::UNAUTHORIZED);
    h.control("/__sim/faults", &json!({"status": 500, "probability": 0.0})).await;
    assert_eq!(h.token_call(&[("grant_type", "refresh_token")]).await.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_delay_fault_answers_late_but_answers() {
    let h = start().await;
    let token = h.bearer().await;
    h.control("/__sim/faults", &json!({"path_prefix": "/crm/rest/v2/users", "delay_ms": 400})).await;
    let started = Instant::now();
    let response = h.get(&token, "/crm/rest/v2/users?page_size=1").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(started.elapsed() >= Duration::from_millis(400));
}

#[tokio::test]
async fn a_dropped_connection_gives_the_client_no_response_at_all() {
    let h = start().await;
    let token = h.bearer().await;
    h.control("/__sim/faults", &json!({"path_prefix": "/crm/rest/v2/contacts", "drop_connection": true})).await;
    let outcome = h.http.get(h.url("/crm/rest/v2/contacts")).bearer_auth(&token).send().await;
    let error = outcome.expect_err("no HTTP response");
    assert!(!error.is_status() && !error.is_timeout(), "{error}");
    assert_eq!(
        h.get(&token, "/crm/rest/v2/contacts?page_size=1").await.status(),
        StatusCode::OK,
        "the server lives on"
    );
}

#[tokio::test]
async fn the_clock_moves_forward_only_by_sane_amounts() {
    let h = start().await;
    for bad in
        [json!({"seconds": -5}), json!({"seconds": 0}), json!({"seconds": "60"}), json!({}), json!({"seconds": 1e12})]
    {
        assert_eq!(h.control("/__sim/clock/advance", &bad).await.status(), StatusCode::BAD_REQUEST, "{bad}");
    }
    let before = h.stats().await["clock"].as_str().unwrap().to_string();
    let moved = json_with(h.control("/__sim/clock/advance", &json!({"seconds": 3600})).await, StatusCode::OK).await;
    let before = chrono::DateTime::parse_from_rfc3339(&before).unwrap();
    let after = chrono::DateTime::parse_from_rfc3339(moved["now"].as_str().unwrap()).unwrap();
    assert!((after - before).num_seconds() >= 3600);
}

#[tokio::test]
async fn reset_restores_the_initial_state() {
    let h = start().await;
    let token = h.bearer().await;
    let body = json!({"given_name": "Temp", "email_addresses": [{"email": "temp@example.com", "field": "EMAIL1"}]});
    assert_eq!(h.send_json(Method::POST, &token, "/crm/rest/v2/contacts", &body).await.status(), StatusCode::CREATED);
    h.control("/__sim/limits", &json!({"per_day": 1})).await;
    h.control("/__sim/faults", &json!({"path_prefix": "/nothing", "status": 500, "count": 5})).await;
    let before = h.stats().await["records"]["sandbox.infusionsoft.com"]["contacts"].as_u64().unwrap();
    assert_eq!(h.http.post(h.url("/__sim/reset")).send().await.unwrap().status(), StatusCode::NO_CONTENT);
    let stats = h.stats().await;
    assert_eq!(stats["records"]["sandbox.infusionsoft.com"]["contacts"].as_u64().unwrap(), before - 1);
    assert_eq!(stats["api_calls"], 0);
    assert_eq!(stats["token_grants"]["authorization_code"], 0);
    assert!(stats["faults"].as_array().unwrap().is_empty());
    assert_eq!(stats["rate_limits"]["limits"]["per_day"], serde_json::Value::Null);
    assert_eq!(h.get(&token, "/crm/rest/v2/contacts").await.status(), StatusCode::UNAUTHORIZED, "grants are gone");
}
