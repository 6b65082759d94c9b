//! The vendor-call layer over HTTP against the simulator: vendor faults mapped to the SPEC statuses
//! (and retried when that is safe), the vendor rate limits kept before calling out, the raw
//! passthrough and the ping.

use std::time::Duration;

use domain::vendor_limits::VendorLimits;
use keap_sim::Limits;
use reqwest::Method;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::common::lists::{api_calls, throttled};
use crate::common::{error_message, Stack, StackOptions};

async fn instance_on(stack: &Stack) -> (i64, String) {
    let instance = stack.create_instance().await;
    (instance["id"].as_i64().expect("an id"), instance["token"].as_str().expect("a token").to_string())
}

async fn faults_injected(stack: &Stack) -> u64 {
    stack.sim_stats().await["faults_injected"].as_u64().expect("faults_injected")
}

async fn fault(stack: &Stack, spec: Value) {
    stack.sim_post("/__sim/faults", spec).await;
}

async fn clear_faults(stack: &Stack) {
    stack.http.delete(format!("{}/__sim/faults", stack.sim.url())).send().await.expect("clear faults");
}

async fn assert_instance_still_valid(stack: &Stack, id: i64, token: &str) {
    let instance: Value = stack.platform(Method::GET, &format!("/instances/{id}")).await.json().await.unwrap();
    assert_eq!(instance["valid"], true, "the instance stays valid: {instance}");
    let answer = stack.hub(Method::GET, token, "/hubs/crm/contacts?pageSize=2", None).await;
    assert_eq!(answer.status(), 200, "the next call succeeds");
}

const CONTACTS: &str = "/crm/rest/v2/contacts";

#[tokio::test]
async fn a_transient_vendor_500_is_retried_and_succeeds() {
    let stack = Stack::start().await;
    let (id, token) = instance_on(&stack).await;
    fault(&stack, json!({"path_prefix": CONTACTS, "method": "GET", "status": 500, "count": 2})).await;
    let before = (api_calls(&stack).await, faults_injected(&stack).await);
    let answer = stack.hub(Method::GET, &token, "/hubs/crm/contacts?pageSize=3", None).await;
    assert_eq!(answer.status(), 200);
    assert_eq!(answer.json::<Value>().await.unwrap().as_array().unwrap().len(), 3);
    assert_eq!(faults_injected(&stack).await - before.1, 2, "two failures");
    assert_eq!(api_calls(&stack).await - before.0, 1, "then the answer");
    assert_instance_still_valid(&stack, id, &token).await;
}

#[tokio::test]
async fn a_persistent_vendor_500_is_502_with_the_providers_message() {
    let stack = Stack::start().await;
    let (id, token) = instance_on(&stack).await;
    fault(&stack, json!({"path_prefix": CONTACTS, "method": "GET", "status": 500, "count": 3})).await;
    let answer = stack.hub(Method::GET, &token, "/hubs/crm/contacts", None).await;
    let body = error_message(answer, 502).await;
    assert!(body["providerMessage"].is_string(), "the vendor's text: {body}");
    assert_instance_still_valid(&stack, id, &token).await;
}

#[tokio::test]
async fn a_vendor_500_on_a_create_is_not_retried() {
    let stack = Stack::start().await;
    let (id, token) = instance_on(&stack).await;
    fault(&stack, json!({"path_prefix": CONTACTS, "method": "POST", "status": 503, "count": 1})).await;
    let before = (api_calls(&stack).await, faults_injected(&stack).await);
    let answer = stack.hub(Method::POST, &token, "/hubs/crm/contacts", Some(json!({"FirstName": "Once"}))).await;
    error_message(answer, 502).await;
    assert_eq!(faults_injected(&stack).await - before.1, 1, "a POST is sent once");
    assert_eq!(api_calls(&stack).await - before.0, 0, "and not again");
    assert_instance_still_valid(&stack, id, &token).await;
}

#[tokio::test]
async fn a_vendor_slower_than_the_timeout_is_504() {
    let stack = Stack::start().await;
    let (id, token) = instance_on(&stack).await;
    fault(&stack, json!({"path_prefix": CONTACTS, "method": "GET", "delay_ms": 4500, "count": 1})).await;
    let started = std::time::Instant::now();
    let answer = stack.hub(Method::GET, &token, "/hubs/crm/contacts?pageSize=2", None).await;
    error_message(answer, 504).await;
    assert!(started.elapsed() < Duration::from_millis(4400), "answered at the timeout, not after the vendor");
    assert_instance_still_valid(&stack, id, &token).await;
}

