//! The two ways a request authenticates (SPEC "Platform authentication").
//!
//! - [`PlatformAuth`]: `User <secret>, Organization <secret>`; both checked by the store in
//!   constant time against salted hashes. Anything missing or wrong is a 401 that does not say which
//!   part was wrong.
//! - [`HubAuth`]: `User <secret>, Element <instance token>` (the `Organization` part may be present
//!   too). The user secret is always verified (with the organization secret when sent); the
//!   instance token names the instance, which must belong to the caller's organization (else a 404,
//!   as if it did not exist). A deleted or reissued token is a 401, a disabled instance a 403.
//!   A console hub call (Test connection, "try it") carries its instance in a request extension
//!   instead, set only in process by `console::hub_call`.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use domain::auth_header::{self, Credentials, Part};
use store::{InstanceRecord, Organization, User};

use crate::console::hub_call::ConsoleCaller;
use crate::error::ApiError;
use crate::request_id;
use crate::state::AppState;

const INVALID: &str = "Invalid Authorization: the User and Organization secrets do not match";

/// The caller of a platform API call.
#[derive(Debug, Clone)]
pub struct PlatformAuth {
    pub user: User,
    pub organization: Organization,
}

/// The caller of an id-less instance call (`/instances/configuration`, `/instances/enabled`, ...):
/// `User`, `Organization` and `Element` all in the header; the instance is the one the `Element`
/// token names, which must belong to the caller's organization (else a 404). Unlike [`HubAuth`], a
/// disabled instance is accepted (it is how one is enabled again).
#[derive(Debug, Clone)]
pub struct TokenInstance {
    pub auth: PlatformAuth,
    pub instance: InstanceRecord,
}

/// The caller of a hub call, and the instance its token names (as read when the call started).
#[derive(Debug, Clone)]
pub struct HubAuth {
    /// Shared with the caller cache: hub handlers only read it.
    pub instance: Arc<InstanceRecord>,
}

/// The `Authorization` header's text, or a 401 naming what is wrong with it.
fn header_text(parts: &Parts) -> Result<&str, ApiError> {
    let header = parts
        .headers
        .get(AUTHORIZATION)
        .ok_or_else(|| ApiError::Unauthorized("Missing Authorization header".into()))?;
    header.to_str().map_err(|_| ApiError::Unauthorized("Invalid Authorization header: not visible ASCII".into()))
}

fn credentials(parts: &Parts) -> Result<Credentials, ApiError> {
    Ok(auth_header::parse(header_text(parts)?).map_err(domain::DomainError::from)?)
}

impl FromRequestParts<AppState> for PlatformAuth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let credentials = credentials(parts)?;
        let user_secret = credentials.require(Part::User).map_err(domain::DomainError::from)?;
        let org_secret = credentials.require(Part::Organization).map_err(domain::DomainError::from)?;
        let Some((user, organization)) = state.platform.store.authenticate(user_secret, org_secret).await? else {
            return Err(ApiError::Unauthorized(INVALID.into()));
        };
        Ok(PlatformAuth { user, organization })
    }
}

impl FromRequestParts<AppState> for HubAuth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        if let Some(ConsoleCaller(instance)) = parts.extensions.get::<ConsoleCaller>() {
            return admit(Arc::clone(instance));
        }
        let header = header_text(parts)?;
        // A header admitted within the cache's TTL is not parsed again.
        if let Some(instance) = state.platform.callers.get(header) {
            request_id::record_instance(instance.id);
            return Ok(HubAuth { instance });
        }
        let credentials = auth_header::parse(header).map_err(domain::DomainError::from)?;
        let user_secret = credentials.require(Part::User).map_err(domain::DomainError::from)?;
        let token = credentials.require(Part::Element).map_err(domain::DomainError::from)?;
        let epoch = state.platform.callers.epoch();
        let caller = match &credentials.organization {
            Some(org_secret) => state.platform.store.authenticate(user_secret, org_secret).await?,
            None => state.platform.store.authenticate_user(user_secret).await?,
        };
        let Some((_, organization)) = caller else {
            return Err(ApiError::Unauthorized(INVALID.into()));
        };
        let Some(instance) = state.platform.store.find_instance_by_token(token).await? else {
            return Err(ApiError::Unauthorized("Invalid Element token: no such instance".into()));
        };
        if instance.organization_id != organization.id {
            // Another organization's instance does not exist, as far as this caller can tell.
            return Err(ApiError::NotFound("No such instance".into()));
        }
        let admitted = admit(Arc::new(instance))?;
        state.platform.callers.put(header, Arc::clone(&admitted.instance), epoch);
        Ok(admitted)
    }
}

/// A hub caller for `instance`, unless it is disabled (403). Either way the request's log lines
/// name the instance from here on.
fn admit(instance: Arc<InstanceRecord>) -> Result<HubAuth, ApiError> {
    request_id::record_instance(instance.id);
    if instance.disabled {
        return Err(ApiError::Forbidden {
            message: format!(
                "Instance {} is disabled; enable it with PUT /instances/{}/enabled",
                instance.id, instance.id
            ),
            provider_message: None,
        });
    }
    Ok(HubAuth { instance })
}

impl FromRequestParts<AppState> for TokenInstance {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let auth = PlatformAuth::from_request_parts(parts, state).await?;
        let credentials = credentials(parts)?;
        let token = credentials.require(Part::Element).map_err(domain::DomainError::from)?;
        let Some(instance) = state.platform.store.find_instance_by_token(token).await? else {
            return Err(ApiError::Unauthorized("Invalid Element token: no such instance".into()));
        };
        if instance.organization_id != auth.organization.id {
            return Err(ApiError::NotFound("No such instance".into()));
        }
        request_id::record_instance(instance.id);
        Ok(TokenInstance { auth, instance })
    }
}
