//! One vendor REST call with everything around it: the caller's access token (from its
//! [`TokenSource`], refreshed once on a vendor 401), the rate limiter of the OAuth client and of
//! the vendor account before the call (with the caller's priority and longest wait) and in step
//! with the vendor's headers after it (the account as the vendor last named it for the caller's
//! instance), bounded retries with jittered backoff for idempotent calls on vendor 5xx and transport
//! failures, a short vendor `Retry-After` waited out, and every failure typed ([`VendorError`]).
//!
//! [`VendorClient::send`] returns the vendor's answer whatever its status (the raw passthrough
//! wants it as it came); [`VendorClient::send_json`] returns the JSON of a success and turns any
//! other status into [`VendorError::Status`] with the vendor's own text.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use domain::token_rules;
use http_body_util::{BodyExt, Full};
use hyper::http::uri::PathAndQuery;
use hyper_rustls::{ConfigBuilderExt, HttpsConnector};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use reqwest::header::{self, HeaderMap, HeaderValue};
use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::endpoints::VendorEndpoints;
use crate::rate_limit::{account_of, CountedAgainst, Priority, VendorRateLimiter};
use crate::thread_connections::{self, Origin};
use crate::tokens::{AccessToken, CredentialScheme, TokenError, TokenSource};

/// Retries of an idempotent call after a vendor 5xx or a transport failure.
const IDEMPOTENT_RETRIES: u32 = 2;
/// The longest vendor `Retry-After` a call waits out itself before failing as throttled.
const MAX_VENDOR_RETRY_WAIT: Duration = Duration::from_secs(2);
/// The header Keap reads personal access tokens and service account keys from (`X-Keap-API-Key`;
/// header names go out in lower case, as reqwest sent this one).
const API_KEY_HEADER: header::HeaderName = header::HeaderName::from_static("x-keap-api-key");

/// A vendor call: a method, a path under the REST base (`v2/contacts/12`), a query and a body.
#[derive(Debug, Clone)]
pub struct VendorRequest {
    pub method: Method,
    pub path: String,
    pub query: Vec<(String, String)>,
    pub body: Option<Bytes>,
    /// The body's media type, when there is one (`application/json` unless passed through).
    pub content_type: Option<String>,
}

impl VendorRequest {
    /// A request without a body.
    pub fn new(method: Method, path: impl Into<String>) -> Self {
        VendorRequest { method, path: path.into(), query: Vec::new(), body: None, content_type: None }
    }

    /// Adds a query parameter.
    pub fn query(mut self, name: &str, value: impl Into<String>) -> Self {
        self.query.push((name.to_string(), value.into()));
        self
    }

    /// Sets a JSON body.
    pub fn json(mut self, body: &Value) -> Self {
        self.body = Some(Bytes::from(body.to_string()));
        self.content_type = Some("application/json".into());
        self
    }

    /// The path and query as sent, for trace logs (`/v2/contacts?page_size=1`).
    pub fn path_and_query(&self) -> String {
        let mut path = format!("/{}", self.path);
        if !self.query.is_empty() {
            path.push('?');
            path.push_str(&serde_urlencoded::to_string(&self.query).unwrap_or_default());
        }
        path
    }

    fn idempotent(&self) -> bool {
        matches!(self.method, Method::GET | Method::HEAD | Method::PUT | Method::DELETE | Method::OPTIONS)
    }
}

