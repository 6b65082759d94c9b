//! How the driver signs in to the vendor: turns a connection string's [`VendorAuth`] into the
//! token source its vendor calls use and the OAuth client id the rate limiter counts them against
//! ([`sign_in`]).
//!
//! Owns the `InitiateOAuth` modes (`OFF`, `REFRESH`, `GETANDREFRESH`), where the token pair is kept
//! (`OAuthSettingsLocation`: a token file, the default one under the user's configuration
//! directory, or `memory://NAME`), the browser sign-in (the authorize URL, the loopback listener
//! on `CallbackURL`, the `state` check, the code exchange) and the words of every sign-in error,
//! including the "sign in again" the engine shows when the vendor refuses a refresh mid-query
//! ([`explain_token_error`]). It does not own the refresh itself (the connector's
//! [`FileTokens`]/[`MemoryTokens`] single flight), the connection string's syntax
//! ([`crate::connection_string`]), or the vendor calls made with the tokens.
//!
//! # The default token file
//!
//! With no `OAuthSettingsLocation`, the pair is kept in
//! `$XDG_CONFIG_HOME/junction/sql-tokens/<client id>.json`, or `$HOME/.config/...` when
//! `XDG_CONFIG_HOME` is unset or not absolute (the XDG base directory rule, written here rather
//! than pulling in a crate for two environment variables). Against a vendor other than the real
//! one (`VendorURL`, e.g. the simulator) the name is `<client id>@<host>-<port>.json`, so a
//! simulator's tokens are never sent to Infusionsoft. The directories are created with mode 0700,
//! the file with 0600.

use std::collections::HashMap;
use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use connector::endpoints::VendorEndpoints;
use connector::oauth::{ClientCredentials, OAuthClient};
use connector::{AccessToken, FileTokens, MemoryTokens, StaticTokens, TokenError, TokenPair, TokenSource};
use domain::token_rules::TransientCause;
use domain::Secret;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use url::Url;

use crate::connection_string::{InitiateOAuth, OAuthSettings, SettingsLocation, VendorAuth};

/// The client id the rate limiter counts API-key calls against (a key has no OAuth client; at the
/// vendor each key has a bucket of its own, and a connection holds one key).
pub const API_KEY_CLIENT_ID: &str = "api-key";

/// The client id calls with an `OAuthAccessToken` used as given are counted against when
/// `OAuthClientId` is not set.
pub const ACCESS_TOKEN_CLIENT_ID: &str = "access-token";

/// How long [`sign_in`] waits for the browser's redirect when nothing else is said.
pub const DEFAULT_CALLBACK_WAIT: Duration = Duration::from_secs(300);

/// How long one connection to the callback listener may take to send its request: a browser
/// sends it at once; a client that connects and says nothing must not hold the listener.
const CALLBACK_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// The largest request head the callback listener reads.
const MAX_CALLBACK_REQUEST: usize = 16 * 1024;

/// What the engine needs to call the vendor.
#[derive(Clone)]
pub struct VendorAccess {
    /// Where every call's credential comes from (refreshing itself when it can).
    pub tokens: Arc<dyn TokenSource>,
    /// The OAuth client id the vendor (and Junction's rate limiter) counts calls against;
    /// [`API_KEY_CLIENT_ID`] for an API key.
    pub client_id: String,
    /// Where the pair is kept, for [`explain_token_error`]; `None` when nothing is kept (an access
    /// token or an API key used as given).
    pub kept_in: Option<TokenLocation>,
}

impl fmt::Debug for VendorAccess {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VendorAccess")
            .field("client_id", &self.client_id)
            .field("kept_in", &self.kept_in)
            .finish_non_exhaustive()
    }
}

impl VendorAccess {
    /// What to tell the user about `error`, met by a vendor call made with these tokens.
    pub fn explain(&self, error: &TokenError) -> String {
        explain_token_error(error, self.kept_in.as_ref())
    }
}

/// Where a token pair is kept, resolved (the default location is a file).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenLocation {
    File(PathBuf),
    Memory(String),
}

