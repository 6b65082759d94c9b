//! What each step type does, given its properties resolved against the execution's context:
//!
//! - `filter`: JavaScript calling `done(true)` (the `onSuccess` branch) or `done(false)`
//!   (`onFailure`); output `{"continue": bool}`;
//! - `script`: JavaScript whose `done(value)` is the output;
//! - `elementRequest`: a hub call as the slot's instance ([`super::hub_request`]); output
//!   `{"request": {...}, "response": {"code", "headers", "body"}}`;
//! - `httpRequest`: a call to any URL through the outbound-address guard; the same output;
//! - `notification`: a JSON POST to `url` through the same guard, signed with the
//!   `event.notification.signature.key` of the instance `elementInstanceId` names, when given;
//! - `loop`: the next item of `list` (`{"index", "entry"}`, `onSuccess`), or, once the list is
//!   done, `{"index": length, "done": true}` and `onFailure`.
//!
//! (`formula` steps run a sub-formula and are walked by [`super::runner`].) A request step fails
//! when its answer's status is not in `acceptableStatusCodes` (2xx by default), after the retries
//! its `retry`, `retryAttempts`, `retryDelay` and `retryStatusCodes` allow.

use std::time::Duration;

use connector::reqwest::Method;
use formulas::script::{Sandbox, ScriptContext};
use formulas::template::{Step, StepKind};
use serde_json::{json, Map, Value};
use store::{ExecutionRecord, InstanceId, StoreError};

use super::hub_request::HubCall;
use super::instances::bound_instance_id;
use crate::callback::{check_url, Delivery, OutboundRequest};
use crate::events::delivery::SIGNATURE_KEY;
use crate::Platform;

/// The most retries a step may ask for.
const MAX_RETRY_ATTEMPTS: u64 = 10;
/// The longest delay between retries a step may ask for.
const MAX_RETRY_DELAY: Duration = Duration::from_secs(60);
/// The most bytes of an `httpRequest` answer kept.
const MAX_HTTP_BODY: usize = 1024 * 1024;
/// Header names whose values are masked in a step's recorded input.
const SECRET_HEADER_WORDS: [&str; 6] = ["authorization", "cookie", "secret", "token", "key", "password"];

/// Which branch follows a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Branch {
    OnSuccess,
    OnFailure,
}

impl Branch {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::OnSuccess => "onSuccess",
            Self::OnFailure => "onFailure",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "onSuccess" => Some(Self::OnSuccess),
            "onFailure" => Some(Self::OnFailure),
            _ => None,
        }
    }
}

/// How a step run ended.
#[derive(Debug, Clone, PartialEq)]
pub struct StepEnd {
    /// `steps.<name>` for the steps after it.
    pub output: Value,
    pub branch: Branch,
    /// Why it failed; `None` when it succeeded (a filter's `done(false)` and a finished loop
    /// succeed, and take `onFailure`).
    pub error: Option<String>,
    pub attempts: i64,
}

impl StepEnd {
    fn success(output: Value, branch: Branch) -> Self {
        StepEnd { output, branch, error: None, attempts: 1 }
    }

    pub(crate) fn failure(output: Value, error: impl Into<String>) -> Self {
        StepEnd { output, branch: Branch::OnFailure, error: Some(error.into()), attempts: 1 }
    }
}

/// What a step is given: its properties resolved (except a script's `body`, which is JavaScript).
pub fn resolve_input(step: &Step, context: &Value) -> Result<Value, String> {
    let mut input = Map::new();
    for (key, value) in step.properties() {
        let resolved = if step.kind.is_script() && key == "body" {
            value.clone()
        } else {
            formulas::template::resolve_value(value, context).map_err(|error| format!("properties.{key}: {error}"))?
        };
        input.insert(key.clone(), resolved);
    }
    Ok(Value::Object(input))
}

