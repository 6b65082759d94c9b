//! REST API v1 (`/crm/rest/v1/...`): a view over the same records as v2, with v1's shapes (numeric
//! ids, `date_created`/`last_updated`, v1 field names), `limit`/`offset` paging with `count`, `next`
//! and `previous`, and v1's `{"message"}` errors. Reads translate v1 query parameters into v2
//! filter clauses and reuse the v2 list machinery; writes translate the body into a v2 request and
//! reuse the v2 create/update/delete, so both protocols obey the same validation.

use crate::errors::{ApiError, V1Error};
use crate::gateway::Caller;
use crate::http_util::{json_object, QueryParams};
use crate::rest_v2::handlers::{self, with_account};
use crate::rest_v2::resources::{self as v2, Resource};
use crate::state::Sim;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, MethodRouter};
use axum::{Extension, Json, Router};
use serde_json::{json, Map, Value};
use std::sync::Arc;

type Result<T> = std::result::Result<T, V1Error>;

/// How one v1 resource presents a v2 resource.
pub struct View {
    pub path: &'static str,
    pub resource: &'static Resource,
    /// (v2 field, v1 field) renames.
    pub renames: &'static [(&'static str, &'static str)],
    /// v1 fields holding numeric ids (JSON pointers into the v1 record), e.g. `/company/id`.
    pub id_fields: &'static [&'static str],
    /// v1 fields holding money, shown as plain numbers in major units.
    pub money_fields: &'static [&'static str],
    /// (v1 query parameter, v2 filter field).
    pub params: &'static [(&'static str, &'static str)],
    /// (v1 `order` value, v2 `order_by` field).
    pub orders: &'static [(&'static str, &'static str)],
    /// v1 object references in write bodies (`contact: {id}`) → v2 reference fields (`contact_id`).
    pub references: &'static [(&'static str, &'static str)],
    pub writes: bool,
}

