//! Authenticate an element through the browser (SPEC "Web console"; the seeds' "Authenticate
//! Through the UI"): the form (instance name, Infusionsoft server, Encrypted Key, OAuth client,
//! tags, events), its inline validation, and the redirect to the vendor's consent page. The request
//! as typed waits server-side, sealed and bound to the browser session, until the vendor sends the
//! browser back to [`super::oauth_callback`].

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::Utc;
use domain::elements::Element;
use domain::instance_config;
use domain::oauth_url::{self, OAuthUrlRequest};
use maud::{html, Markup};
use serde_json::{json, Map, Value};
use store::{PendingAuthorization, Secret};

use super::form::FormFields;
use super::oauth_callback::{callback_url, sign_state, PENDING_LIFETIME};
use super::page::{describe, ConsoleError, Notice, Page, Section};
use super::session::Session;
use crate::path_param::PathParam;
use crate::state::AppState;

/// One field of the form: the configuration key it sets, its label, its kind.
struct Field {
    key: &'static str,
    label: &'static str,
    kind: FieldKind,
    help: &'static str,
}

#[derive(PartialEq)]
enum FieldKind {
    Text,
    Secret,
    Checkbox,
    Choice(&'static [&'static str]),
}

const MAIN_FIELDS: [Field; 4] = [
    Field {
        key: "infusionsoft.server",
        label: "Infusionsoft server",
        kind: FieldKind::Text,
        help: "The account part of your Infusionsoft URL, e.g. dt123.infusionsoft.com.",
    },
    Field {
        key: "infusionsoft.private.key",
        label: "Encrypted Key",
        kind: FieldKind::Secret,
        help: "The encrypted API key from your Infusionsoft settings (optional).",
    },
    Field {
        key: "oauth.api.key",
        label: "OAuth client id",
        kind: FieldKind::Text,
        help: "Your application's client id from the Keap developer portal.",
    },
    Field {
        key: "oauth.api.secret",
        label: "OAuth client secret",
        kind: FieldKind::Secret,
        help: "Stored encrypted; never shown again.",
    },
];

const EVENT_FIELDS: [Field; 5] = [
    Field {
        key: "event.notification.enabled",
        label: "Send change events",
        kind: FieldKind::Checkbox,
        help: "Notify your callback URL when records change.",
    },
    Field {
        key: "event.vendor.type",
        label: "How changes are found",
        kind: FieldKind::Choice(&["polling", "webhook"]),
        help: "Polling asks Infusionsoft every few minutes; webhook subscribes to its REST hooks.",
    },
    Field {
        key: "event.poller.refresh_interval",
        label: "Polling interval (minutes)",
        kind: FieldKind::Text,
        help: "Default 15.",
    },
    Field {
        key: "event.notification.callback.url",
        label: "Event callback URL",
        kind: FieldKind::Text,
        help: "Where Junction POSTs the change events.",
    },
    Field {
        key: "event.notification.signature.key",
        label: "Callback signature key",
        kind: FieldKind::Secret,
        help: "Signs each notification (HMAC-SHA256).",
    },
];

/// What the person typed, and the problem with each field (by form field name).
#[derive(Debug, Default)]
struct Typed {
    values: BTreeMap<String, String>,
    problems: BTreeMap<String, String>,
}

pub async fn form(State(state): State<AppState>, session: Session, PathParam(key): PathParam<String>) -> Response {
    let Some(element) = state.platform.catalog.get(&key) else {
        return unknown_element().page(&state, Some(&session));
    };
    let mut typed = Typed::default();
    if state.platform.sandbox {
        // The simulator's demo client and account: the demo works with no vendor account.
        for (field, value) in [
            ("infusionsoft.server", "sandbox.infusionsoft.com"),
            ("oauth.api.key", "sandbox-client-id"),
            ("oauth.api.secret", "sandbox-client-secret"),
        ] {
            typed.values.insert(field.into(), value.into());
        }
    }
    form_page(&state, &session, element, &typed, None, StatusCode::OK)
}

fn unknown_element() -> ConsoleError {
    ConsoleError::new(StatusCode::NOT_FOUND, "No such element", "The catalog has no element with that key.")
}

