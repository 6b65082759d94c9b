//! The file-backed [`TokenSource`]: one vendor authorization kept in a JSON file, for the SQL
//! driver's `OAuthSettingsLocation=<path>` (no server, no database), shared safely by every
//! process and task that points at the same file.
//!
//! Owns the file's format, its crash-safe replacement, and keeping other processes out while the
//! pair is replaced (an OS lock on a sidecar `<path>.lock`). The single flight of refreshes and
//! every decision on the pair are [`crate::token_refresh`]'s, shared with the in-memory source; how
//! the first grant is obtained is the driver's (its consent flow calls
//! [`FileTokens::exchange_code`] or [`FileTokens::store`]).
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
//! # Why an OS lock, and on a sidecar
//!
//! A refresh spends the vendor's rotating refresh token, so "re-read, call the vendor, write" must
//! be one critical section across every process sharing the file ([`crate::token_refresh`] says
//! why). Here that section is an exclusive OS lock on `<path>.lock`: a sidecar, because the token
//! file itself is replaced by rename and a lock on it would stay with the old inode. Every write
//! of the file, [`FileTokens::store`] included, takes the same lock.
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

use async_trait::async_trait;
use domain::Secret;
use serde_json::{json, Map, Value};

use crate::oauth::{ClientCredentials, OAuthClient};
use crate::token_refresh::{Keeper, RefreshingTokens, Stored};
use crate::tokens::{AccessToken, TokenError, TokenSource};

pub use crate::token_refresh::TokenPair;

/// One vendor authorization kept in a token file; see the module documentation.
///
/// Cheap to clone: clones share the in-process single flight. Separate `FileTokens` on the same
/// path (in one process or many) are kept apart by the OS lock.
#[derive(Debug, Clone)]
pub struct FileTokens {
    tokens: RefreshingTokens,
    path: PathBuf,
}

/// The token file and its sidecar lock.
#[derive(Debug)]
struct TokenFile {
    path: PathBuf,
    lock_path: PathBuf,
}

impl FileTokens {
    /// A source backed by the file at `path` (which need not exist yet), refreshing through `oauth`
    /// as `client`. Touches no file until used.
    pub fn new(path: impl Into<PathBuf>, oauth: OAuthClient, client: ClientCredentials) -> Self {
        let path = path.into();
        let mut lock_path = path.clone().into_os_string();
        lock_path.push(".lock");
        let file = TokenFile { path: path.clone(), lock_path: PathBuf::from(lock_path) };
        FileTokens { tokens: RefreshingTokens::new(file, oauth, client), path }
    }

    /// The token file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Stores `pair` as the file's grant, replacing any pair it held (under the lock, so never in
    /// the middle of another process's refresh). Returns the new generation, one more than the
    /// replaced file's (or 1). A pair with neither token is `NoAccessToken`.
    pub async fn store(&self, pair: TokenPair) -> Result<i64, TokenError> {
        self.tokens.store(pair).await
    }

    /// Exchanges an authorization code (`redirect_uri` exactly as the authorize request carried
    /// it) and stores the pair. A refused code is `Invalid` with the vendor's description.
    pub async fn exchange_code(&self, code: &Secret, redirect_uri: &str) -> Result<AccessToken, TokenError> {
        self.tokens.exchange_code(code, redirect_uri).await
    }

    /// Whether the file holds a grant (a token to call with or one to refresh with); `false` when
    /// there is no file. A file that cannot be read or parsed is a `Storage` error.
    pub async fn has_grant(&self) -> Result<bool, TokenError> {
        self.tokens.has_grant().await
    }
}

#[async_trait]
impl TokenSource for FileTokens {
    async fn current(&self) -> Result<AccessToken, TokenError> {
        self.tokens.current().await
    }

    async fn refresh_after_401(&self, stale: &AccessToken) -> Result<Option<AccessToken>, TokenError> {
        self.tokens.refresh_after_401(stale).await
    }
}

impl std::fmt::Display for TokenFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.path.display())
    }
}

#[async_trait]
impl Keeper for TokenFile {
    /// Waits for the exclusive OS lock, on a blocking thread.
    async fn exclusive(&self) -> Result<Box<dyn Send>, TokenError> {
        let path = self.lock_path.clone();
        let lock = blocking(move || FileLock::acquire(&path)).await?;
        Ok(Box::new(lock))
    }

    async fn load(&self) -> Result<Option<Stored>, TokenError> {
        let path = self.path.clone();
        blocking(move || read(&path)).await
    }

    async fn save(&self, stored: Stored) -> Result<(), TokenError> {
        let path = self.path.clone();
        blocking(move || write(&path, &stored)).await
    }
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
