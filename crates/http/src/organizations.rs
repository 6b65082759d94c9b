//! The organizations and users routes (platform auth): enough to add tenants and their users, so that
//! tenant isolation can be exercised through the API.
//!
//! - `POST /organizations` `{"name", "user"?: {"email"}}`: a new organization with its secret (shown
//!   this once) and, if asked, its first admin user with theirs. Only an admin of the operator's
//!   organization (`default`, created at first start) may call it: an admin of a tenant manages that
//!   tenant's users, not the platform's tenants.
//! - `POST /users` `{"email", "admin"?}`: a user of the caller's organization, for its admins.
//! - `GET /users/me`: the caller, without any secret; `GET /organizations/me`: their organization.
//! - `GET /users` (admins): the organization's users, oldest first (at most [`MAX_USERS_LISTED`]);
//!   `GET /users/{id}` (admins, or the user themselves); `DELETE /users/{id}` (admins; not
//!   themselves, so an organization always keeps an admin): the user's secret stops working at
//!   once. Another organization's user is a 404, as if it did not exist.
//!
//! Secrets appear only in the creation responses, never in a log line. The store has no transaction
//! spanning an organization and its first user, so the body is validated completely before anything
//! is written; a database failure between the two writes leaves an organization without users
//! (harmless: its secret was never shown, and it owns nothing).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use domain::ids::UserId;
use domain::{DomainError, Secret};
use serde_json::{json, Map, Value};
use store::{Organization, StoreError, User};

use crate::auth::PlatformAuth;
use crate::error::ApiError;
use crate::json_body::JsonBody;
use crate::path_param::PathParam;
use crate::state::AppState;

/// The organization `junction serve` creates at first start; its admins administer the platform.
pub const OPERATOR_ORGANIZATION: &str = "default";

/// The most users `GET /users` lists.
pub const MAX_USERS_LISTED: u32 = 1000;

const MAX_NAME_LEN: usize = 100;
const MAX_EMAIL_LEN: usize = 254;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(api!("/organizations"), post(create_organization))
        .route(api!("/organizations/me"), get(my_organization))
        .route(api!("/users"), post(create_user).get(list_users))
        .route(api!("/users/me"), get(me))
        .route(api!("/users/{id}"), get(read_user).delete(delete_user))
}

async fn create_organization(
    State(state): State<AppState>,
    auth: PlatformAuth,
    JsonBody(body): JsonBody<Value>,
) -> Result<Response, ApiError> {
    if !auth.user.is_admin || auth.organization.name != OPERATOR_ORGANIZATION {
        return Err(forbidden(&format!(
            "Only an admin of the '{OPERATOR_ORGANIZATION}' organization may create organizations"
        )));
    }
    let body = object(&body, None, &["name", "user"])?;
    let name = name(body.get("name"))?;
    let first_user = match body.get("user") {
        None | Some(Value::Null) => None,
        Some(user) => {
            let user = object(user, Some("user"), &["email"])?;
            Some(email(user.get("email"), "user.email")?)
        }
    };

    let conflict = |error| match error {
        StoreError::Conflict(_) => ApiError::Conflict(format!("An organization named '{name}' already exists")),
        other => other.into(),
    };
    let org_secret = Secret::new(store::crypto::generate_secret());
    let (organization, first_user) = match first_user {
        // The organization and its first admin in one transaction: never one without the other.
        Some(email) => {
            let user_secret = Secret::new(store::crypto::generate_secret());
            let (organization, user) = state
                .platform
                .store
                .create_organization_with_admin(&name, &org_secret, &email, &user_secret)
                .await
                .map_err(conflict)?;
            (organization, Some((user, user_secret)))
        }
        None => {
            (state.platform.store.create_organization_with_secret(&name, &org_secret).await.map_err(conflict)?, None)
        }
    };
    tracing::info!(organization_id = organization.id.get(), created_by = auth.user.id.get(), "organization created");
    let mut answer = organization_json(&organization);
    answer["secret"] = json!(org_secret.expose());
    if let Some((user, user_secret)) = first_user {
        tracing::info!(user_id = user.id.get(), organization_id = organization.id.get(), "first admin user created");
        answer["user"] = json!({"id": user.id, "email": user.email, "admin": true, "secret": user_secret.expose()});
    }
    Ok(Json(answer).into_response())
}

