//! The single flight of refreshes of one stored vendor grant, wherever it is kept: a token file
//! ([`crate::token_file`]) or the process's memory ([`crate::token_memory`]).
//!
//! Owns the decisions on a stored pair (use it, refresh it, or give up), spending a refresh token
//! once and storing the rotated pair before anything else, and what follows the vendor's
//! `invalid_grant`. It does not own *when* a token is due or what a token-endpoint answer means
//! (`domain::token_rules`), nor the HTTP of the token endpoint ([`crate::oauth`]), nor where the
//! pair is kept and how other processes are kept out (a [`Keeper`]).
//!
//! # Why "re-read, call the vendor, write" is one critical section
//!
//! The vendor rotates refresh tokens: each refresh returns a new one and retires the old one at
//! once. Two holders refreshing the same pair would both spend the same refresh token: the second
//! would get `invalid_grant` for an authorization that is fine, and a slow writer could put a
//! retired pair back over the live one. So a refresh happens only inside the keeper's exclusive
//! section (an OS lock for a file) and under an in-process Tokio mutex, and the pair is re-read
//! there: if another holder refreshed meanwhile, its pair is used. Every write of the pair,
//! [`RefreshingTokens::store`] included, takes the same section. The section runs in a task of
//! its own, so a caller that gives up (a timeout around the call) cannot cancel it between the
//! vendor's answer and the write.

use std::fmt;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use domain::token_rules::{
    after_lock, expiry_margin_secs, on_invalid_grant, AfterLock, InvalidGrantAction, RefreshOutcome, TokenGrant,
    EXPIRY_MARGIN, MAX_REFRESH_AGE,
};
use domain::Secret;

use crate::oauth::{ClientCredentials, OAuthClient};
use crate::tokens::{AccessToken, TokenError};

/// A token pair to store as the grant: after a code exchange, or given by the user (a refresh
/// token, an access token, or both).
#[derive(Debug, Clone)]
pub struct TokenPair {
    pub access_token: Option<Secret>,
    pub refresh_token: Option<Secret>,
    /// When the access token expires; `None`: unknown, and the token is used until the vendor
    /// answers 401.
    pub expires_at: Option<SystemTime>,
}

impl TokenPair {
    /// The pair of a token-endpoint answer received now.
    pub fn from_grant(grant: TokenGrant) -> Self {
        let expires_at = grant.expires_in.and_then(|seconds| now().checked_add(seconds)).map(system_time);
        TokenPair { access_token: Some(grant.access_token), refresh_token: grant.refresh_token, expires_at }
    }
}

/// The stored grant. Times are Unix seconds.
#[derive(Debug, Clone)]
pub(crate) struct Stored {
    pub(crate) access_token: Option<Secret>,
    pub(crate) refresh_token: Option<Secret>,
    pub(crate) expires_at: Option<i64>,
    /// Incremented by every write: tells a holder of a replaced token from one that must refresh.
    pub(crate) generation: i64,
    /// The last write of a new pair.
    pub(crate) refreshed_at: Option<i64>,
}

/// Where a grant is kept, and how other holders of it are kept out while it is replaced.
/// `Display` names the place for log lines (a path, a memory name), never a value.
#[async_trait]
pub(crate) trait Keeper: fmt::Debug + fmt::Display + Send + Sync + 'static {
    /// Waits until no other process holds the grant's exclusive section and holds it until the
    /// returned guard is dropped. (Tasks of this process are already queued on a mutex.)
    async fn exclusive(&self) -> Result<Box<dyn Send>, TokenError>;
    /// The stored grant; `None` when there is none.
    async fn load(&self) -> Result<Option<Stored>, TokenError>;
    /// Replaces the stored grant durably.
    async fn save(&self, stored: Stored) -> Result<(), TokenError>;
}

