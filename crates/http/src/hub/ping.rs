//! `GET /hubs/{hub}/ping`: one cheap vendor call with the instance's credentials, and how long it
//! took.

use axum::extract::State;
use axum::response::IntoResponse;
use axum::Json;
use connector::rate_limit::Priority;
use serde_json::json;

use super::response::HubResponse;
use crate::auth::HubAuth;
use crate::state::AppState;

pub async fn ping(State(state): State<AppState>, HubAuth { instance }: HubAuth) -> HubResponse {
    let call = state.platform.instance_call(&instance);
    let result = state.platform.hub.ping(&call.session(Priority::Interactive, None)).await;
    let result = result.map_err(Into::into).map(|pong| {
        Json(json!({
            "instanceId": instance.id,
            "element": instance.element_key,
            "valid": true,
            "vendorStatus": pong.vendor_status,
            "latencyMs": pong.latency_ms,
        }))
        .into_response()
    });
    HubResponse::new(&instance, result)
}
