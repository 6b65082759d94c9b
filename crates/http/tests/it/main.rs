//! The HTTP layer's integration tests, in one binary (each test binary links the whole stack
//! again): the platform and hub APIs, the console, the API documents and `/metrics` against the
//! stack in `common` (the simulator and the platform router in-process, over SQLite).

mod common;

mod api_docs;
mod auth;
mod bad_input;
mod bulk;
mod common_resources;
mod console;
mod events;
mod formula_runs;
mod formulas;
mod hub_lists;
mod hub_objects;
mod hub_vendor;
mod instance_endpoints;
mod metrics;
mod organizations;
mod secrets_never_logged;
mod seed_flow;
mod token_lifecycle;
mod token_refresh_job;
mod wire_compat;