pub static VIEWS: &[View] = &[
    View {
        path: "contacts",
        resource: &v2::CONTACTS,
        renames: &[
            ("create_time", "date_created"),
            ("update_time", "last_updated"),
            ("birth_date", "birthday"),
            ("anniversary_date", "anniversary"),
            ("leadsource_id", "lead_source_id"),
            ("score_value", "ScoreValue"),
        ],
        id_fields: &["/company/id", "/owner_id", "/lead_source_id"],
        money_fields: &[],
        params: &[
            ("email", "email"),
            ("given_name", "given_name"),
            ("family_name", "family_name"),
            ("since", "start_update_time"),
            ("until", "end_update_time"),
        ],
        orders: &[("id", "id"), ("date_created", "create_time"), ("last_updated", "update_time"), ("email", "email")],
        references: &[],
        writes: true,
    },
    View {
        path: "companies",
        resource: &v2::COMPANIES,
        renames: &[],
        id_fields: &["/owner_id"],
        money_fields: &[],
        params: &[("company_name", "company_name")],
        orders: &[("id", "id"), ("date_created", "create_time"), ("name", "company_name")],
        references: &[],
        writes: true,
    },
    View {
        path: "opportunities",
        resource: &v2::OPPORTUNITIES,
        renames: &[
            ("created_time", "date_created"),
            ("last_updated_time", "last_updated"),
            ("estimated_close_time", "estimated_close_date"),
            ("next_action_time", "next_action_date"),
        ],
        id_fields: &["/contact/id", "/stage/id", "/user/id"],
        money_fields: &[],
        params: &[("stage_id", "stage_id"), ("user_id", "user_id"), ("search_term", "opportunity_title")],
        orders: &[
            ("date_created", "created_time"),
            ("next_action", "next_action_time"),
            ("opportunity_name", "opportunity_title"),
            ("contact_name", "contact_name"),
        ],
        references: &[("contact", "contact_id"), ("stage", "stage_id"), ("user", "user_id")],
        writes: true,
    },
    View {
        path: "tags",
        resource: &v2::TAGS,
        renames: &[],
        id_fields: &["/category/id"],
        money_fields: &[],
        params: &[("name", "name"), ("category", "category_id")],
        orders: &[],
        references: &[],
        writes: true,
    },
    View {
        path: "tasks",
        resource: &v2::TASKS,
        renames: &[
            ("create_time", "creation_date"),
            ("modification_time", "modification_date"),
            ("due_time", "due_date"),
            ("completion_time", "completion_date"),
            ("assigned_to_user_id", "user_id"),
            ("contact_id", "contact_id"),
        ],
        id_fields: &["/user_id", "/contact_id", "/opportunity_id"],
        money_fields: &[],
        params: &[
            ("contact_id", "contact_id"),
            ("user_id", "user_id"),
            ("completed", "is_completed"),
            ("since", "since_time"),
            ("until", "until_time"),
        ],
        orders: &[("due_date", "due_time"), ("created", "create_time"), ("updated", "update_time")],
        references: &[],
        writes: true,
    },
    View {
        path: "notes",
        resource: &v2::NOTES,
        renames: &[
            ("text", "body"),
            ("created_by_user_id", "user_id"),
            ("create_time", "date_created"),
            ("update_time", "last_updated"),
        ],
        id_fields: &["/user_id", "/contact_id"],
        money_fields: &[],
        params: &[("contact_id", "contact_id"), ("user_id", "user_id")],
        orders: &[],
        references: &[],
        writes: false,
    },
    View {
        path: "orders",
        resource: &v2::ORDERS,
        renames: &[
            ("order_time", "order_date"),
            ("creation_time", "creation_date"),
            ("modification_time", "modification_date"),
        ],
        id_fields: &["/contact/id"],
        money_fields: &["total", "total_paid", "total_due", "refund_total"],
        params: &[
            ("contact_id", "contact_id"),
            ("product_id", "product_id"),
            ("since", "modified_since_time"),
            ("until", "modified_until_time"),
        ],
        orders: &[("order_date", "order_time"), ("update_date", "modification_time")],
        references: &[],
        writes: false,
    },
    View {
        path: "products",
        resource: &v2::PRODUCTS,
        renames: &[
            ("name", "product_name"),
            ("description", "product_desc"),
            ("short_description", "product_short_desc"),
            ("price", "product_price"),
        ],
        id_fields: &[],
        money_fields: &["product_price"],
        params: &[],
        orders: &[],
        references: &[],
        writes: false,
    },
];

/// The v1 router (mounted under `/crm/rest/v1`, behind the gateway), hooks included.
pub fn router() -> Router<Arc<Sim>> {
    let mut router = Router::new()
        .route("/hooks", get(crate::hooks::list).post(crate::hooks::create))
        .route("/hooks/event_keys", get(crate::hooks::event_keys))
        .route("/hooks/{key}", get(crate::hooks::get).put(crate::hooks::update).delete(crate::hooks::delete))
        .route("/hooks/{key}/verify", axum::routing::post(crate::hooks::verify))
        .route("/hooks/{key}/delayedVerify", axum::routing::post(crate::hooks::delayed_verify));
    for view in VIEWS {
        router = router
            .route(&format!("/{}", view.path), collection(view))
            .route(&format!("/{}/{{id}}", view.path), item(view));
    }
    router
}

fn collection(view: &'static View) -> MethodRouter<Arc<Sim>> {
    let lister = move |State(sim): State<Arc<Sim>>,
                       Extension(caller): Extension<Caller>,
                       headers: HeaderMap,
                       params: QueryParams| async move { list(&sim, &caller, view, &headers, &params) };
    let creator = move |State(sim): State<Arc<Sim>>,
                        Extension(caller): Extension<Caller>,
                        headers: HeaderMap,
                        body: Body| async move {
        let request = write_request(view, &headers, body).await?;
        let created =
            with_account(&sim, &caller.0.account, |a| handlers::create(&sim, a, view.resource, None, request))?;
        Ok::<_, V1Error>((StatusCode::CREATED, Json(to_v1(view, &created))).into_response())
    };
    get(lister).post(creator)
}

