//! Instances from the vendor's grants: creating one from an authorization code or a client's
//! refresh token ([`provision`]), and re-authenticating one with a new code ([`reauthenticate`]).
//! Both exchange codes through [`exchange_code`], the one code exchange.
//!
//! Order matters: the vendor is asked first and only a successful answer is stored, so a failed
//! exchange stores nothing. With `externalAuthentication: "initial"` the client's refresh token is
//! stored first and refreshed through the token lifecycle's critical section, so the vendor's new
//! pair is durable before the answer (and a refused token removes the instance again).
//!
//! A code is exchanged once. The vendor (RFC 6749 §4.1.2) may revoke every token a code issued
//! when the code is presented again, so a replayed code (a double-submitted callback, a browser
//! retry) would kill the instance its first exchange created. Each code is therefore claimed in
//! the store (by a keyed hash, never the code) before the vendor sees it, and a replay is answered
//! without calling the vendor ([`PlatformError::CodeReplayed`]). A failed exchange releases its
//! claim.

use std::collections::BTreeMap;

use chrono::Utc;
use connector::oauth::ClientCredentials;
use connector::TokenError;
use domain::elements::Element;
use domain::instance_config::Configuration;
use domain::token_rules::{RefreshOutcome, TokenGrant};
use domain::Secret;
use store::{
    ClaimedCode, CodeClaim, InstancePatch, InstanceRecord, NewInstance, OrganizationId, SecretMap, ACCESS_TOKEN_KEY,
    AUTHORIZATION_CODE_TTL, REFRESH_TOKEN_KEY,
};

use crate::metrics::Trigger;
use crate::{tokens, Platform, PlatformError};

/// Configuration keys only the platform writes.
pub const PLATFORM_KEPT: [&str; 3] = [ACCESS_TOKEN_KEY, REFRESH_TOKEN_KEY, "oauth.user.refresh_time"];

/// How the first token pair is obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExternalAuthentication {
    /// Exchange `providerData.code` (the default).
    None,
    /// Refresh `configuration."oauth.user.refresh_token"`.
    Initial,
}

impl ExternalAuthentication {
    pub fn as_str(self) -> &'static str {
        match self {
            ExternalAuthentication::None => "none",
            ExternalAuthentication::Initial => "initial",
        }
    }
}

/// A validated create request, before the vendor is asked.
#[derive(Debug)]
pub struct CreateRequest<'a> {
    pub element: &'a Element,
    pub name: String,
    pub tags: Vec<String>,
    pub configuration: Configuration,
    pub mode: ExternalAuthentication,
    /// The authorization code (mode `None`) or the client's refresh token (mode `Initial`).
    pub grant: Secret,
}

/// Asks the vendor for the first token pair and stores the instance. Nothing is kept on failure.
pub async fn provision(
    platform: &Platform,
    organization_id: OrganizationId,
    request: CreateRequest<'_>,
) -> Result<InstanceRecord, PlatformError> {
    if request.mode == ExternalAuthentication::Initial {
        return provision_from_refresh_token(platform, organization_id, request).await;
    }
    let config = &request.configuration;
    let client = ClientCredentials {
        client_id: config.get("oauth.api.key").unwrap_or_default().to_string(),
        client_secret: Secret::new(config.get("oauth.api.secret").unwrap_or_default()),
    };
    let redirect_uri = config.get("oauth.callback.url").unwrap_or_default();
    let exchanged =
        exchange_code(platform, organization_id, &client, &request.grant, redirect_uri, "could not be created").await?;
    let mut new = new_instance(organization_id, &request);
    new.secrets.insert(ACCESS_TOKEN_KEY, exchanged.grant.access_token.clone());
    new.secrets.insert(REFRESH_TOKEN_KEY, exchanged.refresh_token);
    new.access_expires_at = exchanged.grant.expires_at(Utc::now());
    new.vendor_account = exchanged.grant.account().map(str::to_string);
    // The instance and its code's binding commit together: a replay names it from then on.
    let record = platform.store.insert_instance_with_code(new, &exchanged.claim).await?;
    tracing::info!(instance_id = record.id.get(), element = %record.element_key, mode = request.mode.as_str(), "instance created");
    Ok(record)
}

