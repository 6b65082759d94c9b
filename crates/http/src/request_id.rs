//! The `Elements-Request-Id` of every response, the request's tracing span, and the one log line
//! per request.
//!
//! The id is generated here (the platforms' 24 hex digits), made available to the error body
//! through a task-local (handlers and extractors run inside the middleware's future), and set on
//! every response, successful or not. The request runs inside a `request` span carrying
//! `request_id`, and `instance_id` once the caller's instance is known ([`record_instance`]), so
//! that every line logged while serving it names both (`--log-format json` lists the span's
//! fields on each line). The log line names method, path, status and latency: never the query
//! string (`/oauth/url` carries `apiSecret` there) nor any header.

use std::time::Instant;

use axum::extract::Request;
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use domain::InstanceId;
use tracing::Instrument;

/// The response header carrying the request id.
pub const HEADER: &str = "elements-request-id";

tokio::task_local! {
    static REQUEST_ID: String;
}

/// The id of the request being served, or a fresh one outside a request.
pub fn current() -> String {
    REQUEST_ID.try_with(Clone::clone).unwrap_or_else(|_| generate())
}

fn generate() -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let bytes: [u8; 12] = rand::random();
    // Per request: two table lookups a byte, not a `format!` each (a tenth of the raw
    // passthrough's instructions went to the twelve of them; BENCHMARKS.md "The hot path").
    let mut id = String::with_capacity(24);
    for byte in bytes {
        id.push(char::from(HEX[usize::from(byte >> 4)]));
        id.push(char::from(HEX[usize::from(byte & 0x0f)]));
    }
    id
}

/// Records the instance the request acts on into its span, so that the lines logged from here to
/// the response name it. Outside a request it does nothing.
pub fn record_instance(id: InstanceId) {
    tracing::Span::current().record("instance_id", id.get());
}

/// Middleware: assigns the id, runs the request with it in scope and inside its span, tags and
/// logs the response.
pub async fn assign(request: Request, next: Next) -> Response {
    let id = generate();
    let span = tracing::info_span!("request", request_id = %id, instance_id = tracing::field::Empty);
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let started = Instant::now();
    let served = async move {
        let mut response = REQUEST_ID.scope(id.clone(), next.run(request)).await;
        if let Ok(value) = HeaderValue::from_str(&id) {
            response.headers_mut().insert(HEADER, value);
        }
        // Inside the span: the line carries the request id, and the instance when one was resolved.
        tracing::info!(
            %method,
            %path,
            status = response.status().as_u16(),
            latency_ms = started.elapsed().as_millis() as u64,
            "request"
        );
        response
    };
    served.instrument(span).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_24_hex_digits_and_differ() {
        let (a, b) = (generate(), generate());
        assert_eq!(a.len(), 24);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }

    #[tokio::test]
    async fn the_current_id_is_the_scoped_one() {
        let seen = REQUEST_ID.scope("abc".to_string(), async { current() }).await;
        assert_eq!(seen, "abc");
    }
}
