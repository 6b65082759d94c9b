//! The platform API's own OpenAPI document (`GET /docs`), derived by utoipa from
//! documentation-only `#[utoipa::path]` functions: the handlers live in other modules
//! ([`crate::elements`], [`crate::instances`], [`crate::instance_configuration`],
//! [`crate::organizations`], [`crate::common_resources`], [`crate::formulas`], [`crate::health`]), so each route is declared here once more, by
//! hand, from their route tables. The `api_docs` integration test calls every documented path on
//! the live router, so a route documented here that does not exist fails it.
//!
//! The hub API is not repeated: it depends on the element, and each element's document
//! (`GET /elements/{keyOrId}/docs`) describes it.

// The functions below exist only for their attributes: utoipa reads them, nothing calls them.
#![allow(dead_code)]

use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityScheme};
use utoipa::openapi::{OpenApi as Document, Server};
use utoipa::{IntoResponses, Modify, OpenApi, ToSchema};

use super::common_resource_schemas::{
    DefinedField, Definition, Definitions, MappedField, ObjectName, StoredDefinition, StoredDefinitions,
    StoredTransformation, StoredTransformations, Transformation,
};
use super::element_document::{AUTHORIZATION_FORMAT, SECURITY_SCHEME};
use super::formula_schemas::{
    Formula, FormulaExecution, FormulaExecutionStep, FormulaInstance, FormulaPatch, FormulaTemplate, NewFormulaInstance,
};
use super::request_bodies::{
    ConfigurationChange, ElementInstanceCreate, InstanceCreate, InstanceReauthentication, InstanceUpdate,
    OAuthUrlRequest, OrganizationCreate, UserCreate,
};

/// The platform's document, served from `public_url` (no trailing slash). The probes live at the
/// root rather than under the API prefix, so their paths carry their own server.
pub fn document(public_url: &str) -> Document {
    let mut document = PlatformApi::openapi();
    document.servers = Some(vec![Server::new(format!("{public_url}{}", crate::API_PREFIX))]);
    for probe in ["/healthz", "/readyz"] {
        if let Some(item) = document.paths.paths.get_mut(probe) {
            item.servers = Some(vec![Server::new(public_url)]);
        }
    }
    document
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Junction platform API",
        version = "1",
        description = "Elements, instances, their configuration, organizations and users. The hub API \
            (`/hubs/{hub}/...`) depends on the element: each element's document is at \
            `GET /elements/{keyOrId}/docs`, and an instance's at `GET /instances/{id}/docs`."
    ),
    paths(
        list_elements, element_keys, element, element_configuration, element_metadata, oauth_url_get,
        oauth_url_post, element_docs, create_instance, list_instances, create_element_instance, get_instance,
        reauthenticate_instance, update_instance, delete_instance, enable_instance, disable_instance,
        trace_logging_on, trace_logging_off, enable_by_token, disable_by_token, trace_logging_on_by_token,
        trace_logging_off_by_token, refresh_tokens, reissue_token, instance_docs, list_configuration,
        get_configuration, update_configuration, list_configuration_by_token, get_configuration_by_token,
        update_configuration_by_token, create_organization, create_user, me, platform_docs, healthz, readyz,
        count_instances, my_organization, list_users, get_user, delete_user, list_events, list_events_by_token,
        get_event, poll_events, backfill_events, retry_failed_events, retry_event, list_definitions,
        create_definitions, read_definition, create_definition, replace_definition, delete_definition,
        list_instance_definitions, read_instance_definition, create_instance_definition,
        replace_instance_definition, delete_instance_definition, list_element_transformations,
        read_element_transformation, create_element_transformation, replace_element_transformation,
        delete_element_transformation, list_instance_transformations, read_instance_transformation,
        create_instance_transformation, replace_instance_transformation, delete_instance_transformation,
        list_token_transformations, read_token_transformation, create_token_transformation,
        replace_token_transformation, delete_token_transformation, create_formula, list_formulas, read_formula,
        replace_formula, patch_formula, delete_formula, export_formula, create_formula_instance,
        list_formula_instances, read_formula_instance, delete_formula_instance, activate_formula_instance,
        deactivate_formula_instance, run_formula_instance, list_formula_executions, read_formula_execution,
        cancel_formula_execution, list_formula_execution_steps, read_any_formula_execution,
        list_any_formula_execution_steps,
    ),
    components(schemas(ErrorBody, ObjectName, DefinedField, MappedField, StoredDefinition, StoredTransformation,
        Formula, FormulaTemplate, FormulaInstance, NewFormulaInstance, FormulaExecution, FormulaExecutionStep)),
    modifiers(&Security),
    tags(
        (name = "elements", description = "The element catalog (no authentication)"),
        (name = "instances", description = "Connected accounts of the caller's organization"),
        (name = "configuration", description = "An instance's configuration entries"),
        (name = "events", description = "An instance's change events: the event log, and (Junction extensions) poll now, backfill and retries"),
        (name = "common resources", description = "The organization's own object shapes (definitions) and how they map onto each element's objects (transformations), at organization and instance level; the hub serves them as objects (`/hubs/{hub}/{objectName}`) and each instance's document (`GET /instances/{id}/docs`) describes them"),
        (name = "formulas", description = "The organization's formula templates: workflows of steps started by triggers. Create (or import an export), list, read, replace, merge-patch, delete and export; their instances (slots bound to the organization's instances and values), manual runs, and the executions with every step's input and output"),
        (name = "organizations", description = "Organizations and their users"),
        (name = "docs", description = "These documents"),
        (name = "health", description = "Probes, at the root rather than under /elements/api-v2"),
    )
)]
struct PlatformApi;

/// Adds the `Authorization` header scheme the operations' `security` names.
struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut Document) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.security_schemes.insert(
            SECURITY_SCHEME.into(),
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "Authorization",
                AUTHORIZATION_FORMAT,
            )))
            .into(),
        );
    }
}

/// Every error's body (see [`crate::error`]).
#[derive(ToSchema)]
#[schema(as = Error)]
struct ErrorBody {
    /// Also in the `Elements-Request-Id` header.
    #[schema(rename = "requestId")]
    request_id: String,
    /// What went wrong, naming the field or cause.
    message: String,
    /// The vendor's own message, when it gave one.
    #[schema(rename = "providerMessage")]
    provider_message: Option<String>,
}

