//! `GET /metrics`: requests by route template and status, latency, vendor calls and refreshes,
//! after the seeds' flow and hub calls; and no secret, id or raw path in the output.

use reqwest::Method;
use store::{ACCESS_TOKEN_KEY, REFRESH_TOKEN_KEY};

use crate::common::{Stack, CLIENT_SECRET, ENCRYPTED_KEY};

const HUB_ROUTE: &str = "/elements/api-v2/hubs/{hub}/{object}";
const RAW_ROUTE: &str = "/elements/api-v2/hubs/{hub}/raw/{*path}";

async fn scrape(stack: &Stack) -> String {
    let answer = stack.http.get(format!("{}/metrics", stack.base)).send().await.expect("GET /metrics");
    assert_eq!(answer.status(), 200);
    assert_eq!(answer.headers()["content-type"], "text/plain; version=0.0.4; charset=utf-8");
    answer.text().await.expect("text")
}

fn assert_line(text: &str, line: &str) {
    assert!(text.lines().any(|candidate| candidate == line), "no line `{line}` in:\n{text}");
}

#[tokio::test]
async fn requests_vendor_calls_and_refreshes_are_counted_without_secrets() {
    let stack = Stack::start().await;
    let instance = stack.create_instance().await;
    let id = instance["id"].as_i64().expect("an id");
    let token = instance["token"].as_str().expect("a token").to_string();
    assert_eq!(stack.hub_contacts(&token).await.status(), 200);
    assert_eq!(stack.platform(Method::GET, &format!("/instances/{id}")).await.status(), 200);
    let unknown = stack.http.get(format!("{}/no/such/place-{token}", stack.base)).send().await.expect("call");
    assert_eq!(unknown.status(), 404);
    // A raw call, served ahead of the router, and one with an escape, through it: one route.
    for path in ["/hubs/crm/raw/v2/contacts/1", "/hubs/crm/raw/v2/%63ontacts/1"] {
        assert_eq!(stack.hub(Method::GET, &token, path, None).await.status(), 200, "{path}");
    }

    let text = scrape(&stack).await;
    assert_line(&text, "# TYPE junction_http_requests_total counter");
    assert_line(
        &text,
        r#"junction_http_requests_total{route="/elements/api-v2/instances",method="POST",status="200"} 1"#,
    );
    assert_line(&text, &format!(r#"junction_http_requests_total{{route="{HUB_ROUTE}",method="GET",status="200"}} 1"#));
    assert_line(
        &text,
        r#"junction_http_requests_total{route="/elements/api-v2/instances/{id}",method="GET",status="200"} 1"#,
    );
    assert_line(&text, r#"junction_http_requests_total{route="unmatched",method="GET",status="404"} 1"#);
    assert_line(&text, "# TYPE junction_http_request_duration_seconds histogram");
    assert_line(
        &text,
        &format!(r#"junction_http_request_duration_seconds_count{{route="{HUB_ROUTE}",method="GET"}} 1"#),
    );
    assert_line(&text, &format!(r#"junction_http_requests_total{{route="{RAW_ROUTE}",method="GET",status="200"}} 2"#));
    assert_line(&text, r#"junction_vendor_calls_total{kind="rest",outcome="2xx"} 3"#);
    // The code exchange.
    assert_line(&text, r#"junction_vendor_calls_total{kind="token",outcome="2xx"} 1"#);
    assert!(!text.contains("junction_token_refreshes_total{"), "no refresh yet:\n{text}");

    // A day later at the vendor, the stored access token is expired: the hub call gets a 401,
    // refreshes once and retries.
    stack.expire_access_tokens().await;
    assert_eq!(stack.hub_contacts(&token).await.status(), 200);
    let text = scrape(&stack).await;
    assert_line(&text, r#"junction_token_refreshes_total{trigger="reactive",outcome="refreshed"} 1"#);
    assert_line(&text, r#"junction_vendor_calls_total{kind="rest",outcome="4xx"} 1"#);
    assert_line(&text, r#"junction_vendor_calls_total{kind="rest",outcome="2xx"} 4"#);
    assert_line(&text, r#"junction_vendor_calls_total{kind="token",outcome="2xx"} 2"#);
    assert_line(&text, &format!(r#"junction_http_requests_total{{route="{HUB_ROUTE}",method="GET",status="200"}} 2"#));

    // A manual refresh through the API is counted as such.
    assert_eq!(stack.platform(Method::PUT, &format!("/instances/{id}/tokens/refresh")).await.status(), 200);
    let text = scrape(&stack).await;
    assert_line(&text, r#"junction_token_refreshes_total{trigger="manual",outcome="refreshed"} 1"#);

    // No secret, raw path or id-bearing path reaches the output.
    let record =
        stack.store.get_instance(stack.organization_id, store::InstanceId::new(id)).await.expect("the instance");
    let vendor_tokens = [ACCESS_TOKEN_KEY, REFRESH_TOKEN_KEY]
        .map(|key| record.secrets.get(key).expect("a stored token").expose().to_string());
    let secrets = [
        token.as_str(),
        stack.user_secret.expose(),
        stack.org_secret.expose(),
        CLIENT_SECRET,
        ENCRYPTED_KEY,
        vendor_tokens[0].as_str(),
        vendor_tokens[1].as_str(),
    ];
    for secret in secrets {
        assert!(!text.contains(secret), "a secret in the metrics:\n{text}");
    }
    assert!(!text.contains("/hubs/crm/"), "a raw hub path:\n{text}");
    assert!(!text.contains(&format!("/instances/{id}\"")), "a raw instance path:\n{text}");
    assert!(!text.contains("/no/such"), "an unmatched raw path:\n{text}");
}

#[tokio::test]
async fn a_scraper_asking_for_openmetrics_gets_it() {
    let stack = Stack::start().await;
    assert_eq!(stack.http.get(format!("{}/healthz", stack.base)).send().await.expect("probe").status(), 200);
    let answer = stack
        .http
        .get(format!("{}/metrics", stack.base))
        .header("accept", "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5,*/*;q=0.1")
        .send()
        .await
        .expect("GET /metrics");
    assert_eq!(answer.status(), 200);
    assert_eq!(answer.headers()["content-type"], "application/openmetrics-text; version=1.0.0; charset=utf-8");
    let text = answer.text().await.expect("text");
    assert!(text.ends_with("# EOF\n"), "{text}");
    assert_line(&text, "# TYPE junction_http_requests counter");
    assert_line(&text, r#"junction_http_requests_total{route="/healthz",method="GET",status="200"} 1"#);
}

#[tokio::test]
async fn a_background_refresh_is_counted_as_such() {
    let stack = Stack::start().await;
    stack.create_instance().await;
    let base = url::Url::parse(&stack.sim.url()).expect("sim url");
    let endpoints = connector::endpoints::VendorEndpoints::simulator(&base).expect("endpoints");
    let policy = domain::instance_config::ServerPolicy::with_sandbox_host(&stack.sim.addr().to_string());
    let config = platform::PlatformConfig::new(std::sync::Arc::clone(&stack.store), endpoints, policy, true);
    let state = platform::Platform::build(config).expect("platform");
    // Two days from now the access token (24 h) is past its expiry: due.
    let later = chrono::Utc::now() + chrono::TimeDelta::days(2);
    let summary = platform::token_refresh_job::refresh_due_instances(&state, later).await.expect("a run");
    assert_eq!(summary.refreshed, 1, "{summary:?}");
    let text = state.metrics.text();
    assert_line(&text, r#"junction_token_refreshes_total{trigger="background",outcome="refreshed"} 1"#);
    assert_line(&text, r#"junction_vendor_calls_total{kind="token",outcome="2xx"} 1"#);
}
