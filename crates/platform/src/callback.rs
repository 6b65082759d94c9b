//! The one outbound HTTP call to a URL a user chose: event notifications (and later bulk-job
//! callbacks) are POSTed through [`CallbackClient::post_json`] and signed with [`sign`]. One call
//! gives one [`DeliveryOutcome`] or one [`CallbackError`]; retries, the outbox and the event log
//! are the caller's.
//!
//! The host is the user's choice, so the call is guarded against server-side request forgery:
//! unless the operator allows private callbacks ([`CallbackPolicy::allow_private`],
//! `--allow-private-callbacks`), a callback reaches only public addresses ([`refusal`] says which
//! are not). The guard is on the address actually connected to: names are resolved by a resolver
//! of ours that drops refused addresses, so a name that was public when configured and resolves to
//! 127.0.0.1 when called (DNS rebinding) still cannot reach loopback. IP-literal URLs never reach a
//! resolver, so they are checked before the request is made ([`check_url`] is that check, for
//! configuration time). Redirects are not followed (a 302 to the metadata address would bypass the
//! literal check), and no proxy is taken from the environment (a proxy connects on our behalf, to
//! addresses this module never sees).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use connector::reqwest::dns::{Addrs, Name, Resolve, Resolving};
use connector::reqwest::header::{HeaderName, HeaderValue, CONTENT_TYPE};
use connector::reqwest::{self, redirect, StatusCode, Url};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use url::Host;

/// How long a whole callback may take, answer included.
pub const TIMEOUT: Duration = Duration::from_secs(10);
/// How long connecting may take (at most the whole call's timeout).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How much of a failed callback's answer is kept for the event log.
pub const EXCERPT_LIMIT: usize = 512;
/// The header naming the webhook a notification belongs to.
pub const WEBHOOK_ID: HeaderName = HeaderName::from_static("elements-webhook-id");
/// The header carrying [`sign`]'s signature of the body.
pub const WEBHOOK_SIGNATURE: HeaderName = HeaderName::from_static("elements-webhook-signature");

const USER_AGENT: &str = concat!("Junction/", env!("CARGO_PKG_VERSION"));

/// Which hosts a callback may reach; the default refuses every non-public address.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CallbackPolicy {
    /// The operator's `--allow-private-callbacks`: loopback, private, link-local and the other
    /// ranges of [`refusal`] may be called (tests, and deployments whose receivers are internal).
    pub allow_private: bool,
}

/// What identifies and authenticates one delivery. `Debug` shows no key.
#[derive(Clone, Copy)]
pub struct Delivery<'a> {
    /// Sent as `Elements-Webhook-Id`; must be a valid header value.
    pub webhook_id: &'a str,
    /// `event.notification.signature.key`: when present the body is signed with it
    /// (`Elements-Webhook-Signature`). The key itself is never sent nor put in an error.
    pub signature_key: Option<&'a [u8]>,
}

impl fmt::Debug for Delivery<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Delivery")
            .field("webhook_id", &self.webhook_id)
            .field("signature_key", &self.signature_key.map(|_| "<redacted>"))
            .finish()
    }
}

/// What the callback answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryOutcome {
    /// A 2xx: the notification is delivered.
    Delivered { status: StatusCode },
    /// Any other status (a 3xx too: redirects are not followed), with the first
    /// [`EXCERPT_LIMIT`] bytes of the answer as text, for the event log's last error.
    Failed { status: StatusCode, body_excerpt: String },
}

impl DeliveryOutcome {
    pub fn is_delivered(&self) -> bool {
        matches!(self, DeliveryOutcome::Delivered { .. })
    }

    pub fn status(&self) -> StatusCode {
        match self {
            DeliveryOutcome::Delivered { status } | DeliveryOutcome::Failed { status, .. } => *status,
        }
    }
}

/// "delivered (204 No Content)", or the failure as the event log shows it.
impl fmt::Display for DeliveryOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeliveryOutcome::Delivered { status } => write!(f, "delivered ({status})"),
            DeliveryOutcome::Failed { status, body_excerpt } if body_excerpt.is_empty() => {
                write!(f, "the callback answered {status}")
            }
            DeliveryOutcome::Failed { status, body_excerpt } => {
                write!(f, "the callback answered {status}: {body_excerpt}")
            }
        }
    }
}

