//! `GET /common-resources`: the organization's common resources (SPEC "Common resources"), each
//! with its definition's fields and types and what maps it: the elements it has a transformation
//! for, and the instances that override it; `POST /common-resources` defines a new one. Each
//! resource's own page, with its editors, is [`super::resource_editor`].
//!
//! The documents are read from the store at every level at once, and written through the same
//! platform functions the API uses (`platform::common_resources`), so the console applies the
//! API's checks and shows its messages.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{html, Markup};
use platform::common_resources::{DefinitionLevel, ResourceError};
use serde_json::Value;
use store::{InstanceQuery, InstanceRecord, PutMode, ResourceDocument, ResourceKind, ResourceScope};

use super::form::FormFields;
use super::page::{describe, ConsoleError, Page, Section};
use super::session::Session;
use crate::error::ApiError;
use crate::state::AppState;

/// The instances whose own documents are read: the organization's first thousand (the store's
/// largest page); a console showing more would need paging, not a longer query.
const INSTANCES_READ: u32 = 1000;

/// What the example in the new-resource form holds.
const DEFINITION_EXAMPLE: &str = r#"{"fields": [
  {"path": "name.first", "type": "string"},
  {"path": "emails[0].value", "type": "string"},
  {"path": "born", "type": "date", "mask": "yyyy-MM-dd"}
]}"#;

/// Every common resource document of an organization, at every level, and its instances.
pub struct Documents {
    pub documents: Vec<ResourceDocument>,
    pub instances: Vec<InstanceRecord>,
}

impl Documents {
    /// Reads them all: the organization's definitions, each element's transformations, and the
    /// documents of its instances.
    pub async fn read(state: &AppState, session: &Session) -> Result<Documents, ConsoleError> {
        let organization = session.organization.id;
        let query = InstanceQuery { page_size: INSTANCES_READ, ..InstanceQuery::default() };
        let instances = state.platform.store.list_instances(organization, &query).await?.items;
        let mut scopes = vec![ResourceScope::Organization];
        scopes.extend(state.platform.catalog.keys().into_iter().map(|key| ResourceScope::Element(key.to_string())));
        scopes.extend(instances.iter().map(|instance| ResourceScope::Instance(instance.id)));
        let documents = state.platform.store.resources(organization, None, &scopes).await?;
        Ok(Documents { documents, instances })
    }

    /// The documents of resource `name` (names match ignoring ASCII case).
    pub fn named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a ResourceDocument> + 'a {
        self.documents.iter().filter(move |document| document.name.eq_ignore_ascii_case(name))
    }

    /// The resources' names, as first written, in order ignoring case.
    pub fn names(&self) -> Vec<&str> {
        let mut names: BTreeMap<String, &str> = BTreeMap::new();
        for document in &self.documents {
            names.entry(document.name.to_ascii_lowercase()).or_insert(&document.name);
        }
        names.into_values().collect()
    }

    /// Resource `name`'s document of `kind` at `scope`.
    pub fn at(&self, name: &str, kind: ResourceKind, scope: &ResourceScope) -> Option<&ResourceDocument> {
        self.documents.iter().find(|document| {
            document.kind == kind && document.scope == *scope && document.name.eq_ignore_ascii_case(name)
        })
    }

    /// The instance `id` among the organization's.
    pub fn instance(&self, id: store::InstanceId) -> Option<&InstanceRecord> {
        self.instances.iter().find(|instance| instance.id == id)
    }
}

pub async fn list(State(state): State<AppState>, session: Session) -> Response {
    let form = NewResource::default();
    render(&state, &session, &form, StatusCode::OK).await.unwrap_or_else(|error| error.page(&state, Some(&session)))
}

/// What the new-resource form holds, and what was wrong with it.
#[derive(Debug, Default)]
struct NewResource {
    name: String,
    definition: String,
    problem: Option<String>,
}

/// `POST /common-resources`: defines resource `name` (never replacing one: its page edits it).
pub async fn create(State(state): State<AppState>, session: Session, form: FormFields) -> Response {
    let result = async {
        form.check_csrf(&session)?;
        let mut submitted = NewResource {
            name: form.get("name").to_string(),
            // The text as typed, untrimmed, so that it comes back exactly.
            definition: form
                .0
                .iter()
                .find(|(key, _)| key == "definition")
                .map(|(_, text)| text.clone())
                .unwrap_or_default(),
            problem: None,
        };
        let saved = match parse_json(&submitted.definition) {
            Ok(body) => state
                .platform
                .put_definition(
                    session.organization.id,
                    DefinitionLevel::Organization,
                    &submitted.name,
                    body,
                    PutMode::Create,
                )
                .await
                .map_err(|error| refusal(error, &submitted.name)),
            Err(problem) => Err((StatusCode::BAD_REQUEST, problem)),
        };
        match saved {
            Ok(_) => Ok(Redirect::to(&format!("{}?done=definition", resource_path(&submitted.name))).into_response()),
            Err((status, problem)) => {
                submitted.problem = Some(problem);
                render(&state, &session, &submitted, status).await
            }
        }
    };
    result.await.unwrap_or_else(|error| error.page(&state, Some(&session)))
}

/// A document's text as JSON, or what is wrong with it.
pub fn parse_json(text: &str) -> Result<Value, String> {
    if text.trim().is_empty() {
        return Err("Write the document as JSON first.".into());
    }
    serde_json::from_str(text).map_err(|error| format!("The document is not valid JSON: {error}."))
}