async fn create_user(
    State(state): State<AppState>,
    auth: PlatformAuth,
    JsonBody(body): JsonBody<Value>,
) -> Result<Response, ApiError> {
    if !auth.user.is_admin {
        return Err(forbidden("Only an admin of this organization may create users"));
    }
    let body = object(&body, None, &["email", "admin"])?;
    let email = email(body.get("email"), "email")?;
    let admin = match body.get("admin") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(admin)) => *admin,
        Some(_) => return Err(invalid("admin", "must be true or false")),
    };
    let (user, secret) =
        state.platform.store.create_user(auth.organization.id, &email, admin).await.map_err(|error| match error {
            StoreError::Conflict(_) => {
                ApiError::Conflict(format!("A user with email '{email}' already exists in this organization"))
            }
            other => other.into(),
        })?;
    tracing::info!(
        user_id = user.id.get(),
        organization_id = user.organization_id.get(),
        admin,
        created_by = auth.user.id.get(),
        "user created"
    );
    let mut answer = user_json(&user);
    answer["secret"] = json!(secret.expose());
    Ok(Json(answer).into_response())
}

/// The caller and their organization; never a secret.
async fn me(auth: PlatformAuth) -> Json<Value> {
    let mut answer = user_json(&auth.user);
    answer["organization"] = organization_json(&auth.organization);
    Json(answer)
}

/// The caller's organization; never a secret.
async fn my_organization(auth: PlatformAuth) -> Json<Value> {
    Json(organization_json(&auth.organization))
}

async fn list_users(State(state): State<AppState>, auth: PlatformAuth) -> Result<Response, ApiError> {
    if !auth.user.is_admin {
        return Err(forbidden("Only an admin of the organization may list its users"));
    }
    let users = state.platform.store.list_users(auth.organization.id, MAX_USERS_LISTED).await?;
    Ok(Json(users.iter().map(user_json).collect::<Vec<_>>()).into_response())
}

async fn read_user(
    State(state): State<AppState>,
    auth: PlatformAuth,
    PathParam(id): PathParam<String>,
) -> Result<Response, ApiError> {
    let id = user_id(&id)?;
    if !auth.user.is_admin && id != auth.user.id {
        return Err(forbidden("Only an admin of the organization may read another user"));
    }
    let user = state.platform.store.get_user(auth.organization.id, id).await.map_err(no_such_user)?;
    Ok(Json(user_json(&user)).into_response())
}

async fn delete_user(
    State(state): State<AppState>,
    auth: PlatformAuth,
    PathParam(id): PathParam<String>,
) -> Result<Response, ApiError> {
    if !auth.user.is_admin {
        return Err(forbidden("Only an admin of the organization may delete users"));
    }
    let id = user_id(&id)?;
    if id == auth.user.id {
        return Err(ApiError::Conflict(
            "A user cannot delete themselves: another admin of the organization can, so it always keeps one".into(),
        ));
    }
    state.platform.store.delete_user(auth.organization.id, id).await.map_err(no_such_user)?;
    tracing::info!(user_id = id.get(), "user deleted");
    Ok(StatusCode::OK.into_response())
}

/// A user id from the path: unknown ids and another organization's users are the same 404.
fn user_id(text: &str) -> Result<UserId, ApiError> {
    UserId::parse(text).ok_or_else(|| no_such_user(StoreError::NotFound))
}

fn no_such_user(error: StoreError) -> ApiError {
    match error {
        StoreError::NotFound => ApiError::NotFound("No user found with this id".into()),
        other => other.into(),
    }
}

fn organization_json(organization: &Organization) -> Value {
    json!({
        "id": organization.id,
        "name": organization.name,
        "createdDate": organization.created_at.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
    })
}

fn user_json(user: &User) -> Value {
    json!({
        "id": user.id,
        "email": user.email,
        "organizationId": user.organization_id,
        "admin": user.is_admin,
        "createdDate": user.created_at.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
    })
}

