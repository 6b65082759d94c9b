//! `GET /hubs/{hub}/ping`: one cheap vendor call with the instance's credentials (its token
//! refreshed if due, counted against the rate limit like any call), and how long it took.

use std::time::Instant;

use axum::extract::State;
use axum::response::IntoResponse;
use axum::Json;
use reqwest::Method;
use serde_json::json;

use super::response::HubResponse;
use super::vendor::{send, vendor_error, VendorRequest};
use crate::auth::HubAuth;
use crate::state::AppState;

pub async fn ping(State(state): State<AppState>, HubAuth { instance }: HubAuth) -> HubResponse {
    let started = Instant::now();
    let request = VendorRequest::new(Method::GET, "v2/users").query("page_size", "1");
    let result = async {
        let reply = send(&state, &instance, &request).await?;
        if !(200..300).contains(&reply.status) {
            return Err(vendor_error(reply.status, &serde_json::from_slice(&reply.body).unwrap_or_default()));
        }
        let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
        Ok(Json(json!({
            "instanceId": instance.id,
            "element": instance.element_key,
            "valid": true,
            "vendorStatus": reply.status,
            "latencyMs": (latency_ms * 10.0).round() / 10.0,
        }))
        .into_response())
    }
    .await;
    HubResponse::new(&instance, result)
}
