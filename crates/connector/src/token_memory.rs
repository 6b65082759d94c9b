//! The in-memory [`TokenSource`]: one vendor authorization kept in the process and never written
//! anywhere, for the SQL driver's `OAuthSettingsLocation=memory://NAME`.
//!
//! Owns only where the pair is kept (a mutex-guarded value). The single flight of refreshes, the
//! rotation rules and what the vendor's answers mean are [`crate::token_refresh`]'s, the same as
//! for the token file. Who shares a `MemoryTokens` (two connections naming the same location) is
//! the caller's business: clones share the pair and its single flight; two separate
//! `MemoryTokens` are two separate grants.

use std::sync::Mutex;

use async_trait::async_trait;
use domain::Secret;

use crate::oauth::{ClientCredentials, OAuthClient};
use crate::token_refresh::{Keeper, RefreshingTokens, Stored, TokenPair};
use crate::tokens::{AccessToken, TokenError, TokenSource};

/// One vendor authorization kept in memory; see the module documentation.
///
/// Cheap to clone: clones share the pair and its single flight of refreshes.
#[derive(Debug, Clone)]
pub struct MemoryTokens {
    tokens: RefreshingTokens,
}

/// The pair itself. A `std` mutex: it is held only to copy the pair in or out, never across an
/// await (the refresh's critical section is the Tokio mutex in [`RefreshingTokens`]).
#[derive(Debug)]
struct MemoryPair {
    name: String,
    pair: Mutex<Option<Stored>>,
}

impl MemoryTokens {
    /// An empty source named `name` (for log lines), refreshing through `oauth` as `client`.
    pub fn new(name: impl Into<String>, oauth: OAuthClient, client: ClientCredentials) -> Self {
        let keeper = MemoryPair { name: name.into(), pair: Mutex::new(None) };
        MemoryTokens { tokens: RefreshingTokens::new(keeper, oauth, client) }
    }

    /// Stores `pair`, replacing any pair held (never in the middle of a refresh). Returns the new
    /// generation. A pair with neither token is `NoAccessToken`.
    pub async fn store(&self, pair: TokenPair) -> Result<i64, TokenError> {
        self.tokens.store(pair).await
    }

    /// Exchanges an authorization code (`redirect_uri` exactly as the authorize request carried
    /// it) and stores the pair. A refused code is `Invalid` with the vendor's description.
    pub async fn exchange_code(&self, code: &Secret, redirect_uri: &str) -> Result<AccessToken, TokenError> {
        self.tokens.exchange_code(code, redirect_uri).await
    }

    /// Whether a grant is held (a token to call with or one to refresh with).
    pub async fn has_grant(&self) -> Result<bool, TokenError> {
        self.tokens.has_grant().await
    }
}

#[async_trait]
impl TokenSource for MemoryTokens {
    async fn current(&self) -> Result<AccessToken, TokenError> {
        self.tokens.current().await
    }

    async fn refresh_after_401(&self, stale: &AccessToken) -> Result<Option<AccessToken>, TokenError> {
        self.tokens.refresh_after_401(stale).await
    }
}

impl std::fmt::Display for MemoryPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "memory://{}", self.name)
    }
}

#[async_trait]
impl Keeper for MemoryPair {
    /// Nothing outside this process can reach the pair, and tasks inside it already queue on the
    /// single flight's mutex.
    async fn exclusive(&self) -> Result<Box<dyn Send>, TokenError> {
        Ok(Box::new(()))
    }

    async fn load(&self) -> Result<Option<Stored>, TokenError> {
        // A panic while the lock was held cannot leave a torn pair: it is replaced whole.
        Ok(self.pair.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).clone())
    }

    async fn save(&self, stored: Stored) -> Result<(), TokenError> {
        *self.pair.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(stored);
        Ok(())
    }
}
