//! `GET /common-resources/{name}`: one common resource's page, with a JSON editor for its
//! organization-level definition and one for its transformation onto each element's object;
//! `POST /common-resources/{name}/definition` and `POST
//! /common-resources/{name}/transformations/{element}` save them (create or replace) through the
//! platform functions the API uses. A refused save answers the page again with the text as it was
//! submitted and the API's message beside it: nothing typed is lost.

use std::collections::BTreeMap;

use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{html, Markup};
use platform::common_resources::{DefinitionLevel, TransformationLevel};
use serde::Deserialize;
use serde_json::Value;
use store::{PutMode, ResourceKind, ResourceScope};

use super::common_resources::{fields_table, parse_json, refusal, resource_path, Documents};
use super::form::FormFields;
use super::page::{ConsoleError, Notice, Page, Section};
use super::session::Session;
use crate::path_param::PathParam;
use crate::state::AppState;

/// What a transformation editor offers when the element has none yet.
const TRANSFORMATION_EXAMPLE: &str = r#"{"vendorName": "contacts", "fields": [
  {"path": "name.first", "vendorPath": "FirstName"},
  {"path": "emails[0].value", "vendorPath": "Email"}
]}"#;

/// Which editor a save came from.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Editor {
    Definition,
    /// The transformation onto this element (its key).
    Transformation(String),
}

