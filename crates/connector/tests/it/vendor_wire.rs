//! What a vendor call puts on the wire and the connections it goes over, read from the vendor's
//! side: a plain TCP server on loopback that keeps each request's head and body as received, counts
//! the connections it accepts, and answers, closes or ignores each request as a test tells it.
//! Through hyper-util's pooled client (any thread), and through a thread's own connections
//! (`keep_connections_on_this_thread`, as `junction serve`'s HTTP threads ask for them).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use connector::endpoints::VendorEndpoints;
use connector::rate_limit::VendorRateLimiter;
use connector::vendor_client::keep_connections_on_this_thread;
use connector::{CallContext, StaticTokens, VendorClient, VendorError, VendorRequest};
use domain::vendor_limits::VendorLimits;
use domain::Secret;
use reqwest::Method;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What the vendor does with one request, given its connection's number (from 0) and the
/// request's number on that connection (from 0).
#[derive(Clone, Copy, PartialEq)]
enum Then {
    /// Answers `{}` and keeps the connection open.
    Answer,
    /// Answers `{}` and closes the connection without saying so first.
    AnswerAndClose,
    /// Answers `{"a":[1,2]}` in three chunks written apart, and keeps the connection open.
    AnswerInChunks,
    /// Never answers.
    Hang,
}

/// Each request's head and body, as the vendor received them.
type Seen = Arc<Mutex<Vec<(String, Vec<u8>)>>>;

/// A vendor on loopback, and what it saw.
struct Vendor {
    client: VendorClient,
    accepted: Arc<AtomicUsize>,
    requests: Seen,
}

impl Vendor {
    async fn start(then: fn(usize, usize) -> Then, timeout: Duration) -> Vendor {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = url::Url::parse(&format!("http://{}", listener.local_addr().unwrap())).unwrap();
        let accepted = Arc::new(AtomicUsize::new(0));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let (counter, seen) = (Arc::clone(&accepted), Arc::clone(&requests));
        tokio::spawn(async move {
            loop {
                let (socket, _) = listener.accept().await.unwrap();
                let number = counter.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(serve_connection(socket, number, then, Arc::clone(&seen)));
            }
        });
        let limiter = Arc::new(VendorRateLimiter::new(VendorLimits::OFF, Duration::from_secs(5), 100));
        let client = VendorClient::new(VendorEndpoints::simulator(&base).unwrap(), limiter, timeout).unwrap();
        Vendor { client, accepted, requests }
    }

    async fn call(&self, method: Method, body: Option<&str>) -> Result<serde_json::Value, VendorError> {
        let tokens = StaticTokens::new(Secret::new("token-1"));
        let mut request = VendorRequest::new(method, "v2/contacts/7");
        if let Some(body) = body {
            request = request.json(&serde_json::from_str(body).unwrap());
        }
        self.client.send_json(&CallContext::interactive("client", &tokens), &request).await
    }

    fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }

    /// Every request received was `GET /crm/rest/v2/contacts/7` in origin form, named the REST
    /// base's host and port in one `Host` header, and carried the bearer token.
    fn assert_every_head_names_the_path_the_host_and_the_token(&self) {
        let host = format!("host: {}", self.client.endpoints().api_base.authority());
        let requests = self.requests.lock().unwrap();
        assert!(!requests.is_empty());
        for (head, _) in requests.iter() {
            let lines: Vec<&str> = head.trim_end().split("\r\n").collect();
            assert_eq!(lines[0], "GET /crm/rest/v2/contacts/7 HTTP/1.1", "{head}");
            let hosts: Vec<&str> =
                lines.iter().filter(|line| line.to_ascii_lowercase().starts_with("host:")).copied().collect();
            assert_eq!(hosts, [host.as_str()], "{head}");
            assert!(lines.contains(&"authorization: Bearer token-1"), "{head}");
        }
    }
}

async fn serve_connection(mut socket: TcpStream, connection: usize, then: fn(usize, usize) -> Then, seen: Seen) {
    let mut buffer = Vec::new();
    for number in 0.. {
        let Some(head_end) = read_until_head_end(&mut socket, &mut buffer).await else { return };
        let head = String::from_utf8(buffer[..head_end].to_vec()).unwrap();
        let length = head
            .lines()
            .find_map(|line| line.to_ascii_lowercase().strip_prefix("content-length:").map(|n| n.trim().to_string()))
            .map_or(0, |n| n.parse::<usize>().unwrap());
        while buffer.len() < head_end + length {
            let mut chunk = [0u8; 1024];
            let read = socket.read(&mut chunk).await.unwrap();
            assert!(read > 0, "the connection closed inside a body");
            buffer.extend_from_slice(&chunk[..read]);
        }
        let body = buffer[head_end..head_end + length].to_vec();
        buffer.drain(..head_end + length);
        seen.lock().unwrap().push((head, body));
        let then = then(connection, number);
        if then == Then::Hang {
            std::future::pending::<()>().await;
        }
        if then == Then::AnswerInChunks {
            let head = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n";
            socket.write_all(head.as_bytes()).await.unwrap();
            for chunk in ["5\r\n{\"a\":\r\n", "5\r\n[1,2]\r\n", "1\r\n}\r\n0\r\n\r\n"] {
                tokio::time::sleep(Duration::from_millis(20)).await;
                socket.write_all(chunk.as_bytes()).await.unwrap();
            }
            continue;
        }
        let answer = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}";
        socket.write_all(answer.as_bytes()).await.unwrap();
        if then == Then::AnswerAndClose {
            return;
        }
    }
}

