//! `GET|POST /sign-in` and `POST /sign-out`: a person signs in with their user and organization
//! secrets (checked by the store in constant time, as for the API) and gets a server-side session.

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::Utc;
use maud::html;
use serde::Deserialize;
use store::Secret;

use super::form::{self, FormFields};
use super::page::{ConsoleError, Notice, Page, Section};
use super::session::{self, Session, SESSION_COOKIE, SESSION_LIFETIME, SIGN_IN_COOKIE};
use crate::state::AppState;

/// How long the sign-in form may stay open.
const SIGN_IN_FORM_SECS: i64 = 3600;
/// Longest secret accepted (generated secrets are 43 characters).
const MAX_SECRET_LEN: usize = 512;

#[derive(Debug, Default, Deserialize)]
pub struct SignInQuery {
    next: Option<String>,
    #[serde(rename = "signedOut")]
    signed_out: Option<String>,
}

pub async fn form(State(state): State<AppState>, headers: HeaderMap, RawQuery(raw): RawQuery) -> Response {
    let query: SignInQuery = form::query(raw.as_deref());
    let notice = query.signed_out.is_some().then(|| Notice::Success("You are signed out.".into()));
    sign_in_page(&state, &headers, query.next.as_deref(), notice, StatusCode::OK)
}

/// The form, with its token for the double-submit nonce in a cookie (the browser's current one, so
/// that two sign-in tabs both work; a fresh one when it has none).
fn sign_in_page(
    state: &AppState,
    headers: &HeaderMap,
    next: Option<&str>,
    notice: Option<Notice>,
    status: StatusCode,
) -> Response {
    let nonce = session::cookie(headers, SIGN_IN_COOKIE)
        .filter(|nonce| nonce.len() == 43 && nonce.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
        .map_or_else(store::crypto::generate_secret, str::to_string);
    let token = session::sign_in_token(state, &nonce);
    let next = next.and_then(session::local_path).unwrap_or("/");
    let body = html! {
        section.narrow {
            h1 { "Sign in" }
            p.muted { "Use your user secret and your organization secret (printed once when Junction first started, or given to you by your administrator)." }
            form.stack method="post" action="/sign-in" {
                input type="hidden" name="token" value=(token);
                input type="hidden" name="next" value=(next);
                label for="user_secret" { "User secret" }
                input #user_secret type="password" name="user_secret" autocomplete="current-password" required autofocus maxlength="512";
                label for="org_secret" { "Organization secret" }
                input #org_secret type="password" name="org_secret" autocomplete="off" required maxlength="512";
                button.primary type="submit" { "Sign in" }
            }
        }
    };
    let page = Page { title: "Sign in", section: Section::None, session: None, notice, body };
    let mut response = page.respond(state, status);
    let (name, value) = session::set_cookie(state, SIGN_IN_COOKIE, &nonce, SIGN_IN_FORM_SECS);
    response.headers_mut().append(name, value);
    response
}

pub async fn submit(State(state): State<AppState>, headers: HeaderMap, form: FormFields) -> Response {
    let next = session::local_path(form.get("next")).unwrap_or("/").to_string();
    // The form again, with `problem` said at the top.
    let refuse = |problem: &str, status| {
        sign_in_page(&state, &headers, Some(&next), Some(Notice::Error(problem.into())), status)
    };
    let nonce = session::cookie(&headers, SIGN_IN_COOKIE).unwrap_or("");
    if nonce.is_empty() || !session::tokens_equal(&session::sign_in_token(&state, nonce), form.get("token")) {
        let problem = "The sign-in form expired or came from another site. Please sign in again.";
        return refuse(problem, StatusCode::FORBIDDEN);
    }
    let (user_secret, org_secret) = (form.get("user_secret"), form.get("org_secret"));
    if user_secret.is_empty() || org_secret.is_empty() {
        let problem = "Enter both your user secret and your organization secret.";
        return refuse(problem, StatusCode::BAD_REQUEST);
    }
    let wrong = "Those secrets do not match a user of that organization.";
    if user_secret.len() > MAX_SECRET_LEN || org_secret.len() > MAX_SECRET_LEN {
        return refuse(wrong, StatusCode::UNAUTHORIZED);
    }
    let found = match state.platform.store.authenticate(&Secret::new(user_secret), &Secret::new(org_secret)).await {
        Ok(found) => found,
        Err(error) => return ConsoleError::from(error).page(&state, None),
    };
    let Some((user, _)) = found else {
        return refuse(wrong, StatusCode::UNAUTHORIZED);
    };
    // A session this browser already had ends here: one browser, one live session.
    if let Some(previous) = session::cookie(&headers, SESSION_COOKIE) {
        if let Err(error) = state.platform.store.delete_console_session(&Secret::new(previous)).await {
            return ConsoleError::from(error).page(&state, None);
        }
    }
    let id = match state.platform.store.create_console_session(user.id, Utc::now() + SESSION_LIFETIME).await {
        Ok(id) => id,
        Err(error) => return ConsoleError::from(error).page(&state, None),
    };
    tracing::info!(user_id = user.id.get(), "console sign-in");
    let mut response = Redirect::to(&next).into_response();
    let (name, value) = session::set_cookie(&state, SESSION_COOKIE, id.expose(), SESSION_LIFETIME.num_seconds());
    response.headers_mut().append(name.clone(), value);
    let (name, value) = session::set_cookie(&state, SIGN_IN_COOKIE, "", 0);
    response.headers_mut().append(name, value);
    response
}

pub async fn sign_out(State(state): State<AppState>, session: Session, form: FormFields) -> Response {
    if let Err(error) = form.check_csrf(&session) {
        return error.page(&state, Some(&session));
    }
    if let Err(error) = state.platform.store.delete_console_session(&session.id).await {
        return ConsoleError::from(error).page(&state, Some(&session));
    }
    let mut response = Redirect::to("/sign-in?signedOut=1").into_response();
    let (name, value) = session::set_cookie(&state, SESSION_COOKIE, "", 0);
    response.headers_mut().append(name, value);
    response
}
