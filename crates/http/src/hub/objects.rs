//! The object catalog as clients see it: `GET /hubs/{hub}/objects` (names) and
//! `GET /hubs/{hub}/objects/{object}/metadata` (fields, types, which are writable, filterable and
//! sortable), both for the instance's element.

use axum::extract::State;
use axum::response::IntoResponse;
use axum::Json;
use mapping::{ObjectCatalog, ObjectDef};
use serde_json::{json, Value};
use store::InstanceRecord;

use super::response::HubResponse;
use crate::auth::HubAuth;
use crate::error::ApiError;
use crate::path_param::PathParam;
use crate::state::AppState;

pub async fn list_objects(HubAuth { instance }: HubAuth) -> HubResponse {
    let names: Vec<&str> = ObjectCatalog::builtin().objects(&instance.element_key).map(|(name, _)| name).collect();
    HubResponse::new(&instance, Ok(Json(names).into_response()))
}

pub async fn metadata(
    State(_): State<AppState>,
    HubAuth { instance }: HubAuth,
    PathParam((_hub, object)): PathParam<(String, String)>,
) -> HubResponse {
    let result = resolve(&instance, &object).map(|(name, definition)| Json(describe(name, definition)).into_response());
    HubResponse::new(&instance, result)
}

/// The instance's element's object `name`, or a 404 that says where the names are listed.
pub fn resolve(instance: &InstanceRecord, name: &str) -> Result<(&'static str, &'static ObjectDef), ApiError> {
    ObjectCatalog::builtin().object(&instance.element_key, name).ok_or_else(|| {
        let shown: String = name.chars().take(64).collect();
        ApiError::NotFound(format!(
            "Unknown object '{shown}' for element {}; GET /hubs/{{hub}}/objects lists them",
            instance.element_key
        ))
    })
}

fn describe(name: &str, object: &ObjectDef) -> Value {
    let fields: Vec<Value> = object
        .fields
        .iter()
        .map(|field| {
            json!({
                "name": field.name,
                "type": field.field_type,
                "vendorPath": field.path,
                "writable": field.writable,
                "filterable": true,
                "pushedDown": field.filters.iter().map(|filter| &filter.name).collect::<Vec<_>>(),
                "sortable": field.sort.is_some(),
                "description": field.description,
            })
        })
        .collect();
    json!({
        "name": name,
        "vendorResource": object.resource,
        "idField": object.id_field,
        "operations": object.operations,
        "children": object.children.keys().collect::<Vec<_>>(),
        "fields": fields,
    })
}
