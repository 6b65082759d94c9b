//! REST API v2 (`/crm/rest/v2/...`): routes for contacts, companies, opportunities (+ stages), tags
//! (+ applying them to contacts), notes, tasks, users, products, orders (+ items, payments),
//! subscriptions, campaigns and sales transactions, each wired to the generic handlers through its
//! [`resources::Resource`].
//!
//! Each path serves exactly the methods the vendor's document declares on it: another method is a
//! 405 whose `Allow` lists them. A path of the vendor's API the simulator does not implement (and
//! any path the API does not have) is the vendor's 404, including those the `{id}` routes would
//! otherwise take (`/contacts/model`, `/orders/{id}:applyTax`). Where the document is silent the
//! simulator keeps the stricter reading and `vendor/readings.yml` states it for the conformance run
//! (`.ci/vendor_conformance.py`): path ids are digits ([`handlers::path_id`]); `filter`, `order_by`
//! and `fields` take what [`query`] and [`handlers::projection`] accept.
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
use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post, MethodRouter};
use axum::{Extension, Json, Router};
use handlers::Scope;
use resources::*;
use serde_json::{Map, Value};
use std::sync::Arc;
use tower::ServiceExt;

type Result<T> = std::result::Result<T, ApiError>;

/// The vendor's paths that sit where the simulator's `{id}` routes would match them, but that it does
/// not implement: each answers the vendor's 404 instead of a 400 for an id that is not a number.
const UNIMPLEMENTED_SIBLINGS: [&str; 8] = [
    "/contacts/model",
    "/companies/model",
    "/opportunities/model",
    "/opportunities/stageMoves",
    "/orders/model",
    "/subscriptions/model",
    "/tasks/model",
    "/tags/categories",
];

/// The v2 router (mounted under `/crm/rest/v2`, behind the gateway). Each path serves exactly the
/// methods the vendor's document declares on it; any other method is a 405 whose `Allow` names
/// them. Paths of the vendor's API that are not implemented here answer its 404.
pub fn router() -> Router<Arc<Sim>> {
    let mut router = Router::new();
    // (path, resource, methods of the collection, methods of one record) as the document declares.
    for (path, resource, collection_allow, item_allow) in [
        ("/contacts", &CONTACTS, "GET, POST", "GET, PATCH, DELETE"),
        ("/companies", &COMPANIES, "GET, POST", "GET, PATCH, DELETE"),
        ("/opportunities", &OPPORTUNITIES, "GET, POST", "GET, PATCH, DELETE"),
        ("/opportunities/stages", &STAGES, "GET, POST", "GET, PATCH, DELETE"),
        ("/tags", &TAGS, "GET, POST", "GET, PATCH, DELETE"),
        ("/tasks", &TASKS, "GET, POST", "GET, PATCH, DELETE"),
        ("/users", &USERS, "GET", "GET, PATCH"),
        ("/products", &PRODUCTS, "GET, POST", "GET, PATCH, DELETE"),
        ("/orders", &ORDERS, "GET, POST", "GET, PATCH, DELETE"),
        ("/subscriptions", &SUBSCRIPTIONS, "GET, POST", "GET, PATCH"),
        ("/campaigns", &CAMPAIGNS, "GET", "GET"),
    ] {
        router = router
            .route(path, collection(resource, collection_allow))
            .route(&format!("{path}/{{id}}"), item(resource, item_allow));
    }
    for path in UNIMPLEMENTED_SIBLINGS {
        router = router.route(path, any(|| async { unimplemented_path() }));
    }
    router
        .route("/notes", declared(get(all_notes), "GET"))
        .route("/contacts/{id}/notes", scoped_collection(&NOTES, "contact_id", &CONTACTS))
        .route("/contacts/{id}/notes/{item_id}", scoped_item(&NOTES, "contact_id", &CONTACTS))
        .route("/contacts/{id}/tags", declared(get(tagging::tags_of_contact), "GET"))
        .route("/tags/{id}/contacts", declared(get(tagging::contacts_with_tag), "GET"))
        .route("/tags/{id}/contacts:applyTags", declared(post(tagging::apply), "POST"))
        .route("/tags/{id}/contacts:removeTags", declared(post(tagging::remove), "POST"))
        .route("/orders/{id}/items", declared(post(orders::add_item), "POST"))
        .route("/orders/{id}/items/{item_id}", orders::item_router())
        .route("/orders/{id}/payments", declared(get(orders::list_payments).post(orders::add_payment), "GET, POST"))
        // No item route: the vendor's API cannot fetch one transaction, and they have no id.
        .route("/sales/transactions", collection(&TRANSACTIONS, "GET"))
        .fallback(|| async { unimplemented_path() })
}

/// Serves `router`, whose methods are exactly those the vendor's document declares on the path
/// (`allow`, as the `Allow` header spells them); any other method is a 405 naming them.
pub(crate) fn declared(router: MethodRouter<Arc<Sim>>, allow: &'static str) -> MethodRouter<Arc<Sim>> {
    router.fallback(move || async move { undeclared_method(allow) })
}

