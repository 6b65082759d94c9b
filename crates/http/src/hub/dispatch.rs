//! The object routes: one handler per path shape, which checks that the object supports the
//! request's method before anything else (the body is not read for a method that is refused), so
//! that a 405 names exactly the methods the object supports in `Allow` (`campaigns` are read-only:
//! `Allow: GET`), as the element's API document declares them.

use std::sync::Arc;

use axum::extract::{FromRequest, FromRequestParts, Request, State};
use axum::http::Method;
use axum::response::{IntoResponse, Response};
use mapping::common::CommonObjects;
use mapping::{ObjectDef, Operation};
use store::InstanceRecord;

use super::response::HubResponse;
use super::{list, records};
use crate::auth::HubAuth;
use crate::error::ApiError;
use crate::json_body::{JsonBody, QueryParams};
use crate::path_param::PathParam;
use crate::state::AppState;

/// Which path shape a request is on: the methods each operation answers to differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    /// `/{object}` and `/{object}/{id}/{child}`: list and create.
    Collection,
    /// `/{object}/{id}` and `/{object}/{id}/{child}/{childId}`: read, update, delete.
    Record,
}

/// `/hubs/{hub}/{object}`.
pub async fn collection(
    State(state): State<AppState>,
    HubAuth { instance }: HubAuth,
    PathParam((hub, object)): PathParam<(String, String)>,
    request: Request,
) -> Response {
    let common = match common_objects(&state, &instance).await {
        Ok(common) => common,
        Err(refused) => return refused,
    };
    let definition =
        hub::objects::lookup(&instance.element_key, Some(&common), &object).map(|found| (found.name, found.definition));
    let (mut parts, body) = match allowed(definition, Shape::Collection, request) {
        Ok(request) => request.into_parts(),
        Err(refused) => return HubResponse::new(&instance, Err(refused)).into_response(),
    };
    let (auth, path) = (HubAuth { instance: instance.clone() }, PathParam((hub, object)));
    if parts.method == Method::POST {
        return match JsonBody::from_request(Request::from_parts(parts, body), &state).await {
            Ok(body) => records::create(State(state), auth, common, path, body).await.into_response(),
            Err(error) => HubResponse::new(&instance, Err(error)).into_response(),
        };
    }
    match QueryParams::from_request_parts(&mut parts, &state).await {
        Ok(query) => list::list(State(state), auth, common, path, query).await.into_response(),
        Err(error) => HubResponse::new(&instance, Err(error)).into_response(),
    }
}

/// `/hubs/{hub}/{object}/{id}`.
pub async fn record(
    State(state): State<AppState>,
    HubAuth { instance }: HubAuth,
    PathParam((hub, object, id)): PathParam<(String, String, String)>,
    request: Request,
) -> Response {
    let common = match common_objects(&state, &instance).await {
        Ok(common) => common,
        Err(refused) => return refused,
    };
    let definition =
        hub::objects::lookup(&instance.element_key, Some(&common), &object).map(|found| (found.name, found.definition));
    let request = match allowed(definition, Shape::Record, request) {
        Ok(request) => request,
        Err(refused) => return HubResponse::new(&instance, Err(refused)).into_response(),
    };
    let (auth, path) = (HubAuth { instance: instance.clone() }, PathParam((hub, object, id)));
    match request.method().clone() {
        Method::DELETE => records::delete(State(state), auth, common, path).await.into_response(),
        Method::PATCH | Method::PUT => match JsonBody::from_request(request, &state).await {
            Ok(body) => records::update(State(state), auth, common, path, body).await.into_response(),
            Err(error) => HubResponse::new(&instance, Err(error)).into_response(),
        },
        _ => records::read(State(state), auth, common, path).await.into_response(),
    }
}

/// The instance's common resources, or the error response of a store that could not load them.
async fn common_objects(state: &AppState, instance: &Arc<InstanceRecord>) -> Result<Arc<CommonObjects>, Response> {
    state
        .platform
        .common_objects(instance)
        .await
        .map_err(|error| HubResponse::new(instance, Err(error.into())).into_response())
}

