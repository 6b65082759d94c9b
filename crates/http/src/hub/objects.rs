//! The object catalog as clients see it: `GET /hubs/{hub}/objects` (names) and
//! `GET /hubs/{hub}/objects/{object}/metadata`, both for the instance's element; also at the API
//! root (`GET /objects`, `GET /objects/{object}/metadata`), where the platforms served them too.

use axum::response::IntoResponse;
use axum::Json;

use super::response::HubResponse;
use crate::auth::HubAuth;
use crate::path_param::PathParam;

pub async fn list_objects(HubAuth { instance }: HubAuth) -> HubResponse {
    let names = hub::objects::names(&instance.element_key);
    HubResponse::new(&instance, Ok(Json(names).into_response()))
}

pub async fn metadata(
    HubAuth { instance }: HubAuth,
    PathParam((_hub, object)): PathParam<(String, String)>,
) -> HubResponse {
    describe(&instance, &object)
}

/// `GET /objects/{object}/metadata`, without the hub segment.
pub async fn root_metadata(HubAuth { instance }: HubAuth, PathParam(object): PathParam<String>) -> HubResponse {
    describe(&instance, &object)
}

fn describe(instance: &store::InstanceRecord, object: &str) -> HubResponse {
    let result = hub::objects::metadata(&instance.element_key, object);
    HubResponse::new(instance, result.map(|metadata| Json(metadata).into_response()).map_err(Into::into))
}
