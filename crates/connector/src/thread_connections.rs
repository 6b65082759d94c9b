//! A thread's own keep-alive connections to the vendor, for a thread that runs a current-thread
//! runtime of its own (`junction serve`'s HTTP threads): opened on the thread by the same
//! connector as the shared pool (its TCP settings and rustls), driven by the thread's runtime,
//! reused most recently used first, and let go once closed or idle for [`IDLE_TIMEOUT`].
//!
//! hyper-util's pooled client did this job and still does on every other thread. It serves any
//! number of hosts from any thread, with waiters, HTTP/2 sharing and a reaper, and its checkout,
//! its key hashed byte by byte three times and its return to the pool were about 6,000
//! instructions of a raw passthrough's 72,000 (BENCHMARKS.md "The vendor's connections kept per
//! thread"). A thread's calls need a stack of idle connections per origin, and hyper's own
//! connection API (`client::conn::http1`) for the rest.
//!
//! An idle connection the vendor closed meanwhile is skipped; a request it refused before sending
//! anything (the vendor closed it as it was taken) is sent again on another connection, as the
//! pooled client does. A call dropped mid-way (a timeout, a client gone) drops its connection, which
//! hyper then closes: only a connection whose answer was read to the end is reused.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::client::conn::http1::SendRequest;
use hyper::http::uri::{Authority, Scheme};
use hyper::{Request, Uri};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use tower_service::Service;

use crate::vendor_client::VendorError;

/// How long a connection may stay idle before it is let go, as the pooled client's idle timeout.
pub(crate) const IDLE_TIMEOUT: Duration = Duration::from_secs(90);

type Sender = SendRequest<Full<Bytes>>;

thread_local! {
    /// This thread's connections, on a thread that asked for them ([`keep_on_this_thread`]).
    static THIS_THREADS: RefCell<Option<Connections>> = const { RefCell::new(None) };
}

/// One thread's idle connections, by origin, and how to open more.
struct Connections {
    connector: HttpsConnector<HttpConnector>,
    idle: Vec<(Origin, VecDeque<Idle>)>,
}

/// Where a connection goes: a scheme and an authority.
#[derive(Debug, Clone)]
pub(crate) struct Origin {
    pub(crate) scheme: Scheme,
    pub(crate) authority: Authority,
}

/// The same scheme and the authority written the same way: byte for byte, rather than
/// `Authority`'s own equality, which ignores case byte by byte (280 instructions, twice a call).
/// The same host written in another case has connections of its own.
impl PartialEq for Origin {
    fn eq(&self, other: &Origin) -> bool {
        self.authority.as_str() == other.authority.as_str() && self.scheme == other.scheme
    }
}

/// A connection whose last answer was read to the end.
struct Idle {
    sender: Sender,
    since: Instant,
}

/// From now on, [`exchange`] on this thread opens and reuses connections of its own, with
/// `connector`.
pub(crate) fn keep_on_this_thread(connector: HttpsConnector<HttpConnector>) {
    THIS_THREADS.with(|slot| *slot.borrow_mut() = Some(Connections { connector, idle: Vec::new() }));
}

/// Whether this thread keeps connections of its own.
pub(crate) fn kept_here() -> bool {
    THIS_THREADS.try_with(|slot| slot.borrow().is_some()).unwrap_or(false)
}

/// Sends `request` (in origin form: its path and query, and its `Host` header) on one of this
/// thread's connections to `origin`, opening one if none is idle, and reads the whole answer. On a
/// thread that keeps none, fails as unreachable.
pub(crate) async fn exchange(
    origin: &Origin,
    mut request: Request<Full<Bytes>>,
) -> Result<(hyper::http::response::Parts, Bytes), VendorError> {
    loop {
        let (mut sender, reused) = match checkout(origin) {
            Some(sender) => (sender, true),
            // Boxed: a connection's handshake holds its stream (TLS state included), and inline it
            // would make every call's future that much larger to build and move.
            None => (Box::pin(connect(origin)).await?, false),
        };
        // A reused connection may still be finishing its last exchange, or be closing.
        if sender.ready().await.is_err() {
            if reused {
                continue;
            }
            return Err(VendorError::Unreachable);
        }
        match sender.try_send_request(request).await {
            Ok(response) => {
                let (parts, body) = response.into_parts();
                let body = whole_body(body).await?;
                checkin(origin, sender);
                return Ok((parts, body));
            }
            Err(mut refused) => match refused.take_message() {
                // Nothing was sent: the vendor closed the connection as it was taken.
                Some(unsent) if reused => request = unsent,
                _ => return Err(VendorError::Unreachable),
            },
        }
    }
}

