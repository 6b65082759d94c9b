//! Where a vendor call's access token comes from: the [`TokenSource`] trait, the typed
//! [`TokenError`] every source fails with, how a source's credential is sent
//! ([`CredentialScheme`]), and [`StaticTokens`] (a fixed token or API key, for tests and for
//! connection strings that carry only an access token or a Keap API key).
//!
//! A source owns its refresh: the store-backed one (in `platform`) refreshes inside the store's
//! critical section, shared across nodes; the file-backed one ([`crate::token_file`]) under an OS
//! file lock. [`crate::VendorClient`] only asks for the current token and, once per call, for a
//! fresh one after the vendor answered 401.

use async_trait::async_trait;
use domain::token_rules::TransientCause;
use domain::{InstanceId, Secret};

/// An access token to call with, and the generation of the pair it belongs to: a source compares
/// it with its stored generation to tell a token already replaced by another worker from one that
/// must be refreshed now.
#[derive(Debug, Clone)]
pub struct AccessToken {
    pub secret: Secret,
    pub generation: i64,
}

/// Why a source could not give a usable token. None of the variants holds a secret.
#[derive(Debug, Clone, thiserror::Error)]
pub enum TokenError {
    /// The vendor rejected the refresh token (`invalid_grant`): the authorization is gone and must
    /// be given again. `instance_id` names the instance for a store-backed source.
    #[error("the vendor rejected the refresh token (invalid_grant)")]
    Invalid { instance_id: Option<InstanceId>, provider_message: Option<String> },
    /// The token endpoint failed in a way that may pass (unreachable, timeout, 5xx, rate limited,
    /// refused client credentials); the authorization stays valid.
    #[error("the vendor's token endpoint failed ({0:?})")]
    Transient(TransientCause),
    /// A refresh failed and its cause was not kept (the store's critical section gave up).
    #[error("the vendor's token refresh failed")]
    RefreshFailed,
    /// Nothing to call with: no access token stored, and none could be had.
    #[error("no vendor access token is stored")]
    NoAccessToken,
    /// Where the tokens are kept is unavailable (the database, the token file). The text names the
    /// kind of failure, never a value.
    #[error("the token storage is unavailable: {0}")]
    Storage(String),
}

/// How a source's credential is sent to the vendor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CredentialScheme {
    /// An OAuth access token, as `Authorization: Bearer <token>`.
    #[default]
    Bearer,
    /// A Keap personal access token or service account key, as `X-Keap-API-Key: <key>`.
    ApiKey,
}

/// A supply of access tokens for one vendor authorization (one instance, one token file).
#[async_trait]
pub trait TokenSource: Send + Sync {
    /// How the tokens of this source are sent; an OAuth bearer token unless the source says
    /// otherwise.
    fn scheme(&self) -> CredentialScheme {
        CredentialScheme::Bearer
    }

    /// The token to call with; refreshes first when the source's rules say it is due.
    async fn current(&self) -> Result<AccessToken, TokenError>;

    /// A token to retry with after the vendor answered 401 to `stale`: the stored one if another
    /// worker already replaced `stale`, else a refreshed one. `None`: this source cannot refresh,
    /// and the vendor's 401 stands.
    async fn refresh_after_401(&self, stale: &AccessToken) -> Result<Option<AccessToken>, TokenError>;
}

/// A fixed credential that is never refreshed: a 401 is final.
#[derive(Debug, Clone)]
pub struct StaticTokens {
    token: AccessToken,
    scheme: CredentialScheme,
}

impl StaticTokens {
    /// An OAuth access token, sent as a bearer token.
    pub fn new(access_token: Secret) -> Self {
        StaticTokens { token: AccessToken { secret: access_token, generation: 0 }, scheme: CredentialScheme::Bearer }
    }

    /// A Keap personal access token or service account key, sent as `X-Keap-API-Key`. Keys do
    /// not expire and cannot be refreshed.
    pub fn api_key(key: Secret) -> Self {
        StaticTokens { token: AccessToken { secret: key, generation: 0 }, scheme: CredentialScheme::ApiKey }
    }
}

#[async_trait]
impl TokenSource for StaticTokens {
    fn scheme(&self) -> CredentialScheme {
        self.scheme
    }

    async fn current(&self) -> Result<AccessToken, TokenError> {
        Ok(self.token.clone())
    }

    async fn refresh_after_401(&self, _stale: &AccessToken) -> Result<Option<AccessToken>, TokenError> {
        Ok(None)
    }
}
