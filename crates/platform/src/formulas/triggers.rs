//! The trigger job ([`FormulaTriggers`], one node at a time): for each active formula instance of
//! an active template, turns
//!
//! - each change of each new event of the instance an `event` trigger names into one execution
//!   (the platforms: "one execution per changed object"), with the trigger context
//!   `{"type": "event", "eventId", "instanceId", "event": {...}, "body": {"message": {...}}}`;
//! - each `scheduled` trigger's next cron time, once passed, into one execution
//!   (`{"type": "scheduled", "scheduledTime", "cron"}`). Times missed while no node ran give one
//!   run, not one per missed time.
//!
//! Each execution has a cause key (`event:<eventId>:<change>`, `scheduled:<trigger>:<time>`), so a
//! pass repeated after a crash, or by another node, creates nothing twice; the formula instance's
//! cursors move after its executions are created. Events are read from the instance's event log,
//! so an `event` trigger needs the instance's events enabled (`event.notification.enabled`);
//! events recorded before the formula instance was created do not trigger it.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use formulas::template::{Formula, Schedule, TriggerKind};
use serde_json::{json, Value};
use store::{EventQuery, FormulaInstanceRecord, InstanceId, NewExecution, StoreError};

use super::instances::bound_instance_id;
use crate::events::delivery::message_body;
use crate::jobs::PeriodicJob;
use crate::{Platform, PlatformError};

/// Formula instances read per page of a pass.
const INSTANCES_PER_PAGE: u32 = 200;
/// Events of one instance read per pass.
const EVENTS_PER_PASS: u32 = 100;

/// The periodic job that turns events and schedules into executions.
pub struct FormulaTriggers;

#[async_trait]
impl PeriodicJob for FormulaTriggers {
    fn name(&self) -> &'static str {
        "formula-triggers"
    }

    async fn run_once(&self, platform: &Platform) -> Result<bool, PlatformError> {
        fire_due(platform, Utc::now()).await.map_err(PlatformError::Store)
    }
}

/// One pass at time `now`: creates the executions due; true when events were left for the next.
pub async fn fire_due(platform: &Platform, now: DateTime<Utc>) -> Result<bool, StoreError> {
    let mut more = false;
    for (instance, template, formula) in active_formulas(platform).await? {
        more |= fire_instance(platform, &instance, &template, &formula, now).await?;
    }
    Ok(more)
}

/// Every active formula instance of an active template that loads, with the template's JSON and
/// model (read a page at a time).
pub(crate) async fn active_formulas(
    platform: &Platform,
) -> Result<Vec<(FormulaInstanceRecord, Value, Formula)>, StoreError> {
    let mut active = Vec::new();
    let mut after = 0;
    loop {
        let page = platform.store.active_formula_instances(after, INSTANCES_PER_PAGE).await?;
        let Some((last, _)) = page.last() else { break };
        after = last.id;
        let full = page.len() == INSTANCES_PER_PAGE as usize;
        for (instance, template) in page {
            let Ok(formula) = Formula::from_value(template.clone()) else { continue };
            if formula.active != Some(false) {
                active.push((instance, template, formula));
            }
        }
        if !full {
            break;
        }
    }
    Ok(active)
}

async fn fire_instance(
    platform: &Platform,
    instance: &FormulaInstanceRecord,
    template: &Value,
    formula: &Formula,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    // The last event read from each event trigger's instance, and whether more were left there.
    let mut read: Vec<(i64, bool)> = Vec::new();
    let mut schedule_cursor = None;
    for (index, trigger) in formula.triggers().iter().enumerate() {
        match trigger.kind {
            TriggerKind::Event => {
                let Some(element_instance) =
                    event_source(formula, instance, trigger.properties().get("elementInstanceId"))
                else {
                    continue;
                };
                if let (Some(last), left) = fire_events(platform, instance, template, element_instance).await? {
                    read.push((last, left));
                }
            }
            TriggerKind::Scheduled => {
                let cron = trigger.properties().get("cron").and_then(Value::as_str).unwrap_or_default();
                let Ok(schedule) = Schedule::parse(cron) else { continue };
                let Some(time) = schedule.next_after(&instance.schedule_cursor).filter(|time| *time <= now) else {
                    continue;
                };
                let trigger = json!({"type": "scheduled", "scheduledTime": time.to_rfc3339(), "cron": cron});
                let cause = format!("scheduled:{index}:{}", time.timestamp());
                create(platform, instance, template, trigger, cause).await?;
                schedule_cursor = Some(now);
            }
            TriggerKind::Manual | TriggerKind::ElementRequest | TriggerKind::Unknown(_) => {}
        }
    }
    let (event_cursor, more) = next_event_cursor(&read);
    if event_cursor.is_some() || schedule_cursor.is_some() {
        platform.store.advance_formula_triggers(instance.id, event_cursor, schedule_cursor).await?;
    }
    Ok(more)
}