/// A refused save in the console's words: its status and message (a name taken is not "use PUT").
pub fn refusal(error: ResourceError, name: &str) -> (StatusCode, String) {
    if let ResourceError::Conflict(_) = error {
        let text = format!("A common resource named {name} exists already: open it from the list to edit it.");
        return (StatusCode::CONFLICT, text);
    }
    let error = ApiError::from(error);
    (error.status(), describe(&error))
}

/// The console page of resource `name`.
pub fn resource_path(name: &str) -> String {
    format!("/common-resources/{}", url::form_urlencoded::byte_serialize(name.as_bytes()).collect::<String>())
}

async fn render(
    state: &AppState,
    session: &Session,
    form: &NewResource,
    status: StatusCode,
) -> Result<Response, ConsoleError> {
    let documents = Documents::read(state, session).await?;
    let names = documents.names();
    let body = html! {
        h1 { "Common resources" }
        p.muted {
            "Your organization's own object shapes, mapped onto each element's objects. An instance then reads and \
             writes them at " code { "/hubs/{hub}/{name}" } " in that shape, whatever the element calls its fields."
        }
        @if names.is_empty() {
            div.empty { p { "No common resource yet. Define one below, then map it onto an element's object." } }
        }
        @for name in &names { (resource_panel(state, &documents, name)) }
        (new_resource_form(session, form))
    };
    let page = Page {
        title: "Common resources",
        section: Section::CommonResources,
        session: Some(session),
        notice: None,
        body,
    };
    Ok(page.respond(state, status))
}

fn resource_panel(state: &AppState, documents: &Documents, name: &str) -> Markup {
    let definition = documents.at(name, ResourceKind::Definition, &ResourceScope::Organization);
    let elements: Vec<(String, String)> = documents
        .named(name)
        .filter(|document| document.kind == ResourceKind::Transformation)
        .filter_map(|document| match &document.scope {
            ResourceScope::Element(key) => {
                let element = state
                    .platform
                    .catalog
                    .get(key)
                    .map_or_else(|| key.clone(), |element| format!("{} ({} hub)", element.name, element.hub));
                let vendor = document.document.get("vendorName").and_then(Value::as_str).unwrap_or("?");
                Some((element, vendor.to_string()))
            }
            _ => None,
        })
        .collect();
    let overrides: Vec<(&InstanceRecord, &'static str)> = documents
        .named(name)
        .filter_map(|document| match document.scope {
            ResourceScope::Instance(id) => documents.instance(id).map(|instance| (instance, kind_name(document.kind))),
            _ => None,
        })
        .collect();
    let anchor = format!("resource-{}", name.to_ascii_lowercase());
    html! {
        section.panel aria-labelledby=(anchor) data-resource=(name) {
            h2 id=(anchor) { a href=(resource_path(name)) { (name) } }
            @match definition {
                Some(definition) => (fields_table(&definition.document)),
                None => p.warning { "No organization-level definition: only instances define it." },
            }
            dl.facts {
                dt { "Mapped for elements" }
                dd {
                    @if elements.is_empty() { span.muted { "none yet: open it to map it onto an element's object" } }
                    @for (i, (element, vendor)) in elements.iter().enumerate() {
                        @if i > 0 { ", " } (element) ": " code { (vendor) }
                    }
                }
                dt { "Instance overrides" }
                dd {
                    @if overrides.is_empty() { span.muted { "none" } }
                    @for (i, (instance, kind)) in overrides.iter().enumerate() {
                        @if i > 0 { ", " }
                        a href={ "/instances/" (instance.id) "/mappings/" (name) } { (instance.name) } " (" (kind) ")"
                    }
                }
            }
        }
    }
}

fn kind_name(kind: ResourceKind) -> &'static str {
    match kind {
        ResourceKind::Definition => "definition",
        ResourceKind::Transformation => "transformation",
    }
}

/// A definition's fields: path, type, mask.
pub fn fields_table(definition: &Value) -> Markup {
    let fields = definition.get("fields").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
    let text = |field: &Value, key: &str| field.get(key).and_then(Value::as_str).unwrap_or("").to_string();
    html! {
        div.table-wrap { table {
            thead { tr { th scope="col" { "Field" } th scope="col" { "Type" } th scope="col" { "Format" } } }
            tbody { @for field in fields { tr {
                td { code { (text(field, "path")) } }
                td { (text(field, "type")) }
                td { @match field.get("mask").and_then(Value::as_str) { Some(mask) => code { (mask) }, None => span.muted { "—" } } }
            } } }
        } }
    }
}

fn new_resource_form(session: &Session, form: &NewResource) -> Markup {
    let invalid = form.problem.is_some().then_some("true");
    html! {
        section.panel #new aria-labelledby="new-title" {
            h2 #new-title { "Define a common resource" }
            form.stack method="post" action="/common-resources" {
                input type="hidden" name="csrf" value=(session.csrf);
                div.field {
                    label for="new-name" { "Name" }
                    input #new-name type="text" name="name" value=(form.name) required maxlength="64"
                        aria-describedby="new-name-help" aria-invalid=[invalid];
                    p.help #new-name-help { "A letter, then letters, digits, _ or -; not an element object's name (contacts)." }
                }
                div.field {
                    label for="new-definition" { "Definition (JSON)" }
                    textarea #new-definition name="definition" rows="8" spellcheck="false" placeholder=(DEFINITION_EXAMPLE)
                        aria-describedby="new-definition-problem" aria-invalid=[invalid] { (form.definition) }
                    @if let Some(problem) = &form.problem { p.problem #new-definition-problem role="alert" { (problem) } }
                }
                button.primary type="submit" { "Define" }
            }
        }
    }
}