/// One refreshable grant in a [`Keeper`]; see the module documentation.
///
/// Cheap to clone: clones share the in-process single flight.
#[derive(Debug, Clone)]
pub(crate) struct RefreshingTokens {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    keeper: Box<dyn Keeper>,
    oauth: OAuthClient,
    client: ClientCredentials,
    /// Held across a whole critical section, so tasks of this process queue here (cheaply, and
    /// without a blocking thread each) rather than on the keeper's lock, and find the pair the
    /// first one stored.
    refreshing: tokio::sync::Mutex<()>,
}

/// What a caller asks of the critical section.
#[derive(Debug, Clone, Copy)]
enum Wanted {
    /// A usable token; `seen` is the generation of the due pair the caller read.
    Current { seen: i64 },
    /// A token other than the one of generation `stale`, which the vendor refused.
    After401 { stale: i64 },
}

/// What to do with the stored pair.
enum Decision {
    Use(AccessToken),
    Refresh(Secret),
    /// No refresh token: nothing more can be had than what is stored.
    CannotRefresh,
}

impl RefreshingTokens {
    pub(crate) fn new(keeper: impl Keeper, oauth: OAuthClient, client: ClientCredentials) -> Self {
        let inner = Inner { keeper: Box::new(keeper), oauth, client, refreshing: tokio::sync::Mutex::new(()) };
        RefreshingTokens { inner: Arc::new(inner) }
    }

    /// Stores `pair`, replacing any pair kept (inside the critical section, so never in the
    /// middle of another holder's refresh). Returns the new generation, one more than the replaced
    /// pair's (or 1). A pair with neither token is `NoAccessToken`.
    pub(crate) async fn store(&self, pair: TokenPair) -> Result<i64, TokenError> {
        if pair.access_token.is_none() && pair.refresh_token.is_none() {
            return Err(TokenError::NoAccessToken);
        }
        let inner = self.inner.clone();
        run_to_completion(async move {
            let _in_process = inner.refreshing.lock().await;
            let _exclusive = inner.keeper.exclusive().await?;
            // A malformed or unreadable old pair is being replaced anyway: count from it if we can.
            let previous = inner.keeper.load().await.ok().flatten().map_or(0, |stored| stored.generation);
            let stored = Stored {
                access_token: pair.access_token,
                refresh_token: pair.refresh_token,
                expires_at: pair.expires_at.map(epoch_seconds),
                generation: previous.saturating_add(1),
                refreshed_at: Some(now()),
            };
            let generation = stored.generation;
            inner.keeper.save(stored).await?;
            tracing::info!(location = %inner.keeper, generation, "stored a new vendor grant");
            Ok(generation)
        })
        .await
    }

    /// Exchanges an authorization code (`redirect_uri` exactly as the authorize request carried
    /// it) and stores the pair. A refused code is `Invalid` with the vendor's description.
    pub(crate) async fn exchange_code(&self, code: &Secret, redirect_uri: &str) -> Result<AccessToken, TokenError> {
        let grant = match self.inner.oauth.exchange_code(&self.inner.client, code, redirect_uri).await {
            RefreshOutcome::Refreshed(grant) => grant,
            RefreshOutcome::InvalidGrant { description } => {
                return Err(TokenError::Invalid { instance_id: None, provider_message: description })
            }
            RefreshOutcome::Transient(cause) => return Err(TokenError::Transient(cause)),
        };
        let secret = grant.access_token.clone();
        let generation = self.store(TokenPair::from_grant(grant)).await?;
        Ok(AccessToken { secret, generation })
    }

    /// Whether a grant is kept at all (a token to call with, or one to refresh with).
    pub(crate) async fn has_grant(&self) -> Result<bool, TokenError> {
        Ok(self.inner.keeper.load().await?.is_some())
    }

    /// [`crate::TokenSource::current`].
    pub(crate) async fn current(&self) -> Result<AccessToken, TokenError> {
        let stored = self.inner.keeper.load().await?.ok_or(TokenError::NoAccessToken)?;
        let wanted = Wanted::Current { seen: stored.generation };
        match decide(wanted, &stored, now())? {
            Decision::Use(token) => Ok(token),
            Decision::Refresh(_) | Decision::CannotRefresh => {
                self.critical(wanted).await?.ok_or(TokenError::NoAccessToken)
            }
        }
    }

