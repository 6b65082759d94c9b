//! Console sign-in state: the session cookie, the [`Session`] extractor, and CSRF tokens.
//!
//! - The session id is 256 random bits in an `HttpOnly`, `SameSite=Lax` cookie (`Secure` when the
//!   public URL is HTTPS), kept server-side by the store as a keyed hash with its expiry, so any node
//!   sharing the database knows it and a database leak does not give sessions away.
//! - A form's CSRF token is a keyed hash of the session id: nothing more to store, and it changes
//!   with the session. The sign-in form (no session yet) is protected by a double-submit nonce in a
//!   short-lived cookie, so another site cannot sign a browser into someone else's organization.
//! - A missing or expired session on a page sends the browser to `/sign-in?next=<page>`; `next` is
//!   only ever a local path.

use axum::extract::FromRequestParts;
use axum::http::header::{COOKIE, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{TimeDelta, Utc};
use store::{Organization, Secret, User};
use subtle::ConstantTimeEq;

use super::page::ConsoleError;
use crate::state::AppState;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "junction_session";
/// The sign-in form's double-submit cookie.
pub const SIGN_IN_COOKIE: &str = "junction_sign_in";
/// How long a session lasts after sign-in.
pub const SESSION_LIFETIME: TimeDelta = TimeDelta::hours(12);

const CSRF_PURPOSE: &str = "console csrf";
const SIGN_IN_PURPOSE: &str = "console sign-in";

/// A signed-in person: who they are, and their session (for CSRF tokens and sign-out).
#[derive(Debug, Clone)]
pub struct Session {
    pub user: User,
    pub organization: Organization,
    pub id: Secret,
    /// The CSRF token every form of this session carries.
    pub csrf: String,
}

impl Session {
    /// True when `token` is this session's CSRF token (constant time).
    pub fn csrf_matches(&self, token: &str) -> bool {
        tokens_equal(&self.csrf, token)
    }
}

/// Why no session: none (the browser is sent to sign in, back to the page it asked for), or the
/// store could not say (a 503 page: an outage must not look like being signed out).
#[derive(Debug)]
pub enum SignInRequired {
    NoSession { next: Option<String> },
    StoreDown(Response),
}

impl IntoResponse for SignInRequired {
    fn into_response(self) -> Response {
        let next = match self {
            SignInRequired::StoreDown(page) => return page,
            SignInRequired::NoSession { next } => next,
        };
        let target = match next.as_deref().and_then(local_path) {
            Some(next) => {
                format!("/sign-in?next={}", url::form_urlencoded::byte_serialize(next.as_bytes()).collect::<String>())
            }
            None => "/sign-in".to_string(),
        };
        Redirect::to(&target).into_response()
    }
}

impl FromRequestParts<AppState> for Session {
    type Rejection = SignInRequired;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, SignInRequired> {
        // A form posted after the session ended goes back to the page the form was on, not to a POST URL.
        let next = (parts.method == Method::GET).then(|| parts.uri.path_and_query().map(|p| p.to_string())).flatten();
        let rejection = || SignInRequired::NoSession { next: next.clone() };
        let id = cookie(&parts.headers, SESSION_COOKIE).map(Secret::new).ok_or_else(rejection)?;
        let found = state.platform.store.find_console_session(&id, Utc::now()).await.map_err(|error| {
            tracing::warn!(%error, "console session lookup failed");
            SignInRequired::StoreDown(ConsoleError::from(error).page(state, None))
        })?;
        let (user, organization) = found.ok_or_else(rejection)?;
        let csrf = csrf_token(state, &id);
        Ok(Session { user, organization, id, csrf })
    }
}

/// The CSRF token of session `id`.
pub fn csrf_token(state: &AppState, id: &Secret) -> String {
    state.platform.store.keyed_hash(CSRF_PURPOSE, id.expose())
}

/// The sign-in form's token for the nonce in its cookie.
pub fn sign_in_token(state: &AppState, nonce: &str) -> String {
    state.platform.store.keyed_hash(SIGN_IN_PURPOSE, nonce)
}

/// Constant-time equality of two tokens (lengths are not secret).
pub fn tokens_equal(expected: &str, given: &str) -> bool {
    bool::from(expected.as_bytes().ct_eq(given.as_bytes()))
}

/// The value of cookie `name` in the request's `Cookie` headers.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
        .filter(|value| !value.is_empty())
}

/// A `Set-Cookie` header: `HttpOnly`, `SameSite=Lax`, `Path=/`, `Secure` when served over HTTPS;
/// `max_age_secs` 0 deletes the cookie.
pub fn set_cookie(
    state: &AppState,
    name: &str,
    value: &str,
    max_age_secs: i64,
) -> (axum::http::HeaderName, HeaderValue) {
    let secure = if state.public_url.starts_with("https://") { "; Secure" } else { "" }; // normalized at startup
    let text = format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age_secs}{secure}");
    // Values are base64url and names are constants, so the header is always valid.
    (SET_COOKIE, HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static("")))
}

/// `next` when it is a path on this site (`/x`), not a scheme-relative or backslash trick
/// (`//evil`, `/\evil`) nor anything with control characters.
pub fn local_path(next: &str) -> Option<&str> {
    let local = next.starts_with('/')
        && !next.starts_with("//")
        && !next.starts_with("/\\")
        && !next.chars().any(|c| c.is_control())
        && next.len() <= 2048;
    local.then_some(next)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(cookie_header: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(COOKIE, HeaderValue::from_str(cookie_header).unwrap());
        headers
    }

    #[test]
    fn the_session_cookie_is_found_among_others() {
        let h = headers("theme=dark; junction_session=abc123; other=1");
        assert_eq!(cookie(&h, SESSION_COOKIE), Some("abc123"));
        assert_eq!(cookie(&h, "missing"), None);
    }

    #[test]
    fn a_cookie_whose_name_only_starts_like_the_session_cookie_is_not_it() {
        let h = headers("junction_session_old=zzz; xjunction_session=yyy");
        assert_eq!(cookie(&h, SESSION_COOKIE), None);
    }

    #[test]
    fn an_empty_session_cookie_is_no_session() {
        assert_eq!(cookie(&headers("junction_session="), SESSION_COOKIE), None);
    }

    #[test]
    fn tokens_compare_equal_only_when_identical() {
        assert!(tokens_equal("abc", "abc"));
        assert!(!tokens_equal("abc", "abd"));
        assert!(!tokens_equal("abc", "ab"));
        assert!(!tokens_equal("abc", ""));
    }

    #[test]
    fn next_is_only_ever_a_local_path() {
        assert_eq!(local_path("/instances/3"), Some("/instances/3"));
        assert_eq!(local_path("/instances?tag=a"), Some("/instances?tag=a"));
        for hostile in ["//evil.example", "/\\evil.example", "https://evil.example", "evil", "", "/a\nb"] {
            assert_eq!(local_path(hostile), None, "{hostile:?}");
        }
    }
}
