//! The web console at `/` (SPEC "Web console"): sign in with user and organization secrets, browse
//! the element catalog, authenticate an element through the vendor's OAuth consent page, manage
//! instances, watch and run formulas, define and map the organization's common resources, and read
//! and try the API docs.
//!
//! Server-rendered HTML (maud templates, every interpolation escaped), one small script that only
//! improves what already works without it, and assets compiled into the binary: no CDN, no build
//! step outside `cargo build`.
//!
//! - [`session`]: the session cookie and extractor, CSRF tokens;
//! - [`form`]: form bodies and the CSRF check;
//! - [`page`]: the page shell, security headers, error pages;
//! - [`sign_in`], [`catalog`], [`authenticate`], [`oauth_callback`], [`instances`],
//!   [`instance_actions`], [`events_panel`], [`event_actions`], [`bulk_jobs`], [`formulas`],
//!   [`common_resources`], [`resource_editor`], [`mapping_view`], [`api_docs_page`]: the pages, one
//!   module per area;
//! - [`hub_call`]: hub calls made from the console (Test connection, "try it");
//! - [`assets`]: the stylesheet, script and logos.

pub mod api_docs_page;
pub mod assets;
pub mod authenticate;
pub mod bulk_jobs;
pub mod catalog;
pub mod common_resources;
pub mod event_actions;
pub mod events_panel;
pub mod form;
pub mod formulas;
pub mod hub_call;
pub mod instance_actions;
pub mod instances;
pub mod mapping_view;
pub mod oauth_callback;
pub mod page;
pub mod resource_editor;
pub mod session;
pub mod sign_in;

use axum::routing::{get, post};
use axum::Router;

use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(catalog::catalog))
        .route("/sign-in", get(sign_in::form).post(sign_in::submit))
        .route("/sign-out", post(sign_in::sign_out))
        .route("/catalog/{key}", get(catalog::details))
        .route("/catalog/{key}/authenticate", get(authenticate::form).post(authenticate::submit))
        .route(oauth_callback::CALLBACK_PATH, get(oauth_callback::callback))
        .route("/instances", get(instances::list))
        .route("/instances/{id}", get(instances::show))
        .route("/instances/{id}/delete", get(instance_actions::confirm_delete).post(instance_actions::delete))
        .route("/instances/{id}/api-docs", get(api_docs_page::page).post(api_docs_page::try_call))
        .route("/instances/{id}/mappings/{name}", get(mapping_view::page))
        .route("/instances/{id}/events/poll", post(event_actions::poll_now))
        .route("/instances/{id}/events/retry", post(event_actions::retry_failed))
        .route("/instances/{id}/events/{event_id}/retry", post(event_actions::retry_one))
        .route("/instances/{id}/bulk", get(bulk_jobs::page))
        .route("/instances/{id}/bulk/{job}/cancel", post(bulk_jobs::cancel))
        .route("/instances/{id}/bulk/{job}/download", get(bulk_jobs::download))
        .route("/instances/{id}/bulk/{job}/errors", get(bulk_jobs::errors))
        .route("/instances/{id}/{action}", post(instance_actions::act))
        .route("/formulas", get(formulas::list))
        .route("/formulas/instances/{id}", get(formulas::instance))
        .route("/formulas/instances/{id}/run", post(formulas::run))
        .route("/formulas/executions/{id}", get(formulas::execution))
        .route("/common-resources", get(common_resources::list).post(common_resources::create))
        .route("/common-resources/{name}", get(resource_editor::page))
        .route("/common-resources/{name}/definition", post(resource_editor::save_definition))
        .route("/common-resources/{name}/transformations/{element}", post(resource_editor::save_transformation))
        .route("/assets/{file}", get(assets::serve))
}