    /// [`crate::TokenSource::refresh_after_401`].
    pub(crate) async fn refresh_after_401(&self, stale: &AccessToken) -> Result<Option<AccessToken>, TokenError> {
        self.critical(Wanted::After401 { stale: stale.generation }).await
    }

    /// Runs the critical section for `wanted` in a task of its own (see the module documentation).
    async fn critical(&self, wanted: Wanted) -> Result<Option<AccessToken>, TokenError> {
        let inner = self.inner.clone();
        run_to_completion(async move { inner.single_flight(wanted).await }).await
    }
}

impl Inner {
    /// Decides on the stored pair first under the in-process mutex (another task may have just
    /// refreshed), then in the keeper's exclusive section (another process may have), and
    /// refreshes only if the pair is still due. `None`: the vendor's 401 stands (no refresh token).
    async fn single_flight(&self, wanted: Wanted) -> Result<Option<AccessToken>, TokenError> {
        let _in_process = self.refreshing.lock().await;
        if let Some(done) = self.settled(wanted).await? {
            return Ok(done);
        }
        let _exclusive = self.keeper.exclusive().await?;
        let stored = self.keeper.load().await?.ok_or(TokenError::NoAccessToken)?;
        match decide(wanted, &stored, now())? {
            Decision::Use(token) => Ok(Some(token)),
            Decision::CannotRefresh => Ok(None),
            Decision::Refresh(refresh_token) => self.refresh(wanted, stored, refresh_token).await.map(Some),
        }
    }

    /// The answer without a refresh, when the stored pair already gives one.
    async fn settled(&self, wanted: Wanted) -> Result<Option<Option<AccessToken>>, TokenError> {
        let stored = self.keeper.load().await?.ok_or(TokenError::NoAccessToken)?;
        Ok(match decide(wanted, &stored, now())? {
            Decision::Use(token) => Some(Some(token)),
            Decision::CannotRefresh => Some(None),
            Decision::Refresh(_) => None,
        })
    }

    /// Spends `refresh_token` (the stored pair's) and writes the rotated pair before anything else.
    /// Called inside the critical section.
    async fn refresh(&self, wanted: Wanted, stored: Stored, refresh_token: Secret) -> Result<AccessToken, TokenError> {
        let grant = match self.oauth.refresh(&self.client, &refresh_token).await {
            RefreshOutcome::Refreshed(grant) => grant,
            RefreshOutcome::InvalidGrant { description } => return self.on_invalid_grant(&stored, description).await,
            RefreshOutcome::Transient(cause) => {
                // Due is not expired: a call may still go with the token the vendor has not yet
                // retired, and the next call tries the refresh again. Not after a 401, though.
                if let (Wanted::Current { .. }, Some(token)) = (wanted, unexpired(&stored, now())) {
                    tracing::warn!(location = %self.keeper, ?cause, "token refresh failed; using the unexpired token");
                    return Ok(token);
                }
                return Err(TokenError::Transient(cause));
            }
        };
        let received_at = now();
        let token = AccessToken { secret: grant.access_token.clone(), generation: stored.generation.saturating_add(1) };
        let next = Stored {
            access_token: Some(grant.access_token),
            // RFC 6749 §6: no new refresh token means the old one stays valid.
            refresh_token: Some(grant.refresh_token.unwrap_or(refresh_token)),
            expires_at: grant.expires_in.and_then(|seconds| received_at.checked_add(seconds)),
            generation: token.generation,
            refreshed_at: Some(received_at),
        };
        if let Err(error) = self.keeper.save(next).await {
            tracing::error!(
                location = %self.keeper,
                "the vendor rotated the refresh token but the new pair could not be stored; the authorization is lost"
            );
            return Err(error);
        }
        tracing::info!(location = %self.keeper, generation = token.generation, "refreshed the vendor tokens");
        Ok(token)
    }

