//! `ANY /hubs/{hub}/raw/{vendor path}`: a vendor REST call passed through the hub engine with the
//! instance's credentials injected, and the vendor's answer returned as it came: status, body, and
//! the headers a client can use (content type, the vendor's rate-limit headers, `Retry-After`,
//! `Location`). The engine refuses paths that would leave the vendor's REST base.

use axum::extract::{FromRequestParts, RawQuery, State};
use axum::http::request::Parts;
use axum::http::{header, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use connector::rate_limit::Priority;
use connector::VendorReply;

use super::response::HubResponse;
use crate::auth::HubAuth;
use crate::error::ApiError;
use crate::json_body::RawBody;
use crate::path_param::PathParam;
use crate::state::AppState;

/// Response headers of the vendor's worth passing on.
const PASSED_HEADERS: [&str; 3] = ["content-type", "retry-after", "location"];

pub async fn passthrough(
    State(state): State<AppState>,
    HubAuth { instance }: HubAuth,
    method: Method,
    PathParam((_hub, path)): PathParam<(String, String)>,
    RawQuery(query): RawQuery,
    ContentType(content_type): ContentType,
    RawBody(body): RawBody,
) -> HubResponse {
    let result = async {
        let query: Vec<(String, String)> = serde_urlencoded::from_str(query.as_deref().unwrap_or(""))
            .map_err(|_| ApiError::BadRequest("The query string is not valid URL encoding".into()))?;
        let call = state.platform.instance_call(&instance);
        let session = call.session(Priority::Interactive, None);
        let reply = state.platform.hub.raw(&session, method, &path, query, body, content_type).await?;
        Ok(answer(reply))
    }
    .await;
    HubResponse::new(&instance, result)
}

/// The request's `Content-Type`, passed on with its body: the one header read, rather than a copy
/// of them all (axum's `HeaderMap` extractor clones the map, about 1,000 instructions a call).
pub struct ContentType(Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for ContentType {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let value = parts.headers.get(header::CONTENT_TYPE).and_then(|value| value.to_str().ok());
        Ok(ContentType(value.map(str::to_string)))
    }
}

fn answer(reply: VendorReply) -> Response {
    let status = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::BAD_GATEWAY);
    let mut response = (status, reply.body).into_response();
    for (name, value) in &reply.headers {
        let name_text = name.as_str();
        if PASSED_HEADERS.contains(&name_text) || name_text.starts_with("x-keap-") {
            response.headers_mut().insert(name.clone(), value.clone());
        }
    }
    response
}
