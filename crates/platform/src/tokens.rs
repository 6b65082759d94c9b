//! An instance's vendor tokens, kept in the store (SPEC "Token lifecycle"): the one way they are
//! refreshed ([`refresh`]), and [`InstanceTokens`], the [`TokenSource`] every hub call of an
//! instance uses.
//!
//! Every refresh runs inside the store's critical section ([`store::refresh_tokens_detached`]: one
//! per instance across tasks and nodes, committed before it returns, and not cancelled when the
//! caller goes away). Inside it, the stored pair is re-read: if its generation moved past the one
//! the caller saw, another worker already refreshed and its pair is used without calling the vendor
//! (`domain::token_rules::after_lock`). Only otherwise is the vendor asked. `invalid_grant` marks the
//! instance invalid (the lock is held, so the rejected token is still the stored one); any other
//! failure leaves the instance valid and fails this call.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use connector::oauth::ClientCredentials;
use connector::{AccessToken, TokenError, TokenSource};
use domain::token_rules::{self, AfterLock, RefreshOutcome as Vendor, TokenTimes, TransientCause};
use store::{
    CurrentTokens, InstanceId, InstanceRecord, RefreshDecision, RefreshFn, RefreshOutcome, TokenPair, ACCESS_TOKEN_KEY,
    REFRESH_TOKEN_KEY,
};

use crate::metrics::{RefreshResult, Trigger};
use crate::{Platform, PlatformError};

/// `oauth.user.refresh_interval` when unset or unreadable (the element's declared default).
const DEFAULT_REFRESH_INTERVAL_SECS: i64 = 3600;

/// What went wrong with the vendor, kept out of the store's free-text detail.
#[derive(Debug, Clone)]
enum Failure {
    Transient(TransientCause),
    InvalidGrant(Option<String>),
}

/// Refreshes instance `instance_id`'s tokens unless the stored pair is already newer than
/// `seen_generation`, and returns the token to use. The new pair is committed before this returns.
/// Counted in `junction_token_refreshes_total` under `trigger`.
pub async fn refresh(
    platform: &Platform,
    instance_id: InstanceId,
    seen_generation: i64,
    trigger: Trigger,
) -> Result<AccessToken, PlatformError> {
    let failure: Arc<Mutex<Option<Failure>>> = Arc::default();
    let refresher = refresher(platform, seen_generation, Arc::clone(&failure));
    let result = store::refresh_tokens_detached(Arc::clone(&platform.store), instance_id, refresher).await;
    let counted = match result.as_ref().map(|result| &result.outcome) {
        Ok(RefreshOutcome::Refreshed) => RefreshResult::refreshed,
        Ok(RefreshOutcome::Unchanged) => RefreshResult::unchanged,
        Ok(RefreshOutcome::Invalid) => RefreshResult::invalid,
        Ok(RefreshOutcome::Failed) | Err(_) => RefreshResult::transient,
    };
    platform.metrics.record_refresh(trigger, counted);
    // Whatever happened, the cached record of this instance may hold tokens no longer stored.
    platform.callers.forget_instance(instance_id);
    let result = result?;
    let failure = failure.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).take();
    tracing::info!(instance_id = instance_id.get(), outcome = ?result.outcome, ?trigger, "token refresh");
    let token = match (result.outcome, failure) {
        (RefreshOutcome::Refreshed | RefreshOutcome::Unchanged, _) => usable(&result.current),
        (RefreshOutcome::Invalid, failure) => Err(invalid(instance_id, failure)),
        (RefreshOutcome::Failed, Some(Failure::Transient(cause))) => Err(TokenError::Transient(cause)),
        (RefreshOutcome::Failed, _) => Err(TokenError::RefreshFailed),
    };
    Ok(token?)
}

fn refresher(platform: &Platform, seen_generation: i64, failure: Arc<Mutex<Option<Failure>>>) -> RefreshFn {
    let oauth = Arc::clone(&platform.oauth);
    let metrics = Arc::clone(&platform.metrics);
    Box::new(move |current: CurrentTokens| {
        Box::pin(async move {
            let seen = u64::try_from(seen_generation).unwrap_or_default();
            let stored = u64::try_from(current.refresh_generation).unwrap_or_default();
            if token_rules::after_lock(seen, stored) == AfterLock::UseStored || !current.valid {
                return RefreshDecision::Unchanged;
            }
            let (Some(refresh_token), Some(client)) = (current.secrets.get(REFRESH_TOKEN_KEY), client_of(&current))
            else {
                return RefreshDecision::Invalid { detail: "no refresh token or client credentials stored".into() };
            };
            let outcome = oauth.refresh(&client, refresh_token).await;
            metrics.record_token_call(&outcome);
            match outcome {
                Vendor::Refreshed(grant) => RefreshDecision::Refreshed(TokenPair {
                    vendor_account: grant.account().map(str::to_string),
                    access_expires_at: grant.expires_at(Utc::now()),
                    refresh_token: grant.refresh_token.unwrap_or_else(|| refresh_token.clone()),
                    access_token: grant.access_token,
                }),
                Vendor::InvalidGrant { description } => {
                    let detail = description.clone().unwrap_or_else(|| "invalid_grant".into());
                    store_failure(&failure, Failure::InvalidGrant(description));
                    RefreshDecision::Invalid { detail }
                }
                Vendor::Transient(cause) => {
                    let detail = describe(&cause);
                    store_failure(&failure, Failure::Transient(cause));
                    RefreshDecision::Failed { detail }
                }
            }
        })
    })
}

