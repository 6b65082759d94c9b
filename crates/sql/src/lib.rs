//! The driver: SQL over Infusionsoft data, opened from a CData-style connection string, reading
//! either straight from the vendor or through a running Junction's hub API.
//!
//! SQLite is the SQL engine: every hub object is a virtual table ([`vtab`]) whose reads are pages
//! of the hub engine ([`source`], [`vendor_source`]), with the conditions the hub can apply pushed
//! down and SQLite re-checking them.
//!
//! - [`connection_string`]: parsing connection strings into typed settings;
//! - [`connection`]: the library API ([`Driver`], [`Connection`]);
//! - [`tables`]: which tables a connection serves and their typed columns;
//! - [`vtab`]: the SQLite virtual tables, push-down and writes;
//! - [`source`], [`vendor_source`], [`instance_source`]: where records come from (the hub engine in
//!   this process, or a running Junction's hub API);
//! - [`engine`]: what a driver's connections share, and the sync/async bridge;
//! - [`explain`]: what a statement cost at the source;
//! - [`auth`]: signing in to the vendor (the OAuth flows, API keys, where tokens are kept);
//! - [`pgwire`]: the same tables over the PostgreSQL wire protocol (`junction sql --listen`);
//! - [`rows`], [`error`]: answers and errors.

pub mod auth;
pub mod connection;
pub mod connection_string;
pub mod engine;
pub mod error;
pub mod explain;
pub mod instance_source;
pub mod pgwire;
pub mod rows;
pub mod source;
pub mod tables;
pub mod vendor_source;
mod vtab;

pub use auth::{explain_token_error, sign_in, AuthError, SignInOptions, SignInPrompt, VendorAccess};
pub use connection::{Connection, Driver, StatementInfo};
pub use connection_string::{
    parse, ConnectionSettings, ConnectionStringError, InitiateOAuth, Mode, OAuthSettings, Profile, SettingsLocation,
    VendorAuth,
};
/// Credentials in [`ConnectionSettings`] are this type: no `Display`, a redacting `Debug`.
pub use domain::Secret;
pub use engine::ProgressCallback;
pub use error::SqlError;
pub use explain::{Explain, ScanReport};
pub use rows::{Cell, Column, ColumnKind, Outcome, Rows};
