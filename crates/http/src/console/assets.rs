//! `GET /assets/{file}`: the console's stylesheet, script and logos, compiled into the binary.

use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, X_CONTENT_TYPE_OPTIONS};
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;
use crate::path_param::PathParam;

/// Every asset: file name, media type, content.
const ASSETS: [(&str, &str, &str); 4] = [
    ("console.css", "text/css; charset=utf-8", include_str!("../../assets/console.css")),
    ("console.js", "text/javascript; charset=utf-8", include_str!("../../assets/console.js")),
    ("logo.svg", "image/svg+xml", include_str!("../../assets/logo.svg")),
    ("logo-infusionsoft.svg", "image/svg+xml", include_str!("../../assets/logo-infusionsoft.svg")),
];

pub async fn serve(PathParam(file): PathParam<String>) -> Response {
    match ASSETS.iter().find(|(name, _, _)| *name == file) {
        Some((_, media_type, content)) => (
            [(CONTENT_TYPE, *media_type), (CACHE_CONTROL, "public, max-age=3600"), (X_CONTENT_TYPE_OPTIONS, "nosniff")],
            *content,
        )
            .into_response(),
        None => ApiError::NotFound("No such asset".into()).into_response(),
    }
}
