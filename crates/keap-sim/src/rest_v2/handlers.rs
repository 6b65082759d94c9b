//! The generic v2 operations every resource shares, driven by its [`Resource`] definition: list
//! (filter, order, page, project), get, create, update (PATCH with `update_mask`) and delete. They
//! take and return plain JSON so that REST v1, a view over the same records, reuses them.
//!
//! Path ids are read as the vendor's ids are, decimal digits ([`path_id`]): anything else is a 400
//! naming the id, a reading the document (which types them as bare strings) does not state, so
//! `vendor/readings.yml` does; digits of no record, however many, are a 404. `fields` takes the
//! names the document lists for the resource, each once (the readings list them where the document
//! types `fields` as any string).

use super::builders::BuildCtx;
use super::query::{self, PageTokens};
use super::resources::{FieldType, Resource};
use crate::clock::{iso, parse_iso};
use crate::errors::ApiError;
use crate::http_util::QueryParams;
use crate::records::parse_id;
use crate::state::{Account, Sim};
use serde_json::{Map, Value};

/// Restricts a collection to the children of one parent (a contact's notes, an order's payments).
#[derive(Debug, Clone, Copy)]
pub struct Scope {
    /// Record field naming the parent.
    pub field: &'static str,
    pub id: u64,
}

/// The change a write made, for REST hooks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Add,
    Edit,
    Delete,
    /// A named transition with its own event (`opportunity.stage_move`, `task.complete`).
    Transition(&'static str),
}

impl Change {
    fn verb(self) -> &'static str {
        match self {
            Change::Add => "add",
            Change::Edit => "edit",
            Change::Delete => "delete",
            Change::Transition(verb) => verb,
        }
    }
}

/// The transition event a change of `before` into `after` also raises, if any.
fn transition(resource: &Resource, before: &Value, after: &Value) -> Option<Change> {
    match resource.collection {
        "opportunities" if before.pointer("/stage/id") != after.pointer("/stage/id") => {
            Some(Change::Transition("stage_move"))
        }
        "tasks" => match (before.get("completed"), after.get("completed")) {
            (b, Some(Value::Bool(true))) if b != Some(&Value::Bool(true)) => Some(Change::Transition("complete")),
            (Some(Value::Bool(true)), a) if a != Some(&Value::Bool(true)) => Some(Change::Transition("incomplete")),
            _ => None,
        },
        _ => None,
    }
}

/// Runs `f` on the caller's account under the world lock.
pub fn with_account<T>(
    sim: &Sim,
    host: &str,
    f: impl FnOnce(&mut Account) -> Result<T, ApiError>,
) -> Result<T, ApiError> {
    let mut world = sim.world();
    let account = world.accounts.get_mut(host).ok_or_else(|| ApiError::not_found("Account not found"))?;
    f(account)
}

/// A page of a list: the records and the token of the next page, if any.
pub struct Page {
    pub items: Vec<Value>,
    pub next_page_token: Option<String>,
}

/// `GET` on a collection.
pub fn list(
    sim: &Sim,
    account: &Account,
    resource: &Resource,
    scope: Option<Scope>,
    params: &QueryParams,
) -> Result<Page, ApiError> {
    // The document gives users' page_size a minimum of 1; elsewhere 0 is proto3's "not given".
    let zero_is_default = resource.collection != "users";
    let page_size = query::parse_page_size(params.get("page_size"), resource.max_page_size, zero_is_default)?;
    let projection = projection(resource, params)?;
    let rows = matching(account, resource, scope, params)?;
    let scope_key = scope.map(|s| format!("{}={}", s.field, s.id)).unwrap_or_default();
    let filter_text = query::given(params, "filter").unwrap_or("");
    let order_text = query::given(params, "order_by").unwrap_or(resource.default_order);
    let fingerprint = query::fingerprint(&[resource.collection, &scope_key, filter_text, order_text]);
    paginate(sim, &rows, page_size, params, fingerprint, |r| render(resource, r, projection.as_deref()))
}

