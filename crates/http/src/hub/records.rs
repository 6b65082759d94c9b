//! One record through the hub engine: `POST /hubs/{hub}/{object}`, `GET|PATCH|PUT|DELETE
//! /hubs/{hub}/{object}/{id}`, and child records (`POST /orders/{id}/items`, `GET|DELETE
//! /orders/{id}/items/{itemId}`). PUT updates the fields it names, like PATCH: the vendor has no
//! whole-record replace, and the platforms' PUT behaved the same.

use std::sync::Arc;

use axum::extract::State;
use axum::http::header::{self, HeaderValue};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use connector::rate_limit::Priority;
use hub::{HubError, Target};
use mapping::common::CommonObjects;
use serde_json::Value;

use super::response::HubResponse;
use crate::auth::HubAuth;
use crate::json_body::JsonBody;
use crate::path_param::PathParam;
use crate::state::AppState;

pub async fn read(
    State(state): State<AppState>,
    HubAuth { instance }: HubAuth,
    common: Arc<CommonObjects>,
    PathParam((_hub, object, id)): PathParam<(String, String, String)>,
) -> HubResponse {
    let call = state.platform.instance_call(&instance).with_common(common);
    let result =
        state.platform.hub.get_json(&call.session(Priority::Interactive, None), Target::Object(&object), &id).await;
    HubResponse::new(&instance, record_json(result))
}

pub async fn create(
    State(state): State<AppState>,
    HubAuth { instance }: HubAuth,
    common: Arc<CommonObjects>,
    PathParam((_hub, object)): PathParam<(String, String)>,
    JsonBody(body): JsonBody<Value>,
) -> HubResponse {
    let call = state.platform.instance_call(&instance).with_common(common);
    let session = call.session(Priority::Interactive, None);
    let result = state.platform.hub.create(&session, Target::Object(&object), body).await;
    HubResponse::new(&instance, record(result))
}

pub async fn update(
    State(state): State<AppState>,
    HubAuth { instance }: HubAuth,
    common: Arc<CommonObjects>,
    PathParam((_hub, object, id)): PathParam<(String, String, String)>,
    JsonBody(body): JsonBody<Value>,
) -> HubResponse {
    let call = state.platform.instance_call(&instance).with_common(common);
    let result = state.platform.hub.update(&call.session(Priority::Interactive, None), &object, &id, body).await;
    HubResponse::new(&instance, record(result))
}

pub async fn delete(
    State(state): State<AppState>,
    HubAuth { instance }: HubAuth,
    common: Arc<CommonObjects>,
    PathParam((_hub, object, id)): PathParam<(String, String, String)>,
) -> HubResponse {
    let call = state.platform.instance_call(&instance).with_common(common);
    let session = call.session(Priority::Interactive, None);
    let result = state.platform.hub.delete(&session, Target::Object(&object), &id).await;
    HubResponse::new(&instance, deleted(result))
}

pub async fn create_child(
    State(state): State<AppState>,
    HubAuth { instance }: HubAuth,
    PathParam((_hub, object, parent_id, child)): PathParam<(String, String, String, String)>,
    JsonBody(body): JsonBody<Value>,
) -> HubResponse {
    let call = state.platform.instance_call(&instance);
    let target = Target::Child { object: &object, parent_id: &parent_id, child: &child };
    let result = state.platform.hub.create(&call.session(Priority::Interactive, None), target, body).await;
    HubResponse::new(&instance, record(result))
}

pub async fn read_child(
    State(state): State<AppState>,
    HubAuth { instance }: HubAuth,
    PathParam((_hub, object, parent_id, child, id)): PathParam<(String, String, String, String, String)>,
) -> HubResponse {
    let call = state.platform.instance_call(&instance);
    let target = Target::Child { object: &object, parent_id: &parent_id, child: &child };
    let result = state.platform.hub.get_json(&call.session(Priority::Interactive, None), target, &id).await;
    HubResponse::new(&instance, record_json(result))
}

pub async fn delete_child(
    State(state): State<AppState>,
    HubAuth { instance }: HubAuth,
    PathParam((_hub, object, parent_id, child, id)): PathParam<(String, String, String, String, String)>,
) -> HubResponse {
    let call = state.platform.instance_call(&instance);
    let target = Target::Child { object: &object, parent_id: &parent_id, child: &child };
    let result = state.platform.hub.delete(&call.session(Priority::Interactive, None), target, &id).await;
    HubResponse::new(&instance, deleted(result))
}

fn record(result: Result<Value, HubError>) -> Result<Response, crate::ApiError> {
    Ok(Json(result?).into_response())
}

/// A record already written as JSON text.
fn record_json(result: Result<Vec<u8>, HubError>) -> Result<Response, crate::ApiError> {
    Ok(([(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], result?).into_response())
}

fn deleted(result: Result<(), HubError>) -> Result<Response, crate::ApiError> {
    result?;
    Ok(StatusCode::OK.into_response())
}
