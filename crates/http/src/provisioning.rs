//! Reading a create request (the seeds' `POST /instances` body) into a
//! [`CreateRequest`]: the body and the configuration are validated here, before
//! `platform::provisioning::provision` asks the vendor.
//!
//! Decisions where the spec is silent:
//! - the element in the path (`POST /elements/{keyOrId}/instances`) wins over the body's;
//! - `name` defaults to the element's name; `tags` must be strings;
//! - the platform-kept keys (`oauth.user.token`, `oauth.user.refresh_token`,
//!   `oauth.user.refresh_time`) sent by a client are ignored, except the refresh token in the
//!   `initial` mode, which is refreshed at once (proving it works and giving the first access token);
//! - a vendor `invalid_client`/other OAuth refusal of the exchange is a 400 (the client's
//!   `oauth.api.key`/`oauth.api.secret` are wrong), with the vendor's text as `providerMessage`.

use domain::instance_config;
use domain::instance_fields::{instance_name, tags};
use domain::{DomainError, Secret};
use serde_json::{Map, Value};
use store::REFRESH_TOKEN_KEY;

use crate::error::ApiError;
use crate::state::AppState;

pub use platform::provisioning::{CreateRequest, ExternalAuthentication, PLATFORM_KEPT};

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
    for key in ["event.notification.callback.url", "event.poller.configuration"] {
        crate::instance_events::check_event_setting(state, &element.key, key, configuration.get(key))?;
    }
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

fn invalid(name: &str, reason: &str) -> ApiError {
    DomainError::InvalidParameter { name: name.into(), reason: reason.into() }.into()
}