/// The vendor's answer as it came.
#[derive(Debug)]
pub struct VendorReply {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// Why a vendor call gave no usable answer.
#[derive(Debug, thiserror::Error)]
pub enum VendorError {
    /// Junction's own limiter would not let the call go within the caller's longest wait.
    #[error("the vendor's rate limit for this OAuth client is reached")]
    LimitReached { retry_after: Duration },
    /// The vendor answered 429, with its `Retry-After` if it sent one.
    #[error("the vendor refused the call: rate limit exceeded")]
    Throttled { retry_after: Option<Duration> },
    /// No answer within the client's timeout.
    #[error("the vendor did not answer in time")]
    Timeout,
    /// The vendor could not be reached or closed the connection.
    #[error("the vendor could not be reached")]
    Unreachable,
    /// The vendor answered an error status; `provider_message` is its own text.
    #[error("the vendor answered HTTP {status}")]
    Status { status: u16, provider_message: Option<String> },
    /// A success whose body is not JSON (where JSON was expected).
    #[error("the vendor's answer was not JSON")]
    NotJson,
    /// The request's path does not join onto the REST base.
    #[error("the vendor path is not a valid URL path")]
    InvalidPath,
    /// No access token could be had.
    #[error(transparent)]
    Token(#[from] TokenError),
}

impl VendorError {
    /// The error of a vendor error answer, with the vendor's own text: REST v2 `{message}`, the
    /// gateway's `{fault: {faultstring}}`.
    pub fn status(status: u16, body: &[u8]) -> Self {
        let json: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
        let provider_message = json
            .get("message")
            .or_else(|| json.pointer("/fault/faultstring"))
            .and_then(Value::as_str)
            .map(str::to_string);
        VendorError::Status { status, provider_message }
    }
}

/// Told about every attempt a call makes (metrics, the trace log, the driver's call counter).
pub trait CallObserver: Send + Sync {
    /// `status` is `None` when no answer came (timeout, transport failure).
    fn attempted(&self, request: &VendorRequest, status: Option<u16>, took: Duration);
}

/// Who makes a call, and how patiently.
#[derive(Clone, Copy)]
pub struct CallContext<'a> {
    /// The OAuth client id the vendor counts the call against.
    pub client_id: &'a str,
    pub tokens: &'a dyn TokenSource,
    pub priority: Priority,
    /// The longest the call may wait for the rate limiter; `None`: the limiter's default.
    pub max_wait: Option<Duration>,
    pub observer: Option<&'a dyn CallObserver>,
    /// The vendor account (its host, `ab123.infusionsoft.com`) the caller expects its calls to
    /// count against, until an answer names the real one: for an instance, the account its grants
    /// named (`domain::token_rules::TokenGrant::account`), else its `infusionsoft.server`.
    pub account: Option<&'a str>,
    /// Names the caller in log lines (an instance id; 0 for none). An instance's calls are
    /// counted against the vendor account its answers last named (else `account`); a caller with
    /// 0, against `account` alone.
    pub log_id: i64,
}

impl<'a> CallContext<'a> {
    /// An interactive call by `client_id` with `tokens`: the limiter's default wait, no observer,
    /// no account expected and no instance. Set the other fields with struct update syntax.
    pub fn interactive(client_id: &'a str, tokens: &'a dyn TokenSource) -> Self {
        CallContext {
            client_id,
            tokens,
            priority: Priority::Interactive,
            max_wait: None,
            observer: None,
            account: None,
            log_id: 0,
        }
    }
}

impl std::fmt::Debug for CallContext<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallContext")
            .field("priority", &self.priority)
            .field("max_wait", &self.max_wait)
            .field("log_id", &self.log_id)
            .finish_non_exhaustive()
    }
}

/// The connection pool the REST calls go through: hyper's own client, HTTP/1.1, TLS by rustls for
/// an `https` base (the same rustls, ring and Mozilla roots reqwest uses for the OAuth calls).
type Pool = Client<HttpsConnector<HttpConnector>, Full<Bytes>>;

/// From now on, the REST calls made on this thread go through connections of its own, opened and
/// driven on this thread, whichever [`VendorClient`] makes them (`thread_connections`). For a
/// thread that runs a current-thread runtime of its own (`junction serve`'s HTTP threads): a
/// connection another thread's runtime drives would need that thread for every call made on it.
/// Fails as [`VendorClient::new`] does.
pub fn keep_connections_on_this_thread() -> Result<(), ClientStartError> {
    thread_connections::keep_on_this_thread(connector()?);
    Ok(())
}

