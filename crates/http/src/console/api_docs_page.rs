//! `GET /instances/{id}/api-docs`: the instance's hub API, read from its OpenAPI document
//! (`crate::api_docs::instance_document`: its element's objects and the common resources it can
//! call), with a form to try a call; `POST /instances/{id}/api-docs` makes the call as the instance
//! (through [`super::hub_call`]) and shows the answer.

use axum::extract::{RawQuery, State};
use axum::http::{Method, StatusCode};
use axum::response::Response;
use maud::{html, Markup};
use serde::Deserialize;
use serde_json::Value;
use store::InstanceRecord;

use super::form::FormFields;
use super::hub_call::{self, HubAnswer};
use super::instances::owned_instance;
use super::page::{ConsoleError, Notice, Page, Section};
use super::session::Session;
use crate::path_param::PathParam;
use crate::state::AppState;

/// The longest answer body shown; the rest is cut with a note.
const SHOWN_BODY: usize = 200 * 1024;
const METHODS: [&str; 5] = ["GET", "POST", "PATCH", "PUT", "DELETE"];

/// A call to try: what the form holds.
#[derive(Debug, Default, Deserialize)]
pub struct TryCall {
    method: Option<String>,
    path: Option<String>,
    body: Option<String>,
}

pub async fn page(
    State(state): State<AppState>,
    session: Session,
    PathParam(id): PathParam<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    let prefill: TryCall = super::form::query(raw.as_deref());
    let result = async {
        let record = owned_instance(&state, &session, &id).await?;
        render(&state, &session, &record, &prefill, None, None, StatusCode::OK).await
    };
    result.await.unwrap_or_else(|error| error.page(&state, Some(&session)))
}

pub async fn try_call(
    State(state): State<AppState>,
    session: Session,
    PathParam(id): PathParam<String>,
    form: FormFields,
) -> Response {
    let result = async {
        form.check_csrf(&session)?;
        let record = owned_instance(&state, &session, &id).await?;
        let call = TryCall {
            method: Some(form.get("method").to_string()),
            path: Some(form.get("path").to_string()),
            body: Some(form.get("body").to_string()),
        };
        let answer = run(&state, &record, &call).await;
        match answer {
            Ok(answer) => render(&state, &session, &record, &call, Some(&answer), None, StatusCode::OK).await,
            Err(problem) => {
                let notice = Some(Notice::Error(problem));
                render(&state, &session, &record, &call, None, notice, StatusCode::BAD_REQUEST).await
            }
        }
    };
    result.await.unwrap_or_else(|error| error.page(&state, Some(&session)))
}

async fn run(state: &AppState, record: &InstanceRecord, call: &TryCall) -> Result<HubAnswer, String> {
    let method = call.method.as_deref().unwrap_or("");
    if !METHODS.contains(&method) {
        return Err(format!("Choose a method: {}.", METHODS.join(", ")));
    }
    let path = call.path.as_deref().unwrap_or("").trim();
    if !path.starts_with("/hubs/") {
        return Err("The path must start with /hubs/ (the hub API of this instance).".into());
    }
    if path.contains('{') {
        return Err("Replace the {placeholders} in the path with values first.".into());
    }
    let body = call.body.as_deref().map(str::trim).filter(|body| !body.is_empty());
    if let Some(body) = body {
        serde_json::from_str::<Value>(body).map_err(|error| format!("The body is not valid JSON: {error}."))?;
    }
    let method = Method::from_bytes(method.as_bytes()).map_err(|_| "Unknown method.".to_string())?;
    hub_call::call(state, record.clone(), method, path, body.map(str::to_string)).await
}

async fn render(
    state: &AppState,
    session: &Session,
    record: &InstanceRecord,
    call: &TryCall,
    answer: Option<&HubAnswer>,
    notice: Option<Notice>,
    status: StatusCode,
) -> Result<Response, ConsoleError> {
    let element = state.platform.catalog.find(&record.element_key).map_err(|_| ConsoleError::no_instance())?;
    let document = crate::api_docs::instance_document(state, record).await?;
    let body = html! {
        p.crumbs { a href="/instances" { "Instances" } " / " a href={ "/instances/" (record.id) } { (record.name) } " / API docs" }
        h1 { "API docs: " (record.name) }
        p.muted {
            "The " (element.hub) " hub API of this instance: its element's objects and the common resources it can call. "
            "Its OpenAPI document is " code { "GET /elements/api-v2/instances/" (record.id) "/docs" } " (with your credentials); "
            "the element's alone is at "
            a href={ "/elements/api-v2/elements/" (element.key) "/docs" } { code { "/elements/api-v2/elements/" (element.key) "/docs" } } "."
        }
        (try_form(session, record, call))
        @if let Some(answer) = answer { (answer_view(answer)) }
        (operations(record, &document))
    };
    let page = Page { title: "API docs", section: Section::Instances, session: Some(session), notice, body };
    Ok(page.respond(state, status))
}