/// Whether running the step again could repeat an effect outside Junction: a request that is not a
/// read, and every notification.
pub fn has_side_effect(step: &Step, input: &Value) -> bool {
    let method = input.get("method").and_then(Value::as_str).unwrap_or("GET");
    match step.kind {
        StepKind::ElementRequest | StepKind::HttpRequest => {
            !matches!(method.to_ascii_uppercase().as_str(), "GET" | "HEAD")
        }
        StepKind::Notification => true,
        _ => false,
    }
}

/// The input as recorded: header values that look secret masked.
pub fn recorded_input(input: &Value) -> Value {
    let mut recorded = input.clone();
    if let Some(Value::Object(headers)) = recorded.get_mut("headers") {
        for (name, value) in headers.iter_mut() {
            let lower = name.to_ascii_lowercase();
            if SECRET_HEADER_WORDS.iter().any(|word| lower.contains(word)) {
                *value = Value::String("********".into());
            }
        }
    }
    recorded
}

/// Runs `step` of `execution` with `input` (from [`resolve_input`]) in `context`.
pub async fn run(
    platform: &Platform,
    execution: &ExecutionRecord,
    step: &Step,
    input: &Value,
    context: &Value,
    seq: i64,
) -> StepEnd {
    match step.kind {
        StepKind::Filter | StepKind::Script => run_script(platform, step, input, context).await,
        StepKind::Loop => run_loop(step, input, context),
        StepKind::ElementRequest | StepKind::HttpRequest => with_retries(platform, execution, step, input).await,
        StepKind::Notification => notify(platform, execution, input, seq).await,
        // Walked by the runner; the loader refuses the rest.
        StepKind::Formula | StepKind::Unsupported(_) | StepKind::Unknown(_) => {
            StepEnd::failure(Value::Null, format!("step type '{}' is not run here", step.kind.as_str()))
        }
    }
}

async fn run_script(platform: &Platform, step: &Step, input: &Value, context: &Value) -> StepEnd {
    let body = input.get("body").and_then(Value::as_str).unwrap_or_default().to_owned();
    let field = |name: &str| context.get(name).cloned().unwrap_or_else(|| json!({}));
    let script_context = ScriptContext {
        trigger: field("trigger"),
        steps: field("steps"),
        config: field("config"),
        info: field("info"),
    };
    let run = Sandbox::new(platform.formulas.script_limits).run_async(body, script_context).await;
    if !run.logs.is_empty() {
        tracing::debug!(step = step.name, lines = run.logs.len(), "script console output");
    }
    if step.kind == StepKind::Filter {
        return match run.filter_result() {
            Ok(true) => StepEnd::success(json!({"continue": true}), Branch::OnSuccess),
            Ok(false) => StepEnd::success(json!({"continue": false}), Branch::OnFailure),
            Err(error) => StepEnd::failure(Value::Null, error.to_string()),
        };
    }
    match run.result {
        Ok(value) => StepEnd::success(value, Branch::OnSuccess),
        Err(error) => StepEnd::failure(Value::Null, error.to_string()),
    }
}

fn run_loop(step: &Step, input: &Value, context: &Value) -> StepEnd {
    let Some(list) = input.get("list").and_then(Value::as_array) else {
        return StepEnd::failure(Value::Null, "properties.list is not an array");
    };
    // The loop's own last output says where it is; a finished loop entered again starts over.
    let previous = context.get("steps").and_then(|steps| steps.get(&step.name));
    let index = match previous {
        Some(output) if output.get("done").is_none() => {
            output.get("index").and_then(Value::as_u64).map_or(0, |i| i + 1)
        }
        _ => 0,
    };
    match usize::try_from(index).ok().and_then(|i| list.get(i)) {
        Some(entry) => StepEnd::success(json!({"index": index, "entry": entry}), Branch::OnSuccess),
        None => StepEnd::success(json!({"index": list.len(), "done": true}), Branch::OnFailure),
    }
}

