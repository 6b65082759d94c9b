//! The state every handler receives, built once at startup: the [`Platform`] and what only the
//! HTTP surface needs.

use std::sync::Arc;

use platform::Platform;

use crate::cors::CorsOrigins;

/// The base URL of `junction serve` with its default bind address.
pub const DEFAULT_PUBLIC_URL: &str = "http://127.0.0.1:8080";

/// Everything a handler needs, behind one `Arc`: axum clones the state for every middleware layer
/// and handler of every request, and one reference count is cheaper than one per shared field
/// (perf of the raw passthrough: the clones and drops of the field-by-field state were about 5% of
/// its cycles, their atomic counts bouncing between cores).
#[derive(Clone, Debug)]
pub struct AppState(Arc<Shared>);

/// What [`AppState`] shares; reached through `Deref` (`state.platform`).
#[derive(Debug)]
pub struct Shared {
    pub platform: Platform,
    /// The externally visible base URL (`--public-url`), without a trailing slash: the console's
    /// OAuth callback, its cookies' `Secure` flag, and the API documents' server.
    pub public_url: Arc<str>,
    /// The origins browsers may call the API from (`--cors-origins`); none by default.
    pub cors_origins: Arc<CorsOrigins>,
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

impl AppState {
    /// The state serving `platform` at [`DEFAULT_PUBLIC_URL`].
    pub fn new(platform: Platform) -> Self {
        AppState(Arc::new(Shared { platform, public_url: Arc::from(DEFAULT_PUBLIC_URL), cors_origins: Arc::default() }))
    }

    /// The same state served at `public_url` (`--public-url`).
    pub fn with_public_url(self, public_url: &str) -> Self {
        let mut shared = self.into_shared();
        shared.public_url = Arc::from(public_url.trim_end_matches('/'));
        AppState(Arc::new(shared))
    }

    /// The same state answering CORS for `origins` (`--cors-origins`).
    pub fn with_cors_origins(self, origins: CorsOrigins) -> Self {
        let mut shared = self.into_shared();
        shared.cors_origins = Arc::new(origins);
        AppState(Arc::new(shared))
    }

    /// The shared fields, copied out when another handle to them exists (the builders above run
    /// before the router takes the state, so they own it).
    fn into_shared(self) -> Shared {
        Arc::try_unwrap(self.0).unwrap_or_else(|shared| Shared {
            platform: shared.platform.clone(),
            public_url: Arc::clone(&shared.public_url),
            cors_origins: Arc::clone(&shared.cors_origins),
        })
    }
}
