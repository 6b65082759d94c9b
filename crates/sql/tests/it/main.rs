//! The driver's integration tests, one binary: every module runs against the real simulator over
//! HTTP (`keap_sim::spawn` on a free port).

mod auth;
mod common;
mod pgwire;
mod queries;
