//! Tags on contacts: applying and removing a tag for a list of contacts (with the vendor's
//! per-contact result codes), the tags of a contact, the contacts of a tag, and the duplicate
//! check of `POST /contacts?duplicate_option=...`.

use super::handlers::{self, paginate, Page};
use super::query;
use super::resources::{FilterField, FilterKind, CONTACTS, TAGS};
use crate::clock::iso;
use crate::errors::ApiError;
use crate::gateway::Caller;
use crate::http_util::{json_object, QueryParams};
use crate::json_path::text_at;
use crate::records::parse_id;
use crate::state::{Account, Sim};
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde_json::{json, Map, Value};
use std::sync::Arc;

type Result<T> = std::result::Result<T, ApiError>;

/// `POST /tags/{id}/contacts:applyTags` with `{"contact_ids": [...]}`.
pub async fn apply(
    State(sim): State<Arc<Sim>>,
    Extension(caller): Extension<Caller>,
    Path(tag): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response> {
    let contact_ids = contact_ids(&sim, "/rest/v2/tags/{tag_id}/contacts:applyTags", &headers, body).await?;
    let results = handlers::with_account(&sim, &caller.0.account, |a| {
        let tag_id = existing_tag(a, &tag)?;
        let now = sim.clock.now_secs();
        let mut results = Map::new();
        for raw in &contact_ids {
            let outcome = match parse_id(raw).filter(|id| a.records.collection("contacts").get(*id).is_some()) {
                None => "CONTACT_NOT_FOUND",
                Some(id) if a.tag_applied.contains_key(&(id, tag_id)) => "DUPLICATE",
                Some(id) => {
                    a.tag_applied.insert((id, tag_id), now);
                    write_tag_ids(&sim, a, id);
                    "SUCCESS"
                }
            };
            results.insert(raw.clone(), json!(outcome));
        }
        Ok(results)
    })?;
    Ok(Json(json!({ "results": results })).into_response())
}

/// `POST /tags/{id}/contacts:removeTags` with `{"contact_ids": [...]}` → 204.
pub async fn remove(
    State(sim): State<Arc<Sim>>,
    Extension(caller): Extension<Caller>,
    Path(tag): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response> {
    let contact_ids = contact_ids(&sim, "/rest/v2/tags/{tag_id}/contacts:removeTags", &headers, body).await?;
    handlers::with_account(&sim, &caller.0.account, |a| {
        let tag_id = existing_tag(a, &tag)?;
        for id in contact_ids.iter().filter_map(|raw| parse_id(raw)) {
            if a.tag_applied.remove(&(id, tag_id)).is_some() {
                write_tag_ids(&sim, a, id);
            }
        }
        Ok(())
    })?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `filter` of `GET /contacts/{id}/tags`, over its rows (`{"tag": Tag, "applied_time": ...}`).
static CONTACT_TAG_FILTERS: [FilterField; 9] = [
    FilterField { name: "name", path: "tag.name", kind: FilterKind::Prefix },
    FilterField { name: "description", path: "tag.description", kind: FilterKind::Prefix },
    FilterField { name: "category_id", path: "tag.category.id", kind: FilterKind::Exact },
    FilterField { name: "since_applied_time", path: "applied_time", kind: FilterKind::Since },
    FilterField { name: "until_applied_time", path: "applied_time", kind: FilterKind::Until },
    FilterField { name: "since_create_time", path: "tag.create_time", kind: FilterKind::Since },
    FilterField { name: "until_create_time", path: "tag.create_time", kind: FilterKind::Until },
    FilterField { name: "since_update_time", path: "tag.update_time", kind: FilterKind::Since },
    FilterField { name: "until_update_time", path: "tag.update_time", kind: FilterKind::Until },
];

/// `order_by` of `GET /contacts/{id}/tags` (without one: by tag id).
static CONTACT_TAG_ORDERS: [(&str, &str); 5] = [
    ("name", "tag.name"),
    ("create_time", "tag.create_time"),
    ("update_time", "tag.update_time"),
    ("applied_time", "applied_time"),
    ("category_id", "tag.category.id"),
];

/// `filter` of `GET /tags/{id}/contacts`, over its rows (`{id, email, given_name, family_name,
/// applied_time}`).
static TAG_CONTACT_FILTERS: [FilterField; 5] = [
    FilterField { name: "given_name", path: "given_name", kind: FilterKind::Prefix },
    FilterField { name: "family_name", path: "family_name", kind: FilterKind::Prefix },
    FilterField { name: "email", path: "email", kind: FilterKind::Prefix },
    FilterField { name: "since_applied_time", path: "applied_time", kind: FilterKind::Since },
    FilterField { name: "until_applied_time", path: "applied_time", kind: FilterKind::Until },
];

/// `order_by` of `GET /tags/{id}/contacts` (without one: by contact id).
static TAG_CONTACT_ORDERS: [(&str, &str); 4] = [
    ("given_name", "given_name"),
    ("family_name", "family_name"),
    ("email", "email"),
    ("applied_time", "applied_time"),
];

/// `GET /contacts/{id}/tags` → `{"tags": [{"tag": Tag, "applied_time": ...}]}`.
pub async fn tags_of_contact(
    State(sim): State<Arc<Sim>>,
    Extension(caller): Extension<Caller>,
    Path(contact): Path<String>,
    params: QueryParams,
) -> Result<Response> {
    let page = handlers::with_account(&sim, &caller.0.account, |a| {
        let contact_id = handlers::path_id(CONTACTS.noun, &contact)?;
        let Some(contact_id) = contact_id.filter(|id| a.records.collection("contacts").get(*id).is_some()) else {
            return Err(ApiError::not_found(format!("Contact with id {contact} was not found")));
        };
        let tags = a.records.collection("tags");
        let rows: Vec<Value> = a
            .tag_applied
            .iter()
            .filter(|((c, _), _)| *c == contact_id)
            .map(|((_, tag), at)| json!({"tag": tags.get(*tag).cloned().unwrap_or(Value::Null), "applied_time": time(*at)}))
            .collect();
        let size = query::parse_page_size(params.get("page_size"), TAGS.max_page_size, true)?;
        let listing = ["contact-tags", contact.as_str()];
        listed_page(&sim, &rows, &params, size, &listing, &CONTACT_TAG_FILTERS, &CONTACT_TAG_ORDERS)
    })?;
    Ok(page_response("tags", page))
}

/// `GET /tags/{id}/contacts` → `{"contacts": [{id, email, given_name, family_name, applied_time}]}`.
pub async fn contacts_with_tag(
    State(sim): State<Arc<Sim>>,
    Extension(caller): Extension<Caller>,
    Path(tag): Path<String>,
    params: QueryParams,
) -> Result<Response> {
    let page = handlers::with_account(&sim, &caller.0.account, |a| {
        let tag_id = existing_tag(a, &tag)?;
        let contacts = a.records.collection("contacts");
        let rows: Vec<Value> = a
            .tag_applied
            .iter()
            .filter(|((_, t), _)| *t == tag_id)
            .map(|((id, _), at)| {
                let c = contacts.get(*id).cloned().unwrap_or(Value::Null);
                json!({"id": id.to_string(), "email": text_at(&c, "email_addresses[field=EMAIL1].email"),
                    "given_name": c.get("given_name"), "family_name": c.get("family_name"), "applied_time": time(*at)})
            })
            .collect();
        let size = query::parse_page_size(params.get("page_size"), CONTACTS.max_page_size, true)?;
        let listing = ["tag-contacts", tag.as_str()];
        listed_page(&sim, &rows, &params, size, &listing, &TAG_CONTACT_FILTERS, &TAG_CONTACT_ORDERS)
    })?;
    Ok(page_response("contacts", page))
}

/// The page of `rows` that `filter`, `order_by` and `page_token` select (`listing` names the
/// listing, for its page tokens).
fn listed_page(
    sim: &Sim,
    rows: &[Value],
    params: &QueryParams,
    page_size: usize,
    listing: &[&str],
    filters: &'static [FilterField],
    orders: &'static [(&'static str, &'static str)],
) -> Result<Page> {
    let filter = query::given(params, "filter").unwrap_or("");
    let order = query::given(params, "order_by");
    let clauses = query::parse_filter(filters, filter)?;
    let mut selected: Vec<&Value> = rows.iter().filter(|r| query::matches(r, &clauses)).collect();
    if let Some(order) = order {
        query::sort(&mut selected, query::parse_order_by(orders, order)?);
    }
    let fingerprint = query::fingerprint(&[listing, &[filter, order.unwrap_or("")]].concat());
    paginate(sim, &selected, page_size, params, fingerprint, |r| (*r).clone())
}

/// The contact a `duplicate_option` (`Email`, `EmailAndName`, `EmailAndNameAndCompany`) matches.
pub fn find_duplicate(account: &Account, request: &Map<String, Value>, option: &str) -> Result<Option<u64>> {
    if !matches!(option, "Email" | "EmailAndName" | "EmailAndNameAndCompany") {
        return Err(ApiError::bad_request(format!(
            "Invalid duplicate_option '{option}': use Email, EmailAndName or EmailAndNameAndCompany"
        )));
    }
    let wanted = Value::Object(request.clone());
    let Some(email) = text_at(&wanted, "email_addresses[field=EMAIL1].email") else { return Ok(None) };
    let same = |c: &Value, path: &str| {
        text_at(c, path).map(|s| s.to_lowercase()) == text_at(&wanted, path).map(|s| s.to_lowercase())
    };
    let found = account.records.collection("contacts").iter().find(|c| {
        let email_matches =
            text_at(c, "email_addresses[field=EMAIL1].email").is_some_and(|e| e.eq_ignore_ascii_case(&email));
        let names_match = option == "Email" || (same(c, "given_name") && same(c, "family_name"));
        let company_matches = option != "EmailAndNameAndCompany" || same(c, "company.id");
        email_matches && names_match && company_matches
    });
    Ok(found.map(query::id_of))
}

/// The `contact_ids` of an apply or remove request (the document makes them unique strings).
async fn contact_ids(sim: &Sim, path: &str, headers: &HeaderMap, body: Body) -> Result<Vec<String>> {
    let request = sim.request_bodies.accept("POST", path, json_object(headers, body).await?)?;
    let ids = request.get("contact_ids").and_then(Value::as_array).filter(|ids| !ids.is_empty());
    let Some(ids) = ids else { return Err(ApiError::bad_request("contact_ids must be a non-empty array")) };
    if ids.len() > 1000 {
        return Err(ApiError::bad_request("contact_ids may hold at most 1000 ids"));
    }
    Ok(ids.iter().filter_map(Value::as_str).map(String::from).collect())
}

fn existing_tag(account: &Account, raw: &str) -> Result<u64> {
    handlers::path_id(TAGS.noun, raw)?
        .filter(|id| account.records.collection("tags").get(*id).is_some())
        .ok_or_else(|| ApiError::not_found(format!("Tag with id {raw} was not found")))
}

/// Mirrors the applied tags into the contact's `tag_ids` and reports the contact as edited.
fn write_tag_ids(sim: &Sim, account: &mut Account, contact_id: u64) {
    let ids: Vec<Value> =
        account.tag_applied.keys().filter(|(c, _)| *c == contact_id).map(|(_, t)| json!(t.to_string())).collect();
    let now = iso(sim.clock.now());
    if let Some(Value::Object(contact)) = account.records.collection_mut("contacts").get_mut(contact_id) {
        contact.insert("tag_ids".into(), Value::Array(ids));
        contact.insert("update_time".into(), Value::String(now));
    }
    handlers::record_change(sim, account, &CONTACTS, handlers::Change::Edit, contact_id);
}

fn time(epoch: i64) -> String {
    chrono::DateTime::from_timestamp(epoch, 0).map(iso).unwrap_or_default()
}

fn page_response(key: &str, page: Page) -> Response {
    let mut body = Map::new();
    body.insert(key.into(), Value::Array(page.items));
    if let Some(token) = page.next_page_token {
        body.insert("next_page_token".into(), Value::String(token));
    }
    Json(Value::Object(body)).into_response()
}