#[tokio::test]
async fn a_dropped_connection_is_retried_then_502() {
    let stack = Stack::start().await;
    let (id, token) = instance_on(&stack).await;
    fault(&stack, json!({"path_prefix": CONTACTS, "method": "GET", "drop_connection": true, "count": 1})).await;
    let answer = stack.hub(Method::GET, &token, "/hubs/crm/contacts?pageSize=2", None).await;
    assert_eq!(answer.status(), 200, "one dropped connection is retried");
    fault(&stack, json!({"path_prefix": CONTACTS, "method": "GET", "drop_connection": true, "count": 3})).await;
    let answer = stack.hub(Method::GET, &token, "/hubs/crm/contacts?pageSize=2", None).await;
    let body = error_message(answer, 502).await;
    assert!(body.get("providerMessage").is_none_or(Value::is_null), "no vendor text without an answer: {body}");
    assert_instance_still_valid(&stack, id, &token).await;
}

#[tokio::test]
async fn vendor_404_and_400_are_passed_on_with_the_providers_message() {
    let stack = Stack::start().await;
    let (id, token) = instance_on(&stack).await;
    let answer = stack.hub(Method::GET, &token, "/hubs/crm/contacts/99999999", None).await;
    error_message(answer, 404).await;
    fault(&stack, json!({"path_prefix": CONTACTS, "method": "GET", "status": 404, "count": 1})).await;
    let answer = stack.hub(Method::GET, &token, "/hubs/crm/contacts?pageSize=2", None).await;
    error_message(answer, 404).await;
    fault(&stack, json!({"path_prefix": CONTACTS, "method": "GET", "status": 400, "count": 1})).await;
    let answer = stack.hub(Method::GET, &token, "/hubs/crm/contacts?pageSize=2", None).await;
    let body = error_message(answer, 400).await;
    assert!(body["providerMessage"].is_string(), "the vendor's text: {body}");
    clear_faults(&stack).await;
    assert_instance_still_valid(&stack, id, &token).await;
}

/// Fires 500 concurrent hub reads at the vendor's default limits on both sides; returns the
/// count of each status and checks every 429 is Junction's own (JSON, `Retry-After` ≥ 1).
async fn burst_of_500(rate_limit_wait: Duration) -> (Stack, std::collections::BTreeMap<u16, usize>) {
    let stack = Stack::start_with(StackOptions {
        sim_limits: Limits::vendor(),
        sim_tenant_limits: Limits::vendor_tenant(),
        vendor_limits: VendorLimits::DEFAULT,
        rate_limit_wait,
        ..StackOptions::default()
    })
    .await;
    let (_, token) = instance_on(&stack).await;
    let started = std::time::Instant::now();
    let (stack, statuses) = concurrent_reads(stack, &token, 500).await;
    eprintln!("500-call burst, queue wait {rate_limit_wait:?}: {statuses:?} in {:?}", started.elapsed());
    assert_eq!(throttled(&stack).await, 0, "the vendor never had to throttle");
    (stack, statuses)
}

/// Fires `count` hub reads with `token` at once; returns the count of each status, having checked
/// that every 429 is Junction's own (JSON, `Retry-After` ≥ 1).
async fn concurrent_reads(stack: Stack, token: &str, count: usize) -> (Stack, std::collections::BTreeMap<u16, usize>) {
    let stack = std::sync::Arc::new(stack);
    let mut calls = tokio::task::JoinSet::new();
    for _ in 0..count {
        let (stack, token) = (std::sync::Arc::clone(&stack), token.to_string());
        calls.spawn(async move {
            let answer = stack.hub(Method::GET, &token, "/hubs/crm/contacts/1", None).await;
            let status = answer.status().as_u16();
            if status == 429 {
                let retry_after: u64 = answer.headers()["retry-after"].to_str().unwrap().parse().unwrap();
                assert!(retry_after >= 1, "Retry-After {retry_after}");
                error_message(answer, 429).await;
            }
            status
        });
    }
    let mut statuses = std::collections::BTreeMap::new();
    while let Some(status) = calls.join_next().await {
        *statuses.entry(status.unwrap()).or_insert(0) += 1;
    }
    (std::sync::Arc::into_inner(stack).expect("all calls done"), statuses)
}

#[tokio::test]
async fn a_burst_of_500_calls_never_meets_a_vendor_429_and_what_cannot_wait_is_refused_with_retry_after() {
    // The default queue wait (5 s) at 25 calls/s serves about 125 calls plus what the first
    // second allows; the rest are Junction's own 429s, never the vendor's.
    let (_, statuses) = burst_of_500(platform::MAX_RATE_LIMIT_WAIT).await;
    let served = statuses.get(&200).copied().unwrap_or(0);
    assert!(served >= 100, "about 5 s worth of calls are served: {statuses:?}");
    assert_eq!(served + statuses.get(&429).copied().unwrap_or(0), 500, "only 200s and 429s: {statuses:?}");
}

