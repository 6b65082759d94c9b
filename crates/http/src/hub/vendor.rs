//! The first slice of the hub API: `GET /hubs/{hub}/contacts`, proving an instance's tokens work
//! end to end. The hub segment is not checked (the instance token decides the element).
//!
//! Returns the vendor's REST v2 contacts as they are: mapping them to the platforms' field names
//! (`Id`, `FirstName`, ...) is the next issue's declarative mapping engine. The vendor call lives
//! here for now because `connector` has no REST client yet; it moves there with the rate limiter.
//!
//! Token lifecycle per call: a proactive refresh when `domain::token_rules::refresh_due`, then the
//! call; on a vendor 401, one reactive refresh and one retry (`reactive_refresh_allowed`).

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, TimeDelta, Utc};
use domain::token_rules::{self, TokenTimes};
use domain::DomainError;
use serde::Deserialize;
use serde_json::Value;
use store::{InstanceRecord, ACCESS_TOKEN_KEY};

use crate::auth::HubAuth;
use crate::error::ApiError;
use crate::json_body::QueryParams;
use crate::metrics::Trigger;
use crate::state::AppState;
use crate::token_refresh::{self, Usable};

/// The hub's default page size; the vendor caps its own at 1,000.
const DEFAULT_PAGE_SIZE: u32 = 200;
const MAX_VENDOR_PAGE_SIZE: u32 = 1000;
/// `oauth.user.refresh_interval` when unset or unreadable (the element's declared default).
const DEFAULT_REFRESH_INTERVAL_SECS: i64 = 3600;

pub fn routes() -> Router<AppState> {
    Router::new().route("/hubs/{hub}/contacts", get(list_contacts))
}

/// The list parameters this slice understands.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListParams {
    /// Kept as text so that a bad value is reported by name.
    page_size: Option<String>,
    next_page: Option<String>,
}

async fn list_contacts(
    State(state): State<AppState>,
    HubAuth { instance }: HubAuth,
    QueryParams(params): QueryParams<ListParams>,
) -> Result<Response, ApiError> {
    let page_size = match params.page_size.as_deref().map(str::trim).filter(|size| !size.is_empty()) {
        None => DEFAULT_PAGE_SIZE,
        Some(text) => text.parse::<u32>().ok().filter(|size| *size >= 1).ok_or_else(|| {
            DomainError::InvalidParameter { name: "pageSize".into(), reason: "must be a positive number".into() }
        })?,
    };
    // The vendor pages at most 1,000 at a time; paging Junction's larger pages over it comes with
    // the hub's list engine.
    let page_size = page_size.min(MAX_VENDOR_PAGE_SIZE).to_string();
    let mut query = vec![("page_size", page_size)];
    if let Some(token) = params.next_page.filter(|token| !token.is_empty()) {
        query.push(("page_token", token));
    }
    let body = call_vendor(&state, &instance, "v2/contacts", &query).await?;
    let contacts = body.get("contacts").cloned().unwrap_or_else(|| Value::Array(Vec::new()));
    let mut headers = HeaderMap::new();
    headers.insert("elements-element-instance-id", HeaderValue::from(instance.id));
    if let Some(next) = body.get("next_page_token").and_then(Value::as_str).filter(|next| !next.is_empty()) {
        if let Ok(value) = HeaderValue::from_str(next) {
            headers.insert("elements-next-page-token", value);
        }
    }
    Ok((headers, Json(contacts)).into_response())
}

/// A vendor GET of `path` (under the REST base) with the instance's access token, refreshed
/// proactively when due and reactively once on a 401.
async fn call_vendor(
    state: &AppState,
    instance: &InstanceRecord,
    path: &str,
    query: &[(&str, String)],
) -> Result<Value, ApiError> {
    let stored = instance
        .secrets
        .get(ACCESS_TOKEN_KEY)
        .map(|access_token| Usable { access_token: access_token.clone(), generation: instance.refresh_generation });
    let mut tokens = match stored {
        Some(tokens) if !token_due(instance) => tokens,
        stored => match token_refresh::refresh_for(state, instance.id, instance.refresh_generation, Trigger::proactive)
            .await
        {
            Ok(tokens) => tokens,
            // An early refresh that failed transiently does not fail a call whose token still works:
            // the stored one is used until it expires (a vendor 401 still triggers a reactive refresh).
            Err(error @ (ApiError::VendorError { .. } | ApiError::VendorTimeout(_))) => match stored {
                Some(tokens) if still_valid(instance) => {
                    tracing::warn!(instance_id = instance.id, "early token refresh failed; using the stored token");
                    tokens
                }
                _ => return Err(error),
            },
            Err(error) => return Err(error),
        },
    };
    let mut refreshed = false;
    loop {
        let response = send_get(state, path, query, &tokens).await?;
        let status = response.status().as_u16();
        if token_rules::reactive_refresh_allowed(status, refreshed) {
            tracing::info!(instance_id = instance.id, "vendor answered 401; refreshing once");
            tokens = token_refresh::refresh_for(state, instance.id, tokens.generation, Trigger::reactive).await?;
            refreshed = true;
            continue;
        }
        return vendor_answer(status, response).await;
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

async fn send_get(
    state: &AppState,
    path: &str,
    query: &[(&str, String)],
    tokens: &Usable,
) -> Result<reqwest::Response, ApiError> {
    let url = state.endpoints.api_base.join(path).map_err(|_| ApiError::BadRequest("Invalid vendor path".into()))?;
    let answer = state.vendor_http.get(url).query(query).bearer_auth(tokens.access_token.expose()).send().await;
    state.metrics.record_rest_call(answer.as_ref().ok().map(|response| response.status().as_u16()));
    answer.map_err(|error| {
        if error.is_timeout() {
            ApiError::VendorTimeout("The vendor did not answer in time".into())
        } else {
            ApiError::VendorError { message: "The vendor could not be reached".into(), provider_message: None }
        }
    })
}

/// The vendor's answer as JSON, or its error mapped to ours with the vendor's text as
/// `providerMessage`.
async fn vendor_answer(status: u16, response: reqwest::Response) -> Result<Value, ApiError> {
    let body = response.text().await.map_err(|_| ApiError::VendorError {
        message: "The vendor's answer was cut off".into(),
        provider_message: None,
    })?;
    let json: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    if (200..300).contains(&status) {
        return Ok(json);
    }
    let provider_message = vendor_message(&json);
    let message = format!("The vendor answered HTTP {status}");
    Err(match status {
        400 | 422 => ApiError::VendorRejected { message, provider_message },
        401 | 403 => ApiError::Forbidden { message, provider_message },
        404 => ApiError::NotFound(message),
        429 => ApiError::RateLimited(message),
        _ => ApiError::VendorError { message, provider_message },
    })
}

/// The vendor's own error text: REST v2 `{message}`, the gateway's `{fault: {faultstring}}`.
fn vendor_message(body: &Value) -> Option<String> {
    body.get("message").or_else(|| body.pointer("/fault/faultstring")).and_then(Value::as_str).map(str::to_string)
}