impl fmt::Display for TokenLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TokenLocation::File(path) => write!(f, "{}", path.display()),
            TokenLocation::Memory(name) => write!(f, "memory://{name}"),
        }
    }
}

/// How [`sign_in`] behaves around the browser sign-in.
#[derive(Clone)]
pub struct SignInOptions {
    /// Shows the authorize URL to the user (and opens the browser).
    pub prompt: Arc<dyn SignInPrompt>,
    /// The longest wait for the browser's redirect to `CallbackURL`.
    pub callback_wait: Duration,
}

impl Default for SignInOptions {
    fn default() -> Self {
        SignInOptions { prompt: Arc::new(BrowserPrompt), callback_wait: DEFAULT_CALLBACK_WAIT }
    }
}

impl fmt::Debug for SignInOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignInOptions").field("callback_wait", &self.callback_wait).finish_non_exhaustive()
    }
}

/// Shows the user where to sign in. Called once the listener on `CallbackURL` is ready, so the
/// user cannot be faster than it.
pub trait SignInPrompt: Send + Sync {
    fn show(&self, authorize_url: &Url);
}

/// The default prompt: a line on stderr holding the authorize URL, and the browser opened when
/// there is one (`$BROWSER`; else `xdg-open` when a display is set, `open` on macOS). Opening the
/// browser is best effort: the printed URL is enough.
#[derive(Debug, Clone, Copy, Default)]
pub struct BrowserPrompt;

impl SignInPrompt for BrowserPrompt {
    fn show(&self, authorize_url: &Url) {
        eprintln!("To sign in to the vendor, open this address in a browser and allow access: {authorize_url}");
        if let Some((program, args)) = browser_command(authorize_url.as_str(), |name| std::env::var_os(name)) {
            // Dropped at once: Tokio reaps the child when it exits, and a failure changes nothing.
            let _ = tokio::process::Command::new(program)
                .args(args)
                .stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn();
        }
    }
}

/// The command that opens `url` in a browser, if this machine has one.
fn browser_command(url: &str, env: impl Fn(&str) -> Option<OsString>) -> Option<(String, Vec<String>)> {
    // `$BROWSER` is a `:`-separated list of commands, `%s` standing for the URL; the first is used.
    if let Some(browser) = env("BROWSER").and_then(|value| value.into_string().ok()) {
        let first = browser.split(':').next().unwrap_or_default();
        let mut words = first.split_whitespace().map(str::to_string);
        if let Some(program) = words.next() {
            let mut args: Vec<String> = words.collect();
            if args.iter().any(|arg| arg.contains("%s")) {
                args = args.into_iter().map(|arg| arg.replace("%s", url)).collect();
            } else {
                args.push(url.to_string());
            }
            return Some((program, args));
        }
    }
    if cfg!(target_os = "macos") {
        return Some(("open".into(), vec![url.into()]));
    }
    let display = ["DISPLAY", "WAYLAND_DISPLAY"].iter().any(|name| env(name).is_some_and(|value| !value.is_empty()));
    display.then(|| ("xdg-open".into(), vec![url.into()]))
}

