//! The instance routes (platform auth): create (`POST /instances`, `POST /elements/{keyOrId}/instances`),
//! list, get, patch, delete, enable/disable, and the Junction extensions `PUT /instances/{id}/tokens/refresh`
//! (refresh the vendor tokens now) and `PUT /instances/{id}/token` (issue a new instance token).
//!
//! Also trace logging (`PUT|DELETE /instances/{id}/trace-logging`: while on, the instance's vendor
//! calls are recorded and shown on its console page), and the id-less
//! `PUT|DELETE /instances/enabled` and `/instances/trace-logging`, which act on the instance the
//! `Element` token of a `User, Organization, Element` header names ([`TokenInstance`]). The
//! configuration sub-resource is in [`crate::instance_configuration`], `PUT /instances/{id}`
//! (re-authentication) in [`crate::reauthentication`].
//!
//! Every route acts only on the caller's organization: another organization's instance is a 404.
//! Not built: events (they arrive with the events issue), and the id-less forms on the
//! collection path itself (`GET|PUT|PATCH|DELETE /instances` with an `Element` token): `GET
//! /instances` is the list, and a collection path whose meaning depends on a header part is refused
//! as a footgun; use `/instances/{id}`.

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use domain::elements::Element;
use domain::DomainError;
use domain::{instance_config, instance_fields};
use platform::metrics::Trigger;
use serde_json::Value;
use store::{InstanceId, InstancePatch, InstanceQuery, InstanceRecord, Secret};

use crate::auth::{PlatformAuth, TokenInstance};
use crate::error::ApiError;
use crate::instance_view;
use crate::json_body::JsonBody;
use crate::path_param::PathParam;
use crate::provisioning::{self, ExternalAuthentication, PLATFORM_KEPT};
use crate::state::AppState;
use crate::{instance_configuration, reauthentication};

/// The store's page size cap (`InstanceQuery::page_size`).
const MAX_PAGE_SIZE: u32 = 1000;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(api!("/instances"), post(create).get(list))
        .route(api!("/instances/count"), get(count))
        .route(api!("/elements/{key_or_id}/instances"), post(create_for_element))
        .route(api!("/instances/{id}"), get(read).put(reauthentication::put).patch(patch).delete(delete))
        .route(api!("/instances/{id}/enabled"), put(enable).delete(disable))
        .route(api!("/instances/{id}/trace-logging"), put(trace_on).delete(trace_off))
        .route(api!("/instances/enabled"), put(enable_by_token).delete(disable_by_token))
        .route(api!("/instances/trace-logging"), put(trace_on_by_token).delete(trace_off_by_token))
        .route(api!("/instances/{id}/tokens/refresh"), put(refresh_tokens))
        .route(api!("/instances/{id}/token"), put(reissue_token))
        .merge(instance_configuration::routes())
}

async fn create(
    State(state): State<AppState>,
    auth: PlatformAuth,
    JsonBody(body): JsonBody<Value>,
) -> Result<Response, ApiError> {
    create_instance(&state, &auth, None, &body).await
}

async fn create_for_element(
    State(state): State<AppState>,
    auth: PlatformAuth,
    PathParam(key_or_id): PathParam<String>,
    JsonBody(body): JsonBody<Value>,
) -> Result<Response, ApiError> {
    create_instance(&state, &auth, Some(&key_or_id), &body).await
}

async fn create_instance(
    state: &AppState,
    auth: &PlatformAuth,
    path_element: Option<&str>,
    body: &Value,
) -> Result<Response, ApiError> {
    let request = provisioning::parse(state, path_element, body)?;
    let (element, mode) = (request.element, request.mode);
    let record = platform::provisioning::provision(&state.platform, auth.organization.id, request).await?;
    Ok(Json(instance_view::view(&record, element, auth.user.id, mode.as_str())).into_response())
}

/// The instance `id` of the caller's organization, as JSON.
pub(crate) fn respond(state: &AppState, auth: &PlatformAuth, record: &InstanceRecord) -> Result<Response, ApiError> {
    let element = state.platform.catalog.find(&record.element_key)?;
    Ok(Json(instance_view::view(record, element, auth.user.id, ExternalAuthentication::None.as_str())).into_response())
}

/// `GET /instances/count`: `{"count": N}`, the organization's instances.
async fn count(State(state): State<AppState>, auth: PlatformAuth) -> Result<Response, ApiError> {
    let count = state.platform.store.count_instances(auth.organization.id).await?;
    Ok(Json(serde_json::json!({ "count": count })).into_response())
}

async fn read(
    State(state): State<AppState>,
    auth: PlatformAuth,
    PathParam(id): PathParam<String>,
) -> Result<Response, ApiError> {
    let record = state.platform.store.get_instance(auth.organization.id, instance_id(&id)?).await?;
    respond(&state, &auth, &record)
}

