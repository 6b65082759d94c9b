//! The driver: SQL over Infusionsoft data, opened from a CData-style connection string, reading
//! either straight from the vendor or through a running Junction's hub API (issue 14).
//!
//! The crate will hold the driver (connection, tables, push-down, the SQL engine); today it holds
//! its connection strings: [`connection_string`] parses them into typed [`ConnectionSettings`] or
//! says which property to fix. Nothing here opens a connection yet.

pub mod auth;
pub mod connection_string;

pub use auth::{explain_token_error, sign_in, AuthError, SignInOptions, SignInPrompt, VendorAccess};
pub use connection_string::{
    parse, ConnectionSettings, ConnectionStringError, InitiateOAuth, Mode, OAuthSettings, Profile, SettingsLocation,
    VendorAuth,
};
/// Credentials in [`ConnectionSettings`] are this type: no `Display`, a redacting `Debug`.
pub use domain::Secret;