#[tokio::test]
async fn a_burst_of_500_calls_all_succeed_when_the_queue_may_wait_long_enough() {
    let (_, statuses) = burst_of_500(Duration::from_secs(40)).await;
    assert_eq!(statuses.get(&200), Some(&500), "every call succeeds: {statuses:?}");
}

#[tokio::test]
async fn an_instance_without_a_server_counts_its_first_calls_against_the_account_its_grant_names() {
    // The account's limit is the one that binds: 5 calls a minute, at the vendor and in Junction.
    let stack = Stack::start_with(StackOptions {
        sim_tenant_limits: Limits { per_second: None, per_minute: Some(5), per_day: None },
        vendor_limits: "100/s".parse().unwrap(),
        account_limits: "5/min".parse().unwrap(),
        rate_limit_wait: Duration::from_secs(2),
        ..StackOptions::default()
    })
    .await;
    let code = stack.consent(crate::common::CALLBACK).await;
    let mut body = stack.crm_body(&code);
    body["configuration"].as_object_mut().unwrap().remove("infusionsoft.server");
    let created = stack.post_instance(&body).await;
    assert_eq!(created.status(), 200);
    let created: Value = created.json().await.unwrap();
    let stored =
        stack.store.get_instance(stack.organization_id, store::InstanceId::new(created["id"].as_i64().unwrap()));
    let account = stored.await.unwrap().vendor_account;
    assert_eq!(account.as_deref(), Some("sandbox.infusionsoft.com"), "the grant's scope names the account");

    // Twelve calls at once, before any vendor answer has named the account.
    let (stack, statuses) = concurrent_reads(stack, created["token"].as_str().unwrap(), 12).await;
    assert_eq!(statuses.get(&200), Some(&5), "the account's five: {statuses:?}");
    assert_eq!(statuses.get(&429), Some(&7), "the rest refused by Junction: {statuses:?}");
    assert_eq!(throttled(&stack).await, 0, "the vendor never had to throttle the account");
}

#[tokio::test]
async fn a_full_queue_is_429_with_retry_after() {
    let stack = Stack::start_with(StackOptions {
        vendor_limits: "2/s".parse().unwrap(),
        rate_limit_queue: 5,
        ..StackOptions::default()
    })
    .await;
    let (_, token) = instance_on(&stack).await;
    let stack = std::sync::Arc::new(stack);
    let mut calls = tokio::task::JoinSet::new();
    for _ in 0..40 {
        let (stack, token) = (std::sync::Arc::clone(&stack), token.clone());
        calls.spawn(async move { stack.hub(Method::GET, &token, "/hubs/crm/contacts/1", None).await });
    }
    let mut limited = 0;
    while let Some(answer) = calls.join_next().await {
        let answer = answer.unwrap();
        if answer.status() == 429 {
            limited += 1;
            let retry_after: u64 = answer.headers()["retry-after"].to_str().unwrap().parse().unwrap();
            assert!(retry_after >= 1, "Retry-After {retry_after}");
            error_message(answer, 429).await;
        } else {
            assert_eq!(answer.status(), 200);
        }
    }
    assert!(limited > 0, "some calls were refused");
    assert_eq!(throttled(&stack).await, 0, "the vendor never throttled");
}

#[tokio::test]
async fn the_daily_quota_is_kept_before_calling_the_vendor() {
    let stack = Stack::start_with(StackOptions {
        vendor_limits: "100/s,1000/min,20/day".parse().unwrap(),
        ..StackOptions::default()
    })
    .await;
    let (_, token) = instance_on(&stack).await;
    let before = api_calls(&stack).await;
    let mut served = 0;
    let refused = loop {
        let answer = stack.hub(Method::GET, &token, "/hubs/crm/contacts/1", None).await;
        if answer.status() != 200 {
            break answer;
        }
        served += 1;
        assert!(served <= 20, "more than the daily quota was served");
    };
    assert_eq!(refused.status(), 429);
    let retry_after: u64 = refused.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!(retry_after >= 1);
    error_message(refused, 429).await;
    let vendor_calls = api_calls(&stack).await;
    assert_eq!(vendor_calls - before, served, "the refused call never reached the vendor");
    assert!(vendor_calls <= 20, "the simulator saw {vendor_calls} calls, the quota is 20");
    eprintln!("daily quota: {served} hub calls served, simulator saw {vendor_calls} API calls");
}

