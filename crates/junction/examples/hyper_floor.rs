//! The floor under a hub call: what hyper alone costs to proxy one GET, for `scripts/hotpath.py
//! --floor`. A bare hyper 1 HTTP/1 server answers every request with a GET of the same path, less
//! the raw hub prefix, to one upstream through hyper-util's pooled client, as Junction's raw
//! passthrough does; it passes on the `Authorization` header as it came (the upstream's own
//! credential), and answers the upstream's status, `Content-Type` and body. No routing, authentication, limits,
//! metrics or log lines: only the HTTP stack Junction is built on, run as `junction serve` runs it
//! (one current-thread runtime per thread on `SO_REUSEPORT` sockets, a pool per thread, mimalloc).
//!
//! Usage: `hyper_floor <bind host:port> <upstream base URL> [threads]` (threads: one per CPU).
//! Not a product: it answers nothing but that GET, and exits on the first error it meets.

use std::convert::Infallible;
use std::net::SocketAddr;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The raw hub's path prefix, taken off before the path goes upstream.
const RAW_PREFIX: &str = "/elements/api-v2/hubs/crm/raw";

type Pool = Client<HttpConnector, Empty<Bytes>>;

async fn forward(pool: &Pool, upstream: &str, request: Request<Incoming>) -> Response<Full<Bytes>> {
    let path = request.uri().path();
    let mut sent = Request::get(format!("{upstream}{}", path.strip_prefix(RAW_PREFIX).unwrap_or(path)));
    if let Some(credential) = request.headers().get(hyper::header::AUTHORIZATION) {
        sent = sent.header(hyper::header::AUTHORIZATION, credential);
    }
    let answer = match sent.body(Empty::new()) {
        Ok(sent) => pool.request(sent).await,
        Err(_) => return status(StatusCode::BAD_REQUEST),
    };
    let Ok(answer) = answer else { return status(StatusCode::BAD_GATEWAY) };
    let mut response = Response::builder().status(answer.status());
    if let Some(content_type) = answer.headers().get(hyper::header::CONTENT_TYPE) {
        response = response.header(hyper::header::CONTENT_TYPE, content_type);
    }
    match answer.into_body().collect().await {
        Ok(body) => response.body(Full::new(body.to_bytes())).unwrap_or_else(|_| status(StatusCode::BAD_GATEWAY)),
        Err(_) => status(StatusCode::BAD_GATEWAY),
    }
}

fn status(code: StatusCode) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::new()));
    *response.status_mut() = code;
    response
}

fn serve(bind: SocketAddr, upstream: &'static str) -> std::io::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(async move {
        let socket = if bind.is_ipv4() { tokio::net::TcpSocket::new_v4()? } else { tokio::net::TcpSocket::new_v6()? };
        socket.set_reuseaddr(true)?;
        socket.set_reuseport(true)?;
        socket.bind(bind)?;
        let listener = socket.listen(1024)?;
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        let pool: Pool = Client::builder(TokioExecutor::new()).build(connector);
        loop {
            let (stream, _) = listener.accept().await?;
            stream.set_nodelay(true)?;
            let pool = pool.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(|request| {
                    let pool = pool.clone();
                    async move { Ok::<_, Infallible>(forward(&pool, upstream, request).await) }
                });
                let served = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service);
                drop(served.await);
            });
        }
    })
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let usage = "usage: hyper_floor <bind host:port> <upstream base URL> [threads]";
    let bind: SocketAddr = args.next().ok_or(usage)?.parse()?;
    let upstream: &'static str = args.next().ok_or(usage)?.leak();
    let threads = match args.next() {
        Some(count) => count.parse()?,
        None => std::thread::available_parallelism()?.get(),
    };
    let serving: Vec<_> = (0..threads).map(|_| std::thread::spawn(move || serve(bind, upstream))).collect();
    for thread in serving {
        thread.join().map_err(|_| "a serving thread panicked")??;
    }
    Ok(())
}