/// A code the vendor exchanged: its grant, the grant's refresh token, and the code's claim, to
/// bind to the instance the grant is stored in.
#[derive(Debug)]
pub struct Exchanged {
    pub grant: TokenGrant,
    pub refresh_token: Secret,
    pub claim: ClaimedCode,
}

/// Exchanges `code`, claimed first so that a replay never reaches the vendor. On failure the
/// claim is released: the code was refused, and a retry with it is the vendor's to refuse again.
/// `without_refresh_token` completes "the instance …" when the grant has no refresh token.
pub async fn exchange_code(
    platform: &Platform,
    organization_id: OrganizationId,
    client: &ClientCredentials,
    code: &Secret,
    redirect_uri: &str,
    without_refresh_token: &'static str,
) -> Result<Exchanged, PlatformError> {
    let claim = match platform.store.claim_authorization_code(code, organization_id, AUTHORIZATION_CODE_TTL).await? {
        CodeClaim::Claimed(claim) => claim,
        CodeClaim::Replayed { organization_id: holder, instance_id } => {
            return Err(PlatformError::CodeReplayed { same_organization: holder == organization_id, instance_id });
        }
    };
    let outcome = platform.oauth.exchange_code(client, code, redirect_uri).await;
    platform.metrics.record_token_call(&outcome);
    let granted = granted(outcome, "authorization code (providerData.code)").and_then(|grant| {
        match grant.refresh_token.clone() {
            Some(refresh_token) => Ok((grant, refresh_token)),
            None => Err(PlatformError::NoRefreshToken { consequence: without_refresh_token }),
        }
    });
    match granted {
        Ok((grant, refresh_token)) => Ok(Exchanged { grant, refresh_token, claim }),
        Err(error) => {
            if let Err(release) = platform.store.release_authorization_code(&claim).await {
                tracing::warn!(error = %release, "a refused authorization code's claim was not released");
            }
            Err(error)
        }
    }
}

/// `externalAuthentication: "initial"`: the client's refresh token is stored first, then refreshed
/// through the one refresh path (its critical section commits the vendor's new pair before
/// answering). Refreshing first and storing after would burn the client's token whenever the
/// store failed: the vendor retires it the moment it answers. A refused refresh removes the
/// instance again.
async fn provision_from_refresh_token(
    platform: &Platform,
    organization_id: OrganizationId,
    request: CreateRequest<'_>,
) -> Result<InstanceRecord, PlatformError> {
    let mut new = new_instance(organization_id, &request);
    new.secrets.insert(REFRESH_TOKEN_KEY, request.grant.clone());
    let record = platform.store.insert_instance(new).await?;
    match tokens::refresh(platform, record.id, record.refresh_generation, Trigger::manual).await {
        Ok(_) => {
            tracing::info!(instance_id = record.id.get(), element = %record.element_key, mode = "initial", "instance created");
            Ok(platform.store.get_instance(organization_id, record.id).await?)
        }
        Err(error) => {
            platform.store.delete_instance(organization_id, record.id).await?;
            Err(match error {
                // The refresh path's "instance invalid" is, at creation, the client's bad token.
                PlatformError::Token(TokenError::Invalid { provider_message, .. }) => {
                    PlatformError::GrantRejected { what: "refresh token (oauth.user.refresh_token)", provider_message }
                }
                other => other,
            })
        }
    }
}

