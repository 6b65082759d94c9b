//! The vendor's OAuth 2.0 endpoints: the authorize page (login and consent `<form>`), the decision
//! endpoint that redirects back with `code`/`scope`/`state` or `error=access_denied`, and the token
//! endpoint (`authorization_code` and `refresh_token` grants, client authentication by form fields
//! or HTTP Basic, RFC 6749 error JSON).

use crate::errors::OAuthError;
use crate::http_util::{form_pairs, read_body, QueryParams};
use crate::state::{Sim, Stats};
use crate::tokens::{GrantError, Principal};
use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::Json;
use base64::Engine;
use reqwest::Url;
use std::collections::HashMap;
use std::sync::Arc;
use subtle::ConstantTimeEq;

/// The parameters of an authorization request, as the page echoes them into its form.
#[derive(Debug, Default, Clone)]
struct AuthorizeRequest {
    client_id: String,
    redirect_uri: String,
    response_type: String,
    scope: String,
    state: Option<String>,
}

impl AuthorizeRequest {
    fn from_pairs(pairs: &HashMap<String, String>) -> Self {
        let get = |k: &str| pairs.get(k).cloned().unwrap_or_default();
        AuthorizeRequest {
            client_id: get("client_id"),
            redirect_uri: get("redirect_uri"),
            response_type: get("response_type"),
            scope: pairs.get("scope").cloned().filter(|s| !s.is_empty()).unwrap_or_else(|| "full".into()),
            state: pairs.get("state").cloned(),
        }
    }
}

/// `GET /app/oauth/authorize`: the login and consent page, or an error page (never a redirect)
/// when the client or redirect URI cannot be trusted.
pub async fn authorize_page(State(sim): State<Arc<Sim>>, params: QueryParams) -> Response {
    let pairs: HashMap<String, String> = params.0.into_iter().rev().collect();
    let request = AuthorizeRequest::from_pairs(&pairs);
    let redirect = match trusted_redirect(&sim, &request) {
        Ok(url) => url,
        Err(message) => return error_page(&message),
    };
    if let Some(error) = request_error(&request) {
        return redirect_with(redirect, &[("error", error), ("state", request.state.as_deref().unwrap_or(""))]);
    }
    login_page(&request, None, StatusCode::OK)
}

/// `POST /app/oauth/authorize`: the user's decision. Deny redirects with `error=access_denied`;
/// allow with good credentials redirects with a fresh single-use code.
pub async fn authorize_decision(State(sim): State<Arc<Sim>>, body: Body) -> Response {
    let pairs = match read_body(body, 64 * 1024).await.map(|b| form_pairs(&b)) {
        Ok(pairs) => pairs,
        Err(_) => return error_page("The form is too large."),
    };
    let request = AuthorizeRequest::from_pairs(&pairs);
    let redirect = match trusted_redirect(&sim, &request) {
        Ok(url) => url,
        Err(message) => return error_page(&message),
    };
    let state = request.state.clone().unwrap_or_default();
    if let Some(error) = request_error(&request) {
        return redirect_with(redirect, &[("error", error), ("state", &state)]);
    }
    match pairs.get("decision").map(String::as_str) {
        Some("deny") => redirect_with(
            redirect,
            &[("state", &state), ("error", "access_denied"), ("error_description", "User denied access to resource")],
        ),
        Some("allow") => grant_code(&sim, &request, &pairs, redirect),
        _ => login_page(&request, Some("Choose Allow or Deny."), StatusCode::BAD_REQUEST),
    }
}

fn grant_code(sim: &Sim, request: &AuthorizeRequest, pairs: &HashMap<String, String>, redirect: Url) -> Response {
    let username = pairs.get("username").map(String::as_str).unwrap_or("");
    let password = pairs.get("password").map(String::as_str).unwrap_or("");
    let Some(user) = sim.config.users.iter().find(|u| {
        u.username.eq_ignore_ascii_case(username) && bool::from(u.password.as_bytes().ct_eq(password.as_bytes()))
    }) else {
        return login_page(request, Some("Invalid email or password."), StatusCode::UNAUTHORIZED);
    };
    let account = match pairs.get("account").filter(|a| !a.is_empty()) {
        Some(wanted) if user.accounts.contains(wanted) => wanted.clone(),
        Some(_) => return login_page(request, Some("You do not have access to that account."), StatusCode::FORBIDDEN),
        None => user.accounts[0].clone(),
    };
    let principal =
        Principal { client_id: request.client_id.clone(), account: account.clone(), username: user.username.clone() };
    let now = sim.clock.now_secs();
    let code = sim.world().grants.issue_code(principal, &request.redirect_uri, now, sim.lifetimes());
    let scope = format!("full|{account}");
    let state = request.state.clone().unwrap_or_default();
    redirect_with(redirect, &[("code", &code), ("scope", &scope), ("state", &state)])
}

