//! Common resources over HTTP (platform auth): definitions at organization level
//! (`/organizations/objects/{objectName}/definitions`, and several at once or all under
//! `/organizations/objects/definitions`) and instance level (`/instances/{id}/objects/...`), and
//! transformations at organization level per element
//! (`/organizations/elements/{keyOrId}/transformations/{objectName}`) and instance level
//! (`/instances/{id}/transformations/{objectName}`, also id-less with an `Element` token). POST
//! creates (409 if it exists), PUT replaces (404 if it does not), GET reads, DELETE deletes.
//!
//! The rules live in `platform::common_resources`; each handler extracts, calls one function and
//! answers. Another organization's instance is a 404, as everywhere.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use platform::common_resources::{DefinitionLevel, TransformationLevel};
use serde_json::{Map, Value};
use store::{InstanceRecord, PutMode};

use crate::auth::{PlatformAuth, TokenInstance};
use crate::error::ApiError;
use crate::instances::instance_id;
use crate::json_body::JsonBody;
use crate::path_param::PathParam;
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(api!("/organizations/objects/definitions"), get(list_definitions).post(create_definitions))
        .route(
            api!("/organizations/objects/{name}/definitions"),
            get(read_definition).post(create_definition).put(replace_definition).delete(delete_definition),
        )
        .route(api!("/instances/{id}/objects/definitions"), get(list_instance_definitions))
        .route(
            api!("/instances/{id}/objects/{name}/definitions"),
            get(read_instance_definition)
                .post(create_instance_definition)
                .put(replace_instance_definition)
                .delete(delete_instance_definition),
        )
        .route(api!("/organizations/elements/{element}/transformations"), get(list_element_transformations))
        .route(
            api!("/organizations/elements/{element}/transformations/{name}"),
            get(read_element_transformation)
                .post(create_element_transformation)
                .put(replace_element_transformation)
                .delete(delete_element_transformation),
        )
        .route(api!("/instances/{id}/transformations"), get(list_instance_transformations))
        .route(
            api!("/instances/{id}/transformations/{name}"),
            get(read_instance_transformation)
                .post(create_instance_transformation)
                .put(replace_instance_transformation)
                .delete(delete_instance_transformation),
        )
        .route(api!("/instances/transformations"), get(list_token_transformations))
        .route(
            api!("/instances/transformations/{name}"),
            get(read_token_transformation)
                .post(create_token_transformation)
                .put(replace_token_transformation)
                .delete(delete_token_transformation),
        )
}

/// The caller's instance `id` (404 for another organization's).
async fn instance(state: &AppState, auth: &PlatformAuth, id: &str) -> Result<InstanceRecord, ApiError> {
    Ok(state.platform.store.get_instance(auth.organization.id, instance_id(id)?).await?)
}

/// Every answer with a document is a 200 with it (the platforms answered creates with 200 too).
fn ok(value: Value) -> Response {
    Json(value).into_response()
}

// Definitions, organization level.

async fn list_definitions(State(state): State<AppState>, auth: PlatformAuth) -> Result<Response, ApiError> {
    let all = state.platform.definitions(auth.organization.id, DefinitionLevel::Organization).await?;
    Ok(ok(Value::Object(all)))
}

/// `{"myContacts": {"fields": [...]}, ...}`: each created, all checked before any is stored.
async fn create_definitions(
    State(state): State<AppState>,
    auth: PlatformAuth,
    JsonBody(body): JsonBody<Value>,
) -> Result<Response, ApiError> {
    let Value::Object(definitions) = body else {
        return Err(ApiError::BadRequest("The body must map object names to definitions".into()));
    };
    if definitions.is_empty() {
        return Err(ApiError::BadRequest("The body names no definition".into()));
    }
    let level = DefinitionLevel::Organization;
    for (name, definition) in &definitions {
        state.platform.check_definition(level, name, definition.clone())?;
    }
    let mut stored = Map::new();
    for (name, definition) in definitions {
        let answer =
            state.platform.put_definition(auth.organization.id, level, &name, definition, PutMode::Create).await?;
        stored.insert(name, answer);
    }
    Ok(ok(Value::Object(stored)))
}

async fn read_definition(
    State(state): State<AppState>,
    auth: PlatformAuth,
    PathParam(name): PathParam<String>,
) -> Result<Response, ApiError> {
    Ok(ok(state.platform.definition(auth.organization.id, DefinitionLevel::Organization, &name).await?))
}

async fn create_definition(
    state: State<AppState>,
    auth: PlatformAuth,
    name: PathParam<String>,
    body: JsonBody<Value>,
) -> Result<Response, ApiError> {
    put_definition(state, auth, name, body, PutMode::Create).await
}

