//! Helpers for the hub object tests: an ERP instance, hub calls answered as JSON, and vendor reads.

use reqwest::Method;
use serde_json::{json, Value};

use crate::common::{Stack, CALLBACK, CLIENT_ID, CLIENT_SECRET, ENCRYPTED_KEY};

/// One instance of the stack: its id and hub token.
pub struct Instance {
    pub id: i64,
    pub token: String,
}

impl Instance {
    fn from_json(instance: &Value) -> Instance {
        Instance {
            id: instance["id"].as_i64().expect("an instance id"),
            token: instance["token"].as_str().expect("an instance token").to_string(),
        }
    }
}

/// A hub answer: status, the instance id header, and the body as JSON (`Null` when empty).
pub struct Answer {
    pub status: u16,
    pub instance_header: Option<String>,
    pub body: Value,
}

pub async fn crm(stack: &Stack) -> Instance {
    Instance::from_json(&stack.create_instance().await)
}

/// An instance of the ERP element, created from the ERP seed's body.
pub async fn erp(stack: &Stack) -> Instance {
    let code = stack.consent(CALLBACK).await;
    let body = json!({
        "element": {"key": "infusionsofterp"},
        "configuration": {
            "oauth.api.secret": CLIENT_SECRET,
            "infusionsoft.private.key": ENCRYPTED_KEY,
            "oauth.callback.url": CALLBACK,
            "infusionsoft.server": "sandbox.infusionsoft.com",
            "oauth.api.key": CLIENT_ID
        },
        "name": "ERP instance",
        "providerData": {"code": code}
    });
    let answer = stack
        .http
        .post(stack.api("/elements/infusionsofterp/instances"))
        .header("authorization", stack.platform_auth())
        .json(&body)
        .send()
        .await
        .expect("POST instance");
    assert_eq!(answer.status(), 200, "ERP instance created");
    Instance::from_json(&answer.json().await.expect("instance JSON"))
}

/// A hub call as JSON.
pub async fn call(stack: &Stack, instance: &Instance, method: Method, path: &str, body: Option<Value>) -> Answer {
    let response = stack.hub(method.clone(), &instance.token, path, body).await;
    answer(response).await
}

pub async fn answer(response: reqwest::Response) -> Answer {
    let status = response.status().as_u16();
    let instance_header =
        response.headers().get("elements-element-instance-id").and_then(|v| v.to_str().ok()).map(str::to_string);
    let text = response.text().await.expect("a body");
    let body =
        if text.trim().is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap_or(Value::String(text)) };
    Answer { status, instance_header, body }
}

/// A hub call that must answer `status`; returns the body.
pub async fn expect(
    stack: &Stack,
    instance: &Instance,
    method: Method,
    path: &str,
    body: Option<Value>,
    status: u16,
) -> Value {
    let answer = call(stack, instance, method.clone(), path, body).await;
    assert_eq!(answer.status, status, "{method} {path}: {}", answer.body);
    assert_eq!(answer.instance_header, Some(instance.id.to_string()), "{method} {path}: instance header");
    answer.body
}

/// What the vendor holds at `path` (`v2/contacts/12`), and its status.
pub async fn vendor(stack: &Stack, instance: &Instance, path: &str) -> (u16, Value) {
    let response = stack.vendor_get(instance.id, path).await;
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// The vendor record at `path`, which must exist.
pub async fn vendor_record(stack: &Stack, instance: &Instance, path: &str) -> Value {
    let (status, body) = vendor(stack, instance, path).await;
    assert_eq!(status, 200, "vendor GET {path}: {body}");
    body
}

/// A record's `Id` as the number the hub must give.
pub fn id_of(record: &Value) -> u64 {
    record["Id"].as_u64().unwrap_or_else(|| panic!("a numeric Id in {record}"))
}

/// Whether `text` is an ISO 8601 UTC date-time.
pub fn is_utc(text: &Value) -> bool {
    text.as_str()
        .is_some_and(|text| chrono::DateTime::parse_from_rfc3339(text).is_ok_and(|t| t.offset().local_minus_utc() == 0))
}
