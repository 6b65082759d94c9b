//! `GET /metrics` (at the root, no auth), and the middleware that counts every request by route
//! template, method and status. The registry itself is `platform::metrics`.
//!
//! The body is the Prometheus text format 0.0.4 (`text/plain; version=0.0.4`), or OpenMetrics 1.0
//! when the scraper's `Accept` asks for `application/openmetrics-text` (Prometheus does).

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use platform::metrics::{Metrics, OPENMETRICS_CONTENT_TYPE, TEXT_CONTENT_TYPE, UNMATCHED};

use crate::hooks::{Hook, Step};
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
#[derive(Clone)]
pub struct Track(pub Arc<Metrics>);

/// A request being counted.
pub struct Counted {
    metrics: Arc<Metrics>,
    route: Option<MatchedPath>,
    method: Method,
    started: Instant,
}

impl Hook for Track {
    type Step = Counted;

    fn before(&self, request: &Request) -> Option<Counted> {
        let route = request.extensions().get::<MatchedPath>().cloned();
        Some(Counted { metrics: Arc::clone(&self.0), route, method: request.method().clone(), started: Instant::now() })
    }
}

impl Step for Counted {
    fn after(self, response: &mut Response) {
        let route = self.route.as_ref().map_or(UNMATCHED, MatchedPath::as_str);
        self.metrics.record_request(route, &self.method, response.status(), self.started.elapsed().as_secs_f64());
    }
}
