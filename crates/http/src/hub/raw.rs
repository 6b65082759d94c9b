//! `ANY /hubs/{hub}/raw/{vendor path}`: a vendor REST call passed through the hub engine with the
//! instance's credentials injected, and the vendor's answer returned as it came: status, body, and
//! the headers a client can use (content type, the vendor's rate-limit headers, `Retry-After`,
//! `Location`). The engine refuses paths that would leave the vendor's REST base.

use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, FromRequestParts, RawQuery, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use connector::rate_limit::Priority;
use connector::VendorReply;
use store::InstanceRecord;

use super::response::HubResponse;
use crate::auth::HubAuth;
use crate::error::ApiError;
use crate::json_body::RawBody;
use crate::path_param::PathParam;
use crate::state::AppState;

/// Response headers of the vendor's worth passing on.
const PASSED_HEADERS: [&str; 3] = ["content-type", "retry-after", "location"];

/// The route's template, as the router matches and the metrics count it.
pub const ROUTE: &str = api!("/hubs/{hub}/raw/{*path}");
/// What a request path on [`ROUTE`] starts with, up to the hub segment.
const HUBS: &str = api!("/hubs/");

pub async fn passthrough(
    State(state): State<AppState>,
    HubAuth { instance }: HubAuth,
    method: Method,
    PathParam((_hub, path)): PathParam<(String, String)>,
    RawQuery(query): RawQuery,
    ContentType(content_type): ContentType,
    RawBody(body): RawBody,
) -> HubResponse {
    pass(&state, &instance, method, &path, query.as_deref(), content_type, body).await
}

/// The `{*path}` of a request path on [`ROUTE`] that holds no escape, which is then the path the
/// router gives the handler (it decodes escapes); `None` for any other path.
pub fn vendor_path(path: &str) -> Option<&str> {
    let (hub, rest) = path.strip_prefix(HUBS)?.split_once('/')?;
    let path = rest.strip_prefix("raw/")?;
    (!hub.is_empty() && !path.is_empty() && !path.contains('%') && !hub.contains('%')).then_some(path)
}

/// [`passthrough`] for a request [`crate::app`] serves without the router, on a path
/// [`vendor_path`] takes: the same extractors, in the same order, on the same request.
pub async fn serve(state: AppState, request: Request) -> Response {
    let (mut parts, body) = request.into_parts();
    let Some(path) = vendor_path(parts.uri.path()).map(str::to_string) else {
        return ApiError::NotFound("No such resource".into()).into_response();
    };
    let HubAuth { instance } = match HubAuth::from_request_parts(&mut parts, &state).await {
        Ok(auth) => auth,
        Err(refused) => return refused.into_response(),
    };
    let Ok(ContentType(content_type)) = ContentType::from_request_parts(&mut parts, &state).await;
    let method = parts.method.clone();
    let query = parts.uri.query().map(str::to_string);
    let body = match RawBody::from_request(Request::from_parts(parts, body), &state).await {
        Ok(RawBody(body)) => body,
        Err(refused) => return refused.into_response(),
    };
    pass(&state, &instance, method, &path, query.as_deref(), content_type, body).await.into_response()
}

/// The vendor call of a raw passthrough, and its answer.
async fn pass(
    state: &AppState,
    instance: &InstanceRecord,
    method: Method,
    path: &str,
    query: Option<&str>,
    content_type: Option<String>,
    body: Bytes,
) -> HubResponse {
    let result = async {
        let query: Vec<(String, String)> = serde_urlencoded::from_str(query.unwrap_or(""))
            .map_err(|_| ApiError::BadRequest("The query string is not valid URL encoding".into()))?;
        let call = state.platform.instance_call(instance);
        let session = call.session(Priority::Interactive, None);
        let reply = state.platform.hub.raw(&session, method, path, query, body, content_type).await?;
        Ok(answer(reply))
    }
    .await;
    HubResponse::new(instance, result)
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

/// The vendor's answer: its status and body, and the headers worth passing on, in the vendor's own
/// header map with the others taken out (putting a dozen headers into a new map hashed and placed
/// each again, and a name of the vendor's own, such as `x-keap-product-throttle-available`, was
/// copied into memory of its own when cloned). Of a header sent more than once, the last value. A
/// body without a media type is `application/octet-stream`.
fn answer(reply: VendorReply) -> Response {
    let mut headers = reply.headers;
    if headers.len() != headers.keys_len() {
        keep_last_values(&mut headers);
    }
    let dropped: Vec<HeaderName> = headers.keys().filter(|name| !passed(name)).cloned().collect();
    for name in &dropped {
        headers.remove(name);
    }
    if !headers.contains_key(header::CONTENT_TYPE) {
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/octet-stream"));
    }
    let mut response = Response::new(Body::from(reply.body));
    *response.status_mut() = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::BAD_GATEWAY);
    *response.headers_mut() = headers;
    response
}

/// Leaves each header of `headers` with its last value alone.
fn keep_last_values(headers: &mut HeaderMap) {
    let repeated: Vec<(HeaderName, HeaderValue)> = headers
        .keys()
        .filter(|name| headers.get_all(*name).iter().nth(1).is_some())
        .filter_map(|name| Some((name.clone(), headers.get_all(name).iter().next_back()?.clone())))
        .collect();
    for (name, last) in repeated {
        headers.insert(name, last);
    }
}

/// Whether a vendor response header is passed on to the client.
fn passed(name: &HeaderName) -> bool {
    PASSED_HEADERS.contains(&name.as_str()) || name.as_str().starts_with("x-keap-")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(headers: &[(&'static str, &'static str)]) -> VendorReply {
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            map.append(*name, HeaderValue::from_static(value));
        }
        VendorReply { status: 201, headers: map, body: "{}".into() }
    }

    #[test]
    fn the_answer_passes_on_the_media_type_location_retry_after_and_the_vendors_own_headers() {
        let answer = answer(reply(&[
            ("content-type", "application/json"),
            ("set-cookie", "a=1"),
            ("x-keap-product-throttle-available", "24"),
            ("location", "/v2/contacts/9"),
            ("retry-after", "1"),
            ("x-keap-tenant-id", "ab123"),
            ("x-keap-tenant-id", "cd456"),
            ("server", "vendor"),
        ]));
        assert_eq!(answer.status(), StatusCode::CREATED);
        let mut headers: Vec<(&str, &str)> =
            answer.headers().iter().map(|(name, value)| (name.as_str(), value.to_str().unwrap())).collect();
        headers.sort();
        assert_eq!(
            headers,
            [
                ("content-type", "application/json"),
                ("location", "/v2/contacts/9"),
                ("retry-after", "1"),
                ("x-keap-product-throttle-available", "24"),
                // Of a header sent twice, the last value.
                ("x-keap-tenant-id", "cd456"),
            ]
        );
    }

    #[test]
    fn an_answer_without_a_media_type_is_an_octet_stream_and_an_odd_status_a_502() {
        let mut odd = reply(&[("x-keap-tenant-id", "ab123")]);
        odd.status = 1000;
        let answer = answer(odd);
        assert_eq!(answer.status(), StatusCode::BAD_GATEWAY);
        assert_eq!(answer.headers()["content-type"], "application/octet-stream");
        assert_eq!(answer.headers()["x-keap-tenant-id"], "ab123");
    }
}
