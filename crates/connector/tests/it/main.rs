//! The connector's integration tests, one binary: every module runs against the real simulator
//! over HTTP (`keap_sim::spawn` on a free port).

mod api_key;
mod common;
mod rate_limit;
mod token_endpoint;
mod token_file;
mod token_memory;
mod vendor_wire;