/// An editor's text, and why its last save was refused.
#[derive(Debug, Default, Clone)]
struct Text {
    text: String,
    problem: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct DoneQuery {
    done: Option<String>,
}

/// What a finished save left to say (fixed texts: nothing from the URL is echoed).
fn done_notice(query: &DoneQuery) -> Option<Notice> {
    match query.done.as_deref()? {
        "definition" => Some(Notice::Success("Definition saved.".into())),
        "transformation" => Some(Notice::Success("Transformation saved.".into())),
        _ => None,
    }
}

pub async fn page(
    State(state): State<AppState>,
    session: Session,
    PathParam(name): PathParam<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    let notice = done_notice(&super::form::query(raw.as_deref()));
    let result = async {
        let documents = Documents::read(&state, &session).await?;
        if documents.named(&name).next().is_none() {
            return Err(no_resource());
        }
        render(&state, &session, &documents, &name, None, notice, StatusCode::OK)
    };
    result.await.unwrap_or_else(|error| error.page(&state, Some(&session)))
}

fn no_resource() -> ConsoleError {
    ConsoleError::new(
        StatusCode::NOT_FOUND,
        "No such common resource",
        "This organization has no common resource by that name.",
    )
    .next(html! { a href="/common-resources" { "See your common resources" } })
}

/// `POST /common-resources/{name}/definition`.
pub async fn save_definition(
    State(state): State<AppState>,
    session: Session,
    PathParam(name): PathParam<String>,
    form: FormFields,
) -> Response {
    save(state, session, name, Editor::Definition, form).await
}

/// `POST /common-resources/{name}/transformations/{element}`.
pub async fn save_transformation(
    State(state): State<AppState>,
    session: Session,
    PathParam((name, element)): PathParam<(String, String)>,
    form: FormFields,
) -> Response {
    save(state, session, name, Editor::Transformation(element), form).await
}

async fn save(state: AppState, session: Session, name: String, editor: Editor, form: FormFields) -> Response {
    let result = async {
        form.check_csrf(&session)?;
        if let Editor::Transformation(key) = &editor {
            if state.platform.catalog.get(key).is_none() {
                return Err(ConsoleError::new(
                    StatusCode::NOT_FOUND,
                    "No such element",
                    "The catalog has no element with that key.",
                ));
            }
        }
        // The text as typed, untrimmed, so that a refused save shows it back exactly.
        let text = form.0.iter().find(|(key, _)| key == "document").map(|(_, text)| text.clone()).unwrap_or_default();
        let organization = session.organization.id;
        let saved = match parse_json(&text) {
            Err(problem) => Err((StatusCode::BAD_REQUEST, problem)),
            Ok(body) => match &editor {
                Editor::Definition => {
                    let level = DefinitionLevel::Organization;
                    state.platform.put_definition(organization, level, &name, body, PutMode::Upsert).await
                }
                Editor::Transformation(key) => {
                    let level = TransformationLevel::Element(key);
                    state.platform.put_transformation(organization, level, &name, body, PutMode::Upsert).await
                }
            }
            .map_err(|error| refusal(error, &name)),
        };
        let (status, problem) = match saved {
            Ok(_) => {
                let done = match editor {
                    Editor::Definition => "definition",
                    Editor::Transformation(_) => "transformation",
                };
                return Ok(Redirect::to(&format!("{}?done={done}", resource_path(&name))).into_response());
            }
            Err(refused) => refused,
        };
        let documents = Documents::read(&state, &session).await?;
        let submitted = (editor, Text { text, problem: Some(problem) });
        render(&state, &session, &documents, &name, Some(submitted), None, status)
    };
    result.await.unwrap_or_else(|error| error.page(&state, Some(&session)))
}

/// The page of resource `name`: every editor holds the stored document, except `submitted`'s,
/// which holds what was sent and why it was refused.
fn render(
    state: &AppState,
    session: &Session,
    documents: &Documents,
    name: &str,
    submitted: Option<(Editor, Text)>,
    notice: Option<Notice>,
    status: StatusCode,
) -> Result<Response, ConsoleError> {
    let stored = |kind, scope: &ResourceScope| {
        let document = documents.at(name, kind, scope).map(|document| pretty(&document.document));
        Text { text: document.unwrap_or_default(), problem: None }
    };
    let shown = |editor: Editor, stored: Text| match &submitted {
        Some((which, text)) if *which == editor => text.clone(),
        _ => stored,
    };
    let definition = shown(Editor::Definition, stored(ResourceKind::Definition, &ResourceScope::Organization));
    let elements: Vec<_> =
        state.platform.catalog.list().iter().filter(|element| element.active && !element.deleted).collect();
    let transformations: BTreeMap<&str, Text> = elements
        .iter()
        .map(|element| {
            let scope = ResourceScope::Element(element.key.clone());
            let text = shown(Editor::Transformation(element.key.clone()), stored(ResourceKind::Transformation, &scope));
            (element.key.as_str(), text)
        })
        .collect();
    let shown_name = documents.named(name).next().map_or(name, |document| document.name.as_str());
    let stored_definition = documents.at(name, ResourceKind::Definition, &ResourceScope::Organization);
    let base = resource_path(shown_name);
    let body = html! {
        p.crumbs { a href="/common-resources" { "Common resources" } " / " (shown_name) }
        h1 { (shown_name) }
        p.muted {
            "Saved with the API's own checks: a definition must keep every transformation of it working, and a \
             transformation must fit its element's object."
        }
        @if let Some(definition) = stored_definition { (fields_table(&definition.document)) }
        (editor(session, &format!("{base}/definition"), "definition", "Definition", "Save definition", &definition, None))
        @for element in &elements {
            @let text = &transformations[element.key.as_str()];
            (editor(
                session,
                &format!("{base}/transformations/{}", element.key),
                &format!("transformation-{}", element.key),
                &format!("Transformation onto {} ({} hub)", element.name, element.hub),
                "Save transformation",
                text,
                Some(TRANSFORMATION_EXAMPLE),
            ))
        }
        (instances(documents, shown_name))
    };
    let page = Page { title: shown_name, section: Section::CommonResources, session: Some(session), notice, body };
    Ok(page.respond(state, status))
}

/// One JSON editor: a form posting `document` to `action`, its button saying `save`.
fn editor(
    session: &Session,
    action: &str,
    id: &str,
    title: &str,
    save: &str,
    text: &Text,
    example: Option<&str>,
) -> Markup {
    let invalid = text.problem.is_some().then_some("true");
    let title_id = format!("{id}-title");
    let problem_id = format!("{id}-problem");
    html! {
        section.panel aria-labelledby=(title_id) {
            h2 id=(title_id) { (title) }
            form.stack method="post" action=(action) {
                input type="hidden" name="csrf" value=(session.csrf);
                div.field {
                    label for=(id) { (title) " (JSON)" }
                    textarea id=(id) name="document" rows="12" spellcheck="false" placeholder=[example]
                        aria-invalid=[invalid] aria-describedby=(problem_id) { (text.text) }
                    @if let Some(problem) = &text.problem { p.problem id=(problem_id) role="alert" { (problem) } }
                }
                button.primary type="submit" { (save) }
            }
        }
    }
}

/// The instances the resource applies to (their element has a transformation of it, or they have
/// their own documents of it), each with the way to its mapping view.
fn instances(documents: &Documents, name: &str) -> Markup {
    let own = |instance: &store::InstanceRecord| -> Vec<&'static str> {
        documents
            .named(name)
            .filter(|document| document.scope == ResourceScope::Instance(instance.id))
            .map(|document| if document.kind == ResourceKind::Definition { "definition" } else { "transformation" })
            .collect()
    };
    let mapped = |instance: &store::InstanceRecord| {
        let scope = ResourceScope::Element(instance.element_key.clone());
        documents.at(name, ResourceKind::Transformation, &scope).is_some() || !own(instance).is_empty()
    };
    let applies: Vec<&store::InstanceRecord> = documents.instances.iter().filter(|instance| mapped(instance)).collect();
    html! {
        section.panel aria-labelledby="instances-title" {
            h2 #instances-title { "Instances" }
            @if applies.is_empty() {
                p.muted { "No instance can call it yet: map it onto an element above, then authenticate that element." }
            } @else {
                p.muted { "Each instance's mapping view shows its fields side by side with a record read through it." }
                ul {
                    @for instance in &applies {
                        li {
                            a href={ "/instances/" (instance.id) "/mappings/" (name) } { (instance.name) }
                            @for kind in own(instance) { " " span.badge { "own " (kind) } }
                        }
                    }
                }
            }
        }
    }
}

/// A stored document as people edit it: indented JSON.
fn pretty(document: &Value) -> String {
    serde_json::to_string_pretty(document).unwrap_or_else(|_| document.to_string())
}