/// Why a callback was not made or got no answer. The messages name the host and the problem,
/// never a signature key.
#[derive(Debug, thiserror::Error)]
pub enum CallbackError {
    #[error("the callback URL is not a valid URL: {0}")]
    InvalidUrl(String),
    #[error("a callback URL must be http or https, not {0}")]
    Scheme(String),
    #[error("the callback URL names no host")]
    NoHost,
    /// `localhost` or a name under it, refused without resolving it.
    #[error("the callback host {host} is this machine, and private callbacks are not allowed")]
    RefusedName { host: String },
    /// The host is, or resolves only to, addresses in a refused range (`reason`, from [`refusal`]).
    #[error("the callback host {host} is refused: {address} is {reason}, and private callbacks are not allowed")]
    RefusedAddress { host: String, address: IpAddr, reason: &'static str },
    #[error("the callback host {host} could not be resolved: {message}")]
    Dns { host: String, message: String },
    #[error("could not connect to the callback host {host}: {message}")]
    Connect { host: String, message: String },
    #[error("the callback host {host} did not answer within {after:?}")]
    Timeout { host: String, after: Duration },
    #[error("the call to the callback host {host} failed: {message}")]
    Transport { host: String, message: String },
    #[error("the webhook id is not a valid header value")]
    InvalidWebhookId,
    /// A request header given by a user is not a valid HTTP header.
    #[error("the header '{0}' is not a valid HTTP header name and value")]
    InvalidHeader(String),
    /// The HTTP client could not be built (the TLS backend failed to start).
    #[error("the callback HTTP client could not be built: {0}")]
    Client(String),
}

/// `sha256=` and the standard base64 of HMAC-SHA256(`key`, `body`): the value of
/// `Elements-Webhook-Signature`, over the exact bytes sent.
pub fn sign(key: &[u8], body: &[u8]) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(body);
    format!("sha256={}", BASE64.encode(mac.finalize().into_bytes()))
}

/// `url` parsed and checked as a callback URL when it is configured: http or https, with a host
/// that is not a localhost name nor a refused IP literal. A name is checked again, on its
/// addresses, each time it is called.
pub fn check_url(url: &str, policy: &CallbackPolicy) -> Result<Url, CallbackError> {
    let url = Url::parse(url).map_err(|error| CallbackError::InvalidUrl(error.to_string()))?;
    check_target(&url, policy)?;
    Ok(url)
}

/// A request to a user-chosen URL ([`CallbackClient::call`]).
#[derive(Debug)]
pub struct OutboundRequest<'a> {
    pub method: reqwest::Method,
    pub url: &'a Url,
    pub headers: &'a [(String, String)],
    /// Sent as `application/json`.
    pub body: Option<Vec<u8>>,
}

/// What a user-chosen URL answered.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboundAnswer {
    pub status: u16,
    /// Lower-case names; values that are not text are left out.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// The body was longer than the caller read.
    pub truncated: bool,
}

/// The client every callback goes through; built once, cheap to clone (it shares its connections).
#[derive(Debug, Clone)]
pub struct CallbackClient {
    http: reqwest::Client,
    policy: CallbackPolicy,
    timeout: Duration,
    connect_timeout: Duration,
}

impl CallbackClient {
    /// The client for `policy`, with [`TIMEOUT`].
    pub fn new(policy: CallbackPolicy) -> Result<Self, CallbackError> {
        Self::with_timeout(policy, TIMEOUT)
    }

    /// The client for `policy` whose calls take at most `timeout` (tests use a short one).
    pub fn with_timeout(policy: CallbackPolicy, timeout: Duration) -> Result<Self, CallbackError> {
        let connect_timeout = CONNECT_TIMEOUT.min(timeout);
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(connect_timeout)
            .redirect(redirect::Policy::none())
            .no_proxy()
            .user_agent(USER_AGENT)
            // Receivers written against Cloud Elements may compare `Elements-Webhook-Id` as spelled.
            .http1_title_case_headers()
            .dns_resolver(Arc::new(GuardedResolver { policy }))
            .build()
            .map_err(|error| CallbackError::Client(error.to_string()))?;
        Ok(CallbackClient { http, policy, timeout, connect_timeout })
    }

    pub fn policy(&self) -> CallbackPolicy {
        self.policy
    }

    /// POSTs `body` to `url` as `application/json`, exactly as given, with `delivery`'s headers.
    /// `Err` when no answer came (refused host or address, DNS, connect, timeout); otherwise the
    /// answer, which is a failure unless it is a 2xx.
    pub async fn post_json(
        &self,
        url: &Url,
        body: &[u8],
        delivery: &Delivery<'_>,
    ) -> Result<DeliveryOutcome, CallbackError> {
        check_target(url, &self.policy)?;
        self.send(url, body, delivery).await
    }

