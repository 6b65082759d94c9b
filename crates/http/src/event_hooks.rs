//! The receiver of the vendor's REST hook calls: `POST /elements/api-v2/events/{elementKey}/{path}`,
//! where `{path}` is the instance's unguessable receiving path (`platform::events::hooks`). No
//! platform credentials: the path is the credential, checked in constant time, and anything else
//! is a 404 that says nothing about which part was wrong.
//!
//! - A call with `X-Hook-Secret` is the vendor's verification handshake: answered 200 echoing the
//!   secret, while the instance's events are on and use webhooks.
//! - Any other call is a delivery: checked (shape, at most 1,000 ids, an event the instance
//!   subscribes to), stored as a durable job, and answered 200 at once; the records are fetched
//!   from the queue, never taken from the payload.
//! - Events turned off (or polling): 410 Gone, which makes the vendor deactivate the hook.

use axum::body::{to_bytes, Body};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use platform::events::hooks;
use platform::events::settings::EventSettings;
use serde_json::json;

use crate::error::ApiError;
use crate::path_param::PathParam;
use crate::state::AppState;
use axum::extract::State;

/// The largest delivery read (1,000 object keys with their URLs fit well within it).
const MAX_DELIVERY_BYTES: usize = 512 * 1024;
/// The longest `X-Hook-Secret` echoed.
const MAX_SECRET_LEN: usize = 256;

pub fn routes() -> Router<AppState> {
    Router::new().route(api!("/events/{element_key}/{path}"), post(receive))
}

async fn receive(
    State(state): State<AppState>,
    PathParam((element_key, path)): PathParam<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let unknown = || ApiError::NotFound("No such event receiver".into());
    let id = hooks::instance_of_path(&state.platform, &path).ok_or_else(unknown)?;
    let instance = state.platform.store.instance_by_id(id).await.map_err(|_| unknown())?;
    if instance.element_key != element_key {
        return Err(unknown());
    }
    let settings = EventSettings::of(&instance).map_err(|error| ApiError::BadRequest(error.to_string()))?;
    if !(settings.enabled && settings.webhooks) {
        let message = "Events by webhook are off for this instance";
        return Ok((StatusCode::GONE, Json(json!({ "message": message }))).into_response());
    }
    if let Some(secret) = headers.get("x-hook-secret") {
        let valid = secret.len() <= MAX_SECRET_LEN && secret.to_str().is_ok();
        if !valid {
            return Err(ApiError::BadRequest("X-Hook-Secret must be printable text of at most 256 bytes".into()));
        }
        tracing::info!(instance_id = id.get(), "vendor hook verification answered");
        let mut answer = StatusCode::OK.into_response();
        answer.headers_mut().insert("x-hook-secret", HeaderValue::from(secret));
        return Ok(answer);
    }
    let bytes = to_bytes(body, MAX_DELIVERY_BYTES).await.map_err(|_| ApiError::PayloadTooLarge(MAX_DELIVERY_BYTES))?;
    let job = hooks::enqueue(&state.platform, &instance, &bytes).await?;
    tracing::debug!(instance_id = id.get(), job, "vendor hook delivery queued");
    Ok(Json(json!({ "accepted": true })).into_response())
}
