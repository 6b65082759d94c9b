//! The instance page's buttons, each a CSRF-checked `POST /instances/{id}/{action}`: test the
//! connection (a hub ping), refresh tokens, enable/disable, trace logging on/off, reset the
//! instance token (shown once), save settings, and delete (after a confirmation page).
//!
//! A success redirects to the instance page with a fixed notice (so a reload repeats nothing); a
//! failure answers the instance page with the problem.

use axum::extract::State;
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;
use platform::metrics::Trigger;
use serde_json::{Map, Value};
use store::{InstanceId, InstancePatch, InstanceRecord};

use super::form::FormFields;
use super::hub_call;
use super::instances::{instance_page, instance_page_with_status, owned_instance, EDITABLE};
use super::page::{describe, ConsoleError, Notice, Page, Section};
use super::session::{tokens_equal, Session};
use crate::instances::{configuration_changes, KeptKeys};
use crate::path_param::PathParam;
use crate::state::AppState;

/// What a button asks for.
#[derive(Debug, Clone, Copy)]
enum Action {
    Test,
    Refresh,
    Enable,
    Disable,
    TraceOn,
    TraceOff,
    ResetToken,
    Settings,
    Delete,
}

impl Action {
    fn parse(name: &str) -> Option<Action> {
        Some(match name {
            "test" => Action::Test,
            "refresh" => Action::Refresh,
            "enable" => Action::Enable,
            "disable" => Action::Disable,
            "trace-on" => Action::TraceOn,
            "trace-off" => Action::TraceOff,
            "token" => Action::ResetToken,
            "settings" => Action::Settings,
            "delete" => Action::Delete,
            _ => return None,
        })
    }
}

pub async fn act(
    State(state): State<AppState>,
    session: Session,
    PathParam((id, action)): PathParam<(String, String)>,
    form: FormFields,
) -> Response {
    act_named(state, session, id, action, form).await
}

/// `POST /instances/{id}/delete` (its own route: the path also serves the confirmation page).
pub async fn delete(
    State(state): State<AppState>,
    session: Session,
    PathParam(id): PathParam<String>,
    form: FormFields,
) -> Response {
    act_named(state, session, id, "delete".into(), form).await
}

async fn act_named(state: AppState, session: Session, id: String, action: String, form: FormFields) -> Response {
    let result = async {
        form.check_csrf(&session)?;
        let action = Action::parse(&action).ok_or_else(|| {
            ConsoleError::new(StatusCode::NOT_FOUND, "No such action", "The instance page has no such button.")
        })?;
        let record = owned_instance(&state, &session, &id).await?;
        perform(&state, &session, record, action, &form).await
    };
    result.await.unwrap_or_else(|error| error.page(&state, Some(&session)))
}

async fn perform(
    state: &AppState,
    session: &Session,
    record: InstanceRecord,
    action: Action,
    form: &FormFields,
) -> Result<Response, ConsoleError> {
    let id = record.id;
    let org = session.organization.id;
    let done = |what: &str| Ok(Redirect::to(&format!("/instances/{id}?done={what}")).into_response());
    match action {
        Action::Test => test_connection(state, session, record).await,
        Action::Refresh => {
            match platform::tokens::refresh(&state.platform, id, record.refresh_generation, Trigger::manual).await {
                Ok(_) => done("refreshed"),
                Err(error) => failed(state, session, id, &error.into()).await,
            }
        }
        Action::Enable | Action::Disable => {
            let disabled = matches!(action, Action::Disable);
            let patch = InstancePatch { disabled: Some(disabled), ..InstancePatch::default() };
            state.platform.store.update_instance(org, id, patch).await?;
            tracing::info!(instance_id = id.get(), disabled, "instance enabled/disabled through the console");
            done(if disabled { "disabled" } else { "enabled" })
        }
        Action::TraceOn | Action::TraceOff => {
            let on = matches!(action, Action::TraceOn);
            let patch = InstancePatch { trace_logging: Some(on), ..InstancePatch::default() };
            state.platform.store.update_instance(org, id, patch).await?;
            done(if on { "trace-on" } else { "trace-off" })
        }
        Action::ResetToken => {
            if !tokens_equal(&token_fingerprint(state, &record), form.get("current")) {
                // A reload of the page that showed the new token, or a form from before another reset.
                let notice = Notice::Error(
                    "The token was not reset: this form was for an earlier token (was the page reloaded?). \
                     The current token keeps working."
                        .into(),
                );
                return instance_page_with_status(state, session, record, Some(notice), false, StatusCode::CONFLICT)
                    .await;
            }
            state.platform.store.reissue_instance_token(org, id).await?;
            tracing::info!(instance_id = id.get(), "instance token reissued through the console");
            let record = state.platform.store.get_instance(org, id).await?;
            let notice = Notice::Success("New instance token issued; the old one no longer works.".into());
            instance_page(state, session, record, Some(notice), true).await
        }
        Action::Settings => save_settings(state, session, record, form).await,
        Action::Delete => {
            state.platform.store.delete_instance(org, id).await?;
            tracing::info!(instance_id = id.get(), "instance deleted through the console");
            Ok(Redirect::to("/instances?done=deleted").into_response())
        }
    }
}

