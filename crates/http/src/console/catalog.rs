//! The element catalog: `GET /` (a card per element) and `GET /catalog/{key}` (what an element
//! needs, which hub objects it serves, which events it supports).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use domain::elements::Element;
use mapping::ObjectCatalog;
use maud::{html, Markup};

use super::page::{ConsoleError, Page, Section};
use super::session::Session;
use crate::path_param::PathParam;
use crate::state::AppState;

pub async fn catalog(State(state): State<AppState>, session: Session) -> Response {
    let body = html! {
        h1 { "Catalog" }
        p.muted { "Connect an Infusionsoft account: choose the hub your application speaks, then Authenticate." }
        ul.cards {
            @for element in state.platform.catalog.list().iter().filter(|element| element.active && !element.deleted) {
                li.card data-element=(element.key) { (card(element)) }
            }
        }
    };
    Page { title: "Catalog", section: Section::Catalog, session: Some(&session), notice: None, body }
        .respond(&state, StatusCode::OK)
}

fn card(element: &Element) -> Markup {
    html! {
        div.card-head {
            img src="/assets/logo-infusionsoft.svg" alt="" width="40" height="40";
            div {
                h2 { (element.name) }
                span.badge { "Hub: " (element.hub) }
            }
        }
        p { (first_sentence(&element.description)) }
        div.actions {
            a.button.primary href={ "/catalog/" (element.key) "/authenticate" } aria-label={ "Authenticate " (element.name) " (" (element.hub) " hub)" } { "Authenticate" }
            a.button href={ "/catalog/" (element.key) } aria-label={ (element.name) " (" (element.hub) " hub) details" } { "Details" }
        }
    }
}

/// The description's first sentence: the cards stay short.
fn first_sentence(text: &str) -> &str {
    text.find(". ").map_or(text, |end| &text[..=end])
}

pub async fn details(State(state): State<AppState>, session: Session, PathParam(key): PathParam<String>) -> Response {
    let Some(element) = state.platform.catalog.get(&key) else {
        return ConsoleError::new(
            StatusCode::NOT_FOUND,
            "No such element",
            "The catalog has no element with that key.",
        )
        .page(&state, Some(&session));
    };
    let objects: Vec<(&str, &mapping::ObjectDef)> = ObjectCatalog::builtin().objects(&element.key).collect();
    let settings = element.configuration.iter().filter(|entry| !entry.hide_from_console);
    let body = html! {
        p.crumbs { a href="/" { "Catalog" } " / " (element.name) }
        h1 { (element.name) }
        p { (element.description) }
        p { a.button.primary href={ "/catalog/" (element.key) "/authenticate" } { "Authenticate" } }
        h2 { "Configuration" }
        table {
            thead { tr { th scope="col" { "Setting" } th scope="col" { "Key" } th scope="col" { "Required" } th scope="col" { "About" } } }
            tbody {
                @for entry in settings {
                    tr {
                        td { (entry.name) }
                        td { code { (entry.key) } }
                        td { @if entry.required { "yes" } @else { "no" } }
                        td { (entry.description) }
                    }
                }
            }
        }
        h2 { "Resources" }
        p.muted { "Objects of the " (element.hub) " hub, under " code { "/hubs/" (element.hub) "/" } "." }
        ul.chips {
            @for (name, object) in &objects {
                li { code { (name) } span.muted { " " (operations(object)) } }
            }
        }
        h2 { "Events" }
        @if element.events.supported {
            p { "Supported, by " (element.events.methods.join(" or ")) "." }
            p.muted { "Objects polled: " (element.events.polling.keys().cloned().collect::<Vec<_>>().join(", ")) }
        } @else {
            p { "This element does not report change events." }
        }
    };
    Page { title: &element.name, section: Section::Catalog, session: Some(&session), notice: None, body }
        .respond(&state, StatusCode::OK)
}

fn operations(object: &mapping::ObjectDef) -> String {
    let names: Vec<String> =
        object.operations.iter().map(|operation| format!("{operation:?}").to_ascii_lowercase()).collect();
    format!("({})", names.join(", "))
}