/// The vendor's REST API, shared by every caller in the process.
///
/// The REST calls go through hyper rather than reqwest: reqwest's request builder, URL handling
/// and boxed layers were a sixth of a raw passthrough's instructions (BENCHMARKS.md "The hot
/// path"). On a thread that keeps connections of its own ([`keep_connections_on_this_thread`]),
/// through those; on any other, through hyper-util's pooled client. What reqwest gave is kept: no
/// redirect is ever followed (hyper follows none), the whole call (answer and body) is bounded by
/// the timeout, the same TCP and TLS settings, and `Accept: */*`.
#[derive(Debug)]
pub struct VendorClient {
    http: Pool,
    timeout: Duration,
    endpoints: VendorEndpoints,
    limiter: Arc<VendorRateLimiter>,
    /// The vendor account each instance's answers last named (`x-keap-tenant-id`), kept only
    /// while the limiter counts per account.
    accounts: Mutex<HashMap<i64, Arc<str>>>,
    /// The REST base taken apart once, for the calls whose path is simply appended to it.
    rest: Option<RestBase>,
}

/// The vendor client could not start: its TLS configuration was refused.
#[derive(Debug, thiserror::Error)]
#[error("the vendor client's TLS could not start: {0}")]
pub struct ClientStartError(#[from] rustls::Error);

impl VendorClient {
    /// A client of the REST API at `endpoints.api_base`, whose whole calls time out after
    /// `timeout`, counted against `limiter`. Fails when the TLS backend cannot start.
    pub fn new(
        endpoints: VendorEndpoints,
        limiter: Arc<VendorRateLimiter>,
        timeout: Duration,
    ) -> Result<Self, ClientStartError> {
        let rest = RestBase::of(&endpoints.api_base);
        Ok(VendorClient { http: pool()?, timeout, endpoints, limiter, accounts: Mutex::default(), rest })
    }

    /// The account `instance`'s calls count against, as the vendor last named it.
    fn named_account(&self, instance: i64) -> Option<Arc<str>> {
        if instance == 0 || !self.limiter.limits_accounts() {
            return None;
        }
        self.accounts.lock().unwrap_or_else(|e| e.into_inner()).get(&instance).cloned()
    }

    /// Remembers the account an answer to `instance` named, if it is new.
    fn learn_account(&self, instance: i64, known: Option<&str>, headers: &HeaderMap) {
        if instance == 0 || !self.limiter.limits_accounts() {
            return;
        }
        let Some(named) = account_of(headers).filter(|named| known != Some(*named)) else { return };
        self.accounts.lock().unwrap_or_else(|e| e.into_inner()).insert(instance, Arc::from(named));
    }

    pub fn endpoints(&self) -> &VendorEndpoints {
        &self.endpoints
    }

    /// Sends `request` and returns the vendor's answer, whatever its status, once the token, the
    /// rate limiter and the retries are done with it. Fails only when no answer could be had, or
    /// the vendor kept answering 429.
    pub async fn send(&self, context: &CallContext<'_>, request: &VendorRequest) -> Result<VendorReply, VendorError> {
        let mut token = context.tokens.current().await?;
        let mut refreshed = false;
        let mut attempt = 0;
        let named = self.named_account(context.log_id);
        let who = CountedAgainst { client_id: context.client_id, account: named.as_deref().or(context.account) };
        loop {
            // Held until the vendor's answer is observed: the call counts as in flight until then.
            let permit = self
                .limiter
                .acquire_for(who, context.priority, context.max_wait)
                .await
                .map_err(|throttled| VendorError::LimitReached { retry_after: throttled.retry_after })?;
            let started = Instant::now();
            let sent = self.transmit(request, &token, context.tokens.scheme()).await;
            if let Some(observer) = context.observer {
                observer.attempted(request, sent.as_ref().ok().map(|reply| reply.status), started.elapsed());
            }
            let reply = match sent {
                Ok(reply) => reply,
                // A timeout is not retried: the caller has already waited the whole timeout once.
                Err(VendorError::Unreachable) if request.idempotent() && attempt < IDEMPOTENT_RETRIES => {
                    attempt += 1;
                    tracing::info!(instance_id = context.log_id, attempt, "vendor unreachable; retrying");
                    backoff(attempt).await;
                    continue;
                }
                Err(error) => return Err(error),
            };
            let status = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::BAD_GATEWAY);
            self.limiter.observe_for(who, &reply.headers, status);
            drop(permit);
            self.learn_account(context.log_id, who.account, &reply.headers);
            if token_rules::reactive_refresh_allowed(reply.status, refreshed) {
                if let Some(fresh) = context.tokens.refresh_after_401(&token).await? {
                    tracing::info!(instance_id = context.log_id, "vendor answered 401; refreshed once");
                    token = fresh;
                    refreshed = true;
                    continue;
                }
            }
            if reply.status == 429 {
                match vendor_retry_after(&reply.headers) {
                    Some(wait) if wait <= MAX_VENDOR_RETRY_WAIT && attempt < IDEMPOTENT_RETRIES => {
                        attempt += 1;
                        tokio::time::sleep(wait).await;
                        continue;
                    }
                    retry_after => return Err(VendorError::Throttled { retry_after }),
                }
            }
            if reply.status >= 500 && request.idempotent() && attempt < IDEMPOTENT_RETRIES {
                attempt += 1;
                tracing::info!(instance_id = context.log_id, status = reply.status, attempt, "vendor failed; retrying");
                backoff(attempt).await;
                continue;
            }
            return Ok(reply);
        }
    }

    /// Sends `request` and returns the vendor's JSON answer (`null` for an empty body); an error
    /// status is [`VendorError::Status`].
    pub async fn send_json(&self, context: &CallContext<'_>, request: &VendorRequest) -> Result<Value, VendorError> {
        let body = self.send_for_body(context, request).await?;
        if body.is_empty() {
            return Ok(Value::Null);
        }
        // A success that is not JSON would map to a record of nulls: a vendor fault, not data.
        serde_json::from_slice(&body).map_err(|_| VendorError::NotJson)
    }

    /// Sends `request` and returns the body of the vendor's success answer, unparsed; an error
    /// status is [`VendorError::Status`].
    pub async fn send_for_body(
        &self,
        context: &CallContext<'_>,
        request: &VendorRequest,
    ) -> Result<Bytes, VendorError> {
        let reply = self.send(context, request).await?;
        if !(200..300).contains(&reply.status) {
            return Err(VendorError::status(reply.status, &reply.body));
        }
        Ok(reply.body)
    }

    async fn transmit(
        &self,
        request: &VendorRequest,
        token: &AccessToken,
        scheme: CredentialScheme,
    ) -> Result<VendorReply, VendorError> {
        let Target { origin, path_and_query, host } =
            call_target(&self.endpoints.api_base, self.rest.as_ref(), &request.path, &request.query)?;
        // A thread's own connections take the request line's origin form; the pool, the whole URI.
        let kept_here = thread_connections::kept_here();
        let uri =
            if kept_here { hyper::Uri::from(path_and_query) } else { Target::uri(origin.clone(), path_and_query)? };
        let mut builder = hyper::Request::builder().method(request.method.clone()).uri(uri);
        let headers = builder.headers_mut().ok_or(VendorError::InvalidPath)?;
        headers.insert(header::HOST, host);
        headers.insert(header::ACCEPT, HeaderValue::from_static("*/*"));
        // A token or media type no header can carry failed reqwest's builder, and so the call,
        // as unreachable: kept so.
        match scheme {
            CredentialScheme::Bearer => {
                headers.insert(header::AUTHORIZATION, bearer_header(&token.secret).ok_or(VendorError::Unreachable)?)
            }
            CredentialScheme::ApiKey => headers.insert(API_KEY_HEADER, api_key_header(&token.secret)),
        };
        let body = match &request.body {
            Some(body) => {
                if let Some(content_type) = &request.content_type {
                    let value = HeaderValue::try_from(content_type.as_str()).map_err(|_| VendorError::Unreachable)?;
                    headers.insert(header::CONTENT_TYPE, value);
                }
                Full::new(body.clone())
            }
            None => Full::default(),
        };
        let call = builder.body(body).map_err(|_| VendorError::InvalidPath)?;
        let exchange = async {
            let (parts, body) = if kept_here {
                thread_connections::exchange(&origin, call).await?
            } else {
                let response = self.http.request(call).await.map_err(|_| VendorError::Unreachable)?;
                let (parts, body) = response.into_parts();
                (parts, body.collect().await.map_err(|_| VendorError::Unreachable)?.to_bytes())
            };
            Ok(VendorReply { status: parts.status.as_u16(), headers: parts.headers, body })
        };
        // The whole call, its body included, as reqwest's `timeout` bounded it.
        tokio::time::timeout(self.timeout, exchange).await.unwrap_or(Err(VendorError::Timeout))
    }
}

