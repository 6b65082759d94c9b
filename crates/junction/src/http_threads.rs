//! The HTTP server's threads (`--http-threads`), run as nginx runs its worker processes: each
//! thread is a current-thread Tokio runtime with a listening socket of its own on the one address
//! (`SO_REUSEPORT`, so the kernel spreads new connections over the sockets). A connection, the
//! tasks its requests start and the vendor connections they use
//! ([`connector::vendor_client::keep_connections_on_this_thread`]) stay on one thread, so a request
//! needs no other thread. On the main runtime's work-stealing workers, the scheduler's
//! synchronisation around a hub call (its atomics, its wake-ups of idle workers to steal, vendor
//! connections driven by the other worker) cost a fifth of the call's CPU on two cores, in the
//! same instructions (BENCHMARKS.md "One runtime per HTTP thread"). Background work stays on the
//! main runtime.
//!
//! A thread's runtime outlives its server: database connections opened on it keep serving the main
//! runtime's background work until [`HttpThreads::join`], after everything else has stopped.

use std::future::Future;
use std::io;
use std::net::SocketAddr;

use std::convert::Infallible;

use anyhow::Context;
use axum::extract::Request;
use axum::response::Response;
use axum::ServiceExt;
use tokio::sync::{mpsc, watch};
use tower::Service;

/// Listening sockets on one address, one per HTTP thread, not yet served.
pub struct Listeners {
    sockets: Vec<std::net::TcpListener>,
    addr: SocketAddr,
}

impl Listeners {
    /// `count` sockets listening on `address` (`host:port`; port `0` picks one for all of them).
    /// An address another process listens on is refused, as a single socket's would be, even when
    /// that process shares its port (`SO_REUSEPORT`) too. Elsewhere than on Linux, whose kernel
    /// does not spread connections over such sockets, one socket whatever `count` says.
    pub async fn bind(address: &str, count: usize) -> anyhow::Result<Listeners> {
        let count = if cfg!(target_os = "linux") { count.max(1) } else { 1 };
        let mut refused = None;
        for addr in tokio::net::lookup_host(address).await.with_context(|| format!("cannot resolve {address}"))? {
            match bind_all(addr, count) {
                Ok(listeners) => return Ok(listeners),
                Err(error) => refused = Some(error),
            }
        }
        let error = refused.unwrap_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no address"));
        Err(anyhow::Error::new(error).context(format!("cannot listen on {address}")))
    }

    /// The address the sockets listen on (the port picked, when `0` was asked for).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }
}

/// `count` sockets on `addr`, the first of them checked free without `SO_REUSEPORT`.
fn bind_all(addr: SocketAddr, count: usize) -> io::Result<Listeners> {
    if addr.port() != 0 && count > 1 {
        // Sockets sharing a port must all say so: this one, saying nothing, fails if any listens.
        drop(socket(addr, false)?);
    }
    let first = socket(addr, count > 1)?.listen(1024)?;
    let addr = first.local_addr()?;
    let mut sockets = vec![first.into_std()?];
    for _ in 1..count {
        sockets.push(socket(addr, true)?.listen(1024)?.into_std()?);
    }
    Ok(Listeners { sockets, addr })
}

/// A socket bound to `addr`, with `SO_REUSEADDR` (as `tokio::net::TcpListener::bind` sets it) and,
/// when `shared`, `SO_REUSEPORT`.
fn socket(addr: SocketAddr, shared: bool) -> io::Result<tokio::net::TcpSocket> {
    let socket = if addr.is_ipv4() { tokio::net::TcpSocket::new_v4()? } else { tokio::net::TcpSocket::new_v6()? };
    socket.set_reuseaddr(true)?;
    #[cfg(target_os = "linux")]
    if shared {
        socket.set_reuseport(true)?;
    }
    #[cfg(not(target_os = "linux"))]
    let _ = shared;
    socket.bind(addr)?;
    Ok(socket)
}

/// What the threads serve: `http_api::App`, or any router.
pub trait Served:
    Service<Request, Response = Response, Error = Infallible, Future: Send> + Clone + Send + 'static
{
}

impl<S> Served for S where
    S: Service<Request, Response = Response, Error = Infallible, Future: Send> + Clone + Send + 'static
{
}

/// The HTTP threads, serving.
pub struct HttpThreads {
    threads: Vec<std::thread::JoinHandle<()>>,
    /// How each thread's server ended, as each ends.
    served: mpsc::UnboundedReceiver<io::Result<()>>,
    stop: watch::Sender<bool>,
    exit: watch::Sender<bool>,
}

impl HttpThreads {
    /// Serves `service` on every socket of `listeners`, each on a thread of its own.
    pub fn start<S: Served>(listeners: Listeners, service: S) -> io::Result<HttpThreads> {
        let (stop, stopping) = watch::channel(false);
        let (exit, exiting) = watch::channel(false);
        let (done, served) = mpsc::unbounded_channel();
        let mut threads = Vec::new();
        for (index, socket) in listeners.sockets.into_iter().enumerate() {
            let (service, stopping, exiting, done) = (service.clone(), stopping.clone(), exiting.clone(), done.clone());
            let thread = std::thread::Builder::new()
                .name(format!("junction-http-{index}"))
                .spawn(move || run_thread(socket, service, stopping, exiting, done))?;
            threads.push(thread);
        }
        Ok(HttpThreads { threads, served, stop, exit })
    }