/// Why the driver could not sign in. No message holds a secret.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// The vendor refused the kept refresh token (revoked, or already spent elsewhere).
    #[error(
        "the vendor no longer accepts the stored refresh token{}; {}",
        vendor_says(.provider_message.as_deref()),
        sign_in_again(.kept_in.as_ref())
    )]
    SignInAgain { kept_in: Option<TokenLocation>, provider_message: Option<String> },
    /// `REFRESH` with no refresh token given and none kept.
    #[error(
        "no vendor token is stored in {kept_in} and OAuthRefreshToken is not set; InitiateOAuth=REFRESH never \
         prompts: set OAuthRefreshToken, or sign in once with InitiateOAuth=GETANDREFRESH"
    )]
    NothingStored { kept_in: TokenLocation },
    /// The settings do not hold what the mode needs (settings not made by the parser).
    #[error("{0}")]
    Incomplete(&'static str),
    /// No configuration directory to keep the default token file in.
    #[error(
        "cannot place the default token file: neither XDG_CONFIG_HOME nor HOME names a directory; set \
         OAuthSettingsLocation to a token file or memory://NAME"
    )]
    NoConfigDirectory,
    /// The default token file's directory could not be created.
    #[error("cannot create the token directory {}: {kind}", .directory.display())]
    TokenDirectory { directory: PathBuf, kind: std::io::ErrorKind },
    /// Another token failure (the token endpoint, the token file).
    #[error("{}", describe_token_error(.source, .kept_in.as_ref()))]
    Token { kept_in: Option<TokenLocation>, source: TokenError },
    /// Nothing could listen on `CallbackURL`.
    #[error(
        "cannot listen for the sign-in redirect on {callback_url}: {kind} (is another program or another sign-in \
         using that port? set CallbackURL to a free port of this machine, registered with the vendor app)"
    )]
    CallbackUnavailable { callback_url: String, kind: std::io::ErrorKind },
    /// The browser's redirect did not come in time.
    #[error(
        "no sign-in redirect reached {callback_url} within {} s; open the authorize URL printed above in a browser \
         on this machine, sign in and allow access, then try again",
        .waited.as_secs()
    )]
    CallbackTimeout { callback_url: String, waited: Duration },
    /// The vendor redirected with an OAuth error (`access_denied` when the user clicked Deny).
    #[error("the vendor refused the sign-in: {error}{}", vendor_says(.description.as_deref()))]
    Refused { error: String, description: Option<String> },
    /// The vendor would not exchange the code the redirect carried.
    #[error("the vendor refused the sign-in code{}", vendor_says(.provider_message.as_deref()))]
    CodeRefused { provider_message: Option<String> },
    /// The HTTP client could not start (TLS backend).
    #[error("the HTTP client could not start")]
    Http(#[source] reqwest::Error),
}

/// What to tell the user about `error`, met while calling the vendor with tokens kept in
/// `kept_in`: the same words [`sign_in`] uses (a refused refresh token says to sign in again).
pub fn explain_token_error(error: &TokenError, kept_in: Option<&TokenLocation>) -> String {
    token_failure(error.clone(), kept_in.cloned()).to_string()
}

/// The [`AuthError`] of a token failure.
fn token_failure(error: TokenError, kept_in: Option<TokenLocation>) -> AuthError {
    match error {
        TokenError::Invalid { provider_message, .. } => AuthError::SignInAgain { kept_in, provider_message },
        source => AuthError::Token { kept_in, source },
    }
}

fn vendor_says(message: Option<&str>) -> String {
    message.map(|text| format!(" (the vendor says: {text})")).unwrap_or_default()
}

fn sign_in_again(kept_in: Option<&TokenLocation>) -> String {
    match kept_in {
        Some(TokenLocation::File(path)) => format!(
            "sign in again with InitiateOAuth=GETANDREFRESH (remove {} first), or give a new OAuthRefreshToken",
            path.display()
        ),
        Some(TokenLocation::Memory(_)) | None => {
            "sign in again with InitiateOAuth=GETANDREFRESH, or give a new OAuthRefreshToken".into()
        }
    }
}

fn describe_token_error(error: &TokenError, kept_in: Option<&TokenLocation>) -> String {
    let place = kept_in.map(|location| format!(" ({location})")).unwrap_or_default();
    match error {
        TokenError::Transient(TransientCause::Refused { error, description }) => format!(
            "the vendor refused the OAuth client ({error}{}); check OAuthClientId and OAuthClientSecret",
            description.as_deref().map(|text| format!(": {text}")).unwrap_or_default()
        ),
        TokenError::Transient(cause) => {
            format!("the vendor's token endpoint failed ({}); try again later", transient(cause))
        }
        TokenError::NoAccessToken => format!(
            "no vendor token is stored{place}; sign in with InitiateOAuth=GETANDREFRESH, or give OAuthRefreshToken \
             with InitiateOAuth=REFRESH"
        ),
        other => format!("{other}{place}"),
    }
}

fn transient(cause: &TransientCause) -> String {
    match cause {
        TransientCause::Transport => "unreachable".into(),
        TransientCause::Timeout => "no answer in time".into(),
        TransientCause::VendorStatus(status) => format!("HTTP {status}"),
        TransientCause::RateLimited => "rate limited".into(),
        TransientCause::MalformedSuccess => "an answer that holds no token".into(),
        TransientCause::Refused { error, .. } => error.clone(),
    }
}

