//! `GET /oauth/callback`: Junction's own OAuth redirect target. The vendor sends the browser back
//! here with a code (or an error) and the `state` the console issued; this finishes the instance
//! creation the Authenticate form started ([`super::authenticate`]).
//!
//! The `state` is `<nonce>.<signature>`: the nonce is 256 random bits, the signature a keyed hash
//! under the key every node shares, so a tampered state is refused before the store is asked. The
//! pending request is then taken in one statement, so a state works once, in the session that
//! started it, before it expires ([`PENDING_LIFETIME`]); anything else is a clear page and creates
//! nothing. A denied consent consumes the state too.

use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{TimeDelta, Utc};
use maud::{html, Markup};
use serde::Deserialize;
use serde_json::{json, Value};
use store::{PendingAuthorization, PendingTake, Secret};

use super::instances::instance_page;
use super::page::{describe, ConsoleError, Notice};
use super::session::{tokens_equal, Session};
use crate::provisioning;
use crate::state::AppState;

/// How long a person has to finish the vendor's consent page.
pub const PENDING_LIFETIME: TimeDelta = TimeDelta::minutes(10);
const STATE_PURPOSE: &str = "console oauth state";
/// The callback's path under the public URL.
pub const CALLBACK_PATH: &str = "/oauth/callback";

/// Junction's own callback, under its public URL.
pub fn callback_url(state: &AppState) -> String {
    format!("{}{CALLBACK_PATH}", state.public_url)
}

/// The `state` parameter for `nonce`, signed with the key every node shares.
pub fn sign_state(state: &AppState, nonce: &str) -> String {
    signed(nonce, |data| state.platform.store.keyed_hash(STATE_PURPOSE, data))
}

/// `<nonce>.<sign(nonce)>`.
fn signed(nonce: &str, sign: impl Fn(&str) -> String) -> String {
    format!("{nonce}.{}", sign(nonce))
}

/// The nonce of a `state` whose signature is right, or `None` (tampered, truncated, not ours).
fn verify(state_param: &str, sign: impl Fn(&str) -> String) -> Option<&str> {
    let (nonce, signature) = state_param.split_once('.')?;
    if nonce.is_empty() || nonce.len() > 128 {
        return None;
    }
    tokens_equal(&sign(nonce), signature).then_some(nonce)
}

#[derive(Debug, Default, Deserialize)]
pub struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

/// `GET /oauth/callback`: the vendor's redirect back, with a code or an error.
pub async fn callback(State(state): State<AppState>, session: Session, RawQuery(raw): RawQuery) -> Response {
    match finish(&state, &session, super::form::query(raw.as_deref())).await {
        Ok(response) => response,
        Err(error) => error.page(&state, Some(&session)),
    }
}

async fn finish(state: &AppState, session: &Session, query: CallbackQuery) -> Result<Response, ConsoleError> {
    let nothing = "No instance was created.";
    let state_param = query.state.as_deref().filter(|text| !text.is_empty()).ok_or_else(|| {
        ConsoleError::bad_request(format!(
            "The vendor's answer carries no state, so Junction cannot tell which request it answers. {nothing}"
        ))
    })?;
    let nonce = verify(state_param, |data| state.platform.store.keyed_hash(STATE_PURPOSE, data)).ok_or_else(|| {
        ConsoleError::bad_request(format!(
            "The state in the vendor's answer was not issued by Junction, or was altered. {nothing}"
        ))
        .next(start_again())
    })?;
    let taken = state.platform.store.take_pending_authorization(&Secret::new(nonce), &session.id, Utc::now()).await;
    let taken = match taken {
        // Sealed under a master key this node no longer holds (a rotation finished meanwhile).
        Err(store::StoreError::Crypto(_)) => Ok(PendingTake::Expired),
        other => other,
    };
    let pending = match taken? {
        PendingTake::Found(pending) => pending,
        PendingTake::Expired => {
            return Err(ConsoleError::bad_request(format!(
                "This authorization took longer than {} minutes and expired. {nothing}",
                PENDING_LIFETIME.num_minutes()
            ))
            .next(start_again()))
        }
        PendingTake::OtherSession => {
            return Err(ConsoleError::bad_request(format!(
                "This authorization was started in another browser session. {nothing}"
            ))
            .next(start_again()))
        }
        PendingTake::Unknown => {
            return Err(ConsoleError::bad_request(format!(
                "This authorization was already used, or is unknown. {nothing}"
            ))
            .next(html! { a href="/instances" { "See your instances" } }))
        }
    };
    if let Some(error) = query.error.as_deref() {
        return Err(vendor_refusal(error, query.error_description.as_deref()));
    }
    let code = query.code.as_deref().map(str::trim).filter(|code| !code.is_empty()).ok_or_else(|| {
        ConsoleError::bad_request(format!("The vendor's answer carries no authorization code. {nothing}"))
            .next(start_again())
    })?;
    create(state, session, &pending, code).await
}

fn start_again() -> Markup {
    html! { a href="/" { "Start again from the catalog" } }
}

fn vendor_refusal(error: &str, description: Option<&str>) -> ConsoleError {
    let shown: String = error.chars().filter(|c| !c.is_control()).take(64).collect();
    let message = if error == "access_denied" {
        "Access was denied at Infusionsoft, so no instance was created. Authenticate again and choose Allow to connect the account.".to_string()
    } else {
        let detail: String = description.unwrap_or("").chars().filter(|c| !c.is_control()).take(200).collect();
        format!(
            "Infusionsoft refused the authorization ({shown}{}{detail}). No instance was created.",
            if detail.is_empty() { "" } else { ": " }
        )
    };
    ConsoleError::new(StatusCode::BAD_REQUEST, "Authorization not granted", message).next(start_again())
}

/// Exchanges the code and stores the instance, then shows it with its token (shown this once).
async fn create(
    state: &AppState,
    session: &Session,
    pending: &PendingAuthorization,
    code: &str,
) -> Result<Response, ConsoleError> {
    let mut body: Value = serde_json::from_str(pending.request.expose())
        .map_err(|_| ConsoleError::bad_request("The saved request could not be read. No instance was created."))?;
    body["providerData"] = json!({ "code": code });
    let not_created = |error: crate::ApiError| {
        let message = format!("{} No instance was created.", describe(&error));
        ConsoleError::new(error.status(), "The instance could not be created", message).next(start_again())
    };
    let request = provisioning::parse(state, None, &body).map_err(not_created)?;
    let record = platform::provisioning::provision(&state.platform, pending.organization_id, request)
        .await
        .map_err(|error| not_created(error.into()))?;
    tracing::info!(instance_id = record.id.get(), "instance created through the console");
    let notice = Notice::Success(format!("Instance \u{201c}{}\u{201d} created.", record.name));
    instance_page(state, session, record, Some(notice), true).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sign(data: &str) -> String {
        format!("sig-of-{data}")
    }

    #[test]
    fn a_signed_state_verifies_and_gives_back_its_nonce() {
        assert_eq!(verify(&signed("abc", sign), sign), Some("abc"));
    }

    #[test]
    fn a_tampered_state_does_not_verify() {
        assert_eq!(verify("abd.sig-of-abc", sign), None, "nonce changed");
        assert_eq!(verify("abc.sig-of-abd", sign), None, "signature changed");
        assert_eq!(verify("abc", sign), None, "no signature");
        assert_eq!(verify(".sig-of-", sign), None, "empty nonce");
        assert_eq!(verify("", sign), None);
        let long = "a".repeat(129);
        assert_eq!(verify(&signed(&long, sign), sign), None, "oversized nonce");
    }
}
