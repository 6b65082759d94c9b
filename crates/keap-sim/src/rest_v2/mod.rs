//! REST API v2 (`/crm/rest/v2/...`): routes for contacts, companies, opportunities (+ stages), tags
//! (+ applying them to contacts), notes, tasks, users, products, orders (+ items, payments),
//! subscriptions, campaigns and sales transactions, each wired to the generic handlers through its
//! [`resources::Resource`].

pub mod builders;
pub mod handlers;
mod orders;
pub mod query;
pub mod request_bodies;
pub mod resources;
mod tagging;

use crate::errors::ApiError;
use crate::gateway::Caller;
use crate::http_util::{json_object, QueryParams};
use crate::state::Sim;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, MethodRouter};
use axum::{Extension, Json, Router};
use handlers::Scope;
use resources::*;
use serde_json::{Map, Value};
use std::sync::Arc;

type Result<T> = std::result::Result<T, ApiError>;

/// The v2 router (mounted under `/crm/rest/v2`, behind the gateway).
pub fn router() -> Router<Arc<Sim>> {
    let mut router = Router::new();
    for (path, resource) in [
        ("/contacts", &CONTACTS),
        ("/companies", &COMPANIES),
        ("/opportunities", &OPPORTUNITIES),
        ("/opportunities/stages", &STAGES),
        ("/tags", &TAGS),
        ("/tasks", &TASKS),
        ("/users", &USERS),
        ("/products", &PRODUCTS),
        ("/orders", &ORDERS),
        ("/subscriptions", &SUBSCRIPTIONS),
        ("/campaigns", &CAMPAIGNS),
    ] {
        router = router.route(path, collection(resource)).route(&format!("{path}/{{id}}"), item(resource));
    }
    router
        .route("/notes", get(all_notes))
        .route("/contacts/{id}/notes", scoped_collection(&NOTES, "contact_id", &CONTACTS))
        .route("/contacts/{id}/notes/{item_id}", scoped_item(&NOTES, "contact_id"))
        .route("/contacts/{id}/tags", get(tagging::tags_of_contact))
        .route("/tags/{id}/contacts", get(tagging::contacts_with_tag))
        .route("/tags/{id}/contacts:applyTags", axum::routing::post(tagging::apply))
        .route("/tags/{id}/contacts:removeTags", axum::routing::post(tagging::remove))
        .route("/orders/{id}/items", axum::routing::post(orders::add_item))
        .route("/orders/{id}/items/{item_id}", get(orders::get_item).delete(orders::delete_item))
        .route("/orders/{id}/payments", get(orders::list_payments).post(orders::add_payment))
        // No item route: the vendor's API cannot fetch one transaction, and they have no id.
        .route("/sales/transactions", collection(&TRANSACTIONS))
}

/// List and create on a top-level collection.
fn collection(resource: &'static Resource) -> MethodRouter<Arc<Sim>> {
    let lister = move |State(sim): State<Arc<Sim>>, Extension(caller): Extension<Caller>, params: QueryParams| async move {
        list_response(&sim, &caller, resource, None, &params)
    };
    let creator = move |State(sim): State<Arc<Sim>>,
                        Extension(caller): Extension<Caller>,
                        params: QueryParams,
                        headers: HeaderMap,
                        body: Body| async move {
        create_response(&sim, &caller, resource, None, &params, &headers, body).await
    };
    get(lister).post(creator)
}

