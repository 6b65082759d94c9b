//! Formulas as pure logic: the template model and its validation ([`template`]), and the sandboxed
//! JavaScript engine that runs `filter` and `script` steps ([`script`]).
//!
//! This crate owns no I/O: no HTTP server, no SQL, no outbound HTTP client. The engine that runs
//! formula executions (claims them from the durable queue, calls the hub engine in-process, records
//! step results) lives above it and calls it.

pub mod script;
pub mod template;
