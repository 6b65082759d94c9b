//! `PUT /instances/{id}?reAuthenticate=true`: re-provisions an instance with a new authorization
//! code, e.g. after the vendor rejected its refresh token (`valid: false`).
//!
//! The body is the instance as read (minus its tokens) plus `providerData.code`, as the platforms'
//! documented re-authentication step sends it: `name`, `tags` (replace) and `configuration`
//! changes are applied as `PATCH /instances/{id}` applies them, except that the platform-kept token
//! keys are ignored rather than refused (a read body carries them masked), and values sent back
//! masked keep the stored secret; the name and tags are checked as at creation. The code is
//! exchanged by `platform::provisioning::reauthenticate`, exactly as at creation; only a
//! successful exchange changes anything.
//!
//! Decision where the spec is silent: a `PUT` without `reAuthenticate=true` is a 400 that asks for
//! the flag. `PATCH /instances/{id}` already changes name, tags and configuration; a full
//! replacement that would reset every key not re-sent is not offered.

use axum::extract::{RawQuery, State};
use axum::response::Response;
use domain::{instance_fields, DomainError, Secret};
use serde_json::Value;
use store::InstancePatch;

use crate::auth::PlatformAuth;
use crate::error::ApiError;
use crate::instances::{configuration_changes, instance_id, respond, KeptKeys};
use crate::json_body::JsonBody;
use crate::path_param::PathParam;
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
        patch.name = Some(instance_fields::instance_name(name)?);
    }
    if body.contains_key("tags") {
        patch.tags = Some(instance_fields::tags(body.get("tags"))?);
    }
    configuration_changes(&state, element, body.get("configuration"), KeptKeys::Ignore, &mut patch)?;
    let record = platform::provisioning::reauthenticate(&state.platform, &current, &code, patch).await?;
    respond(&state, &auth, &record)
}
