//! `ANY /hubs/{hub}/raw/{vendor path}`: a vendor REST call passed through with the instance's
//! credentials injected (refreshed, rate-limited, retried like any hub call) and the vendor's answer
//! returned as it came: status, body, and the headers a client can use (content type, the vendor's
//! rate-limit headers, `Retry-After`, `Location`).
//!
//! Only paths under the vendor's REST base are forwarded: a path is plain segments of URL-safe
//! characters, so `..`, absolute URLs, other hosts and encoded tricks are refused with a 400 before
//! anything is sent.

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};

use super::response::HubResponse;
use super::vendor::{send, VendorRequest};
use crate::auth::HubAuth;
use crate::error::ApiError;
use crate::path_param::PathParam;
use crate::state::AppState;

/// Response headers of the vendor's worth passing on.
const PASSED_HEADERS: [&str; 3] = ["content-type", "retry-after", "location"];

pub async fn passthrough(
    State(state): State<AppState>,
    HubAuth { instance }: HubAuth,
    method: Method,
    PathParam((_hub, path)): PathParam<(String, String)>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> HubResponse {
    let result = async {
        let path = vendor_path(&path)?;
        let query: Vec<(String, String)> = serde_urlencoded::from_str(query.as_deref().unwrap_or(""))
            .map_err(|_| ApiError::BadRequest("The query string is not valid URL encoding".into()))?;
        let content_type =
            headers.get(axum::http::header::CONTENT_TYPE).and_then(|value| value.to_str().ok()).map(str::to_string);
        let request = VendorRequest {
            method,
            path,
            query,
            body: (!body.is_empty()).then_some(body),
            content_type: content_type.or_else(|| Some("application/json".into())),
        };
        let reply = send(&state, &instance, &request).await?;
        Ok(answer(reply.status, &reply.headers, reply.body))
    }
    .await;
    HubResponse::new(&instance, result)
}

/// The vendor path, if it stays under the REST base.
fn vendor_path(path: &str) -> Result<String, ApiError> {
    let refuse = |why: &str| ApiError::BadRequest(format!("Invalid raw vendor path: {why}"));
    if path.is_empty() {
        return Err(refuse("it is empty"));
    }
    if path.len() > 2048 {
        return Err(refuse("it is longer than 2048 characters"));
    }
    for (index, segment) in path.split('/').enumerate() {
        if segment.is_empty() || segment == "." || segment == ".." {
            return Err(refuse("empty, '.' and '..' segments are not allowed"));
        }
        let safe = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '~' | ':' | ',');
        if !segment.chars().all(safe) {
            return Err(refuse("only letters, digits and - _ . ~ : , are allowed in segments"));
        }
        if index == 0 && segment.contains(':') {
            return Err(refuse("it must be a path under the vendor's REST base, not a URL"));
        }
    }
    Ok(path.to_string())
}

fn answer(status: u16, vendor_headers: &reqwest::header::HeaderMap, body: Bytes) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY);
    let mut response = (status, body).into_response();
    for (name, value) in vendor_headers {
        let name_text = name.as_str();
        if PASSED_HEADERS.contains(&name_text) || name_text.starts_with("x-keap-") {
            response.headers_mut().insert(name.clone(), value.clone());
        }
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_under_the_rest_base_pass_and_escapes_are_refused() {
        for good in ["v2/contacts", "v1/contacts/12", "v2/products/3:adjustInventory", "v2/tags/1/contacts:applyTags"] {
            assert_eq!(vendor_path(good).unwrap(), good);
        }
        for bad in [
            "",
            "../token",
            "v2/../../token",
            "v2//contacts",
            "http://evil.example/x",
            "https:evil",
            "v2/a b",
            "v2/%2e%2e",
            "v2/contacts?x=1",
            "v2/contacts#f",
            "//evil.example/x",
            "v2/a\\b",
            "v2/./x",
        ] {
            assert!(vendor_path(bad).is_err(), "{bad}");
        }
    }
}
