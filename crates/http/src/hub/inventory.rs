//! `GET|PATCH /hubs/{hub}/products/{id}/inventory`: a product's stock, and a change to it
//! (`{"Action": "increase"|"decrease", "Quantity": N}`).

use axum::extract::State;
use axum::response::IntoResponse;
use axum::Json;
use connector::rate_limit::Priority;
use serde_json::Value;

use super::response::HubResponse;
use crate::auth::HubAuth;
use crate::json_body::JsonBody;
use crate::path_param::PathParam;
use crate::state::AppState;

pub async fn show(
    State(state): State<AppState>,
    HubAuth { instance }: HubAuth,
    PathParam((_hub, id)): PathParam<(String, String)>,
) -> HubResponse {
    let call = state.platform.instance_call(&instance);
    let result = state.platform.hub.inventory(&call.session(Priority::Interactive, None), &id).await;
    HubResponse::new(&instance, result.map(|stock| Json(stock).into_response()).map_err(Into::into))
}

pub async fn adjust(
    State(state): State<AppState>,
    HubAuth { instance }: HubAuth,
    PathParam((_hub, id)): PathParam<(String, String)>,
    JsonBody(body): JsonBody<Value>,
) -> HubResponse {
    let call = state.platform.instance_call(&instance);
    let result = state.platform.hub.adjust_inventory(&call.session(Priority::Interactive, None), &id, &body).await;
    HubResponse::new(&instance, result.map(|stock| Json(stock).into_response()).map_err(Into::into))
}
