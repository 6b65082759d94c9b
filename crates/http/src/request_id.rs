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

use std::convert::Infallible;
use std::task::{Context, Poll};
use std::time::Instant;

use axum::extract::Request;
use axum::http::{HeaderValue, Method, Uri};
use axum::response::Response;
use domain::InstanceId;
use tokio::task::futures::TaskLocalFuture;
use tower::{Layer, Service};
use tracing::instrument::Instrumented;
use tracing::Instrument;

use crate::hooks::{AfterResponse, Step};

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
#[derive(Clone)]
pub struct AssignLayer;

impl<S> Layer<S> for AssignLayer {
    type Service = Assign<S>;

    fn layer(&self, inner: S) -> Assign<S> {
        Assign { inner }
    }
}

/// A route whose requests are given an id, a span and a log line.
#[derive(Clone)]
pub struct Assign<S> {
    inner: S,
}

impl<S> Service<Request> for Assign<S>
where
    S: Service<Request, Response = Response, Error = Infallible>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Instrumented<AfterResponse<TaskLocalFuture<String, S::Future>, Served>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let id = generate();
        let span = tracing::info_span!("request", request_id = %id, instance_id = tracing::field::Empty);
        let served = Served {
            header: HeaderValue::from_str(&id).ok(),
            method: request.method().clone(),
            uri: request.uri().clone(),
            started: Instant::now(),
        };
        // The route's future does its work when polled: inside the scope and the span.
        let answer = REQUEST_ID.scope(id, self.inner.call(request));
        AfterResponse::new(answer, Some(served)).instrument(span)
    }
}

/// A request being served, for its response's header and log line.
pub struct Served {
    header: Option<HeaderValue>,
    method: Method,
    uri: Uri,
    started: Instant,
}

impl Step for Served {
    fn after(self, response: &mut Response) {
        if let Some(value) = self.header {
            response.headers_mut().insert(HEADER, value);
        }
        // Inside the span: the line carries the request id, and the instance when one was resolved.
        tracing::info!(
            method = %self.method,
            path = %self.uri.path(),
            status = response.status().as_u16(),
            latency_ms = self.started.elapsed().as_millis() as u64,
            "request"
        );
    }
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
