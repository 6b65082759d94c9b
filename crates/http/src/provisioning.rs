//! Turning a create request (the seeds' `POST /instances` body) into a stored instance.
//!
//! Order matters: the body and the configuration are validated first; then a code is exchanged and
//! only a successful answer is stored, so a failed exchange stores nothing. With
//! `externalAuthentication: "initial"` the client's refresh token is stored first and refreshed
//! through the token lifecycle's critical section, so the vendor's new pair is durable before the
//! answer (and a refused token removes the instance again).
//!
//! Decisions where the spec is silent:
//! - the element in the path (`POST /elements/{keyOrId}/instances`) wins over the body's;
//! - `name` defaults to the element's name; `tags` must be strings;
//! - the platform-kept keys (`oauth.user.token`, `oauth.user.refresh_token`,
//!   `oauth.user.refresh_time`) sent by a client are ignored, except the refresh token in the
//!   `initial` mode, which is refreshed at once (proving it works and giving the first access token);
//! - a vendor `invalid_client`/other OAuth refusal of the exchange is a 400 (the client's
//!   `oauth.api.key`/`oauth.api.secret` are wrong), with the vendor's text as `providerMessage`.

use std::collections::BTreeMap;

use chrono::Utc;
use connector::oauth::ClientCredentials;
use domain::elements::Element;
use domain::instance_config::{self, Configuration};
use domain::token_rules::{RefreshOutcome, TokenGrant, TransientCause};
use domain::{DomainError, Secret};
use platform::metrics::Trigger;
use serde_json::{Map, Value};
use store::{Id, NewInstance, SecretMap, ACCESS_TOKEN_KEY, REFRESH_TOKEN_KEY};

use crate::error::ApiError;
use crate::state::AppState;

/// Configuration keys only the platform writes.
pub const PLATFORM_KEPT: [&str; 3] = [ACCESS_TOKEN_KEY, REFRESH_TOKEN_KEY, "oauth.user.refresh_time"];

/// How the first token pair is obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExternalAuthentication {
    /// Exchange `providerData.code` (the default).
    None,
    /// Refresh `configuration."oauth.user.refresh_token"`.
    Initial,
}

impl ExternalAuthentication {
    pub fn as_str(self) -> &'static str {
        match self {
            ExternalAuthentication::None => "none",
            ExternalAuthentication::Initial => "initial",
        }
    }
}

/// A validated create request, before the vendor is asked.
#[derive(Debug)]
pub struct CreateRequest<'a> {
    pub element: &'a Element,
    pub name: String,
    pub tags: Vec<String>,
    pub configuration: Configuration,
    pub mode: ExternalAuthentication,
    /// The authorization code (mode `None`) or the client's refresh token (mode `Initial`).
    pub grant: Secret,
}

/// Validates the body; `path_element` is the `{keyOrId}` of `POST /elements/{keyOrId}/instances`.
pub fn parse<'a>(state: &'a AppState, path_element: Option<&str>, body: &Value) -> Result<CreateRequest<'a>, ApiError> {
    let body = body.as_object().ok_or_else(|| ApiError::BadRequest("The request body must be a JSON object".into()))?;
    let element = match path_element {
        Some(key_or_id) => state.platform.catalog.find(key_or_id)?,
        None => state.platform.catalog.find(&element_reference(body)?)?,
    };
    let mode = match body.get("externalAuthentication") {
        None | Some(Value::Null) => ExternalAuthentication::None,
        Some(Value::String(text)) if text == "none" => ExternalAuthentication::None,
        Some(Value::String(text)) if text == "initial" => ExternalAuthentication::Initial,
        Some(_) => return Err(invalid("externalAuthentication", "must be \"none\" or \"initial\"")),
    };
    let empty = Map::new();
    let input = match body.get("configuration") {
        None | Some(Value::Null) => &empty,
        Some(Value::Object(map)) => map,
        Some(_) => return Err(invalid("configuration", "must be an object of strings")),
    };
    let configuration = instance_config::validate(element, input, &state.platform.policy)?;
    let grant = match mode {
        ExternalAuthentication::None => provider_code(body)?,
        ExternalAuthentication::Initial => configuration
            .get(REFRESH_TOKEN_KEY)
            .map(Secret::new)
            .ok_or_else(|| DomainError::MissingConfiguration(REFRESH_TOKEN_KEY.into()))?,
    };
    let name = match body.get("name") {
        None | Some(Value::Null) => element.name.clone(),
        Some(value) => instance_name(value)?,
    };
    Ok(CreateRequest { element, name, tags: tags(body.get("tags"))?, configuration, mode, grant })
}