/// Status codes as the platforms wrote them: `"200,201"`, `"200-299"`, a number, or a list.
pub fn status_codes(value: Option<&Value>, default: &[(u16, u16)]) -> Vec<(u16, u16)> {
    let text = match value {
        None | Some(Value::Null) => return default.to_vec(),
        Some(Value::Array(items)) => {
            items.iter().map(|item| item.to_string().trim_matches('"').to_owned()).collect::<Vec<_>>().join(",")
        }
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    };
    let ranges: Vec<(u16, u16)> = text
        .split(',')
        .filter_map(|part| {
            let part = part.trim();
            match part.split_once('-') {
                Some((low, high)) => Some((low.trim().parse().ok()?, high.trim().parse().ok()?)),
                None => part.parse().ok().map(|code| (code, code)),
            }
        })
        .collect();
    if ranges.is_empty() {
        default.to_vec()
    } else {
        ranges
    }
}

fn in_ranges(code: u16, ranges: &[(u16, u16)]) -> bool {
    ranges.iter().any(|(low, high)| (*low..=*high).contains(&code))
}

/// A property read as a number (`3` or `"3"`).
fn number(input: &Value, key: &str) -> Option<u64> {
    match input.get(key)? {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// A property read as a flag (`true` or `"true"`).
fn flag(input: &Value, key: &str) -> bool {
    matches!(input.get(key), Some(Value::Bool(true))) || input.get(key).and_then(Value::as_str) == Some("true")
}

/// A request step, tried again while its answer is a retryable status and tries are left.
async fn with_retries(platform: &Platform, execution: &ExecutionRecord, step: &Step, input: &Value) -> StepEnd {
    let acceptable = status_codes(input.get("acceptableStatusCodes"), &[(200, 299)]);
    let (tries, delay) = if flag(input, "retry") {
        let attempts = number(input, "retryAttempts").unwrap_or(3).min(MAX_RETRY_ATTEMPTS);
        let delay = Duration::from_millis(number(input, "retryDelay").unwrap_or(1000)).min(MAX_RETRY_DELAY);
        (1 + attempts, delay)
    } else {
        (1, Duration::ZERO)
    };
    let retryable = status_codes(input.get("retryStatusCodes"), &[(429, 429), (500, 599)]);
    let mut attempt = 0;
    loop {
        attempt += 1;
        let answer = match step.kind {
            StepKind::ElementRequest => element_request(platform, execution, input).await,
            _ => http_request(platform, input).await,
        };
        let (output, code) = match answer {
            Ok(answer) => answer,
            Err(error) => {
                let mut end = StepEnd::failure(json!({"request": input}), error);
                end.attempts = attempt as i64;
                return end;
            }
        };
        if in_ranges(code, &acceptable) {
            return StepEnd { output, branch: Branch::OnSuccess, error: None, attempts: attempt as i64 };
        }
        if attempt < tries && in_ranges(code, &retryable) {
            tokio::time::sleep(delay).await;
            continue;
        }
        let error = format!("the answer's status {code} is not an acceptable status code");
        return StepEnd { output, branch: Branch::OnFailure, error: Some(error), attempts: attempt as i64 };
    }
}

/// A property that must be a string.
fn text<'a>(input: &'a Value, key: &str) -> Result<&'a str, String> {
    input.get(key).and_then(Value::as_str).ok_or_else(|| format!("properties.{key} must be a string"))
}

/// A property that must be an object, if present.
fn object(input: &Value, key: &str) -> Result<Map<String, Value>, String> {
    match input.get(key) {
        None | Some(Value::Null) => Ok(Map::new()),
        Some(Value::Object(map)) => Ok(map.clone()),
        Some(_) => Err(format!("properties.{key} must be an object")),
    }
}

/// The organization's element instance a step's `elementInstanceId` names.
async fn step_instance(
    platform: &Platform,
    execution: &ExecutionRecord,
    input: &Value,
) -> Result<store::InstanceRecord, String> {
    let value = input.get("elementInstanceId").cloned().unwrap_or(Value::Null);
    let id = bound_instance_id(&value).ok_or_else(|| format!("elementInstanceId {value} is not an instance id"))?;
    match platform.store.get_instance(execution.organization_id, InstanceId::new(id)).await {
        Ok(instance) => Ok(instance),
        Err(StoreError::NotFound) => Err(format!("no instance {id} in this organization")),
        Err(error) => Err(format!("the instance could not be read: {error}")),
    }
}

