//! One vendor REST call on behalf of an instance, with everything the hub promises around it:
//! the instance's access token (refreshed proactively when due, and reactively once on a vendor
//! 401), the per-OAuth-client rate limiter before the call and in step with the vendor's headers
//! after it, bounded retries with jittered backoff for idempotent calls on vendor 5xx and transport
//! failures, and the vendor's errors mapped to the SPEC statuses with `providerMessage`.
//!
//! Callers get the vendor's answer as it came ([`VendorReply`], for the raw passthrough) or as JSON
//! ([`send_json`], errors already mapped).

use std::time::Duration;

use axum::body::Bytes;
use chrono::{DateTime, TimeDelta, Utc};
use connector::rate_limit::Priority;
use domain::token_rules::{self, TokenTimes};
use reqwest::header::HeaderMap;
use reqwest::Method;
use serde_json::Value;
use store::{InstanceRecord, ACCESS_TOKEN_KEY};

use crate::error::ApiError;
use crate::metrics::Trigger;
use crate::state::AppState;
use crate::token_refresh::{self, Usable};

/// `oauth.user.refresh_interval` when unset or unreadable (the element's declared default).
const DEFAULT_REFRESH_INTERVAL_SECS: i64 = 3600;
/// Retries of an idempotent call after a vendor 5xx or a transport failure.
const IDEMPOTENT_RETRIES: u32 = 2;
/// The longest vendor `Retry-After` the hub waits out itself before answering 429.
const MAX_VENDOR_RETRY_WAIT: Duration = Duration::from_secs(2);

/// A vendor call: a method, a path under the REST base (`v2/contacts/12`), a query and a body.
#[derive(Debug, Clone)]
pub struct VendorRequest {
    pub method: Method,
    pub path: String,
    pub query: Vec<(String, String)>,
    pub body: Option<Bytes>,
    /// The body's media type, when there is one (`application/json` unless passed through).
    pub content_type: Option<String>,
}

impl VendorRequest {
    /// A request without a body.
    pub fn new(method: Method, path: impl Into<String>) -> Self {
        VendorRequest { method, path: path.into(), query: Vec::new(), body: None, content_type: None }
    }

    /// Adds a query parameter.
    pub fn query(mut self, name: &str, value: impl Into<String>) -> Self {
        self.query.push((name.to_string(), value.into()));
        self
    }

    /// Sets a JSON body.
    pub fn json(mut self, body: &Value) -> Self {
        self.body = Some(Bytes::from(body.to_string()));
        self.content_type = Some("application/json".into());
        self
    }

    fn idempotent(&self) -> bool {
        matches!(self.method, Method::GET | Method::HEAD | Method::PUT | Method::DELETE | Method::OPTIONS)
    }
}

