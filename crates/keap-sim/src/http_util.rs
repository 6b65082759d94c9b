//! Request plumbing shared by the routers: bounded body reading, form and query decoding that keep
//! repeated keys, and the JSON-object body every write endpoint takes. Errors come back in the
//! vendor's 400/413 shape instead of the framework's plain-text rejections.

use crate::errors::ApiError;
use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value};
use std::collections::HashMap;

/// Largest JSON body the REST APIs accept.
pub const MAX_JSON_BODY: usize = 1024 * 1024;

/// Reads a whole body, refusing more than `limit` bytes.
pub async fn read_body(body: Body, limit: usize) -> Result<Bytes, ApiError> {
    axum::body::to_bytes(body, limit).await.map_err(|_| ApiError {
        status: StatusCode::PAYLOAD_TOO_LARGE,
        message: format!("Request body is larger than {limit} bytes"),
    })
}

/// Outermost middleware: reads every request body (up to [`MAX_JSON_BODY`]) before any handler
/// runs. Handlers that answer without reading the body (a 401 from the gateway, a 404, a GET with
/// a body) would otherwise leave it unread on the wire, and hyper then closes the keep-alive
/// connection without saying so. A larger body gets a 413 with `Connection: close`.
pub async fn buffer_body(request: Request, next: Next) -> Response {
    let (parts, body) = request.into_parts();
    match read_body(body, MAX_JSON_BODY).await {
        Ok(bytes) => next.run(Request::from_parts(parts, Body::from(bytes))).await,
        Err(error) => {
            let v1 = parts.uri.path().starts_with("/crm/rest/v1/");
            let mut response = if v1 { crate::errors::V1Error(error).into_response() } else { error.into_response() };
            response.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
            response
        }
    }
}

/// Whether a request path is valid UTF-8 once percent-decoded (ids are read from it as text).
pub fn path_is_utf8(path: &str) -> bool {
    let bytes = path.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (bytes[i], bytes.get(i + 1).copied().and_then(hex), bytes.get(i + 2).copied().and_then(hex)) {
            (b'%', Some(hi), Some(lo)) => {
                decoded.push((hi * 16 + lo) as u8);
                i += 3;
            }
            (b, _, _) => {
                decoded.push(b);
                i += 1;
            }
        }
    }
    std::str::from_utf8(&decoded).is_ok()
}

/// Decodes `application/x-www-form-urlencoded` bytes; the first value of a repeated key wins.
pub fn form_pairs(bytes: &[u8]) -> HashMap<String, String> {
    let mut map = HashMap::new();
    for (k, v) in form_urlencoded_pairs(bytes) {
        map.entry(k).or_insert(v);
    }
    map
}

/// Every key/value pair of a query string or form body, in order, repeated keys kept.
pub fn form_urlencoded_pairs(bytes: &[u8]) -> Vec<(String, String)> {
    serde_urlencoded::from_bytes::<Vec<(String, String)>>(bytes).unwrap_or_default()
}

/// A decoded query string that keeps repeated keys (`update_mask=a&update_mask=b`).
#[derive(Debug, Default, Clone)]
pub struct QueryParams(pub Vec<(String, String)>);

impl QueryParams {
    pub fn parse(raw: Option<&str>) -> Self {
        QueryParams(raw.map(|q| form_urlencoded_pairs(q.as_bytes())).unwrap_or_default())
    }

    /// The first value of `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    /// All values of `key`, each also split on commas, blanks dropped.
    pub fn list(&self, key: &str) -> Option<Vec<String>> {
        let values: Vec<String> = self
            .0
            .iter()
            .filter(|(k, _)| k == key)
            .flat_map(|(_, v)| v.split(',').map(|s| s.trim().to_string()).collect::<Vec<_>>())
            .filter(|s| !s.is_empty())
            .collect();
        (self.0.iter().any(|(k, _)| k == key)).then_some(values)
    }
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for QueryParams {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(QueryParams::parse(parts.uri.query()))
    }
}

/// Reads a JSON object body: a missing, malformed or non-object body is a 400 naming the problem.
pub async fn json_object(headers: &HeaderMap, body: Body) -> Result<Map<String, Value>, ApiError> {
    let bytes = read_body(body, MAX_JSON_BODY).await?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::bad_request("Request body is required"));
    }
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    if !content_type.is_empty() && !content_type.to_ascii_lowercase().contains("json") {
        return Err(ApiError {
            status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
            message: format!("Content-Type {content_type} is not supported; send application/json"),
        });
    }
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(ApiError::bad_request("Request body must be a JSON object")),
        Err(e) => Err(ApiError::bad_request(format!("Malformed JSON in request body: {e}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_decoded_paths_must_be_utf8() {
        assert!(path_is_utf8("/crm/rest/v2/contacts/caf%C3%A9"));
        assert!(!path_is_utf8("/crm/rest/v2/contacts/%FF"));
        assert!(path_is_utf8("/a/%zz/%"));
    }

    #[test]
    fn query_lists_accept_repeated_and_comma_forms() {
        let q = QueryParams::parse(Some("update_mask=a&update_mask=b,c&fields="));
        assert_eq!(q.list("update_mask").unwrap(), vec!["a", "b", "c"]);
        assert_eq!(q.list("fields").unwrap(), Vec::<String>::new());
        assert!(q.list("missing").is_none());
    }
}