/// The registered redirect URI of a known client, or why the page must not redirect.
fn trusted_redirect(sim: &Sim, request: &AuthorizeRequest) -> Result<Url, String> {
    let Some(client) = sim.config.clients.iter().find(|c| c.client_id == request.client_id) else {
        return Err("Unknown client_id: this application is not registered.".into());
    };
    let url = Url::parse(&request.redirect_uri).map_err(|_| "The redirect_uri is missing or not an absolute URL.")?;
    let wildcard = client.redirect_uris.iter().any(|r| r == "*") && matches!(url.scheme(), "http" | "https");
    if !wildcard && !client.redirect_uris.contains(&request.redirect_uri) {
        return Err("The redirect_uri is not registered for this application.".into());
    }
    Ok(url)
}

/// RFC 6749 §4.1.2.1 errors that are reported to the client by redirect.
fn request_error(request: &AuthorizeRequest) -> Option<&'static str> {
    if request.response_type != "code" {
        return Some("unsupported_response_type");
    }
    if request.scope != "full" {
        return Some("invalid_scope");
    }
    None
}

/// A `302 Found` to `url` with `params` added to its query.
fn redirect_with(mut url: Url, params: &[(&str, &str)]) -> Response {
    url.query_pairs_mut().extend_pairs(params);
    match HeaderValue::from_str(url.as_str()) {
        Ok(location) => (StatusCode::FOUND, [(header::LOCATION, location)]).into_response(),
        Err(_) => error_page("The redirect_uri cannot be used."),
    }
}

fn error_page(message: &str) -> Response {
    let body = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>Authorization error</title></head>\
         <body><h1>Authorization error</h1><p id=\"error\">{}</p></body></html>",
        escape(message)
    );
    (StatusCode::BAD_REQUEST, Html(body)).into_response()
}

fn login_page(request: &AuthorizeRequest, problem: Option<&str>, status: StatusCode) -> Response {
    let hidden =
        |name: &str, value: &str| format!("<input type=\"hidden\" name=\"{name}\" value=\"{}\">", escape(value));
    let problem = problem.map(|p| format!("<p role=\"alert\" id=\"error\">{}</p>", escape(p))).unwrap_or_default();
    let body = format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sign in - Infusionsoft (simulator)</title>
<style>body{{font-family:sans-serif;max-width:26rem;margin:3rem auto}}label{{display:block;margin:.6rem 0}}
input[type=email],input[type=password]{{width:100%;padding:.4rem}}button{{margin:.6rem .4rem 0 0;padding:.4rem 1rem}}</style>
</head><body>
<h1>Infusionsoft by Keap</h1>
<p>The application <strong id="client">{client}</strong> wants full access to your account.</p>
{problem}
<form method="post" action="/app/oauth/authorize">
{h_client}{h_redirect}{h_type}{h_scope}{h_state}
<label>Email <input type="email" name="username" autocomplete="username" required autofocus></label>
<label>Password <input type="password" name="password" autocomplete="current-password"></label>
<button type="submit" name="decision" value="allow">Allow</button>
<button type="submit" name="decision" value="deny" formnovalidate>Deny</button>
</form></body></html>"#,
        client = escape(&request.client_id),
        h_client = hidden("client_id", &request.client_id),
        h_redirect = hidden("redirect_uri", &request.redirect_uri),
        h_type = hidden("response_type", &request.response_type),
        h_scope = hidden("scope", &request.scope),
        h_state = request.state.as_deref().map(|s| hidden("state", s)).unwrap_or_default(),
    );
    (status, Html(body)).into_response()
}

/// Escapes text for HTML element content and double-quoted attributes.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// `POST /token`.
pub async fn token(State(sim): State<Arc<Sim>>, headers: HeaderMap, body: Body) -> Response {
    match token_grant(&sim, &headers, body).await {
        Ok(response) => response,
        Err(error) => error.into_response(),
    }
}

