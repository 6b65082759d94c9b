//! Hub calls made from the console (Test connection, the API docs' "try it"): the request runs
//! through the real hub router in process, as the instance's organization, without the browser
//! ever holding the user secret or the instance token. The instance travels in a request extension
//! ([`ConsoleCaller`]) that only this module sets; requests from the network cannot carry one.

use std::sync::Arc;

use axum::body::{to_bytes, Body};
use axum::http::{HeaderMap, Method, Request, StatusCode};
use store::InstanceRecord;
use tower::ServiceExt;

use crate::json_body::BODY_LIMIT;
use crate::state::AppState;

/// The instance a console hub call acts as (already checked to be the session's organization's).
#[derive(Debug, Clone)]
pub struct ConsoleCaller(pub Arc<InstanceRecord>);

/// A hub answer as the console shows it.
#[derive(Debug)]
pub struct HubAnswer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

/// Runs `method path_and_query` (which must start with `/hubs/`) with `body` as JSON through the
/// hub router, as `instance`.
pub async fn call(
    state: &AppState,
    instance: InstanceRecord,
    method: Method,
    path_and_query: &str,
    body: Option<String>,
) -> Result<HubAnswer, String> {
    if !path_and_query.starts_with("/hubs/") {
        return Err("The path must start with /hubs/.".into());
    }
    let mut request = Request::builder().method(method).uri(format!("{}{path_and_query}", crate::API_PREFIX));
    if body.is_some() {
        request = request.header("content-type", "application/json");
    }
    let mut request = request
        .body(body.map_or_else(Body::empty, Body::from))
        .map_err(|_| "The path is not a valid URL path (spaces and some characters must be %-encoded).".to_string())?;
    request.extensions_mut().insert(ConsoleCaller(Arc::new(instance)));
    let router = crate::hub::routes()
        .fallback(crate::error::not_found)
        .method_not_allowed_fallback(crate::error::method_not_allowed)
        .with_state(state.clone());
    let response = router.oneshot(request).await.unwrap_or_else(|never| match never {});
    let status = response.status();
    let headers = response.headers().clone();
    let body =
        to_bytes(response.into_body(), BODY_LIMIT * 16).await.map_err(|_| "The answer was too large to show.")?;
    Ok(HubAnswer { status, headers, body: body.to_vec() })
}