/// `path` under the REST base `base`. A plain relative path (`v2/contacts/12`: what the engine
/// builds, and all the raw passthrough lets through) is appended to the base's path, which parses
/// only the path; anything else is resolved as a relative reference (`Url::join`), which parses
/// the whole URL again (a tenth of a raw passthrough's instructions, host and IDNA included).
fn vendor_url(base: &url::Url, path: &str) -> Result<url::Url, VendorError> {
    if !plain(base, path) {
        return base.join(path).map_err(|_| VendorError::InvalidPath);
    }
    let mut url = base.clone();
    url.set_path(&[base.path(), path].concat());
    Ok(url)
}

/// The REST base taken apart once, when a plain path (see [`plain`]) is simply appended to
/// it (its path ends with `/`, and it has no query or fragment): its scheme and authority, its
/// path, and the `Host` header of its calls. Putting a call's URI together from these parses only the
/// path (about 1,800 instructions a call went to formatting and parsing the whole URI again).
#[derive(Debug)]
struct RestBase {
    origin: Origin,
    path: String,
    host: HeaderValue,
}

impl RestBase {
    fn of(base: &url::Url) -> Option<RestBase> {
        if !base.path().ends_with('/') || base.query().is_some() || base.fragment().is_some() {
            return None;
        }
        let uri = hyper::Uri::try_from(base.as_str()).ok()?;
        let origin = Origin { scheme: uri.scheme()?.clone(), authority: uri.authority()?.clone() };
        Some(RestBase { origin, path: base.path().to_string(), host: host_header(&uri)? })
    }
}