/// Signs in as `auth` says, against the vendor at `endpoints`, and returns what vendor calls
/// need. Prompts (through `options.prompt`) only with `GETANDREFRESH` and no usable kept pair.
/// A kept pair is checked before it is returned: one refresh at most, when it is due anyway.
pub async fn sign_in(
    auth: &VendorAuth,
    endpoints: &VendorEndpoints,
    options: &SignInOptions,
) -> Result<VendorAccess, AuthError> {
    let oauth = match auth {
        VendorAuth::ApiKey(key) => {
            return Ok(VendorAccess {
                tokens: Arc::new(StaticTokens::api_key(key.clone())),
                client_id: API_KEY_CLIENT_ID.into(),
                kept_in: None,
            })
        }
        VendorAuth::OAuth(oauth) => oauth,
    };
    if oauth.initiate == InitiateOAuth::Off {
        let token = oauth.access_token.clone().ok_or(AuthError::Incomplete(
            "InitiateOAuth=OFF needs OAuthAccessToken; or set InitiateOAuth=GETANDREFRESH to sign in",
        ))?;
        let client_id = oauth.client_id.clone().unwrap_or_else(|| ACCESS_TOKEN_CLIENT_ID.into());
        return Ok(VendorAccess { tokens: Arc::new(StaticTokens::new(token)), client_id, kept_in: None });
    }
    let (Some(client_id), Some(client_secret)) = (&oauth.client_id, &oauth.client_secret) else {
        return Err(AuthError::Incomplete(
            "InitiateOAuth=REFRESH and GETANDREFRESH need OAuthClientId and OAuthClientSecret",
        ));
    };
    let client = ClientCredentials { client_id: client_id.clone(), client_secret: client_secret.clone() };
    let token_client = OAuthClient::new(endpoints.clone()).map_err(AuthError::Http)?;
    let kept_in = resolve_location(&oauth.settings_location, client_id, endpoints)?;
    let grant = Grant::open(&kept_in, token_client, client);
    let may_prompt = oauth.initiate == InitiateOAuth::GetAndRefresh;
    if !start_from_kept(&grant, oauth, &kept_in, may_prompt).await? {
        browser_sign_in(&grant, &kept_in, oauth, endpoints, options).await?;
    }
    Ok(VendorAccess { tokens: grant.source(), client_id: client_id.clone(), kept_in: Some(kept_in) })
}

/// Makes the kept pair usable: seeds an empty location with the given tokens, and checks the
/// pair with [`TokenSource::current`]. `true`: a token is ready. `false`: a browser sign-in is
/// needed (only when `may_prompt`; otherwise the failure is the error).
///
/// A given `OAuthRefreshToken` seeds only an empty location: once refreshed it is retired, and
/// the rotated pair kept must win over it on the next run. When the kept pair is refused, a given
/// refresh token is tried in its place (it may be a new one).
async fn start_from_kept(
    grant: &Grant,
    oauth: &OAuthSettings,
    kept_in: &TokenLocation,
    may_prompt: bool,
) -> Result<bool, AuthError> {
    let given = (oauth.access_token.is_some() || oauth.refresh_token.is_some()).then(|| TokenPair {
        access_token: oauth.access_token.clone(),
        refresh_token: oauth.refresh_token.clone(),
        expires_at: None,
    });
    let failure = |error| token_failure(error, Some(kept_in.clone()));
    let mut seeded = false;
    if !grant.has_grant().await.map_err(failure)? {
        match given.clone() {
            Some(pair) => {
                grant.store(pair).await.map_err(failure)?;
                seeded = true;
            }
            None if may_prompt => return Ok(false),
            None => return Err(AuthError::NothingStored { kept_in: kept_in.clone() }),
        }
    }
    let refused = match grant.current().await {
        Ok(_) => return Ok(true),
        Err(error @ TokenError::Invalid { .. }) => error,
        Err(error) => return Err(failure(error)),
    };
    let retry = given.filter(|pair| !seeded && pair.refresh_token.is_some());
    let refused = match retry {
        Some(pair) => {
            grant.store(pair).await.map_err(failure)?;
            match grant.current().await {
                Ok(_) => return Ok(true),
                Err(error @ TokenError::Invalid { .. }) => error,
                Err(error) => return Err(failure(error)),
            }
        }
        None => refused,
    };
    if may_prompt {
        return Ok(false);
    }
    Err(failure(refused))
}

