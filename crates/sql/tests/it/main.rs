//! The driver against the real simulator over HTTP.

mod common;
mod queries;