/// The errors of the public routes.
#[derive(IntoResponses)]
enum PublicErrors {
    #[response(status = 400, description = "Bad input, named in the message")]
    BadRequest(ErrorBody),
    #[response(status = 404, description = "No such element")]
    NotFound(ErrorBody),
}

/// The errors of the authenticated routes.
#[derive(IntoResponses)]
enum PlatformErrors {
    #[response(status = 400, description = "Bad input, named in the message")]
    BadRequest(ErrorBody),
    #[response(status = 401, description = "Missing or wrong `User`/`Organization` credentials")]
    Unauthorized(ErrorBody),
    #[response(status = 403, description = "The caller may not do this")]
    Forbidden(ErrorBody),
    #[response(status = 404, description = "No such instance in the caller's organization")]
    NotFound(ErrorBody),
    #[response(
        status = 409,
        description = "A conflicting record already exists, or the authorization code was already exchanged \
                       (the message names the instance it created; the vendor is not asked again)"
    )]
    Conflict(ErrorBody),
    #[response(status = 502, description = "The vendor refused or failed (token exchange or refresh)")]
    VendorError(ErrorBody),
}

// ---------------------------------------------------------------------------------------------
// Elements (crate::elements), public

/// List the elements
#[utoipa::path(get, path = "/elements", tag = "elements", responses((status = 200, description = "Every element", body = Value)))]
fn list_elements() {}

/// List the element keys
#[utoipa::path(get, path = "/elements/keys", tag = "elements", responses((status = 200, description = "Every element key", body = [String])))]
fn element_keys() {}

/// Read one element
#[utoipa::path(get, path = "/elements/{keyOrId}", tag = "elements",
    params(("keyOrId" = String, Path, description = "The element's key (`infusionsoftcrm`) or numeric id")),
    responses((status = 200, description = "The element", body = Value), PublicErrors))]
fn element() {}

/// List an element's configuration entries
#[utoipa::path(get, path = "/elements/{keyOrId}/configuration", tag = "elements",
    params(("keyOrId" = String, Path, description = "The element's key or id")),
    responses((status = 200, description = "The configuration entries", body = Value), PublicErrors))]
fn element_configuration() {}

/// Read an element's metadata
#[utoipa::path(get, path = "/elements/{keyOrId}/metadata", tag = "elements",
    params(("keyOrId" = String, Path, description = "The element's key or id")),
    responses((status = 200, description = "The element's metadata", body = Value), PublicErrors))]
fn element_metadata() {}

/// Build the vendor's OAuth authorize URL (query parameters)
#[utoipa::path(get, path = "/elements/{keyOrId}/oauth/url", tag = "elements",
    params(
        ("keyOrId" = String, Path, description = "The element's key or id"),
        ("apiKey" = String, Query, description = "The OAuth client id", pattern = r"\S"),
        ("apiSecret" = String, Query, description = "The OAuth client secret (never put in the URL)", pattern = r"\S"),
        ("callbackUrl" = String, Query, description = "The redirect URI registered with the vendor: an absolute http(s) URL",
            pattern = r"^\s*[Hh][Tt][Tt][Pp][Ss]?://[^\s/?#]+\S*\s*$"),
        ("state" = Option<String>, Query, description = "Default: the element key"),
        ("scope" = Option<String>, Query, description = "Default: `full`"),
        ("siteAddress" = Option<String>, Query, description = "Accepted and ignored"),
    ),
    responses((status = 200, description = "`{oauthUrl, element}`", body = Value), PublicErrors))]
fn oauth_url_get() {}

/// Build the vendor's OAuth authorize URL (JSON body)
#[utoipa::path(post, path = "/elements/{keyOrId}/oauth/url", tag = "elements",
    params(("keyOrId" = String, Path, description = "The element's key or id")),
    request_body = OAuthUrlRequest,
    responses((status = 200, description = "`{oauthUrl, element}`", body = Value), PublicErrors))]
fn oauth_url_post() {}

/// The OpenAPI document of an element's hub API
#[utoipa::path(get, path = "/elements/{keyOrId}/docs", tag = "docs",
    params(("keyOrId" = String, Path, description = "The element's key or id")),
    responses((status = 200, description = "An OpenAPI 3.1 document", body = Value), PublicErrors))]
fn element_docs() {}

// ---------------------------------------------------------------------------------------------
// Instances (crate::instances, crate::reauthentication), platform auth

/// Create an instance
///
/// The body names the element (`element.key`), the OAuth `providerData.code` and the
/// `configuration`; the answer carries the instance `token` for hub calls. A code is exchanged
/// once: sent again, it is a 409 naming the instance it created (400 from another organization).
#[utoipa::path(post, path = "/instances", tag = "instances", request_body = InstanceCreate,
    security(("elements" = [])),
    responses((status = 200, description = "The instance", body = Value), PlatformErrors))]
fn create_instance() {}

/// List the organization's instances
#[utoipa::path(get, path = "/instances", tag = "instances",
    params(
        ("tags[]" = Option<Vec<String>>, Query, description = "Only instances with all these tags"),
        ("searchText" = Option<String>, Query, description = "Only instances whose name contains this"),
        ("pageSize" = Option<u32>, Query, description = "1 to 1000", minimum = 1, maximum = 1000),
        ("nextPage" = Option<String>, Query,
            description = "An opaque token: the previous page's elements-next-page-token. Any other value is refused with a 400"),
    ),
    security(("elements" = [])),
    responses((status = 200, description = "One page of instances", body = [Value],
        headers(("elements-next-page-token" = String, description = "The next page's token, if any"))), PlatformErrors))]
fn list_instances() {}

/// Create an instance of the element in the path
#[utoipa::path(post, path = "/elements/{keyOrId}/instances", tag = "instances", request_body = ElementInstanceCreate,
    params(("keyOrId" = String, Path, description = "The element's key or id")),
    security(("elements" = [])),
    responses((status = 200, description = "The instance", body = Value), PlatformErrors))]