fn element_reference(body: &Map<String, Value>) -> Result<String, ApiError> {
    let element = body.get("element").and_then(Value::as_object);
    let reference = element.and_then(|element| match (element.get("key"), element.get("id")) {
        (Some(Value::String(key)), _) if !key.is_empty() => Some(key.clone()),
        (_, Some(Value::Number(id))) => Some(id.to_string()),
        (_, Some(Value::String(id))) if !id.is_empty() => Some(id.clone()),
        _ => None,
    });
    reference.ok_or_else(|| DomainError::MissingParameter("element.key".into()).into())
}

fn provider_code(body: &Map<String, Value>) -> Result<Secret, ApiError> {
    match body.get("providerData").and_then(|data| data.get("code")) {
        Some(Value::String(code)) if !code.trim().is_empty() => Ok(Secret::new(code.trim())),
        _ => Err(DomainError::MissingParameter("providerData.code".into()).into()),
    }
}

/// Longest instance name and tag, and most tags, an instance may carry.
const MAX_NAME_LEN: usize = 255;
const MAX_TAG_LEN: usize = 128;
const MAX_TAGS: usize = 100;

/// An instance name: non-empty text without control characters (PostgreSQL refuses NUL in text,
/// SQLite does not, so both are held to the stricter rule), at most 255 characters.
pub fn instance_name(value: &Value) -> Result<String, ApiError> {
    let name = value.as_str().map(str::trim).filter(|name| !name.is_empty());
    let name = name.ok_or_else(|| invalid("name", "must be a non-empty string"))?;
    plain_text(name, MAX_NAME_LEN).map_err(|reason| invalid("name", reason))?;
    Ok(name.to_string())
}

fn plain_text(text: &str, max: usize) -> Result<(), &'static str> {
    if text.chars().any(char::is_control) {
        return Err("must not contain control characters");
    }
    if text.chars().count() > max {
        return Err("is too long");
    }
    Ok(())
}

/// Tags as the seeds send them: strings (the platforms' older `{"name": ...}` objects too).
pub fn tags(value: Option<&Value>) -> Result<Vec<String>, ApiError> {
    let Some(value) = value.filter(|value| !value.is_null()) else { return Ok(Vec::new()) };
    let items = value.as_array().ok_or_else(|| invalid("tags", "must be an array of strings"))?;
    if items.len() > MAX_TAGS {
        return Err(invalid("tags", "may hold at most 100 tags"));
    }
    let tags = items
        .iter()
        .map(|item| match item {
            Value::String(tag) => Ok(tag.trim().to_string()),
            Value::Object(object) => object
                .get("name")
                .and_then(Value::as_str)
                .map(str::to_string)
                .ok_or_else(|| invalid("tags", "must be strings")),
            _ => Err(invalid("tags", "must be an array of strings")),
        })
        .filter(|tag| tag.as_ref().map_or(true, |tag| !tag.is_empty()))
        .collect::<Result<Vec<String>, ApiError>>()?;
    for tag in &tags {
        plain_text(tag, MAX_TAG_LEN).map_err(|reason| invalid("tags", reason))?;
    }
    Ok(tags)
}

fn invalid(name: &str, reason: &str) -> ApiError {
    DomainError::InvalidParameter { name: name.into(), reason: reason.into() }.into()
}