/// The instance page again with `error` said at the top, answered with the error's status.
async fn failed(
    state: &AppState,
    session: &Session,
    id: InstanceId,
    error: &crate::ApiError,
) -> Result<Response, ConsoleError> {
    let record = state.platform.store.get_instance(session.organization.id, id).await?;
    let notice = Notice::Error(describe(error));
    instance_page_with_status(state, session, record, Some(notice), false, error.status()).await
}

async fn test_connection(
    state: &AppState,
    session: &Session,
    record: InstanceRecord,
) -> Result<Response, ConsoleError> {
    let id = record.id;
    let hub = state.platform.catalog.find(&record.element_key)?.hub.clone();
    let answer = hub_call::call(state, record.clone(), Method::GET, &format!("/hubs/{hub}/ping"), None).await;
    let answer = answer.map_err(ConsoleError::bad_request)?;
    // The page after this shows the trace log: let the call's trace write land first.
    platform::calls::trace_writes_flushed().await;
    let body: Value = serde_json::from_slice(&answer.body).unwrap_or_default();
    if answer.status.is_success() {
        let ms = body.get("latencyMs").and_then(Value::as_f64).unwrap_or(0.0);
        return Ok(Redirect::to(&format!("/instances/{id}?done=connected&ms={ms}")).into_response());
    }
    let message = body.get("message").and_then(Value::as_str).unwrap_or("The vendor call failed");
    let provider = body.get("providerMessage").and_then(Value::as_str);
    let text = match provider {
        Some(provider) => format!("Connection failed: {message} (Infusionsoft said: {provider})"),
        None => format!("Connection failed: {message}"),
    };
    let record = state.platform.store.get_instance(session.organization.id, id).await?;
    instance_page_with_status(state, session, record, Some(Notice::Error(text)), false, answer.status).await
}

async fn save_settings(
    state: &AppState,
    session: &Session,
    record: InstanceRecord,
    form: &FormFields,
) -> Result<Response, ConsoleError> {
    let element = state.platform.catalog.find(&record.element_key)?;
    let result = async {
        let mut patch = InstancePatch {
            name: Some(domain::instance_fields::instance_name(&Value::String(form.get("name").to_string()))?),
            ..InstancePatch::default()
        };
        let tags: Vec<Value> = form.get("tags").split(',').map(|tag| Value::String(tag.trim().to_string())).collect();
        patch.tags = Some(domain::instance_fields::tags(Some(&Value::Array(tags)))?);
        let mut configuration = Map::new();
        for key in EDITABLE.iter().filter(|key| element.config_entry(key).is_some()) {
            let boolean = element.config_entry(key).is_some_and(|e| e.kind == domain::elements::ConfigType::Boolean);
            let value = if boolean { form.checked(key).to_string() } else { form.get(key).to_string() };
            configuration.insert((*key).to_string(), if value.is_empty() { Value::Null } else { Value::String(value) });
        }
        configuration_changes(state, element, Some(&Value::Object(configuration)), KeptKeys::Refuse, &mut patch)?;
        state
            .platform
            .store
            .update_instance(session.organization.id, record.id, patch)
            .await
            .map_err(crate::ApiError::from)
    };
    match result.await {
        Ok(_) => Ok(Redirect::to(&format!("/instances/{}?done=saved", record.id)).into_response()),
        Err(error) => {
            let notice = Notice::Error(format!("Settings not saved: {}", describe(&error)));
            instance_page_with_status(state, session, record, Some(notice), false, StatusCode::BAD_REQUEST).await
        }
    }
}

/// A keyed hash of the instance's current token, carried by the reset form: a reset form sent
/// again (a reload of the page showing the new token) no longer matches and resets nothing.
pub fn token_fingerprint(state: &AppState, record: &InstanceRecord) -> String {
    state.platform.store.keyed_hash("console token form", record.token.expose())
}

/// `GET /instances/{id}/delete`: what deleting means, and the button that does it.
pub async fn confirm_delete(
    State(state): State<AppState>,
    session: Session,
    PathParam(id): PathParam<String>,
) -> Response {
    let record = match owned_instance(&state, &session, &id).await {
        Ok(record) => record,
        Err(error) => return error.page(&state, Some(&session)),
    };
    let body = html! {
        p.crumbs { a href="/instances" { "Instances" } " / " a href={ "/instances/" (record.id) } { (record.name) } " / Delete" }
        h1 { "Delete \u{201c}" (record.name) "\u{201d}?" }
        p { "Its instance token stops working at once and its stored Infusionsoft tokens are erased. This cannot be undone; the Infusionsoft account itself is not touched." }
        div.action-bar {
            form method="post" action={ "/instances/" (record.id) "/delete" } {
                input type="hidden" name="csrf" value=(session.csrf);
                button.danger type="submit" { "Delete instance" }
            }
            a.button href={ "/instances/" (record.id) } { "Cancel" }
        }
    };
    Page { title: "Delete instance", section: Section::Instances, session: Some(&session), notice: None, body }
        .respond(&state, StatusCode::OK)
}