fn create_element_instance() {}

/// Read an instance
#[utoipa::path(get, path = "/instances/{id}", tag = "instances", params(("id" = i64, Path, description = "The instance id")),
    security(("elements" = [])),
    responses((status = 200, description = "The instance", body = Value), PlatformErrors))]
fn get_instance() {}

/// Re-authenticate an instance
///
/// The body is the instance as read with a new `providerData.code` (or changed configuration).
#[utoipa::path(put, path = "/instances/{id}", tag = "instances", request_body = InstanceReauthentication,
    params(
        ("id" = i64, Path, description = "The instance id"),
        ("reAuthenticate" = String, Query, description = "Must be `true`: a PUT re-authenticates", pattern = "^true$"),
    ),
    security(("elements" = [])),
    responses((status = 200, description = "The instance", body = Value), PlatformErrors))]
fn reauthenticate_instance() {}

/// Change an instance's name, tags, configuration or disabled flag
#[utoipa::path(patch, path = "/instances/{id}", tag = "instances", request_body = InstanceUpdate,
    params(("id" = i64, Path, description = "The instance id")),
    security(("elements" = [])),
    responses((status = 200, description = "The instance", body = Value), PlatformErrors))]
fn update_instance() {}

/// Delete an instance
#[utoipa::path(delete, path = "/instances/{id}", tag = "instances", params(("id" = i64, Path, description = "The instance id")),
    security(("elements" = [])),
    responses((status = 200, description = "Deleted"), PlatformErrors))]
fn delete_instance() {}

/// Enable an instance
#[utoipa::path(put, path = "/instances/{id}/enabled", tag = "instances", params(("id" = i64, Path, description = "The instance id")),
    security(("elements" = [])),
    responses((status = 200, description = "The instance", body = Value), PlatformErrors))]
fn enable_instance() {}

/// Disable an instance (its hub calls get 403)
#[utoipa::path(delete, path = "/instances/{id}/enabled", tag = "instances", params(("id" = i64, Path, description = "The instance id")),
    security(("elements" = [])),
    responses((status = 200, description = "The instance", body = Value), PlatformErrors))]
fn disable_instance() {}

/// Turn trace logging on
#[utoipa::path(put, path = "/instances/{id}/trace-logging", tag = "instances", params(("id" = i64, Path, description = "The instance id")),
    security(("elements" = [])),
    responses((status = 200, description = "The instance", body = Value), PlatformErrors))]
fn trace_logging_on() {}

/// Turn trace logging off
#[utoipa::path(delete, path = "/instances/{id}/trace-logging", tag = "instances", params(("id" = i64, Path, description = "The instance id")),
    security(("elements" = [])),
    responses((status = 200, description = "The instance", body = Value), PlatformErrors))]
fn trace_logging_off() {}

/// Enable the instance the header's `Element` token names
#[utoipa::path(put, path = "/instances/enabled", tag = "instances", security(("elements" = [])),
    responses((status = 200, description = "The instance", body = Value), PlatformErrors))]
fn enable_by_token() {}

/// Disable the instance the header's `Element` token names
#[utoipa::path(delete, path = "/instances/enabled", tag = "instances", security(("elements" = [])),
    responses((status = 200, description = "The instance", body = Value), PlatformErrors))]
fn disable_by_token() {}

/// Turn trace logging on for the instance the header's `Element` token names
#[utoipa::path(put, path = "/instances/trace-logging", tag = "instances", security(("elements" = [])),
    responses((status = 200, description = "The instance", body = Value), PlatformErrors))]
fn trace_logging_on_by_token() {}

/// Turn trace logging off for the instance the header's `Element` token names
#[utoipa::path(delete, path = "/instances/trace-logging", tag = "instances", security(("elements" = [])),
    responses((status = 200, description = "The instance", body = Value), PlatformErrors))]
fn trace_logging_off_by_token() {}

/// Refresh the instance's vendor tokens now (Junction extension)
#[utoipa::path(put, path = "/instances/{id}/tokens/refresh", tag = "instances", params(("id" = i64, Path, description = "The instance id")),
    security(("elements" = [])),
    responses((status = 200, description = "The instance", body = Value), PlatformErrors))]
fn refresh_tokens() {}

/// Issue a new instance token; the old one stops working (Junction extension)
#[utoipa::path(put, path = "/instances/{id}/token", tag = "instances", params(("id" = i64, Path, description = "The instance id")),
    security(("elements" = [])),
    responses((status = 200, description = "The instance with its new token", body = Value), PlatformErrors))]
fn reissue_token() {}

/// The OpenAPI document of an instance's hub API: its element's objects and the common resources it can call
#[utoipa::path(get, path = "/instances/{id}/docs", tag = "docs", params(("id" = i64, Path, description = "The instance id")),
    security(("elements" = [])),
    responses((status = 200, description = "An OpenAPI 3.1 document", body = Value), PlatformErrors))]
fn instance_docs() {}

// ---------------------------------------------------------------------------------------------
// Instance configuration (crate::instance_configuration), platform auth

/// List an instance's configuration entries (secrets masked)
#[utoipa::path(get, path = "/instances/{id}/configuration", tag = "configuration",
    params(("id" = i64, Path, description = "The instance id")),
    security(("elements" = [])),
    responses((status = 200, description = "The entries with their `propertyValue`", body = [Value]), PlatformErrors))]
fn list_configuration() {}

/// Read one configuration entry
#[utoipa::path(get, path = "/instances/{id}/configuration/{configId}", tag = "configuration",
    params(("id" = i64, Path, description = "The instance id"), ("configId" = String, Path, description = "The entry's id or key")),
    security(("elements" = [])),
    responses((status = 200, description = "The entry", body = Value), PlatformErrors))]
fn get_configuration() {}

/// Change one configuration entry (`{"propertyValue": ...}`)
#[utoipa::path(patch, path = "/instances/{id}/configuration/{configId}", tag = "configuration", request_body = ConfigurationChange,
    params(("id" = i64, Path, description = "The instance id"), ("configId" = String, Path, description = "The entry's id or key")),
    security(("elements" = [])),
    responses((status = 200, description = "The entry", body = Value), PlatformErrors))]
