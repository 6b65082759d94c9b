//! Formula instances: a template's configuration slots bound to the organization's element
//! instances and to values (`POST /formulas/{id}/instances`), listed, read, deleted, activated and
//! deactivated. Only an active formula instance of an active template is triggered.
//!
//! Binding rules, each refusal a 400 naming the slot: every key of `configuration` is a slot of the
//! template; every required slot is bound; an `elementInstance` slot holds the id of an instance
//! of the caller's organization (another organization's instance does not exist for the caller);
//! a `value` slot holds a string, number or boolean.

use formulas::template::{Formula, SlotKind};
use serde_json::{json, Map, Value};
use store::{FormulaInstanceRecord, FormulaRecord, InstanceId, NewFormulaInstance, OrganizationId, StoreError};

use super::{date, not_found, path_id, FormulaError};
use crate::Platform;

/// The largest `settings` object kept, in bytes of JSON.
const MAX_SETTINGS_BYTES: usize = 64 * 1024;
/// The longest formula instance name, in bytes.
const MAX_NAME_BYTES: usize = 200;

/// The formula instance as the API answers it (the platforms' shape).
pub fn view(instance: &FormulaInstanceRecord, formula: Option<&FormulaRecord>) -> Value {
    let mut fields = Map::new();
    fields.insert("id".into(), instance.id.into());
    fields.insert("name".into(), instance.name.clone().into());
    fields.insert("active".into(), instance.active.into());
    fields.insert("createdDate".into(), date(instance.created_at));
    fields.insert("updatedDate".into(), date(instance.updated_at));
    let formula = match formula {
        Some(formula) => json!({"id": formula.id, "name": formula.name,
            "active": formula.template.get("active").and_then(Value::as_bool).unwrap_or(true)}),
        None => json!({"id": instance.formula_id}),
    };
    fields.insert("formula".into(), formula);
    fields.insert("configuration".into(), instance.configuration.clone());
    fields.insert("settings".into(), instance.settings.clone());
    Value::Object(fields)
}

/// The element instance id an `elementInstance` slot's value names, if it is one (a number or a
/// string of digits).
pub fn bound_instance_id(value: &Value) -> Option<i64> {
    match value {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
    .filter(|id| *id > 0)
}

/// A create body, read and checked against the template (the instance bindings are checked
/// against the store by the caller).
struct Binding {
    name: String,
    active: bool,
    configuration: Map<String, Value>,
    settings: Value,
    /// The element instance ids bound, by slot key.
    instances: Vec<(String, i64)>,
}

fn read_binding(formula: &Formula, body: Value) -> Result<Binding, FormulaError> {
    let bad = |message: String| FormulaError::BadRequest(message);
    let Value::Object(mut body) = body else {
        return Err(bad("The formula instance must be a JSON object".into()));
    };
    let name = match body.remove("name") {
        Some(Value::String(name)) if !name.trim().is_empty() => name,
        Some(Value::String(_)) | None => return Err(bad("'name' is required: a name for the formula instance".into())),
        Some(_) => return Err(bad("'name' must be a string".into())),
    };
    if name.len() > MAX_NAME_BYTES || name.chars().any(char::is_control) {
        return Err(bad(format!("'name' must be at most {MAX_NAME_BYTES} bytes, without control characters")));
    }
    let active = match body.remove("active") {
        None | Some(Value::Null) => true,
        Some(Value::Bool(active)) => active,
        Some(_) => return Err(bad("'active' must be true or false".into())),
    };
    let configuration = match body.remove("configuration") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(configuration)) => configuration,
        Some(_) => return Err(bad("'configuration' must be an object of slot key to value".into())),
    };
    let settings = match body.remove("settings") {
        None | Some(Value::Null) => json!({}),
        Some(settings @ Value::Object(_)) => settings,
        Some(_) => return Err(bad("'settings' must be an object".into())),
    };
    if settings.to_string().len() > MAX_SETTINGS_BYTES {
        return Err(bad(format!("'settings' may be at most {MAX_SETTINGS_BYTES} bytes of JSON")));
    }
    let mut instances = Vec::new();
    for (key, value) in &configuration {
        let Some(slot) = formula.slot(key) else {
            let keys: Vec<&str> = formula.slots().iter().map(|slot| slot.key.as_str()).collect();
            return Err(bad(format!(
                "configuration.{key}: the formula has no such slot (its slots: {})",
                if keys.is_empty() { "none".to_owned() } else { keys.join(", ") }
            )));
        };
        match slot.kind {
            SlotKind::ElementInstance => {
                let id = bound_instance_id(value).ok_or_else(|| {
                    bad(format!("configuration.{key}: an elementInstance slot takes an instance id, not {value}"))
                })?;
                instances.push((key.clone(), id));
            }
            SlotKind::Value => {
                if !(value.is_string() || value.is_number() || value.is_boolean()) {
                    return Err(bad(format!("configuration.{key}: a value slot takes a string, number or boolean")));
                }
            }
        }
    }
    for slot in formula.slots() {
        if slot.is_required() && !configuration.contains_key(&slot.key) {
            return Err(bad(format!(
                "configuration.{}: the slot is required (type {})",
                slot.key,
                match slot.kind {
                    SlotKind::ElementInstance => "elementInstance: an instance id",
                    SlotKind::Value => "value",
                }
            )));
        }
    }
    Ok(Binding { name, active, configuration, settings, instances })
}

