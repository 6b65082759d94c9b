//! Formula templates over HTTP (platform auth): `POST /formulas` (create, and import: an export
//! or another platform's formula JSON is created unchanged), `GET /formulas` (the organization's,
//! paged like `GET /instances`), `GET|PUT|PATCH|DELETE /formulas/{id}` and
//! `GET /formulas/{id}/export`.
//!
//! The rules live in `platform::formulas`; each handler extracts, calls one function and answers.
//! A write's validation warnings (a step no trigger reaches) are listed in the `Elements-Error`
//! header, the platforms' header for non-fatal warnings. Another organization's template is a 404.

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use platform::formulas::{self, SavedFormula, MAX_PAGE_SIZE};
use serde::Deserialize;
use serde_json::Value;

use crate::auth::PlatformAuth;
use crate::error::ApiError;
use crate::json_body::{JsonBody, QueryParams};
use crate::path_param::PathParam;
use crate::state::AppState;

/// The page size of `GET /formulas` when none is asked for (as `GET /instances`).
const DEFAULT_PAGE_SIZE: u32 = 200;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(api!("/formulas"), get(list).post(create))
        .route(api!("/formulas/{id}"), get(read).put(replace).patch(patch).delete(delete))
        .route(api!("/formulas/{id}/export"), get(export))
}

/// The answer of a write: the template as stored, its warnings in `Elements-Error`.
fn saved(saved: &SavedFormula) -> Response {
    let mut headers = HeaderMap::new();
    if !saved.warnings.is_empty() {
        let text: Vec<String> = saved.warnings.iter().map(ToString::to_string).collect();
        // A header value takes no control characters; step names may hold them.
        let text: String = text.join("; ").chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
        if let Ok(value) = HeaderValue::from_bytes(text.as_bytes()) {
            headers.insert("elements-error", value);
        }
    }
    (headers, Json(formulas::view(&saved.record))).into_response()
}

async fn create(
    State(state): State<AppState>,
    auth: PlatformAuth,
    JsonBody(body): JsonBody<Value>,
) -> Result<Response, ApiError> {
    Ok(saved(&state.platform.create_formula(auth.organization.id, body).await?))
}

/// `GET /formulas` query: both optional.
#[derive(Deserialize)]
struct ListQuery {
    #[serde(rename = "pageSize")]
    page_size: Option<String>,
    #[serde(rename = "nextPage")]
    next_page: Option<String>,
}

/// `GET /formulas?pageSize=&nextPage=`; the next page's cursor is in `Elements-Next-Page-Token`.
async fn list(
    State(state): State<AppState>,
    auth: PlatformAuth,
    QueryParams(query): QueryParams<ListQuery>,
) -> Result<Response, ApiError> {
    let page_size = match query.page_size.as_deref() {
        None => DEFAULT_PAGE_SIZE,
        Some(text) => text.parse::<u32>().ok().filter(|size| (1..=MAX_PAGE_SIZE).contains(size)).ok_or_else(|| {
            ApiError::BadRequest(format!("Invalid parameter 'pageSize': must be a number from 1 to {MAX_PAGE_SIZE}"))
        })?,
    };
    let next_page = query.next_page.as_deref().filter(|next| !next.is_empty());
    let page = state.platform.formulas(auth.organization.id, page_size, next_page).await?;
    let mut headers = HeaderMap::new();
    if let Some(next) = page.next_page.as_deref().and_then(|next| HeaderValue::from_str(next).ok()) {
        headers.insert("elements-next-page-token", next);
    }
    let views: Vec<Value> = page.items.iter().map(formulas::view).collect();
    Ok((headers, Json(views)).into_response())
}

async fn read(
    State(state): State<AppState>,
    auth: PlatformAuth,
    PathParam(id): PathParam<String>,
) -> Result<Response, ApiError> {
    let record = state.platform.formula(auth.organization.id, &id).await?;
    Ok(Json(formulas::view(&record)).into_response())
}

async fn replace(
    State(state): State<AppState>,
    auth: PlatformAuth,
    PathParam(id): PathParam<String>,
    JsonBody(body): JsonBody<Value>,
) -> Result<Response, ApiError> {
    Ok(saved(&state.platform.replace_formula(auth.organization.id, &id, body).await?))
}

/// A JSON merge patch (RFC 7396; `application/merge-patch+json` or `application/json`).
async fn patch(
    State(state): State<AppState>,
    auth: PlatformAuth,
    PathParam(id): PathParam<String>,
    JsonBody(body): JsonBody<Value>,
) -> Result<Response, ApiError> {
    Ok(saved(&state.platform.patch_formula(auth.organization.id, &id, &body).await?))
}

async fn delete(
    State(state): State<AppState>,
    auth: PlatformAuth,
    PathParam(id): PathParam<String>,
) -> Result<Response, ApiError> {
    state.platform.delete_formula(auth.organization.id, &id).await?;
    Ok(StatusCode::OK.into_response())
}

/// The template as `POST /formulas` of another deployment takes it.
async fn export(
    State(state): State<AppState>,
    auth: PlatformAuth,
    PathParam(id): PathParam<String>,
) -> Result<Response, ApiError> {
    let record = state.platform.formula(auth.organization.id, &id).await?;
    Ok(Json(formulas::export(&record)).into_response())
}
