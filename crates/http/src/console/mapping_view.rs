//! `GET /instances/{id}/mappings/{name}`: how one common resource maps for one instance, as the
//! hub runs it (the composed `CommonObject`, with the instance's own documents over its
//! organization's): each common field beside the element field or vendor path it reads, its
//! conversion, whether a `where` on it is pushed down to the vendor, whether records show it and
//! writes may set it; and a preview: one real record read through the hub engine, shown as the
//! element object's record and as the common record.
//!
//! Also the instance page's panel listing the resources an instance can call ([`panel`]).

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use connector::rate_limit::Priority;
use hub::{ListParams, Target};
use mapping::common::{CommonObject, CommonObjects};
use mapping::{FieldDef, FieldType, ObjectCatalog, ObjectDef, Operation};
use maud::{html, Markup};
use serde_json::Value;
use store::InstanceRecord;

use super::common_resources::resource_path;
use super::instances::owned_instance;
use super::page::{describe, ConsoleError, Page, Section};
use super::session::Session;
use crate::error::ApiError;
use crate::path_param::PathParam;
use crate::state::AppState;

pub async fn page(
    State(state): State<AppState>,
    session: Session,
    PathParam((id, name)): PathParam<(String, String)>,
) -> Response {
    let result = async {
        let record = owned_instance(&state, &session, &id).await?;
        let common = state.platform.common_objects(&record).await?;
        let Some(object) = common.get(&name).cloned() else {
            return Err(unavailable(&record, &common, &name));
        };
        let element =
            ObjectCatalog::builtin().object(&record.element_key, &object.vendor_name).map(|(_, object)| object);
        let preview = preview(&state, &record, Arc::clone(&common), &object).await;
        let body = html! {
            p.crumbs {
                a href="/instances" { "Instances" } " / " a href={ "/instances/" (record.id) } { (record.name) }
                " / " (object.name)
            }
            h1 { (object.name) " on " (record.name) }
            p.muted {
                "The common resource " a href=(resource_path(&object.name)) { (object.name) } " over this instance's "
                code { (object.vendor_name) } ", as its hub calls run it (" code { "/hubs/…/" (object.name) } "), with the "
                "instance's own documents over the organization's."
            }
            (fields(&object, element))
            (preview_view(&object, &preview))
        };
        let page =
            Page { title: &object.name, section: Section::Instances, session: Some(&session), notice: None, body };
        Ok(page.respond(&state, StatusCode::OK))
    };
    result.await.unwrap_or_else(|error: ConsoleError| error.page(&state, Some(&session)))
}

/// A 404 for a name the instance has no resource by, or a 409 saying why the organization's
/// resource cannot be composed for it.
fn unavailable(record: &InstanceRecord, common: &CommonObjects, name: &str) -> ConsoleError {
    let back = html! { a href={ "/instances/" (record.id) } { "Back to the instance" } };
    match common.problems().iter().find(|(broken, _)| broken.eq_ignore_ascii_case(name)) {
        Some((_, problem)) => ConsoleError::new(
            StatusCode::CONFLICT,
            "This common resource cannot be used here",
            format!("Its documents do not compose for this instance: {problem}"),
        )
        .next(back),
        None => ConsoleError::new(
            StatusCode::NOT_FOUND,
            "No such common resource",
            "This instance has no common resource by that name (is it mapped onto its element?).",
        )
        .next(back),
    }
}

/// The fields side by side: common name and type, what it reads at the vendor, the conversion.
fn fields(object: &CommonObject, element: Option<&ObjectDef>) -> Markup {
    html! {
        section.panel aria-labelledby="fields-title" {
            h2 #fields-title { "Fields" }
            div.table-wrap { table.mapping {
                thead { tr {
                    th scope="col" { "Common field" } th scope="col" { "Type" } th scope="col" { "Reads" }
                    th scope="col" { "Vendor type" } th scope="col" { "Conversion" } th scope="col" { "Where" }
                    th scope="col" { "Records" } th scope="col" { "Writes" }
                } }
                tbody { @for field in &object.definition.fields { (field_row(object, element, field)) } }
            } }
        }
    }
}

fn field_row(object: &CommonObject, element: Option<&ObjectDef>, field: &FieldDef) -> Markup {
    let source = element.and_then(|element| element.fields.iter().find(|source| source.path == field.path));
    let vendor_type = field.conversion.as_ref().map_or(field.field_type, |conversion| conversion.hub_type);
    html! {
        tr data-field=(field.name) {
            th scope="row" { code { (field.name) } @if field.name == object.definition.id_field { " " span.badge { "id" } } }
            td { (type_name(field.field_type)) }
            td {
                @match source {
                    Some(source) => { "element field " code { (source.name) } br; span.muted { "vendor " code { (field.path) } } },
                    None => { "vendor path " code { (field.path) } },
                }
            }
            td { (type_name(vendor_type)) }
            td { (conversion(field)) }
            td {
                @if field.filters.is_empty() { span.muted { "evaluated by Junction" } }
                @else { span.badge.ok { "pushed down" } }
            }
            td { @if object.shows(&field.name) { "shown" } @else { span.muted { "hidden" } } }
            td { @if field.writable && object.takes(&field.name) { "written" } @else { span.muted { "read-only" } } }
        }
    }
}