/// `value` as a JSON object with only `known` keys; `at` names it in errors (`None`: the body).
fn object<'a>(value: &'a Value, at: Option<&str>, known: &[&str]) -> Result<&'a Map<String, Value>, ApiError> {
    let object = value.as_object().ok_or_else(|| match at {
        None => ApiError::BadRequest("The request body must be a JSON object".into()),
        Some(name) => invalid(name, "must be an object"),
    })?;
    if let Some(unknown) = object.keys().find(|key| !known.contains(&key.as_str())) {
        let field = match at {
            None => unknown.clone(),
            Some(parent) => format!("{parent}.{unknown}"),
        };
        let expected = known.iter().map(|key| format!("'{key}'")).collect::<Vec<_>>().join(", ");
        return Err(ApiError::BadRequest(format!("Unknown field '{field}' (expected {expected})")));
    }
    Ok(object)
}

/// A required, non-blank string of at most `max` characters (as sent: the API document's
/// `maxLength`) without control characters, trimmed.
fn text(value: Option<&Value>, field: &str, max: usize) -> Result<String, ApiError> {
    let sent = match value {
        None | Some(Value::Null) => return Err(DomainError::MissingParameter(field.into()).into()),
        Some(Value::String(text)) => text,
        Some(_) => return Err(invalid(field, "must be a string")),
    };
    let text = sent.trim();
    if text.is_empty() {
        return Err(DomainError::MissingParameter(field.into()).into());
    }
    if sent.chars().count() > max {
        return Err(invalid(field, &format!("must be at most {max} characters")));
    }
    if text.chars().any(char::is_control) {
        return Err(invalid(field, "must not contain control characters"));
    }
    Ok(text.to_string())
}

fn name(value: Option<&Value>) -> Result<String, ApiError> {
    text(value, "name", MAX_NAME_LEN)
}

/// An address of the form `local@domain`: one `@`, both sides non-empty, no whitespace.
fn email(value: Option<&Value>, field: &str) -> Result<String, ApiError> {
    let email = text(value, field, MAX_EMAIL_LEN)?;
    let well_formed = match email.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty() && !domain.is_empty() && !domain.contains('@') && !email.contains(char::is_whitespace)
        }
        None => false,
    };
    if !well_formed {
        return Err(invalid(field, "must be an email address (name@example.com)"));
    }
    Ok(email)
}

fn invalid(name: &str, reason: &str) -> ApiError {
    DomainError::InvalidParameter { name: name.into(), reason: reason.into() }.into()
}

fn forbidden(message: &str) -> ApiError {
    ApiError::Forbidden { message: message.into(), provider_message: None }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_need_one_at_sign_and_no_whitespace() {
        for good in ["a@b", "first.last@example.com", " padded@example.com "] {
            assert!(email(Some(&json!(good)), "email").is_ok(), "{good}");
        }
        for bad in ["admin", "@example.com", "a@", "a@b@c", "a b@example.com", ""] {
            assert!(email(Some(&json!(bad)), "email").is_err(), "{bad}");
        }
        assert!(email(None, "email").is_err());
        assert!(email(Some(&json!(7)), "email").is_err());
    }

    #[test]
    fn unknown_fields_are_named() {
        let error = object(&json!({"name": "x", "colour": 1}), None, &["name"]).unwrap_err();
        assert!(error.to_string().contains("'colour'"), "{error}");
        let error = object(&json!({"mail": "x"}), Some("user"), &["email"]).unwrap_err();
        assert!(error.to_string().contains("'user.mail'"), "{error}");
    }

    #[test]
    fn names_are_trimmed_bounded_and_printable() {
        assert_eq!(name(Some(&json!("  Acme  "))).unwrap(), "Acme");
        assert!(name(Some(&json!("   "))).is_err());
        assert!(name(Some(&json!("a\nb"))).is_err());
        assert!(name(Some(&json!("x".repeat(MAX_NAME_LEN + 1)))).is_err());
        // The bound is on the text as sent, as the API document's maxLength says.
        assert!(name(Some(&json!(format!("{}x", " ".repeat(MAX_NAME_LEN))))).is_err());
        let padded = format!("\t{}@example.com", "a".repeat(MAX_EMAIL_LEN - "@example.com".len()));
        assert!(email(Some(&json!(padded)), "email").is_err());
    }
}