/// The 405 for a method the document does not declare on a path, with `Allow` listing those it does.
fn undeclared_method(allow: &'static str) -> Response {
    let mut response = ApiError::method_not_allowed().into_response();
    response.headers_mut().insert(header::ALLOW, HeaderValue::from_static(allow));
    response
}

/// The vendor's 404 for a path of its API that the simulator does not implement (or that the API
/// does not have).
pub(crate) fn unimplemented_path() -> ApiError {
    ApiError::not_found("The requested resource was not found")
}

/// List and create on a top-level collection (create only where `allow` declares `POST`).
fn collection(resource: &'static Resource, allow: &'static str) -> MethodRouter<Arc<Sim>> {
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
    let mut router = get(lister);
    if allow.contains("POST") {
        router = router.post(creator);
    }
    declared(router, allow)
}

/// One record of a top-level collection: get, and update and delete where `allow` declares them.
/// The last segment may instead be an `{id}:action` form (`/products/{id}:adjustInventory`), its
/// own path in the vendor's document: the router cannot tell them apart, so this does.
fn item(resource: &'static Resource, allow: &'static str) -> MethodRouter<Arc<Sim>> {
    let records = record(resource, allow);
    let adjust_inventory = declared(
        post(
            |State(sim): State<Arc<Sim>>,
             Extension(caller): Extension<Caller>,
             Path(id): Path<String>,
             headers: HeaderMap,
             body: Body| async move {
                let product = id.split_once(':').map_or(id.as_str(), |(product, _)| product);
                orders::adjust_inventory(&sim, &caller, product, &headers, body).await
            },
        ),
        "POST",
    );
    any(move |State(sim): State<Arc<Sim>>, Path(id): Path<String>, request: Request| async move {
        let target = match (resource.collection, id.split_once(':')) {
            (_, None) => records,
            ("products", Some((_, "adjustInventory"))) => adjust_inventory,
            (_, Some(_)) => return unimplemented_path().into_response(),
        };
        target.with_state(sim).oneshot(request).await.into_response()
    })
}

/// Get, update and delete on one record (update and delete where `allow` declares them).
fn record(resource: &'static Resource, allow: &'static str) -> MethodRouter<Arc<Sim>> {
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
    let mut router = get(getter);
    if allow.contains("PATCH") {
        router = router.patch(patcher);
    }
    if allow.contains("DELETE") {
        router = router.delete(deleter);
    }
    declared(router, allow)
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
    declared(get(lister).post(creator), "GET, POST")
}

/// Get, update and delete on one child of a parent record (a contact's note).
fn scoped_item(resource: &'static Resource, field: &'static str, parent: &'static Resource) -> MethodRouter<Arc<Sim>> {
    let getter = move |State(sim): State<Arc<Sim>>,
                       Extension(caller): Extension<Caller>,
                       Path((parent_id, id)): Path<(String, String)>,
                       params: QueryParams| async move {
        let scope = parent_scope(&sim, &caller, parent, field, &parent_id)?;
        handlers::with_account(&sim, &caller.0.account, |a| handlers::get(a, resource, Some(scope), &id, &params))
            .map(Json)
    };
    let patcher = move |State(sim): State<Arc<Sim>>,
                        Extension(caller): Extension<Caller>,
                        Path((parent_id, id)): Path<(String, String)>,
                        params: QueryParams,
                        headers: HeaderMap,
                        body: Body| async move {
        let scope = parent_scope(&sim, &caller, parent, field, &parent_id)?;
        update_response(&sim, &caller, resource, Some(scope), &id, &params, &headers, body).await
    };
    let deleter = move |State(sim): State<Arc<Sim>>,
                        Extension(caller): Extension<Caller>,
                        Path((parent_id, id)): Path<(String, String)>| async move {
        let scope = parent_scope(&sim, &caller, parent, field, &parent_id)?;
        delete_response(&sim, &caller, resource, Some(scope), &id)
    };
    declared(get(getter).patch(patcher).delete(deleter), "GET, PATCH, DELETE")
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
    let id = handlers::path_id(parent.noun, raw)?;
    handlers::with_account(sim, &caller.0.account, |a| {
        id.filter(|id| a.records.collection(parent.collection).get(*id).is_some())
            .map(|id| Scope { field, id })
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
    handlers::projection(resource, params)?;
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
    handlers::projection(resource, params)?;
    let request = modelled_body(sim, resource, "PATCH", resource.update_path, json_object(headers, body).await?)?;
    let mask = params.list("update_mask");
    if let Some(path) = resource.update_path {
        sim.request_bodies.check_update_mask("PATCH", path, mask.as_deref())?;
    }
    // A user's `update_mask` names its `title` `job_title`, as `UpdateUserRequest` does not.
    let mask = mask.map(|mask| {
        let alias = |field: String| match (resource.collection, field.as_str()) {
            ("users", "job_title") => "title".to_string(),
            _ => field,
        };
        mask.into_iter().map(alias).collect()
    });
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
    handlers::with_account(sim, &caller.0.account, |a| handlers::delete(sim, a, resource, scope, id))?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