fn form_page(
    state: &AppState,
    session: &Session,
    element: &Element,
    typed: &Typed,
    notice: Option<Notice>,
    status: StatusCode,
) -> Response {
    let events_open = EVENT_FIELDS.iter().any(|field| typed.problems.contains_key(field.key));
    let body = html! {
        p.crumbs { a href="/" { "Catalog" } " / " a href={ "/catalog/" (element.key) } { (element.name) } " / Authenticate" }
        h1 { "Authenticate " (element.name) }
        p.muted { "Junction sends you to Infusionsoft to sign in and allow access, then creates the instance." }
        @if state.platform.sandbox { p.muted { "Sandbox: the simulator's demo client is filled in; its login is demo@example.com / demo." } }
        form.stack method="post" action={ "/catalog/" (element.key) "/authenticate" } novalidate {
            input type="hidden" name="csrf" value=(session.csrf);
            (text_input("name", "Instance name", typed, true, "A name you will recognise, e.g. Production CRM."))
            @for field in &MAIN_FIELDS { (field_input(field, typed, matches!(field.key, "oauth.api.key" | "oauth.api.secret"))) }
            (text_input("tags", "Tags", typed, false, "Optional, separated by commas."))
            details open[events_open] {
                summary { "Events (optional)" }
                div.stack { @for field in &EVENT_FIELDS { (field_input(field, typed, false)) } }
            }
            button.primary type="submit" { "Create instance" }
        }
    };
    Page { title: "Authenticate", section: Section::Catalog, session: Some(session), notice, body }
        .respond(state, status)
}

fn field_id(name: &str) -> String {
    format!("f-{}", name.replace('.', "-"))
}

fn text_input(name: &str, label: &str, typed: &Typed, required: bool, help: &str) -> Markup {
    let id = field_id(name);
    let problem = typed.problems.get(name);
    let value = typed.values.get(name).map(String::as_str).unwrap_or("");
    html! {
        div.field {
            label for=(id) { (label) @if required { span.required aria-hidden="true" { " *" } } }
            input id=(id) type="text" name=(name) value=(value) required[required] aria-invalid=[problem.map(|_| "true")]
                aria-describedby={ (id) "-help" } maxlength="1000";
            (field_help(&id, help, problem))
        }
    }
}

fn field_input(field: &Field, typed: &Typed, required: bool) -> Markup {
    let id = field_id(field.key);
    let problem = typed.problems.get(field.key);
    let value = typed.values.get(field.key).map(String::as_str).unwrap_or("");
    match field.kind {
        FieldKind::Text => text_input(field.key, field.label, typed, required, field.help),
        FieldKind::Secret => html! {
            div.field {
                label for=(id) { (field.label) @if required { span.required aria-hidden="true" { " *" } } }
                input id=(id) type="password" name=(field.key) value=(value) required[required] autocomplete="off"
                    aria-invalid=[problem.map(|_| "true")] aria-describedby={ (id) "-help" } maxlength="1000";
                (field_help(&id, field.help, problem))
            }
        },
        FieldKind::Checkbox => html! {
            div.field.check {
                input id=(id) type="checkbox" name=(field.key) value="true" checked[value == "true"] aria-describedby={ (id) "-help" };
                label for=(id) { (field.label) }
                (field_help(&id, field.help, problem))
            }
        },
        FieldKind::Choice(options) => html! {
            div.field {
                label for=(id) { (field.label) }
                select id=(id) name=(field.key) aria-describedby={ (id) "-help" } {
                    @for option in options { option value=(option) selected[value == *option] { (option) } }
                }
                (field_help(&id, field.help, problem))
            }
        },
    }
}

fn field_help(id: &str, help: &str, problem: Option<&String>) -> Markup {
    html! {
        @if let Some(problem) = problem { p.problem id={ (id) "-help" } { (problem) } }
        @else { p.help id={ (id) "-help" } { (help) } }
    }
}

pub async fn submit(
    State(state): State<AppState>,
    session: Session,
    PathParam(key): PathParam<String>,
    form: FormFields,
) -> Response {
    if let Err(error) = form.check_csrf(&session) {
        return error.page(&state, Some(&session));
    }
    let Some(element) = state.platform.catalog.get(&key) else {
        return unknown_element().page(&state, Some(&session));
    };
    let (typed, request) = read_form(&state, element, &form);
    let Some(request) = request else {
        let notice = Notice::Error("Some fields need attention; see the messages below.".into());
        return form_page(&state, &session, element, &typed, Some(notice), StatusCode::BAD_REQUEST);
    };
    match start(&state, &session, element, &typed, request).await {
        Ok(authorize_url) => Redirect::to(&authorize_url).into_response(),
        Err(problem) => {
            form_page(&state, &session, element, &typed, Some(Notice::Error(problem)), StatusCode::BAD_REQUEST)
        }
    }
}