    /// After `invalid_grant`: the stored pair if someone replaced it since it was read (a writer
    /// that ignored the lock, say an edit by hand), else the authorization is gone.
    async fn on_invalid_grant(&self, used: &Stored, description: Option<String>) -> Result<AccessToken, TokenError> {
        let invalid = TokenError::Invalid { instance_id: None, provider_message: description };
        let Some(stored) = self.keeper.load().await? else { return Err(invalid) };
        match (on_invalid_grant(version(used.generation), version(stored.generation)), token_of(&stored)) {
            (InvalidGrantAction::UseStored, Some(token)) => Ok(token),
            _ => {
                tracing::warn!(location = %self.keeper, "the vendor rejected the stored refresh token");
                Err(invalid)
            }
        }
    }
}

/// What the stored pair gives for `wanted` at `now`.
fn decide(wanted: Wanted, stored: &Stored, now: i64) -> Result<Decision, TokenError> {
    let (seen, usable_now) = match wanted {
        Wanted::Current { seen } => (seen, usable(stored, now)),
        Wanted::After401 { stale } => (stale, None),
    };
    // A pair written since the caller's read is used even if it too is due (a vendor handing out
    // tokens shorter-lived than the margin must not make every process refresh in turn).
    let replaced = after_lock(version(seen), version(stored.generation)) == AfterLock::UseStored;
    let current = if replaced { token_of(stored) } else { None };
    if let Some(token) = current.or(usable_now) {
        return Ok(Decision::Use(token));
    }
    match (&stored.refresh_token, wanted) {
        (Some(refresh_token), _) => Ok(Decision::Refresh(refresh_token.clone())),
        (None, Wanted::After401 { .. }) => Ok(Decision::CannotRefresh),
        (None, Wanted::Current { .. }) => Err(TokenError::NoAccessToken),
    }
}

/// The stored access token if it may be used without a refresh at `now`: it is not due (not
/// within [`expiry_margin_secs`] of its expiry, the refresh token not [`MAX_REFRESH_AGE`] old), or it
/// cannot be refreshed anyway. An unknown expiry is not due: the vendor's 401 will tell.
fn usable(stored: &Stored, now: i64) -> Option<AccessToken> {
    let token = token_of(stored)?;
    let near_expiry = stored.expires_at.is_some_and(|at| {
        let margin =
            stored.refreshed_at.map_or(EXPIRY_MARGIN.num_seconds(), |r| expiry_margin_secs(at.saturating_sub(r)));
        at.saturating_sub(margin) <= now
    });
    let aged = stored.refreshed_at.is_some_and(|at| at.saturating_add(MAX_REFRESH_AGE.num_seconds()) <= now);
    (stored.refresh_token.is_none() || !(near_expiry || aged)).then_some(token)
}

/// The stored access token if it has not expired at `now` (an unknown expiry counts as expired).
fn unexpired(stored: &Stored, now: i64) -> Option<AccessToken> {
    stored.expires_at.filter(|at| *at > now).and_then(|_| token_of(stored))
}

fn token_of(stored: &Stored) -> Option<AccessToken> {
    let secret = stored.access_token.clone()?;
    Some(AccessToken { secret, generation: stored.generation })
}

/// Generations are never negative (a negative one is a malformed file).
fn version(generation: i64) -> u64 {
    u64::try_from(generation).unwrap_or(0)
}

/// Runs `work` in a task of its own and waits for it: dropping the caller's future leaves the work
/// running to its end (and its locks released there).
async fn run_to_completion<T: Send + 'static>(
    work: impl std::future::Future<Output = Result<T, TokenError>> + Send + 'static,
) -> Result<T, TokenError> {
    tokio::spawn(work).await.map_err(|_| TokenError::Storage("the token refresh task failed".into()))?
}

fn now() -> i64 {
    epoch_seconds(SystemTime::now())
}