fn item(view: &'static View) -> MethodRouter<Arc<Sim>> {
    let getter = move |State(sim): State<Arc<Sim>>, Extension(caller): Extension<Caller>, Path(id): Path<String>| async move {
        let record = with_account(&sim, &caller.0.account, |a| {
            handlers::get(a, view.resource, None, &id, &QueryParams::default())
        })?;
        Ok::<_, V1Error>(Json(to_v1(view, &record)).into_response())
    };
    let patcher = move |State(sim): State<Arc<Sim>>,
                        Extension(caller): Extension<Caller>,
                        Path(id): Path<String>,
                        headers: HeaderMap,
                        body: Body| async move {
        let request = write_request(view, &headers, body).await?;
        let updated = with_account(&sim, &caller.0.account, |a| {
            handlers::update(&sim, a, view.resource, None, &id, request, None)
        })?;
        Ok::<_, V1Error>(Json(to_v1(view, &updated)).into_response())
    };
    let deleter = move |State(sim): State<Arc<Sim>>, Extension(caller): Extension<Caller>, Path(id): Path<String>| async move {
        if !view.writes {
            return Err(V1Error(ApiError::method_not_allowed()));
        }
        with_account(&sim, &caller.0.account, |a| handlers::delete(&sim, a, view.resource, None, &id))?;
        Ok::<_, V1Error>(StatusCode::NO_CONTENT.into_response())
    };
    get(getter).patch(patcher).delete(deleter)
}

/// `GET` on a v1 collection: `{"<items>": [...], "count": N, "next": url, "previous": url}`.
fn list(sim: &Sim, caller: &Caller, view: &View, headers: &HeaderMap, params: &QueryParams) -> Result<Response> {
    let limit = number_param(params, "limit", 1000)?.clamp(1, 1000);
    let offset = number_param(params, "offset", 0)?;
    let v2_params = v2_query(view, params)?;
    let (items, count) = with_account(sim, &caller.0.account, |a| {
        let rows = handlers::matching(a, view.resource, None, &v2_params)?;
        let items: Vec<Value> = rows.iter().skip(offset).take(limit).map(|r| to_v1(view, r)).collect();
        Ok((items, rows.len()))
    })?;
    // Links keep the query's filters and order, as the vendor's do.
    let kept: Vec<(String, String)> = params.0.iter().filter(|(k, _)| k != "limit" && k != "offset").cloned().collect();
    let base = format!("http://{}/crm/rest/v1/{}", host(headers), view.path);
    let link = |offset: usize| {
        let mut query = kept.clone();
        query.push(("limit".into(), limit.to_string()));
        query.push(("offset".into(), offset.to_string()));
        format!("{base}?{}", serde_urlencoded::to_string(&query).unwrap_or_default())
    };
    let mut body = Map::new();
    body.insert(view.resource.list_key.into(), Value::Array(items));
    body.insert("count".into(), json!(count));
    if offset.saturating_add(limit) < count {
        body.insert("next".into(), json!(link(offset + limit)));
    }
    if offset > 0 {
        body.insert("previous".into(), json!(link(offset.saturating_sub(limit))));
    }
    Ok(Json(Value::Object(body)).into_response())
}

/// Translates v1 query parameters into v2 `filter` and `order_by`.
fn v2_query(view: &View, params: &QueryParams) -> Result<QueryParams> {
    let mut clauses = Vec::new();
    for (v1_name, v2_name) in view.params {
        if let Some(value) = params.get(v1_name).filter(|v| !v.is_empty()) {
            if value.contains(';') {
                return Err(V1Error(ApiError::bad_request(format!("Invalid value for {v1_name}"))));
            }
            clauses.push(format!("{v2_name}=={value}"));
        }
    }
    let mut query = QueryParams(vec![("filter".into(), clauses.join(";"))]);
    if let Some(order) = params.get("order").filter(|o| !o.is_empty()) {
        let Some((_, field)) = view.orders.iter().find(|(v1, _)| v1.eq_ignore_ascii_case(order)) else {
            return Err(V1Error(ApiError::bad_request(format!("Invalid order: {order}"))));
        };
        let direction = match params.get("order_direction").unwrap_or("ASCENDING") {
            d if d.eq_ignore_ascii_case("ASCENDING") => "asc",
            d if d.eq_ignore_ascii_case("DESCENDING") => "desc",
            d => return Err(V1Error(ApiError::bad_request(format!("Invalid order_direction: {d}")))),
        };
        query.0.push(("order_by".into(), format!("{field} {direction}")));
    }
    Ok(query)
}

