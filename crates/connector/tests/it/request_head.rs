//! What a vendor call puts on the wire, read by a plain TCP server on loopback: the request line
//! and the headers, as the vendor's servers receive them.

use std::sync::Arc;
use std::time::Duration;

use connector::endpoints::VendorEndpoints;
use connector::rate_limit::VendorRateLimiter;
use connector::{CallContext, StaticTokens, VendorClient, VendorRequest};
use domain::vendor_limits::VendorLimits;
use domain::Secret;
use reqwest::Method;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// Answers one request with `{}` and returns its head (request line and headers).
async fn one_request_head(listener: TcpListener) -> String {
    let (mut socket, _) = listener.accept().await.unwrap();
    let mut head = Vec::new();
    let mut buffer = [0u8; 1024];
    while !head.ends_with(b"\r\n\r\n") {
        let read = socket.read(&mut buffer).await.unwrap();
        assert!(read > 0, "the connection closed before the head ended");
        head.extend_from_slice(&buffer[..read]);
    }
    let answer = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}";
    socket.write_all(answer.as_bytes()).await.unwrap();
    String::from_utf8(head).unwrap()
}

#[tokio::test]
async fn a_call_names_the_rest_bases_host_and_port_once_in_its_host_header() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let base = url::Url::parse(&format!("http://{address}")).unwrap();
    let server = tokio::spawn(one_request_head(listener));
    let limiter = Arc::new(VendorRateLimiter::new(VendorLimits::OFF, Duration::from_secs(5), 100));
    let client =
        VendorClient::new(VendorEndpoints::simulator(&base).unwrap(), limiter, Duration::from_secs(10)).unwrap();
    let tokens = StaticTokens::new(Secret::new("token-1"));
    let context = CallContext::interactive("client", &tokens);

    let answer = client.send_json(&context, &VendorRequest::new(Method::GET, "v2/contacts/7")).await.unwrap();

    assert_eq!(answer, serde_json::json!({}));
    let head = server.await.unwrap();
    let lines: Vec<&str> = head.trim_end().split("\r\n").collect();
    assert_eq!(lines[0], "GET /crm/rest/v2/contacts/7 HTTP/1.1", "{head}");
    let hosts: Vec<&str> =
        lines.iter().filter(|line| line.to_ascii_lowercase().starts_with("host:")).copied().collect();
    assert_eq!(hosts, [format!("host: {address}")], "{head}");
    assert!(lines.contains(&"authorization: Bearer token-1"), "{head}");
}
