//! What every hub answer carries: the `elements-element-instance-id` header (on errors too), and
//! records with or without their null fields as the instance's `filter.response.nulls` says
//! (default true: nulls dropped, as the platforms did).

use axum::http::HeaderValue;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value};
use store::{Id, InstanceRecord};

use crate::error::ApiError;

/// A hub handler's outcome, answered with the instance id header whatever it is.
pub struct HubResponse {
    pub instance_id: Id,
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
        response.headers_mut().insert("elements-element-instance-id", HeaderValue::from(self.instance_id));
        response
    }
}

/// Whether the instance wants null fields dropped from records.
pub fn drops_nulls(instance: &InstanceRecord) -> bool {
    instance.configuration.get("filter.response.nulls").is_none_or(|value| !value.trim().eq_ignore_ascii_case("false"))
}

/// `record` as the instance wants it: null fields dropped (unless configured otherwise), and only
/// `fields` when the client named some.
pub fn shape(mut record: Map<String, Value>, drop_nulls: bool, fields: Option<&[String]>) -> Value {
    if let Some(fields) = fields {
        record.retain(|name, _| fields.iter().any(|wanted| wanted.eq_ignore_ascii_case(name)));
    }
    if drop_nulls {
        record.retain(|_, value| !value.is_null());
    }
    Value::Object(record)
}