async fn element_request(
    platform: &Platform,
    execution: &ExecutionRecord,
    input: &Value,
) -> Result<(Value, u16), String> {
    let instance = step_instance(platform, execution, input).await?;
    let mut api = text(input, "api")?.to_owned();
    // `path`: the platforms' path variables, `{name}` in the api.
    for (name, value) in object(input, "path")? {
        let value = value.as_str().map_or_else(|| value.to_string(), str::to_owned);
        api = api.replace(&format!("{{{name}}}"), &value);
    }
    let call = HubCall {
        method: text(input, "method")?.to_owned(),
        api,
        query: object(input, "query")?,
        body: input.get("body").cloned().filter(|body| !body.is_null()),
    };
    let request = json!({"method": call.method, "api": call.api, "query": call.query, "body": call.body});
    let answer = platform.formula_hub_call(&instance, call).await;
    let output = json!({"request": request,
        "response": {"code": answer.code, "headers": answer.headers, "body": answer.body}});
    Ok((output, answer.code))
}

async fn http_request(platform: &Platform, input: &Value) -> Result<(Value, u16), String> {
    let mut url =
        check_url(text(input, "url")?, &platform.events.callbacks.policy()).map_err(|error| error.to_string())?;
    for (key, value) in object(input, "query")? {
        let value = value.as_str().map_or_else(|| value.to_string(), str::to_owned);
        url.query_pairs_mut().append_pair(&key, &value);
    }
    let method = input.get("method").and_then(Value::as_str).unwrap_or("GET").to_ascii_uppercase();
    let method =
        Method::from_bytes(method.as_bytes()).map_err(|_| format!("properties.method '{method}' is not a method"))?;
    let headers: Vec<(String, String)> = object(input, "headers")?
        .into_iter()
        .map(|(name, value)| (name, value.as_str().map_or_else(|| value.to_string(), str::to_owned)))
        .collect();
    let body = input.get("body").filter(|body| !body.is_null()).map(|body| body.to_string().into_bytes());
    let request = OutboundRequest { method, url: &url, headers: &headers, body };
    let answer = platform.events.callbacks.call(request, MAX_HTTP_BODY).await.map_err(|error| error.to_string())?;
    let body = serde_json::from_slice(&answer.body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&answer.body).into_owned()));
    let headers: Map<String, Value> = answer.headers.into_iter().map(|(k, v)| (k, Value::String(v))).collect();
    let output = json!({"request": recorded_input(input),
        "response": {"code": answer.status, "headers": headers, "body": body, "truncated": answer.truncated}});
    Ok((output, answer.status))
}

