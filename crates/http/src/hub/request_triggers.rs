//! Hub requests that start formula runs (the `elementRequest` trigger; the rules and the node's
//! table are `platform::formulas::request_triggers`'s). A layer around every route that acts on
//! the hub's (those under `/hubs/` and `/objects`): after a successful answer for an instance some
//! formula instance watches, the answer's body is read (and sent on unchanged) and the matching
//! runs are created in the background. An answer for an instance nothing watches passes through
//! untouched.
//!
//! A tower layer rather than `axum::middleware::from_fn`: while no formula uses the trigger (one
//! atomic read), a request goes straight to the route, with no boxed future, no boxed `Next` and
//! no clone of the route's boxed services, which `from_fn` paid on every call (about 1,500
//! instructions of a hub call, BENCHMARKS.md "The hot path"). It is one of the router's own
//! layers, composed with the others, rather than a `route_layer` on the hub's routes, which wrapped
//! each of them in one more boxed service, cloned and its future boxed on every hub call.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::task::{Context, Poll};

use axum::body::Body;
use axum::extract::{Query, Request};
use axum::response::{IntoResponse, Response};
use futures_util::future::{BoxFuture, Either};
use platform::formulas::request_triggers::HubRequest;
use serde_json::{Map, Value};
use store::InstanceId;
use tower::{Layer, Service, ServiceExt};

use crate::error::ApiError;
use crate::state::AppState;

/// The layer: [`Fire`] around each route.
#[derive(Clone)]
pub struct FireLayer(AppState);

impl FireLayer {
    pub fn new(state: AppState) -> Self {
        FireLayer(state)
    }
}

impl<S> Layer<S> for FireLayer {
    type Service = Fire<S>;

    fn layer(&self, inner: S) -> Fire<S> {
        Fire { inner, state: self.0.clone() }
    }
}

/// A route, and the formula runs its successful answers may start if it is one of the hub's.
#[derive(Clone)]
pub struct Fire<S> {
    inner: S,
    state: AppState,
}

impl<S> Service<Request> for Fire<S>
where
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Either<S::Future, BoxFuture<'static, Result<Response, Infallible>>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        if !self.state.platform.request_triggers.any() || !hub_route(request.uri().path()) {
            return Either::Left(self.inner.call(request));
        }
        // The instance that was made ready serves this request; a fresh clone waits for the next.
        let fresh = self.inner.clone();
        let ready = std::mem::replace(&mut self.inner, fresh);
        let state = self.state.clone();
        Either::Right(Box::pin(async move { Ok(fire(state, request, ready).await) }))
    }
}

/// Whether `path` is one the hub's routes serve: under `/hubs/`, or `/objects` and under it.
fn hub_route(path: &str) -> bool {
    let Some(path) = path.strip_prefix(crate::API_PREFIX) else { return false };
    path.starts_with("/hubs/") || path == "/objects" || path.starts_with("/objects/")
}

/// Serves `request` through `route`, then starts the runs its answer triggers.
async fn fire<S>(state: AppState, request: Request, route: S) -> Response
where
    S: Service<Request, Response = Response, Error = Infallible>,
{
    let method = request.method().as_str().to_owned();
    let uri = request.uri().clone();
    let Ok(response) = route.oneshot(request).await;
    if !response.status().is_success() {
        return response;
    }
    let watched = response
        .headers()
        .get("elements-element-instance-id")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<i64>().ok())
        .map(InstanceId::new)
        .filter(|instance| state.platform.request_triggers.watches(*instance));
    let Some(instance) = watched else { return response };
    let code = response.status().as_u16();
    let (parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, usize::MAX).await else {
        return ApiError::VendorError { message: "The answer could not be read".into(), provider_message: None }
            .into_response();
    };
    let query: Map<String, Value> = Query::<BTreeMap<String, String>>::try_from_uri(&uri)
        .map(|Query(query)| query.into_iter().map(|(key, value)| (key, Value::String(value))).collect())
        .unwrap_or_default();
    let fired = HubRequest {
        instance,
        method,
        // As the formula's trigger names it: from `/hubs/`.
        path: uri.path().strip_prefix(crate::API_PREFIX).unwrap_or(uri.path()).to_owned(),
        query,
        code,
        body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    };
    let platform = state.platform.clone();
    tokio::spawn(async move { platform.fire_request_triggers(fired).await });
    Response::from_parts(parts, Body::from(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hub_routes_are_those_under_hubs_and_objects() {
        for hub in ["/hubs/crm/contacts", "/hubs/crm/raw/v2/contacts/7", "/objects", "/objects/contacts/metadata"] {
            assert!(hub_route(&format!("{}{hub}", crate::API_PREFIX)), "{hub}");
        }
        for other in ["/instances", "/objectsx", "/hubs", "/formulas/1/instances", "/elements/infusionsoftcrm"] {
            assert!(!hub_route(&format!("{}{other}", crate::API_PREFIX)), "{other}");
        }
        for outside in ["/hubs/crm/contacts", "/healthz", "/console/hubs/crm"] {
            assert!(!hub_route(outside), "{outside}");
        }
    }
}