    /// Makes `request` (a formula's `httpRequest` step) and reads at most `max_body` bytes of the
    /// answer, whatever its status. `Err` when no answer came, or a header is not valid HTTP.
    pub async fn call(&self, request: OutboundRequest<'_>, max_body: usize) -> Result<OutboundAnswer, CallbackError> {
        check_target(request.url, &self.policy)?;
        let mut builder = self.http.request(request.method.clone(), request.url.clone());
        for (name, value) in request.headers {
            let header = HeaderName::from_bytes(name.as_bytes()).ok().zip(HeaderValue::from_str(value).ok());
            let (name, value) = header.ok_or_else(|| CallbackError::InvalidHeader(name.clone()))?;
            builder = builder.header(name, value);
        }
        if let Some(body) = request.body {
            builder = builder.header(CONTENT_TYPE, "application/json").body(body);
        }
        let url = request.url;
        let mut response = builder.send().await.map_err(|error| self.transport_error(url, &error))?;
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .filter_map(|(name, value)| Some((name.as_str().to_owned(), value.to_str().ok()?.to_owned())))
            .collect();
        let mut body = Vec::new();
        let mut truncated = false;
        while let Some(chunk) = response.chunk().await.map_err(|error| self.transport_error(url, &error))? {
            let room = max_body.saturating_sub(body.len());
            body.extend_from_slice(&chunk[..chunk.len().min(room)]);
            if chunk.len() > room {
                truncated = true;
                break;
            }
        }
        Ok(OutboundAnswer { status, headers, body, truncated })
    }

    /// The call itself, after [`check_target`]; from here on only the resolver guards the address.
    async fn send(&self, url: &Url, body: &[u8], delivery: &Delivery<'_>) -> Result<DeliveryOutcome, CallbackError> {
        let webhook_id = HeaderValue::from_str(delivery.webhook_id).map_err(|_| CallbackError::InvalidWebhookId)?;
        let mut request = self
            .http
            .post(url.clone())
            .header(CONTENT_TYPE, "application/json")
            .header(WEBHOOK_ID, webhook_id)
            .body(body.to_vec());
        if let Some(key) = delivery.signature_key {
            request = request.header(WEBHOOK_SIGNATURE, sign(key, body));
        }
        let response = request.send().await.map_err(|error| self.transport_error(url, &error))?;
        let status = response.status();
        if status.is_success() {
            return Ok(DeliveryOutcome::Delivered { status });
        }
        Ok(DeliveryOutcome::Failed { status, body_excerpt: excerpt(response).await })
    }

    fn transport_error(&self, url: &Url, error: &reqwest::Error) -> CallbackError {
        let host = url.host_str().unwrap_or_default().to_owned();
        if let Some(refused) = find_source::<ResolveError>(error) {
            return match refused {
                ResolveError::Refused { address, reason } => {
                    CallbackError::RefusedAddress { host, address: *address, reason }
                }
                ResolveError::Lookup(_) | ResolveError::NoAddress => {
                    CallbackError::Dns { host, message: refused.to_string() }
                }
            };
        }
        if error.is_timeout() {
            let after = if error.is_connect() { self.connect_timeout } else { self.timeout };
            return CallbackError::Timeout { host, after };
        }
        let message = innermost_message(error);
        if error.is_connect() {
            CallbackError::Connect { host, message }
        } else {
            CallbackError::Transport { host, message }
        }
    }
}

/// Why `address` may not be called without `allow_private`, as a noun phrase ("loopback"), or
/// `None` for a public address. IPv6 forms that embed an IPv4 address (mapped, NAT64, 6to4) are
/// judged by that address: they reach it.
pub fn refusal(address: IpAddr) -> Option<&'static str> {
    match address {
        IpAddr::V4(v4) => refusal_v4(v4),
        IpAddr::V6(v6) => refusal_v6(v6),
    }
}

fn refusal_v4(address: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = address.octets();
    let reason = if a == 0 {
        // 0.0.0.0 connects to this machine on Linux; the rest of 0/8 is "this network".
        "unspecified"
    } else if address.is_loopback() {
        "loopback"
    } else if address.is_private() {
        "private"
    } else if address.is_link_local() {
        "link-local (the cloud metadata address among them)"
    } else if a == 100 && (64..128).contains(&b) {
        "shared (carrier-grade NAT)"
    } else if address.is_broadcast() {
        "broadcast"
    } else if address.is_multicast() {
        "multicast"
    } else if address.is_documentation() {
        "documentation"
    } else if a == 198 && (18..20).contains(&b) {
        "benchmarking"
    } else if a == 192 && b == 0 && c == 0 {
        "IETF protocol assignments"
    } else if a >= 240 {
        "reserved"
    } else {
        return None;
    };
    Some(reason)
}