/// The browser sign-in: listen on `CallbackURL`, show the authorize URL, wait for the redirect
/// with our `state`, exchange its code and keep the pair in `grant` (at `kept_in`).
async fn browser_sign_in(
    grant: &Grant,
    kept_in: &TokenLocation,
    oauth: &OAuthSettings,
    endpoints: &VendorEndpoints,
    options: &SignInOptions,
) -> Result<(), AuthError> {
    let callback = &oauth.callback_url;
    let redirect_uri = redirect_uri(callback);
    let unavailable = |kind| AuthError::CallbackUnavailable { callback_url: redirect_uri.clone(), kind };
    let host = callback.host_str().ok_or_else(|| unavailable(std::io::ErrorKind::InvalidInput))?;
    let port = callback.port_or_known_default().ok_or_else(|| unavailable(std::io::ErrorKind::InvalidInput))?;
    // A bracketed IPv6 host (`[::1]`) is what `bind` wants too.
    let listener = TcpListener::bind(format!("{host}:{port}")).await.map_err(|error| unavailable(error.kind()))?;

    let state = random_state();
    let mut authorize = endpoints.authorize.clone();
    authorize
        .query_pairs_mut()
        .append_pair("client_id", oauth.client_id.as_deref().unwrap_or_default())
        .append_pair("redirect_uri", &redirect_uri)
        .append_pair("response_type", "code")
        .append_pair("scope", "full")
        .append_pair("state", &state);
    options.prompt.show(&authorize);

    let waited = options.callback_wait;
    let arrived = tokio::time::timeout(waited, wait_for_redirect(&listener, callback.path(), &state)).await;
    let Ok(redirect) = arrived else {
        return Err(AuthError::CallbackTimeout { callback_url: redirect_uri, waited });
    };
    let (code, mut browser) = redirect?;
    match grant.exchange_code(&code, &redirect_uri).await {
        Ok(_) => {
            answer(&mut browser, "200 OK", "Signed in", "Junction is signed in to the vendor. You may close this tab.")
                .await;
            Ok(())
        }
        Err(TokenError::Invalid { provider_message, .. }) => {
            answer(&mut browser, "400 Bad Request", "Sign-in failed", "The vendor refused the sign-in code.").await;
            Err(AuthError::CodeRefused { provider_message })
        }
        Err(error) => {
            answer(&mut browser, "502 Bad Gateway", "Sign-in failed", "The vendor's token endpoint failed.").await;
            Err(token_failure(error, Some(kept_in.clone())))
        }
    }
}

/// The `redirect_uri` sent to the vendor: `CallbackURL` as a user writes and registers it, without
/// the `/` the URL parser adds to a bare origin (`http://localhost:33333`).
fn redirect_uri(callback: &Url) -> String {
    let text = callback.as_str();
    match (callback.path(), callback.query()) {
        ("/", None) => text.strip_suffix('/').unwrap_or(text).to_string(),
        _ => text.to_string(),
    }
}

/// 128 random bits, hex: the `state` that ties the redirect to this sign-in.
fn random_state() -> String {
    rand::random::<[u8; 16]>().iter().map(|byte| format!("{byte:02x}")).collect()
}

