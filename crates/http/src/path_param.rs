//! Path parameters with the API's JSON error: axum's own `Path` rejection is plain text (e.g. for
//! `%FF` in an id), and every error of this API is JSON.

use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// Like `axum::extract::Path`, rejecting with a JSON 400.
pub struct PathParam<T>(pub T);

impl<T, S> FromRequestParts<S> for PathParam<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match Path::<T>::from_request_parts(parts, state).await {
            Ok(Path(value)) => Ok(PathParam(value)),
            Err(_) => Err(ApiError::BadRequest("Invalid path: a path segment is not valid UTF-8 text".into())),
        }
    }
}
