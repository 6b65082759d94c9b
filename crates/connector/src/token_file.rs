//! The file-backed [`TokenSource`]: one vendor authorization kept in a JSON file, for the SQL
//! driver's `OAuthSettingsLocation=<path>` (no server, no database), shared safely by every
//! process and task that points at the same file.
//!
//! Owns the file's format, its crash-safe replacement, and the single flight of refreshes across
//! processes (an OS lock on a sidecar `<path>.lock`) and within one (a Tokio mutex). It does not
//! own *when* a token is due or what a token-endpoint answer means (`domain::token_rules`), nor the
//! HTTP of the token endpoint ([`crate::oauth`]), nor how the first grant is obtained (the driver's
//! consent flow calls [`FileTokens::exchange_code`] or [`FileTokens::store`]).
//!
//! # The file
//!
//! ```json
//! {"access_token": "…", "refresh_token": "…", "expires_at": 1767225600, "generation": 3, "refreshed_at": 1767139200}
//! ```
//!
//! Times are Unix seconds; `access_token`, `refresh_token` and `expires_at` may be `null` or absent
//! (a file given only a refresh token refreshes on first use; one given only an access token is
//! used until the vendor refuses it); a missing `generation` reads as 0. Every write increments
//! `generation`, the counter that tells a worker holding a replaced token from one that must
//! refresh. The file (and its lock) are created with mode 0600 on Unix.
//!
//! # Why a lock around "re-read, call the vendor, write"
//!
//! The vendor rotates refresh tokens: each refresh returns a new one and retires the old one at
//! once. Two processes refreshing the same pair would both spend the same refresh token: the
//! second would get `invalid_grant` for an authorization that is fine, and a slow writer could put
//! a retired pair back over the live one. So a refresh happens only under an exclusive OS lock on
//! `<path>.lock` (a sidecar, because the token file itself is replaced by rename and a lock on it
//! would stay with the old inode), and the file is re-read under the lock: if another process
//! refreshed meanwhile, its pair is used. Every write of the file, [`FileTokens::store`] included,
//! takes the same lock. The locked section runs in a task of its own, so a caller that gives up
//! (a timeout around the call) cannot cancel it between the vendor's answer and the write.
//!
//! # Crash safety, and the one window that remains
//!
//! A pair is written to a temporary file in the same directory, fsynced, renamed over the token
//! file, and the directory is fsynced: a reader sees the old file or the new one, never a torn
//! one, and a crash leaves the old file or the new one. What no file format can close is the
//! window between the vendor's answer and the rename (and, against a power cut, the directory
//! fsync after it): if the process dies there, the vendor has already retired the refresh token
//! the file still holds, and the authorization is lost — the next refresh gets `invalid_grant`
//! ([`TokenError::Invalid`]) and the user must consent again. The write path keeps that window as
//! small as one write, one fsync and one rename: nothing else happens between the vendor's answer
//! and the write. A write that fails there (disk full, permissions) loses the authorization the
//! same way; it is logged as an error, without any value. A temporary file left by a crash before
//! the rename holds secrets too: it has mode 0600 and a name starting with `.` and ending in `.tmp`.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use domain::token_rules::{
    after_lock, on_invalid_grant, AfterLock, InvalidGrantAction, RefreshOutcome, TokenGrant, EXPIRY_MARGIN,
    MAX_REFRESH_AGE,
};
use domain::Secret;
use serde_json::{json, Map, Value};

use crate::oauth::{ClientCredentials, OAuthClient};
use crate::tokens::{AccessToken, TokenError, TokenSource};

/// A token pair to store as the file's grant: after a code exchange, or given by the user (a
/// refresh token, an access token, or both).
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

/// One vendor authorization kept in a token file; see the module documentation.
///
/// Cheap to clone: clones share the in-process single flight. Separate `FileTokens` on the same
/// path (in one process or many) are kept apart by the OS lock.
#[derive(Debug, Clone)]
pub struct FileTokens {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    path: PathBuf,
    lock_path: PathBuf,
    oauth: OAuthClient,
    client: ClientCredentials,
    /// Held across a whole locked section, so tasks of this process queue here (cheaply, and
    /// without a blocking thread each) rather than on the OS lock, and find the pair the first one
    /// stored.
    refreshing: tokio::sync::Mutex<()>,
}

/// The file's content.
#[derive(Debug, Clone)]
struct Stored {
    access_token: Option<Secret>,
    refresh_token: Option<Secret>,
    /// Unix seconds.
    expires_at: Option<i64>,
    generation: i64,
    /// Unix seconds of the last write of a new pair.
    refreshed_at: Option<i64>,
}

/// What a caller asks of the locked section.
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