fn update_configuration() {}

/// List the configuration of the instance the header's `Element` token names
#[utoipa::path(get, path = "/instances/configuration", tag = "configuration", security(("elements" = [])),
    responses((status = 200, description = "The entries", body = [Value]), PlatformErrors))]
fn list_configuration_by_token() {}

/// Read one configuration entry of the instance the header's `Element` token names
#[utoipa::path(get, path = "/instances/configuration/{configId}", tag = "configuration",
    params(("configId" = String, Path, description = "The entry's id or key")),
    security(("elements" = [])),
    responses((status = 200, description = "The entry", body = Value), PlatformErrors))]
fn get_configuration_by_token() {}

/// Change one configuration entry of the instance the header's `Element` token names
#[utoipa::path(patch, path = "/instances/configuration/{configId}", tag = "configuration", request_body = ConfigurationChange,
    params(("configId" = String, Path, description = "The entry's id or key")),
    security(("elements" = [])),
    responses((status = 200, description = "The entry", body = Value), PlatformErrors))]
fn update_configuration_by_token() {}

// ---------------------------------------------------------------------------------------------
// Organizations and users (crate::organizations), platform auth

/// Create an organization (admins of the operator's organization only)
///
/// `{"name", "user"?: {"email"}}`; the answer shows the new secrets this once.
#[utoipa::path(post, path = "/organizations", tag = "organizations", request_body = OrganizationCreate,
    security(("elements" = [])),
    responses((status = 200, description = "The organization and its secret", body = Value), PlatformErrors))]
fn create_organization() {}

/// Create a user of the caller's organization (admins only)
#[utoipa::path(post, path = "/users", tag = "organizations", request_body = UserCreate,
    security(("elements" = [])),
    responses((status = 200, description = "The user and their secret", body = Value), PlatformErrors))]
fn create_user() {}

/// The caller
#[utoipa::path(get, path = "/users/me", tag = "organizations", security(("elements" = [])),
    responses((status = 200, description = "The caller, without secrets", body = Value), PlatformErrors))]
fn me() {}

/// The caller's organization
#[utoipa::path(get, path = "/organizations/me", tag = "organizations", security(("elements" = [])),
    responses((status = 200, description = "The organization, without its secret", body = Value), PlatformErrors))]
fn my_organization() {}

/// List the organization's users (admins only)
#[utoipa::path(get, path = "/users", tag = "organizations", security(("elements" = [])),
    responses((status = 200, description = "The users, oldest first (at most 1000), without secrets", body = [Value]),
        PlatformErrors))]
fn list_users() {}

/// Read a user of the organization (admins, or the user themselves)
#[utoipa::path(get, path = "/users/{id}", tag = "organizations", params(("id" = i64, Path, description = "The user id")),
    security(("elements" = [])),
    responses((status = 200, description = "The user, without secrets", body = Value), PlatformErrors))]
fn get_user() {}

/// Delete a user of the organization (admins, not themselves): their secret stops working at once
#[utoipa::path(delete, path = "/users/{id}", tag = "organizations", params(("id" = i64, Path, description = "The user id")),
    security(("elements" = [])),
    responses((status = 200, description = "Deleted"), PlatformErrors))]
fn delete_user() {}

/// Count the organization's instances
#[utoipa::path(get, path = "/instances/count", tag = "instances", security(("elements" = [])),
    responses((status = 200, description = "`{\"count\": N}`", body = Value), PlatformErrors))]
fn count_instances() {}

/// This document
#[utoipa::path(get, path = "/docs", tag = "docs", responses((status = 200, description = "An OpenAPI 3.1 document", body = Value)))]
fn platform_docs() {}

// ---------------------------------------------------------------------------------------------
// Probes (crate::health), at the root

/// Whether the process answers
#[utoipa::path(get, path = "/healthz", tag = "health", responses((status = 200, description = "`{\"status\": \"ok\"}`", body = Value)))]
fn healthz() {}

/// Whether the store answers
#[utoipa::path(get, path = "/readyz", tag = "health",
    responses((status = 200, description = "`{\"status\": \"ready\"}`", body = Value),
        (status = 503, description = "The store is unreachable", body = Value)))]
fn readyz() {}

// ---------------------------------------------------------------------------------------------
// Events (crate::instance_events)

/// The event log: newest first, or oldest first after `after` (pull mode)
#[utoipa::path(get, path = "/instances/{id}/events", tag = "events",
    params(
        ("id" = i64, Path, description = "The instance id"),
        ("status" = Option<String>, Query, description = "Only notifications in this status",
            pattern = "^(NEW|DISPATCHED|NOTIFIED|FAILED)$"),
        ("objectType" = Option<String>, Query, description = "Only notifications of this object (e.g. `contacts`)"),
        ("from" = Option<String>, Query, description = "Recorded at or after (ISO 8601)", format = DateTime),
        ("to" = Option<String>, Query, description = "Recorded before (ISO 8601)", format = DateTime),
        ("after" = Option<i64>, Query, description = "Oldest first, from the notification after this id (0: from the first)", minimum = 0),
        ("pageSize" = Option<u32>, Query, description = "At most this many (default 100)", minimum = 1, maximum = 1000),
    ),
    security(("elements" = [])),
    responses((status = 200, description = "Notifications: id, eventDate, status, objectType, source, events, raw, attempts, lastStatus, lastError", body = [Value]), PlatformErrors))]
fn list_events() {}

/// The event log of the instance the `Element` token names
#[utoipa::path(get, path = "/instances/events", tag = "events", security(("elements" = [])),
    responses((status = 200, description = "Notifications, newest first", body = [Value]), PlatformErrors))]
fn list_events_by_token() {}

/// One notification of the event log
#[utoipa::path(get, path = "/instances/{id}/events/{eventId}", tag = "events",
    params(("id" = i64, Path, description = "The instance id"), ("eventId" = i64, Path, description = "The notification id", minimum = 1)),
    security(("elements" = [])),
    responses((status = 200, description = "The notification", body = Value), PlatformErrors))]
fn get_event() {}