async fn notify(platform: &Platform, execution: &ExecutionRecord, input: &Value, seq: i64) -> StepEnd {
    let url = match text(input, "url")
        .and_then(|url| check_url(url, &platform.events.callbacks.policy()).map_err(|error| error.to_string()))
    {
        Ok(url) => url,
        Err(error) => return StepEnd::failure(Value::Null, error),
    };
    let key = if input.get("elementInstanceId").is_some() {
        match step_instance(platform, execution, input).await {
            Ok(instance) => instance.secrets.get(SIGNATURE_KEY).map(|key| key.expose().as_bytes().to_vec()),
            Err(error) => return StepEnd::failure(Value::Null, error),
        }
    } else {
        None
    };
    let body = input.get("body").cloned().unwrap_or_else(|| {
        json!({"formulaId": execution.formula_id, "formulaInstanceId": execution.formula_instance_id,
            "formulaExecutionId": execution.id})
    });
    let bytes = body.to_string().into_bytes();
    // The same id on a retry of the same step of the same execution: receivers can drop repeats.
    let webhook_id = format!("{}-{seq}", execution.id);
    let delivery = Delivery { webhook_id: &webhook_id, signature_key: key.as_deref() };
    match platform.events.callbacks.post_json(&url, &bytes, &delivery).await {
        Ok(outcome) => {
            let code = outcome.status().as_u16();
            let output = json!({"response": {"code": code}, "webhookId": webhook_id});
            if outcome.is_delivered() {
                StepEnd::success(output, Branch::OnSuccess)
            } else {
                StepEnd::failure(output, outcome.to_string())
            }
        }
        Err(error) => StepEnd::failure(Value::Null, error.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(kind: &str, properties: Value) -> Step {
        serde_json::from_value(json!({"name": "s", "type": kind, "properties": properties})).unwrap()
    }

    #[test]
    fn status_codes_read_lists_ranges_and_numbers() {
        assert_eq!(status_codes(Some(&json!("200,201")), &[]), [(200, 200), (201, 201)]);
        assert_eq!(status_codes(Some(&json!("200-299, 404")), &[]), [(200, 299), (404, 404)]);
        assert_eq!(status_codes(Some(&json!(204)), &[]), [(204, 204)]);
        assert_eq!(status_codes(Some(&json!(["429", 503])), &[]), [(429, 429), (503, 503)]);
        assert_eq!(status_codes(None, &[(200, 299)]), [(200, 299)]);
        assert_eq!(status_codes(Some(&json!("nonsense")), &[(200, 299)]), [(200, 299)]);
    }

    #[test]
    fn a_loop_walks_its_list_then_takes_on_failure_and_starts_over_when_entered_again() {
        let looped = step("loop", json!({"list": "${trigger.items}"}));
        let input = json!({"list": ["a", "b"]});
        let mut context = json!({"steps": {}});
        let mut seen = Vec::new();
        loop {
            let end = run_loop(&looped, &input, &context);
            context["steps"]["s"] = end.output.clone();
            if end.branch == Branch::OnFailure {
                assert_eq!(end.output, json!({"index": 2, "done": true}));
                break;
            }
            seen.push(end.output["entry"].clone());
        }
        assert_eq!(seen, [json!("a"), json!("b")]);
        assert_eq!(run_loop(&looped, &input, &context).output, json!({"index": 0, "entry": "a"}));
        let end = run_loop(&looped, &json!({"list": "x"}), &context);
        assert!(end.error.unwrap().contains("list"));
    }

    #[test]
    fn requests_that_write_and_notifications_have_side_effects_reads_do_not() {
        assert!(!has_side_effect(&step("elementRequest", json!({})), &json!({"method": "get"})));
        assert!(has_side_effect(&step("elementRequest", json!({})), &json!({"method": "POST"})));
        assert!(has_side_effect(&step("httpRequest", json!({})), &json!({"method": "DELETE"})));
        assert!(!has_side_effect(&step("httpRequest", json!({})), &json!({})), "GET by default");
        assert!(has_side_effect(&step("notification", json!({})), &json!({})));
        assert!(!has_side_effect(&step("script", json!({})), &json!({"method": "POST"})));
    }

    #[test]
    fn secret_looking_headers_are_masked_in_the_record_only() {
        let input = json!({"headers": {"Authorization": "Bearer abc", "X-Api-Key": "k", "Accept": "json"}});
        let recorded = recorded_input(&input);
        assert_eq!(
            recorded["headers"],
            json!({"Authorization": "********", "X-Api-Key": "********", "Accept": "json"})
        );
        assert_eq!(input["headers"]["Authorization"], "Bearer abc");
    }

    #[test]
    fn a_scripts_body_is_not_resolved_and_other_properties_are() {
        let script = step("script", json!({"body": "done('${config.x}')"}));
        let context = json!({"config": {"x": 1}});
        assert_eq!(resolve_input(&script, &context).unwrap(), json!({"body": "done('${config.x}')"}));
        let request = step("elementRequest", json!({"api": "/contacts/${config.x}", "query": {"n": "${config.x}"}}));
        assert_eq!(resolve_input(&request, &context).unwrap(), json!({"api": "/contacts/1", "query": {"n": 1}}));
        let missing = step("elementRequest", json!({"api": "${config.nope}"}));
        assert!(resolve_input(&missing, &context).unwrap_err().contains("properties.api"));
    }
}
