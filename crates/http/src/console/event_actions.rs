//! The events panel's buttons, each a CSRF-checked `POST` on the signed-in organization's instance
//! (another organization's is a 404, like every console page):
//! - `POST /instances/{id}/events/poll`: poll the vendor now (the API's `PUT …/events/poll`);
//! - `POST /instances/{id}/events/{eventId}/retry`: send one notification again;
//! - `POST /instances/{id}/events/retry`: send every FAILED notification again.
//!
//! A success redirects to the instance page with a count in the query (a fixed notice is built
//! from it, so a reload repeats nothing and no text from the URL is echoed); a poll that fails
//! answers the instance page with the reason, as the other instance buttons do.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;
use platform::events::{self, PollMode};
use store::InstanceRecord;

use super::form::FormFields;
use super::instances::{instance_page_with_status, owned_instance};
use super::page::{describe, ConsoleError, Notice};
use super::session::Session;
use crate::error::ApiError;
use crate::path_param::PathParam;
use crate::state::AppState;

/// `POST /instances/{id}/events/poll`.
pub async fn poll_now(
    State(state): State<AppState>,
    session: Session,
    PathParam(id): PathParam<String>,
    form: FormFields,
) -> Response {
    let result = async {
        form.check_csrf(&session)?;
        let record = owned_instance(&state, &session, &id).await?;
        poll(&state, &session, record).await
    };
    result.await.unwrap_or_else(|error| error.page(&state, Some(&session)))
}

async fn poll(state: &AppState, session: &Session, record: InstanceRecord) -> Result<Response, ConsoleError> {
    let error = if record.disabled {
        // As the API: a disabled instance makes no vendor call.
        ApiError::Forbidden { message: "This instance is disabled: enable it first".into(), provider_message: None }
    } else {
        match events::poll_now(&state.platform, &record, PollMode::Regular).await {
            Ok(report) => {
                let to = format!("/instances/{}?done=polled&n={}", record.id, report.events.len());
                return Ok(Redirect::to(&to).into_response());
            }
            Err(error) => ApiError::from(error),
        }
    };
    // The poll may have refreshed the instance's tokens: show the page as it is now.
    let record = state.platform.store.get_instance(session.organization.id, record.id).await?;
    let notice = Notice::Error(format!("Not polled: {}", describe(&error)));
    instance_page_with_status(state, session, record, Some(notice), false, error.status()).await
}

/// `POST /instances/{id}/events/{eventId}/retry`.
pub async fn retry_one(
    State(state): State<AppState>,
    session: Session,
    PathParam((id, event_id)): PathParam<(String, String)>,
    form: FormFields,
) -> Response {
    retry(state, session, id, Some(event_id), form).await
}

/// `POST /instances/{id}/events/retry`.
pub async fn retry_failed(
    State(state): State<AppState>,
    session: Session,
    PathParam(id): PathParam<String>,
    form: FormFields,
) -> Response {
    retry(state, session, id, None, form).await
}

/// Makes notification `event_id` (any status, as the API's retry), or without one every FAILED
/// notification of the instance, NEW and due now.
async fn retry(state: AppState, session: Session, id: String, event_id: Option<String>, form: FormFields) -> Response {
    let result = async {
        form.check_csrf(&session)?;
        let record = owned_instance(&state, &session, &id).await?;
        let event_id = match event_id {
            Some(text) => Some(text.parse::<i64>().ok().filter(|id| *id > 0).ok_or_else(|| no_notification(&record))?),
            None => None,
        };
        let retried = state.platform.store.retry_events(record.id, event_id).await?;
        if event_id.is_some() && retried == 0 {
            return Err(no_notification(&record));
        }
        tracing::info!(instance_id = record.id.get(), ?event_id, retried, "notifications retried through the console");
        Ok(Redirect::to(&format!("/instances/{}?done=retried&n={retried}", record.id)).into_response())
    };
    result.await.unwrap_or_else(|error| error.page(&state, Some(&session)))
}

/// A 404 for a notification that is not the instance's (or does not exist).
fn no_notification(record: &InstanceRecord) -> ConsoleError {
    ConsoleError::new(StatusCode::NOT_FOUND, "No such notification", "This instance has no notification with that id.")
        .next(html! { a href={ "/instances/" (record.id) "#events" } { "Back to the instance's events" } })
}