fn refusal_v6(address: Ipv6Addr) -> Option<&'static str> {
    if let Some(v4) = address.to_ipv4_mapped() {
        return refusal_v4(v4);
    }
    let s = address.segments();
    let embedded = |high: u16, low: u16| Ipv4Addr::from((u32::from(high) << 16) | u32::from(low));
    let reason = if address.is_loopback() {
        "loopback"
    } else if address.is_unspecified() {
        "unspecified"
    } else if s[..6] == [0; 6] {
        // ::a.b.c.d, deprecated IPv4-compatible addresses: never a public destination.
        "IPv4-compatible (deprecated)"
    } else if s[0] == 0x64 && s[1] == 0xff9b && s[2..6] == [0; 4] {
        // NAT64: the gateway connects to the embedded IPv4 address.
        return refusal_v4(embedded(s[6], s[7]));
    } else if s[0] == 0x64 && s[1] == 0xff9b && s[2] == 1 {
        "local-use NAT64"
    } else if s[0] == 0x2002 {
        // 6to4: the relay delivers to the embedded IPv4 address.
        return refusal_v4(embedded(s[1], s[2]));
    } else if address.is_unique_local() {
        "private (unique local)"
    } else if address.is_unicast_link_local() {
        "link-local"
    } else if s[0] & 0xffc0 == 0xfec0 {
        "site-local (deprecated)"
    } else if address.is_multicast() {
        "multicast"
    } else if (s[0] == 0x2001 && s[1] == 0x0db8) || (s[0] == 0x3fff && s[1] < 0x1000) {
        "documentation"
    } else if s[0] == 0x0100 && s[1..4] == [0; 3] {
        "discard-only"
    } else {
        return None;
    };
    Some(reason)
}

/// `localhost` and the names under it (RFC 6761), with or without the root's trailing dot.
fn is_localhost_name(name: &str) -> bool {
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    name == "localhost" || name.ends_with(".localhost")
}

/// What can be checked without resolving: the scheme, and unless `allow_private`, a literal IP
/// (which bypasses the resolver) and the localhost names.
fn check_target(url: &Url, policy: &CallbackPolicy) -> Result<(), CallbackError> {
    if !matches!(url.scheme(), "http" | "https") {
        return Err(CallbackError::Scheme(url.scheme().to_owned()));
    }
    let Some(host) = url.host() else {
        return Err(CallbackError::NoHost);
    };
    if policy.allow_private {
        return Ok(());
    }
    let address = match host {
        Host::Domain(name) if is_localhost_name(name) => {
            return Err(CallbackError::RefusedName { host: name.to_owned() })
        }
        Host::Domain(_) => return Ok(()),
        Host::Ipv4(v4) => IpAddr::V4(v4),
        Host::Ipv6(v6) => IpAddr::V6(v6),
    };
    match refusal(address) {
        Some(reason) => Err(CallbackError::RefusedAddress { host: host.to_string(), address, reason }),
        None => Ok(()),
    }
}

/// Why the resolver gave no address. Travels inside reqwest's error, where
/// [`CallbackClient::transport_error`] finds it again.
#[derive(Debug, thiserror::Error)]
enum ResolveError {
    #[error("resolves only to refused addresses, {address} among them ({reason})")]
    Refused { address: IpAddr, reason: &'static str },
    #[error("{0}")]
    Lookup(String),
    #[error("it resolves to no address")]
    NoAddress,
}

/// The system resolver, with the addresses [`refusal`] names dropped unless `allow_private`.
#[derive(Debug)]
struct GuardedResolver {
    policy: CallbackPolicy,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.policy;
        let host = name.as_str().to_owned();
        Box::pin(async move {
            // Port 0: reqwest puts the URL's port (or the scheme's) in its place.
            let found = tokio::net::lookup_host((host.as_str(), 0))
                .await
                .map_err(|error| ResolveError::Lookup(error.to_string()))?;
            let kept = permitted(found, &policy)?;
            Ok(Box::new(kept.into_iter()) as Addrs)
        })
    }
}

/// The addresses of `found` that may be connected to; an error when none remain.
fn permitted(
    found: impl IntoIterator<Item = SocketAddr>,
    policy: &CallbackPolicy,
) -> Result<Vec<SocketAddr>, ResolveError> {
    let mut first_refused = None;
    let kept: Vec<SocketAddr> = found
        .into_iter()
        .filter(|address| {
            let reason = if policy.allow_private { None } else { refusal(address.ip()) };
            if let Some(reason) = reason {
                first_refused.get_or_insert((address.ip(), reason));
            }
            reason.is_none()
        })
        .collect();
    match first_refused {
        _ if !kept.is_empty() => Ok(kept),
        Some((address, reason)) => Err(ResolveError::Refused { address, reason }),
        None => Err(ResolveError::NoAddress),
    }
}

