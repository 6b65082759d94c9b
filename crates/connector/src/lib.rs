//! The Infusionsoft (Keap) client the platform calls out through: where the vendor lives
//! ([`endpoints`]), its OAuth 2.0 token endpoint ([`oauth`]), its rate limits ([`rate_limit`]),
//! where a call's credential comes from ([`tokens`]; refreshed by [`token_refresh`] from a
//! [`token_file`] or [`token_memory`]) and the one way a REST call is made ([`vendor_client`]:
//! limiter, token, retries, typed errors; over a thread's own connections where the thread keeps
//! them, `thread_connections`). It speaks HTTP and nothing else: what an answer means
//! for an instance is decided by `domain::token_rules`, and where an instance's tokens are kept is
//! the store's business. No axum, no SQL.

pub mod endpoints;
pub mod oauth;
pub mod rate_limit;
pub mod shared_budget;
mod thread_connections;
pub mod token_file;
pub mod token_memory;
pub mod token_refresh;
pub mod tokens;
pub mod vendor_client;

pub use reqwest;
pub use token_file::FileTokens;
pub use token_memory::MemoryTokens;
pub use token_refresh::TokenPair;
pub use tokens::{AccessToken, CredentialScheme, StaticTokens, TokenError, TokenSource};
pub use vendor_client::{CallContext, CallObserver, VendorClient, VendorError, VendorReply, VendorRequest};
