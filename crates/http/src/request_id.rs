//! The `Elements-Request-Id` of every response, the request's log context, and the one log line
//! per request.
//!
//! The id is generated here (the platforms' 24 hex digits) and set on every response, successful
//! or not. The request is served inside a task-local [`RequestContext`] holding the id, and the
//! instance the request acts on once the caller's instance is known ([`record_instance`]): the
//! error body reads the id from it, and the process's log formatter ([`in_request`]) writes both on
//! every line logged while serving the request, as a `request` span's fields. A task-local rather
//! than a tracing span: a span costs its creation, a record, an enter and an exit on every poll
//! and a close, through the subscriber's registry, 6,900 instructions a raw passthrough, a seventh
//! of Junction's own work on it (BENCHMARKS.md "The request's log context without a span"). The
//! log line names method, path, status and latency: never the query string (`/oauth/url` carries
//! `apiSecret` there) nor any header.
//!
//! The line is a `tracing` event at INFO, filtered as any other (`RUST_LOG`). The process's log
//! may take over writing it ([`write_lines_with`]): the same line, written without tracing's
//! per-event machinery (its dispatch, its field visitors through `fmt`), which cost 3,600
//! instructions a request, a sixth of Junction's own work on a raw passthrough.

use std::cell::Cell;
use std::convert::Infallible;
use std::sync::OnceLock;
use std::task::{Context, Poll};
use std::time::Instant;

use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue, Method, Uri};
use axum::response::Response;
use domain::InstanceId;
use tokio::task::futures::TaskLocalFuture;
use tower::{Layer, Service};

use crate::hooks::{AfterResponse, Step};

/// The response header carrying the request id.
pub const HEADER: &str = "elements-request-id";
/// [`HEADER`] as a header name, made once rather than parsed on every response.
const HEADER_NAME: HeaderName = HeaderName::from_static(HEADER);

tokio::task_local! {
    static REQUEST: RequestContext;
}

/// What every log line of a request names: its id, and its instance once known.
pub struct RequestContext {
    id: String,
    instance: Cell<Option<InstanceId>>,
}

/// The id of the request being served, or a fresh one outside a request.
pub fn current() -> String {
    REQUEST.try_with(|request| request.id.clone()).unwrap_or_else(|_| generate())
}

/// The request being served, if any, as its id and its instance: what the log formatter writes
/// as the `request` span of each line.
pub fn in_request<R>(write: impl FnOnce(&str, Option<InstanceId>) -> R) -> Option<R> {
    REQUEST.try_with(|request| write(&request.id, request.instance.get())).ok()
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

/// A request's log line, as [`write_lines_with`]'s writer gets it.
pub struct RequestLine<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub status: u16,
    pub latency_ms: u64,
}

/// The `target` of the request's log line, as a `tracing` event from this module has it.
pub const LINE_TARGET: &str = module_path!();

/// Writes each request's log line with `write`, called inside the request's context
/// ([`in_request`]) once the filter has let the line through, rather than as a `tracing` event.
/// The first writer given stays.
pub fn write_lines_with(write: fn(&RequestLine<'_>)) {
    let _ = LINE_WRITER.set(write);
}

static LINE_WRITER: OnceLock<fn(&RequestLine<'_>)> = OnceLock::new();

/// Records the instance the request acts on, so that the lines logged from here to the response
/// name it. Outside a request it does nothing.
pub fn record_instance(id: InstanceId) {
    let _ = REQUEST.try_with(|request| request.instance.set(Some(id)));
}

/// Middleware: assigns the id, runs the request with its context in scope, tags and logs the
/// response.
#[derive(Clone)]
pub struct AssignLayer;

impl<S> Layer<S> for AssignLayer {
    type Service = Assign<S>;

    fn layer(&self, inner: S) -> Assign<S> {
        Assign { inner }
    }
}

/// A route whose requests are given an id, a log context and a log line.
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
    type Future = TaskLocalFuture<RequestContext, AfterResponse<S::Future, Served>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let id = generate();
        let served = Served {
            header: HeaderValue::from_str(&id).ok(),
            method: request.method().clone(),
            uri: request.uri().clone(),
            started: Instant::now(),
        };
        // The route's future does its work when polled, and the log line is written after it:
        // both inside the scope.
        let answer = AfterResponse::new(self.inner.call(request), Some(served));
        REQUEST.scope(RequestContext { id, instance: Cell::new(None) }, answer)
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
            response.headers_mut().insert(HEADER_NAME, value);
        }
        // Inside the scope: the line carries the request id, and the instance when one was resolved.
        let line = RequestLine {
            method: self.method.as_str(),
            path: self.uri.path(),
            status: response.status().as_u16(),
            latency_ms: self.started.elapsed().as_millis() as u64,
        };
        match LINE_WRITER.get() {
            // The writer names no span a library may have entered; the event does.
            Some(write) if tracing::Span::current().is_none() => {
                if tracing::enabled!(tracing::Level::INFO) {
                    write(&line);
                }
            }
            _ => log_line(&line),
        }
    }
}

/// The request's line as a `tracing` event.
pub fn log_line(line: &RequestLine<'_>) {
    tracing::info!(
        method = %line.method,
        path = %line.path,
        status = line.status,
        latency_ms = line.latency_ms,
        "request"
    );
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
    async fn the_current_id_and_instance_are_the_scoped_ones() {
        let context = RequestContext { id: "abc".to_string(), instance: Cell::new(None) };
        let seen = REQUEST
            .scope(context, async {
                let before = in_request(|id, instance| (id.to_string(), instance));
                record_instance(InstanceId::new(7));
                (current(), before, in_request(|_, instance| instance))
            })
            .await;
        assert_eq!(seen, ("abc".to_string(), Some(("abc".to_string(), None)), Some(Some(InstanceId::new(7)))));
        assert_eq!(in_request(|_, _| ()), None, "outside a request there is none");
    }
}
