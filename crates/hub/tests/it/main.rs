//! The hub engine against the real simulator over HTTP, with no store and no HTTP server of ours:
//! a static-token [`connector::TokenSource`] and the engine's own operations.

mod engine;