/// Poll now (Junction extension); answers once the poll is committed, with what it recorded
///
/// A 409 when the instance's events are off, or when another poll of it does not finish in time.
#[utoipa::path(put, path = "/instances/{id}/events/poll", tag = "events",
    params(
        ("id" = i64, Path, description = "The instance id"),
        ("reconcile" = Option<bool>, Query, description = "Read every object in full now, which finds deletes"),
    ),
    security(("elements" = [])),
    responses((status = 200, description = "`objects` read and `events` recorded", body = Value), PlatformErrors))]
fn poll_events() {}

/// Report every change since a time again (Junction extension)
#[utoipa::path(put, path = "/instances/{id}/events/backfill", tag = "events",
    params(
        ("id" = i64, Path, description = "The instance id"),
        ("since" = String, Query, description = "Report every record changed since (ISO 8601)", format = DateTime),
    ),
    security(("elements" = [])),
    responses((status = 200, description = "`objects` read and `events` recorded", body = Value), PlatformErrors))]
fn backfill_events() {}

/// Send every FAILED notification again (Junction extension)
#[utoipa::path(put, path = "/instances/{id}/events/retry", tag = "events",
    params(("id" = i64, Path, description = "The instance id")),
    security(("elements" = [])),
    responses((status = 200, description = "`retried`: how many", body = Value), PlatformErrors))]
fn retry_failed_events() {}

/// Send one notification again, whatever its status (Junction extension)
#[utoipa::path(put, path = "/instances/{id}/events/{eventId}/retry", tag = "events",
    params(("id" = i64, Path, description = "The instance id"), ("eventId" = i64, Path, description = "The notification id", minimum = 1)),
    security(("elements" = [])),
    responses((status = 200, description = "The notification, NEW and due now", body = Value), PlatformErrors))]
fn retry_event() {}

// ---------------------------------------------------------------------------------------------
// Common resources (crate::common_resources), platform auth. POST creates (409 if it exists), PUT
// replaces (404 if it does not), GET reads, DELETE deletes; answers are 200.

/// The errors of a common resource read.
#[derive(IntoResponses)]
enum ResourceReadErrors {
    #[response(
        status = 400,
        description = "Bad input (a path parameter or the Authorization header), named in the message"
    )]
    BadRequest(ErrorBody),
    #[response(status = 401, description = "Missing or wrong credentials, or an unknown instance token")]
    Unauthorized(ErrorBody),
    #[response(status = 404, description = "No such document, element, or instance of the caller's organization")]
    NotFound(ErrorBody),
}

/// The errors of a common resource write.
#[derive(IntoResponses)]
enum ResourceWriteErrors {
    #[response(
        status = 400,
        description = "The document, its name or what it maps is wrong: the message names every problem"
    )]
    BadRequest(ErrorBody),
    #[response(status = 401, description = "Missing or wrong credentials, or an unknown instance token")]
    Unauthorized(ErrorBody),
    #[response(
        status = 404,
        description = "No such document (to replace or delete), element, or instance of the caller's organization"
    )]
    NotFound(ErrorBody),
    #[response(
        status = 409,
        description = "The document exists already (use PUT), or transformations still map the definition (delete them first)"
    )]
    Conflict(ErrorBody),
}

/// List the organization's definitions
#[utoipa::path(get, path = "/organizations/objects/definitions", tag = "common resources", security(("elements" = [])),
    responses((status = 200, description = "Definitions by name", body = StoredDefinitions), ResourceReadErrors))]
fn list_definitions() {}

/// Define several common resources at once
#[utoipa::path(post, path = "/organizations/objects/definitions", tag = "common resources", request_body = Definitions,
    security(("elements" = [])),
    responses((status = 200, description = "The definitions as stored, by name", body = StoredDefinitions), ResourceWriteErrors))]
fn create_definitions() {}

/// Read a definition
#[utoipa::path(get, path = "/organizations/objects/{objectName}/definitions", tag = "common resources",
    params(("objectName" = ObjectName, Path)), security(("elements" = [])),
    responses((status = 200, description = "The definition", body = StoredDefinition), ResourceReadErrors))]
fn read_definition() {}

/// Define a common resource
#[utoipa::path(post, path = "/organizations/objects/{objectName}/definitions", tag = "common resources",
    request_body = Definition, params(("objectName" = ObjectName, Path)), security(("elements" = [])),
    responses((status = 200, description = "The definition as stored", body = StoredDefinition), ResourceWriteErrors))]
fn create_definition() {}

/// Replace a definition (every transformation of it must still fit)
#[utoipa::path(put, path = "/organizations/objects/{objectName}/definitions", tag = "common resources",
    request_body = Definition, params(("objectName" = ObjectName, Path)), security(("elements" = [])),
    responses((status = 200, description = "The definition as stored", body = StoredDefinition), ResourceWriteErrors))]
fn replace_definition() {}

/// Delete a definition no transformation maps
#[utoipa::path(delete, path = "/organizations/objects/{objectName}/definitions", tag = "common resources",
    params(("objectName" = ObjectName, Path)), security(("elements" = [])),
    responses((status = 200, description = "Deleted"), ResourceWriteErrors))]
fn delete_definition() {}

/// List an instance's own definitions (they override the organization's field by field)
#[utoipa::path(get, path = "/instances/{id}/objects/definitions", tag = "common resources",
    params(("id" = i64, Path, description = "The instance id")), security(("elements" = [])),
    responses((status = 200, description = "Definitions by name", body = StoredDefinitions), ResourceReadErrors))]
fn list_instance_definitions() {}

/// Read an instance's definition
#[utoipa::path(get, path = "/instances/{id}/objects/{objectName}/definitions", tag = "common resources",
    params(("id" = i64, Path, description = "The instance id"), ("objectName" = ObjectName, Path)),
    security(("elements" = [])),
    responses((status = 200, description = "The definition", body = StoredDefinition), ResourceReadErrors))]
fn read_instance_definition() {}

/// Define a common resource for one instance
#[utoipa::path(post, path = "/instances/{id}/objects/{objectName}/definitions", tag = "common resources",
    request_body = Definition,
    params(("id" = i64, Path, description = "The instance id"), ("objectName" = ObjectName, Path)),
    security(("elements" = [])),
    responses((status = 200, description = "The definition as stored", body = StoredDefinition), ResourceWriteErrors))]
