//! The vendor's API gateway in front of `/crm/rest/...`: authenticates the caller (a bearer token,
//! or a Keap API key in `X-Keap-API-Key`; 401 with the gateway's `fault` body before any routing),
//! enforces the rate limits (429) of the OAuth client or of the key, and of the account, counts the
//! call, and stamps the quota and throttle headers on every answer: the client's or the key's as
//! `x-keap-product-*` (the vendor's answers to key calls carry the key's 240/min there, and its
//! spike limit as `x-keap-product-spike-limit: 10ps`), the account's as `x-keap-tenant-*`.

use crate::errors::{gateway_unauthorized, throttled, ApiError, TokenProblem};
use crate::rate_limit::{HeaderFamily, Snapshot};
use crate::state::{Sim, Stats};
use crate::tokens::{BearerCheck, Principal};
use axum::extract::{Request, State};
use axum::http::{header, HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

/// The header carrying a personal access token or service account key.
const API_KEY_HEADER: &str = "x-keap-api-key";

/// The authenticated caller, put in the request's extensions for the handlers.
#[derive(Debug, Clone)]
pub struct Caller(pub Principal);

/// How the caller authenticated, which decides whose limits its calls count against.
#[derive(Debug, Clone, Copy)]
enum Credential {
    /// An OAuth access token: the OAuth client's limits.
    AccessToken,
    /// A personal access token or service account key: the key's own limits.
    ApiKey,
}

/// Middleware for every REST route.
pub async fn gateway(State(sim): State<Arc<Sim>>, mut request: Request, next: Next) -> Response {
    if !crate::http_util::path_is_utf8(request.uri().path()) {
        return ApiError::bad_request("Invalid URL: the path is not valid UTF-8 once decoded").into_response();
    }
    let (principal, credential) = match authenticate(&sim, &request) {
        Ok(caller) => caller,
        Err(problem) => return unauthorized(&sim, problem),
    };
    let (product, tenant) = admit(&sim, &principal, credential);
    let mut response = if product.allowed && tenant.allowed {
        Stats::bump(&sim.stats.api_calls);
        count_route(&sim, &request);
        let account = principal.account.clone();
        request.extensions_mut().insert(Caller(principal));
        let mut response = next.run(request).await;
        if let Ok(tenant) = HeaderValue::from_str(&account) {
            response.headers_mut().insert(HeaderName::from_static("x-keap-tenant-id"), tenant);
        }
        response
    } else {
        Stats::bump(&sim.stats.throttled);
        throttled()
    };
    product.write_headers(response.headers_mut(), HeaderFamily::Product);
    tenant.write_headers(response.headers_mut(), HeaderFamily::Tenant);
    // A captured vendor answer to a key's call names the key's spike limit ("10ps"); the vendor's
    // documentation says OAuth calls report no metrics for theirs, so only keys get it.
    if let (Credential::ApiKey, Some(per_second)) = (credential, sim.config.api_key_limits.per_second) {
        if let Ok(value) = HeaderValue::from_str(&format!("{per_second}ps")) {
            response.headers_mut().insert(HeaderName::from_static("x-keap-product-spike-limit"), value);
        }
    }
    response
}

/// Checks the client's (or the key's) and the account's limits together, and counts the call in
/// both only if both have room.
fn admit(sim: &Sim, principal: &Principal, credential: Credential) -> (Snapshot, Snapshot) {
    let now_ms = sim.clock.now().timestamp_millis();
    let product_limiter = match credential {
        Credential::AccessToken => &sim.limiter,
        Credential::ApiKey => &sim.api_key_limiter,
    };
    let mut product = product_limiter.lock().unwrap_or_else(|e| e.into_inner());
    let mut tenant = sim.tenant_limiter.lock().unwrap_or_else(|e| e.into_inner());
    let (client, account) = (principal.client_id.as_str(), principal.account.as_str());
    if product.peek(client, now_ms).allowed && tenant.peek(account, now_ms).allowed {
        (product.check(client, now_ms), tenant.check(account, now_ms))
    } else {
        (product.peek(client, now_ms), tenant.peek(account, now_ms))
    }
}

/// Whom the request speaks for. An `X-Keap-API-Key` header, when present, is the credential and
/// `Authorization` is not consulted: a caller sending a key means the key, and a wrong key must
/// not pass on the strength of another header.
fn authenticate(sim: &Sim, request: &Request) -> Result<(Principal, Credential), TokenProblem> {
    if let Some(key) = request.headers().get(API_KEY_HEADER) {
        let key = key.to_str().map_err(|_| TokenProblem::InvalidApiKey)?.trim();
        let principal = sim.world().api_keys.check(key).ok_or(TokenProblem::InvalidApiKey)?;
        return Ok((principal, Credential::ApiKey));
    }
    let token = bearer_token(request).ok_or(TokenProblem::Missing)?;
    match sim.world().grants.check_bearer(token, sim.clock.now_secs()) {
        BearerCheck::Valid(principal) => Ok((principal, Credential::AccessToken)),
        BearerCheck::Expired => Err(TokenProblem::Expired),
        BearerCheck::Unknown => Err(TokenProblem::Invalid),
    }
}

fn unauthorized(sim: &Sim, problem: TokenProblem) -> Response {
    Stats::bump(&sim.stats.unauthorized);
    gateway_unauthorized(problem)
}

/// The token of an `Authorization: Bearer ...` header (scheme case-insensitive).
fn bearer_token(request: &Request) -> Option<&str> {
    let value = request.headers().get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// Counts the call under `METHOD /path` with numeric segments shown as `{id}`, so the map stays
/// small however many records are touched.
fn count_route(sim: &Sim, request: &Request) {
    let path: Vec<String> = request
        .uri()
        .path()
        .split('/')
        .map(|seg| {
            let (id, action) = seg.split_once(':').unwrap_or((seg, ""));
            let id = if !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()) { "{id}" } else { id };
            if action.is_empty() {
                id.to_string()
            } else {
                format!("{id}:{action}")
            }
        })
        .collect();
    let key = format!("{} {}", request.method(), path.join("/"));
    let mut routes = sim.stats.by_route.lock().unwrap_or_else(|e| e.into_inner());
    if routes.len() < 1000 || routes.contains_key(&key) {
        *routes.entry(key).or_default() += 1;
    }
}