fn epoch_seconds(at: SystemTime) -> i64 {
    match at.duration_since(UNIX_EPOCH) {
        Ok(after) => i64::try_from(after.as_secs()).unwrap_or(i64::MAX),
        Err(before) => i64::try_from(before.duration().as_secs()).map_or(i64::MIN, |seconds| -seconds),
    }
}

fn system_time(seconds: i64) -> SystemTime {
    let magnitude = std::time::Duration::from_secs(seconds.unsigned_abs());
    if seconds >= 0 {
        UNIX_EPOCH + magnitude
    } else {
        UNIX_EPOCH - magnitude
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(access: Option<&str>, refresh: Option<&str>, expires_at: Option<i64>, generation: i64) -> Stored {
        Stored {
            access_token: access.map(Secret::new),
            refresh_token: refresh.map(Secret::new),
            expires_at,
            generation,
            refreshed_at: Some(0),
        }
    }

    fn kind(decision: Result<Decision, TokenError>) -> String {
        match decision {
            Ok(Decision::Use(token)) => format!("use {}", token.generation),
            Ok(Decision::Refresh(_)) => "refresh".into(),
            Ok(Decision::CannotRefresh) => "cannot".into(),
            Err(error) => format!("{error:?}"),
        }
    }

    #[test]
    fn a_short_lived_token_is_used_for_half_its_life() {
        let now = 1_000_000;
        let issued_20_s_ago =
            Stored { refreshed_at: Some(now - 20), ..stored(Some("a"), Some("r"), Some(now + 40), 1) };
        assert_eq!(usable(&issued_20_s_ago, now).map(|token| token.generation), Some(1));
        let issued_31_s_ago =
            Stored { refreshed_at: Some(now - 31), ..stored(Some("a"), Some("r"), Some(now + 29), 1) };
        assert!(usable(&issued_31_s_ago, now).is_none(), "past half its life: refresh");
    }

    #[test]
    fn decisions_follow_the_token_rules() {
        let now = 1_000_000;
        let margin = EXPIRY_MARGIN.num_seconds();
        let fresh = Some(now + margin + 60);
        let due = Some(now + margin - 60);
        let current = |seen| Wanted::Current { seen };
        let after_401 = |stale| Wanted::After401 { stale };
        let cases = [
            ("fresh token", current(3), stored(Some("a"), Some("r"), fresh, 3), "use 3"),
            ("inside the margin", current(3), stored(Some("a"), Some("r"), due, 3), "refresh"),
            ("unknown expiry", current(3), stored(Some("a"), Some("r"), None, 3), "use 3"),
            ("no access token", current(3), stored(None, Some("r"), None, 3), "refresh"),
            ("replaced meanwhile, due too", current(3), stored(Some("a"), Some("r"), due, 4), "use 4"),
            ("due, no refresh token", current(3), stored(Some("a"), None, due, 3), "use 3"),
            ("nothing to call with", current(3), stored(None, None, None, 3), "NoAccessToken"),
            ("401 on the stored token", after_401(3), stored(Some("a"), Some("r"), fresh, 3), "refresh"),
            ("401 on a replaced token", after_401(2), stored(Some("a"), Some("r"), fresh, 3), "use 3"),
            ("401, no refresh token", after_401(3), stored(Some("a"), None, fresh, 3), "cannot"),
        ];
        for (name, wanted, stored, expected) in cases {
            assert_eq!(kind(decide(wanted, &stored, now)), expected, "{name}");
        }
        let aged =
            Stored { refreshed_at: Some(now - MAX_REFRESH_AGE.num_seconds()), ..stored(Some("a"), Some("r"), None, 1) };
        assert_eq!(kind(decide(current(1), &aged, now)), "refresh", "a 30-day-old refresh token is spent");
    }

    #[test]
    fn epoch_seconds_round_trip_either_side_of_1970() {
        for seconds in [-86_400, 0, 1_767_225_600] {
            assert_eq!(epoch_seconds(system_time(seconds)), seconds);
        }
    }
}
