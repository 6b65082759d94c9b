//! An `elementRequest` step's call: a method and a hub path (`/hubs/crm/contacts/12`, or one
//! relative to the instance's hub, `/contacts/12`) with a query and a body, made through the hub
//! engine as the slot's instance — rate-limited at background priority, with its tokens refreshed
//! and its records mapped — and answered as the hub API answers a client: a status code, the paging
//! headers, and the body (an error's body is `{"message", "providerMessage"}`).
//!
//! The paths are the hub API's object routes: `/{object}` (GET lists, POST creates),
//! `/{object}/{id}` (GET, PATCH or PUT, DELETE), `/{object}/{id}/{child}` (GET lists, POST
//! creates), `/{object}/{id}/{child}/{childId}` (GET, DELETE) and `/products/{id}/inventory`
//! (GET, PATCH). The bulk, raw and catalog routes are not steps' business and are refused.
//! [`response_code`] gives each engine error the status the HTTP API gives it (checked by a test of
//! the HTTP crate).

use connector::rate_limit::Priority;
use connector::{TokenError, VendorError};
use domain::token_rules::TransientCause;
use hub::{HubError, ListParams, Target};
use serde_json::{json, Map, Value};
use store::InstanceRecord;

use crate::bulk::BACKGROUND_WAIT;
use crate::Platform;

/// One hub call of a step.
#[derive(Debug, Clone)]
pub struct HubCall {
    /// `GET`, `POST`, `PATCH`, `PUT` or `DELETE` (any case).
    pub method: String,
    /// The hub path, with or without `/hubs/{hub}`; a `?query` on it is merged into `query`.
    pub api: String,
    /// Query parameters (`where`, `pageSize`, ...), each a string, number or boolean.
    pub query: Map<String, Value>,
    /// The JSON body of a create or update.
    pub body: Option<Value>,
}

/// What the hub answered.
#[derive(Debug, Clone, PartialEq)]
pub struct HubAnswer {
    pub code: u16,
    /// Lower-case header names: the paging headers of a list.
    pub headers: Map<String, Value>,
    pub body: Value,
}

impl HubAnswer {
    fn ok(body: Value) -> Self {
        HubAnswer { code: 200, headers: Map::new(), body }
    }

    fn refused(code: u16, message: impl Into<String>) -> Self {
        HubAnswer { code, headers: Map::new(), body: json!({ "message": message.into() }) }
    }
}

/// The status the hub API gives `error`.
pub fn response_code(error: &HubError) -> u16 {
    match error {
        HubError::BadRequest(_) | HubError::Incomplete { .. } => 400,
        HubError::NotFound(_) => 404,
        HubError::NotAllowed(_) => 405,
        HubError::Vendor(error) => vendor_code(error),
    }
}

fn vendor_code(error: &VendorError) -> u16 {
    match error {
        VendorError::LimitReached { .. } | VendorError::Throttled { .. } => 429,
        VendorError::Timeout => 504,
        VendorError::Unreachable | VendorError::NotJson => 502,
        VendorError::InvalidPath => 400,
        VendorError::Status { status, .. } => match status {
            400 | 409 | 422 => 400,
            401 | 403 => 403,
            404 => 404,
            429 => 429,
            _ => 502,
        },
        VendorError::Token(error) => match error {
            TokenError::Invalid { .. } => 403,
            TokenError::Transient(TransientCause::Timeout) => 504,
            TokenError::Transient(TransientCause::RateLimited) => 429,
            TokenError::Transient(TransientCause::Refused { .. }) => 400,
            TokenError::Transient(_) | TokenError::RefreshFailed | TokenError::NoAccessToken => 502,
            TokenError::Storage(_) => 503,
        },
    }
}

fn error_answer(error: &HubError) -> HubAnswer {
    let provider_message = match error {
        HubError::Incomplete { provider_message, .. } => provider_message.clone(),
        HubError::Vendor(VendorError::Status { provider_message, .. }) => provider_message.clone(),
        _ => None,
    };
    let mut body = json!({ "message": error.to_string() });
    if let Some(provider_message) = provider_message {
        body["providerMessage"] = provider_message.into();
    }
    HubAnswer { code: response_code(error), headers: Map::new(), body }
}

/// The path's segments after `/hubs/{hub}` (as written: hub ids and object names need no
/// decoding), and the query written on it.
fn split_api(api: &str) -> (Vec<String>, Vec<(String, String)>) {
    let (path, query) = api.split_once('?').unwrap_or((api, ""));
    let mut segments: Vec<String> = path.split('/').filter(|segment| !segment.is_empty()).map(str::to_owned).collect();
    if segments.first().is_some_and(|first| first == "hubs") && segments.len() >= 2 {
        segments.drain(..2);
    }
    let query = url::form_urlencoded::parse(query.as_bytes()).map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
    (segments, query)
}

