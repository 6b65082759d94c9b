//! One record through the mappings: `POST /hubs/{hub}/{object}`, `GET|PATCH|PUT|DELETE
//! /hubs/{hub}/{object}/{id}`, and child records (`POST /orders/{id}/items`, `GET|DELETE
//! /orders/{id}/items/{itemId}`). PUT updates the fields it names, like PATCH: the vendor has no
//! whole-record replace, and the platforms' PUT behaved the same.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use mapping::{needs_current, to_hub, to_vendor, ObjectDef, Operation, WriteMode};
use reqwest::Method;
use serde_json::{Map, Value};
use store::InstanceRecord;

use super::objects::resolve;
use super::response::{drops_nulls, shape, HubResponse};
use super::vendor::{send_json, VendorRequest};
use crate::auth::HubAuth;
use crate::error::ApiError;
use crate::json_body::JsonBody;
use crate::path_param::PathParam;
use crate::state::AppState;

pub async fn read(
    State(state): State<AppState>,
    HubAuth { instance }: HubAuth,
    PathParam((_hub, object, id)): PathParam<(String, String, String)>,
) -> HubResponse {
    let result = read_item(&state, &instance, &object, None, &id).await;
    HubResponse::new(&instance, result)
}

pub async fn create(
    State(state): State<AppState>,
    HubAuth { instance }: HubAuth,
    PathParam((_hub, object)): PathParam<(String, String)>,
    JsonBody(body): JsonBody<Value>,
) -> HubResponse {
    let result = async {
        let (name, definition) = resolve(&instance, &object)?;
        allow(name, definition, Operation::Create)?;
        create_in(&state, &instance, name, definition, &definition.resource, &body).await
    }
    .await;
    HubResponse::new(&instance, result)
}

pub async fn update(
    State(state): State<AppState>,
    HubAuth { instance }: HubAuth,
    PathParam((_hub, object, id)): PathParam<(String, String, String)>,
    JsonBody(body): JsonBody<Value>,
) -> HubResponse {
    let result = async {
        let (name, definition) = resolve(&instance, &object)?;
        allow(name, definition, Operation::Update)?;
        let id = record_id(&id)?;
        let mut fields = object_body(body)?;
        drop_matching_id(definition, &mut fields, id)?;
        let path = item_path(definition, "", id);
        let current = match needs_current(definition, &fields) {
            true => Some(send_json(&state, &instance, &VendorRequest::new(Method::GET, path.clone())).await?),
            false => None,
        };
        let write = to_vendor(name, definition, &fields, WriteMode::Update, current.as_ref())
            .map_err(|error| ApiError::BadRequest(error.to_string()))?;
        let request =
            VendorRequest::new(Method::PATCH, path).query("update_mask", write.update_mask.join(",")).json(&write.body);
        let vendor = send_json(&state, &instance, &request).await?;
        Ok(record_response(&instance, definition, &vendor, StatusCode::OK))
    }
    .await;
    HubResponse::new(&instance, result)
}

pub async fn delete(
    State(state): State<AppState>,
    HubAuth { instance }: HubAuth,
    PathParam((_hub, object, id)): PathParam<(String, String, String)>,
) -> HubResponse {
    let result = delete_item(&state, &instance, &object, None, &id).await;
    HubResponse::new(&instance, result)
}

pub async fn create_child(
    State(state): State<AppState>,
    HubAuth { instance }: HubAuth,
    PathParam((_hub, object, id, child)): PathParam<(String, String, String, String)>,
    JsonBody(body): JsonBody<Value>,
) -> HubResponse {
    let result = async {
        let (_, child_name, definition) = resolve_child(&instance, &object, &child)?;
        allow(child_name, definition, Operation::Create)?;
        let parent_id = record_id(&id)?;
        let collection = definition.resource.replace("{parentId}", &parent_id.to_string());
        create_in(&state, &instance, child_name, definition, &collection, &body).await
    }
    .await;
    HubResponse::new(&instance, result)
}

pub async fn read_child(
    State(state): State<AppState>,
    HubAuth { instance }: HubAuth,
    PathParam((_hub, object, id, child, child_id)): PathParam<(String, String, String, String, String)>,
) -> HubResponse {
    let result = read_item(&state, &instance, &object, Some((&id, &child)), &child_id).await;
    HubResponse::new(&instance, result)
}

pub async fn delete_child(
    State(state): State<AppState>,
    HubAuth { instance }: HubAuth,
    PathParam((_hub, object, id, child, child_id)): PathParam<(String, String, String, String, String)>,
) -> HubResponse {
    let result = delete_item(&state, &instance, &object, Some((&id, &child)), &child_id).await;
    HubResponse::new(&instance, result)
}

/// GET of one record of `object` (or of its `child` under a parent id), mapped.
async fn read_item(
    state: &AppState,
    instance: &InstanceRecord,
    object: &str,
    child: Option<(&str, &str)>,
    id: &str,
) -> Result<Response, ApiError> {
    let (definition, path) = item(instance, object, child, id, Operation::Get)?;
    let vendor = send_json(state, instance, &VendorRequest::new(Method::GET, path)).await?;
    Ok(record_response(instance, definition, &vendor, StatusCode::OK))
}

