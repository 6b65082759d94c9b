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

use std::cell::{Cell, RefCell};
use std::convert::Infallible;
use std::sync::OnceLock;
use std::task::{Context, Poll};
use std::time::Instant;

use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue, Method, Uri};
use axum::response::Response;
use domain::InstanceId;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
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
    id: RequestId,
    instance: Cell<Option<InstanceId>>,
}

/// A request id: the platforms' 24 hex digits, kept inline.
#[derive(Clone, Copy)]
struct RequestId([u8; 24]);

impl RequestId {
    fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).expect("hex digits are ASCII")
    }
}

/// The id of the request being served, or a fresh one outside a request.
pub fn current() -> String {
    REQUEST.try_with(|request| request.id.as_str().to_string()).unwrap_or_else(|_| generate().as_str().to_string())
}

/// The request being served, if any, as its id and its instance: what the log formatter writes
/// as the `request` span of each line.
pub fn in_request<R>(write: impl FnOnce(&str, Option<InstanceId>) -> R) -> Option<R> {
    REQUEST.try_with(|request| write(request.id.as_str(), request.instance.get())).ok()
}

thread_local! {
    /// Each thread's generator of request ids, seeded from the operating system's. Ids need to
    /// differ, not to be secret: they name requests in logs and error bodies and grant nothing.
    /// A small generator draws two words a request, where the thread's cryptographic one cost 570
    /// instructions (BENCHMARKS.md "The raw passthrough ahead of the router").
    static IDS: RefCell<SmallRng> = RefCell::new(SmallRng::from_os_rng());
}

fn generate() -> RequestId {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let bytes: [u8; 12] = IDS.with(|ids| ids.borrow_mut().random());
    // Two table lookups a byte, not a `format!` each (a tenth of the raw passthrough's
    // instructions went to the twelve of them; BENCHMARKS.md "The hot path").
    let mut id = [0; 24];
    for (digits, byte) in id.chunks_exact_mut(2).zip(bytes) {
        digits[0] = HEX[usize::from(byte >> 4)];
        digits[1] = HEX[usize::from(byte & 0x0f)];
    }
    RequestId(id)
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
        let served =
            Served { id, method: request.method().clone(), uri: request.uri().clone(), started: Instant::now() };
        // The route's future does its work when polled, and the log line is written after it:
        // both inside the scope.
        let answer = AfterResponse::new(self.inner.call(request), Some(served));
        REQUEST.scope(RequestContext { id, instance: Cell::new(None) }, answer)
    }
}

/// A request being served, for its response's header and log line.
pub struct Served {
    id: RequestId,
    method: Method,
    uri: Uri,
    started: Instant,
}

impl Step for Served {
    fn after(self, response: &mut Response) {
        if let Ok(value) = HeaderValue::from_bytes(&self.id.0) {
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
        let ids: std::collections::BTreeSet<String> = (0..1000).map(|_| generate().as_str().to_string()).collect();
        assert_eq!(ids.len(), 1000);
        assert!(ids.iter().all(|id| id.len() == 24 && id.bytes().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f'))));
        let other_thread = std::thread::spawn(|| generate().as_str().to_string()).join().unwrap();
        assert!(!ids.contains(&other_thread), "each thread's generator has a seed of its own");
    }

    #[tokio::test]
    async fn the_current_id_and_instance_are_the_scoped_ones() {
        let id = generate();
        let context = RequestContext { id, instance: Cell::new(None) };
        let seen = REQUEST
            .scope(context, async {
                let before = in_request(|id, instance| (id.to_string(), instance));
                record_instance(InstanceId::new(7));
                (current(), before, in_request(|_, instance| instance))
            })
            .await;
        let id = id.as_str().to_string();
        assert_eq!(seen, (id.clone(), Some((id, None)), Some(Some(InstanceId::new(7)))));
        assert_eq!(in_request(|_, _| ()), None, "outside a request there is none");
    }
}