/// The vendor's answer as it came.
#[derive(Debug)]
pub struct VendorReply {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// Sends `request` and returns the vendor's answer, whatever its status, once the token lifecycle,
/// the rate limiter and the retries are done with it. Fails only when no answer could be had.
pub async fn send(
    state: &AppState,
    instance: &InstanceRecord,
    request: &VendorRequest,
) -> Result<VendorReply, ApiError> {
    let client_id = instance.secrets.get("oauth.api.key").map(|key| key.expose().to_string()).unwrap_or_default();
    let mut tokens = usable_token(state, instance).await?;
    let mut refreshed = false;
    let mut attempt = 0;
    loop {
        // Held until the vendor's answer is observed: the call counts as in flight until then.
        let permit = state.limiter.acquire(&client_id, Priority::Interactive).await.map_err(|throttled| {
            ApiError::RateLimited {
                message: "The vendor's rate limit for this OAuth client is reached; retry later".into(),
                retry_after_secs: throttled.retry_after_secs(),
            }
        })?;
        let started = std::time::Instant::now();
        let sent = transmit(state, request, &tokens).await;
        if instance.trace_logging {
            trace(state, instance.id, request, sent.as_ref().map_or(0, |reply| reply.status), started.elapsed());
        }
        let reply = match sent {
            Ok(reply) => reply,
            // A timeout is not retried: the caller has already waited the whole timeout once.
            Err(ApiError::VendorError { .. }) if request.idempotent() && attempt < IDEMPOTENT_RETRIES => {
                attempt += 1;
                tracing::info!(instance_id = instance.id, attempt, "vendor unreachable; retrying");
                backoff(attempt).await;
                continue;
            }
            Err(error) => return Err(error),
        };
        let status = reqwest::StatusCode::from_u16(reply.status).unwrap_or(reqwest::StatusCode::BAD_GATEWAY);
        state.limiter.observe(&client_id, &reply.headers, status);
        drop(permit);
        if token_rules::reactive_refresh_allowed(reply.status, refreshed) {
            tracing::info!(instance_id = instance.id, "vendor answered 401; refreshing once");
            tokens = token_refresh::refresh_for(state, instance.id, tokens.generation, Trigger::reactive).await?;
            refreshed = true;
            continue;
        }
        if reply.status == 429 {
            match vendor_retry_after(&reply.headers) {
                Some(wait) if wait <= MAX_VENDOR_RETRY_WAIT && attempt < IDEMPOTENT_RETRIES => {
                    attempt += 1;
                    tokio::time::sleep(wait).await;
                    continue;
                }
                wait => {
                    return Err(ApiError::RateLimited {
                        message: "The vendor refused the call: rate limit exceeded".into(),
                        retry_after_secs: wait.map_or(1, |wait| wait.as_secs().max(1)),
                    })
                }
            }
        }
        if reply.status >= 500 && request.idempotent() && attempt < IDEMPOTENT_RETRIES {
            attempt += 1;
            tracing::info!(instance_id = instance.id, status = reply.status, attempt, "vendor failed; retrying");
            backoff(attempt).await;
            continue;
        }
        return Ok(reply);
    }
}

/// Sends `request` and returns the vendor's JSON answer (`null` for an empty body), or the
/// vendor's error mapped to the hub's.
pub async fn send_json(
    state: &AppState,
    instance: &InstanceRecord,
    request: &VendorRequest,
) -> Result<Value, ApiError> {
    let reply = send(state, instance, request).await?;
    let parsed: Option<Value> =
        if reply.body.is_empty() { Some(Value::Null) } else { serde_json::from_slice(&reply.body).ok() };
    if (200..300).contains(&reply.status) {
        // A success that is not JSON would map to a record of nulls: a vendor fault, not data.
        return parsed.ok_or_else(|| ApiError::VendorError {
            message: "The vendor's answer was not JSON".into(),
            provider_message: None,
        });
    }
    let json = parsed.unwrap_or(Value::Null);
    Err(vendor_error(reply.status, &json))
}

/// The hub's error for a vendor error answer, with the vendor's own text as `providerMessage`.
pub fn vendor_error(status: u16, body: &Value) -> ApiError {
    let provider_message = vendor_message(body);
    let message = format!("The vendor answered HTTP {status}");
    match status {
        400 | 409 | 422 => ApiError::VendorRejected { message, provider_message },
        401 | 403 => ApiError::Forbidden { message, provider_message },
        404 => ApiError::VendorNotFound { message: "The vendor has no such record".into(), provider_message },
        429 => ApiError::RateLimited { message, retry_after_secs: 1 },
        _ => ApiError::VendorError { message, provider_message },
    }
}

/// The vendor's own error text: REST v2 `{message}`, the gateway's `{fault: {faultstring}}`.
fn vendor_message(body: &Value) -> Option<String> {
    body.get("message").or_else(|| body.pointer("/fault/faultstring")).and_then(Value::as_str).map(str::to_string)
}

async fn transmit(state: &AppState, request: &VendorRequest, tokens: &Usable) -> Result<VendorReply, ApiError> {
    let url = state
        .endpoints
        .api_base
        .join(&request.path)
        .map_err(|_| ApiError::BadRequest("The vendor path is not a valid URL path".into()))?;
    let mut builder = state
        .vendor_http
        .request(request.method.clone(), url)
        .query(&request.query)
        .bearer_auth(tokens.access_token.expose());
    if let Some(body) = &request.body {
        builder = builder.body(body.clone());
        if let Some(content_type) = &request.content_type {
            builder = builder.header(reqwest::header::CONTENT_TYPE, content_type);
        }
    }
    let answer = builder.send().await;
    state.metrics.record_rest_call(answer.as_ref().ok().map(|response| response.status().as_u16()));
    let response = answer.map_err(|error| transport_error(&error))?;
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.bytes().await.map_err(|error| transport_error(&error))?;
    Ok(VendorReply { status, headers, body })
}

/// Trace-log writes in flight at most, per process; a call traced past this is not recorded.
static TRACE_WRITES: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(4);

/// Records one vendor call in the instance's trace log (trace logging on), without making the
/// caller wait for the write; a failed or skipped write is logged and the call goes on.
fn trace(state: &AppState, instance_id: i64, request: &VendorRequest, status: u16, took: Duration) {
    let mut path = format!("/{}", request.path);
    if !request.query.is_empty() {
        path.push('?');
        path.push_str(&serde_urlencoded::to_string(&request.query).unwrap_or_default());
    }
    let call = store::VendorCall {
        at: Utc::now(),
        method: request.method.to_string(),
        path,
        status,
        duration_ms: u32::try_from(took.as_millis()).unwrap_or(u32::MAX),
    };
    // Bounded: trace writes must never take the connections the calls themselves need.
    let Ok(permit) = TRACE_WRITES.try_acquire() else {
        tracing::warn!(instance_id, "trace log busy; a vendor call was not recorded");
        return;
    };
    let store = std::sync::Arc::clone(&state.store);
    tokio::spawn(async move {
        if let Err(error) = store.record_vendor_call(instance_id, &call).await {
            tracing::warn!(instance_id, %error, "recording a traced vendor call failed");
        }
        drop(permit);
    });
}

/// A transport failure: 504 when the vendor did not answer in time, 502 when it could not be
/// reached or broke the connection.
fn transport_error(error: &reqwest::Error) -> ApiError {
    if error.is_timeout() {
        ApiError::VendorTimeout("The vendor did not answer in time".into())
    } else {
        ApiError::VendorError {
            message: "The vendor could not be reached or closed the connection".into(),
            provider_message: None,
        }
    }
}

/// 100 ms, then 300 ms, with up to 50% jitter so that retries from many callers spread out.
async fn backoff(attempt: u32) {
    let base = 100u64 * 3u64.pow(attempt.saturating_sub(1));
    let jitter = rand::random_range(0..=base / 2);
    tokio::time::sleep(Duration::from_millis(base + jitter)).await;
}

/// The vendor's `Retry-After` (seconds) on a 429, if it sent one.
fn vendor_retry_after(headers: &HeaderMap) -> Option<Duration> {
    let text = headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?;
    text.trim().parse::<u64>().ok().map(Duration::from_secs)
}

/// The access token to call with: the stored one, or a fresh one when a proactive refresh is due.
/// An early refresh that failed transiently does not fail a call whose token still works.
async fn usable_token(state: &AppState, instance: &InstanceRecord) -> Result<Usable, ApiError> {
    let stored = instance
        .secrets
        .get(ACCESS_TOKEN_KEY)
        .map(|access_token| Usable { access_token: access_token.clone(), generation: instance.refresh_generation });
    match stored {
        Some(tokens) if !token_due(instance) => Ok(tokens),
        stored => match token_refresh::refresh_for(state, instance.id, instance.refresh_generation, Trigger::proactive)
            .await
        {
            Ok(tokens) => Ok(tokens),
            Err(error @ (ApiError::VendorError { .. } | ApiError::VendorTimeout(_) | ApiError::RateLimited { .. })) => {
                match stored {
                    Some(tokens) if still_valid(instance) => {
                        tracing::warn!(instance_id = instance.id, "early token refresh failed; using the stored token");
                        Ok(tokens)
                    }
                    _ => Err(error),
                }
            }
            Err(error) => Err(error),
        },
    }
}

/// Whether the stored access token has not expired yet (an unknown expiry counts as valid).
fn still_valid(instance: &InstanceRecord) -> bool {
    instance.access_expires_at.is_none_or(|expires_at| expires_at > Utc::now())
}

fn token_due(instance: &InstanceRecord) -> bool {
    let interval = instance
        .configuration
        .get("oauth.user.refresh_interval")
        .and_then(|text| text.parse::<i64>().ok())
        .unwrap_or(DEFAULT_REFRESH_INTERVAL_SECS);
    // `TokenTimes::expires_at: None` means "no access token" (refresh at once). A token whose
    // lifetime the vendor did not state is used until the interval, the refresh-token age or a 401.
    let expires_at =
        instance.secrets.get(ACCESS_TOKEN_KEY).map(|_| instance.access_expires_at.unwrap_or(DateTime::<Utc>::MAX_UTC));
    let times = TokenTimes {
        expires_at,
        refreshed_at: instance.refreshed_at.unwrap_or(instance.created_at),
        refresh_interval: TimeDelta::try_seconds(interval).unwrap_or_default(),
    };
    token_rules::refresh_due(&times, Utc::now()).is_some()
}
