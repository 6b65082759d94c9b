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

/// Middleware: counts every request by route template, method and status, and its latency. The
/// template is the one axum matched, or the one given when the request is routed without axum
/// ([`crate::app`]).
#[derive(Clone)]
pub struct Track {
    metrics: Arc<Metrics>,
    route: Option<&'static str>,
}

impl Track {
    /// Counts requests under the route axum matched for them.
    pub fn matched(metrics: Arc<Metrics>) -> Self {
        Track { metrics, route: None }
    }

    /// Counts every request under `route`.
    pub fn on(metrics: Arc<Metrics>, route: &'static str) -> Self {
        Track { metrics, route: Some(route) }
    }
}

/// A request being counted.
pub struct Counted {
    metrics: Arc<Metrics>,
    route: Route,
    method: Method,
    started: Instant,
}

/// The route a request is counted under: the one axum matched, or a known one (`unmatched` too).
enum Route {
    Matched(MatchedPath),
    Known(&'static str),
}

impl Hook for Track {
    type Step = Counted;

    fn before(&self, request: &Request) -> Option<Counted> {
        let route = match (self.route, request.extensions().get::<MatchedPath>()) {
            (Some(route), _) => Route::Known(route),
            (None, Some(matched)) => Route::Matched(matched.clone()),
            (None, None) => Route::Known(UNMATCHED),
        };
        let metrics = Arc::clone(&self.metrics);
        Some(Counted { metrics, route, method: request.method().clone(), started: Instant::now() })
    }
}

impl Step for Counted {
    fn after(self, response: &mut Response) {
        let route = match &self.route {
            Route::Matched(matched) => matched.as_str(),
            Route::Known(route) => route,
        };
        self.metrics.record_request(route, &self.method, response.status(), self.started.elapsed().as_secs_f64());
    }
}