fn create_instance_definition() {}

/// Replace an instance's definition
#[utoipa::path(put, path = "/instances/{id}/objects/{objectName}/definitions", tag = "common resources",
    request_body = Definition,
    params(("id" = i64, Path, description = "The instance id"), ("objectName" = ObjectName, Path)),
    security(("elements" = [])),
    responses((status = 200, description = "The definition as stored", body = StoredDefinition), ResourceWriteErrors))]
fn replace_instance_definition() {}

/// Delete an instance's definition
#[utoipa::path(delete, path = "/instances/{id}/objects/{objectName}/definitions", tag = "common resources",
    params(("id" = i64, Path, description = "The instance id"), ("objectName" = ObjectName, Path)),
    security(("elements" = [])),
    responses((status = 200, description = "Deleted"), ResourceWriteErrors))]
fn delete_instance_definition() {}

/// List the organization's transformations onto an element's objects
#[utoipa::path(get, path = "/organizations/elements/{keyOrId}/transformations", tag = "common resources",
    params(("keyOrId" = String, Path, description = "The element's key or id")), security(("elements" = [])),
    responses((status = 200, description = "Transformations by name", body = StoredTransformations), ResourceReadErrors))]
fn list_element_transformations() {}

/// Read the organization's transformation of a common resource onto an element
#[utoipa::path(get, path = "/organizations/elements/{keyOrId}/transformations/{objectName}", tag = "common resources",
    params(("keyOrId" = String, Path, description = "The element's key or id"), ("objectName" = ObjectName, Path)),
    security(("elements" = [])),
    responses((status = 200, description = "The transformation", body = StoredTransformation), ResourceReadErrors))]
fn read_element_transformation() {}

/// Map a common resource onto an element's object, for all its instances
#[utoipa::path(post, path = "/organizations/elements/{keyOrId}/transformations/{objectName}", tag = "common resources",
    request_body = Transformation,
    params(("keyOrId" = String, Path, description = "The element's key or id"), ("objectName" = ObjectName, Path)),
    security(("elements" = [])),
    responses((status = 200, description = "The transformation as stored", body = StoredTransformation), ResourceWriteErrors))]
fn create_element_transformation() {}

/// Replace the organization's transformation onto an element
#[utoipa::path(put, path = "/organizations/elements/{keyOrId}/transformations/{objectName}", tag = "common resources",
    request_body = Transformation,
    params(("keyOrId" = String, Path, description = "The element's key or id"), ("objectName" = ObjectName, Path)),
    security(("elements" = [])),
    responses((status = 200, description = "The transformation as stored", body = StoredTransformation), ResourceWriteErrors))]
fn replace_element_transformation() {}

/// Delete the organization's transformation onto an element
#[utoipa::path(delete, path = "/organizations/elements/{keyOrId}/transformations/{objectName}", tag = "common resources",
    params(("keyOrId" = String, Path, description = "The element's key or id"), ("objectName" = ObjectName, Path)),
    security(("elements" = [])),
    responses((status = 200, description = "Deleted"), ResourceWriteErrors))]
fn delete_element_transformation() {}

/// List an instance's own transformations (they override the organization's field by field)
#[utoipa::path(get, path = "/instances/{id}/transformations", tag = "common resources",
    params(("id" = i64, Path, description = "The instance id")), security(("elements" = [])),
    responses((status = 200, description = "Transformations by name", body = StoredTransformations), ResourceReadErrors))]
fn list_instance_transformations() {}

/// Read an instance's transformation
#[utoipa::path(get, path = "/instances/{id}/transformations/{objectName}", tag = "common resources",
    params(("id" = i64, Path, description = "The instance id"), ("objectName" = ObjectName, Path)),
    security(("elements" = [])),
    responses((status = 200, description = "The transformation", body = StoredTransformation), ResourceReadErrors))]
fn read_instance_transformation() {}

/// Map a common resource for one instance (over its organization's transformation, field by field)
#[utoipa::path(post, path = "/instances/{id}/transformations/{objectName}", tag = "common resources",
    request_body = Transformation,
    params(("id" = i64, Path, description = "The instance id"), ("objectName" = ObjectName, Path)),
    security(("elements" = [])),
    responses((status = 200, description = "The transformation as stored", body = StoredTransformation), ResourceWriteErrors))]
fn create_instance_transformation() {}

/// Replace an instance's transformation
#[utoipa::path(put, path = "/instances/{id}/transformations/{objectName}", tag = "common resources",
    request_body = Transformation,
    params(("id" = i64, Path, description = "The instance id"), ("objectName" = ObjectName, Path)),
    security(("elements" = [])),
    responses((status = 200, description = "The transformation as stored", body = StoredTransformation), ResourceWriteErrors))]
fn replace_instance_transformation() {}

/// Delete an instance's transformation
#[utoipa::path(delete, path = "/instances/{id}/transformations/{objectName}", tag = "common resources",
    params(("id" = i64, Path, description = "The instance id"), ("objectName" = ObjectName, Path)),
    security(("elements" = [])),
    responses((status = 200, description = "Deleted"), ResourceWriteErrors))]
fn delete_instance_transformation() {}

/// List the transformations of the instance the header's `Element` token names
#[utoipa::path(get, path = "/instances/transformations", tag = "common resources", security(("elements" = [])),
    responses((status = 200, description = "Transformations by name", body = StoredTransformations), ResourceReadErrors))]
fn list_token_transformations() {}

/// Read a transformation of the instance the header's `Element` token names
#[utoipa::path(get, path = "/instances/transformations/{objectName}", tag = "common resources",
    params(("objectName" = ObjectName, Path)), security(("elements" = [])),
    responses((status = 200, description = "The transformation", body = StoredTransformation), ResourceReadErrors))]
fn read_token_transformation() {}

/// Map a common resource for the instance the header's `Element` token names
#[utoipa::path(post, path = "/instances/transformations/{objectName}", tag = "common resources",
    request_body = Transformation, params(("objectName" = ObjectName, Path)), security(("elements" = [])),
    responses((status = 200, description = "The transformation as stored", body = StoredTransformation), ResourceWriteErrors))]
