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
use connector::{TokenError, VendorError};
use domain::token_rules::TransientCause;
use domain::DomainError;
use hub::HubError;
use platform::bulk::BulkError;
use platform::common_resources::ResourceError;
use platform::events::EventsError;
use platform::formulas::FormulaError;
use platform::PlatformError;
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
    /// The resource exists but not with this method; `allow` lists the methods it has, when known
    /// (the `Allow` header).
    #[error("{message}")]
    MethodNotAllowed { message: String, allow: Option<String> },
    /// A capability of the platforms Junction does not offer yet.
    #[error("{0}")]
    NotImplemented(String),
    #[error("The request body is larger than the limit of {0} bytes")]
    PayloadTooLarge(usize),
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// A `Range` outside what there is to read.
    #[error("{0}")]
    RangeNotSatisfiable(String),
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
    /// Where vendor tokens are kept failed; the detail (a kind, never a value) is logged, not shown.
    #[error("token storage failure: {0}")]
    TokenStorage(String),
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

impl From<ResourceError> for ApiError {
    fn from(error: ResourceError) -> Self {
        match error {
            ResourceError::Invalid(message) => ApiError::BadRequest(message),
            ResourceError::NotFound(message) => ApiError::NotFound(message),
            ResourceError::Conflict(message) => ApiError::Conflict(message),
            ResourceError::Store(error) => error.into(),
        }
    }
}

impl From<FormulaError> for ApiError {
    fn from(error: FormulaError) -> Self {
        match error {
            FormulaError::BadRequest(_) | FormulaError::Load(_) | FormulaError::Invalid(_) => {
                ApiError::BadRequest(error.to_string())
            }
            FormulaError::NotFound(_) => ApiError::NotFound(error.to_string()),
            FormulaError::NameTaken(_) | FormulaError::Conflict(_) => ApiError::Conflict(error.to_string()),
            FormulaError::Store(error) => error.into(),
        }
    }
}

impl From<EventsError> for ApiError {
    fn from(error: EventsError) -> Self {
        match error {
            EventsError::NotEnabled => ApiError::Conflict(error.to_string()),
            EventsError::Busy => ApiError::Conflict(error.to_string()),
            EventsError::Settings(message) => ApiError::BadRequest(message),
            EventsError::Delivery(error) => ApiError::BadRequest(error.to_string()),
            EventsError::Hub(error) => error.into(),
            EventsError::Store(error) => error.into(),
        }
    }
}

impl From<BulkError> for ApiError {
    fn from(error: BulkError) -> Self {
        match error {
            BulkError::BadRequest(_) | BulkError::BadFile(_) => ApiError::BadRequest(error.to_string()),
            BulkError::TooLarge(limit) => ApiError::PayloadTooLarge(usize::try_from(limit).unwrap_or(usize::MAX)),
            BulkError::NotFound => ApiError::NotFound(error.to_string()),
            BulkError::Hub(error) => error.into(),
            BulkError::Store(error) => error.into(),
        }
    }
}

impl From<HubError> for ApiError {
    fn from(error: HubError) -> Self {
        match error {
            HubError::BadRequest(message) => ApiError::BadRequest(message),
            HubError::NotFound(message) => ApiError::NotFound(message),
            HubError::NotAllowed(message) => ApiError::MethodNotAllowed { message, allow: None },
            HubError::Incomplete { message, provider_message } => {
                ApiError::VendorRejected { message, provider_message }
            }
            HubError::Vendor(error) => error.into(),
        }
    }
}

