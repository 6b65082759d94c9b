//! The vendor's token endpoint: exchanging an authorization code and refreshing a token pair.
//!
//! Both requests are form-encoded as the vendor requires. The code exchange sends the client
//! credentials as form fields (what the vendor's PHP SDK sends); the refresh sends them as HTTP
//! Basic (what the vendor's docs and SDKs send). Every answer, including no answer at all, is
//! classified by `domain::token_rules::classify`, so the rules for "invalid grant" versus
//! "transient" live in one place. Nothing here logs: every value it handles is a secret.

use crate::endpoints::VendorEndpoints;
use domain::token_rules::{classify, RefreshOutcome, TransientCause};
use domain::Secret;
use std::time::Duration;

/// An OAuth application registered with the vendor.
#[derive(Debug, Clone)]
pub struct ClientCredentials {
    pub client_id: String,
    pub client_secret: Secret,
}

/// Client of the vendor's token endpoint.
#[derive(Debug, Clone)]
pub struct OAuthClient {
    http: reqwest::Client,
    endpoints: VendorEndpoints,
}

/// How long one token request may take before it counts as a transport failure.
pub const TOKEN_TIMEOUT: Duration = Duration::from_secs(30);

impl OAuthClient {
    /// A client of `endpoints.token`. Fails when the TLS backend cannot start (never falls back
    /// to a client that follows redirects: one could send credentials elsewhere).
    pub fn new(endpoints: VendorEndpoints) -> Result<Self, reqwest::Error> {
        Ok(OAuthClient { http: no_redirects(TOKEN_TIMEOUT)?, endpoints })
    }

    /// Exchanges an authorization code. `redirect_uri` must be the exact string the authorize
    /// request carried. `InvalidGrant` here means the vendor refused the code (reused, expired,
    /// wrong redirect): a 400 for the caller, with the vendor's description as `providerMessage`.
    pub async fn exchange_code(&self, client: &ClientCredentials, code: &Secret, redirect_uri: &str) -> RefreshOutcome {
        let form = [
            ("grant_type", "authorization_code"),
            ("code", code.expose()),
            ("redirect_uri", redirect_uri),
            ("client_id", client.client_id.as_str()),
            ("client_secret", client.client_secret.expose()),
        ];
        self.post(self.http.post(self.endpoints.token.clone()).form(&form)).await
    }

    /// Refreshes with `refresh_token`; on success the vendor has retired it, so the new pair must
    /// be stored durably before anything else happens.
    pub async fn refresh(&self, client: &ClientCredentials, refresh_token: &Secret) -> RefreshOutcome {
        let form = [("grant_type", "refresh_token"), ("refresh_token", refresh_token.expose())];
        let request = self
            .http
            .post(self.endpoints.token.clone())
            .basic_auth(&client.client_id, Some(client.client_secret.expose()))
            .form(&form);
        self.post(request).await
    }

    async fn post(&self, request: reqwest::RequestBuilder) -> RefreshOutcome {
        let response = match request.send().await {
            Ok(response) => response,
            Err(error) if error.is_timeout() => return RefreshOutcome::Transient(TransientCause::Timeout),
            Err(_) => return RefreshOutcome::Transient(TransientCause::Transport),
        };
        let status = response.status().as_u16();
        match response.text().await {
            Ok(body) => classify(status, &body),
            Err(error) if error.is_timeout() => RefreshOutcome::Transient(TransientCause::Timeout),
            Err(_) => RefreshOutcome::Transient(TransientCause::Transport),
        }
    }
}

/// An HTTP client that never follows redirects (they could carry a token or a secret to another
/// host) and gives up on a whole call after `timeout`. Fails rather than fall back to a default
/// client, which would do both.
fn no_redirects(timeout: Duration) -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder().timeout(timeout).redirect(reqwest::redirect::Policy::none()).build()
}
