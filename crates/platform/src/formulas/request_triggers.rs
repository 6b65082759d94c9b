//! The `elementRequest` trigger: a formula instance whose trigger names an element instance
//! (`elementInstanceId`), a `method` and an `api` (`/hubs/crm/contacts`, `/contacts/{id}`) runs
//! once for every successful hub API request that matches, with
//! `{"type": "elementRequest", "instanceId", "method", "api", "query", "response": {"code", "body"}}`
//! as its trigger.
//!
//! Every node answers hub requests, so every node keeps its own table of these triggers
//! ([`RequestTriggers`]), read from the store every `trigger_period` by [`refresh`]: a formula
//! instance created or deactivated takes effect within that period. A hub request costs one atomic
//! read while no formula uses the trigger, and one map lookup by instance otherwise. The execution
//! is created after the answer is sent, by the node that answered: a node that dies in between
//! loses that run (the request itself is not repeated), as the platforms' request triggers did.
//!
//! An `api` matches a request path segment by segment after `/hubs/{hub}`: a `{name}` or `*`
//! segment matches any one segment, others match ignoring ASCII case (hub object names do).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};

use formulas::template::TriggerKind;
use serde_json::{json, Map, Value};
use store::{FormulaInstanceRecord, InstanceId, NewExecution, StoreError};

use super::instances::bound_instance_id;
use super::triggers::active_formulas;
use crate::Platform;

/// One formula instance's `elementRequest` trigger.
#[derive(Debug, Clone)]
struct RequestTrigger {
    instance: FormulaInstanceRecord,
    template: Value,
    method: String,
    api: Vec<String>,
}

/// This node's table of `elementRequest` triggers, by the element instance they watch.
#[derive(Debug, Default)]
pub struct RequestTriggers {
    any: AtomicBool,
    by_instance: RwLock<Arc<HashMap<InstanceId, Vec<RequestTrigger>>>>,
}

impl RequestTriggers {
    /// Whether any trigger watches any instance (checked before a hub request costs anything).
    pub fn any(&self) -> bool {
        self.any.load(Ordering::Relaxed)
    }

    /// Whether any trigger watches `instance` (the hub's cheap check before it reads an answer).
    pub fn watches(&self, instance: InstanceId) -> bool {
        self.any.load(Ordering::Relaxed) && self.table().contains_key(&instance)
    }

    fn table(&self) -> Arc<HashMap<InstanceId, Vec<RequestTrigger>>> {
        match self.by_instance.read() {
            Ok(table) => Arc::clone(&table),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    fn replace(&self, table: HashMap<InstanceId, Vec<RequestTrigger>>) {
        self.any.store(!table.is_empty(), Ordering::Relaxed);
        let table = Arc::new(table);
        match self.by_instance.write() {
            Ok(mut slot) => *slot = table,
            Err(poisoned) => *poisoned.into_inner() = table,
        }
    }
}

/// The segments of a hub path after `/hubs/{hub}` (and without a query).
fn segments(api: &str) -> Vec<String> {
    let path = api.split('?').next().unwrap_or_default();
    let mut parts: Vec<String> = path.split('/').filter(|part| !part.is_empty()).map(str::to_owned).collect();
    if parts.first().is_some_and(|first| first == "hubs") && parts.len() >= 2 {
        parts.drain(..2);
    }
    parts
}

fn matches(pattern: &[String], path: &[String]) -> bool {
    pattern.len() == path.len()
        && pattern.iter().zip(path).all(|(want, got)| {
            want == "*" || (want.starts_with('{') && want.ends_with('}')) || want.eq_ignore_ascii_case(got)
        })
}

/// Reads every active formula instance's `elementRequest` triggers into this node's table.
pub async fn refresh(platform: &Platform) -> Result<(), StoreError> {
    let mut table: HashMap<InstanceId, Vec<RequestTrigger>> = HashMap::new();
    for (instance, template, formula) in active_formulas(platform).await? {
        for trigger in formula.triggers().iter().filter(|t| t.kind == TriggerKind::ElementRequest) {
            let properties = trigger.properties();
            let watched = properties
                .get("elementInstanceId")
                .and_then(Value::as_str)
                .and_then(|named| formula.slot_named_by(named))
                .and_then(|slot| instance.configuration.get(&slot.key))
                .and_then(bound_instance_id);
            let (Some(watched), Some(method), Some(api)) = (
                watched,
                properties.get("method").and_then(Value::as_str),
                properties.get("api").and_then(Value::as_str),
            ) else {
                continue;
            };
            table.entry(InstanceId::new(watched)).or_default().push(RequestTrigger {
                instance: instance.clone(),
                template: template.clone(),
                method: method.to_ascii_uppercase(),
                api: segments(api),
            });
        }
    }
    platform.request_triggers.replace(table);
    Ok(())
}

/// A hub request that succeeded: what the triggers watching it are given.
#[derive(Debug, Clone)]
pub struct HubRequest {
    pub instance: InstanceId,
    pub method: String,
    /// The path as requested (`/hubs/crm/contacts/12`).
    pub path: String,
    pub query: Map<String, Value>,
    pub code: u16,
    pub body: Value,
}

impl Platform {
    /// Creates an execution for each trigger `request` matches.
    pub async fn fire_request_triggers(&self, request: HubRequest) {
        let table = self.request_triggers.table();
        let Some(triggers) = table.get(&request.instance) else { return };
        let path = segments(&request.path);
        for trigger in triggers {
            if trigger.method != request.method.to_ascii_uppercase() || !matches(&trigger.api, &path) {
                continue;
            }
            let context = json!({
                "type": "elementRequest",
                "instanceId": request.instance.get(),
                "method": request.method,
                "api": request.path,
                "query": request.query,
                "response": {"code": request.code, "body": request.body},
            });
            let new = NewExecution {
                organization_id: trigger.instance.organization_id,
                formula_instance_id: trigger.instance.id,
                formula_id: trigger.instance.formula_id,
                trigger: context,
                template: trigger.template.clone(),
                config: trigger.instance.configuration.clone(),
                dedupe_key: None,
            };
            match self.store.create_execution(&new).await {
                Ok(_) | Err(StoreError::NotFound) => {}
                Err(error) => {
                    tracing::warn!(formula_instance = trigger.instance.id, %error, "an elementRequest trigger's run was not created")
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_api_matches_by_segment_with_placeholders_and_without_its_hub() {
        let pattern = segments("/hubs/crm/contacts/{id}");
        assert!(matches(&pattern, &segments("/hubs/crm/contacts/12")));
        assert!(matches(&pattern, &segments("/hubs/crm/Contacts/12?x=1")));
        assert!(!matches(&pattern, &segments("/hubs/crm/contacts")));
        assert!(!matches(&pattern, &segments("/hubs/crm/contacts/12/tags")));
        assert!(matches(&segments("/contacts"), &segments("/hubs/crm/contacts")));
        assert!(matches(&segments("/orders/*/items"), &segments("/hubs/erp/orders/3/items")));
        assert!(!matches(&segments("/contacts"), &segments("/hubs/crm/companies")));
    }
}