/// Where a call goes: its origin, the path and query its request line names (origin form, as a
/// thread's own connections send it), and its `Host` header.
struct Target {
    origin: Origin,
    path_and_query: PathAndQuery,
    host: HeaderValue,
}

impl Target {
    /// The call's absolute URI, as the pooled client takes it.
    fn uri(origin: Origin, path_and_query: PathAndQuery) -> Result<hyper::Uri, VendorError> {
        let mut parts = hyper::http::uri::Parts::default();
        parts.scheme = Some(origin.scheme);
        parts.authority = Some(origin.authority);
        parts.path_and_query = Some(path_and_query);
        hyper::Uri::from_parts(parts).map_err(|_| VendorError::InvalidPath)
    }
}

/// Where a call goes ([`Target`]): [`vendor_url`], then the query form-encoded (as reqwest's
/// `query` wrote it). Without a query, a plain path made only of characters a URL path keeps as
/// they are (the engine's paths, the raw passthrough's) is put together from the [`RestBase`]'s
/// parts, which is what `vendor_url` gives, without building a `Url` or parsing a whole URI.
fn call_target(
    base: &url::Url,
    rest: Option<&RestBase>,
    path: &str,
    query: &[(String, String)],
) -> Result<Target, VendorError> {
    if let Some(rest) =
        rest.filter(|_| query.is_empty() && path.bytes().all(kept_in_path) && relative_without_dots(path))
    {
        let path_and_query =
            PathAndQuery::try_from([rest.path.as_str(), path].concat()).map_err(|_| VendorError::InvalidPath)?;
        return Ok(Target { origin: rest.origin.clone(), path_and_query, host: rest.host.clone() });
    }
    let mut url = vendor_url(base, path)?;
    if !query.is_empty() {
        url.query_pairs_mut().extend_pairs(query);
    }
    let uri = hyper::Uri::try_from(String::from(url)).map_err(|_| VendorError::InvalidPath)?;
    let host = host_header(&uri).ok_or(VendorError::InvalidPath)?;
    let parts = uri.into_parts();
    let (Some(scheme), Some(authority)) = (parts.scheme, parts.authority) else {
        return Err(VendorError::InvalidPath);
    };
    let path_and_query = parts.path_and_query.unwrap_or_else(|| PathAndQuery::from_static("/"));
    Ok(Target { origin: Origin { scheme, authority }, path_and_query, host })
}

