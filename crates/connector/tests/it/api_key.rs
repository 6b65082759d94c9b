//! Keap API keys through the vendor client against the real simulator: a key the vendor issued is
//! sent as `X-Keap-API-Key` and answers, an unknown key's 401 is final (no refresh is attempted).

use std::sync::Arc;
use std::time::Duration;

use connector::endpoints::VendorEndpoints;
use connector::rate_limit::VendorRateLimiter;
use connector::{CallContext, CredentialScheme, StaticTokens, TokenSource, VendorClient, VendorError, VendorRequest};
use domain::vendor_limits::VendorLimits;
use domain::Secret;
use keap_sim::{Limits, RunningSim, SimConfig};
use reqwest::Method;
use serde_json::Value;

async fn start() -> (RunningSim, VendorClient) {
    let config = SimConfig { limits: Limits::none(), tenant_limits: Limits::none(), ..SimConfig::sandbox() };
    let sim = keap_sim::spawn(config, "127.0.0.1:0").await.expect("simulator starts");
    let endpoints = VendorEndpoints::simulator(&url::Url::parse(&sim.url()).unwrap()).unwrap();
    let limiter = Arc::new(VendorRateLimiter::new(VendorLimits::OFF, Duration::from_secs(5), 100));
    let client = VendorClient::new(endpoints, limiter, Duration::from_secs(10)).unwrap();
    (sim, client)
}

/// A key issued by the simulator's test control (the vendor's "API Settings" page).
async fn issue_key(sim: &RunningSim) -> Secret {
    let answer: Value = reqwest::Client::new()
        .post(format!("{}/__sim/api-keys", sim.url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    Secret::new(answer["key"].as_str().expect("a key"))
}

fn context(tokens: &dyn TokenSource) -> CallContext<'_> {
    CallContext::interactive("api-key", tokens)
}

#[tokio::test]
async fn an_issued_api_key_is_sent_as_the_keap_header_and_answers() {
    let (sim, client) = start().await;
    let tokens = StaticTokens::api_key(issue_key(&sim).await);
    assert_eq!(tokens.scheme(), CredentialScheme::ApiKey);
    let request = VendorRequest::new(Method::GET, "v2/contacts").query("page_size", "1");
    let page = client.send_json(&context(&tokens), &request).await.expect("the key is accepted");
    assert_eq!(page["contacts"].as_array().map(Vec::len), Some(1), "{page}");
}

#[tokio::test]
async fn an_unknown_api_key_is_refused_and_not_sent_as_a_bearer_token() {
    let (sim, client) = start().await;
    let key = issue_key(&sim).await;
    let request = VendorRequest::new(Method::GET, "v2/contacts").query("page_size", "1");

    let unknown = StaticTokens::api_key(Secret::new("KeapAK-not-issued"));
    let refused = client.send_json(&context(&unknown), &request).await;
    assert!(matches!(refused, Err(VendorError::Status { status: 401, .. })), "{refused:?}");

    // The issued key sent the OAuth way is no bearer token the vendor knows.
    let as_bearer = StaticTokens::new(key);
    let refused = client.send_json(&context(&as_bearer), &request).await;
    assert!(matches!(refused, Err(VendorError::Status { status: 401, .. })), "{refused:?}");
}
