//! The object catalog as clients see it: `GET /hubs/{hub}/objects` (names) and
//! `GET /hubs/{hub}/objects/{object}/metadata`, both for the instance's element; also at the API
//! root (`GET /objects`, `GET /objects/{object}/metadata`), where the platforms served them too.
//! The instance's common resources are listed and described beside the element's objects.

use axum::extract::State;
use axum::response::IntoResponse;
use axum::Json;
use connector::rate_limit::Priority;

use super::response::HubResponse;
use crate::auth::HubAuth;
use crate::path_param::PathParam;
use crate::state::AppState;

/// The element's objects, then the instance's common resources.
pub async fn list_objects(State(state): State<AppState>, HubAuth { instance }: HubAuth) -> HubResponse {
    let result = state.platform.common_objects(&instance).await.map(|common| {
        let call = state.platform.instance_call(&instance).with_common(common);
        Json(hub::objects::all_names(&call.session(Priority::Interactive, None))).into_response()
    });
    HubResponse::new(&instance, result.map_err(Into::into))
}

pub async fn metadata(
    State(state): State<AppState>,
    HubAuth { instance }: HubAuth,
    PathParam((_hub, object)): PathParam<(String, String)>,
) -> HubResponse {
    describe(&state, &instance, &object).await
}

/// `GET /objects/{object}/metadata`, without the hub segment.
pub async fn root_metadata(
    State(state): State<AppState>,
    HubAuth { instance }: HubAuth,
    PathParam(object): PathParam<String>,
) -> HubResponse {
    describe(&state, &instance, &object).await
}

async fn describe(state: &AppState, instance: &store::InstanceRecord, object: &str) -> HubResponse {
    let common = match state.platform.common_objects(instance).await {
        Ok(common) => common,
        Err(error) => return HubResponse::new(instance, Err(error.into())),
    };
    let call = state.platform.instance_call(instance).with_common(common);
    let result = hub::objects::metadata(&call.session(Priority::Interactive, None), object);
    HubResponse::new(instance, result.map(|metadata| Json(metadata).into_response()).map_err(Into::into))
}