/// Re-provisions instance `id` with a new authorization code: the code is exchanged with the
/// client credentials and callback URL the instance will have once `patch` is applied, and only a
/// successful exchange changes anything: the new pair, `valid: true` and `patch` are stored
/// together under the row lock (the instance token stays the same).
pub async fn reauthenticate(
    platform: &Platform,
    current: &InstanceRecord,
    code: &Secret,
    mut patch: InstancePatch,
) -> Result<InstanceRecord, PlatformError> {
    let (organization_id, id) = (current.organization_id, current.id);
    let client = ClientCredentials {
        client_id: effective(current, &patch, "oauth.api.key").unwrap_or_default(),
        client_secret: Secret::new(effective(current, &patch, "oauth.api.secret").unwrap_or_default()),
    };
    let redirect_uri = effective(current, &patch, "oauth.callback.url").unwrap_or_default();
    let exchanged =
        exchange_code(platform, organization_id, &client, code, &redirect_uri, "was not re-authenticated").await?;
    patch.secrets.insert(ACCESS_TOKEN_KEY.to_string(), Some(exchanged.grant.access_token.clone()));
    patch.secrets.insert(REFRESH_TOKEN_KEY.to_string(), Some(exchanged.refresh_token));
    patch.valid = Some(true);
    patch.access_expires_at = Some(exchanged.grant.expires_at(Utc::now()));
    patch.vendor_account = exchanged.grant.account().map(str::to_string);
    let record = platform.store.update_instance(organization_id, id, patch).await?;
    // The code stays claimed whether or not this binding is written: a replay is refused either
    // way, and only names the instance when it is.
    if let Err(error) = platform.store.bind_authorization_code(&exchanged.claim, id).await {
        tracing::warn!(instance_id = id.get(), %error, "the exchanged code was not bound to its instance");
    }
    // The new pair is stored; a failed audit write is logged rather than failing the call.
    if let Err(error) =
        platform.store.record_token_event(id, "reauthenticate", "ok", "authorization code exchanged").await
    {
        tracing::warn!(instance_id = id.get(), error = %error, "token event not recorded");
    }
    tracing::info!(instance_id = id.get(), "instance re-authenticated");
    Ok(record)
}

/// The value `key` will have once `patch` is applied to `current` (a secret in clear: for the
/// vendor call only).
fn effective(current: &InstanceRecord, patch: &InstancePatch, key: &str) -> Option<String> {
    if let Some(change) = patch.secrets.get(key) {
        return change.as_ref().map(|secret| secret.expose().to_string());
    }
    if let Some(change) = patch.configuration.get(key) {
        return change.clone();
    }
    let sealed = current.secrets.get(key).map(|secret| secret.expose().to_string());
    sealed.or_else(|| current.configuration.get(key).cloned())
}

/// The instance to store for `request`, without tokens: secret keys sealed, the others plain, the
/// platform-kept keys left out.
fn new_instance(organization_id: OrganizationId, request: &CreateRequest<'_>) -> NewInstance {
    let mut configuration = BTreeMap::new();
    let mut secrets = SecretMap::default();
    for (key, value) in request.configuration.iter().filter(|(key, _)| !PLATFORM_KEPT.contains(key)) {
        if request.element.is_secret(key) {
            secrets.insert(key, value);
        } else {
            configuration.insert(key.to_string(), value.to_string());
        }
    }
    NewInstance {
        organization_id,
        element_key: request.element.key.clone(),
        name: request.name.clone(),
        tags: request.tags.clone(),
        configuration,
        secrets,
        access_expires_at: None,
        vendor_account: None,
    }
}

/// The grant of a code exchange, or the failure: the vendor refused `what` (`invalid_grant`), or
/// the token endpoint failed (a refused client included: `invalid_client` means the instance's
/// client credentials are wrong).
fn granted(outcome: RefreshOutcome, what: &'static str) -> Result<TokenGrant, PlatformError> {
    match outcome {
        RefreshOutcome::Refreshed(grant) => Ok(grant),
        RefreshOutcome::InvalidGrant { description } => {
            Err(PlatformError::GrantRejected { what, provider_message: description })
        }
        RefreshOutcome::Transient(cause) => Err(TokenError::Transient(cause).into()),
    }
}
