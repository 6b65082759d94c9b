//! The background token refresh of SPEC "Token lifecycle": a "run once" function
//! ([`refresh_due_instances`]), run as a [`PeriodicJob`] by the job runner ([`run`]).
//!
//! One run asks the store for instances whose access token expires within
//! [`token_rules::EXPIRY_MARGIN`] or whose pair is older than [`token_rules::MAX_REFRESH_AGE`] (the
//! 30-day rule, so the vendor's 45-day refresh token never lapses). The store leaves out instances
//! whose last refresh failed transiently until [`token_rules::backoff_delay`] of their failure
//! count has passed (kept in the database, so the backoff holds across restarts and nodes, and an
//! instance that keeps failing never holds the head of the queue). Then, for each:
//! 1. peeks at the stored pair inside the store's critical section (a refresher that decides
//!    `Unchanged`, so nothing is written) to read its generation and re-check that it is still due:
//!    another node may have refreshed it since the listing, and a token that lives less than twice
//!    the margin is due only after half its life ([`token_rules::expiry_margin`]), which the
//!    listing does not check;
//! 2. refreshes it through [`tokens::refresh`] with that generation, the path the hub uses,
//!    so the lock, the generation re-check and the invalid/transient handling are shared.
//!
//! The store's listing takes one `refreshed_before` for all instances, so the per-instance
//! `oauth.user.refresh_interval` is not applied here; the hub applies it when the instance is used.

use std::future::Future;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use connector::TokenError;
use domain::token_rules;
use store::{CurrentTokens, InstanceId, RefreshDecision};

use crate::jobs::{self, PeriodicJob};
use crate::metrics::Trigger;
use crate::{tokens, Platform, PlatformError};

/// How many instances one run claims at most.
pub const BATCH: u32 = 100;

/// The default period of the loop (`--refresh-period`).
pub const DEFAULT_PERIOD: Duration = Duration::from_secs(60);

/// What one run did, instance by instance.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RunSummary {
    /// Instances the store listed as due.
    pub due: usize,
    /// Refreshed (by this run, or by a concurrent worker while this run waited for the lock).
    pub refreshed: usize,
    /// No longer due once the lock was taken (another worker refreshed), or no longer valid.
    pub skipped: usize,
    /// The vendor answered `invalid_grant`: the instance is now marked invalid.
    pub invalid: usize,
    /// The vendor failed transiently (5xx, timeout, refused): the instance stays valid.
    pub transient: usize,
}

/// Refreshes every instance due at `now` (at most [`BATCH`]); see the module documentation.
pub async fn refresh_due_instances(platform: &Platform, now: DateTime<Utc>) -> store::Result<RunSummary> {
    let expires_before = now + token_rules::EXPIRY_MARGIN;
    let refreshed_before = now - token_rules::MAX_REFRESH_AGE;
    // The store leaves out instances still backing off from a transient failure.
    let ids = platform.store.instances_due_for_refresh(expires_before, refreshed_before, now, BATCH).await?;
    let mut summary = RunSummary { due: ids.len(), ..RunSummary::default() };
    for id in ids {
        let current = peek(platform, id).await?;
        if !current.valid || !still_due(&current, now, expires_before, refreshed_before) {
            summary.skipped += 1;
            continue;
        }
        match tokens::refresh(platform, id, current.refresh_generation, Trigger::background).await {
            Ok(_) => summary.refreshed += 1,
            Err(PlatformError::Token(TokenError::Invalid { .. })) => summary.invalid += 1,
            Err(error) => {
                tracing::warn!(instance_id = id.get(), %error, "background refresh failed; the instance stays valid");
                summary.transient += 1;
            }
        }
    }
    if summary.due > 0 {
        tracing::info!(?summary, "background token refresh run");
    }
    Ok(summary)
}

/// The token refresh as a [`PeriodicJob`]: a full batch that refreshed something leaves more
/// work waiting.
#[derive(Debug, Clone, Copy, Default)]
pub struct TokenRefreshJob;

#[async_trait]
impl PeriodicJob for TokenRefreshJob {
    fn name(&self) -> &'static str {
        "token-refresh"
    }

    async fn run_once(&self, platform: &Platform) -> Result<bool, PlatformError> {
        let summary = refresh_due_instances(platform, Utc::now()).await?;
        Ok(summary.due == BATCH as usize && summary.refreshed > 0)
    }
}

/// Runs [`TokenRefreshJob`] every `period` until `shutdown` resolves ([`jobs::run_periodic`]:
/// one node at a time, under the job's lease).
pub async fn run(platform: Platform, period: Duration, shutdown: impl Future<Output = ()>) {
    jobs::run_periodic(platform, &TokenRefreshJob, period, shutdown).await;
}

/// The stored pair, read inside the refresh critical section without changing it.
async fn peek(platform: &Platform, id: InstanceId) -> store::Result<CurrentTokens> {
    let result = platform
        .store
        .refresh_tokens(id, Box::new(|_current: CurrentTokens| Box::pin(async { RefreshDecision::Unchanged })))
        .await?;
    Ok(result.current)
}

/// The listing's condition, re-checked on the pair read under the lock.
fn still_due(
    current: &CurrentTokens,
    now: DateTime<Utc>,
    expires_before: DateTime<Utc>,
    refreshed_before: DateTime<Utc>,
) -> bool {
    let Some(pair) = &current.pair else {
        // No access token (or nothing to refresh from, which the refresh path reports).
        return true;
    };
    // Within the margin, and past half the token's life (a short-lived token; the listing has only
    // the first condition).
    let near_expiry = pair.access_expires_at.is_some_and(|at| {
        let issued = current.refreshed_at.unwrap_or(at);
        at < expires_before && at - token_rules::expiry_margin(at - issued) <= now
    });
    let old = current.refreshed_at.is_none_or(|at| at < refreshed_before);
    near_expiry || old
}
