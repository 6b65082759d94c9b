//! The API documents (OpenAPI 3.1): one per element for its hub API, generated from the object
//! catalog, one per instance (its element's, with the organization's common resources it can
//! call), and the platform API's own.
//!
//! - [`element_document`]: the hub API of one element, built with utoipa's `openapi` types from
//!   `mapping`'s catalog;
//! - `bulk_document`: the bulk jobs' paths in the hub document;
//! - [`common_document`]: an instance's common resources, added to its element's document;
//! - [`platform`]: the platform API, derived by utoipa from documentation-only path functions;
//! - `request_bodies`: the platform API's request bodies, as its handlers read them;
//! - `formula_schemas`: formula templates as the platform API takes and answers them.
//!
//! Routes: `GET /elements/{keyOrId}/docs` (public, like the element itself: it knows no
//! organization), `GET /instances/{id}/docs` (platform auth; the instance's element's document with
//! its common resources) and `GET /docs` (public: it describes routes, not data).

mod bulk_document;
pub mod common_document;
mod common_resource_schemas;
pub mod element_document;
mod formula_schemas;
pub mod platform;
mod request_bodies;

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use domain::elements::Element;
use serde_json::Value;
use store::InstanceRecord;

use crate::auth::PlatformAuth;
use crate::error::ApiError;
use crate::instances::instance_id;
use crate::path_param::PathParam;
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(api!("/docs"), get(platform_docs))
        .route(api!("/elements/{key_or_id}/docs"), get(element_docs))
        .route(api!("/instances/{id}/docs"), get(instance_docs))
}

/// The OpenAPI document of `element`'s hub API, served from `state.public_url`.
pub fn element_document(state: &AppState, element: &Element) -> Value {
    to_json(element_document::build(&state.public_url, element))
}

/// The OpenAPI document of `instance`'s hub API: its element's objects, and the common resources of
/// its organization it can call (composed as its hub calls compose them), served from
/// `state.public_url`.
pub async fn instance_document(state: &AppState, instance: &InstanceRecord) -> Result<Value, ApiError> {
    let element = state.platform.catalog.find(&instance.element_key)?;
    let common = state.platform.common_objects(instance).await?;
    let mut document = element_document::build(&state.public_url, element);
    common_document::add(&mut document, &element.hub, &common);
    Ok(to_json(document))
}

/// The platform API's OpenAPI document, served from `state.public_url`.
pub fn platform_document(state: &AppState) -> Value {
    to_json(platform::document(&state.public_url))
}

/// utoipa's documents have string keys only, so serializing them cannot fail.
fn to_json(document: utoipa::openapi::OpenApi) -> Value {
    serde_json::to_value(document).unwrap_or_else(|error| unreachable!("an OpenAPI document is JSON: {error}"))
}

async fn platform_docs(State(state): State<AppState>) -> Json<Value> {
    Json(platform_document(&state))
}

async fn element_docs(
    State(state): State<AppState>,
    PathParam(key_or_id): PathParam<String>,
) -> Result<Json<Value>, ApiError> {
    let element = state.platform.catalog.find(&key_or_id)?;
    Ok(Json(element_document(&state, element)))
}

async fn instance_docs(
    State(state): State<AppState>,
    auth: PlatformAuth,
    PathParam(id): PathParam<String>,
) -> Result<Json<Value>, ApiError> {
    let record = state.platform.store.get_instance(auth.organization.id, instance_id(&id)?).await?;
    Ok(Json(instance_document(&state, &record).await?))
}