    /// Serves until `shutdown` completes (or a thread's server fails), then stops accepting and
    /// waits for the requests in progress. The first thread's failure, if any, is returned.
    pub async fn serve_until(&mut self, shutdown: impl Future<Output = ()>) -> io::Result<()> {
        let mut failure = tokio::select! {
            () = shutdown => None,
            ended = self.served.recv() => ended.and_then(Result::err),
        };
        let _ = self.stop.send(true);
        // Every thread's sender is gone once every server has ended (or its thread has died).
        while let Some(ended) = self.served.recv().await {
            failure = failure.or(ended.err());
        }
        failure.map_or(Ok(()), Err)
    }

    /// Lets the threads' runtimes end, once nothing else in the process needs them, and waits for
    /// the threads.
    pub async fn join(self) {
        let _ = self.exit.send(true);
        let threads = self.threads;
        let _ = tokio::task::spawn_blocking(move || {
            for thread in threads {
                let _ = thread.join();
            }
        })
        .await;
    }
}

/// One HTTP thread: its runtime serves `socket` until told to stop, reports how the server ended,
/// and keeps running (for connections other runtimes' tasks use) until told to exit.
fn run_thread<S: Served>(
    socket: std::net::TcpListener,
    service: S,
    mut stopping: watch::Receiver<bool>,
    mut exiting: watch::Receiver<bool>,
    done: mpsc::UnboundedSender<io::Result<()>>,
) {
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            let _ = done.send(Err(error));
            return;
        }
    };
    if let Err(error) = connector::vendor_client::keep_connections_on_this_thread() {
        let _ = done.send(Err(io::Error::other(error)));
        return;
    }
    runtime.block_on(async move {
        let served = async {
            let listener = tokio::net::TcpListener::from_std(socket)?;
            let stopped = async move {
                let _ = stopping.wait_for(|stop| *stop).await;
            };
            axum::serve(listener, service.into_make_service()).with_graceful_shutdown(stopped).await
        }
        .await;
        let _ = done.send(served);
        drop(done);
        let _ = exiting.wait_for(|exit| *exit).await;
    });
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::sync::{Arc, Mutex};

    use axum::routing::get;
    use axum::Router;

    use super::*;

    /// A router answering with the name of the thread that served the request.
    fn thread_names() -> Router {
        Router::new().route("/", get(|| async { std::thread::current().name().unwrap_or("?").to_string() }))
    }

    #[tokio::test]
    async fn sockets_share_one_port_and_an_address_in_use_is_refused() {
        let listeners = Listeners::bind("127.0.0.1:0", 3).await.unwrap();
        let addr = listeners.local_addr();
        assert_ne!(addr.port(), 0);
        assert_eq!(listeners.sockets.len(), 3);
        assert!(listeners.sockets.iter().all(|socket| socket.local_addr().unwrap() == addr));
        // Another server on this port, shared or not, is refused: no silent sharing of traffic.
        for count in [1, 2] {
            let error = Listeners::bind(&addr.to_string(), count).await.err().expect("refused");
            assert!(error.to_string().contains(&format!("cannot listen on {addr}")), "{error:#}");
        }
        let plain = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let taken = plain.local_addr().unwrap().to_string();
        assert!(Listeners::bind(&taken, 2).await.is_err());
    }

    #[tokio::test]
    async fn connections_are_spread_over_the_threads_and_stop_gracefully() {
        let listeners = Listeners::bind("127.0.0.1:0", 2).await.unwrap();
        let url = format!("http://{}/", listeners.local_addr());
        let mut threads = HttpThreads::start(listeners, thread_names()).unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let serving = tokio::spawn(async move {
            let served = threads.serve_until(async move { drop(stopped.await) }).await;
            threads.join().await;
            served
        });
        // 32 connections: the kernel puts them all on one socket once in 2^31 runs.
        let seen = Arc::new(Mutex::new(BTreeSet::new()));
        let mut calls = tokio::task::JoinSet::new();
        for _ in 0..32 {
            let (url, seen) = (url.clone(), Arc::clone(&seen));
            calls.spawn(async move {
                let client = reqwest::Client::builder().pool_max_idle_per_host(0).build().unwrap();
                let name = client.get(&url).send().await.unwrap().text().await.unwrap();
                seen.lock().unwrap().insert(name);
            });
        }
        while let Some(call) = calls.join_next().await {
            call.unwrap();
        }
        let seen = seen.lock().unwrap().clone();
        assert_eq!(seen, BTreeSet::from(["junction-http-0".to_string(), "junction-http-1".to_string()]));
        stop.send(()).unwrap();
        serving.await.unwrap().unwrap();
        assert!(reqwest::get(&url).await.is_err(), "nothing listens once stopped");
    }
}