/// A relative path with no dot segment, query, fragment, backslash or escape, under a base whose
/// path ends with `/` and that has no query or fragment: appending it to the base is resolving it.
fn plain(base: &url::Url, path: &str) -> bool {
    base.path().ends_with('/')
        && base.query().is_none()
        && base.fragment().is_none()
        && relative_without_dots(path)
        && !path.contains(['?', '#', '\\', '%'])
}

/// A relative path with no dot segment. (A path whose every byte is [`kept_in_path`] has no query,
/// fragment, backslash or escape either: [`call_target`] checks that instead.)
fn relative_without_dots(path: &str) -> bool {
    !path.starts_with('/') && !path.split('/').any(|segment| segment == "." || segment == "..")
}

/// A byte the URL parser leaves as it is in a path (no percent-encoding, no normalisation).
fn kept_in_path(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || b"-._~:,/@!$&'()*+;=".contains(&byte)
}

/// The `Host` header of a call to `uri`, as hyper's pooled client writes it: the host, and the
/// port unless it is the scheme's default.
fn host_header(uri: &hyper::Uri) -> Option<HeaderValue> {
    let host = uri.host()?;
    let default_port = match uri.scheme_str() {
        Some("https") => Some(443),
        Some("http") => Some(80),
        _ => None,
    };
    let value = match uri.port_u16().filter(|port| Some(*port) != default_port) {
        Some(port) => HeaderValue::try_from(format!("{host}:{port}")),
        None => HeaderValue::try_from(host),
    };
    value.ok()
}

/// The REST calls' connection pool: hyper-util's, over [`connector`], its idle connections kept
/// 90 s ([`thread_connections::IDLE_TIMEOUT`]).
fn pool() -> Result<Pool, ClientStartError> {
    Ok(Client::builder(TokioExecutor::new())
        .timer(TokioTimer::new())
        .pool_timer(TokioTimer::new())
        .pool_idle_timeout(thread_connections::IDLE_TIMEOUT)
        .build(connector()?))
}

/// How the REST calls connect, set up as reqwest set up its own (`oauth::no_redirects`): TCP
/// keep-alive every 15 s (3 probes), `TCP_NODELAY`, a 30 s user timeout; rustls with the
/// process's crypto provider (ring unless another was installed), the safe protocol versions,
/// Mozilla's roots and ALPN `http/1.1`.
fn connector() -> Result<HttpsConnector<HttpConnector>, ClientStartError> {
    let mut tcp = HttpConnector::new();
    tcp.enforce_http(false);
    tcp.set_nodelay(true);
    tcp.set_keepalive(Some(Duration::from_secs(15)));
    tcp.set_keepalive_interval(Some(Duration::from_secs(15)));
    tcp.set_keepalive_retries(Some(3));
    tcp.set_tcp_user_timeout(Some(Duration::from_secs(30)));
    let provider = rustls::crypto::CryptoProvider::get_default()
        .cloned()
        .unwrap_or_else(|| std::sync::Arc::new(rustls::crypto::ring::default_provider()));
    let mut tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_webpki_roots()
        .with_no_client_auth();
    tls.alpn_protocols = vec![b"http/1.1".to_vec()];
    // `https` and `http` both (the simulator is plain HTTP). Not through hyper-rustls's builder,
    // which refuses a configuration with ALPN set and, HTTP/1.1 alone, would send none.
    Ok(HttpsConnector::from((tcp, tls)))
}

/// `Bearer <token>` marked sensitive, as reqwest's `bearer_auth` wrote it; `None` for a token no
/// header can carry.
fn bearer_header(token: &domain::Secret) -> Option<HeaderValue> {
    let mut value = HeaderValue::from_str(&["Bearer ", token.expose()].concat()).ok()?;
    value.set_sensitive(true);
    Some(value)
}

/// The key as a header value marked sensitive (kept out of `Debug` and HTTP/2 header tables), as
/// `bearer_auth` marks a bearer token. A key an HTTP header cannot carry (a control character) is
/// sent empty, so the vendor answers the 401 such a key deserves.
fn api_key_header(key: &domain::Secret) -> HeaderValue {
    match HeaderValue::from_str(key.expose()) {
        Ok(mut value) => {
            value.set_sensitive(true);
            value
        }
        Err(_) => HeaderValue::from_static(""),
    }
}