/// Reads into `buffer` until it holds a whole request head; where the head ends, or `None` when
/// the client closed the connection first.
async fn read_until_head_end(socket: &mut TcpStream, buffer: &mut Vec<u8>) -> Option<usize> {
    loop {
        if let Some(at) = buffer.windows(4).position(|window| window == b"\r\n\r\n") {
            return Some(at + 4);
        }
        let mut chunk = [0u8; 1024];
        match socket.read(&mut chunk).await {
            Ok(0) | Err(_) => return None,
            Ok(read) => buffer.extend_from_slice(&chunk[..read]),
        }
    }
}

#[tokio::test]
async fn a_call_through_the_pooled_client_names_the_rest_bases_host_and_port_once_in_its_host_header() {
    let vendor = Vendor::start(|_, _| Then::Answer, Duration::from_secs(10)).await;

    assert_eq!(vendor.call(Method::GET, None).await.unwrap(), serde_json::json!({}));

    vendor.assert_every_head_names_the_path_the_host_and_the_token();
}

#[tokio::test]
async fn a_threads_own_connection_carries_call_after_call_in_origin_form_with_one_host_header() {
    keep_connections_on_this_thread().unwrap();
    let vendor = Vendor::start(|_, _| Then::Answer, Duration::from_secs(10)).await;

    for _ in 0..5 {
        assert_eq!(vendor.call(Method::GET, None).await.unwrap(), serde_json::json!({}));
    }

    assert_eq!(vendor.accepted(), 1);
    vendor.assert_every_head_names_the_path_the_host_and_the_token();
}

#[tokio::test]
async fn an_answer_in_chunks_is_read_whole_and_its_connection_kept() {
    keep_connections_on_this_thread().unwrap();
    let vendor = Vendor::start(|_, _| Then::AnswerInChunks, Duration::from_secs(10)).await;

    for _ in 0..3 {
        assert_eq!(vendor.call(Method::GET, None).await.unwrap(), serde_json::json!({"a": [1, 2]}));
    }

    assert_eq!(vendor.accepted(), 1);
}

#[tokio::test]
async fn calls_at_once_on_one_thread_each_get_a_connection_and_leave_it_for_the_next() {
    keep_connections_on_this_thread().unwrap();
    let vendor = Arc::new(Vendor::start(|_, _| Then::Answer, Duration::from_secs(10)).await);
    let at_once = || {
        let calls: Vec<_> = (0..8)
            .map(|_| {
                let vendor = Arc::clone(&vendor);
                tokio::spawn(async move { vendor.call(Method::GET, None).await })
            })
            .collect();
        async move {
            for call in calls {
                assert_eq!(call.await.unwrap().unwrap(), serde_json::json!({}));
            }
        }
    };

    at_once().await;
    let opened = vendor.accepted();
    at_once().await;

    assert!((1..=8).contains(&opened), "{opened} connections for 8 calls at once");
    assert_eq!(vendor.accepted(), opened, "the second 8 calls found the first 8's connections idle");
}

#[tokio::test]
async fn a_connection_the_vendor_closed_while_idle_is_replaced_and_a_post_goes_out_once() {
    keep_connections_on_this_thread().unwrap();
    let vendor = Vendor::start(|_, _| Then::AnswerAndClose, Duration::from_secs(10)).await;

    assert_eq!(vendor.call(Method::GET, None).await.unwrap(), serde_json::json!({}));
    // The close reaches the idle connection before the next call takes it.
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(vendor.call(Method::POST, Some(r#"{"given_name":"Ada"}"#)).await.unwrap(), serde_json::json!({}));

    assert_eq!(vendor.accepted(), 2);
    let requests = vendor.requests.lock().unwrap();
    let posts: Vec<_> = requests.iter().filter(|(head, _)| head.starts_with("POST ")).collect();
    assert_eq!(posts.len(), 1);
    assert_eq!(posts[0].1, br#"{"given_name":"Ada"}"#);
}

#[tokio::test]
async fn a_call_that_timed_out_leaves_its_connection_closed_and_the_next_call_opens_another() {
    keep_connections_on_this_thread().unwrap();
    let vendor = Vendor::start(
        |connection, _| if connection == 0 { Then::Hang } else { Then::Answer },
        Duration::from_millis(300),
    )
    .await;

    assert!(matches!(vendor.call(Method::POST, Some("{}")).await, Err(VendorError::Timeout)));
    assert_eq!(vendor.call(Method::GET, None).await.unwrap(), serde_json::json!({}));

    assert_eq!(vendor.accepted(), 2);
    assert_eq!(vendor.requests.lock().unwrap().len(), 2, "the timed-out call was not sent again");
}