async fn replace_definition(
    state: State<AppState>,
    auth: PlatformAuth,
    name: PathParam<String>,
    body: JsonBody<Value>,
) -> Result<Response, ApiError> {
    put_definition(state, auth, name, body, PutMode::Replace).await
}

async fn put_definition(
    State(state): State<AppState>,
    auth: PlatformAuth,
    PathParam(name): PathParam<String>,
    JsonBody(body): JsonBody<Value>,
    mode: PutMode,
) -> Result<Response, ApiError> {
    let level = DefinitionLevel::Organization;
    Ok(ok(state.platform.put_definition(auth.organization.id, level, &name, body, mode).await?))
}

async fn delete_definition(
    State(state): State<AppState>,
    auth: PlatformAuth,
    PathParam(name): PathParam<String>,
) -> Result<Response, ApiError> {
    state.platform.delete_definition(auth.organization.id, DefinitionLevel::Organization, &name).await?;
    Ok(StatusCode::OK.into_response())
}

// Definitions, instance level.

async fn list_instance_definitions(
    State(state): State<AppState>,
    auth: PlatformAuth,
    PathParam(id): PathParam<String>,
) -> Result<Response, ApiError> {
    let instance = instance(&state, &auth, &id).await?;
    let all = state.platform.definitions(auth.organization.id, DefinitionLevel::Instance(&instance)).await?;
    Ok(ok(Value::Object(all)))
}

async fn read_instance_definition(
    State(state): State<AppState>,
    auth: PlatformAuth,
    PathParam((id, name)): PathParam<(String, String)>,
) -> Result<Response, ApiError> {
    let instance = instance(&state, &auth, &id).await?;
    let level = DefinitionLevel::Instance(&instance);
    Ok(ok(state.platform.definition(auth.organization.id, level, &name).await?))
}

async fn create_instance_definition(
    state: State<AppState>,
    auth: PlatformAuth,
    path: PathParam<(String, String)>,
    body: JsonBody<Value>,
) -> Result<Response, ApiError> {
    put_instance_definition(state, auth, path, body, PutMode::Create).await
}

async fn replace_instance_definition(
    state: State<AppState>,
    auth: PlatformAuth,
    path: PathParam<(String, String)>,
    body: JsonBody<Value>,
) -> Result<Response, ApiError> {
    put_instance_definition(state, auth, path, body, PutMode::Replace).await
}

async fn put_instance_definition(
    State(state): State<AppState>,
    auth: PlatformAuth,
    PathParam((id, name)): PathParam<(String, String)>,
    JsonBody(body): JsonBody<Value>,
    mode: PutMode,
) -> Result<Response, ApiError> {
    let instance = instance(&state, &auth, &id).await?;
    let level = DefinitionLevel::Instance(&instance);
    Ok(ok(state.platform.put_definition(auth.organization.id, level, &name, body, mode).await?))
}

async fn delete_instance_definition(
    State(state): State<AppState>,
    auth: PlatformAuth,
    PathParam((id, name)): PathParam<(String, String)>,
) -> Result<Response, ApiError> {
    let instance = instance(&state, &auth, &id).await?;
    state.platform.delete_definition(auth.organization.id, DefinitionLevel::Instance(&instance), &name).await?;
    Ok(StatusCode::OK.into_response())
}

// Transformations: one set of operations, three ways to name the level.

async fn list_transformations(
    state: &AppState,
    auth: &PlatformAuth,
    level: TransformationLevel<'_>,
) -> Result<Response, ApiError> {
    Ok(ok(Value::Object(state.platform.transformations(auth.organization.id, level).await?)))
}

async fn read_transformation(
    state: &AppState,
    auth: &PlatformAuth,
    level: TransformationLevel<'_>,
    name: &str,
) -> Result<Response, ApiError> {
    Ok(ok(state.platform.transformation(auth.organization.id, level, name).await?))
}

async fn put_transformation(
    state: &AppState,
    auth: &PlatformAuth,
    level: TransformationLevel<'_>,
    name: &str,
    body: Value,
    mode: PutMode,
) -> Result<Response, ApiError> {
    Ok(ok(state.platform.put_transformation(auth.organization.id, level, name, body, mode).await?))
}

async fn delete_transformation(
    state: &AppState,
    auth: &PlatformAuth,
    level: TransformationLevel<'_>,
    name: &str,
) -> Result<Response, ApiError> {
    state.platform.delete_transformation(auth.organization.id, level, name).await?;
    Ok(StatusCode::OK.into_response())
}

async fn list_element_transformations(
    State(state): State<AppState>,
    auth: PlatformAuth,
    PathParam(element): PathParam<String>,
) -> Result<Response, ApiError> {
    list_transformations(&state, &auth, TransformationLevel::Element(&element)).await
}