async fn token_grant(sim: &Sim, headers: &HeaderMap, body: Body) -> Result<Response, OAuthError> {
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().to_ascii_lowercase().starts_with("application/x-www-form-urlencoded"));
    let bytes = read_body(body, 64 * 1024)
        .await
        .map_err(|_| OAuthError::new("invalid_request", "The request body is too large"))?;
    if !is_form {
        return Err(OAuthError::new("invalid_request", "response_type or grant_type is required"));
    }
    let form = form_pairs(&bytes);
    let client_id = authenticate_client(sim, headers, &form)?;
    let field = |name: &str| form.get(name).filter(|v| !v.is_empty());
    let now = sim.clock.now_secs();
    let life = sim.lifetimes();
    let issued = match form.get("grant_type").map(String::as_str) {
        None | Some("") => return Err(OAuthError::new("invalid_request", "response_type or grant_type is required")),
        Some("authorization_code") => {
            let code = field("code").ok_or_else(|| OAuthError::new("invalid_request", "Missing parameter: code"))?;
            let redirect = field("redirect_uri")
                .ok_or_else(|| OAuthError::new("invalid_request", "Missing parameter: redirect_uri"))?;
            let issued = sim.world().grants.redeem_code(code, &client_id, redirect, now, life);
            Stats::bump(&sim.stats.grants_authorization_code);
            issued
        }
        Some("refresh_token") => {
            let token = field("refresh_token")
                .ok_or_else(|| OAuthError::new("invalid_request", "Missing parameter: refresh_token"))?;
            let issued = sim.world().grants.refresh(token, &client_id, now, life);
            Stats::bump(&sim.stats.grants_refresh_token);
            issued
        }
        Some(_) => return Err(OAuthError::new("unsupported_grant_type", "Unsupported grant type")),
    };
    let issued = issued.map_err(|GrantError::InvalidGrant(text)| OAuthError::new("invalid_grant", text))?;
    let body = serde_json::json!({
        "access_token": issued.access_token,
        "token_type": "bearer",
        "expires_in": issued.expires_in,
        "refresh_token": issued.refresh_token,
        "scope": format!("full|{}", issued.account),
    });
    let mut response = Json(body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    Ok(response)
}

/// Client authentication by HTTP Basic or by `client_id`/`client_secret` form fields; when both are
/// sent they must name the same client. Secrets are compared in constant time.
fn authenticate_client(sim: &Sim, headers: &HeaderMap, form: &HashMap<String, String>) -> Result<String, OAuthError> {
    let basic = basic_credentials(headers)?;
    let body = form
        .get("client_id")
        .filter(|v| !v.is_empty())
        .map(|id| (id.clone(), form.get("client_secret").cloned().unwrap_or_default()));
    let (id, secret) = match (basic, body) {
        (Some(b), Some(f)) if b.0 != f.0 => {
            return Err(OAuthError::new("invalid_request", "client_id in the body and the Authorization header differ"))
        }
        (Some(b), _) => b,
        (None, Some(f)) => f,
        (None, None) => return Err(OAuthError::new("invalid_client", "Client authentication is required")),
    };
    let known = sim.config.clients.iter().find(|c| c.client_id == id);
    match known {
        Some(c) if bool::from(c.client_secret.as_bytes().ct_eq(secret.as_bytes())) => Ok(id),
        _ => Err(OAuthError::new("invalid_client", "Invalid client credentials")),
    }
}

fn basic_credentials(headers: &HeaderMap) -> Result<Option<(String, String)>, OAuthError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else { return Ok(None) };
    let malformed = || OAuthError::new("invalid_client", "Malformed Basic authorization header");
    let text = value.to_str().map_err(|_| malformed())?.trim();
    let Some((scheme, encoded)) = text.split_once(' ') else { return Err(malformed()) };
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(malformed());
    }
    let decoded = base64::engine::general_purpose::STANDARD.decode(encoded.trim()).map_err(|_| malformed())?;
    let decoded = String::from_utf8(decoded).map_err(|_| malformed())?;
    let (id, secret) = decoded.split_once(':').ok_or_else(malformed)?;
    Ok(Some((id.to_string(), secret.to_string())))
}

#[cfg(test)]
mod tests {
    use super::escape;

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(escape(r#"<a href="x">'&'</a>"#), "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
    }
}