impl Platform {
    /// Creates a formula instance of template `formula_id` from `body`.
    pub async fn create_formula_instance(
        &self,
        organization: OrganizationId,
        formula_id: &str,
        body: Value,
    ) -> Result<(FormulaInstanceRecord, FormulaRecord), FormulaError> {
        let formula_record = self.formula(organization, formula_id).await?;
        let formula = Formula::from_value(formula_record.template.clone())?;
        let binding = read_binding(&formula, body)?;
        for (key, id) in &binding.instances {
            match self.store.get_instance(organization, InstanceId::new(*id)).await {
                Ok(_) => {}
                Err(StoreError::NotFound) => {
                    return Err(FormulaError::BadRequest(format!(
                        "configuration.{key}: no instance {id} in this organization"
                    )))
                }
                Err(error) => return Err(FormulaError::Store(error)),
            }
        }
        let new = NewFormulaInstance {
            organization_id: organization,
            formula_id: formula_record.id,
            name: binding.name,
            active: binding.active,
            configuration: Value::Object(binding.configuration),
            settings: binding.settings,
        };
        let created = self.store.create_formula_instance(&new).await.map_err(|error| match error {
            // The template was deleted meanwhile.
            StoreError::NotFound => not_found("formula", formula_id),
            other => FormulaError::Store(other),
        })?;
        Ok((created, formula_record))
    }

    /// The organization's formula instance `id` (the path's text), with its template when
    /// `formula_id` is given (and must be the instance's).
    pub async fn formula_instance(
        &self,
        organization: OrganizationId,
        formula_id: Option<&str>,
        id: &str,
    ) -> Result<FormulaInstanceRecord, FormulaError> {
        let numeric = path_id("formula instance", id)?;
        let instance = self
            .store
            .formula_instance(organization, numeric)
            .await
            .map_err(FormulaError::Store)?
            .ok_or_else(|| not_found("formula instance", id))?;
        if let Some(formula_id) = formula_id {
            if path_id("formula", formula_id)? != instance.formula_id {
                return Err(not_found("formula instance", id));
            }
        }
        Ok(instance)
    }

    /// The formula instances of template `formula_id`.
    pub async fn formula_instances(
        &self,
        organization: OrganizationId,
        formula_id: &str,
    ) -> Result<(Vec<FormulaInstanceRecord>, FormulaRecord), FormulaError> {
        let formula = self.formula(organization, formula_id).await?;
        let instances =
            self.store.list_formula_instances(organization, Some(formula.id)).await.map_err(FormulaError::Store)?;
        Ok((instances, formula))
    }

    /// Activates or deactivates formula instance `id` of template `formula_id`.
    pub async fn set_formula_instance_active(
        &self,
        organization: OrganizationId,
        formula_id: &str,
        id: &str,
        active: bool,
    ) -> Result<FormulaInstanceRecord, FormulaError> {
        let instance = self.formula_instance(organization, Some(formula_id), id).await?;
        self.store
            .set_formula_instance_active(organization, instance.id, active)
            .await
            .map_err(FormulaError::Store)?
            .ok_or_else(|| not_found("formula instance", id))
    }

    /// Deletes formula instance `id` of template `formula_id`, with its executions.
    pub async fn delete_formula_instance(
        &self,
        organization: OrganizationId,
        formula_id: &str,
        id: &str,
    ) -> Result<(), FormulaError> {
        let instance = self.formula_instance(organization, Some(formula_id), id).await?;
        match self.store.delete_formula_instance(organization, instance.id).await {
            Ok(true) => Ok(()),
            Ok(false) => Err(not_found("formula instance", id)),
            Err(error) => Err(FormulaError::Store(error)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn formula() -> Formula {
        Formula::from_value(json!({
            "name": "f",
            "configuration": [
                {"key": "crm", "type": "elementInstance"},
                {"key": "tag", "type": "value"},
                {"key": "max.count", "type": "value", "required": false}
            ]
        }))
        .unwrap()
    }

    fn refusal(body: Value) -> String {
        match read_binding(&formula(), body) {
            Err(FormulaError::BadRequest(message)) => message,
            other => panic!("expected a 400, got {:?}", other.map(|b| b.name)),
        }
    }

    #[test]
    fn every_slot_rule_is_a_refusal_naming_the_slot() {
        assert!(refusal(json!({"configuration": {"crm": 1, "tag": "t"}})).contains("'name'"));
        assert!(refusal(json!({"name": "x", "configuration": {"tag": "t"}})).contains("configuration.crm"));
        assert!(
            refusal(json!({"name": "x", "configuration": {"crm": "abc", "tag": "t"}})).contains("configuration.crm")
        );
        assert!(refusal(json!({"name": "x", "configuration": {"crm": 1, "tag": {}}})).contains("configuration.tag"));
        assert!(refusal(json!({"name": "x", "configuration": {"crm": 1, "tag": "t", "nope": 1}}))
            .contains("configuration.nope"));
        assert!(refusal(json!({"name": "x", "active": "yes", "configuration": {}})).contains("'active'"));
        assert!(refusal(json!([])).contains("JSON object"));
    }

    #[test]
    fn a_binding_keeps_values_and_names_the_instances_bound() {
        let binding = read_binding(
            &formula(),
            json!({"name": "x", "configuration": {"crm": "12", "tag": 7, "max.count": "5"}, "settings": {"a": 1}}),
        )
        .unwrap();
        assert!(binding.active, "active unless said otherwise");
        assert_eq!(binding.instances, vec![("crm".to_owned(), 12)]);
        assert_eq!(binding.configuration["tag"], json!(7));
        assert_eq!(binding.settings, json!({"a": 1}));
    }
}