fn type_name(field_type: FieldType) -> &'static str {
    match field_type {
        FieldType::String => "string",
        FieldType::Number => "number",
        FieldType::Boolean => "boolean",
        FieldType::Date => "date",
    }
}

/// How a value changes between the vendor and the common record.
fn conversion(field: &FieldDef) -> Markup {
    let Some(conversion) = &field.conversion else {
        return html! { span.muted { "as is" } };
    };
    let format = |format: &Option<mapping::DateFormat>| format.as_ref().map(|format| format!(" ({format})"));
    html! {
        (type_name(conversion.hub_type)) (format(&conversion.hub_format).unwrap_or_default())
        " → " (type_name(field.field_type)) (format(&conversion.format).unwrap_or_default())
    }
}

/// One record read through the mapping: the element object's record and the common record.
#[derive(Debug)]
enum Preview {
    Record { vendor: Value, common: Value },
    Empty,
    Unavailable(String),
}

/// Reads the first record of `object` (`pageSize=1`) through the hub engine as the instance, and
/// the same record of the element's object (by its id; else that object's first record too).
async fn preview(
    state: &AppState,
    record: &InstanceRecord,
    common: Arc<CommonObjects>,
    object: &CommonObject,
) -> Preview {
    if record.disabled {
        return Preview::Unavailable(
            "The instance is disabled: enable it to read a record through the mapping.".into(),
        );
    }
    let call = state.platform.instance_call(record).with_common(common);
    let session = call.session(Priority::Interactive, None);
    let first = ListParams { page_size: Some("1".into()), ..ListParams::default() };
    let hub = &state.platform.hub;
    let failed = |error: hub::HubError| Preview::Unavailable(describe(&ApiError::from(error)));
    let common_record = match hub.list(&session, Target::Object(&object.name), &first).await {
        Ok(page) => page.records.into_iter().next(),
        Err(error) => return failed(error),
    };
    let Some(common_record) = common_record else { return Preview::Empty };
    let id = match common_record.get(hub::shape::GENERIC_ID) {
        Some(Value::Number(id)) => Some(id.to_string()),
        Some(Value::String(id)) => Some(id.clone()),
        _ => None,
    };
    let readable = object.definition.allows(Operation::Get);
    let vendor = match id.filter(|_| readable) {
        Some(id) => hub.get(&session, Target::Object(&object.vendor_name), &id).await,
        None => hub
            .list(&session, Target::Object(&object.vendor_name), &first)
            .await
            .map(|page| page.records.into_iter().next().unwrap_or(Value::Null)),
    };
    match vendor {
        Ok(vendor) => Preview::Record { vendor, common: common_record },
        Err(error) => failed(error),
    }
}

fn preview_view(object: &CommonObject, preview: &Preview) -> Markup {
    html! {
        section.panel #preview aria-labelledby="preview-title" {
            h2 #preview-title { "Preview" }
            @match preview {
                Preview::Record { vendor, common } => {
                    p.muted { "The first record, read now through the mapping (one call to the vendor per side)." }
                    div.inline {
                        div.grow {
                            h3 { "Element object " code { (object.vendor_name) } }
                            pre #preview-vendor tabindex="0" { (pretty(vendor)) }
                        }
                        div.grow {
                            h3 { "Common record " code { (object.name) } }
                            pre #preview-common tabindex="0" { (pretty(common)) }
                        }
                    }
                }
                Preview::Empty => p.muted { "The vendor has no " code { (object.vendor_name) } " record to show." },
                Preview::Unavailable(problem) => p.warning role="alert" { "No preview: " (problem) },
            }
        }
    }
}

fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string())
}

/// The instance page's list of the common resources it can call, each linking to its mapping
/// view, and those its organization's documents do not compose for, with why.
pub async fn panel(state: &AppState, record: &InstanceRecord) -> Markup {
    let common = match state.platform.common_objects(record).await {
        Ok(common) => common,
        Err(error) => {
            return html! {
                section.panel aria-labelledby="common-title" {
                    h2 #common-title { "Common resources" }
                    p.warning { (describe(&ApiError::from(error))) }
                }
            };
        }
    };
    html! {
        section.panel aria-labelledby="common-title" {
            h2 #common-title { "Common resources" }
            @if common.is_empty() && common.problems().is_empty() {
                p.muted { "None mapped onto this instance's element yet. " a href="/common-resources" { "Define one" } "." }
            }
            ul {
                @for object in common.iter() {
                    li {
                        a href={ "/instances/" (record.id) "/mappings/" (object.name) } { (object.name) }
                        span.muted { " over " code { (object.vendor_name) } }
                    }
                }
                @for (name, problem) in common.problems() {
                    li { code { (name) } " " span.badge.bad { "unavailable" } " " span.muted { (problem) } }
                }
            }
        }
    }
}
