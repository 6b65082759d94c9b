//! The state every handler receives, built once at startup: the [`Platform`] and what only the
//! HTTP surface needs.

use std::sync::Arc;

use platform::Platform;

use crate::cors::CorsOrigins;

/// The base URL of `junction serve` with its default bind address.
pub const DEFAULT_PUBLIC_URL: &str = "http://127.0.0.1:8080";

/// Everything a handler needs; cheap to clone (every field is shared).
#[derive(Clone, Debug)]
pub struct AppState {
    pub platform: Platform,
    /// The externally visible base URL (`--public-url`), without a trailing slash: the console's
    /// OAuth callback, its cookies' `Secure` flag, and the API documents' server.
    pub public_url: Arc<str>,
    /// The origins browsers may call the API from (`--cors-origins`); none by default.
    pub cors_origins: Arc<CorsOrigins>,
}

impl AppState {
    /// The state serving `platform` at [`DEFAULT_PUBLIC_URL`].
    pub fn new(platform: Platform) -> Self {
        AppState { platform, public_url: Arc::from(DEFAULT_PUBLIC_URL), cors_origins: Arc::default() }
    }

    /// The same state served at `public_url` (`--public-url`).
    pub fn with_public_url(mut self, public_url: &str) -> Self {
        self.public_url = Arc::from(public_url.trim_end_matches('/'));
        self
    }

    /// The same state answering CORS for `origins` (`--cors-origins`).
    pub fn with_cors_origins(mut self, origins: CorsOrigins) -> Self {
        self.cors_origins = Arc::new(origins);
        self
    }
}