#[tokio::test]
async fn raw_v1_and_v2_calls_come_back_as_the_vendor_answered() {
    let stack = Stack::start().await;
    let (id, token) = instance_on(&stack).await;
    let v1 = stack.hub(Method::GET, &token, "/hubs/crm/raw/v1/contacts?limit=2", None).await;
    assert_eq!(v1.status(), 200);
    assert!(v1.headers().keys().any(|name| name.as_str().starts_with("x-keap-")), "vendor headers: {:?}", v1.headers());
    let v1: Value = v1.json().await.unwrap();
    assert_eq!(v1["contacts"].as_array().unwrap().len(), 2, "{v1}");
    let straight: Value = stack.vendor_get(id, "v1/contacts?limit=2").await.json().await.unwrap();
    assert_eq!(v1["contacts"], straight["contacts"]);

    let v2 = stack.hub(Method::GET, &token, "/hubs/crm/raw/v2/contacts?page_size=2", None).await;
    assert_eq!(v2.status(), 200);
    assert!(v2.headers().contains_key("elements-request-id"));
    let v2: Value = v2.json().await.unwrap();
    assert_eq!(v2["contacts"].as_array().unwrap().len(), 2);

    let created = stack
        .hub(
            Method::POST,
            &token,
            "/hubs/crm/raw/v2/contacts",
            Some(json!({
                "given_name": "Raw",
                "family_name": "Passthrough",
                "email_addresses": [{"email": "raw@passthrough.example.com", "field": "EMAIL1"}],
            })),
        )
        .await;
    let status = created.status().as_u16();
    assert!(status == 200 || status == 201, "{status}");
    let created: Value = created.json().await.unwrap();
    let new_id = created["id"].as_str().map(str::to_string).unwrap_or_else(|| created["id"].to_string());
    let read = stack.vendor_get(id, &format!("v2/contacts/{new_id}")).await;
    assert_eq!(read.status(), 200);
    assert_eq!(read.json::<Value>().await.unwrap()["given_name"], "Raw");

    // A vendor error comes back as the vendor answered it, not mapped.
    let missing = stack.hub(Method::GET, &token, "/hubs/crm/raw/v2/contacts/99999999", None).await;
    assert_eq!(missing.status(), 404);
    let bad = stack.hub(Method::POST, &token, "/hubs/crm/raw/v2/contacts", Some(json!({"no_such_field": 1}))).await;
    assert_eq!(bad.status(), 400);
}

/// Sends a request line exactly as written (no client-side normalization) and returns the status.
async fn raw_request(stack: &Stack, token: &str, target: &str) -> u16 {
    let addr = stack.base.trim_start_matches("http://");
    let mut socket = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!(
        "GET {target} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: {}\r\nConnection: close\r\n\r\n",
        stack.hub_auth(token)
    );
    socket.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    socket.read_to_end(&mut answer).await.unwrap();
    let text = String::from_utf8_lossy(&answer);
    text.split(' ').nth(1).and_then(|code| code.parse().ok()).unwrap_or_else(|| panic!("{target}: {text}"))
}

#[tokio::test]
async fn raw_paths_escaping_the_rest_base_are_refused_before_any_vendor_call() {
    let stack = Stack::start().await;
    let (_, token) = instance_on(&stack).await;
    let before = api_calls(&stack).await;
    let base = "/elements/api-v2/hubs/crm/raw/";
    for escape in [
        "v2/../../token",
        "../token",
        "v2/%2e%2e/%2e%2e/token",
        "v2/%2E%2E/v1/contacts",
        "%2e%2e/token",
        "http://evil.example/x",
        "https:%2F%2Fevil.example/x",
        "/evil.example/x",
        "//evil.example/x",
        "v2//contacts",
        "v2/./contacts",
        "v2/contacts%2F..%2F..%2Ftoken",
        "v2/a%5cb",
    ] {
        let status = raw_request(&stack, &token, &format!("{base}{escape}")).await;
        assert_eq!(status, 400, "{escape}");
    }
    assert_eq!(api_calls(&stack).await, before, "nothing reached the vendor");
    assert_eq!(raw_request(&stack, &token, &format!("{base}v2/contacts?page_size=1")).await, 200);
}

