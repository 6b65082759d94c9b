//! The instance configuration sub-resource (platform auth): `GET /instances/{id}/configuration`,
//! `GET|PATCH /instances/{id}/configuration/{configId}`, and their id-less forms
//! `/instances/configuration[/{configId}]`, which act on the instance named by the `Element` token
//! of a `User, Organization, Element` header.
//!
//! An entry is the element's configuration entry as `GET /elements/{keyOrId}/configuration` shows
//! it (`id`, `key`, `name`, `description`, `type`, `required`, `hideFromConsole`, `active`, ...) plus
//! `propertyValue`: the instance's value, `"********"` for a secret (the platform-kept OAuth tokens
//! included), `null` when the key is not set. Decisions where the spec is silent:
//! - every entry the element declares is listed, set or not, in the element's order;
//! - `configId` is the entry's numeric `id` from the element catalog, or its `key`;
//! - PATCH needs `propertyValue` in the body (other fields of the entry are ignored); `null` or a
//!   blank string resets the key to its default, or clears it when it has none (a required key
//!   cannot be cleared: 400); a secret sent back as `"********"` is left as it is;
//! - the platform-kept keys (`oauth.user.token`, `oauth.user.refresh_token`,
//!   `oauth.user.refresh_time`) cannot be patched: 400 naming the key (re-authenticate instead).

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use domain::elements::{ConfigEntry, ConfigType, Element};
use domain::instance_config::MASK;
use domain::DomainError;
use serde_json::Value;
use store::{InstancePatch, InstanceRecord};

use crate::auth::{PlatformAuth, TokenInstance};
use crate::error::ApiError;
use crate::instances::{instance_id, invalid, set_value};
use crate::json_body::JsonBody;
use crate::path_param::PathParam;
use crate::provisioning::PLATFORM_KEPT;
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(api!("/instances/{id}/configuration"), get(list))
        .route(api!("/instances/{id}/configuration/{config_id}"), get(read).patch(patch))
        .route(api!("/instances/configuration"), get(list_by_token))
        .route(api!("/instances/configuration/{config_id}"), get(read_by_token).patch(patch_by_token))
}

async fn list(
    State(state): State<AppState>,
    auth: PlatformAuth,
    PathParam(id): PathParam<String>,
) -> Result<Response, ApiError> {
    let record = state.platform.store.get_instance(auth.organization.id, instance_id(&id)?).await?;
    list_entries(&state, &record)
}

async fn list_by_token(State(state): State<AppState>, caller: TokenInstance) -> Result<Response, ApiError> {
    list_entries(&state, &caller.instance)
}

fn list_entries(state: &AppState, record: &InstanceRecord) -> Result<Response, ApiError> {
    let element = state.platform.catalog.find(&record.element_key)?;
    let entries: Vec<Value> = element.configuration.iter().map(|entry| entry_view(entry, record)).collect();
    Ok(Json(entries).into_response())
}

async fn read(
    State(state): State<AppState>,
    auth: PlatformAuth,
    PathParam((id, config_id)): PathParam<(String, String)>,
) -> Result<Response, ApiError> {
    let record = state.platform.store.get_instance(auth.organization.id, instance_id(&id)?).await?;
    read_entry(&state, &record, &config_id)
}

async fn read_by_token(
    State(state): State<AppState>,
    caller: TokenInstance,
    PathParam(config_id): PathParam<String>,
) -> Result<Response, ApiError> {
    read_entry(&state, &caller.instance, &config_id)
}

fn read_entry(state: &AppState, record: &InstanceRecord, config_id: &str) -> Result<Response, ApiError> {
    let element = state.platform.catalog.find(&record.element_key)?;
    Ok(Json(entry_view(find_entry(element, config_id)?, record)).into_response())
}

async fn patch(
    State(state): State<AppState>,
    auth: PlatformAuth,
    PathParam((id, config_id)): PathParam<(String, String)>,
    JsonBody(body): JsonBody<Value>,
) -> Result<Response, ApiError> {
    let current = state.platform.store.get_instance(auth.organization.id, instance_id(&id)?).await?;
    patch_entry(&state, &auth, current, &config_id, &body).await
}

async fn patch_by_token(
    State(state): State<AppState>,
    caller: TokenInstance,
    PathParam(config_id): PathParam<String>,
    JsonBody(body): JsonBody<Value>,
) -> Result<Response, ApiError> {
    patch_entry(&state, &caller.auth, caller.instance, &config_id, &body).await
}

async fn patch_entry(
    state: &AppState,
    auth: &PlatformAuth,
    current: InstanceRecord,
    config_id: &str,
    body: &Value,
) -> Result<Response, ApiError> {
    let element = state.platform.catalog.find(&current.element_key)?;
    let entry = find_entry(element, config_id)?;
    let body = body.as_object().ok_or_else(|| ApiError::BadRequest("The request body must be a JSON object".into()))?;
    let value = body.get("propertyValue").ok_or_else(|| DomainError::MissingParameter("propertyValue".into()))?;
    if PLATFORM_KEPT.contains(&entry.key.as_str()) {
        return Err(invalid(
            &entry.key,
            "is kept by the platform; re-authenticate with PUT /instances/{id}?reAuthenticate=true",
        ));
    }
    if value.as_str() == Some(MASK) && element.is_secret(&entry.key) {
        return Ok(Json(entry_view(entry, &current)).into_response());
    }
    let mut patch = InstancePatch::default();
    set_value(state, element, &entry.key, value, &mut patch)?;
    let record = state.platform.store.update_instance(auth.organization.id, current.id, patch).await?;
    crate::instance_events::drop_hooks_if_turned_off(state, &current, Some(&record)).await;
    tracing::info!(instance_id = record.id.get(), key = %entry.key, "instance configuration changed");
    Ok(Json(entry_view(entry, &record)).into_response())
}

/// The entry named by `config_id`: its catalog id, or its key.
fn find_entry<'a>(element: &'a Element, config_id: &str) -> Result<&'a ConfigEntry, ApiError> {
    let by_id = config_id.parse::<u64>().ok().and_then(|id| element.configuration.iter().find(|entry| entry.id == id));
    by_id.or_else(|| element.config_entry(config_id)).ok_or_else(|| {
        ApiError::NotFound(format!(
            "No configuration entry '{}' for element {}",
            config_id.chars().take(64).collect::<String>(),
            element.key
        ))
    })
}

/// The catalog entry with the instance's value as `propertyValue` (secrets masked, unset `null`).
fn entry_view(entry: &ConfigEntry, record: &InstanceRecord) -> Value {
    // A sealed value, or anything typed PASSWORD wherever it is stored, goes out masked.
    let value = if record.secrets.get(&entry.key).is_some() {
        Some(MASK.to_string())
    } else {
        let masked = entry.kind == ConfigType::Password;
        record.configuration.get(&entry.key).map(|value| if masked { MASK.to_string() } else { value.clone() })
    };
    let mut view = serde_json::to_value(entry).unwrap_or_else(|_| Value::Object(Default::default()));
    if let Value::Object(fields) = &mut view {
        fields.insert("propertyValue".into(), value.map_or(Value::Null, Value::String));
    }
    view
}