async fn read_element_transformation(
    State(state): State<AppState>,
    auth: PlatformAuth,
    PathParam((element, name)): PathParam<(String, String)>,
) -> Result<Response, ApiError> {
    read_transformation(&state, &auth, TransformationLevel::Element(&element), &name).await
}

async fn create_element_transformation(
    State(state): State<AppState>,
    auth: PlatformAuth,
    PathParam((element, name)): PathParam<(String, String)>,
    JsonBody(body): JsonBody<Value>,
) -> Result<Response, ApiError> {
    put_transformation(&state, &auth, TransformationLevel::Element(&element), &name, body, PutMode::Create).await
}

async fn replace_element_transformation(
    State(state): State<AppState>,
    auth: PlatformAuth,
    PathParam((element, name)): PathParam<(String, String)>,
    JsonBody(body): JsonBody<Value>,
) -> Result<Response, ApiError> {
    put_transformation(&state, &auth, TransformationLevel::Element(&element), &name, body, PutMode::Replace).await
}

async fn delete_element_transformation(
    State(state): State<AppState>,
    auth: PlatformAuth,
    PathParam((element, name)): PathParam<(String, String)>,
) -> Result<Response, ApiError> {
    delete_transformation(&state, &auth, TransformationLevel::Element(&element), &name).await
}

async fn list_instance_transformations(
    State(state): State<AppState>,
    auth: PlatformAuth,
    PathParam(id): PathParam<String>,
) -> Result<Response, ApiError> {
    let instance = instance(&state, &auth, &id).await?;
    list_transformations(&state, &auth, TransformationLevel::Instance(&instance)).await
}

async fn read_instance_transformation(
    State(state): State<AppState>,
    auth: PlatformAuth,
    PathParam((id, name)): PathParam<(String, String)>,
) -> Result<Response, ApiError> {
    let instance = instance(&state, &auth, &id).await?;
    read_transformation(&state, &auth, TransformationLevel::Instance(&instance), &name).await
}

async fn create_instance_transformation(
    State(state): State<AppState>,
    auth: PlatformAuth,
    PathParam((id, name)): PathParam<(String, String)>,
    JsonBody(body): JsonBody<Value>,
) -> Result<Response, ApiError> {
    let instance = instance(&state, &auth, &id).await?;
    put_transformation(&state, &auth, TransformationLevel::Instance(&instance), &name, body, PutMode::Create).await
}

async fn replace_instance_transformation(
    State(state): State<AppState>,
    auth: PlatformAuth,
    PathParam((id, name)): PathParam<(String, String)>,
    JsonBody(body): JsonBody<Value>,
) -> Result<Response, ApiError> {
    let instance = instance(&state, &auth, &id).await?;
    put_transformation(&state, &auth, TransformationLevel::Instance(&instance), &name, body, PutMode::Replace).await
}

async fn delete_instance_transformation(
    State(state): State<AppState>,
    auth: PlatformAuth,
    PathParam((id, name)): PathParam<(String, String)>,
) -> Result<Response, ApiError> {
    let instance = instance(&state, &auth, &id).await?;
    delete_transformation(&state, &auth, TransformationLevel::Instance(&instance), &name).await
}

async fn list_token_transformations(
    State(state): State<AppState>,
    caller: TokenInstance,
) -> Result<Response, ApiError> {
    list_transformations(&state, &caller.auth, TransformationLevel::Instance(&caller.instance)).await
}

async fn read_token_transformation(
    State(state): State<AppState>,
    caller: TokenInstance,
    PathParam(name): PathParam<String>,
) -> Result<Response, ApiError> {
    read_transformation(&state, &caller.auth, TransformationLevel::Instance(&caller.instance), &name).await
}

async fn create_token_transformation(
    State(state): State<AppState>,
    caller: TokenInstance,
    PathParam(name): PathParam<String>,
    JsonBody(body): JsonBody<Value>,
) -> Result<Response, ApiError> {
    let level = TransformationLevel::Instance(&caller.instance);
    put_transformation(&state, &caller.auth, level, &name, body, PutMode::Create).await
}

async fn replace_token_transformation(
    State(state): State<AppState>,
    caller: TokenInstance,
    PathParam(name): PathParam<String>,
    JsonBody(body): JsonBody<Value>,
) -> Result<Response, ApiError> {
    let level = TransformationLevel::Instance(&caller.instance);
    put_transformation(&state, &caller.auth, level, &name, body, PutMode::Replace).await
}

async fn delete_token_transformation(
    State(state): State<AppState>,
    caller: TokenInstance,
    PathParam(name): PathParam<String>,
) -> Result<Response, ApiError> {
    delete_transformation(&state, &caller.auth, TransformationLevel::Instance(&caller.instance), &name).await
}