#[tokio::test]
async fn ping_answers_with_latency_and_502_when_the_vendor_fails() {
    let stack = Stack::start().await;
    let (id, token) = instance_on(&stack).await;
    let answer = stack.hub(Method::GET, &token, "/hubs/crm/ping", None).await;
    assert_eq!(answer.status(), 200);
    let body: Value = answer.json().await.unwrap();
    assert!(body["latencyMs"].as_f64().is_some_and(|ms| ms >= 0.0), "{body}");
    fault(&stack, json!({"path_prefix": "/crm/rest", "status": 500, "count": 3})).await;
    let answer = stack.hub(Method::GET, &token, "/hubs/crm/ping", None).await;
    error_message(answer, 502).await;
    clear_faults(&stack).await;
    assert_instance_still_valid(&stack, id, &token).await;
}

/// A server of `http_api::router` alone (no raw passthrough ahead of it) on `stack`'s platform.
async fn router_alone(stack: &Stack) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let state = http_api::AppState::new(stack.platform.clone()).with_public_url(&stack.base);
    tokio::spawn(async move { axum::serve(listener, http_api::router(state)).await });
    base
}

/// What a client sees of an answer, but for what differs between two calls anyway: the request
/// id (header and error body), the date, and the values (not the names) of the vendor's rate-limit
/// headers.
async fn seen(answer: reqwest::Response) -> (u16, Vec<(String, String)>, Vec<u8>) {
    let headers = answer
        .headers()
        .iter()
        .filter(|(name, _)| !matches!(name.as_str(), "elements-request-id" | "date"))
        .map(|(name, value)| {
            let value = if name.as_str().starts_with("x-keap-") { "" } else { value.to_str().unwrap_or("?") };
            (name.to_string(), value.to_string())
        })
        .collect();
    let status = answer.status().as_u16();
    let mut body = answer.bytes().await.expect("body").to_vec();
    if let Ok(Value::Object(mut error)) = serde_json::from_slice::<Value>(&body) {
        if error.contains_key("requestId") {
            error.insert("requestId".into(), Value::Null);
            body = serde_json::to_vec(&error).expect("JSON");
        }
    }
    (status, headers, body)
}

/// A call: its method, its path under the API, its `Authorization`, its body and media type.
type Call<'a> = (Method, &'a str, Option<&'a str>, Option<(&'a str, Vec<u8>)>);

#[tokio::test]
async fn raw_calls_answer_the_same_ahead_of_the_router_as_through_it() {
    let stack = Stack::start().await;
    let (_, token) = instance_on(&stack).await;
    let router = router_alone(&stack).await;
    let auth = stack.hub_auth(&token);
    let oversized = vec![b'x'; 2 * 1024 * 1024];
    let calls: Vec<Call> = vec![
        (Method::GET, "/hubs/crm/raw/v2/contacts?page_size=2", Some(&auth), None),
        (Method::GET, "/hubs/crm/raw/v1/contacts/1", Some(&auth), None),
        (Method::GET, "/hubs/anything/raw/v2/contacts/99999999", Some(&auth), None),
        (Method::GET, "/hubs/crm/raw/v2/contacts?page_size=%zz", Some(&auth), None),
        (Method::GET, "/hubs/crm/raw/v2/%63ontacts/1", Some(&auth), None),
        (Method::GET, "/hubs/crm/raw/v2/contacts%FF", Some(&auth), None),
        (Method::GET, "/hubs/crm/raw/v2/../../token", Some(&auth), None),
        (Method::GET, "/hubs/crm/raw/", Some(&auth), None),
        (Method::GET, "/hubs/crm/raw/v2/contacts/1", None, None),
        (Method::GET, "/hubs/crm/raw/v2/contacts/1", Some("User nobody, Element nothing"), None),
        (Method::HEAD, "/hubs/crm/raw/v2/contacts/1", Some(&auth), None),
        (
            Method::POST,
            "/hubs/crm/raw/v2/contacts",
            Some(&auth),
            Some(("application/json", b"{\"no_such_field\":1}".to_vec())),
        ),
        (Method::PUT, "/hubs/crm/raw/v2/contacts/1", Some(&auth), Some(("text/plain", b"not json".to_vec()))),
        (Method::POST, "/hubs/crm/raw/v2/contacts", Some(&auth), Some(("application/json", oversized))),
        (Method::DELETE, "/hubs/crm/raw/v2/contacts/99999999", Some(&auth), None),
    ];
    for (method, path, authorization, body) in calls {
        let mut answers = Vec::new();
        for base in [&stack.base, &router] {
            let url = format!("{base}/elements/api-v2{path}");
            let mut request = stack.http.request(method.clone(), url);
            if let Some(authorization) = authorization {
                request = request.header("authorization", authorization);
            }
            if let Some((content_type, body)) = &body {
                request = request.header("content-type", *content_type).body(body.clone());
            }
            answers.push(seen(request.send().await.expect("call")).await);
        }
        assert_eq!(answers[0], answers[1], "{method} {path}");
    }
}
