//! `PUT /instances/{id}?reAuthenticate=true`: re-provisions an instance with a new authorization
//! code, e.g. after the vendor rejected its refresh token (`valid: false`).
//!
//! The body is the instance as read (minus its tokens) plus `providerData.code`, as the platforms'
//! documented re-authentication step sends it: `name`, `tags` (replace) and `configuration`
//! changes are applied as `PATCH /instances/{id}` applies them, except that the platform-kept token
//! keys are ignored rather than refused (a read body carries them masked), and values sent back
//! masked keep the stored secret. The code is exchanged exactly as at creation, with the client
//! credentials and callback URL the instance will have after the change; only a successful exchange
//! changes anything: the new token pair, `valid: true`, and the body's changes are stored together
//! under the row lock (the instance token stays the same).
//!
//! Decision where the spec is silent: a `PUT` without `reAuthenticate=true` is a 400 that asks for
//! the flag. `PATCH /instances/{id}` already changes name, tags and configuration; a full
//! replacement that would reset every key not re-sent is not offered.

use axum::extract::{RawQuery, State};
use axum::response::Response;
use chrono::Utc;
use connector::oauth::ClientCredentials;
use domain::{DomainError, Secret};
use serde_json::Value;
use store::{InstancePatch, InstanceRecord, ACCESS_TOKEN_KEY, REFRESH_TOKEN_KEY};

use crate::auth::PlatformAuth;
use crate::error::ApiError;
use crate::instances::{configuration_changes, instance_id, invalid, respond, KeptKeys};
use crate::json_body::JsonBody;
use crate::path_param::PathParam;
use crate::provisioning::{self, ExternalAuthentication};
use crate::state::AppState;

/// `PUT /instances/{id}`.
pub async fn put(
    State(state): State<AppState>,
    auth: PlatformAuth,
    PathParam(id): PathParam<String>,
    RawQuery(raw): RawQuery,
    JsonBody(body): JsonBody<Value>,
) -> Result<Response, ApiError> {
    let id = instance_id(&id)?;
    let current = state.platform.store.get_instance(auth.organization.id, id).await?;
    let flag = url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
        .any(|(key, value)| key == "reAuthenticate" && value.eq_ignore_ascii_case("true"));
    if !flag {
        return Err(ApiError::BadRequest(format!(
            "PUT /instances/{id} re-authenticates the instance: add ?reAuthenticate=true and providerData.code \
             to the request; use PATCH /instances/{id} to change its name, tags or configuration"
        )));
    }
    let element = state.platform.catalog.find(&current.element_key)?;
    let body = body.as_object().ok_or_else(|| ApiError::BadRequest("The request body must be a JSON object".into()))?;
    let code = match body.get("providerData").and_then(|data| data.get("code")) {
        Some(Value::String(code)) if !code.trim().is_empty() => Secret::new(code.trim()),
        _ => return Err(DomainError::MissingParameter("providerData.code".into()).into()),
    };

    let mut patch = InstancePatch::default();
    if let Some(name) = body.get("name").filter(|name| !name.is_null()) {
        let name = name.as_str().map(str::trim).filter(|name| !name.is_empty());
        patch.name = Some(name.ok_or_else(|| invalid("name", "must be a non-empty string"))?.to_string());
    }
    if body.contains_key("tags") {
        patch.tags = Some(provisioning::tags(body.get("tags"))?);
    }
    configuration_changes(&state, element, body.get("configuration"), KeptKeys::Ignore, &mut patch)?;

    let client = ClientCredentials {
        client_id: effective(&current, &patch, "oauth.api.key").unwrap_or_default(),
        client_secret: Secret::new(effective(&current, &patch, "oauth.api.secret").unwrap_or_default()),
    };
    let redirect_uri = effective(&current, &patch, "oauth.callback.url").unwrap_or_default();
    let outcome = state.platform.oauth.exchange_code(&client, &code, &redirect_uri).await;
    state.platform.metrics.record_token_call(&outcome);
    let grant = provisioning::granted(outcome, ExternalAuthentication::None)?;
    let Some(refresh_token) = grant.refresh_token.clone() else {
        return Err(ApiError::VendorError {
            message: "The vendor issued no refresh token; the instance was not re-authenticated".into(),
            provider_message: None,
        });
    };
    patch.secrets.insert(ACCESS_TOKEN_KEY.to_string(), Some(grant.access_token.clone()));
    patch.secrets.insert(REFRESH_TOKEN_KEY.to_string(), Some(refresh_token));
    patch.valid = Some(true);
    patch.access_expires_at = Some(grant.expires_at(Utc::now()));
    let record = state.platform.store.update_instance(auth.organization.id, id, patch).await?;
    // The new pair is stored; a failed audit write is logged rather than failing the call.
    if let Err(error) = state.platform.store.record_token_event(id, "reauthenticate", "ok", "authorization code exchanged").await
    {
        tracing::warn!(instance_id = id, error = %error, "token event not recorded");
    }
    tracing::info!(instance_id = id, "instance re-authenticated");
    respond(&state, &auth, &record)
}

/// The value `key` will have once `patch` is applied to `current` (a secret in clear: for the
/// vendor call only).
fn effective(current: &InstanceRecord, patch: &InstancePatch, key: &str) -> Option<String> {
    if let Some(change) = patch.secrets.get(key) {
        return change.as_ref().map(|secret| secret.expose().to_string());
    }
    if let Some(change) = patch.configuration.get(key) {
        return change.clone();
    }
    let sealed = current.secrets.get(key).map(|secret| secret.expose().to_string());
    sealed.or_else(|| current.configuration.get(key).cloned())
}