/// The typed values with a problem per field, and the create request when there is none.
fn read_form(state: &AppState, element: &Element, form: &FormFields) -> (Typed, Option<Value>) {
    let mut typed = Typed::default();
    let name = form.get("name").to_string();
    if let Err(error) = domain::instance_fields::instance_name(&Value::String(name.clone())) {
        typed.problems.insert("name".into(), short_problem(&describe(&error.into())));
    }
    typed.values.insert("name".into(), name.clone());
    let tags_text = form.get("tags").to_string();
    let tags: Vec<Value> = tags_text.split(',').map(|tag| Value::String(tag.trim().to_string())).collect();
    let tags = domain::instance_fields::tags(Some(&Value::Array(tags))).unwrap_or_else(|error| {
        typed.problems.insert("tags".into(), short_problem(&describe(&error.into())));
        Vec::new()
    });
    typed.values.insert("tags".into(), tags_text);
    let mut configuration = Map::new();
    for field in MAIN_FIELDS.iter().chain(&EVENT_FIELDS) {
        let value = match field.kind {
            FieldKind::Checkbox => if form.checked(field.key) { "true" } else { "false" }.to_string(),
            _ => form.get(field.key).to_string(),
        };
        let checked = if value.is_empty() { Value::Null } else { Value::String(value.clone()) };
        if let Err(error) = instance_config::validate_value(element, field.key, &checked, &state.platform.policy) {
            typed.problems.insert(field.key.into(), short_problem(&error.to_string()));
        }
        // Secrets are not shown again after a problem: the person types them once more.
        if field.kind != FieldKind::Secret {
            typed.values.insert(field.key.into(), value.clone());
        }
        if !value.is_empty() {
            configuration.insert(field.key.into(), Value::String(value));
        }
    }
    if !typed.problems.is_empty() {
        return (typed, None);
    }
    configuration.insert("oauth.callback.url".into(), Value::String(callback_url(state)));
    let request = json!({"element": {"key": element.key}, "name": name, "tags": tags, "configuration": configuration});
    (typed, Some(request))
}

/// The domain's message without the configuration key it starts with (the field is beside it).
fn short_problem(message: &str) -> String {
    match message.split_once("': ") {
        Some((_, reason)) => format!("This {}.", reason.trim_end_matches('.')),
        None if message.starts_with("Missing required") => "This field is required.".into(),
        None => message.to_string(),
    }
}

/// Remembers the request and returns the vendor authorize URL to send the browser to.
async fn start(
    state: &AppState,
    session: &Session,
    element: &Element,
    typed: &Typed,
    request: Value,
) -> Result<String, String> {
    let configuration = request.get("configuration").and_then(Value::as_object).cloned().unwrap_or_default();
    // The whole configuration as the API would take it: catches what single fields cannot.
    instance_config::validate(element, &configuration, &state.platform.policy).map_err(|error| error.to_string())?;
    let nonce = Secret::new(store::crypto::generate_secret());
    let state_param = sign_state(state, nonce.expose());
    let oauth_request = OAuthUrlRequest {
        api_key: typed.values.get("oauth.api.key").cloned(),
        api_secret: configuration.get("oauth.api.secret").and_then(Value::as_str).map(str::to_string),
        callback_url: Some(callback_url(state)),
        state: Some(state_param),
        scope: None,
        site_address: None,
    };
    let redirect =
        oauth_url::build(element, &oauth_request, &state.platform.endpoints().authorize).map_err(|e| e.to_string())?;
    let pending = PendingAuthorization {
        organization_id: session.organization.id,
        user_id: session.user.id,
        request: Secret::new(request.to_string()),
        expires_at: Utc::now() + PENDING_LIFETIME,
    };
    state.platform.store.save_pending_authorization(&nonce, &session.id, &pending).await.map_err(|error| {
        tracing::warn!(%error, "saving a pending authorization failed");
        "The database could not be reached; try again in a moment.".to_string()
    })?;
    tracing::info!(element = %element.key, "console authorization started");
    Ok(redirect.oauth_url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domain_messages_lose_the_key_the_field_already_shows() {
        assert_eq!(
            short_problem("Invalid configuration 'infusionsoft.server': must be a host"),
            "This must be a host."
        );
        assert_eq!(short_problem("Missing required configuration 'oauth.api.key'"), "This field is required.");
    }
}