/// Accepts connections until one brings the redirect for `state` on `path`; answers every other
/// request (a wrong `state`, another path, garbage) and keeps waiting. Returns the code and the
/// browser's connection, to be answered once the code is exchanged; a vendor error with our
/// `state` (the user clicked Deny) is [`AuthError::Refused`].
async fn wait_for_redirect(listener: &TcpListener, path: &str, state: &str) -> Result<(Secret, TcpStream), AuthError> {
    loop {
        let Ok((mut stream, _)) = listener.accept().await else {
            // Out of file descriptors, say: give the process a moment rather than spin.
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let head = match tokio::time::timeout(CALLBACK_READ_TIMEOUT, read_head(&mut stream)).await {
            Ok(Some(head)) => head,
            _ => continue,
        };
        let Some(target) = request_target(&head) else {
            answer(&mut stream, "400 Bad Request", "Bad request", "This is not a sign-in redirect.").await;
            continue;
        };
        let (target_path, query) = target.split_once('?').unwrap_or((target, ""));
        if target_path != path {
            answer(&mut stream, "404 Not Found", "Not found", "Junction waits for the sign-in redirect elsewhere.")
                .await;
            continue;
        }
        let params: HashMap<String, String> = url::form_urlencoded::parse(query.as_bytes()).into_owned().collect();
        if params.get("state").map(String::as_str) != Some(state) {
            let text = "This sign-in redirect is not the one Junction is waiting for (its state does not match). \
                        Use the address Junction printed.";
            answer(&mut stream, "400 Bad Request", "Wrong sign-in", text).await;
            continue;
        }
        if let Some(error) = params.get("error") {
            let description = params.get("error_description").cloned();
            answer(&mut stream, "200 OK", "Sign-in refused", "The vendor refused the sign-in. You may close this tab.")
                .await;
            return Err(AuthError::Refused { error: error.clone(), description });
        }
        match params.get("code").filter(|code| !code.is_empty()) {
            Some(code) => return Ok((Secret::new(code.as_str()), stream)),
            None => {
                answer(&mut stream, "400 Bad Request", "Bad request", "The redirect carries no code.").await;
            }
        }
    }
}

/// The request head (up to the blank line), or `None` for a connection that closes first or
/// sends more than [`MAX_CALLBACK_REQUEST`] bytes without one.
async fn read_head(stream: &mut TcpStream) -> Option<String> {
    let mut head = Vec::new();
    let mut buffer = [0u8; 2048];
    while !head.windows(4).any(|window| window == b"\r\n\r\n") {
        let read = stream.read(&mut buffer).await.ok().filter(|read| *read > 0)?;
        head.extend_from_slice(buffer.get(..read)?);
        if head.len() > MAX_CALLBACK_REQUEST {
            return None;
        }
    }
    String::from_utf8(head).ok()
}

/// The target of a `GET` request line (`/path?query`).
fn request_target(head: &str) -> Option<&str> {
    let mut words = head.lines().next()?.split(' ');
    let (method, target) = (words.next()?, words.next()?);
    (method == "GET" && target.starts_with('/')).then_some(target)
}

/// Answers the browser with a small page and closes the connection; a browser gone meanwhile
/// changes nothing.
async fn answer(stream: &mut TcpStream, status: &str, title: &str, text: &str) {
    let body = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>{title}</title></head>\
         <body><h1>{title}</h1><p>{text}</p></body></html>"
    );
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\n\
         Cache-Control: no-store\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(response.as_bytes()).await;
    let _ = stream.shutdown().await;
}

/// Where a refreshing pair is kept.
enum Grant {
    File(FileTokens),
    Memory(MemoryTokens),
}

impl Grant {
    fn open(kept_in: &TokenLocation, oauth: OAuthClient, client: ClientCredentials) -> Grant {
        match kept_in {
            TokenLocation::File(path) => Grant::File(FileTokens::new(path, oauth, client)),
            TokenLocation::Memory(name) => Grant::Memory(memory_grant(name, oauth, client)),
        }
    }

    fn source(&self) -> Arc<dyn TokenSource> {
        match self {
            Grant::File(tokens) => Arc::new(tokens.clone()),
            Grant::Memory(tokens) => Arc::new(tokens.clone()),
        }
    }

    async fn has_grant(&self) -> Result<bool, TokenError> {
        match self {
            Grant::File(tokens) => tokens.has_grant().await,
            Grant::Memory(tokens) => tokens.has_grant().await,
        }
    }

