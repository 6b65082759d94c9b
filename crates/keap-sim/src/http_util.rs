//! Request plumbing shared by the routers: bounded body reading, form and query decoding that keep
//! repeated keys, and the JSON-object body every write endpoint takes. Errors come back in the
//! vendor's 400/413 shape instead of the framework's plain-text rejections.

use crate::errors::ApiError;
use axum::body::{Body, Bytes};
use axum::http::{header, HeaderMap, StatusCode};
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
    fn query_lists_accept_repeated_and_comma_forms() {
        let q = QueryParams::parse(Some("update_mask=a&update_mask=b,c&fields="));
        assert_eq!(q.list("update_mask").unwrap(), vec!["a", "b", "c"]);
        assert_eq!(q.list("fields").unwrap(), Vec::<String>::new());
        assert!(q.list("missing").is_none());
    }
}
