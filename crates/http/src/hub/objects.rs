//! The object catalog as clients see it: `GET /hubs/{hub}/objects` (names) and
//! `GET /hubs/{hub}/objects/{object}/metadata`, both for the instance's element.

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
    let result = hub::objects::metadata(&instance.element_key, &object);
    HubResponse::new(&instance, result.map(|metadata| Json(metadata).into_response()).map_err(Into::into))
}
