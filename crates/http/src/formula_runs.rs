//! Formula instances and executions over HTTP (platform auth):
//!
//! - `POST|GET /formulas/{id}/instances`, `GET|DELETE /formulas/{id}/instances/{instanceId}`,
//!   `PUT|DELETE /formulas/{id}/instances/{instanceId}/active`;
//! - `POST /formulas/instances/{instanceId}/executions` (a manual run, its body as
//!   `trigger.args`), `GET` the same path (newest first, `pageSize`, `before`);
//! - `GET|DELETE /formulas/instances/{instanceId}/executions/{executionId}` (read, cancel) and
//!   `.../steps`; the platforms' shorter `GET /formulas/instances/executions/{executionId}[/steps]`.
//!
//! The rules live in `platform::formulas`; another organization's formula, instance or execution
//! is a 404.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use axum::{Json, Router};
use platform::formulas::{executions, instances};
use serde::Deserialize;
use serde_json::{json, Value};
use store::formula_runs::MAX_EXECUTIONS_LISTED;

use crate::auth::PlatformAuth;
use crate::error::ApiError;
use crate::json_body::{JsonBody, OptionalJsonBody, QueryParams};
use crate::path_param::PathParam;
use crate::state::AppState;

/// Executions listed per page when no `pageSize` is given.
const DEFAULT_PAGE_SIZE: u32 = 50;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(api!("/formulas/{id}/instances"), get(list_instances).post(create_instance))
        .route(api!("/formulas/{id}/instances/{instance_id}"), get(read_instance).delete(delete_instance))
        .route(api!("/formulas/{id}/instances/{instance_id}/active"), put(activate).delete(deactivate))
        .route(api!("/formulas/instances/{instance_id}/executions"), get(list_executions).post(run))
        .route(
            api!("/formulas/instances/{instance_id}/executions/{execution_id}"),
            get(read_execution).delete(cancel_execution),
        )
        .route(api!("/formulas/instances/{instance_id}/executions/{execution_id}/steps"), get(execution_steps))
        .route(api!("/formulas/instances/executions/{execution_id}"), get(read_any_execution))
        .route(api!("/formulas/instances/executions/{execution_id}/steps"), get(any_execution_steps))
}

async fn create_instance(
    State(state): State<AppState>,
    auth: PlatformAuth,
    PathParam(id): PathParam<String>,
    JsonBody(body): JsonBody<Value>,
) -> Result<Response, ApiError> {
    let (instance, formula) = state.platform.create_formula_instance(auth.organization.id, &id, body).await?;
    Ok(Json(instances::view(&instance, Some(&formula))).into_response())
}

async fn list_instances(
    State(state): State<AppState>,
    auth: PlatformAuth,
    PathParam(id): PathParam<String>,
) -> Result<Response, ApiError> {
    let (found, formula) = state.platform.formula_instances(auth.organization.id, &id).await?;
    let views: Vec<Value> = found.iter().map(|instance| instances::view(instance, Some(&formula))).collect();
    Ok(Json(views).into_response())
}

async fn read_instance(
    State(state): State<AppState>,
    auth: PlatformAuth,
    PathParam((id, instance_id)): PathParam<(String, String)>,
) -> Result<Response, ApiError> {
    let instance = state.platform.formula_instance(auth.organization.id, Some(&id), &instance_id).await?;
    let formula = state.platform.formula(auth.organization.id, &id).await?;
    Ok(Json(instances::view(&instance, Some(&formula))).into_response())
}

async fn delete_instance(
    State(state): State<AppState>,
    auth: PlatformAuth,
    PathParam((id, instance_id)): PathParam<(String, String)>,
) -> Result<Response, ApiError> {
    state.platform.delete_formula_instance(auth.organization.id, &id, &instance_id).await?;
    Ok(StatusCode::OK.into_response())
}

async fn set_active(
    state: &AppState,
    auth: &PlatformAuth,
    id: &str,
    instance_id: &str,
    active: bool,
) -> Result<Response, ApiError> {
    let instance = state.platform.set_formula_instance_active(auth.organization.id, id, instance_id, active).await?;
    Ok(Json(instances::view(&instance, None)).into_response())
}

