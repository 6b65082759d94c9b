//! The event log of an instance (platform auth): `GET /instances/{id}/events` (newest first, or
//! with `after` oldest first from there: the pull mode), `GET /instances/{id}/events/{eventId}`,
//! and the Junction extensions `PUT /instances/{id}/events/poll[?reconcile=true]` (poll now, or read
//! every object in full now; answers once that poll is committed), `PUT /instances/{id}/events/backfill?since=…`, `PUT
//! /instances/{id}/events/{eventId}/retry` and `PUT /instances/{id}/events/retry` (every FAILED
//! one). Each also without the id, for the instance an `Element` token names (`/instances/events…`).
//!
//! Another organization's instance, and another instance's event, are 404s.

use std::collections::BTreeMap;

use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use axum::{Json, Router};
use chrono::{DateTime, SecondsFormat, Utc};
use platform::events::{self, PollMode, PollReport};
use serde_json::{json, Value};
use store::{EventQuery, EventStatus, InstanceRecord, StoredEvent};

use crate::auth::{PlatformAuth, TokenInstance};
use crate::error::ApiError;
use crate::instances::instance_id;
use crate::path_param::PathParam;
use crate::state::AppState;

/// The page size of the event log when none is asked for, and its cap.
const DEFAULT_PAGE_SIZE: u32 = 100;
const MAX_PAGE_SIZE: u32 = 1000;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(api!("/instances/{id}/events"), get(list))
        .route(api!("/instances/events"), get(list_by_token))
        .route(api!("/instances/{id}/events/poll"), put(poll))
        .route(api!("/instances/events/poll"), put(poll_by_token))
        .route(api!("/instances/{id}/events/backfill"), put(backfill))
        .route(api!("/instances/events/backfill"), put(backfill_by_token))
        .route(api!("/instances/{id}/events/retry"), put(retry_failed))
        .route(api!("/instances/events/retry"), put(retry_failed_by_token))
        .route(api!("/instances/{id}/events/{event_id}"), get(read))
        .route(api!("/instances/events/{event_id}"), get(read_by_token))
        .route(api!("/instances/{id}/events/{event_id}/retry"), put(retry))
        .route(api!("/instances/events/{event_id}/retry"), put(retry_by_token))
}

/// The caller's instance `id` (404 for another organization's).
async fn instance(state: &AppState, auth: &PlatformAuth, id: &str) -> Result<InstanceRecord, ApiError> {
    Ok(state.platform.store.get_instance(auth.organization.id, instance_id(id)?).await?)
}

async fn list(
    State(state): State<AppState>,
    auth: PlatformAuth,
    PathParam(id): PathParam<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    list_of(&state, &instance(&state, &auth, &id).await?, query.as_deref()).await
}

async fn list_by_token(
    State(state): State<AppState>,
    caller: TokenInstance,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    list_of(&state, &caller.instance, query.as_deref()).await
}

async fn list_of(state: &AppState, instance: &InstanceRecord, query: Option<&str>) -> Result<Response, ApiError> {
    let query = event_query(query)?;
    let events = state.platform.store.list_events(instance.id, &query).await?;
    Ok(Json(events.iter().map(event_view).collect::<Vec<_>>()).into_response())
}

/// Parses the log's query: `status`, `objectType`, `from`, `to` (ISO 8601), `after` (an event id)
/// and `pageSize` (1 to 1000). Anything else is a 400 naming it.
fn event_query(raw: Option<&str>) -> Result<EventQuery, ApiError> {
    let pairs: BTreeMap<String, String> = serde_urlencoded::from_str(raw.unwrap_or_default())
        .map_err(|_| ApiError::BadRequest("The query string is not valid form encoding".into()))?;
    let bad = |name: &str, what: &str| ApiError::BadRequest(format!("Invalid parameter '{name}': {what}"));
    let time = |name: &str, text: &str| {
        DateTime::parse_from_rfc3339(text)
            .map(|at| at.with_timezone(&Utc))
            .map_err(|_| bad(name, "expected an ISO 8601 date-time such as 2026-01-31T00:00:00Z"))
    };
    let mut query = EventQuery { limit: DEFAULT_PAGE_SIZE, ..EventQuery::default() };
    for (name, value) in &pairs {
        match name.as_str() {
            "status" => {
                // Exactly as the log writes them: a document can then say which values there are.
                let status = EventStatus::parse(value).filter(|status| status.as_str() == value);
                query.status = Some(status.ok_or_else(|| bad(name, "expected NEW, DISPATCHED, NOTIFIED or FAILED"))?)
            }
            "objectType" => query.object_type = Some(value.clone()).filter(|text| !text.is_empty()),
            "from" => query.from = Some(time(name, value)?),
            "to" => query.to = Some(time(name, value)?),
            "after" => {
                let after = value.parse().ok().filter(|id: &i64| *id >= 0);
                query.after = Some(after.ok_or_else(|| bad(name, "expected an event id (0 or more)"))?)
            }
            "pageSize" => {
                query.limit = value
                    .parse()
                    .ok()
                    .filter(|size| (1..=MAX_PAGE_SIZE).contains(size))
                    .ok_or_else(|| bad(name, "expected a number from 1 to 1000"))?
            }
            other => return Err(ApiError::BadRequest(format!("Unknown parameter '{other}'"))),
        }
    }
    Ok(query)
}