    async fn store(&self, pair: TokenPair) -> Result<i64, TokenError> {
        match self {
            Grant::File(tokens) => tokens.store(pair).await,
            Grant::Memory(tokens) => tokens.store(pair).await,
        }
    }

    async fn exchange_code(&self, code: &Secret, redirect_uri: &str) -> Result<AccessToken, TokenError> {
        match self {
            Grant::File(tokens) => tokens.exchange_code(code, redirect_uri).await,
            Grant::Memory(tokens) => tokens.exchange_code(code, redirect_uri).await,
        }
    }

    async fn current(&self) -> Result<AccessToken, TokenError> {
        match self {
            Grant::File(tokens) => tokens.current().await,
            Grant::Memory(tokens) => tokens.current().await,
        }
    }
}

/// The process's `memory://NAME` grants, by name and OAuth client id.
///
/// A registry rather than state passed in, against the crate's habit, because the driver is
/// opened from a connection string alone and `memory://NAME` promises one pair per name for the
/// whole process: two connections naming it must share one pair and its single flight, or the
/// second would spend a refresh token the first already rotated (the vendor then refuses both).
/// The client id is part of the key so that a name reused with another OAuth app never refreshes
/// one app's tokens with the other's credentials. Entries live as long as the process, which is
/// what "kept in process" means; there is one per name a connection string used.
fn memory_grant(name: &str, oauth: OAuthClient, client: ClientCredentials) -> MemoryTokens {
    static GRANTS: OnceLock<Mutex<HashMap<(String, String), MemoryTokens>>> = OnceLock::new();
    let mut grants = GRANTS.get_or_init(Mutex::default).lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let key = (name.to_string(), client.client_id.clone());
    grants.entry(key).or_insert_with(|| MemoryTokens::new(name, oauth, client)).clone()
}

/// `OAuthSettingsLocation` resolved; the default file's directory is created (mode 0700).
fn resolve_location(
    location: &SettingsLocation,
    client_id: &str,
    endpoints: &VendorEndpoints,
) -> Result<TokenLocation, AuthError> {
    match location {
        SettingsLocation::File(path) => Ok(TokenLocation::File(path.clone())),
        SettingsLocation::Memory(name) => Ok(TokenLocation::Memory(name.clone())),
        SettingsLocation::Default => {
            let path = default_token_file(client_id, endpoints, |name| std::env::var_os(name))
                .ok_or(AuthError::NoConfigDirectory)?;
            if let Some(directory) = path.parent() {
                create_private_directory(directory)?;
            }
            Ok(TokenLocation::File(path))
        }
    }
}

/// The default token file (see the module documentation); `None` without a configuration
/// directory.
fn default_token_file(
    client_id: &str,
    endpoints: &VendorEndpoints,
    env: impl Fn(&str) -> Option<OsString>,
) -> Option<PathBuf> {
    let absolute = |name: &str| env(name).map(PathBuf::from).filter(|path| path.is_absolute());
    let config = absolute("XDG_CONFIG_HOME").or_else(|| absolute("HOME").map(|home| home.join(".config")))?;
    let mut name = file_safe(client_id);
    let real = VendorEndpoints::infusionsoft();
    if endpoints.token.host_str() != real.token.host_str() {
        let host = endpoints.token.host_str().unwrap_or_default();
        let port = endpoints.token.port_or_known_default().unwrap_or_default();
        name = format!("{name}@{}-{port}", file_safe(host));
    }
    Some(config.join("junction").join("sql-tokens").join(format!("{name}.json")))
}

/// `text` with everything but ASCII letters, digits, `-` and `_` replaced by `_`, so a client id
/// can neither leave the directory nor hide the file.
fn file_safe(text: &str) -> String {
    let safe: String =
        text.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' }).collect();
    if safe.is_empty() {
        "_".into()
    } else {
        safe
    }
}