/// Every record of the collection that `filter` selects, in `order_by` order.
pub fn matching<'a>(
    account: &'a Account,
    resource: &Resource,
    scope: Option<Scope>,
    params: &QueryParams,
) -> Result<Vec<&'a Value>, ApiError> {
    let clauses = query::parse_filter(resource.filters, query::given(params, "filter").unwrap_or(""))?;
    let order = query::given(params, "order_by").unwrap_or(resource.default_order);
    let order = query::parse_order_by(resource.order_by, order)?;
    let mut rows: Vec<&Value> = account
        .records
        .collection(resource.collection)
        .iter()
        .filter(|r| in_scope(r, scope) && query::matches(r, &clauses))
        .collect();
    query::sort(&mut rows, order);
    Ok(rows)
}

/// Cuts the page that `page_token` points at (the first without one) out of `rows`.
pub fn paginate<T>(
    sim: &Sim,
    rows: &[T],
    page_size: usize,
    params: &QueryParams,
    fingerprint: u64,
    render: impl Fn(&T) -> Value,
) -> Result<Page, ApiError> {
    let tokens = PageTokens { secret: sim.page_secret };
    let offset = match query::given(params, "page_token") {
        Some(token) => tokens.open(token, fingerprint)?,
        None => 0,
    };
    let end = offset.saturating_add(page_size).min(rows.len());
    let items = rows.get(offset.min(end)..end).unwrap_or(&[]).iter().map(render).collect();
    let next_page_token = (end < rows.len()).then(|| tokens.issue(fingerprint, end));
    Ok(Page { items, next_page_token })
}

/// `GET` on one record.
pub fn get(
    account: &Account,
    resource: &Resource,
    scope: Option<Scope>,
    raw_id: &str,
    params: &QueryParams,
) -> Result<Value, ApiError> {
    let projection = projection(resource, params)?;
    let id = parse_record_id(resource, raw_id)?;
    let record = account
        .records
        .collection(resource.collection)
        .get(id)
        .filter(|r| in_scope(r, scope))
        .ok_or_else(|| not_found(resource, raw_id))?;
    Ok(render(resource, record, projection.as_deref()))
}

/// `POST` on a collection: validates, builds and stores a record; returns it.
pub fn create(
    sim: &Sim,
    account: &mut Account,
    resource: &Resource,
    scope: Option<Scope>,
    request: Map<String, Value>,
) -> Result<Value, ApiError> {
    check_fields(resource, &request)?;
    if let Some(missing) = resource.required.iter().find(|f| request.get(**f).is_none_or(Value::is_null)) {
        return Err(ApiError::bad_request(format!("Missing required field: {missing}")));
    }
    let now = iso(sim.clock.now());
    let ctx = BuildCtx { records: &account.records, now: &now, creating: true };
    let mut record = (resource.build)(&ctx, request)?;
    record.retain(|_, v| !v.is_null());
    record.entry(resource.times.0).or_insert_with(|| Value::String(now.clone()));
    record.insert(resource.times.1.into(), Value::String(now.clone()));
    if let Some(scope) = scope {
        record.insert(scope.field.into(), Value::String(scope.id.to_string()));
    }
    let id = account.records.collection_mut(resource.collection).insert(record);
    record_change(sim, account, resource, Change::Add, id);
    Ok(account.records.collection(resource.collection).get(id).cloned().unwrap_or(Value::Null))
}