/// An answer's whole body: its one data frame as it came (as an answer of known length comes),
/// else its frames joined. `BodyExt::collect` listed even the one frame and took it back out.
async fn whole_body(mut body: Incoming) -> Result<Bytes, VendorError> {
    let mut one = None;
    let mut joined = BytesMut::new();
    while let Some(frame) = body.frame().await {
        let Ok(data) = frame.map_err(|_| VendorError::Unreachable)?.into_data() else { continue };
        match one.take() {
            None if joined.is_empty() => one = Some(data),
            first => {
                joined.extend_from_slice(&first.unwrap_or_default());
                joined.extend_from_slice(&data);
            }
        }
    }
    Ok(one.unwrap_or_else(|| joined.freeze()))
}

/// The most recently used open connection to `origin` idle on this thread, if any.
fn checkout(origin: &Origin) -> Option<Sender> {
    THIS_THREADS
        .try_with(|slot| {
            let mut slot = slot.borrow_mut();
            let (_, idle) = slot.as_mut()?.idle.iter_mut().find(|(known, _)| known == origin)?;
            while let Some(Idle { sender, since }) = idle.pop_back() {
                if since.elapsed() >= IDLE_TIMEOUT {
                    // The rest are older still.
                    idle.clear();
                    return None;
                }
                if !sender.is_closed() {
                    return Some(sender);
                }
            }
            None
        })
        .ok()
        .flatten()
}

/// Keeps `sender` for the next call to `origin`, and lets go of the connections that have been
/// idle too long.
fn checkin(origin: &Origin, sender: Sender) {
    let _ = THIS_THREADS.try_with(|slot| {
        let mut slot = slot.borrow_mut();
        let Some(connections) = slot.as_mut() else { return };
        let position = match connections.idle.iter().position(|(known, _)| known == origin) {
            Some(position) => position,
            None => {
                connections.idle.push((origin.clone(), VecDeque::new()));
                connections.idle.len() - 1
            }
        };
        let idle = &mut connections.idle[position].1;
        while idle.front().is_some_and(|oldest| oldest.since.elapsed() >= IDLE_TIMEOUT) {
            idle.pop_front();
        }
        idle.push_back(Idle { sender, since: Instant::now() });
    });
}

/// A new connection to `origin`, its HTTP/1.1 side driven by this thread's runtime.
async fn connect(origin: &Origin) -> Result<Sender, VendorError> {
    let mut connector = THIS_THREADS
        .try_with(|slot| slot.borrow().as_ref().map(|connections| connections.connector.clone()))
        .ok()
        .flatten()
        .ok_or(VendorError::Unreachable)?;
    let target = Uri::builder()
        .scheme(origin.scheme.clone())
        .authority(origin.authority.clone())
        .path_and_query("/")
        .build()
        .map_err(|_| VendorError::InvalidPath)?;
    std::future::poll_fn(|context| connector.poll_ready(context)).await.map_err(|_| VendorError::Unreachable)?;
    let stream = connector.call(target).await.map_err(|_| VendorError::Unreachable)?;
    let (sender, connection) =
        hyper::client::conn::http1::handshake(stream).await.map_err(|_| VendorError::Unreachable)?;
    tokio::spawn(async move {
        if let Err(error) = connection.await {
            tracing::debug!(%error, "vendor connection closed");
        }
    });
    Ok(sender)
}
