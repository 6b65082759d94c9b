//! Request body extraction with the platform's JSON errors instead of axum's text rejections.
//!
//! Owns the body rules: `Content-Type` must be JSON (415), the body must fit the limit set by
//! `DefaultBodyLimit` in [`crate::router`] (413), and it must parse (400, naming where it broke).
//! Query strings are parsed here too ([`QueryParams`]) for the same reason.

use axum::body::{Bytes, HttpBody};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// The largest accepted request body.
pub const BODY_LIMIT: usize = 1024 * 1024;

/// A JSON request body of type `T`.
pub struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let content_type = request.headers().get(header::CONTENT_TYPE).and_then(|value| value.to_str().ok());
        if content_type.is_none() && declared_empty(&request) {
            // No body at all is a missing body, not a wrong media type.
            return Err(ApiError::BadRequest("The request needs a JSON body (Content-Type: application/json)".into()));
        }
        if !content_type.is_some_and(is_json) {
            return Err(ApiError::UnsupportedMediaType(
                "The request body must be JSON (Content-Type: application/json)".into(),
            ));
        }
        let RawBody(bytes) = RawBody::from_request(request, state).await?;
        serde_json::from_slice(&bytes).map(JsonBody).map_err(|error| {
            // serde_json's messages name the position and expected type, never echo the input.
            ApiError::BadRequest(format!("Malformed JSON body: {error}"))
        })
    }
}

/// A JSON body that may be left out (no `Content-Type` and no body): `None` then; otherwise the
/// rules of [`JsonBody`].
pub struct OptionalJsonBody<T>(pub Option<T>);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for OptionalJsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        if !request.headers().contains_key(header::CONTENT_TYPE) && declared_empty(&request) {
            return Ok(OptionalJsonBody(None));
        }
        JsonBody::from_request(request, state).await.map(|JsonBody(body)| OptionalJsonBody(Some(body)))
    }
}

/// A request body of any media type, as bytes (the raw passthrough's), with the JSON errors of
/// every other body: 413 past [`BODY_LIMIT`].
pub struct RawBody(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for RawBody {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        // A request that came without a body (most raw calls are GETs) has nothing to collect:
        // collecting it anyway wraps it in the limit and a buffer, about 700 instructions.
        if request.body().is_end_stream() {
            return Ok(RawBody(Bytes::new()));
        }
        Bytes::from_request(request, state).await.map(RawBody).map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::PayloadTooLarge(BODY_LIMIT)
            } else {
                ApiError::BadRequest("The request body could not be read".into())
            }
        })
    }
}

/// Whether the request says it has no body (`Content-Length: 0`, or neither length nor chunking).
fn declared_empty(request: &Request) -> bool {
    let headers = request.headers();
    match headers.get(header::CONTENT_LENGTH).and_then(|value| value.to_str().ok()) {
        Some(length) => length.trim() == "0",
        None => !headers.contains_key(header::TRANSFER_ENCODING),
    }
}

fn is_json(content_type: &str) -> bool {
    let essence = content_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    essence == "application/json" || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// A query string parsed into `T` (form-URL-encoded), with a 400 JSON error on a bad one.
pub struct QueryParams<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for QueryParams<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        let query = parts.uri.query().unwrap_or_default();
        serde_urlencoded::from_str(query)
            .map(QueryParams)
            .map_err(|error| ApiError::BadRequest(format!("Invalid query string: {error}")))
    }
}

#[cfg(test)]
mod tests {
    use super::is_json;

    #[test]
    fn json_content_types_are_recognized() {
        assert!(is_json("application/json"));
        assert!(is_json("Application/JSON; charset=utf-8"));
        assert!(is_json("application/merge-patch+json"));
        assert!(!is_json("text/plain"));
        assert!(!is_json("application/x-www-form-urlencoded"));
    }
}