/// `/hubs/{hub}/{object}/{id}/{child}`.
pub async fn children(
    State(state): State<AppState>,
    HubAuth { instance }: HubAuth,
    PathParam((hub, object, id, child)): PathParam<(String, String, String, String)>,
    request: Request,
) -> Response {
    let definition =
        hub::objects::resolve_child(&instance.element_key, &object, &child).map(|(_, name, child)| (name, child));
    let (mut parts, body) = match allowed(definition, Shape::Collection, request) {
        Ok(request) => request.into_parts(),
        Err(refused) => return HubResponse::new(&instance, Err(refused)).into_response(),
    };
    let (auth, path) = (HubAuth { instance: instance.clone() }, PathParam((hub, object, id, child)));
    if parts.method == Method::POST {
        return match JsonBody::from_request(Request::from_parts(parts, body), &state).await {
            Ok(body) => records::create_child(State(state), auth, path, body).await.into_response(),
            Err(error) => HubResponse::new(&instance, Err(error)).into_response(),
        };
    }
    match QueryParams::from_request_parts(&mut parts, &state).await {
        Ok(query) => list::list_children(State(state), auth, path, query).await.into_response(),
        Err(error) => HubResponse::new(&instance, Err(error)).into_response(),
    }
}

/// `/hubs/{hub}/{object}/{id}/{child}/{childId}`.
pub async fn child_record(
    State(state): State<AppState>,
    HubAuth { instance }: HubAuth,
    PathParam(path): PathParam<(String, String, String, String, String)>,
    request: Request,
) -> Response {
    let definition =
        hub::objects::resolve_child(&instance.element_key, &path.1, &path.3).map(|(_, name, child)| (name, child));
    let request = match allowed(definition, Shape::Record, request) {
        Ok(request) => request,
        Err(refused) => return HubResponse::new(&instance, Err(refused)).into_response(),
    };
    let auth = HubAuth { instance };
    match *request.method() {
        Method::DELETE => records::delete_child(State(state), auth, PathParam(path)).await.into_response(),
        _ => records::read_child(State(state), auth, PathParam(path)).await.into_response(),
    }
}

/// The request, if its method is one the object supports on this path shape; else the 404 of an
/// unknown object, or a 405 with `Allow`.
fn allowed(
    object: Result<(&str, &ObjectDef), hub::HubError>,
    shape: Shape,
    request: Request,
) -> Result<Request, ApiError> {
    let (name, definition) = object?;
    let methods = methods(definition, shape);
    let method = request.method();
    // HEAD is answered as GET wherever GET is (the HTTP server drops the body).
    if methods.contains(method) || (method == Method::HEAD && methods.contains(&Method::GET)) {
        return Ok(request);
    }
    let allow = methods.iter().map(Method::as_str).collect::<Vec<_>>().join(", ");
    // A method the platforms knew for this shape: the engine's sentence for that operation.
    let operation = match (shape, method.clone()) {
        (Shape::Collection, Method::GET) => Some(Operation::List),
        (Shape::Collection, Method::POST) => Some(Operation::Create),
        (Shape::Record, Method::GET) => Some(Operation::Get),
        (Shape::Record, Method::PATCH | Method::PUT) => Some(Operation::Update),
        (Shape::Record, Method::DELETE) => Some(Operation::Delete),
        _ => None,
    };
    let message = match operation.map(|operation| hub::objects::allow(name, definition, operation)) {
        Some(Err(refused)) => refused.to_string(),
        _ => "This resource does not support this method".to_string(),
    };
    Err(ApiError::MethodNotAllowed { message, allow: Some(allow) })
}

/// The methods `definition` supports on `shape`, in a fixed order.
fn methods(definition: &ObjectDef, shape: Shape) -> Vec<Method> {
    let by_operation: &[(Operation, Method)] = match shape {
        Shape::Collection => &[(Operation::List, Method::GET), (Operation::Create, Method::POST)],
        Shape::Record => &[
            (Operation::Get, Method::GET),
            (Operation::Update, Method::PATCH),
            (Operation::Update, Method::PUT),
            (Operation::Delete, Method::DELETE),
        ],
    };
    by_operation
        .iter()
        .filter(|(operation, _)| definition.allows(*operation))
        .map(|(_, method)| method.clone())
        .collect()
}