/// Get, update and delete on one record of a top-level collection. `POST /{id}:action` forms
/// (`/products/{id}:adjustInventory`) arrive here too, since the id segment carries the action.
fn item(resource: &'static Resource) -> MethodRouter<Arc<Sim>> {
    let getter = move |State(sim): State<Arc<Sim>>,
                       Extension(caller): Extension<Caller>,
                       Path(id): Path<String>,
                       params: QueryParams| async move {
        handlers::with_account(&sim, &caller.0.account, |a| handlers::get(a, resource, None, &id, &params)).map(Json)
    };
    let patcher = move |State(sim): State<Arc<Sim>>,
                        Extension(caller): Extension<Caller>,
                        Path(id): Path<String>,
                        params: QueryParams,
                        headers: HeaderMap,
                        body: Body| async move {
        update_response(&sim, &caller, resource, None, &id, &params, &headers, body).await
    };
    let deleter = move |State(sim): State<Arc<Sim>>, Extension(caller): Extension<Caller>, Path(id): Path<String>| async move {
        delete_response(&sim, &caller, resource, None, &id)
    };
    let action = move |State(sim): State<Arc<Sim>>,
                       Extension(caller): Extension<Caller>,
                       Path(id): Path<String>,
                       headers: HeaderMap,
                       body: Body| async move {
        match (resource.collection, id.split_once(':')) {
            ("products", Some((product, "adjustInventory"))) => {
                orders::adjust_inventory(&sim, &caller, product, &headers, body).await
            }
            _ => Err(ApiError::method_not_allowed()),
        }
    };
    get(getter).patch(patcher).delete(deleter).post(action)
}

/// List and create on the children of a parent record (which must exist).
fn scoped_collection(
    resource: &'static Resource,
    field: &'static str,
    parent: &'static Resource,
) -> MethodRouter<Arc<Sim>> {
    let lister = move |State(sim): State<Arc<Sim>>,
                       Extension(caller): Extension<Caller>,
                       Path(parent_id): Path<String>,
                       params: QueryParams| async move {
        let scope = parent_scope(&sim, &caller, parent, field, &parent_id)?;
        list_response(&sim, &caller, resource, Some(scope), &params)
    };
    let creator = move |State(sim): State<Arc<Sim>>,
                        Extension(caller): Extension<Caller>,
                        Path(parent_id): Path<String>,
                        params: QueryParams,
                        headers: HeaderMap,
                        body: Body| async move {
        let scope = parent_scope(&sim, &caller, parent, field, &parent_id)?;
        create_response(&sim, &caller, resource, Some(scope), &params, &headers, body).await
    };
    get(lister).post(creator)
}

fn scoped_item(resource: &'static Resource, field: &'static str) -> MethodRouter<Arc<Sim>> {
    let scope_of = move |parent: &str| -> Result<Scope> {
        let id = crate::records::parse_id(parent)
            .ok_or_else(|| ApiError::bad_request(format!("Invalid {field}: {parent}")))?;
        Ok(Scope { field, id })
    };
    let getter = move |State(sim): State<Arc<Sim>>,
                       Extension(caller): Extension<Caller>,
                       Path((parent, id)): Path<(String, String)>,
                       params: QueryParams| async move {
        let scope = scope_of(&parent)?;
        handlers::with_account(&sim, &caller.0.account, |a| handlers::get(a, resource, Some(scope), &id, &params))
            .map(Json)
    };
    let patcher = move |State(sim): State<Arc<Sim>>,
                        Extension(caller): Extension<Caller>,
                        Path((parent, id)): Path<(String, String)>,
                        params: QueryParams,
                        headers: HeaderMap,
                        body: Body| async move {
        let scope = scope_of(&parent)?;
        update_response(&sim, &caller, resource, Some(scope), &id, &params, &headers, body).await
    };
    let deleter = move |State(sim): State<Arc<Sim>>,
                        Extension(caller): Extension<Caller>,
                        Path((parent, id)): Path<(String, String)>| async move {
        let scope = scope_of(&parent)?;
        delete_response(&sim, &caller, resource, Some(scope), &id)
    };
    get(getter).patch(patcher).delete(deleter)
}

/// `GET /notes`: every note of the account.
async fn all_notes(
    State(sim): State<Arc<Sim>>,
    Extension(caller): Extension<Caller>,
    params: QueryParams,
) -> Result<Response> {
    list_response(&sim, &caller, &NOTES, None, &params)
}

