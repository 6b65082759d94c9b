//! The one way an instance's vendor tokens are refreshed (SPEC "Token lifecycle").
//!
//! Every refresh runs inside the store's critical section ([`store::refresh_tokens_detached`]: one
//! per instance across tasks and nodes, committed before it returns, and not cancelled when the
//! caller goes away). Inside it, the stored pair is re-read: if its generation moved past the one
//! the caller saw, another worker already refreshed and its pair is used without calling the vendor
//! (`domain::token_rules::after_lock`). Only otherwise is the vendor asked. `invalid_grant` marks the
//! instance invalid (the lock is held, so the rejected token is still the stored one); any other
//! failure leaves the instance valid and fails this call with 502/504.

use std::sync::{Arc, Mutex};

use chrono::Utc;
use connector::oauth::ClientCredentials;
use domain::token_rules::{self, AfterLock, RefreshOutcome as Vendor, TransientCause};
use domain::Secret;
use store::{
    CurrentTokens, Id, RefreshDecision, RefreshFn, RefreshOutcome, TokenPair, ACCESS_TOKEN_KEY, REFRESH_TOKEN_KEY,
};

use crate::error::ApiError;
use crate::metrics::{RefreshResult, Trigger};
use crate::state::AppState;

/// A usable access token and the generation of the pair it belongs to.
#[derive(Debug, Clone)]
pub struct Usable {
    pub access_token: Secret,
    pub generation: i64,
}

/// What went wrong with the vendor, kept out of the store's free-text detail.
#[derive(Debug, Clone)]
enum Failure {
    Transient(TransientCause),
    InvalidGrant(Option<String>),
}

/// [`refresh_for`] an explicit API request ([`Trigger::manual`], e.g. `PUT
/// /instances/{id}/tokens/refresh`).
pub async fn refresh(state: &AppState, instance_id: Id, seen_generation: i64) -> Result<Usable, ApiError> {
    refresh_for(state, instance_id, seen_generation, Trigger::manual).await
}

/// Refreshes instance `instance_id`'s tokens unless the stored pair is already newer than
/// `seen_generation`, and returns the pair to use. The new pair is committed before this returns.
/// Counted in `junction_token_refreshes_total` under `trigger`.
pub async fn refresh_for(
    state: &AppState,
    instance_id: Id,
    seen_generation: i64,
    trigger: Trigger,
) -> Result<Usable, ApiError> {
    let failure: Arc<Mutex<Option<Failure>>> = Arc::default();
    let refresher = refresher(state, seen_generation, Arc::clone(&failure));
    let result = store::refresh_tokens_detached(Arc::clone(&state.store), instance_id, refresher).await;
    let counted = match result.as_ref().map(|result| &result.outcome) {
        Ok(RefreshOutcome::Refreshed) => RefreshResult::refreshed,
        Ok(RefreshOutcome::Unchanged) => RefreshResult::unchanged,
        Ok(RefreshOutcome::Invalid) => RefreshResult::invalid,
        Ok(RefreshOutcome::Failed) | Err(_) => RefreshResult::transient,
    };
    state.metrics.record_refresh(trigger, counted);
    // Whatever happened, the cached record of this instance may hold tokens no longer stored.
    state.callers.forget_instance(instance_id);
    let result = result?;
    let failure = failure.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).take();
    tracing::info!(instance_id, outcome = ?result.outcome, ?trigger, "token refresh");
    match (result.outcome, failure) {
        (RefreshOutcome::Refreshed | RefreshOutcome::Unchanged, _) => usable(&result.current),
        (RefreshOutcome::Invalid, failure) => Err(invalid(instance_id, failure)),
        (RefreshOutcome::Failed, Some(Failure::Transient(cause))) => Err(transient(&cause)),
        (RefreshOutcome::Failed, _) => Err(ApiError::VendorError {
            message: "The vendor's token endpoint failed; the instance stays valid, try again".into(),
            provider_message: None,
        }),
    }
}

fn refresher(state: &AppState, seen_generation: i64, failure: Arc<Mutex<Option<Failure>>>) -> RefreshFn {
    let oauth = Arc::clone(&state.oauth);
    let metrics = Arc::clone(&state.metrics);
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
pub fn client_of(current: &CurrentTokens) -> Option<ClientCredentials> {
    Some(ClientCredentials {
        client_id: current.secrets.get("oauth.api.key")?.expose().to_string(),
        client_secret: current.secrets.get("oauth.api.secret")?.clone(),
    })
}

fn usable(current: &CurrentTokens) -> Result<Usable, ApiError> {
    if !current.valid {
        return Err(invalid(current.instance_id, None));
    }
    let access_token = current.secrets.get(ACCESS_TOKEN_KEY).cloned().ok_or_else(|| ApiError::VendorError {
        message: "The instance holds no vendor access token".into(),
        provider_message: None,
    })?;
    Ok(Usable { access_token, generation: current.refresh_generation })
}

fn invalid(instance_id: Id, failure: Option<Failure>) -> ApiError {
    let provider_message = match failure {
        Some(Failure::InvalidGrant(description)) => description,
        _ => None,
    };
    ApiError::Forbidden {
        message: format!(
            "The vendor rejected instance {instance_id}'s refresh token (invalid_grant); the instance is not valid \
             and must be re-authenticated"
        ),
        provider_message,
    }
}

/// The error of a transient token-endpoint failure: the instance stays valid.
pub fn transient(cause: &TransientCause) -> ApiError {
    match cause {
        TransientCause::Timeout => ApiError::VendorTimeout(
            "The vendor's token endpoint did not answer in time; the instance stays valid".into(),
        ),
        TransientCause::Transport => ApiError::VendorError {
            message: "The vendor's token endpoint could not be reached; the instance stays valid".into(),
            provider_message: None,
        },
        TransientCause::RateLimited => ApiError::RateLimited {
            message: "The vendor's token endpoint is rate limiting; the instance stays valid, retry later".into(),
            retry_after_secs: 1,
        },
        // The instance's client credentials are wrong (`invalid_client`): bad input, not a vendor fault.
        TransientCause::Refused { error, description } => ApiError::VendorRejected {
            message: format!(
                "The vendor refused the token request ({error}); check oauth.api.key and oauth.api.secret"
            ),
            provider_message: description.clone(),
        },
        other => ApiError::VendorError {
            message: format!("The vendor's token endpoint failed ({}); the instance stays valid", describe(other)),
            provider_message: None,
        },
    }
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
