//! The Infusionsoft (Keap) client the platform calls out through: where the vendor lives
//! ([`endpoints`]) and its OAuth 2.0 token endpoint ([`oauth`]). It speaks HTTP and nothing else:
//! what an answer means for an instance is decided by `domain::token_rules`, and where tokens are
//! kept is the store's business.

pub mod endpoints;
pub mod oauth;
pub mod rate_limit;