async fn read(
    State(state): State<AppState>,
    auth: PlatformAuth,
    PathParam((id, event_id)): PathParam<(String, String)>,
) -> Result<Response, ApiError> {
    read_of(&state, &instance(&state, &auth, &id).await?, &event_id).await
}

async fn read_by_token(
    State(state): State<AppState>,
    caller: TokenInstance,
    PathParam(event_id): PathParam<String>,
) -> Result<Response, ApiError> {
    read_of(&state, &caller.instance, &event_id).await
}

async fn read_of(state: &AppState, instance: &InstanceRecord, event_id: &str) -> Result<Response, ApiError> {
    let event = state.platform.store.get_event(instance.id, event_id_of(event_id)?).await.map_err(not_found)?;
    Ok(Json(event_view(&event)).into_response())
}

fn event_id_of(text: &str) -> Result<i64, ApiError> {
    text.parse().ok().filter(|id| *id > 0).ok_or_else(|| {
        ApiError::BadRequest(format!("Invalid event id '{}'", text.chars().take(40).collect::<String>()))
    })
}

fn not_found(error: store::StoreError) -> ApiError {
    match error {
        store::StoreError::NotFound => ApiError::NotFound("No event found with this id for this instance".into()),
        other => other.into(),
    }
}

async fn poll(
    State(state): State<AppState>,
    auth: PlatformAuth,
    PathParam(id): PathParam<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let mode = poll_mode(query.as_deref())?;
    poll_of(&state, &instance(&state, &auth, &id).await?, mode).await
}

async fn poll_by_token(
    State(state): State<AppState>,
    caller: TokenInstance,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    poll_of(&state, &caller.instance, poll_mode(query.as_deref())?).await
}

/// `reconcile=true` reads every object in full now (deletes are found); without it the poll reads
/// what changed.
fn poll_mode(raw: Option<&str>) -> Result<PollMode, ApiError> {
    let pairs: BTreeMap<String, String> = serde_urlencoded::from_str(raw.unwrap_or_default())
        .map_err(|_| ApiError::BadRequest("The query string is not valid form encoding".into()))?;
    if let Some(other) = pairs.keys().find(|name| *name != "reconcile") {
        return Err(ApiError::BadRequest(format!("Unknown parameter '{other}'")));
    }
    match pairs.get("reconcile").map(String::as_str) {
        None | Some("false") => Ok(PollMode::Regular),
        Some("true") => Ok(PollMode::Reconcile),
        Some(_) => Err(ApiError::BadRequest("Invalid parameter 'reconcile': expected true or false".into())),
    }
}

async fn backfill(
    State(state): State<AppState>,
    auth: PlatformAuth,
    PathParam(id): PathParam<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let since = backfill_since(query.as_deref())?;
    poll_of(&state, &instance(&state, &auth, &id).await?, PollMode::Backfill(since)).await
}

async fn backfill_by_token(
    State(state): State<AppState>,
    caller: TokenInstance,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let since = backfill_since(query.as_deref())?;
    poll_of(&state, &caller.instance, PollMode::Backfill(since)).await
}

/// The `since` of a backfill: required, an ISO 8601 date-time.
fn backfill_since(raw: Option<&str>) -> Result<DateTime<Utc>, ApiError> {
    let pairs: BTreeMap<String, String> = serde_urlencoded::from_str(raw.unwrap_or_default())
        .map_err(|_| ApiError::BadRequest("The query string is not valid form encoding".into()))?;
    if let Some(other) = pairs.keys().find(|name| *name != "since") {
        return Err(ApiError::BadRequest(format!("Unknown parameter '{other}'")));
    }
    let text = pairs
        .get("since")
        .ok_or_else(|| ApiError::BadRequest("Missing parameter 'since' (an ISO 8601 date-time)".into()))?;
    // A time in the future is no error: nothing has changed since then.
    let since = DateTime::parse_from_rfc3339(text).map_err(|_| {
        ApiError::BadRequest(
            "Invalid parameter 'since': expected an ISO 8601 date-time such as 2026-01-31T00:00:00Z".into(),
        )
    })?;
    Ok(since.with_timezone(&Utc))
}

