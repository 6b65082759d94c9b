//! The element catalog routes: `GET /elements`, `/elements/keys`, `/elements/{keyOrId}`,
//! `/elements/{keyOrId}/configuration`, `/elements/{keyOrId}/metadata`, and
//! `GET|POST /elements/{keyOrId}/oauth/url`.
//!
//! The catalog is static data compiled into the binary and the authorize URL uses only what the
//! caller sends, so these routes need no authentication (the platforms' docs say the same of
//! `GET /elements`). `POST /elements/{keyOrId}/instances` is an instance route (see
//! [`crate::instances`]).

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use domain::elements::{ConfigEntry, Element, ElementMetadata};
use domain::oauth_url::{self, OAuthRedirect, OAuthUrlRequest};

use crate::error::ApiError;
use crate::json_body::{JsonBody, QueryParams};
use crate::path_param::PathParam;
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(api!("/elements"), get(list))
        .route(api!("/elements/keys"), get(keys))
        .route(api!("/elements/{key_or_id}"), get(one))
        .route(api!("/elements/{key_or_id}/configuration"), get(configuration))
        .route(api!("/elements/{key_or_id}/metadata"), get(metadata))
        .route(api!("/elements/{key_or_id}/oauth/url"), get(oauth_url_get).post(oauth_url_post))
}

async fn list(State(state): State<AppState>) -> Json<&'static [Element]> {
    Json(state.platform.catalog.list())
}

async fn keys(State(state): State<AppState>) -> Json<Vec<&'static str>> {
    Json(state.platform.catalog.keys())
}

async fn one(
    State(state): State<AppState>,
    PathParam(key_or_id): PathParam<String>,
) -> Result<Json<&'static Element>, ApiError> {
    Ok(Json(state.platform.catalog.find(&key_or_id)?))
}

async fn configuration(
    State(state): State<AppState>,
    PathParam(key_or_id): PathParam<String>,
) -> Result<Json<&'static [ConfigEntry]>, ApiError> {
    Ok(Json(&state.platform.catalog.find(&key_or_id)?.configuration))
}

async fn metadata(
    State(state): State<AppState>,
    PathParam(key_or_id): PathParam<String>,
) -> Result<Json<ElementMetadata<'static>>, ApiError> {
    Ok(Json(state.platform.catalog.find(&key_or_id)?.metadata()))
}

async fn oauth_url_get(
    State(state): State<AppState>,
    PathParam(key_or_id): PathParam<String>,
    QueryParams(request): QueryParams<OAuthUrlRequest>,
) -> Result<Json<OAuthRedirect>, ApiError> {
    oauth_url(&state, &key_or_id, &request)
}

async fn oauth_url_post(
    State(state): State<AppState>,
    PathParam(key_or_id): PathParam<String>,
    JsonBody(request): JsonBody<OAuthUrlRequest>,
) -> Result<Json<OAuthRedirect>, ApiError> {
    oauth_url(&state, &key_or_id, &request)
}

fn oauth_url(state: &AppState, key_or_id: &str, request: &OAuthUrlRequest) -> Result<Json<OAuthRedirect>, ApiError> {
    let element = state.platform.catalog.find(key_or_id)?;
    Ok(Json(oauth_url::build(element, request, &state.platform.endpoints().authorize)?))
}