fn create_token_transformation() {}

/// Replace a transformation of the instance the header's `Element` token names
#[utoipa::path(put, path = "/instances/transformations/{objectName}", tag = "common resources",
    request_body = Transformation, params(("objectName" = ObjectName, Path)), security(("elements" = [])),
    responses((status = 200, description = "The transformation as stored", body = StoredTransformation), ResourceWriteErrors))]
fn replace_token_transformation() {}

/// Delete a transformation of the instance the header's `Element` token names
#[utoipa::path(delete, path = "/instances/transformations/{objectName}", tag = "common resources",
    params(("objectName" = ObjectName, Path)), security(("elements" = [])),
    responses((status = 200, description = "Deleted"), ResourceWriteErrors))]
fn delete_token_transformation() {}

// ---------------------------------------------------------------------------------------------
// Formula templates (crate::formulas), platform auth. Answers are 200; a write's validation
// warnings (a step no trigger reaches) are in `Elements-Error`.

/// The errors of a formula read.
#[derive(IntoResponses)]
enum FormulaReadErrors {
    #[response(
        status = 400,
        description = "Bad input (a query parameter, the path, the Authorization header), named in the message"
    )]
    BadRequest(ErrorBody),
    #[response(status = 401, description = "Missing or wrong `User`/`Organization` credentials")]
    Unauthorized(ErrorBody),
    #[response(status = 404, description = "No such formula in the caller's organization")]
    NotFound(ErrorBody),
}

/// The errors of a formula write.
#[derive(IntoResponses)]
enum FormulaWriteErrors {
    #[response(
        status = 400,
        description = "The template does not load or does not validate: the message names every problem with its JSON pointer"
    )]
    BadRequest(ErrorBody),
    #[response(status = 401, description = "Missing or wrong `User`/`Organization` credentials")]
    Unauthorized(ErrorBody),
    #[response(status = 404, description = "No such formula in the caller's organization")]
    NotFound(ErrorBody),
    #[response(status = 409, description = "Another formula of the organization has this name (ignoring case)")]
    Conflict(ErrorBody),
    #[response(status = 413, description = "The body is larger than 1 MiB")]
    TooLarge(ErrorBody),
    #[response(status = 415, description = "The body is not JSON")]
    UnsupportedMediaType(ErrorBody),
}

/// Create a formula template, or import one (an export, or another platform's formula JSON)
#[utoipa::path(post, path = "/formulas", tag = "formulas", request_body = FormulaTemplate,
    security(("elements" = [])),
    responses((status = 200, description = "The template as stored", body = Formula,
        headers(("elements-error" = String, description = "Validation warnings, if any"))), FormulaWriteErrors))]
fn create_formula() {}

/// List the organization's formula templates, oldest first
#[utoipa::path(get, path = "/formulas", tag = "formulas",
    params(
        ("pageSize" = Option<u32>, Query, description = "1 to 1000 (default 200)", minimum = 1, maximum = 1000),
        ("nextPage" = Option<String>, Query,
            description = "An opaque token: the previous page's elements-next-page-token. Any other value is refused with a 400"),
    ),
    security(("elements" = [])),
    responses((status = 200, description = "One page of templates", body = [Formula],
        headers(("elements-next-page-token" = String, description = "The next page's token, if any"))), FormulaReadErrors))]
fn list_formulas() {}

/// Read a formula template
#[utoipa::path(get, path = "/formulas/{id}", tag = "formulas", params(("id" = i64, Path, description = "The formula id")),
    security(("elements" = [])),
    responses((status = 200, description = "The template", body = Formula), FormulaReadErrors))]
fn read_formula() {}

/// Replace a formula template (validated like a create)
#[utoipa::path(put, path = "/formulas/{id}", tag = "formulas", request_body = FormulaTemplate,
    params(("id" = i64, Path, description = "The formula id")),
    security(("elements" = [])),
    responses((status = 200, description = "The template as stored", body = Formula,
        headers(("elements-error" = String, description = "Validation warnings, if any"))), FormulaWriteErrors))]
fn replace_formula() {}

/// Change a formula template with a JSON merge patch (RFC 7396); the result is validated
#[utoipa::path(patch, path = "/formulas/{id}", tag = "formulas",
    request_body(content = FormulaPatch, content_type = "application/merge-patch+json"),
    params(("id" = i64, Path, description = "The formula id")),
    security(("elements" = [])),
    responses((status = 200, description = "The template as stored", body = Formula,
        headers(("elements-error" = String, description = "Validation warnings, if any"))), FormulaWriteErrors))]
fn patch_formula() {}

/// Delete a formula template
#[utoipa::path(delete, path = "/formulas/{id}", tag = "formulas", params(("id" = i64, Path, description = "The formula id")),
    security(("elements" = [])),
    responses((status = 200, description = "Deleted"), FormulaReadErrors))]
fn delete_formula() {}

/// Export a formula template: the JSON `POST /formulas` of another deployment takes, without this deployment's id and dates
#[utoipa::path(get, path = "/formulas/{id}/export", tag = "formulas", params(("id" = i64, Path, description = "The formula id")),
    security(("elements" = [])),
    responses((status = 200, description = "The template", body = FormulaTemplate), FormulaReadErrors))]
fn export_formula() {}

// ---------------------------------------------------------------------------------------------
// Formula instances and executions (crate::formula_runs), platform auth.

/// The errors of a formula instance or execution route.
#[derive(IntoResponses)]
enum FormulaRunErrors {
    #[response(
        status = 400,
        description = "Bad input (the body, a slot binding, a query parameter), named in the message"
    )]
    BadRequest(ErrorBody),
    #[response(status = 401, description = "Missing or wrong `User`/`Organization` credentials")]
    Unauthorized(ErrorBody),
    #[response(
        status = 404,
        description = "No such formula, formula instance or execution in the caller's organization"
    )]
    NotFound(ErrorBody),
    #[response(
        status = 409,
        description = "A manual run of an inactive formula instance or template, or of one with no manual trigger"
    )]
    Conflict(ErrorBody),
    #[response(status = 413, description = "The body is larger than 1 MiB")]
    TooLarge(ErrorBody),
    #[response(status = 415, description = "The body is not JSON")]
    UnsupportedMediaType(ErrorBody),
}