fn store_failure(slot: &Mutex<Option<Failure>>, failure: Failure) {
    *slot.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(failure);
}

/// The OAuth client the instance was provisioned with.
fn client_of(current: &CurrentTokens) -> Option<ClientCredentials> {
    Some(ClientCredentials {
        client_id: current.secrets.get("oauth.api.key")?.expose().to_string(),
        client_secret: current.secrets.get("oauth.api.secret")?.clone(),
    })
}

fn usable(current: &CurrentTokens) -> Result<AccessToken, TokenError> {
    if !current.valid {
        return Err(invalid(current.instance_id, None));
    }
    let secret = current.secrets.get(ACCESS_TOKEN_KEY).cloned().ok_or(TokenError::NoAccessToken)?;
    Ok(AccessToken { secret, generation: current.refresh_generation })
}

fn invalid(instance_id: InstanceId, failure: Option<Failure>) -> TokenError {
    let provider_message = match failure {
        Some(Failure::InvalidGrant(description)) => description,
        _ => None,
    };
    TokenError::Invalid { instance_id: Some(instance_id), provider_message }
}

/// A short, secret-free description of a transient cause (for token events and messages).
pub fn describe(cause: &TransientCause) -> String {
    match cause {
        TransientCause::Transport => "unreachable".into(),
        TransientCause::Timeout => "no answer in time".into(),
        TransientCause::VendorStatus(status) => format!("HTTP {status}"),
        TransientCause::RateLimited => "rate limited".into(),
        TransientCause::MalformedSuccess => "malformed token response".into(),
        TransientCause::Refused { error, .. } => format!("refused: {error}"),
    }
}

/// The tokens of one instance as read for a hub call: the stored access token while it is not
/// due, a proactive refresh when it is, and one reactive refresh after a vendor 401.
#[derive(Debug, Clone, Copy)]
pub struct InstanceTokens<'a> {
    pub platform: &'a Platform,
    pub instance: &'a InstanceRecord,
}

#[async_trait]
impl TokenSource for InstanceTokens<'_> {
    /// An early refresh that failed transiently does not fail a call whose token still works.
    async fn current(&self) -> Result<AccessToken, TokenError> {
        let instance = self.instance;
        let stored = instance
            .secrets
            .get(ACCESS_TOKEN_KEY)
            .map(|secret| AccessToken { secret: secret.clone(), generation: instance.refresh_generation });
        let stored = match stored {
            Some(token) if !token_due(instance) => return Ok(token),
            stored => stored,
        };
        let error = match refresh(self.platform, instance.id, instance.refresh_generation, Trigger::proactive).await {
            Ok(token) => return Ok(token),
            Err(error) => token_error(error),
        };
        match stored {
            Some(token) if passing(&error) && still_valid(instance) => {
                tracing::warn!(instance_id = instance.id.get(), "early token refresh failed; using the stored token");
                Ok(token)
            }
            _ => Err(error),
        }
    }

    async fn refresh_after_401(&self, stale: &AccessToken) -> Result<Option<AccessToken>, TokenError> {
        refresh(self.platform, self.instance.id, stale.generation, Trigger::reactive)
            .await
            .map(Some)
            .map_err(token_error)
    }
}

/// A refresh failure as a token source reports it: a store failure is the tokens' storage failing.
fn token_error(error: PlatformError) -> TokenError {
    match error {
        PlatformError::Token(error) => error,
        other => TokenError::Storage(other.to_string()),
    }
}

/// Whether a refresh failure may pass by itself (the vendor failed, not the instance's grant or
/// client credentials).
fn passing(error: &TokenError) -> bool {
    match error {
        TokenError::Transient(TransientCause::Refused { .. }) => false,
        TokenError::Transient(_) | TokenError::RefreshFailed | TokenError::NoAccessToken => true,
        TokenError::Invalid { .. } | TokenError::Storage(_) => false,
    }
}

/// Whether the stored access token has not expired yet (an unknown expiry counts as valid).
fn still_valid(instance: &InstanceRecord) -> bool {
    instance.access_expires_at.is_none_or(|expires_at| expires_at > Utc::now())
}

/// Whether `instance`'s access token, which the caller found stored, is due a proactive refresh.
fn token_due(instance: &InstanceRecord) -> bool {
    let interval = instance
        .configuration
        .get("oauth.user.refresh_interval")
        .and_then(|text| text.parse::<i64>().ok())
        .unwrap_or(DEFAULT_REFRESH_INTERVAL_SECS);
    // A token whose lifetime the vendor did not state is used until the interval, the
    // refresh-token age or a 401.
    let expires_at = Some(instance.access_expires_at.unwrap_or(DateTime::<Utc>::MAX_UTC));
    let times = TokenTimes {
        expires_at,
        refreshed_at: instance.refreshed_at.unwrap_or(instance.created_at),
        refresh_interval: TimeDelta::try_seconds(interval).unwrap_or_default(),
    };
    token_rules::refresh_due(&times, Utc::now()).is_some()
}