impl FileTokens {
    /// A source backed by the file at `path` (which need not exist yet), refreshing through `oauth`
    /// as `client`. Touches no file until used.
    pub fn new(path: impl Into<PathBuf>, oauth: OAuthClient, client: ClientCredentials) -> Self {
        let path = path.into();
        let mut lock_path = path.clone().into_os_string();
        lock_path.push(".lock");
        let inner =
            Inner { path, lock_path: PathBuf::from(lock_path), oauth, client, refreshing: tokio::sync::Mutex::new(()) };
        FileTokens { inner: Arc::new(inner) }
    }

    /// The token file's path.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Stores `pair` as the file's grant, replacing any pair it held (under the lock, so never in
    /// the middle of another process's refresh). Returns the new generation, one more than the
    /// replaced file's (or 1). A pair with neither token is `NoAccessToken`.
    pub async fn store(&self, pair: TokenPair) -> Result<i64, TokenError> {
        if pair.access_token.is_none() && pair.refresh_token.is_none() {
            return Err(TokenError::NoAccessToken);
        }
        let inner = self.inner.clone();
        run_to_completion(async move {
            let _in_process = inner.refreshing.lock().await;
            let _lock = inner.lock().await?;
            // A malformed or unreadable old file is being replaced anyway: count from it if we can.
            let previous = inner.load().await.ok().flatten().map_or(0, |stored| stored.generation);
            let stored = Stored {
                access_token: pair.access_token,
                refresh_token: pair.refresh_token,
                expires_at: pair.expires_at.map(epoch_seconds),
                generation: previous.saturating_add(1),
                refreshed_at: Some(now()),
            };
            let generation = stored.generation;
            inner.save(stored).await?;
            tracing::info!(path = %inner.path.display(), generation, "stored a new vendor grant in the token file");
            Ok(generation)
        })
        .await
    }

    /// Exchanges an authorization code (`redirect_uri` exactly as the authorize request carried
    /// it) and stores the pair. A refused code is `Invalid` with the vendor's description.
    pub async fn exchange_code(&self, code: &Secret, redirect_uri: &str) -> Result<AccessToken, TokenError> {
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

    /// Runs the locked section for `wanted` in a task of its own (see the module documentation).
    async fn locked(&self, wanted: Wanted) -> Result<Option<AccessToken>, TokenError> {
        let inner = self.inner.clone();
        run_to_completion(async move { inner.single_flight(wanted).await }).await
    }
}

#[async_trait]
impl TokenSource for FileTokens {
    async fn current(&self) -> Result<AccessToken, TokenError> {
        let stored = self.inner.load().await?.ok_or(TokenError::NoAccessToken)?;
        let wanted = Wanted::Current { seen: stored.generation };
        match decide(wanted, &stored, now())? {
            Decision::Use(token) => Ok(token),
            Decision::Refresh(_) | Decision::CannotRefresh => {
                self.locked(wanted).await?.ok_or(TokenError::NoAccessToken)
            }
        }
    }

    async fn refresh_after_401(&self, stale: &AccessToken) -> Result<Option<AccessToken>, TokenError> {
        self.locked(Wanted::After401 { stale: stale.generation }).await
    }
}

impl Inner {
    /// Decides on the stored pair first under the in-process mutex (another task may have just
    /// refreshed), then under the OS lock (another process may have), and refreshes only if the
    /// pair is still due. `None`: the vendor's 401 stands (no refresh token).
    async fn single_flight(&self, wanted: Wanted) -> Result<Option<AccessToken>, TokenError> {
        let _in_process = self.refreshing.lock().await;
        if let Some(done) = self.settled(wanted).await? {
            return Ok(done);
        }
        let _lock = self.lock().await?;
        let stored = self.load().await?.ok_or(TokenError::NoAccessToken)?;
        match decide(wanted, &stored, now())? {
            Decision::Use(token) => Ok(Some(token)),
            Decision::CannotRefresh => Ok(None),
            Decision::Refresh(refresh_token) => self.refresh(wanted, stored, refresh_token).await.map(Some),
        }
    }

    /// The answer without a refresh, when the stored pair already gives one.
    async fn settled(&self, wanted: Wanted) -> Result<Option<Option<AccessToken>>, TokenError> {
        let stored = self.load().await?.ok_or(TokenError::NoAccessToken)?;
        Ok(match decide(wanted, &stored, now())? {
            Decision::Use(token) => Some(Some(token)),
            Decision::CannotRefresh => Some(None),
            Decision::Refresh(_) => None,
        })
    }