fn parent_scope(sim: &Sim, caller: &Caller, parent: &Resource, field: &'static str, raw: &str) -> Result<Scope> {
    let id = crate::records::parse_id(raw).ok_or_else(|| ApiError::bad_request(format!("Invalid {field}: {raw}")))?;
    handlers::with_account(sim, &caller.0.account, |a| {
        a.records
            .collection(parent.collection)
            .get(id)
            .map(|_| Scope { field, id })
            .ok_or_else(|| ApiError::not_found(format!("{} with id {raw} was not found", parent.noun)))
    })
}

/// A list response: `{"<list_key>": [...], "next_page_token": "..."}` (the token only when more
/// pages follow).
pub(crate) fn list_response(
    sim: &Sim,
    caller: &Caller,
    resource: &Resource,
    scope: Option<Scope>,
    params: &QueryParams,
) -> Result<Response> {
    let page = handlers::with_account(sim, &caller.0.account, |a| handlers::list(sim, a, resource, scope, params))?;
    let mut body = Map::new();
    body.insert(resource.list_key.into(), Value::Array(page.items));
    if let Some(token) = page.next_page_token {
        body.insert("next_page_token".into(), Value::String(token));
    }
    Ok(Json(Value::Object(body)).into_response())
}

async fn create_response(
    sim: &Sim,
    caller: &Caller,
    resource: &'static Resource,
    scope: Option<Scope>,
    params: &QueryParams,
    headers: &HeaderMap,
    body: Body,
) -> Result<Response> {
    if !resource.writes {
        return Err(ApiError::method_not_allowed());
    }
    let request = modelled_body(sim, resource, "POST", resource.create_path, json_object(headers, body).await?)?;
    let duplicate_option = params.get("duplicate_option").filter(|v| !v.is_empty());
    handlers::with_account(sim, &caller.0.account, |a| {
        if let Some(option) = duplicate_option.filter(|_| resource.collection == "contacts") {
            if let Some(existing) = tagging::find_duplicate(a, &request, option)? {
                let updated = handlers::update(sim, a, resource, None, &existing.to_string(), request, None)?;
                return Ok((StatusCode::OK, Json(updated)).into_response());
            }
        }
        let created = handlers::create(sim, a, resource, scope, request)?;
        Ok((StatusCode::CREATED, Json(created)).into_response())
    })
}

#[allow(clippy::too_many_arguments)]
async fn update_response(
    sim: &Sim,
    caller: &Caller,
    resource: &'static Resource,
    scope: Option<Scope>,
    id: &str,
    params: &QueryParams,
    headers: &HeaderMap,
    body: Body,
) -> Result<Response> {
    if !resource.writes {
        return Err(ApiError::method_not_allowed());
    }
    let request = modelled_body(sim, resource, "PATCH", resource.update_path, json_object(headers, body).await?)?;
    let mask = params.list("update_mask");
    if let Some(path) = resource.update_path {
        sim.request_bodies.check_update_mask("PATCH", path, mask.as_deref())?;
    }
    let updated = handlers::with_account(sim, &caller.0.account, |a| {
        handlers::update(sim, a, resource, scope, id, request, mask)
    })?;
    Ok(Json(updated).into_response())
}

/// A create or update body as the vendor's document allows it, less the fields the document
/// declares but the simulator does not model (accepted and ignored, as undeclared ones are).
fn modelled_body(
    sim: &Sim,
    resource: &Resource,
    method: &str,
    path: Option<&str>,
    request: Map<String, Value>,
) -> Result<Map<String, Value>> {
    let Some(path) = path else { return Err(ApiError::method_not_allowed()) };
    let mut request = sim.request_bodies.accept(method, path, request)?;
    request.retain(|key, _| resource.writable.iter().any(|(field, _)| field == key));
    Ok(request)
}

fn delete_response(
    sim: &Sim,
    caller: &Caller,
    resource: &'static Resource,
    scope: Option<Scope>,
    id: &str,
) -> Result<Response> {
    if !resource.writes {
        return Err(ApiError::method_not_allowed());
    }
    handlers::with_account(sim, &caller.0.account, |a| handlers::delete(sim, a, resource, scope, id))?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
