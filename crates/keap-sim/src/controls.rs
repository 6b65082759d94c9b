//! Test controls under `/__sim/`: stats, clock, faults, limits, API keys, reset. They exist only
//! in the simulator (never in the platform's API) and need no token.

use crate::api_keys::MAX_API_KEYS;
use crate::config::Limits;
use crate::errors::ApiError;
use crate::faults::FaultSpec;
use crate::http_util::json_object;
use crate::state::Sim;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::de::DeserializeOwned;
use serde_json::{json, Value};
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// `GET /__sim/stats`.
pub async fn stats(State(sim): State<Arc<Sim>>) -> Json<Value> {
    let s = &sim.stats;
    let load = |c: &std::sync::atomic::AtomicU64| c.load(Ordering::Relaxed);
    let now = sim.clock.now();
    let (records, grants, hooks) = {
        let world = sim.world();
        let records: serde_json::Map<String, Value> =
            world.accounts.values().map(|a| (a.host.clone(), json!(a.records.counts()))).collect();
        let hooks: serde_json::Map<String, Value> =
            world.accounts.values().map(|a| (a.host.clone(), a.hooks.summary())).collect();
        let mut grants = world.grants.counts(now.timestamp());
        grants["api_keys"] = json!(world.api_keys.len());
        (records, grants, hooks)
    };
    let mut rate_limits = sim.limiter.lock().unwrap_or_else(|e| e.into_inner()).state(now.timestamp_millis());
    rate_limits["api_keys"] =
        sim.api_key_limiter.lock().unwrap_or_else(|e| e.into_inner()).state(now.timestamp_millis());
    rate_limits["tenant"] = sim.tenant_limiter.lock().unwrap_or_else(|e| e.into_inner()).state(now.timestamp_millis());
    let faults = sim.faults.lock().unwrap_or_else(|e| e.into_inner()).list();
    Json(json!({
        "token_grants": {
            "authorization_code": load(&s.grants_authorization_code),
            "refresh_token": load(&s.grants_refresh_token),
        },
        "api_calls": load(&s.api_calls),
        "throttled": load(&s.throttled),
        "unauthorized": load(&s.unauthorized),
        "faults_injected": load(&s.faults_injected),
        "calls_by_route": *s.by_route.lock().unwrap_or_else(|e| e.into_inner()),
        "hooks": {
            "verifications": load(&s.hook_verifications),
            "deliveries_ok": load(&s.hook_deliveries_ok),
            "deliveries_failed": load(&s.hook_deliveries_failed),
            "by_account": hooks,
        },
        "rate_limits": rate_limits,
        "faults": faults,
        "grants": grants,
        "records": records,
        "clock": crate::clock::iso(now),
    }))
}

/// `POST /__sim/clock/advance` with `{"seconds": N}` (0 < N ≤ 10 years).
pub async fn advance_clock(State(sim): State<Arc<Sim>>, headers: HeaderMap, body: Body) -> Response {
    let request = match json_object(&headers, body).await {
        Ok(r) => r,
        Err(e) => return e.into_response(),
    };
    let Some(seconds) = request.get("seconds").and_then(Value::as_i64) else {
        return ApiError::bad_request("seconds must be an integer").into_response();
    };
    if !(1..=10 * 366 * 86_400).contains(&seconds) {
        return ApiError::bad_request("seconds must be between 1 and 316224000").into_response();
    }
    if !sim.clock.advance(seconds) {
        return ApiError::bad_request("The clock may run at most 100 years ahead; POST /__sim/reset to start over")
            .into_response();
    }
    sim.hook_wake.notify_one();
    Json(json!({"now": crate::clock::iso(sim.clock.now())})).into_response()
}

/// `POST /__sim/faults` with a [`FaultSpec`]; `DELETE /__sim/faults` clears them all.
pub async fn add_fault(State(sim): State<Arc<Sim>>, headers: HeaderMap, body: Body) -> Response {
    let spec: FaultSpec = match typed_body(&headers, body).await {
        Ok(spec) => spec,
        Err(e) => return e.into_response(),
    };
    if let Err(message) = spec.validate() {
        return ApiError::bad_request(message).into_response();
    }
    let mut faults = sim.faults.lock().unwrap_or_else(|e| e.into_inner());
    faults.add(spec);
    (StatusCode::CREATED, Json(json!({"faults": faults.list()}))).into_response()
}

