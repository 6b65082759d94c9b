//! The simulator's integration tests, in one binary (each test binary links the crate and its
//! dependencies again): OAuth, API keys, REST v1 and v2, hooks, rate limits, test controls, bad
//! input, large accounts, request bodies against the vendor's document, and Keap's own Python SDK
//! against it (`keap_sdk`, its script in `tests/sdk/`).

mod common;

mod api_keys;
mod bad_input;
mod controls;
mod hooks;
mod keap_sdk;
mod large_accounts;
mod oauth;
mod rate_limits;
mod request_bodies;
mod rest_v1;
mod rest_v2;