    /// Spends `refresh_token` (the stored pair's) and writes the rotated pair before anything else.
    /// Called with both locks held.
    async fn refresh(&self, wanted: Wanted, stored: Stored, refresh_token: Secret) -> Result<AccessToken, TokenError> {
        let grant = match self.oauth.refresh(&self.client, &refresh_token).await {
            RefreshOutcome::Refreshed(grant) => grant,
            RefreshOutcome::InvalidGrant { description } => return self.on_invalid_grant(&stored, description).await,
            RefreshOutcome::Transient(cause) => {
                // Due is not expired: a call may still go with the token the vendor has not yet
                // retired, and the next call tries the refresh again. Not after a 401, though.
                if let (Wanted::Current { .. }, Some(token)) = (wanted, unexpired(&stored, now())) {
                    tracing::warn!(path = %self.path.display(), ?cause, "token refresh failed; using the unexpired token");
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
        if let Err(error) = self.save(next).await {
            tracing::error!(
                path = %self.path.display(),
                "the vendor rotated the refresh token but the token file could not be written; the authorization is lost"
            );
            return Err(error);
        }
        tracing::info!(path = %self.path.display(), generation = token.generation, "refreshed the vendor tokens");
        Ok(token)
    }

    /// After `invalid_grant`: the stored pair if someone replaced it since it was read (a writer
    /// that ignored the lock, say an edit by hand), else the authorization is gone.
    async fn on_invalid_grant(&self, used: &Stored, description: Option<String>) -> Result<AccessToken, TokenError> {
        let invalid = TokenError::Invalid { instance_id: None, provider_message: description };
        let Some(stored) = self.load().await? else { return Err(invalid) };
        match (on_invalid_grant(version(used.generation), version(stored.generation)), token_of(&stored)) {
            (InvalidGrantAction::UseStored, Some(token)) => Ok(token),
            _ => {
                tracing::warn!(path = %self.path.display(), "the vendor rejected the token file's refresh token");
                Err(invalid)
            }
        }
    }

    /// The stored pair; `None` when there is no file.
    async fn load(&self) -> Result<Option<Stored>, TokenError> {
        let path = self.path.clone();
        blocking(move || read(&path)).await
    }

    async fn save(&self, stored: Stored) -> Result<(), TokenError> {
        let path = self.path.clone();
        blocking(move || write(&path, &stored)).await
    }

    /// Waits for the exclusive OS lock, on a blocking thread.
    async fn lock(&self) -> Result<FileLock, TokenError> {
        let path = self.lock_path.clone();
        blocking(move || FileLock::acquire(&path)).await
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
/// within [`EXPIRY_MARGIN`] of its expiry, the refresh token not [`MAX_REFRESH_AGE`] old), or it
/// cannot be refreshed anyway. An unknown expiry is not due: the vendor's 401 will tell.
fn usable(stored: &Stored, now: i64) -> Option<AccessToken> {
    let token = token_of(stored)?;
    let near_expiry = stored.expires_at.is_some_and(|at| at.saturating_sub(EXPIRY_MARGIN.num_seconds()) <= now);
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
    tokio::spawn(work).await.map_err(|_| TokenError::Storage("the token file task failed".into()))?
}

/// Runs blocking file work off the async runtime.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, TokenError> + Send + 'static,
) -> Result<T, TokenError> {
    tokio::task::spawn_blocking(work).await.map_err(|_| TokenError::Storage("the token file task failed".into()))?
}

/// The exclusive OS lock on the sidecar lock file, released when dropped (or when the process
/// ends, whatever way it ends). The lock file is never removed: removing it would let two
/// processes lock two different files.
struct FileLock(File);

impl FileLock {
    fn acquire(path: &Path) -> Result<FileLock, TokenError> {
        let file = private_options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(|error| io_failure("token lock file", path, &error))?;
        // Blocks until no other process (or open file) holds it; std's file locks need Rust 1.89.
        file.lock().map_err(|error| io_failure("token lock file", path, &error))?;
        Ok(FileLock(file))
    }
}

impl Drop for FileLock {
    fn drop(&mut self) {
        // Closing the file releases the lock too; unlocking first says so explicitly.
        let _ = self.0.unlock();
    }
}

/// Reads and checks the token file; `None` when it does not exist or holds no token.
fn read(path: &Path) -> Result<Option<Stored>, TokenError> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(io_failure("token file", path, &error)),
    };
    let stored = parse(&bytes).map_err(|problem| storage(path, problem))?;
    Ok((stored.access_token.is_some() || stored.refresh_token.is_some()).then_some(stored))
}

/// The file's content, or what is wrong with it (never a value from it: serde's own messages can
/// quote one).
fn parse(bytes: &[u8]) -> Result<Stored, &'static str> {
    let value: Value = serde_json::from_slice(bytes).map_err(|_| "not valid JSON")?;
    let object = value.as_object().ok_or("not a JSON object")?;
    let generation = match object.get("generation") {
        None | Some(Value::Null) => 0,
        Some(value) => value.as_i64().filter(|g| *g >= 0).ok_or("generation is not a non-negative integer")?,
    };
    Ok(Stored {
        access_token: text(object, "access_token").ok_or("access_token is not a string")?,
        refresh_token: text(object, "refresh_token").ok_or("refresh_token is not a string")?,
        expires_at: seconds(object, "expires_at").ok_or("expires_at is not a whole number of Unix seconds")?,
        generation,
        refreshed_at: seconds(object, "refreshed_at").ok_or("refreshed_at is not a whole number of Unix seconds")?,
    })
}

/// `Some(None)` for an absent, null or empty field, `None` for a field that is not a string.
fn text(object: &Map<String, Value>, name: &str) -> Option<Option<Secret>> {
    match object.get(name) {
        None | Some(Value::Null) => Some(None),
        Some(Value::String(value)) => Some((!value.is_empty()).then(|| Secret::new(value.as_str()))),
        Some(_) => None,
    }
}

/// `Some(None)` for an absent or null field, `None` for a field that is not an integer.
fn seconds(object: &Map<String, Value>, name: &str) -> Option<Option<i64>> {
    match object.get(name) {
        None | Some(Value::Null) => Some(None),
        Some(value) => value.as_i64().map(Some),
    }
}

/// Replaces the token file with `stored`: a new file in the same directory, written and fsynced,
/// renamed over the old one, then the directory fsynced so the rename itself is durable.
fn write(path: &Path, stored: &Stored) -> Result<(), TokenError> {
    let expose = |secret: &Option<Secret>| secret.as_ref().map(|s| s.expose().to_string());
    let body = json!({
        "access_token": expose(&stored.access_token),
        "refresh_token": expose(&stored.refresh_token),
        "expires_at": stored.expires_at,
        "generation": stored.generation,
        "refreshed_at": stored.refreshed_at,
    });
    let directory = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let name = path.file_name().ok_or_else(|| storage(path, "the path names no file"))?;
    let temporary = directory.join(format!(
        ".{}.{}.{:016x}.tmp",
        name.to_string_lossy(),
        std::process::id(),
        rand::random::<u64>()
    ));
    let written = write_synced(&temporary, body.to_string().as_bytes())
        .and_then(|()| std::fs::rename(&temporary, path))
        .map_err(|error| io_failure("token file", path, &error));
    if written.is_err() {
        let _ = std::fs::remove_file(&temporary);
        return written;
    }
    sync_directory(directory).map_err(|error| io_failure("token file's directory", directory, &error))
}

fn write_synced(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut file = private_options().write(true).create_new(true).open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// Makes a rename in `directory` durable. Only Unix can open a directory to fsync it.
fn sync_directory(directory: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    File::open(directory)?.sync_all()?;
    #[cfg(not(unix))]
    let _ = directory;
    Ok(())
}

/// Open options whose newly created files are readable by their owner only.
fn private_options() -> OpenOptions {
    let mut options = OpenOptions::new();
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options
}

fn io_failure(what: &str, path: &Path, error: &std::io::Error) -> TokenError {
    TokenError::Storage(format!("{what} {}: {}", path.display(), error.kind()))
}

fn storage(path: &Path, problem: &str) -> TokenError {
    TokenError::Storage(format!("token file {}: {problem}", path.display()))
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
    fn parse_names_the_problem_and_never_a_value() {
        let cases: [(&str, &str); 6] = [
            ("{not json s3cret", "not valid JSON"),
            ("[\"s3cret\"]", "not a JSON object"),
            (r#"{"access_token": ["s3cret"]}"#, "access_token is not a string"),
            (r#"{"refresh_token": 7}"#, "refresh_token is not a string"),
            (
                r#"{"access_token": "s3cret", "expires_at": "2026-01-01T00:00:00Z"}"#,
                "expires_at is not a whole number of Unix seconds",
            ),
            (r#"{"access_token": "s3cret", "generation": -1}"#, "generation is not a non-negative integer"),
        ];
        for (body, expected) in cases {
            assert_eq!(parse(body.as_bytes()).err(), Some(expected), "{body}");
        }
        let minimal = parse(br#"{"refresh_token": "r"}"#).expect("a refresh token alone is a grant");
        assert_eq!((minimal.generation, minimal.expires_at, minimal.access_token.is_none()), (0, None, true));
    }

    #[test]
    fn epoch_seconds_round_trip_either_side_of_1970() {
        for seconds in [-86_400, 0, 1_767_225_600] {
            assert_eq!(epoch_seconds(system_time(seconds)), seconds);
        }
    }
}