pub async fn clear_faults(State(sim): State<Arc<Sim>>) -> StatusCode {
    sim.faults.lock().unwrap_or_else(|e| e.into_inner()).clear();
    StatusCode::NO_CONTENT
}

/// `POST /__sim/limits` with `{"per_second": N|null, "per_minute": N|null, "per_day": N|null}`
/// for the OAuth client limits, and optionally `"tenant": {...}` of the same shape for the
/// per-account limits; a key left out keeps its current value, `null` lifts that limit.
pub async fn set_limits(State(sim): State<Arc<Sim>>, headers: HeaderMap, body: Body) -> Response {
    let mut request = match json_object(&headers, body).await {
        Ok(r) => r,
        Err(e) => return e.into_response(),
    };
    let tenant_request = match request.remove("tenant") {
        None => None,
        Some(Value::Object(t)) => Some(t),
        Some(_) => return ApiError::bad_request("tenant must be an object of limits").into_response(),
    };
    let mut product = sim.limiter.lock().unwrap_or_else(|e| e.into_inner());
    let mut tenant = sim.tenant_limiter.lock().unwrap_or_else(|e| e.into_inner());
    let new_product = match updated_limits(product.limits(), &request) {
        Ok(limits) => limits,
        Err(e) => return e.into_response(),
    };
    let new_tenant = match tenant_request.map(|t| updated_limits(tenant.limits(), &t)).transpose() {
        Ok(limits) => limits.unwrap_or(tenant.limits()),
        Err(e) => return e.into_response(),
    };
    product.set_limits(new_product);
    tenant.set_limits(new_tenant);
    let mut answer = json!(new_product);
    answer["tenant"] = json!(new_tenant);
    Json(answer).into_response()
}

/// `limits` with the keys of `request` applied; nothing changes when any key is wrong.
fn updated_limits(mut limits: Limits, request: &serde_json::Map<String, Value>) -> Result<Limits, ApiError> {
    for (key, value) in request {
        let slot = match key.as_str() {
            "per_second" => &mut limits.per_second,
            "per_minute" => &mut limits.per_minute,
            "per_day" => &mut limits.per_day,
            other => return Err(ApiError::bad_request(format!("Unknown field: {other}"))),
        };
        *slot = match value {
            Value::Null => None,
            v => Some(
                v.as_u64()
                    .filter(|n| *n >= 1)
                    .ok_or_else(|| ApiError::bad_request(format!("{key} must be a positive integer or null")))?,
            ),
        };
    }
    Ok(limits)
}

/// `POST /__sim/api-keys`: issues a personal access token for the demo user (the configuration's
/// first user) on their first account, as the vendor's "API Settings" page would, and answers
/// `201 {"key": "KeapAK-..."}`. The key is shown only here, as at the vendor.
pub async fn create_api_key(State(sim): State<Arc<Sim>>) -> Response {
    let Some((user, account)) = sim.config.users.first().and_then(|u| Some((u, u.accounts.first()?))) else {
        return ApiError::bad_request("The simulator's configuration has no user with an account to issue a key for")
            .into_response();
    };
    let Some(key) = sim.world().api_keys.create(account, &user.username) else {
        let message = format!("At most {MAX_API_KEYS} API keys; POST /__sim/reset to start over");
        return ApiError::bad_request(message).into_response();
    };
    (StatusCode::CREATED, Json(json!({"key": key}))).into_response()
}

/// `POST /__sim/reset`.
pub async fn reset(State(sim): State<Arc<Sim>>) -> StatusCode {
    sim.reset();
    StatusCode::NO_CONTENT
}

async fn typed_body<T: DeserializeOwned>(headers: &HeaderMap, body: Body) -> Result<T, ApiError> {
    let object = json_object(headers, body).await?;
    serde_json::from_value(Value::Object(object)).map_err(|e| ApiError::bad_request(e.to_string()))
}