/// DELETE of one record of `object` (or of its `child` under a parent id).
async fn delete_item(
    state: &AppState,
    instance: &InstanceRecord,
    object: &str,
    child: Option<(&str, &str)>,
    id: &str,
) -> Result<Response, ApiError> {
    let (_, path) = item(instance, object, child, id, Operation::Delete)?;
    send_json(state, instance, &VendorRequest::new(Method::DELETE, path)).await?;
    Ok(StatusCode::OK.into_response())
}

/// The definition and vendor path of record `id` of `object`, or of its child object
/// `child.1` under parent `child.0`, once `operation` is checked to be allowed.
fn item(
    instance: &InstanceRecord,
    object: &str,
    child: Option<(&str, &str)>,
    id: &str,
    operation: Operation,
) -> Result<(&'static ObjectDef, String), ApiError> {
    let (name, definition) = match child {
        None => resolve(instance, object)?,
        Some((_, child)) => {
            let (_, name, definition) = resolve_child(instance, object, child)?;
            (name, definition)
        }
    };
    allow(name, definition, operation)?;
    let parent_id = match child {
        None => String::new(),
        Some((parent_id, _)) => record_id(parent_id)?.to_string(),
    };
    Ok((definition, item_path(definition, &parent_id, record_id(id)?)))
}

/// Creates a record of `definition` in the vendor collection `collection` from the hub body.
async fn create_in(
    state: &AppState,
    instance: &InstanceRecord,
    name: &str,
    definition: &ObjectDef,
    collection: &str,
    body: &Value,
) -> Result<Response, ApiError> {
    let fields = object_body(body.clone())?;
    let write = to_vendor(name, definition, &fields, WriteMode::Create, None)
        .map_err(|error| ApiError::BadRequest(error.to_string()))?;
    let vendor = send_json(state, instance, &VendorRequest::new(Method::POST, collection).json(&write.body)).await?;
    Ok(record_response(instance, definition, &vendor, StatusCode::OK))
}

/// The parent object and its child `child` (`orders` and `items`).
pub fn resolve_child(
    instance: &InstanceRecord,
    object: &str,
    child: &str,
) -> Result<(&'static str, &'static str, &'static ObjectDef), ApiError> {
    let (parent, definition) = resolve(instance, object)?;
    let (child_name, child_definition) =
        definition.children.iter().find(|(name, _)| name.eq_ignore_ascii_case(child)).ok_or_else(|| {
            let shown: String = child.chars().take(64).collect();
            let known: Vec<&str> = definition.children.keys().map(String::as_str).collect();
            ApiError::NotFound(format!(
                "{parent} has no child object '{shown}' (it has: {})",
                if known.is_empty() { "none".to_string() } else { known.join(", ") }
            ))
        })?;
    Ok((parent, child_name.as_str(), child_definition))
}

/// A 405 naming what the object does not support.
pub fn allow(name: &str, definition: &ObjectDef, operation: Operation) -> Result<(), ApiError> {
    if definition.allows(operation) {
        return Ok(());
    }
    let verb = match operation {
        Operation::List => "listed",
        Operation::Get => "read one by one",
        Operation::Create => "created",
        Operation::Update => "updated",
        Operation::Delete => "deleted",
    };
    Err(ApiError::MethodNotAllowed(format!("{name} cannot be {verb} through the vendor's API")))
}

/// A record id from the path: the vendor's ids are positive integers.
pub fn record_id(text: &str) -> Result<u64, ApiError> {
    text.trim().parse::<u64>().ok().filter(|id| *id > 0).ok_or_else(|| {
        let shown: String = text.chars().take(32).collect();
        ApiError::BadRequest(format!("Invalid id '{shown}': expected a positive integer"))
    })
}

/// `{resource}/{id}`, with `{parentId}` filled for child objects.
fn item_path(definition: &ObjectDef, parent_id: &str, id: u64) -> String {
    format!("{}/{id}", definition.resource.replace("{parentId}", parent_id))
}

fn object_body(body: Value) -> Result<Map<String, Value>, ApiError> {
    match body {
        Value::Object(fields) if !fields.is_empty() => Ok(fields),
        Value::Object(_) => Err(ApiError::BadRequest("The request body has no fields to write".into())),
        _ => Err(ApiError::BadRequest("The request body must be a JSON object of fields".into())),
    }
}

/// Clients often send back the record they read, id included: an id equal to the path's is
/// accepted and dropped, another id is refused.
fn drop_matching_id(definition: &ObjectDef, fields: &mut Map<String, Value>, id: u64) -> Result<(), ApiError> {
    let Some(key) = fields.keys().find(|key| key.eq_ignore_ascii_case(&definition.id_field)).cloned() else {
        return Ok(());
    };
    let given = fields.get(&key).cloned().unwrap_or(Value::Null);
    let same = given.as_u64() == Some(id) || given.as_str().is_some_and(|text| text.trim() == id.to_string());
    if !same {
        return Err(ApiError::BadRequest(format!("Field {key} does not match the id in the path ({id})")));
    }
    fields.remove(&key);
    Ok(())
}

fn record_response(instance: &InstanceRecord, definition: &ObjectDef, vendor: &Value, status: StatusCode) -> Response {
    let record = shape(to_hub(definition, vendor), drops_nulls(instance), None);
    (status, Json(record)).into_response()
}