/// `PATCH` on one record. With `update_mask`, only the named fields change, and a named field
/// missing from the body is cleared (unless a create requires it); a named field that is not
/// writable is ignored.
pub fn update(
    sim: &Sim,
    account: &mut Account,
    resource: &Resource,
    scope: Option<Scope>,
    raw_id: &str,
    mut request: Map<String, Value>,
    update_mask: Option<Vec<String>>,
) -> Result<Value, ApiError> {
    let id = parse_record_id(resource, raw_id)?;
    if !account.records.collection(resource.collection).get(id).is_some_and(|r| in_scope(r, scope)) {
        return Err(not_found(resource, raw_id));
    }
    check_fields(resource, &request)?;
    if let Some(mut mask) = update_mask {
        // The mask's values are checked against the document before; those naming a read-only or
        // unmodelled field (`create_time`, `last_updated_by`) have nothing to change.
        mask.retain(|m| resource.writable.iter().any(|(w, _)| w == m));
        request.retain(|k, _| mask.contains(k));
        // A record cannot lack what a create requires (a response would break its shape), so a
        // masked required field that the body leaves out keeps its value.
        for field in mask.into_iter().filter(|f| !resource.required.contains(&f.as_str())) {
            request.entry(field).or_insert(Value::Null);
        }
    }
    let now = iso(sim.clock.now());
    let ctx = BuildCtx { records: &account.records, now: &now, creating: false };
    let changes = (resource.build)(&ctx, request)?;
    let collection = account.records.collection_mut(resource.collection);
    let Some(Value::Object(record)) = collection.get_mut(id) else { return Err(not_found(resource, raw_id)) };
    let before = Value::Object(record.clone());
    for (key, value) in changes {
        if value.is_null() {
            record.remove(&key);
        } else {
            record.insert(key, value);
        }
    }
    record.insert(resource.times.1.into(), Value::String(now));
    let updated = Value::Object(record.clone());
    record_change(sim, account, resource, Change::Edit, id);
    if let Some(change) = transition(resource, &before, &updated) {
        record_change(sim, account, resource, change, id);
    }
    Ok(render(resource, &updated, None))
}

/// `DELETE` on one record.
pub fn delete(
    sim: &Sim,
    account: &mut Account,
    resource: &Resource,
    scope: Option<Scope>,
    raw_id: &str,
) -> Result<(), ApiError> {
    let id = parse_record_id(resource, raw_id)?;
    let collection = account.records.collection_mut(resource.collection);
    if !collection.get(id).is_some_and(|r| in_scope(r, scope)) {
        return Err(not_found(resource, raw_id));
    }
    collection.remove(id);
    match resource.collection {
        "contacts" => account.tag_applied.retain(|(contact, _), _| *contact != id),
        "tags" => remove_tag_everywhere(sim, account, id),
        _ => {}
    }
    record_change(sim, account, resource, Change::Delete, id);
    Ok(())
}

/// A deleted tag is no longer applied to any contact (nor listed in their `tag_ids`).
fn remove_tag_everywhere(sim: &Sim, account: &mut Account, tag: u64) {
    let contacts: Vec<u64> = account.tag_applied.keys().filter(|(_, t)| *t == tag).map(|(c, _)| *c).collect();
    account.tag_applied.retain(|(_, t), _| *t != tag);
    let tag_text = tag.to_string();
    for contact in contacts {
        if let Some(Value::Object(record)) = account.records.collection_mut("contacts").get_mut(contact) {
            if let Some(Value::Array(ids)) = record.get_mut("tag_ids") {
                ids.retain(|t| t.as_str() != Some(tag_text.as_str()));
            }
        }
        record_change(sim, account, &super::resources::CONTACTS, Change::Edit, contact);
    }
}

/// Queues the REST hook event of a write (`contact.add`, ...), if the resource has hooks.
pub fn record_change(sim: &Sim, account: &mut Account, resource: &Resource, change: Change, id: u64) {
    let Some(event) = resource.event else { return };
    let api_url = match resource.v1_path {
        Some(path) => format!("{}/crm/rest/v1/{path}/{id}", sim.base_url()),
        None => String::new(),
    };
    let event_key = format!("{event}.{}", change.verb());
    let due = sim.clock.now_secs() + sim.config.hook_delivery_delay_secs;
    if account.hooks.record(&event_key, event, id, api_url, iso(sim.clock.now()), due) {
        sim.hook_wake.notify_one();
    }
}

/// A record id from a request path. The vendor's document types path ids as bare strings; the
/// simulator reads them as the vendor's ids are, decimal digits (a reading in
/// `vendor/readings.yml`), so anything else is a 400 naming the id. Digits too large for any id
/// are `None`: no such record, which the caller answers with its 404.
pub fn path_id(noun: &str, raw: &str) -> Result<Option<u64>, ApiError> {
    if raw.is_empty() || !raw.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ApiError::bad_request(format!("Invalid {} id: {raw}", noun.to_lowercase())));
    }
    Ok(raw.parse().ok())
}