/// Where the formula instance's one event cursor moves after a pass that read `read` (each event
/// trigger's last event id, and whether more were left): event ids are shared by all instances, so
/// it moves to the furthest read only when every source was read to its end; otherwise to the
/// nearest source with events left, so none of them is skipped (what is read again is created
/// once, by its cause key). Also whether more are waiting.
fn next_event_cursor(read: &[(i64, bool)]) -> (Option<i64>, bool) {
    let unfinished = read.iter().filter(|(_, left)| *left).map(|(last, _)| *last).min();
    match unfinished {
        Some(nearest) => (Some(nearest), true),
        None => (read.iter().map(|(last, _)| *last).max(), false),
    }
}

/// The element instance an event trigger's `elementInstanceId` names through the formula
/// instance's configuration.
fn event_source(formula: &Formula, instance: &FormulaInstanceRecord, named: Option<&Value>) -> Option<InstanceId> {
    let slot = formula.slot_named_by(named?.as_str()?)?;
    bound_instance_id(instance.configuration.get(&slot.key)?).map(InstanceId::new)
}

/// Creates the executions of `source`'s events after the formula instance's cursor; returns the
/// last event id read and whether more are waiting.
async fn fire_events(
    platform: &Platform,
    instance: &FormulaInstanceRecord,
    template: &Value,
    source: InstanceId,
) -> Result<(Option<i64>, bool), StoreError> {
    let query = EventQuery {
        after: Some(instance.event_cursor.unwrap_or(0)),
        // Before its first event, a formula instance takes the events recorded since it exists.
        from: instance.event_cursor.is_none().then_some(instance.created_at),
        limit: EVENTS_PER_PASS,
        ..EventQuery::default()
    };
    let events = platform.store.list_events(source, &query).await?;
    let source_record = match platform.store.get_instance(instance.organization_id, source).await {
        Ok(record) => record,
        // The bound instance is gone (or another organization's, which binding refuses).
        Err(StoreError::NotFound) => return Ok((None, false)),
        Err(error) => return Err(error),
    };
    for event in &events {
        let message: Value = serde_json::from_slice(&message_body(&source_record, event)).unwrap_or(Value::Null);
        let changes = event.changes.as_array().cloned().unwrap_or_default();
        for (index, change) in changes.iter().enumerate() {
            let mut change = change.clone();
            if let Value::Object(fields) = &mut change {
                fields.entry("elementKey").or_insert_with(|| source_record.element_key.clone().into());
            }
            let trigger = json!({
                "type": "event",
                "eventId": event.id,
                "instanceId": source.get(),
                "event": change,
                "body": message,
            });
            create(platform, instance, template, trigger, format!("event:{}:{index}", event.id)).await?;
        }
    }
    let more = events.len() == EVENTS_PER_PASS as usize;
    Ok((events.last().map(|event| event.id), more))
}

async fn create(
    platform: &Platform,
    instance: &FormulaInstanceRecord,
    template: &Value,
    trigger: Value,
    cause: String,
) -> Result<(), StoreError> {
    let new = NewExecution {
        organization_id: instance.organization_id,
        formula_instance_id: instance.id,
        formula_id: instance.formula_id,
        trigger,
        template: template.clone(),
        config: instance.configuration.clone(),
        dedupe_key: Some(cause),
    };
    match platform.store.create_execution(&new).await {
        // Created, or created before (a repeated pass): either way it exists once.
        Ok(_) => Ok(()),
        // The formula instance was deleted during the pass.
        Err(StoreError::NotFound) => Ok(()),
        Err(error) => Err(error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_event_cursor_never_passes_a_source_with_events_left() {
        assert_eq!(next_event_cursor(&[]), (None, false));
        assert_eq!(next_event_cursor(&[(7, false), (12, false)]), (Some(12), false));
        assert_eq!(next_event_cursor(&[(100, true), (120, false)]), (Some(100), true));
        assert_eq!(next_event_cursor(&[(140, true), (100, true)]), (Some(100), true));
    }
}
