//! The HTTP surface as the server runs it: [`App`], the [`router`](crate::router) with the hub's
//! raw passthrough (`ANY /hubs/{hub}/raw/{*path}`) served ahead of it.
//!
//! A raw call is the hottest request there is, and axum's routing was a quarter of Junction's own
//! work on it: the route lookup and its URL parameters (two allocations each), the clones of the
//! boxed route and method services, three boxed futures, the extractors' copies of the path
//! (BENCHMARKS.md "The raw passthrough ahead of the router"). Here its path is taken apart by
//! [`raw::vendor_path`] and its handler called under the router's own layers (metrics, under the
//! route's template; request id and log line; caller cache; body limit; request triggers), so a
//! client sees the same answer, header for header. What the router would treat differently goes
//! to the router: a path with an escape (the router decodes it, or refuses it with a 400), an empty
//! hub or vendor path, a `HEAD` (the router answers it without a body, with the body's length),
//! and every request while CORS is configured (its layer wraps the API's routes alone).

use std::convert::Infallible;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::extract::Request;
use axum::http::Method;
use axum::response::Response;
use axum::routing::future::RouteFuture;
use axum::Router;
use futures_util::future::{BoxFuture, Either};
use tower::{Layer, Service};

use crate::hub::raw;
use crate::state::AppState;
use crate::{hooks, metrics, router, Hooks};

/// The router, and the raw passthrough ahead of it (`None` while CORS is configured).
#[derive(Clone)]
pub struct App {
    router: Router,
    raw: Option<<Hooks as Layer<RawRoute>>::Service>,
}

/// The whole HTTP surface for `state`.
pub fn app(state: AppState) -> App {
    let raw = state.cors_origins.layer().is_none().then(|| {
        let track = metrics::Track::on(Arc::clone(&state.platform.metrics), raw::ROUTE);
        hooks(&state, track).service(RawRoute(state.clone()))
    });
    App { router: router(state), raw }
}

/// Whether `request` may go to the raw passthrough without the router.
fn raw_call(request: &Request) -> bool {
    request.method() != Method::HEAD && raw::vendor_path(request.uri().path()).is_some()
}

impl Service<Request> for App {
    type Response = Response;
    type Error = Infallible;
    type Future = Either<<<Hooks as Layer<RawRoute>>::Service as Service<Request>>::Future, RouteFuture<Infallible>>;

    /// Both are always ready: the router's routes are, and so is the raw route under its layers.
    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request) -> Self::Future {
        match &mut self.raw {
            Some(raw) if raw_call(&request) => Either::Left(raw.call(request)),
            _ => Either::Right(self.router.call(request)),
        }
    }
}

/// The raw passthrough's handler as a service.
#[derive(Clone)]
pub struct RawRoute(AppState);

impl Service<Request> for RawRoute {
    type Response = Response;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Response, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let state = self.0.clone();
        Box::pin(async move { Ok(raw::serve(state, request).await) })
    }
}

#[cfg(test)]
mod tests {
    use axum::body::Body;

    use super::*;

    fn request(method: Method, path: &str) -> Request {
        Request::builder().method(method).uri(path).body(Body::empty()).unwrap()
    }

    #[test]
    fn plain_raw_calls_go_ahead_of_the_router_and_the_rest_through_it() {
        let raw = "/elements/api-v2/hubs/crm/raw/v2/contacts/7?optional_properties=notes";
        for method in [Method::GET, Method::POST, Method::PUT, Method::PATCH, Method::DELETE, Method::OPTIONS] {
            assert!(raw_call(&request(method.clone(), raw)), "{method}");
        }
        assert!(raw_call(&request(Method::GET, "/elements/api-v2/hubs/anything/raw/v1/x/../y")));
        assert!(!raw_call(&request(Method::HEAD, raw)), "HEAD: the router answers without the body");
        for through_the_router in [
            "/elements/api-v2/hubs/crm/raw/v2/%63ontacts",
            "/elements/api-v2/hubs/c%72m/raw/v2/contacts",
            "/elements/api-v2/hubs/crm/raw/",
            "/elements/api-v2/hubs//raw/v2/contacts",
            "/elements/api-v2/hubs/crm/raw",
            "/elements/api-v2/hubs/crm/contacts/7",
            "/elements/api-v2/hubs/crm/bulk/raw/x",
            "/elements/api-v2/hubs/raw/v2/contacts",
            "/elements/api-v2/instances",
            "/hubs/crm/raw/v2/contacts",
            "/console/hubs/crm/raw/v2/contacts",
        ] {
            assert!(!raw_call(&request(Method::GET, through_the_router)), "{through_the_router}");
        }
    }
}