/// The query as the hub's list parameters; `Err` names a parameter that is not a scalar.
fn list_params(query: &Map<String, Value>) -> Result<ListParams, String> {
    let mut strings = Map::new();
    for (key, value) in query {
        let text = match value {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            Value::Null => continue,
            _ => return Err(format!("query parameter '{key}' must be a string, number or boolean")),
        };
        strings.insert(key.clone(), Value::String(text));
    }
    serde_json::from_value(Value::Object(strings)).map_err(|error| format!("invalid query: {error}"))
}

impl Platform {
    /// Makes `call` as `instance` through the hub engine (see the module's documentation).
    pub async fn formula_hub_call(&self, instance: &InstanceRecord, call: HubCall) -> HubAnswer {
        let (segments, path_query) = split_api(&call.api);
        let mut query = call.query;
        for (key, value) in path_query {
            query.entry(key).or_insert(Value::String(value));
        }
        let method = call.method.to_ascii_uppercase();
        let common = match self.common_objects(instance).await {
            Ok(common) => common,
            Err(error) => {
                return HubAnswer::refused(503, format!("The instance's common resources could not be read: {error}"))
            }
        };
        let instance_call = self.instance_call(instance).with_common(common);
        let session = instance_call.session(Priority::Background, Some(BACKGROUND_WAIT));
        let hub = &self.hub;
        let body = || call.body.clone().unwrap_or_else(|| json!({}));
        let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
        let result = match (segments.as_slice(), method.as_str()) {
            ([], _) => return HubAnswer::refused(404, "The api names no hub object"),
            (["bulk" | "raw" | "objects" | "ping", ..], _) => {
                return HubAnswer::refused(400, format!("'{}' is not callable from a formula step", segments[0]))
            }
            (["products", id, "inventory"], "GET") => hub.inventory(&session, id).await,
            (["products", id, "inventory"], "PATCH") => hub.adjust_inventory(&session, id, &body()).await,
            ([object], "GET") | ([object, _, _], "GET") => {
                let params = match list_params(&query) {
                    Ok(params) => params,
                    Err(message) => return HubAnswer::refused(400, message),
                };
                let target = match segments.as_slice() {
                    [_, parent_id, child] => Target::Child { object, parent_id, child },
                    _ => Target::Object(object),
                };
                return match hub.list(&session, target, &params).await {
                    Ok(page) => {
                        let mut headers = Map::new();
                        headers.insert("elements-returned-count".into(), page.records.len().into());
                        if let Some(next) = page.next_page {
                            headers.insert("elements-next-page-token".into(), next.into());
                        }
                        if let Some(total) = page.total {
                            headers.insert("elements-total-count".into(), total.into());
                        }
                        HubAnswer { code: 200, headers, body: Value::Array(page.records) }
                    }
                    Err(error) => error_answer(&error),
                };
            }
            ([object], "POST") => hub.create(&session, Target::Object(object), body()).await,
            ([object, parent_id, child], "POST") => {
                hub.create(&session, Target::Child { object, parent_id, child }, body()).await
            }
            ([object, id], "GET") => hub.get(&session, Target::Object(object), id).await,
            ([object, id], "PATCH" | "PUT") => hub.update(&session, object, id, body()).await,
            ([object, id], "DELETE") => hub.delete(&session, Target::Object(object), id).await.map(|()| Value::Null),
            ([object, parent_id, child, id], "GET") => {
                hub.get(&session, Target::Child { object, parent_id, child }, id).await
            }
            ([object, parent_id, child, id], "DELETE") => {
                hub.delete(&session, Target::Child { object, parent_id, child }, id).await.map(|()| Value::Null)
            }
            (path, "GET" | "POST" | "PATCH" | "PUT" | "DELETE") if path.len() <= 4 => {
                return HubAnswer::refused(405, format!("{method} is not supported on {}", call.api))
            }
            (_, "GET" | "POST" | "PATCH" | "PUT" | "DELETE") => {
                return HubAnswer::refused(404, format!("No hub resource at {}", call.api))
            }
            _ => return HubAnswer::refused(400, format!("'{method}' is not a method a hub call takes")),
        };
        match result {
            Ok(body) => HubAnswer::ok(body),
            Err(error) => error_answer(&error),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hub_paths_are_read_with_or_without_their_hub_and_with_their_query() {
        let (segments, query) = split_api("/hubs/crm/contacts/12/tags?pageSize=5&where=a%3D1");
        assert_eq!(segments, ["contacts", "12", "tags"]);
        assert_eq!(query, [("pageSize".to_owned(), "5".to_owned()), ("where".to_owned(), "a=1".to_owned())]);
        assert_eq!(split_api("contacts/").0, ["contacts"]);
    }

    #[test]
    fn list_parameters_take_scalars_and_refuse_the_rest() {
        let params =
            list_params(&json!({"pageSize": 5, "where": "id='1'", "returnCount": true}).as_object().unwrap().clone())
                .unwrap();
        assert_eq!(params.page_size.as_deref(), Some("5"));
        assert_eq!(params.return_count.as_deref(), Some("true"));
        assert!(list_params(&json!({"where": {"a": 1}}).as_object().unwrap().clone()).unwrap_err().contains("'where'"));
    }
}
