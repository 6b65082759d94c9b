//! The HTTP layer's one error type, mapped to a status and the platform's JSON error body once.
//!
//! Owns the status of every failure (SPEC "Errors and common headers": 400 bad input, 401 auth, 403
//! disabled instance or vendor refusal, 404 unknown object, 409 conflict, 413/415 unusable body, 502
//! vendor error, 504 vendor timeout) and the body `{"requestId", "message"[, "providerMessage"]}`.
//! Messages name a field or a cause and never a secret value; store and database failures are
//! logged by kind and answered with a generic sentence, so no internal detail leaks.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use domain::DomainError;
use serde::Serialize;
use store::StoreError;

use crate::request_id;

/// Every way a request can fail. Each variant's message is safe to show and to log.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// A domain rule was broken by the request (missing/invalid field, unknown element, ...).
    #[error(transparent)]
    Domain(#[from] DomainError),
    /// Bad input the domain does not know about (body shape, query parameters).
    #[error("{0}")]
    BadRequest(String),
    /// Missing or wrong credentials, an unknown or revoked instance token.
    #[error("{0}")]
    Unauthorized(String),
    /// A disabled instance, or an instance whose vendor authorization was revoked.
    #[error("{message}")]
    Forbidden { message: String, provider_message: Option<String> },
    /// No such object (or another organization's).
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    MethodNotAllowed(String),
    #[error("The request body is larger than the limit of {0} bytes")]
    PayloadTooLarge(usize),
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// The vendor refused the request's input (e.g. a reused authorization code).
    #[error("{message}")]
    VendorRejected { message: String, provider_message: Option<String> },
    /// The vendor answered with an error, or not in a usable form.
    #[error("{message}")]
    VendorError { message: String, provider_message: Option<String> },
    /// The vendor did not answer in time or could not be reached.
    #[error("{0}")]
    VendorTimeout(String),
    /// The vendor's rate limit was hit (here or at the vendor); retry after `retry_after_secs`.
    #[error("{message}")]
    RateLimited { message: String, retry_after_secs: u64 },
    /// The vendor has no such record.
    #[error("{message}")]
    VendorNotFound { message: String, provider_message: Option<String> },
    /// The store failed; the detail is logged, not shown.
    #[error("store failure")]
    Store(#[source] StoreError),
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NotFound => ApiError::NotFound("No instance found with this id".into()),
            StoreError::Conflict(what) => ApiError::Conflict(format!("A {what} with this value already exists")),
            StoreError::InvalidCursor => ApiError::BadRequest("Invalid parameter 'nextPage': not a page token".into()),
            other => ApiError::Store(other),
        }
    }
}

impl ApiError {
    pub(crate) fn status(&self) -> StatusCode {
        match self {
            ApiError::Domain(DomainError::ElementNotFound(_)) => StatusCode::NOT_FOUND,
            ApiError::Domain(DomainError::BadAuthorization(_)) => StatusCode::UNAUTHORIZED,
            ApiError::Domain(_) | ApiError::BadRequest(_) | ApiError::VendorRejected { .. } => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden { .. } => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::VendorError { .. } => StatusCode::BAD_GATEWAY,
            ApiError::VendorTimeout(_) => StatusCode::GATEWAY_TIMEOUT,
            ApiError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::VendorNotFound { .. } => StatusCode::NOT_FOUND,
            ApiError::Store(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    fn provider_message(&self) -> Option<&str> {
        match self {
            ApiError::Forbidden { provider_message, .. }
            | ApiError::VendorRejected { provider_message, .. }
            | ApiError::VendorError { provider_message, .. }
            | ApiError::VendorNotFound { provider_message, .. } => provider_message.as_deref(),
            _ => None,
        }
    }
}

/// The wire shape of every error.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ErrorBody<'a> {
    request_id: String,
    message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    provider_message: Option<&'a str>,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        match &self {
            // The store's error names a kind (never a value); it is logged here, once.
            ApiError::Store(source) => tracing::error!(error = %source, "store failure"),
            _ if status.is_server_error() => {
                tracing::warn!(status = status.as_u16(), message = %self, "vendor failure")
            }
            _ => tracing::debug!(status = status.as_u16(), message = %self, "request refused"),
        }
        let message = match &self {
            ApiError::Store(_) => "The platform's database is unavailable; try again later".to_string(),
            other => other.to_string(),
        };
        let body = ErrorBody { request_id: request_id::current(), message, provider_message: self.provider_message() };
        let mut response = (status, Json(body)).into_response();
        if let ApiError::RateLimited { retry_after_secs, .. } = &self {
            response.headers_mut().insert("retry-after", HeaderValue::from((*retry_after_secs).max(1)));
        }
        response
    }
}

/// The answer of routes that do not exist: the platform's JSON 404, not axum's empty one.
pub async fn not_found() -> ApiError {
    ApiError::NotFound("No such resource".into())
}

/// The answer to a known path with a method it does not serve.
pub async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed("This resource does not support this method".into())
}
