//! Hub requests that start formula runs (the `elementRequest` trigger; the rules and the node's
//! table are `platform::formulas::request_triggers`'s). A layer on the hub routes: after a
//! successful answer for an instance some formula instance watches, the answer's body is read (and
//! sent on unchanged) and the matching runs are created in the background. An answer for an
//! instance nothing watches passes through untouched.

use std::collections::BTreeMap;

use axum::body::Body;
use axum::extract::{Query, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use platform::formulas::request_triggers::HubRequest;
use serde_json::{Map, Value};
use store::InstanceId;

use crate::error::ApiError;
use crate::state::AppState;

pub async fn fire(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if !state.platform.request_triggers.any() {
        return next.run(request).await;
    }
    let method = request.method().as_str().to_owned();
    let uri = request.uri().clone();
    let response = next.run(request).await;
    if !response.status().is_success() {
        return response;
    }
    let watched = response
        .headers()
        .get("elements-element-instance-id")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<i64>().ok())
        .map(InstanceId::new)
        .filter(|instance| state.platform.request_triggers.watches(*instance));
    let Some(instance) = watched else { return response };
    let code = response.status().as_u16();
    let (parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, usize::MAX).await else {
        return ApiError::VendorError { message: "The answer could not be read".into(), provider_message: None }
            .into_response();
    };
    let query: Map<String, Value> = Query::<BTreeMap<String, String>>::try_from_uri(&uri)
        .map(|Query(query)| query.into_iter().map(|(key, value)| (key, Value::String(value))).collect())
        .unwrap_or_default();
    let fired = HubRequest {
        instance,
        method,
        path: uri.path().to_owned(),
        query,
        code,
        body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    };
    let platform = state.platform.clone();
    tokio::spawn(async move { platform.fire_request_triggers(fired).await });
    Response::from_parts(parts, Body::from(bytes))
}
