//! Junction's HTTP surface: the platform API under `/elements/api-v2` (elements, instances), the hub
//! API (`/hubs/{hub}/...`: the vendor's data through the object mappings), the web console at `/`,
//! and the health probes.
//!
//! # Layout
//! - [`app`]: the surface as the server runs it: the [`router`], with the hub's raw passthrough
//!   served ahead of it;
//! - [`state`]: the one [`AppState`] every handler receives (the `platform::Platform` inside);
//! - [`error`]: the one error type, mapped to a status and the JSON error body once, and the one
//!   place where the engine's typed errors (`HubError`, `VendorError`, `TokenError`,
//!   `PlatformError`) become statuses and messages;
//! - [`request_id`]: `Elements-Request-Id` on every response, one log line per request;
//! - [`json_body`]: JSON bodies and query strings with JSON errors, and the body limit;
//! - [`cors`]: CORS for the API, off unless origins are configured (`--cors-origins`);
//! - [`auth`]: the platform (`User`, `Organization`) and hub (`User`, `Element`) extractors;
//! - [`elements`], [`instances`], [`hub`], [`health`]: the routes, one module per API area;
//! - [`common_resources`]: organizations' object definitions and transformations;
//! - [`formulas`]: organizations' formula templates (create/import, list, read, replace, merge
//!   patch, delete, export);
//! - [`formula_runs`]: formula instances, manual runs, and the execution history with its steps;
//! - [`metrics`]: `GET /metrics`, and the middleware that counts every request;
//! - [`provisioning`]: turning a create request into a stored instance (code exchange);
//! - [`caller_cache`]: forgetting cached hub callers after instance writes;
//! - [`hooks`]: the router's own middleware (metrics, request id, caller cache) as tower services;
//! - [`instance_view`]: the instance as the seeds show it on the wire;
//! - [`console`]: the web console at `/` (HTML pages, sessions, the browser OAuth flow);
//! - [`api_docs`]: the OpenAPI documents of the hub and platform APIs.
//!
//! Business rules live in `domain`; the vendor pipeline in `hub` and `connector`; tokens, jobs
//! and metrics in `platform`; SQL in `store`. Nothing here calls the vendor's REST API itself.

/// A path under [`API_PREFIX`], put together at compile time. The API's routes are written with
/// it rather than nested under the prefix: `Router::nest` wraps every route in a layer that
/// rebuilds each request's URI without the prefix and records the nested path, about 3,000
/// instructions a request (BENCHMARKS.md "The hot path"). Handlers see the whole path.
macro_rules! api {
    ($path:literal) => {
        concat!("/elements/api-v2", $path)
    };
}

pub mod api_docs;
pub mod app;
pub mod auth;
pub mod caller_cache;
pub mod common_resources;
pub mod console;
pub mod cors;
pub mod elements;
pub mod error;
pub mod event_hooks;
pub mod formula_runs;
pub mod formulas;
pub mod health;
pub mod hooks;
pub mod hub;
pub mod instance_configuration;
pub mod instance_events;
pub mod instance_view;
pub mod instances;
pub mod json_body;
pub mod metrics;
pub mod organizations;
mod path_param;
pub mod provisioning;
pub mod reauthentication;
pub mod request_id;
pub mod state;

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::Router;
use caller_cache::ForgetOnInstanceWrites;
use hooks::HookLayer;
use hub::request_triggers::FireLayer;
use request_id::AssignLayer;
use tower::layer::util::{Identity, Stack};
use tower::ServiceBuilder;

pub use app::{app, App};
pub use error::ApiError;
pub use state::AppState;

/// The prefix the existing clients use for every platform and hub call.
pub const API_PREFIX: &str = api!("");

/// The whole HTTP surface: the API under [`API_PREFIX`], the probes at the root.
pub fn router(state: AppState) -> Router {
    let api = Router::new().merge(elements::routes()).merge(instances::routes()).merge(hub::routes());
    let api = api.merge(organizations::routes()).merge(api_docs::routes()).merge(instance_events::routes());
    let api = api.merge(event_hooks::routes()).merge(common_resources::routes());
    let api = api.merge(formulas::routes());
    let api = api.merge(formula_runs::routes());
    let api = match state.cors_origins.layer() {
        // The JSON 405 is set before the layer so that the layer also wraps it: a preflight to a
        // path without an OPTIONS route reaches the CORS layer instead of the outer 405.
        Some(cors) => api.method_not_allowed_fallback(error::method_not_allowed).layer(cors),
        None => api,
    };
    Router::new()
        .merge(api)
        .merge(console::routes())
        .merge(health::routes())
        .merge(metrics::routes())
        .fallback(error::not_found)
        .method_not_allowed_fallback(error::method_not_allowed)
        .layer(hooks(&state, metrics::Track::matched(Arc::clone(&state.platform.metrics))))
        .with_state(state)
}

/// The router's own layers, outermost first: the requests' metrics, the request id (its log
/// context and line), forgetting cached hub callers after instance writes, the body limit, the
/// formula runs a hub request triggers (it acts on the hub's routes alone; as a `route_layer` on
/// them it was one more boxed level on every hub call).
pub(crate) type Hooks = Stack<
    FireLayer,
    Stack<
        DefaultBodyLimit,
        Stack<HookLayer<ForgetOnInstanceWrites>, Stack<AssignLayer, Stack<HookLayer<metrics::Track>, Identity>>>,
    >,
>;

/// The layers every route runs under ([`Hooks`]), counted by `track`. Composed into one layer
/// rather than given to `Router::layer` one by one: each `layer` call wraps every route in another
/// boxed, cloneable service, and every wrapper clones the boxes inside it on each call, which at
/// four levels was some forty allocations per request; and tower services rather than `from_fn`,
/// which boxed a future and a clone of the route per layer per request (BENCHMARKS.md "The hot
/// path").
pub(crate) fn hooks(state: &AppState, track: metrics::Track) -> ServiceBuilder<Hooks> {
    ServiceBuilder::new()
        .layer(HookLayer(track))
        .layer(AssignLayer)
        .layer(HookLayer(ForgetOnInstanceWrites(Arc::clone(&state.platform.callers))))
        .layer(DefaultBodyLimit::max(json_body::BODY_LIMIT))
        .layer(FireLayer::new(state.clone()))
}