/// `GET /instances?tags[]=a&tags[]=b&searchText=&pageSize=&nextPage=`; the next page's cursor is in
/// `Elements-Next-Page-Token`. Repeated `tags[]` (or `tags`) are parsed by hand: serde's
/// form parsing does not collect repeated keys.
async fn list(
    State(state): State<AppState>,
    auth: PlatformAuth,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let mut query = InstanceQuery::default();
    for (key, value) in url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
        match key.as_ref() {
            "tags[]" | "tags" if !value.is_empty() => query.tags_all_of.push(value.into_owned()),
            "searchText" if !value.is_empty() => query.search_text = Some(value.into_owned()),
            "nextPage" if !value.is_empty() => query.next_page = Some(value.into_owned()),
            "pageSize" => {
                let size = value.parse::<u32>().ok().filter(|size| (1..=MAX_PAGE_SIZE).contains(size));
                query.page_size = size.ok_or_else(|| DomainError::InvalidParameter {
                    name: "pageSize".into(),
                    reason: format!("must be a number from 1 to {MAX_PAGE_SIZE}"),
                })?;
            }
            _ => {}
        }
    }
    let page = state.platform.store.list_instances(auth.organization.id, &query).await?;
    let mut views = Vec::with_capacity(page.items.len());
    for record in &page.items {
        let element = state.platform.catalog.find(&record.element_key)?;
        views.push(instance_view::view(record, element, auth.user.id, ExternalAuthentication::None.as_str()));
    }
    let mut headers = HeaderMap::new();
    if let Some(next) = page.next_page.as_deref().and_then(|next| HeaderValue::from_str(next).ok()) {
        headers.insert("elements-next-page-token", next);
    }
    Ok((headers, Json(views)).into_response())
}

/// `PATCH /instances/{id}`: `name`, `tags` (replace), `configuration` (merged; masked values are
/// left alone; the platform-kept token keys are refused), `disabled`.
async fn patch(
    State(state): State<AppState>,
    auth: PlatformAuth,
    PathParam(id): PathParam<String>,
    JsonBody(body): JsonBody<Value>,
) -> Result<Response, ApiError> {
    let id = instance_id(&id)?;
    let current = state.platform.store.get_instance(auth.organization.id, id).await?;
    let element = state.platform.catalog.find(&current.element_key)?;
    let body = body.as_object().ok_or_else(|| ApiError::BadRequest("The request body must be a JSON object".into()))?;
    let mut patch = InstancePatch::default();
    if let Some(name) = body.get("name").filter(|name| !name.is_null()) {
        patch.name = Some(instance_fields::instance_name(name)?);
    }
    if body.contains_key("tags") {
        patch.tags = Some(instance_fields::tags(body.get("tags"))?);
    }
    if let Some(disabled) = body.get("disabled").filter(|value| !value.is_null()) {
        patch.disabled = Some(disabled.as_bool().ok_or_else(|| invalid("disabled", "must be true or false"))?);
    }
    configuration_changes(&state, element, body.get("configuration"), KeptKeys::Refuse, &mut patch)?;
    let record = state.platform.store.update_instance(auth.organization.id, id, patch).await?;
    crate::instance_events::drop_hooks_if_turned_off(&state, &current, Some(&record)).await;
    respond(&state, &auth, &record)
}

/// What a configuration change does with the platform-kept token keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeptKeys {
    /// A 400 naming the key (`PATCH`).
    Refuse,
    /// Left out silently (re-authentication: the body is the instance as read, minus its tokens).
    Ignore,
}

/// Adds the changes of a `configuration` object to `patch`: each value validated for its key,
/// secrets to the sealed secrets, the rest to the configuration; values sent back masked are left
/// alone.
pub(crate) fn configuration_changes(
    state: &AppState,
    element: &Element,
    configuration: Option<&Value>,
    kept: KeptKeys,
    patch: &mut InstancePatch,
) -> Result<(), ApiError> {
    match configuration {
        None | Some(Value::Null) => Ok(()),
        Some(Value::Object(changes)) => {
            for (key, value) in changes {
                if value.as_str() == Some(instance_config::MASK) || instance_config::is_reserved(key) {
                    continue;
                }
                if PLATFORM_KEPT.contains(&key.as_str()) {
                    match kept {
                        KeptKeys::Refuse => return Err(invalid(key, "is kept by the platform")),
                        KeptKeys::Ignore => continue,
                    }
                }
                set_value(state, element, key, value, patch)?;
            }
            Ok(())
        }
        Some(_) => Err(invalid("configuration", "must be an object of strings")),
    }
}

/// Validates one value for `key` and puts it in `patch` (sealed when the key holds a secret).
pub(crate) fn set_value(
    state: &AppState,
    element: &Element,
    key: &str,
    value: &Value,
    patch: &mut InstancePatch,
) -> Result<(), ApiError> {
    let value = instance_config::validate_value(element, key, value, &state.platform.policy)?;
    crate::instance_events::check_event_setting(state, &element.key, key, value.as_deref())?;
    if element.is_secret(key) {
        patch.secrets.insert(key.to_string(), value.map(Secret::new));
    } else {
        patch.configuration.insert(key.to_string(), value);
    }
    Ok(())
}