async fn activate(
    State(state): State<AppState>,
    auth: PlatformAuth,
    PathParam((id, instance_id)): PathParam<(String, String)>,
) -> Result<Response, ApiError> {
    set_active(&state, &auth, &id, &instance_id, true).await
}

async fn deactivate(
    State(state): State<AppState>,
    auth: PlatformAuth,
    PathParam((id, instance_id)): PathParam<(String, String)>,
) -> Result<Response, ApiError> {
    set_active(&state, &auth, &id, &instance_id, false).await
}

/// A manual run; no body means `trigger.args` is `{}`.
async fn run(
    State(state): State<AppState>,
    auth: PlatformAuth,
    PathParam(instance_id): PathParam<String>,
    OptionalJsonBody(body): OptionalJsonBody<Value>,
) -> Result<Response, ApiError> {
    let args = body.unwrap_or_else(|| json!({}));
    let execution = state.platform.run_formula_instance(auth.organization.id, &instance_id, args).await?;
    Ok(Json(executions::view(&execution)).into_response())
}

/// `GET .../executions` query: both optional.
#[derive(Deserialize)]
struct ListQuery {
    #[serde(rename = "pageSize")]
    page_size: Option<String>,
    before: Option<String>,
}

async fn list_executions(
    State(state): State<AppState>,
    auth: PlatformAuth,
    PathParam(instance_id): PathParam<String>,
    QueryParams(query): QueryParams<ListQuery>,
) -> Result<Response, ApiError> {
    let page_size = match query.page_size.as_deref() {
        None => DEFAULT_PAGE_SIZE,
        Some(text) => {
            text.parse::<u32>().ok().filter(|size| (1..=MAX_EXECUTIONS_LISTED).contains(size)).ok_or_else(|| {
                ApiError::BadRequest(format!(
                    "Invalid parameter 'pageSize': must be a number from 1 to {MAX_EXECUTIONS_LISTED}"
                ))
            })?
        }
    };
    let before = match query.before.as_deref() {
        None | Some("") => None,
        Some(text) => Some(
            text.parse::<i64>()
                .map_err(|_| ApiError::BadRequest("Invalid parameter 'before': must be an execution id".into()))?,
        ),
    };
    let found = state.platform.formula_executions(auth.organization.id, &instance_id, before, page_size).await?;
    Ok(Json(found.iter().map(executions::view).collect::<Vec<_>>()).into_response())
}

async fn read_execution(
    State(state): State<AppState>,
    auth: PlatformAuth,
    PathParam((instance_id, execution_id)): PathParam<(String, String)>,
) -> Result<Response, ApiError> {
    let execution = state.platform.formula_execution(auth.organization.id, Some(&instance_id), &execution_id).await?;
    Ok(Json(executions::view(&execution)).into_response())
}

async fn cancel_execution(
    State(state): State<AppState>,
    auth: PlatformAuth,
    PathParam((instance_id, execution_id)): PathParam<(String, String)>,
) -> Result<Response, ApiError> {
    let org = auth.organization.id;
    let execution = state.platform.cancel_formula_execution(org, Some(&instance_id), &execution_id).await?;
    Ok(Json(executions::view(&execution)).into_response())
}

async fn execution_steps(
    State(state): State<AppState>,
    auth: PlatformAuth,
    PathParam((instance_id, execution_id)): PathParam<(String, String)>,
) -> Result<Response, ApiError> {
    let org = auth.organization.id;
    let steps = state.platform.formula_execution_steps(org, Some(&instance_id), &execution_id).await?;
    Ok(Json(steps.iter().map(executions::step_view).collect::<Vec<_>>()).into_response())
}

async fn read_any_execution(
    State(state): State<AppState>,
    auth: PlatformAuth,
    PathParam(execution_id): PathParam<String>,
) -> Result<Response, ApiError> {
    let execution = state.platform.formula_execution(auth.organization.id, None, &execution_id).await?;
    Ok(Json(executions::view(&execution)).into_response())
}

async fn any_execution_steps(
    State(state): State<AppState>,
    auth: PlatformAuth,
    PathParam(execution_id): PathParam<String>,
) -> Result<Response, ApiError> {
    let steps = state.platform.formula_execution_steps(auth.organization.id, None, &execution_id).await?;
    Ok(Json(steps.iter().map(executions::step_view).collect::<Vec<_>>()).into_response())
}