fn parse_record_id(resource: &Resource, raw: &str) -> Result<u64, ApiError> {
    path_id(resource.noun, raw)?.ok_or_else(|| not_found(resource, raw))
}

fn not_found(resource: &Resource, raw_id: &str) -> ApiError {
    ApiError::not_found(format!("{} with id {raw_id} was not found", resource.noun))
}

fn in_scope(record: &Value, scope: Option<Scope>) -> bool {
    scope.is_none_or(|s| record.get(s.field).and_then(Value::as_str).and_then(parse_id) == Some(s.id))
}

/// Every request field must be writable and of its declared type (null allowed: it clears).
fn check_fields(resource: &Resource, request: &Map<String, Value>) -> Result<(), ApiError> {
    let mut unknown: Vec<&str> = Vec::new();
    for (key, value) in request {
        let Some((_, kind)) = resource.writable.iter().find(|(name, _)| name == key) else {
            unknown.push(key);
            continue;
        };
        if !value.is_null() && !type_matches(*kind, value) {
            return Err(ApiError::bad_request(format!("Invalid value for {key}: expected {}", type_name(*kind))));
        }
    }
    if !unknown.is_empty() {
        return Err(ApiError::bad_request(format!("Unknown or read-only field(s): {}", unknown.join(", "))));
    }
    Ok(())
}

fn type_matches(kind: FieldType, value: &Value) -> bool {
    match kind {
        FieldType::Str => value.is_string(),
        FieldType::Boolean => value.is_boolean(),
        // JSON has one number type: `5.0` is the integer 5 (as JSON Schema reads it).
        FieldType::Int => value.as_f64().is_some_and(|x| x.fract() == 0.0),
        FieldType::Num => value.is_number(),
        FieldType::Array => value.is_array(),
        FieldType::Object => value.is_object(),
        FieldType::Time => value.as_str().and_then(parse_iso).is_some(),
    }
}

fn type_name(kind: FieldType) -> &'static str {
    match kind {
        FieldType::Str => "a string",
        FieldType::Boolean => "a boolean",
        FieldType::Int => "an integer",
        FieldType::Num => "a number",
        FieldType::Array => "an array",
        FieldType::Object => "an object",
        FieldType::Time => "an ISO-8601 date-time",
    }
}

/// The `fields` projection: None when absent (or empty) or when the resource only uses `fields`
/// for optional extras (which the simulator always includes). Every name must be one the
/// document lists for the resource; a write's `fields` is checked the same way.
pub fn projection(resource: &Resource, params: &QueryParams) -> Result<Option<Vec<String>>, ApiError> {
    let Some(fields) = params.list("fields") else { return Ok(None) };
    let allowed = resource.projectable.unwrap_or(&[]);
    if let Some(bad) = fields.iter().find(|f| !allowed.contains(&f.as_str())) {
        return Err(ApiError::bad_request(format!("Invalid fields value: {bad}")));
    }
    if let Some(twice) = fields.iter().enumerate().find_map(|(i, f)| fields[..i].contains(f).then_some(f)) {
        return Err(ApiError::bad_request(format!("Invalid fields: {twice} is named twice")));
    }
    // Only contacts select their properties with `fields`; elsewhere it names optional extras.
    Ok((resource.collection == "contacts" && !fields.is_empty()).then_some(fields))
}

/// A stored record as the API shows it: projected, without the resource's hidden fields.
fn render(resource: &Resource, record: &Value, fields: Option<&[String]>) -> Value {
    let mut shown = project(record, fields);
    if let Value::Object(map) = &mut shown {
        map.retain(|k, _| !resource.hidden.contains(&k.as_str()));
    }
    shown
}

fn project(record: &Value, fields: Option<&[String]>) -> Value {
    let (Some(fields), Value::Object(map)) = (fields, record) else { return record.clone() };
    Value::Object(
        map.iter().filter(|(k, _)| *k == "id" || fields.contains(k)).map(|(k, v)| (k.clone(), v.clone())).collect(),
    )
}