async fn delete(
    State(state): State<AppState>,
    auth: PlatformAuth,
    PathParam(id): PathParam<String>,
) -> Result<Response, ApiError> {
    let id = instance_id(&id)?;
    let current = state.platform.store.get_instance(auth.organization.id, id).await?;
    crate::instance_events::drop_hooks_if_turned_off(&state, &current, None).await;
    state.platform.store.delete_instance(auth.organization.id, id).await?;
    tracing::info!(instance_id = id.get(), "instance deleted");
    Ok(Json(serde_json::json!({"id": id})).into_response())
}

async fn enable(
    State(state): State<AppState>,
    auth: PlatformAuth,
    PathParam(id): PathParam<String>,
) -> Result<Response, ApiError> {
    set_disabled(&state, &auth, instance_id(&id)?, false).await
}

async fn disable(
    State(state): State<AppState>,
    auth: PlatformAuth,
    PathParam(id): PathParam<String>,
) -> Result<Response, ApiError> {
    set_disabled(&state, &auth, instance_id(&id)?, true).await
}

async fn enable_by_token(State(state): State<AppState>, caller: TokenInstance) -> Result<Response, ApiError> {
    set_disabled(&state, &caller.auth, caller.instance.id, false).await
}

async fn disable_by_token(State(state): State<AppState>, caller: TokenInstance) -> Result<Response, ApiError> {
    set_disabled(&state, &caller.auth, caller.instance.id, true).await
}

async fn set_disabled(
    state: &AppState,
    auth: &PlatformAuth,
    id: InstanceId,
    disabled: bool,
) -> Result<Response, ApiError> {
    let patch = InstancePatch { disabled: Some(disabled), ..InstancePatch::default() };
    let record = state.platform.store.update_instance(auth.organization.id, id, patch).await?;
    respond(state, auth, &record)
}

async fn trace_on(
    State(state): State<AppState>,
    auth: PlatformAuth,
    PathParam(id): PathParam<String>,
) -> Result<Response, ApiError> {
    set_trace_logging(&state, &auth, instance_id(&id)?, true).await
}

async fn trace_off(
    State(state): State<AppState>,
    auth: PlatformAuth,
    PathParam(id): PathParam<String>,
) -> Result<Response, ApiError> {
    set_trace_logging(&state, &auth, instance_id(&id)?, false).await
}

async fn trace_on_by_token(State(state): State<AppState>, caller: TokenInstance) -> Result<Response, ApiError> {
    set_trace_logging(&state, &caller.auth, caller.instance.id, true).await
}

async fn trace_off_by_token(State(state): State<AppState>, caller: TokenInstance) -> Result<Response, ApiError> {
    set_trace_logging(&state, &caller.auth, caller.instance.id, false).await
}

/// Sets `traceLoggingEnabled`; a body (the platforms' optional `config`) is ignored. While it is on,
/// `hub::vendor` records each vendor call (method, path, status, time) in the instance's trace log.
async fn set_trace_logging(
    state: &AppState,
    auth: &PlatformAuth,
    id: InstanceId,
    on: bool,
) -> Result<Response, ApiError> {
    let patch = InstancePatch { trace_logging: Some(on), ..InstancePatch::default() };
    let record = state.platform.store.update_instance(auth.organization.id, id, patch).await?;
    tracing::info!(instance_id = record.id.get(), trace_logging = on, "instance trace logging set");
    respond(state, auth, &record)
}

/// Refreshes now, through the same critical section as the hub calls; answers the instance.
async fn refresh_tokens(
    State(state): State<AppState>,
    auth: PlatformAuth,
    PathParam(id): PathParam<String>,
) -> Result<Response, ApiError> {
    let id = instance_id(&id)?;
    let current = state.platform.store.get_instance(auth.organization.id, id).await?;
    platform::tokens::refresh(&state.platform, id, current.refresh_generation, Trigger::manual).await?;
    let record = state.platform.store.get_instance(auth.organization.id, id).await?;
    respond(&state, &auth, &record)
}

/// Issues a new instance token (the old one stops working at once); answers the instance with it.
async fn reissue_token(
    State(state): State<AppState>,
    auth: PlatformAuth,
    PathParam(id): PathParam<String>,
) -> Result<Response, ApiError> {
    let id = instance_id(&id)?;
    state.platform.store.reissue_instance_token(auth.organization.id, id).await?;
    tracing::info!(instance_id = id.get(), "instance token reissued");
    let record = state.platform.store.get_instance(auth.organization.id, id).await?;
    respond(&state, &auth, &record)
}

pub(crate) fn instance_id(text: &str) -> Result<InstanceId, ApiError> {
    InstanceId::parse(text).ok_or_else(|| {
        ApiError::NotFound(format!("No instance found with id '{}'", text.chars().take(32).collect::<String>()))
    })
}

pub(crate) fn invalid(name: &str, reason: &str) -> ApiError {
    DomainError::InvalidParameter { name: name.into(), reason: reason.into() }.into()
}
