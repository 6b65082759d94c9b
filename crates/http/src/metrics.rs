//! `GET /metrics` (at the root, no auth), and the middleware that counts every request by route
//! template, method and status. The registry itself is `platform::metrics`.
//!
//! The body is the Prometheus text format 0.0.4 (`text/plain; version=0.0.4`), or OpenMetrics 1.0
//! when the scraper's `Accept` asks for `application/openmetrics-text` (Prometheus does).

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use platform::metrics::{OPENMETRICS_CONTENT_TYPE, TEXT_CONTENT_TYPE, UNMATCHED};

use crate::state::AppState;

/// `GET /metrics`, at the root.
pub fn routes() -> Router<AppState> {
    Router::new().route("/metrics", get(scrape))
}

async fn scrape(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let wants_openmetrics = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .any(|accept| accept.contains("application/openmetrics-text"));
    let (content_type, body) = if wants_openmetrics {
        (OPENMETRICS_CONTENT_TYPE, state.platform.metrics.openmetrics())
    } else {
        (TEXT_CONTENT_TYPE, state.platform.metrics.text())
    };
    ([(header::CONTENT_TYPE, HeaderValue::from_static(content_type))], body).into_response()
}

/// Middleware: counts every request by route template, method and status, and its latency.
pub async fn track(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let route = request.extensions().get::<MatchedPath>().map_or(UNMATCHED, MatchedPath::as_str).to_owned();
    let method = request.method().clone();
    let started = Instant::now();
    let response = next.run(request).await;
    state.platform.metrics.record_request(&route, &method, response.status(), started.elapsed().as_secs_f64());
    response
}