fn create_private_directory(directory: &Path) -> Result<(), AuthError> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder
        .create(directory)
        .map_err(|error| AuthError::TokenDirectory { directory: directory.to_path_buf(), kind: error.kind() })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<OsString> + 'a {
        move |name| pairs.iter().find(|(key, _)| *key == name).map(|(_, value)| OsString::from(value))
    }

    #[test]
    fn the_default_token_file_follows_xdg_and_names_a_non_default_vendor() {
        let real = VendorEndpoints::infusionsoft();
        let sim = VendorEndpoints::simulator(&Url::parse("http://127.0.0.1:8091").unwrap()).unwrap();
        type Case<'a> = (&'a [(&'a str, &'a str)], &'a VendorEndpoints, Option<&'a str>);
        let cases: [Case; 5] = [
            (&[("XDG_CONFIG_HOME", "/x"), ("HOME", "/h")], &real, Some("/x/junction/sql-tokens/app.json")),
            (&[("HOME", "/h")], &real, Some("/h/.config/junction/sql-tokens/app.json")),
            (
                &[("XDG_CONFIG_HOME", "relative"), ("HOME", "/h")],
                &real,
                Some("/h/.config/junction/sql-tokens/app.json"),
            ),
            (&[("HOME", "/h")], &sim, Some("/h/.config/junction/sql-tokens/app@127_0_0_1-8091.json")),
            (&[], &real, None),
        ];
        for (vars, endpoints, expected) in cases {
            let path = default_token_file("app", endpoints, env(vars));
            assert_eq!(path.as_deref(), expected.map(Path::new), "{vars:?}");
        }
        let hostile = default_token_file("../../.ssh/x", &real, env(&[("HOME", "/h")])).unwrap();
        assert_eq!(hostile, Path::new("/h/.config/junction/sql-tokens/_______ssh_x.json"));
    }

    #[test]
    fn the_browser_is_opened_only_when_there_is_one() {
        let url = "http://vendor/app/oauth/authorize?x=1";
        let browser = browser_command(url, env(&[("BROWSER", "firefox --new-tab:chromium")]));
        assert_eq!(browser, Some(("firefox".into(), vec!["--new-tab".into(), url.into()])));
        let placeholder = browser_command(url, env(&[("BROWSER", "w3m %s")]));
        assert_eq!(placeholder, Some(("w3m".into(), vec![url.into()])));
        if !cfg!(target_os = "macos") {
            assert_eq!(browser_command(url, env(&[])), None, "no display, no browser");
            let display = browser_command(url, env(&[("DISPLAY", ":0")]));
            assert_eq!(display, Some(("xdg-open".into(), vec![url.into()])));
        }
    }

    #[test]
    fn the_redirect_uri_is_the_callback_url_as_written() {
        let cases = [
            ("http://localhost:33333", "http://localhost:33333"),
            ("http://localhost:33333/", "http://localhost:33333"),
            ("http://127.0.0.1:4000/cb", "http://127.0.0.1:4000/cb"),
        ];
        for (given, sent) in cases {
            assert_eq!(redirect_uri(&Url::parse(given).unwrap()), sent);
        }
    }

    #[test]
    fn a_refused_refresh_token_says_to_sign_in_again_and_names_the_file() {
        let error = TokenError::Invalid { instance_id: None, provider_message: Some("Invalid refresh token".into()) };
        let file = TokenLocation::File(PathBuf::from("/h/tokens.json"));
        assert_eq!(
            explain_token_error(&error, Some(&file)),
            "the vendor no longer accepts the stored refresh token (the vendor says: Invalid refresh token); sign in \
             again with InitiateOAuth=GETANDREFRESH (remove /h/tokens.json first), or give a new OAuthRefreshToken"
        );
        let refused =
            TokenError::Transient(TransientCause::Refused { error: "invalid_client".into(), description: None });
        assert!(explain_token_error(&refused, None).contains("check OAuthClientId and OAuthClientSecret"));
    }

    #[test]
    fn only_a_get_request_line_has_a_target() {
        assert_eq!(request_target("GET /?code=1&state=2 HTTP/1.1\r\nHost: x\r\n\r\n"), Some("/?code=1&state=2"));
        assert_eq!(request_target("POST / HTTP/1.1\r\n\r\n"), None);
        assert_eq!(request_target("GET http://evil/ HTTP/1.1\r\n\r\n"), None);
        assert_eq!(request_target(""), None);
    }
}
