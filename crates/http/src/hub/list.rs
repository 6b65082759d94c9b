//! Listing through the hub engine: `GET /hubs/{hub}/{object}` and child lists
//! (`/contacts/{id}/tags`, `/orders/{id}/items`), with the paging headers clients read:
//! `Elements-Returned-Count`, `Elements-Next-Page-Token` (absent on the last page) and
//! `Elements-Total-Count` (with `returnCount=true`).

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use connector::rate_limit::Priority;
use hub::{HubError, ListPage, ListParams, Target};
use mapping::common::CommonObjects;

use super::response::HubResponse;
use crate::auth::HubAuth;
use crate::json_body::QueryParams;
use crate::path_param::PathParam;
use crate::state::AppState;

pub async fn list(
    State(state): State<AppState>,
    HubAuth { instance }: HubAuth,
    common: Arc<CommonObjects>,
    PathParam((_hub, object)): PathParam<(String, String)>,
    QueryParams(params): QueryParams<ListParams>,
) -> HubResponse {
    let call = state.platform.instance_call(&instance).with_common(common);
    let session = call.session(Priority::Interactive, None);
    let result = state.platform.hub.list(&session, Target::Object(&object), &params).await;
    HubResponse::new(&instance, page(result))
}

pub async fn list_children(
    State(state): State<AppState>,
    HubAuth { instance }: HubAuth,
    PathParam((_hub, object, parent_id, child)): PathParam<(String, String, String, String)>,
    QueryParams(params): QueryParams<ListParams>,
) -> HubResponse {
    let call = state.platform.instance_call(&instance);
    let target = Target::Child { object: &object, parent_id: &parent_id, child: &child };
    let result = state.platform.hub.list(&call.session(Priority::Interactive, None), target, &params).await;
    HubResponse::new(&instance, page(result))
}

fn page(result: Result<ListPage, HubError>) -> Result<Response, crate::ApiError> {
    let page = result?;
    let mut headers = HeaderMap::new();
    headers.insert("elements-returned-count", HeaderValue::from(page.records.len()));
    if let Some(next) = page.next_page.and_then(|cursor| HeaderValue::from_str(&cursor).ok()) {
        headers.insert("elements-next-page-token", next);
    }
    if let Some(total) = page.total {
        headers.insert("elements-total-count", HeaderValue::from(total));
    }
    Ok((headers, Json(page.records)).into_response())
}