impl From<VendorError> for ApiError {
    fn from(error: VendorError) -> Self {
        match error {
            VendorError::LimitReached { retry_after } => ApiError::RateLimited {
                message: "The vendor's rate limit for this OAuth client is reached; retry later".into(),
                retry_after_secs: whole_seconds_up(retry_after),
            },
            VendorError::Throttled { retry_after } => ApiError::RateLimited {
                message: "The vendor refused the call: rate limit exceeded".into(),
                retry_after_secs: retry_after.map_or(1, |wait| wait.as_secs().max(1)),
            },
            VendorError::Timeout => ApiError::VendorTimeout("The vendor did not answer in time".into()),
            VendorError::Unreachable => ApiError::VendorError {
                message: "The vendor could not be reached or closed the connection".into(),
                provider_message: None,
            },
            VendorError::Status { status, provider_message } => {
                let message = format!("The vendor answered HTTP {status}");
                match status {
                    400 | 409 | 422 => ApiError::VendorRejected { message, provider_message },
                    401 | 403 => ApiError::Forbidden { message, provider_message },
                    404 => {
                        ApiError::VendorNotFound { message: "The vendor has no such record".into(), provider_message }
                    }
                    429 => ApiError::RateLimited { message, retry_after_secs: 1 },
                    _ => ApiError::VendorError { message, provider_message },
                }
            }
            VendorError::NotJson => {
                ApiError::VendorError { message: "The vendor's answer was not JSON".into(), provider_message: None }
            }
            VendorError::InvalidPath => ApiError::BadRequest("The vendor path is not a valid URL path".into()),
            VendorError::Token(error) => error.into(),
        }
    }
}

impl From<TokenError> for ApiError {
    fn from(error: TokenError) -> Self {
        match error {
            TokenError::Invalid { instance_id, provider_message } => ApiError::Forbidden {
                message: match instance_id {
                    Some(id) => format!(
                        "The vendor rejected instance {id}'s refresh token (invalid_grant); the instance is not \
                         valid and must be re-authenticated"
                    ),
                    None => "The vendor rejected the stored refresh token (invalid_grant); authorize again".into(),
                },
                provider_message,
            },
            TokenError::Transient(cause) => transient(&cause),
            TokenError::RefreshFailed => ApiError::VendorError {
                message: "The vendor's token endpoint failed; the instance stays valid, try again".into(),
                provider_message: None,
            },
            TokenError::NoAccessToken => ApiError::VendorError {
                message: "The instance holds no vendor access token".into(),
                provider_message: None,
            },
            TokenError::Storage(detail) => ApiError::TokenStorage(detail),
        }
    }
}

impl From<PlatformError> for ApiError {
    fn from(error: PlatformError) -> Self {
        match error {
            PlatformError::Token(error) => error.into(),
            PlatformError::Store(error) => error.into(),
            PlatformError::GrantRejected { what, provider_message } => {
                ApiError::VendorRejected { message: format!("The vendor rejected the {what}"), provider_message }
            }
            PlatformError::NoRefreshToken { consequence } => ApiError::VendorError {
                message: format!("The vendor issued no refresh token; the instance {consequence}"),
                provider_message: None,
            },
            PlatformError::CodeReplayed { same_organization: true, instance_id: Some(id) } => {
                ApiError::Conflict(format!(
                "The authorization code (providerData.code) was already exchanged: it created instance {id}. A code \
                 works once; send the user to the authorize URL again for a new one"
            ))
            }
            PlatformError::CodeReplayed { same_organization: true, instance_id: None } => ApiError::Conflict(
                "The authorization code (providerData.code) is being exchanged or was already exchanged. A code works \
                 once; send the user to the authorize URL again for a new one"
                    .into(),
            ),
            PlatformError::CodeReplayed { same_organization: false, .. } => ApiError::BadRequest(
                "The authorization code (providerData.code) was already used. A code works once; send the user to \
                 the authorize URL again for a new one"
                    .into(),
            ),
            PlatformError::Client(_) => ApiError::VendorError {
                message: "The vendor's HTTP client could not be built".into(),
                provider_message: None,
            },
        }
    }
}

/// The error of a transient token-endpoint failure: the instance stays valid.
pub fn transient(cause: &TransientCause) -> ApiError {
    match cause {
        TransientCause::Timeout => ApiError::VendorTimeout(
            "The vendor's token endpoint did not answer in time; the instance stays valid".into(),
        ),
        TransientCause::Transport => ApiError::VendorError {
            message: "The vendor's token endpoint could not be reached; the instance stays valid".into(),
            provider_message: None,
        },
        TransientCause::RateLimited => ApiError::RateLimited {
            message: "The vendor's token endpoint is rate limiting; the instance stays valid, retry later".into(),
            retry_after_secs: 1,
        },
        // The instance's client credentials are wrong (`invalid_client`): bad input, not a vendor fault.
        TransientCause::Refused { error, description } => ApiError::VendorRejected {
            message: format!(
                "The vendor refused the token request ({error}); check oauth.api.key and oauth.api.secret"
            ),
            provider_message: description.clone(),
        },
        other => ApiError::VendorError {
            message: format!(
                "The vendor's token endpoint failed ({}); the instance stays valid",
                platform::tokens::describe(other)
            ),
            provider_message: None,
        },
    }
}

