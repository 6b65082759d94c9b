//! The vendor rate limiter in front of the real simulator: concurrent calls through it draw no
//! 429 from the vendor's fixed windows, and calls it cannot place within `max_wait` are refused
//! here as `Throttled` before they reach the vendor.

use crate::common::{consent, CLIENT_ID, CLIENT_SECRET, REDIRECT};
use connector::rate_limit::{Priority, Throttled, VendorRateLimiter};
use domain::vendor_limits::VendorLimits;
use keap_sim::{RunningSim, SimConfig};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

/// A simulator with the vendor's limits set to `limits` (`null` lifts one) and a bearer token of
/// the sandbox client.
struct Vendor {
    sim: RunningSim,
    http: reqwest::Client,
    token: String,
}

impl Vendor {
    async fn start(limits: Value) -> Vendor {
        let sim = keap_sim::spawn(SimConfig::default(), "127.0.0.1:0").await.expect("simulator starts");
        let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        let mut limits = limits;
        limits["tenant"] = json!({"per_second": null, "per_minute": null, "per_day": null});
        let answer = http.post(format!("{}/__sim/limits", sim.url())).json(&limits).send().await.unwrap();
        assert_eq!(answer.status(), StatusCode::OK);
        let token = bearer(&sim, &http).await;
        Vendor { sim, http, token }
    }

    async fn stats(&self) -> Value {
        self.http.get(format!("{}/__sim/stats", self.sim.url())).send().await.unwrap().json().await.unwrap()
    }

    /// One REST call through `limiter`, the way the connector makes them: wait for a slot, call,
    /// show the answer to the limiter while still holding the permit.
    async fn call(&self, limiter: &VendorRateLimiter, priority: Priority) -> Result<StatusCode, Throttled> {
        let permit = limiter.acquire(CLIENT_ID, priority).await?;
        let url = format!("{}/crm/rest/v2/contacts?page_size=1", self.sim.url());
        let answer = self.http.get(url).bearer_auth(&self.token).send().await.expect("the simulator answers");
        limiter.observe(CLIENT_ID, answer.headers(), answer.status());
        drop(permit);
        Ok(answer.status())
    }
}

/// The demo user's consent and the code exchange, as a connected instance would have done.
async fn bearer(sim: &RunningSim, http: &reqwest::Client) -> String {
    let code = consent(sim).await;
    let exchange = [
        ("grant_type", "authorization_code"),
        ("code", code.expose()),
        ("redirect_uri", REDIRECT),
        ("client_id", CLIENT_ID),
        ("client_secret", CLIENT_SECRET),
    ];
    let tokens: Value =
        http.post(format!("{}/token", sim.url())).form(&exchange).send().await.unwrap().json().await.unwrap();
    tokens["access_token"].as_str().expect("an access token").to_string()
}

/// Fires `n` calls at once, alternating Interactive and Background, and returns their outcomes.
async fn fire(vendor: &Arc<Vendor>, limiter: &Arc<VendorRateLimiter>, n: usize) -> Vec<Result<StatusCode, Throttled>> {
    let calls: Vec<_> = (0..n)
        .map(|i| {
            let (vendor, limiter) = (vendor.clone(), limiter.clone());
            let priority = if i % 2 == 0 { Priority::Interactive } else { Priority::Background };
            tokio::spawn(async move { vendor.call(&limiter, priority).await })
        })
        .collect();
    let mut outcomes = Vec::new();
    for call in calls {
        outcomes.push(call.await.unwrap());
    }
    outcomes
}

#[tokio::test]
async fn concurrent_calls_through_the_limiter_draw_no_429_from_the_vendor() {
    let vendor = Arc::new(Vendor::start(json!({"per_second": 20, "per_minute": 600, "per_day": 100_000})).await);
    let limits = VendorLimits { per_second: Some(20), per_minute: Some(600), per_day: Some(100_000) };
    let limiter = Arc::new(VendorRateLimiter::new(limits, Duration::from_secs(30), 200));
    let outcomes = fire(&vendor, &limiter, 120).await;
    assert!(outcomes.iter().all(|o| *o == Ok(StatusCode::OK)), "{outcomes:?}");
    let stats = vendor.stats().await;
    assert_eq!(stats["throttled"], 0, "the vendor refused none");
    assert_eq!(stats["api_calls"], 120);
}

#[tokio::test]
async fn calls_beyond_max_wait_are_throttled_here_not_at_the_vendor() {
    let vendor = Arc::new(Vendor::start(json!({"per_second": 10, "per_minute": 600})).await);
    let limits = VendorLimits { per_second: Some(10), per_minute: Some(600), per_day: None };
    let limiter = Arc::new(VendorRateLimiter::new(limits, Duration::from_millis(500), 200));
    let outcomes = fire(&vendor, &limiter, 120).await;
    let sent = outcomes.iter().filter(|o| **o == Ok(StatusCode::OK)).count();
    let refused: Vec<Throttled> = outcomes.iter().filter_map(|o| o.err()).collect();
    assert_eq!(sent + refused.len(), 120, "{outcomes:?}");
    assert!(sent >= 10, "the first second's calls go: {sent}");
    assert!(refused.len() >= 90, "the next slot is 1.05 s away, beyond max_wait: {}", refused.len());
    // The next free slot is a window (1.05 s) after the first burst: two whole seconds.
    assert!(refused.iter().all(|t| (1..=2).contains(&t.retry_after_secs())), "{refused:?}");
    let stats = vendor.stats().await;
    assert_eq!(stats["throttled"], 0);
    assert_eq!(stats["api_calls"], sent);
}

/// The acceptance case at the vendor's own limits (25/s, 1,500/min): 500 calls take about 20 s of
/// real time, hence ignored by default; run with `cargo test -p junction-connector -- --ignored`.
#[tokio::test]
#[ignore = "20 s of real time"]
async fn a_burst_of_500_at_the_vendors_default_limits_draws_no_429() {
    let vendor = Arc::new(Vendor::start(json!({})).await);
    let limiter = Arc::new(VendorRateLimiter::new(VendorLimits::DEFAULT, Duration::from_secs(60), 1000));
    let outcomes = fire(&vendor, &limiter, 500).await;
    assert!(outcomes.iter().all(|o| *o == Ok(StatusCode::OK)));
    let stats = vendor.stats().await;
    assert_eq!(stats["throttled"], 0);
    assert_eq!(stats["api_calls"], 500);
}
