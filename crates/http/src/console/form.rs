//! The console's form bodies: `application/x-www-form-urlencoded` fields read once, with every
//! failure (wrong media type, too large, not UTF-8) a page naming the problem, and the CSRF check
//! every state-changing form goes through.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::header::CONTENT_TYPE;
use axum::http::StatusCode;
use axum::response::Response;

use super::page::ConsoleError;
use super::session::Session;
use crate::json_body::BODY_LIMIT;
use crate::state::AppState;

/// The query string as `T`; a malformed one reads as `T::default()` (the pages' query parameters
/// are all optional refinements).
pub fn query<T: serde::de::DeserializeOwned + Default>(raw: Option<&str>) -> T {
    serde_urlencoded::from_str(raw.unwrap_or("")).unwrap_or_default()
}

/// A form's fields in the order sent.
#[derive(Debug, Clone, Default)]
pub struct FormFields(pub Vec<(String, String)>);

impl FormFields {
    /// The first value of `name`, trimmed; `""` when absent.
    pub fn get(&self, name: &str) -> &str {
        self.0.iter().find(|(key, _)| key == name).map_or("", |(_, value)| value.trim())
    }

    /// Whether a checkbox `name` was ticked.
    pub fn checked(&self, name: &str) -> bool {
        self.0.iter().any(|(key, value)| key == name && !value.is_empty())
    }

    /// Checks the form's `csrf` field against the session's token.
    pub fn check_csrf(&self, session: &Session) -> Result<(), ConsoleError> {
        if session.csrf_matches(self.get("csrf")) {
            Ok(())
        } else {
            Err(ConsoleError::csrf())
        }
    }
}

impl FromRequest<AppState> for FormFields {
    type Rejection = Response;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Response> {
        read(request, state).await.map_err(|error| error.page(state, None))
    }
}

async fn read(request: Request, state: &AppState) -> Result<FormFields, ConsoleError> {
    let media_type = request.headers().get(CONTENT_TYPE).and_then(|value| value.to_str().ok()).unwrap_or("");
    if !media_type.trim_start().to_ascii_lowercase().starts_with("application/x-www-form-urlencoded") {
        return Err(ConsoleError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "That request could not be used",
            "Console forms are sent as application/x-www-form-urlencoded.",
        ));
    }
    let bytes = Bytes::from_request(request, state).await.map_err(|_| {
        ConsoleError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "That form is too large",
            format!("A form may hold at most {} KiB.", BODY_LIMIT / 1024),
        )
    })?;
    if std::str::from_utf8(&bytes).is_err() {
        return Err(ConsoleError::bad_request("The form is not valid UTF-8 text."));
    }
    let fields = url::form_urlencoded::parse(&bytes).map(|(key, value)| (key.into_owned(), value.into_owned()));
    Ok(FormFields(fields.collect()))
}