/// A wait in whole seconds, rounded up, at least one (for `Retry-After`).
fn whole_seconds_up(wait: std::time::Duration) -> u64 {
    u64::try_from(wait.as_millis()).unwrap_or(u64::MAX).div_ceil(1000).max(1)
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
            ApiError::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::NotImplemented(_) => StatusCode::NOT_IMPLEMENTED,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::RangeNotSatisfiable(_) => StatusCode::RANGE_NOT_SATISFIABLE,
            ApiError::VendorError { .. } => StatusCode::BAD_GATEWAY,
            ApiError::VendorTimeout(_) => StatusCode::GATEWAY_TIMEOUT,
            ApiError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::VendorNotFound { .. } => StatusCode::NOT_FOUND,
            ApiError::Store(_) | ApiError::TokenStorage(_) => StatusCode::SERVICE_UNAVAILABLE,
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
            ApiError::TokenStorage(detail) => tracing::error!(error = %detail, "token storage failure"),
            _ if status.is_server_error() => {
                tracing::warn!(status = status.as_u16(), message = %self, "vendor failure")
            }
            _ => tracing::debug!(status = status.as_u16(), message = %self, "request refused"),
        }
        let message = match &self {
            ApiError::Store(_) | ApiError::TokenStorage(_) => {
                "The platform's database is unavailable; try again later".to_string()
            }
            other => other.to_string(),
        };
        let body = ErrorBody { request_id: request_id::current(), message, provider_message: self.provider_message() };
        let mut response = (status, Json(body)).into_response();
        if let ApiError::RateLimited { retry_after_secs, .. } = &self {
            response.headers_mut().insert("retry-after", HeaderValue::from((*retry_after_secs).max(1)));
        }
        if let ApiError::MethodNotAllowed { allow: Some(allow), .. } = &self {
            if let Ok(allow) = HeaderValue::from_str(allow) {
                response.headers_mut().insert(axum::http::header::ALLOW, allow);
            }
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
    ApiError::MethodNotAllowed { message: "This resource does not support this method".into(), allow: None }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use connector::{TokenError, VendorError};
    use domain::token_rules::TransientCause;
    use hub::HubError;
    use platform::formulas::hub_request::response_code;

    use super::ApiError;

    /// A formula's `elementRequest` step sees the status a client of the hub API sees.
    #[test]
    fn formula_steps_see_the_statuses_the_hub_api_answers() {
        let vendor = |error: VendorError| HubError::Vendor(error);
        let token = |error: TokenError| HubError::Vendor(VendorError::Token(error));
        let mut errors = vec![
            HubError::BadRequest("b".into()),
            HubError::NotFound("n".into()),
            HubError::NotAllowed("a".into()),
            HubError::Incomplete { message: "i".into(), provider_message: None },
            vendor(VendorError::LimitReached { retry_after: Duration::from_secs(1) }),
            vendor(VendorError::Throttled { retry_after: None }),
            vendor(VendorError::Timeout),
            vendor(VendorError::Unreachable),
            vendor(VendorError::NotJson),
            vendor(VendorError::InvalidPath),
            token(TokenError::Invalid { instance_id: None, provider_message: None }),
            token(TokenError::RefreshFailed),
            token(TokenError::NoAccessToken),
            token(TokenError::Storage("s".into())),
        ];
        for status in [400, 401, 403, 404, 409, 422, 429, 500, 502, 503] {
            errors.push(vendor(VendorError::Status { status, provider_message: None }));
        }
        for cause in [
            TransientCause::Transport,
            TransientCause::Timeout,
            TransientCause::VendorStatus(500),
            TransientCause::RateLimited,
            TransientCause::MalformedSuccess,
            TransientCause::Refused { error: "invalid_client".into(), description: None },
        ] {
            errors.push(token(TokenError::Transient(cause)));
        }
        for error in errors {
            let step = response_code(&error);
            let shown = format!("{error:?}");
            assert_eq!(ApiError::from(error).status().as_u16(), step, "{shown}");
        }
    }
}