/// Asks the vendor for the first token pair and stores the instance. Nothing is kept on failure.
pub async fn provision(
    state: &AppState,
    organization_id: Id,
    request: CreateRequest<'_>,
) -> Result<store::InstanceRecord, ApiError> {
    if request.mode == ExternalAuthentication::Initial {
        return provision_from_refresh_token(state, organization_id, request).await;
    }
    let config = &request.configuration;
    let client = ClientCredentials {
        client_id: config.get("oauth.api.key").unwrap_or_default().to_string(),
        client_secret: Secret::new(config.get("oauth.api.secret").unwrap_or_default()),
    };
    let redirect_uri = config.get("oauth.callback.url").unwrap_or_default();
    let outcome = state.platform.oauth.exchange_code(&client, &request.grant, redirect_uri).await;
    state.platform.metrics.record_token_call(&outcome);
    let grant = granted(outcome, request.mode)?;
    let Some(refresh_token) = grant.refresh_token.clone() else {
        return Err(ApiError::VendorError {
            message: "The vendor issued no refresh token; the instance could not be created".into(),
            provider_message: None,
        });
    };
    let mut new = new_instance(organization_id, &request);
    new.secrets.insert(ACCESS_TOKEN_KEY, grant.access_token.clone());
    new.secrets.insert(REFRESH_TOKEN_KEY, refresh_token);
    new.access_expires_at = grant.expires_at(Utc::now());
    let record = state.platform.store.insert_instance(new).await?;
    tracing::info!(instance_id = record.id, element = %record.element_key, mode = request.mode.as_str(), "instance created");
    Ok(record)
}

/// `externalAuthentication: "initial"`: the client's refresh token is stored first, then refreshed
/// through the one refresh path (its critical section commits the vendor's new pair before
/// answering). Refreshing first and storing after would burn the client's token whenever the
/// store failed: the vendor retires it the moment it answers. A refused refresh removes the
/// instance again.
async fn provision_from_refresh_token(
    state: &AppState,
    organization_id: Id,
    request: CreateRequest<'_>,
) -> Result<store::InstanceRecord, ApiError> {
    let mut new = new_instance(organization_id, &request);
    new.secrets.insert(REFRESH_TOKEN_KEY, request.grant.clone());
    let record = state.platform.store.insert_instance(new).await?;
    match platform::tokens::refresh(&state.platform, record.id, record.refresh_generation, Trigger::manual)
        .await
        .map_err(ApiError::from)
    {
        Ok(_) => {
            tracing::info!(instance_id = record.id, element = %record.element_key, mode = "initial", "instance created");
            Ok(state.platform.store.get_instance(organization_id, record.id).await?)
        }
        Err(error) => {
            state.platform.store.delete_instance(organization_id, record.id).await?;
            Err(match error {
                // The refresh path's "instance invalid" is, at creation, the client's bad token.
                ApiError::Forbidden { provider_message, .. } => ApiError::VendorRejected {
                    message: "The vendor rejected the refresh token (oauth.user.refresh_token)".into(),
                    provider_message,
                },
                other => other,
            })
        }
    }
}

/// The instance to store for `request`, without tokens: secret keys sealed, the others plain, the
/// platform-kept keys left out.
fn new_instance(organization_id: Id, request: &CreateRequest<'_>) -> NewInstance {
    let mut configuration = BTreeMap::new();
    let mut secrets = SecretMap::default();
    for (key, value) in request.configuration.iter().filter(|(key, _)| !PLATFORM_KEPT.contains(key)) {
        if request.element.is_secret(key) {
            secrets.insert(key, value);
        } else {
            configuration.insert(key.to_string(), value.to_string());
        }
    }
    NewInstance {
        organization_id,
        element_key: request.element.key.clone(),
        name: request.name.clone(),
        tags: request.tags.clone(),
        configuration,
        secrets,
        access_expires_at: None,
    }
}

/// The grant of a code exchange or refresh, or the error the caller answers (400 for a refused
/// code or client, 502/504 for a transient failure).
pub(crate) fn granted(outcome: RefreshOutcome, mode: ExternalAuthentication) -> Result<TokenGrant, ApiError> {
    let what = match mode {
        ExternalAuthentication::None => "authorization code (providerData.code)",
        ExternalAuthentication::Initial => "refresh token (oauth.user.refresh_token)",
    };
    match outcome {
        RefreshOutcome::Refreshed(grant) => Ok(grant),
        RefreshOutcome::InvalidGrant { description } => Err(ApiError::VendorRejected {
            message: format!("The vendor rejected the {what}"),
            provider_message: description,
        }),
        RefreshOutcome::Transient(TransientCause::Refused { error, description }) => Err(ApiError::VendorRejected {
            message: format!(
                "The vendor refused the token request ({error}); check oauth.api.key and oauth.api.secret"
            ),
            provider_message: description,
        }),
        RefreshOutcome::Transient(cause) => Err(crate::error::transient(&cause)),
    }
}