fn number_param(params: &QueryParams, name: &str, default: usize) -> Result<usize> {
    match params.get(name).filter(|v| !v.is_empty()) {
        None => Ok(default),
        Some(raw) => raw.parse::<usize>().map_err(|_| {
            V1Error(ApiError::bad_request(format!("Invalid {name}: {raw} is not a non-negative integer")))
        }),
    }
}

fn host(headers: &HeaderMap) -> String {
    headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| h.bytes().all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b)))
        .unwrap_or("localhost")
        .to_string()
}

/// A v2 record in v1 shape.
pub fn to_v1(view: &View, record: &Value) -> Value {
    let Value::Object(map) = record else { return record.clone() };
    let mut out = Map::new();
    for (key, value) in map {
        let name = view.renames.iter().find(|(v2, _)| v2 == key).map(|(_, v1)| *v1).unwrap_or(key);
        out.insert(name.to_string(), value.clone());
    }
    let mut out = Value::Object(out);
    numeric_id(&mut out, "/id");
    for pointer in view.id_fields {
        numeric_id(&mut out, pointer);
    }
    if let Some(tags) = out.get_mut("tag_ids").and_then(Value::as_array_mut) {
        tags.iter_mut()
            .for_each(|t| *t = t.as_str().and_then(|s| s.parse::<u64>().ok()).map_or(t.clone(), |n| json!(n)));
    }
    for field in view.money_fields {
        if let Some(cents) = out.pointer(&format!("/{field}/amount")).and_then(Value::as_i64) {
            out[*field] = json!(cents as f64 / 100.0);
        }
    }
    out
}

fn numeric_id(value: &mut Value, pointer: &str) {
    if let Some(slot) = value.pointer_mut(pointer) {
        if let Some(n) = slot.as_str().and_then(|s| s.parse::<u64>().ok()) {
            *slot = json!(n);
        }
    }
}

/// A v1 write body as a v2 request: v1 names renamed back, numeric ids as strings, object
/// references (`"contact": {"id": 5}`) as v2 reference fields (`"contact_id": "5"`).
async fn write_request(
    view: &View,
    headers: &HeaderMap,
    body: Body,
) -> std::result::Result<Map<String, Value>, V1Error> {
    if !view.writes {
        return Err(V1Error(ApiError::method_not_allowed()));
    }
    let request = json_object(headers, body).await?;
    let mut out = Map::new();
    for (key, mut value) in request {
        if let Some((_, v2_field)) = view.references.iter().find(|(v1, _)| *v1 == key) {
            let id = value.get("id").cloned().unwrap_or(Value::Null);
            out.insert(v2_field.to_string(), stringify_id(id));
            continue;
        }
        let name = view.renames.iter().find(|(_, v1)| *v1 == key).map(|(v2, _)| *v2).unwrap_or(&key).to_string();
        for pointer in view.id_fields {
            let Some(rest) = pointer.strip_prefix(&format!("/{key}")) else { continue };
            if rest.is_empty() {
                value = stringify_id(value);
            } else if let Some(slot) = value.pointer_mut(rest) {
                *slot = stringify_id(slot.take());
            }
        }
        out.insert(name, value);
    }
    Ok(out)
}

fn stringify_id(value: Value) -> Value {
    match value {
        Value::Number(n) => Value::String(n.to_string()),
        other => other,
    }
}