async fn poll_of(state: &AppState, instance: &InstanceRecord, mode: PollMode) -> Result<Response, ApiError> {
    if instance.disabled {
        return Err(ApiError::Forbidden { message: "This instance is disabled".into(), provider_message: None });
    }
    let report: PollReport = events::poll_now(&state.platform, instance, mode).await?;
    let objects: Vec<Value> = report
        .objects
        .iter()
        .map(|(name, read, complete)| json!({ "objectType": name, "recordsRead": read, "fullRead": complete }))
        .collect();
    Ok(Json(json!({
        "objects": objects,
        "events": report.events.iter().map(event_view).collect::<Vec<_>>(),
    }))
    .into_response())
}

async fn retry(
    State(state): State<AppState>,
    auth: PlatformAuth,
    PathParam((id, event_id)): PathParam<(String, String)>,
) -> Result<Response, ApiError> {
    retry_of(&state, &instance(&state, &auth, &id).await?, &event_id).await
}

async fn retry_by_token(
    State(state): State<AppState>,
    caller: TokenInstance,
    PathParam(event_id): PathParam<String>,
) -> Result<Response, ApiError> {
    retry_of(&state, &caller.instance, &event_id).await
}

/// Sends one notification again, whatever its status; answers it as it now is (NEW, due now).
async fn retry_of(state: &AppState, instance: &InstanceRecord, event_id: &str) -> Result<Response, ApiError> {
    let event_id = event_id_of(event_id)?;
    if state.platform.store.retry_events(instance.id, Some(event_id)).await? == 0 {
        return Err(ApiError::NotFound("No event found with this id for this instance".into()));
    }
    read_of(state, instance, &event_id.to_string()).await
}

async fn retry_failed(
    State(state): State<AppState>,
    auth: PlatformAuth,
    PathParam(id): PathParam<String>,
) -> Result<Response, ApiError> {
    retry_failed_of(&state, &instance(&state, &auth, &id).await?).await
}

async fn retry_failed_by_token(State(state): State<AppState>, caller: TokenInstance) -> Result<Response, ApiError> {
    retry_failed_of(&state, &caller.instance).await
}

async fn retry_failed_of(state: &AppState, instance: &InstanceRecord) -> Result<Response, ApiError> {
    let retried = state.platform.store.retry_events(instance.id, None).await?;
    Ok(Json(json!({ "retried": retried })).into_response())
}

/// Checks the event settings a configuration write sets, beyond the domain's own checks: the
/// callback URL against the operator's callback policy, and the poller configuration against the
/// element's objects. A 400 names the key.
pub(crate) fn check_event_setting(
    state: &AppState,
    element_key: &str,
    key: &str,
    value: Option<&str>,
) -> Result<(), ApiError> {
    let Some(value) = value else { return Ok(()) };
    match key {
        "event.notification.callback.url" => {
            events::check_callback_url(&state.platform, value).map_err(ApiError::BadRequest)
        }
        "event.poller.configuration" => events::settings::parse_objects(element_key, value)
            .map(drop)
            .map_err(|error| ApiError::BadRequest(error.to_string())),
        _ => Ok(()),
    }
}

/// Removes the vendor hooks of an instance whose events were delivered by webhook before a change
/// (`before`) and are not after it (`after`: events off, polling, or the instance deleted). Best
/// effort: a failure is logged, and the vendor's next call is answered 410, which makes it
/// deactivate the hook.
pub(crate) async fn drop_hooks_if_turned_off(
    state: &AppState,
    before: &InstanceRecord,
    after: Option<&InstanceRecord>,
) {
    let webhooks = |record: &InstanceRecord| {
        events::settings::EventSettings::of(record).is_ok_and(|settings| settings.enabled && settings.webhooks)
    };
    if !webhooks(before) || after.is_some_and(webhooks) {
        return;
    }
    match events::hooks::remove(&state.platform, before).await {
        Ok(removed) => tracing::info!(instance_id = before.id.get(), removed, "vendor hooks removed"),
        Err(error) => tracing::warn!(instance_id = before.id.get(), %error, "vendor hooks could not be removed"),
    }
}

/// A notification as the event log shows it.
pub fn event_view(event: &StoredEvent) -> Value {
    let time = |at: DateTime<Utc>| at.to_rfc3339_opts(SecondsFormat::Millis, true);
    json!({
        "id": event.id,
        "instanceId": event.instance_id.get(),
        "eventDate": time(event.created_at),
        "status": event.status.as_str(),
        "source": event.source,
        "objectType": event.object_type,
        "events": event.changes,
        "raw": event.raw,
        "attempts": event.attempts,
        "nextAttemptDate": matches!(event.status, EventStatus::New | EventStatus::Dispatched).then(|| time(event.next_attempt_at)),
        "notifiedDate": event.notified_at.map(time),
        "lastStatus": event.last_status,
        "lastError": event.last_error,
    })
}