fn try_form(session: &Session, record: &InstanceRecord, call: &TryCall) -> Markup {
    let method = call.method.as_deref().unwrap_or("GET");
    html! {
        section.panel #try aria-labelledby="try-title" {
            h2 #try-title { "Try a call" }
            p.muted { "Runs as this instance, with its token; the answer is exactly what your application would get." }
            form.stack method="post" action={ "/instances/" (record.id) "/api-docs" } {
                input type="hidden" name="csrf" value=(session.csrf);
                div.inline {
                    div.field {
                        label for="try-method" { "Method" }
                        select #try-method name="method" {
                            @for option in METHODS { option value=(option) selected[option == method] { (option) } }
                        }
                    }
                    div.field.grow {
                        label for="try-path" { "Path and query" }
                        input #try-path type="text" name="path" value=(call.path.as_deref().unwrap_or("")) placeholder="/hubs/crm/contacts?pageSize=5" required maxlength="8192";
                    }
                }
                div.field {
                    label for="try-body" { "JSON body (POST, PATCH, PUT)" }
                    textarea #try-body name="body" rows="5" spellcheck="false" { (call.body.as_deref().unwrap_or("")) }
                }
                button.primary type="submit" { "Send" }
            }
        }
    }
}

fn answer_view(answer: &HubAnswer) -> Markup {
    let text = String::from_utf8_lossy(&answer.body);
    let pretty = serde_json::from_str::<Value>(&text)
        .ok()
        .and_then(|json| serde_json::to_string_pretty(&json).ok())
        .unwrap_or_else(|| text.into_owned());
    let cut = pretty.len() > SHOWN_BODY;
    let mut end = pretty.len().min(SHOWN_BODY);
    while !pretty.is_char_boundary(end) {
        end -= 1;
    }
    let shown = &pretty[..end];
    let class = if answer.status.is_success() { "badge ok" } else { "badge bad" };
    html! {
        section.panel #answer aria-labelledby="answer-title" aria-live="polite" {
            h2 #answer-title { "Answer " span class=(class) { (answer.status.as_u16()) } }
            dl.facts {
                @for name in ["elements-next-page-token", "elements-element-instance-id", "elements-returned-count", "retry-after"] {
                    @if let Some(value) = answer.headers.get(name).and_then(|v| v.to_str().ok()) {
                        dt { code { (name) } } dd { code { (value) } }
                    }
                }
            }
            pre.answer tabindex="0" { (shown) }
            @if cut { p.muted { "Cut at 200 KiB." } }
        }
    }
}

/// Every operation of the document, grouped by its first tag.
fn operations(record: &InstanceRecord, document: &Value) -> Markup {
    let mut groups: std::collections::BTreeMap<String, Vec<(String, String, &Value)>> = Default::default();
    if let Some(paths) = document.get("paths").and_then(Value::as_object) {
        for (path, item) in paths {
            for method in ["get", "post", "patch", "put", "delete"] {
                if let Some(operation) = item.get(method) {
                    let tag = operation.pointer("/tags/0").and_then(Value::as_str).unwrap_or("other").to_string();
                    groups.entry(tag).or_default().push((method.to_ascii_uppercase(), path.clone(), operation));
                }
            }
        }
    }
    html! {
        section aria-labelledby="reference" {
            h2 #reference { "Reference" }
            @if groups.is_empty() { p.muted { "The API document is not available." } }
            @for (tag, operations) in &groups {
                h3 { (tag) }
                @for (method, path, operation) in operations { (operation_view(record, method, path, operation)) }
            }
        }
    }
}

fn operation_view(record: &InstanceRecord, method: &str, path: &str, operation: &Value) -> Markup {
    let summary = operation.get("summary").and_then(Value::as_str).unwrap_or("");
    let parameters = operation.get("parameters").and_then(Value::as_array).cloned().unwrap_or_default();
    let try_link = format!(
        "/instances/{}/api-docs?{}#try",
        record.id,
        url::form_urlencoded::Serializer::new(String::new())
            .append_pair("method", method)
            .append_pair("path", path)
            .finish()
    );
    html! {
        details.operation {
            summary { span class={ "method " (method.to_ascii_lowercase()) } { (method) } " " code { (path) } " " span.muted { (summary) } }
            @if let Some(description) = operation.get("description").and_then(Value::as_str) { p { (description) } }
            @if !parameters.is_empty() {
                table {
                    thead { tr { th scope="col" { "Parameter" } th scope="col" { "In" } th scope="col" { "About" } } }
                    tbody { @for parameter in &parameters { tr {
                        td { code { (parameter.get("name").and_then(Value::as_str).unwrap_or("")) } @if parameter.get("required").and_then(Value::as_bool) == Some(true) { " *" } }
                        td { (parameter.get("in").and_then(Value::as_str).unwrap_or("")) }
                        td { (parameter.get("description").and_then(Value::as_str).unwrap_or("")) }
                    } } }
                }
            }
            p { a href=(try_link) { "Try " (method) " " (path) } }
        }
    }
}
