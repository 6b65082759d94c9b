//! What every hub answer carries: the `elements-element-instance-id` header (on errors too).

use axum::http::{HeaderName, HeaderValue};
use axum::response::{IntoResponse, Response};
use store::{InstanceId, InstanceRecord};

use crate::error::ApiError;

/// The header naming the instance a hub call acted on (named once, not parsed on every answer).
const INSTANCE_ID: HeaderName = HeaderName::from_static("elements-element-instance-id");

/// A hub handler's outcome, answered with the instance id header whatever it is.
pub struct HubResponse {
    pub instance_id: InstanceId,
    pub result: Result<Response, ApiError>,
}

impl HubResponse {
    pub fn new(instance: &InstanceRecord, result: Result<Response, ApiError>) -> Self {
        HubResponse { instance_id: instance.id, result }
    }
}

impl IntoResponse for HubResponse {
    fn into_response(self) -> Response {
        let mut response = self.result.into_response();
        response.headers_mut().insert(INSTANCE_ID, HeaderValue::from(self.instance_id.get()));
        response
    }
}