/// Create a formula instance: bind the template's slots to the organization's instances and values
#[utoipa::path(post, path = "/formulas/{id}/instances", tag = "formulas", request_body = NewFormulaInstance,
    params(("id" = i64, Path, description = "The formula id")), security(("elements" = [])),
    responses((status = 200, description = "The formula instance", body = FormulaInstance), FormulaRunErrors))]
fn create_formula_instance() {}

/// List a formula's instances, oldest first
#[utoipa::path(get, path = "/formulas/{id}/instances", tag = "formulas",
    params(("id" = i64, Path, description = "The formula id")), security(("elements" = [])),
    responses((status = 200, description = "The formula's instances", body = [FormulaInstance]), FormulaRunErrors))]
fn list_formula_instances() {}

/// Read a formula instance
#[utoipa::path(get, path = "/formulas/{id}/instances/{instanceId}", tag = "formulas",
    params(("id" = i64, Path, description = "The formula id"), ("instanceId" = i64, Path, description = "The formula instance id")),
    security(("elements" = [])),
    responses((status = 200, description = "The formula instance", body = FormulaInstance), FormulaRunErrors))]
fn read_formula_instance() {}

/// Delete a formula instance with its executions
#[utoipa::path(delete, path = "/formulas/{id}/instances/{instanceId}", tag = "formulas",
    params(("id" = i64, Path, description = "The formula id"), ("instanceId" = i64, Path, description = "The formula instance id")),
    security(("elements" = [])),
    responses((status = 200, description = "Deleted"), FormulaRunErrors))]
fn delete_formula_instance() {}

/// Activate a formula instance: its triggers start executions
#[utoipa::path(put, path = "/formulas/{id}/instances/{instanceId}/active", tag = "formulas",
    params(("id" = i64, Path, description = "The formula id"), ("instanceId" = i64, Path, description = "The formula instance id")),
    security(("elements" = [])),
    responses((status = 200, description = "The formula instance", body = FormulaInstance), FormulaRunErrors))]
fn activate_formula_instance() {}

/// Deactivate a formula instance: its triggers start nothing until it is activated again
#[utoipa::path(delete, path = "/formulas/{id}/instances/{instanceId}/active", tag = "formulas",
    params(("id" = i64, Path, description = "The formula id"), ("instanceId" = i64, Path, description = "The formula instance id")),
    security(("elements" = [])),
    responses((status = 200, description = "The formula instance", body = FormulaInstance), FormulaRunErrors))]
fn deactivate_formula_instance() {}

/// Run a formula instance by hand: its body (any JSON; none is `{}`) is the run's `trigger.args`. The run is queued
#[utoipa::path(post, path = "/formulas/instances/{instanceId}/executions", tag = "formulas",
    request_body(content = Object, description = "trigger.args, at most 256 KiB of JSON; may be left out"),
    params(("instanceId" = i64, Path, description = "The formula instance id")), security(("elements" = [])),
    responses((status = 200, description = "The queued execution", body = FormulaExecution), FormulaRunErrors))]
fn run_formula_instance() {}

/// List a formula instance's executions, newest first
#[utoipa::path(get, path = "/formulas/instances/{instanceId}/executions", tag = "formulas",
    params(
        ("instanceId" = i64, Path, description = "The formula instance id"),
        ("pageSize" = Option<u32>, Query, description = "1 to 200 (default 50)", minimum = 1, maximum = 200),
        ("before" = Option<i64>, Query, description = "Only executions with a lower id (the next page: the last id seen)"),
    ),
    security(("elements" = [])),
    responses((status = 200, description = "Executions, newest first", body = [FormulaExecution]), FormulaRunErrors))]
fn list_formula_executions() {}

/// Read an execution of a formula instance
#[utoipa::path(get, path = "/formulas/instances/{instanceId}/executions/{executionId}", tag = "formulas",
    params(("instanceId" = i64, Path, description = "The formula instance id"), ("executionId" = i64, Path, description = "The execution id")),
    security(("elements" = [])),
    responses((status = 200, description = "The execution", body = FormulaExecution), FormulaRunErrors))]
fn read_formula_execution() {}

/// Cancel an execution that has not ended (one that has is answered as it is)
#[utoipa::path(delete, path = "/formulas/instances/{instanceId}/executions/{executionId}", tag = "formulas",
    params(("instanceId" = i64, Path, description = "The formula instance id"), ("executionId" = i64, Path, description = "The execution id")),
    security(("elements" = [])),
    responses((status = 200, description = "The execution", body = FormulaExecution), FormulaRunErrors))]
fn cancel_formula_execution() {}

/// An execution's step runs, in order, each with its input, output, status and times
#[utoipa::path(get, path = "/formulas/instances/{instanceId}/executions/{executionId}/steps", tag = "formulas",
    params(("instanceId" = i64, Path, description = "The formula instance id"), ("executionId" = i64, Path, description = "The execution id")),
    security(("elements" = [])),
    responses((status = 200, description = "The step runs", body = [FormulaExecutionStep]), FormulaRunErrors))]
fn list_formula_execution_steps() {}

/// Read an execution by its id alone (the platforms' path)
#[utoipa::path(get, path = "/formulas/instances/executions/{executionId}", tag = "formulas",
    params(("executionId" = i64, Path, description = "The execution id")), security(("elements" = [])),
    responses((status = 200, description = "The execution", body = FormulaExecution), FormulaRunErrors))]
fn read_any_formula_execution() {}

/// An execution's step runs by the execution's id alone (the platforms' path)
#[utoipa::path(get, path = "/formulas/instances/executions/{executionId}/steps", tag = "formulas",
    params(("executionId" = i64, Path, description = "The execution id")), security(("elements" = [])),
    responses((status = 200, description = "The step runs", body = [FormulaExecutionStep]), FormulaRunErrors))]
fn list_any_formula_execution_steps() {}