/// 100 ms, then 300 ms, with up to 50% jitter so that retries from many callers spread out.
async fn backoff(attempt: u32) {
    let base = 100u64 * 3u64.pow(attempt.saturating_sub(1));
    let jitter = rand::random_range(0..=base / 2);
    tokio::time::sleep(Duration::from_millis(base + jitter)).await;
}

/// The vendor's `Retry-After` (seconds) on a 429, if it sent one.
fn vendor_retry_after(headers: &HeaderMap) -> Option<Duration> {
    let text = headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?;
    text.trim().parse::<u64>().ok().map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vendor_urls_are_what_joining_onto_the_rest_base_gives() {
        let base = url::Url::parse("http://127.0.0.1:8091/crm/rest/").unwrap();
        for path in [
            "v2/contacts/12",
            "v1/contacts",
            "v2/products/3:adjustInventory",
            "v2/tags/1/contacts:applyTags",
            "v2/a b",
            "",
            "v2/../token",
            "/token",
            "v2/contacts?x=1",
            "v2/%2e%2e/x",
        ] {
            assert_eq!(vendor_url(&base, path).unwrap(), base.join(path).unwrap(), "{path}");
        }
        for odd in ["http://127.0.0.1:8091/crm/rest", "http://127.0.0.1:8091/crm/rest/?a=b", "http://h/crm/rest/#f"] {
            let odd = url::Url::parse(odd).unwrap();
            assert_eq!(vendor_url(&odd, "v2/contacts").unwrap(), odd.join("v2/contacts").unwrap(), "{odd}");
            assert!(RestBase::of(&odd).is_none(), "{odd}: a path is not simply appended to it");
        }
    }

    #[test]
    fn the_host_header_is_the_calls_host_with_its_port_unless_it_is_the_schemes_default() {
        for (base, host) in [
            ("http://127.0.0.1:8091/crm/rest/", "127.0.0.1:8091"),
            ("https://api.infusionsoft.com/crm/rest/", "api.infusionsoft.com"),
            ("https://API.Example.com:443/crm/rest/", "api.example.com"),
            ("http://example.com:80/rest/", "example.com"),
            ("http://example.com:443/rest/", "example.com:443"),
            ("http://user:secret@[::1]:8080/rest/", "[::1]:8080"),
        ] {
            let base = url::Url::parse(base).unwrap();
            let target = call_target(&base, RestBase::of(&base).as_ref(), "v2/contacts", &[]).unwrap();
            assert_eq!(target.host, host, "{base}");
            let uri = Target::uri(target.origin, target.path_and_query).unwrap();
            assert_eq!(host_header(&uri).unwrap(), host, "{base}");
            // Through `Url::join`, as a path that is not plain goes.
            assert_eq!(call_target(&base, None, "v2/contacts", &[]).unwrap().host, host, "{base}");
        }
    }

    #[test]
    fn call_uris_are_the_joined_url_with_its_query_form_encoded() {
        let base = url::Url::parse("https://api.infusionsoft.com/crm/rest/").unwrap();
        let rest = RestBase::of(&base);
        assert!(rest.is_some());
        let no_query: Vec<(String, String)> = Vec::new();
        let query = vec![("page_size".to_string(), "2".to_string()), ("filter".to_string(), "a b&c=é".to_string())];
        for path in [
            "v2/contacts/12",
            "v2/products/3:adjustInventory",
            "v2/a,b;c=d@e!$&'()*+",
            "v2/a b",
            "v2/é",
            "",
            "v2/../token",
            "/token",
            "v2/contacts?x=1",
            "v2/%2e%2e/x",
        ] {
            for pairs in [&no_query, &query] {
                let mut expected = base.join(path).unwrap();
                if !pairs.is_empty() {
                    expected.query_pairs_mut().extend_pairs(pairs);
                }
                for rest in [rest.as_ref(), None] {
                    let target = call_target(&base, rest, path, pairs).unwrap();
                    let uri = Target::uri(target.origin, target.path_and_query).unwrap();
                    assert_eq!(uri.to_string(), String::from(expected.clone()), "{path} {pairs:?}");
                }
            }
        }
    }
}
