//! Junction's domain rules, free of HTTP and SQL.
//!
//! Owns what the platform decides, so that it can be unit-tested without a server or a database:
//! the ids of organizations, users and instances ([`ids`]), the element catalog ([`elements`]), the
//! `Authorization` header syntax ([`auth_header`]), the
//! validation of an instance's configuration ([`instance_config`]) and of its name and tags
//! ([`instance_fields`]), the vendor authorize URL
//! ([`oauth_url`]), the token lifecycle rules ([`token_rules`]) and the errors they raise
//! ([`error`]). The HTTP layer maps [`DomainError`] to status codes; the store persists what these
//! rules accept.

mod absolute_url;
pub mod auth_header;
pub mod elements;
pub mod error;
pub mod ids;
pub mod instance_config;
pub mod instance_fields;
pub mod oauth_url;
pub mod secret;
pub mod shared_budget;
pub mod token_rules;
pub mod vendor_limits;

pub use error::DomainError;
pub use ids::{InstanceId, OrganizationId, UserId};
pub use secret::Secret;
