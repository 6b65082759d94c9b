//! The vendor's error bodies, one type per family: REST v2 (`{code, message, status, details}`),
//! REST v1 (`{message}`), the API gateway's `fault` envelope (401s before routing, 429s) and
//! RFC 6749 OAuth errors. Handlers return these; nothing else builds an error response.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

/// An error of the REST API, rendered in the v2 shape (the v1 router wraps it in [`V1Error`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
}

impl ApiError {
    pub fn bad_request(message: impl Into<String>) -> Self {
        ApiError { status: StatusCode::BAD_REQUEST, message: message.into() }
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        ApiError { status: StatusCode::NOT_FOUND, message: message.into() }
    }
    pub fn conflict(message: impl Into<String>) -> Self {
        ApiError { status: StatusCode::CONFLICT, message: message.into() }
    }
    pub fn method_not_allowed() -> Self {
        ApiError { status: StatusCode::METHOD_NOT_ALLOWED, message: "Method not allowed".into() }
    }

    /// The canonical status name the v2 API puts in `status`.
    fn status_name(&self) -> &'static str {
        match self.status {
            StatusCode::BAD_REQUEST => "INVALID_ARGUMENT",
            StatusCode::UNAUTHORIZED => "UNAUTHENTICATED",
            StatusCode::FORBIDDEN => "PERMISSION_DENIED",
            StatusCode::NOT_FOUND => "NOT_FOUND",
            StatusCode::METHOD_NOT_ALLOWED => "METHOD_NOT_ALLOWED",
            StatusCode::CONFLICT => "ALREADY_EXISTS",
            StatusCode::PAYLOAD_TOO_LARGE => "INVALID_ARGUMENT",
            StatusCode::UNSUPPORTED_MEDIA_TYPE => "INVALID_ARGUMENT",
            _ => "INTERNAL",
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({
            "code": self.status.as_u16(),
            "message": self.message,
            "status": self.status_name(),
            "details": [],
        });
        (self.status, Json(body)).into_response()
    }
}

/// A REST v1 error: `{"message": ...}` with the same status.
#[derive(Debug)]
pub struct V1Error(pub ApiError);

impl From<ApiError> for V1Error {
    fn from(e: ApiError) -> Self {
        V1Error(e)
    }
}

impl IntoResponse for V1Error {
    fn into_response(self) -> Response {
        (self.0.status, Json(json!({ "message": self.0.message }))).into_response()
    }
}

/// Why the gateway refused a bearer token or API key, with the vendor's `errorcode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenProblem {
    Missing,
    Invalid,
    Expired,
    /// An `X-Keap-API-Key` the vendor never issued (or that was revoked).
    InvalidApiKey,
}

/// The gateway's 401: `{"fault":{"faultstring":...,"detail":{"errorcode":...}}}`.
pub fn gateway_unauthorized(problem: TokenProblem) -> Response {
    let (text, code) = match problem {
        TokenProblem::Missing => ("Invalid access token", "oauth.v2.InvalidAccessToken"),
        TokenProblem::Invalid => ("Invalid Access Token", "keymanagement.service.invalid_access_token"),
        TokenProblem::Expired => ("Access Token expired", "keymanagement.service.access_token_expired"),
        // The gateway's (Apigee's) API key check answers in the same envelope with its own code.
        TokenProblem::InvalidApiKey => ("Invalid ApiKey", "oauth.v2.InvalidApiKey"),
    };
    let body = json!({"fault": {"faultstring": text, "detail": {"errorcode": code}}});
    let mut response = (StatusCode::UNAUTHORIZED, Json(body)).into_response();
    response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    response
}

/// The 429 the vendor sends past a rate limit (captured body: code as a string, details null).
pub fn throttled() -> Response {
    let body = json!({"code": "429", "message": "Quota Exceeded", "status": "Request Throttled", "details": null});
    (StatusCode::TOO_MANY_REQUESTS, Json(body)).into_response()
}

/// An RFC 6749 §5.2 error from the token endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthError {
    pub status: StatusCode,
    pub error: &'static str,
    pub description: String,
}

impl OAuthError {
    pub fn new(error: &'static str, description: impl Into<String>) -> Self {
        let status = if error == "invalid_client" { StatusCode::UNAUTHORIZED } else { StatusCode::BAD_REQUEST };
        OAuthError { status, error, description: description.into() }
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let body = json!({"error": self.error, "error_description": self.description});
        let mut response = (self.status, Json(body)).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
        if self.status == StatusCode::UNAUTHORIZED {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"token\""));
        }
        response
    }
}