/// The first error of type `E` in `error`'s chain of sources.
fn find_source<'a, E: std::error::Error + 'static>(error: &'a (dyn std::error::Error + 'static)) -> Option<&'a E> {
    let mut current = Some(error);
    while let Some(error) = current {
        if let Some(found) = error.downcast_ref::<E>() {
            return Some(found);
        }
        current = error.source();
    }
    None
}

/// The root cause's message ("Connection refused (os error 111)"), without reqwest's wrapping,
/// which repeats the URL.
fn innermost_message(error: &(dyn std::error::Error + 'static)) -> String {
    let mut innermost = error;
    while let Some(source) = innermost.source() {
        innermost = source;
    }
    innermost.to_string()
}

/// The first [`EXCERPT_LIMIT`] bytes of `response`'s body as text; what arrived before a read
/// error, if one comes. The rest is never read.
async fn excerpt(mut response: reqwest::Response) -> String {
    let mut bytes = Vec::new();
    while bytes.len() < EXCERPT_LIMIT {
        match response.chunk().await {
            Ok(Some(chunk)) => bytes.extend_from_slice(&chunk),
            Ok(None) | Err(_) => break,
        }
    }
    bytes.truncate(EXCERPT_LIMIT);
    lossy_text(&bytes)
}

/// `bytes` as text, invalid UTF-8 replaced; a character cut short at the end (by the limit) is
/// dropped rather than shown as a replacement character.
fn lossy_text(bytes: &[u8]) -> String {
    let whole = match std::str::from_utf8(bytes) {
        Err(error) if error.error_len().is_none() => &bytes[..error.valid_up_to()],
        _ => bytes,
    };
    String::from_utf8_lossy(whole).into_owned()
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpListener, TcpStream};
    use tokio::sync::mpsc;

    use super::*;

    const STRICT: CallbackPolicy = CallbackPolicy { allow_private: false };
    const PRIVATE: CallbackPolicy = CallbackPolicy { allow_private: true };
    const KEY: &[u8] = b"whsec-junction-test";
    const BODY: &[u8] = br#"{"message":{"eventId":42}}"#;
    /// python3: base64.b64encode(hmac.new(KEY, BODY, hashlib.sha256).digest())
    const BODY_SIGNATURE: &str = "sha256=TJUcCrfc7qHBTt5IAmKi62ZwRgKdLxFidNGlOld8RWA=";

    /// One request as it arrived: the head (request line and headers) as text, the body as bytes.
    struct Received {
        head: String,
        body: Vec<u8>,
    }

    /// A loopback HTTP/1.1 server that reads every request and answers it with `answer` (raw
    /// bytes), or never answers when `answer` is `None`.
    struct TestServer {
        address: SocketAddr,
        requests: mpsc::UnboundedReceiver<Received>,
        connections: Arc<AtomicUsize>,
    }

    impl TestServer {
        async fn start(answer: Option<String>) -> TestServer {
            let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind a loopback port");
            let address = listener.local_addr().expect("the bound address");
            let (sender, requests) = mpsc::unbounded_channel();
            let connections = Arc::new(AtomicUsize::new(0));
            let counter = Arc::clone(&connections);
            tokio::spawn(async move {
                while let Ok((stream, _)) = listener.accept().await {
                    counter.fetch_add(1, Ordering::SeqCst);
                    tokio::spawn(answer_one(stream, answer.clone(), sender.clone()));
                }
            });
            TestServer { address, requests, connections }
        }

        fn url(&self, host: &str, path: &str) -> Url {
            Url::parse(&format!("http://{host}:{}{path}", self.address.port())).expect("a test URL")
        }

        fn connections(&self) -> usize {
            self.connections.load(Ordering::SeqCst)
        }
    }

    async fn answer_one(mut stream: TcpStream, answer: Option<String>, sender: mpsc::UnboundedSender<Received>) {
        let Some(received) = read_request(&mut stream).await else { return };
        let _ = sender.send(received);
        match answer {
            Some(answer) => {
                let _ = stream.write_all(answer.as_bytes()).await;
                let _ = stream.shutdown().await;
            }
            // Holds the connection open, silent, until the client gives up.
            None => {
                let _ = stream.read(&mut [0; 1]).await;
            }
        }
    }

    async fn read_request(stream: &mut TcpStream) -> Option<Received> {
        let mut buffer = Vec::new();
        let head_end = loop {
            if let Some(end) = buffer.windows(4).position(|window| window == b"\r\n\r\n") {
                break end + 4;
            }
            let mut chunk = [0; 4096];
            let read = stream.read(&mut chunk).await.ok().filter(|&read| read > 0)?;
            buffer.extend_from_slice(&chunk[..read]);
        };
        let head = String::from_utf8(buffer[..head_end].to_vec()).ok()?;
        let length = head
            .lines()
            .find_map(|line| line.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().to_owned()))
            .and_then(|value| value.parse::<usize>().ok())
            .unwrap_or(0);
        let mut body = buffer[head_end..].to_vec();
        while body.len() < length {
            let mut chunk = [0; 4096];
            let read = stream.read(&mut chunk).await.ok().filter(|&read| read > 0)?;
            body.extend_from_slice(&chunk[..read]);
        }
        Some(Received { head, body })
    }

    fn no_content() -> Option<String> {
        Some("HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n".to_owned())
    }

    fn signed() -> Delivery<'static> {
        Delivery { webhook_id: "wh-7", signature_key: Some(KEY) }
    }

    #[test]
    fn signature_matches_known_vectors() {
        // The HMAC-SHA256 example of RFC 4231's era everyone quotes: hex f7bc83f4...
        assert_eq!(
            sign(b"key", b"The quick brown fox jumps over the lazy dog"),
            "sha256=97yD9DBThCSxMpjmqm+xQ+9NWaFJRhdZl0edvC0aPNg="
        );
        assert_eq!(sign(KEY, BODY), BODY_SIGNATURE);
    }

    #[tokio::test]
    async fn post_arrives_with_exact_body_and_signed_headers() {
        let mut server = TestServer::start(no_content()).await;
        let client = CallbackClient::new(PRIVATE).expect("client");
        let url = server.url("127.0.0.1", "/hooks/events?tenant=9");

        let outcome = client.post_json(&url, BODY, &signed()).await.expect("delivered");

        assert_eq!(outcome, DeliveryOutcome::Delivered { status: StatusCode::NO_CONTENT });
        let received = server.requests.recv().await.expect("the request");
        assert!(received.head.starts_with("POST /hooks/events?tenant=9 HTTP/1.1\r\n"), "{}", received.head);
        assert!(received.head.contains("\r\nContent-Type: application/json\r\n"), "{}", received.head);
        assert!(received.head.contains("\r\nElements-Webhook-Id: wh-7\r\n"), "{}", received.head);
        assert!(received.head.contains(&format!("\r\nUser-Agent: {USER_AGENT}\r\n")), "{}", received.head);
        assert!(
            received.head.contains(&format!("\r\nElements-Webhook-Signature: {BODY_SIGNATURE}\r\n")),
            "{}",
            received.head
        );
        assert_eq!(received.body, BODY);
        // Verified again from the received bytes with a MAC computed here.
        let signature = received
            .head
            .lines()
            .find_map(|line| line.strip_prefix("Elements-Webhook-Signature: sha256="))
            .expect("the signature header");
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(KEY).expect("any key length");
        mac.update(&received.body);
        mac.verify_slice(&BASE64.decode(signature).expect("base64")).expect("the signature verifies");
    }

    #[tokio::test]
    async fn unsigned_delivery_to_a_name_carries_no_signature() {
        let mut server = TestServer::start(Some("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok".to_owned())).await;
        let client = CallbackClient::new(PRIVATE).expect("client");
        let delivery = Delivery { webhook_id: "wh-8", signature_key: None };

        // A name goes through the guarded resolver, which keeps loopback under allow_private.
        let outcome = client.post_json(&server.url("localhost", "/"), b"{}", &delivery).await.expect("delivered");

        assert_eq!(outcome.status(), StatusCode::OK);
        assert!(outcome.is_delivered());
        let received = server.requests.recv().await.expect("the request");
        assert!(received.head.contains("\r\nElements-Webhook-Id: wh-8\r\n"));
        assert!(!received.head.to_ascii_lowercase().contains("elements-webhook-signature"));
    }

    #[tokio::test]
    async fn private_targets_are_refused_without_connecting() {
        let server = TestServer::start(no_content()).await;
        let client = CallbackClient::new(STRICT).expect("client");
        let port = server.address.port();
        let urls = [
            format!("http://127.0.0.1:{port}/"),
            format!("http://localhost:{port}/"),
            format!("http://LocalHost.:{port}/"),
            format!("http://api.localhost:{port}/"),
            format!("http://[::ffff:127.0.0.1]:{port}/"),
            format!("http://[::1]:{port}/"),
            format!("http://0.0.0.0:{port}/"),
            // 127.0.0.1 in decimal: the URL parser reads it as the address.
            format!("http://2130706433:{port}/"),
            "http://10.0.0.1/hook".to_owned(),
            "http://169.254.169.254/latest/meta-data/".to_owned(),
            "https://[fd00::1]/hook".to_owned(),
        ];
        for url in urls {
            let parsed = Url::parse(&url).expect("a test URL");
            let error = client.post_json(&parsed, BODY, &signed()).await.expect_err(&url);
            assert!(
                matches!(error, CallbackError::RefusedAddress { .. } | CallbackError::RefusedName { .. }),
                "{url}: {error:?}"
            );
            assert!(check_url(&url, &STRICT).is_err(), "{url}");
            assert!(check_url(&url, &PRIVATE).is_ok(), "{url}");
            let message = error.to_string();
            assert!(!message.contains("whsec") && !format!("{error:?}").contains("whsec"), "{message}");
        }
        assert_eq!(server.connections(), 0);
    }

    #[tokio::test]
    async fn a_name_resolving_to_loopback_is_refused_at_connect_time() {
        let server = TestServer::start(no_content()).await;
        let client = CallbackClient::new(STRICT).expect("client");

        // `send` skips the name rule that stops `localhost` earlier, as a rebinding name would
        // slip past it: only the resolver stands between it and loopback.
        let error = client.send(&server.url("localhost", "/"), BODY, &signed()).await.expect_err("refused");

        let CallbackError::RefusedAddress { host, address, reason } = &error else {
            panic!("not refused by the resolver: {error:?}")
        };
        assert_eq!(host, "localhost");
        assert!(address.is_loopback(), "{address}");
        assert_eq!(*reason, "loopback");
        assert_eq!(server.connections(), 0);
    }

    #[tokio::test]
    async fn the_resolver_drops_refused_addresses() {
        let strict = GuardedResolver { policy: STRICT };
        let name = Name::from_str("localhost").expect("a name");
        let error = strict.resolve(name).await.err().expect("localhost resolves only to loopback");
        assert!(matches!(error.downcast_ref::<ResolveError>(), Some(ResolveError::Refused { .. })), "{error}");

        let private = GuardedResolver { policy: PRIVATE };
        let name = Name::from_str("localhost").expect("a name");
        let found: Vec<SocketAddr> = private.resolve(name).await.expect("resolved").collect();
        assert!(found.iter().any(|address| address.ip().is_loopback()), "{found:?}");

        let public: SocketAddr = "93.184.215.14:0".parse().expect("address");
        let mixed = ["127.0.0.1:0", "93.184.215.14:0", "10.1.2.3:0", "[::ffff:192.168.0.1]:0"]
            .map(|address| address.parse::<SocketAddr>().expect("address"));
        assert_eq!(permitted(mixed, &STRICT).expect("one public"), vec![public]);
        assert_eq!(permitted(mixed, &PRIVATE).expect("all").len(), 4);
        assert!(matches!(permitted(mixed[2..].to_vec(), &STRICT), Err(ResolveError::Refused { .. })));
        assert!(matches!(permitted(Vec::new(), &STRICT), Err(ResolveError::NoAddress)));
    }

    #[test]
    fn refused_ranges() {
        let refused = [
            "0.0.0.0",
            "0.1.2.3",
            "127.0.0.1",
            "127.255.255.254",
            "10.0.0.1",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "100.127.255.255",
            "224.0.0.1",
            "255.255.255.255",
            "192.0.2.1",
            "198.51.100.7",
            "203.0.113.9",
            "198.18.0.1",
            "192.0.0.8",
            "240.0.0.1",
            "::",
            "::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::ffff:169.254.169.254",
            "::127.0.0.1",
            "64:ff9b::7f00:1",
            "2002:a00:1::1",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "febf::1",
            "fec0::1",
            "ff02::1",
            "2001:db8::1",
            "100::1",
        ];
        for address in refused {
            let parsed: IpAddr = address.parse().expect("address");
            assert!(refusal(parsed).is_some(), "{address} should be refused");
        }
        let public = [
            "8.8.8.8",
            "1.1.1.1",
            "172.15.255.255",
            "172.32.0.1",
            "100.63.255.255",
            "100.128.0.1",
            "198.20.0.1",
            "93.184.215.14",
            "2606:4700:4700::1111",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
            "2002:808:808::1",
        ];
        for address in public {
            let parsed: IpAddr = address.parse().expect("address");
            assert_eq!(refusal(parsed), None, "{address} should be allowed");
        }
        assert_eq!(refusal("::ffff:127.0.0.1".parse().expect("address")), Some("loopback"));
    }

    #[test]
    fn check_url_takes_public_http_urls_only() {
        let url = check_url("https://hooks.example.com/junction?x=1", &STRICT).expect("public");
        assert_eq!(url.host_str(), Some("hooks.example.com"));
        assert!(check_url("http://203.0.114.1:8080/", &STRICT).is_ok());
        assert!(matches!(check_url("ftp://example.com/", &PRIVATE), Err(CallbackError::Scheme(s)) if s == "ftp"));
        assert!(matches!(check_url("file:///etc/passwd", &PRIVATE), Err(CallbackError::Scheme(_))));
        assert!(matches!(check_url("not a url", &PRIVATE), Err(CallbackError::InvalidUrl(_))));
        assert!(check_url("http://localhost.example.com/", &STRICT).is_ok());
    }

    #[tokio::test]
    async fn a_redirect_is_a_failure_and_is_not_followed() {
        let answer = "HTTP/1.1 302 Found\r\nLocation: /elsewhere\r\nContent-Length: 0\r\n\r\n";
        let mut server = TestServer::start(Some(answer.to_owned())).await;
        let client = CallbackClient::new(PRIVATE).expect("client");

        let outcome = client.post_json(&server.url("127.0.0.1", "/hook"), BODY, &signed()).await.expect("answered");

        assert_eq!(outcome, DeliveryOutcome::Failed { status: StatusCode::FOUND, body_excerpt: String::new() });
        assert_eq!(outcome.to_string(), "the callback answered 302 Found");
        let first = server.requests.recv().await.expect("the request");
        assert!(first.head.starts_with("POST /hook "));
        assert!(server.requests.try_recv().is_err(), "the redirect was followed");
        assert_eq!(server.connections(), 1);
    }

    #[tokio::test]
    async fn a_server_error_is_a_failure_with_its_status_and_an_excerpt() {
        let body = format!("database on fire: {}", "x".repeat(1000));
        let answer = format!("HTTP/1.1 500 Internal Server Error\r\nContent-Length: {}\r\n\r\n{body}", body.len());
        let server = TestServer::start(Some(answer)).await;
        let client = CallbackClient::new(PRIVATE).expect("client");

        let outcome = client.post_json(&server.url("127.0.0.1", "/"), BODY, &signed()).await.expect("answered");

        let DeliveryOutcome::Failed { status, body_excerpt } = &outcome else { panic!("delivered: {outcome:?}") };
        assert_eq!(*status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(body_excerpt.len(), EXCERPT_LIMIT);
        assert_eq!(body_excerpt.as_str(), &body[..EXCERPT_LIMIT]);
        assert!(outcome
            .to_string()
            .starts_with("the callback answered 500 Internal Server Error: database on fire: x"));
    }

    #[tokio::test]
    async fn a_silent_server_fails_by_timeout() {
        let server = TestServer::start(None).await;
        let client = CallbackClient::with_timeout(PRIVATE, Duration::from_millis(300)).expect("client");
        let started = std::time::Instant::now();

        let error = client.post_json(&server.url("127.0.0.1", "/"), BODY, &signed()).await.expect_err("timed out");

        assert!(
            matches!(error, CallbackError::Timeout { after, .. } if after == Duration::from_millis(300)),
            "{error:?}"
        );
        assert!(started.elapsed() < Duration::from_secs(5));
        assert!(!error.to_string().contains("whsec"));
        assert_eq!(server.connections(), 1);
    }

    #[tokio::test]
    async fn a_closed_port_is_a_connect_error() {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("address").port();
        drop(listener);
        let client = CallbackClient::new(PRIVATE).expect("client");
        let url = Url::parse(&format!("http://127.0.0.1:{port}/")).expect("url");

        let error = client.post_json(&url, BODY, &signed()).await.expect_err("nothing listens");

        assert!(matches!(error, CallbackError::Connect { .. }), "{error:?}");
    }

    #[tokio::test]
    async fn an_invalid_webhook_id_is_refused_before_sending() {
        let client = CallbackClient::new(PRIVATE).expect("client");
        let url = Url::parse("http://127.0.0.1:9/").expect("url");
        let delivery = Delivery { webhook_id: "wh\r\nX-Injected: 1", signature_key: None };
        let error = client.post_json(&url, BODY, &delivery).await.expect_err("invalid");
        assert!(matches!(error, CallbackError::InvalidWebhookId));
    }

    #[test]
    fn delivery_debug_hides_the_key() {
        assert!(!format!("{:?}", signed()).contains("whsec"));
    }

    #[test]
    fn an_excerpt_drops_a_character_cut_by_the_limit() {
        assert_eq!(lossy_text("abé".as_bytes()), "abé");
        assert_eq!(lossy_text(&"abé".as_bytes()[..3]), "ab");
        assert_eq!(lossy_text(b"a\xffb"), "a\u{fffd}b");
    }
}
