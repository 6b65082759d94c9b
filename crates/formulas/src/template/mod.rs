//! The formula template model: the platforms' JSON (`POST /formulas`) as serde types, the loader
//! that refuses what Junction does not run, and [`Formula::validate`].
//!
//! Owns the shape of a template and the rules a template must meet before it is stored. Does not
//! own formula instances (slots bound to real instances), executions or the running of steps.
//!
//! Fidelity: every object keeps the fields this model does not name (`id`, `createdDate`, a step's
//! `description`, ...) in an `extra` map, `properties` are kept as the JSON they were, and fields
//! that may be absent stay absent, so serializing a loaded formula gives back the JSON imported.

mod cron;
mod reference;
mod validate;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

pub use cron::{Schedule, ScheduleError, MIN_SCHEDULE_INTERVAL};
pub use reference::{resolve_string, resolve_value, slot_reference, Reference, ReferenceRoot, ResolveError};
pub use validate::{InvalidFormula, Problem, ProblemKind, Severity, Validation};

/// The largest formula JSON [`Formula::from_slice`] reads, in bytes.
pub const MAX_FORMULA_BYTES: usize = 2 * 1024 * 1024;
/// The most steps a formula may have (checked by [`Formula::validate`]).
pub const MAX_STEPS: usize = 250;
/// The most triggers a formula may have.
pub const MAX_TRIGGERS: usize = 20;
/// The most configuration slots a formula may have.
pub const MAX_SLOTS: usize = 100;
/// The largest `body` of a `filter` or `script` step, in bytes.
pub const MAX_SCRIPT_BYTES: usize = 100 * 1024;
/// The longest step, slot or formula name, in bytes.
pub const MAX_NAME_BYTES: usize = 200;

/// A formula template as the platforms' JSON has it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Formula {
    /// The formula's name (required by the platforms).
    pub name: String,
    /// Free text for people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Whether instances of the formula run; absent means active.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active: Option<bool>,
    /// The slots a formula instance binds: element instances and values.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub configuration: Option<Vec<ConfigSlot>>,
    /// What starts an execution.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub triggers: Option<Vec<Trigger>>,
    /// The steps, each named uniquely, linked by `onSuccess` / `onFailure`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub steps: Option<Vec<Step>>,
    /// Fields this model does not name (`id`, `createdDate`, `api`, ...), kept for export.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A configuration slot (the platforms' "variable"): `${config.<key>}` in the formula.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConfigSlot {
    /// The name used in `${config.<key>}` and in an instance's `configuration` object.
    pub key: String,
    /// A label for people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// What the slot holds (`type` on the wire).
    #[serde(rename = "type")]
    pub kind: SlotKind,
    /// Absent means required: an instance must bind every slot not marked `false`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub required: Option<bool>,
    /// Fields this model does not name, kept for export.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl ConfigSlot {
    /// Whether a formula instance must bind this slot (absent `required` reads as `true`).
    pub fn is_required(&self) -> bool {
        self.required.unwrap_or(true)
    }
}

/// What a configuration slot holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum SlotKind {
    /// An element instance of the formula instance's organization.
    ElementInstance,
    /// Free text.
    Value,
}

/// What starts an execution.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Trigger {
    /// `type` on the wire.
    #[serde(rename = "type")]
    pub kind: TriggerKind,
    /// Per kind: `elementInstanceId` (event, elementRequest), `cron` (scheduled), `method` and
    /// `api` (elementRequest). Kept as given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub properties: Option<Map<String, Value>>,
    /// Step names run next on success (see the accessor of the same name).
    #[serde(rename = "onSuccess", default, skip_serializing_if = "Option::is_none")]
    pub on_success: Option<Vec<String>>,
    /// Step names run next on failure (see the accessor of the same name).
    #[serde(rename = "onFailure", default, skip_serializing_if = "Option::is_none")]
    pub on_failure: Option<Vec<String>>,
    /// Fields this model does not name, kept for export.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The trigger types, by their wire names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "String", into = "String")]
pub enum TriggerKind {
    /// `event`: an instance's change events, one execution per changed object.
    Event,
    /// `scheduled`: a Quartz-style `cron`.
    Scheduled,
    /// `manual`: `POST /formulas/instances/{id}/executions`, the body as `trigger.args`.
    Manual,
    /// `elementRequest`: a hub call made through the slot's instance.
    ElementRequest,
    /// A type name the platforms never had; refused by the loader.
    Unknown(String),
}

/// A step of the formula.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Step {
    /// Unique within the formula; `${steps.<name>}` refers to its output.
    pub name: String,
    /// `type` on the wire.
    #[serde(rename = "type")]
    pub kind: StepKind,
    /// Per type (see [`StepKind::required_properties`]); kept as given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub properties: Option<Map<String, Value>>,
    /// Step names run next on success (see the accessor of the same name).
    #[serde(rename = "onSuccess", default, skip_serializing_if = "Option::is_none")]
    pub on_success: Option<Vec<String>>,
    /// Step names run next on failure (see the accessor of the same name).
    #[serde(rename = "onFailure", default, skip_serializing_if = "Option::is_none")]
    pub on_failure: Option<Vec<String>>,
    /// Fields this model does not name, kept for export.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The step types, by their wire names: those Junction runs, those the platforms had that it
/// refuses, and any other name (refused too).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "String", into = "String")]
pub enum StepKind {
    /// `filter`: JavaScript that calls `done(true)` (then `onSuccess`) or `done(false)`.
    Filter,
    /// `script`: JavaScript whose `done(value)` is the step's output.
    Script,
    /// `elementRequest`: a hub call as a slot's instance.
    ElementRequest,
    /// `httpRequest`: a call to any URL, through the outbound-address guard.
    HttpRequest,
    /// `loop`: `onSuccess` once per item of `list`, then `onFailure`.
    Loop,
    /// `formula`: another formula (`formulaId`) run as a sub-formula.
    Formula,
    /// `notification`: a signed webhook to `url`.
    Notification,
    /// A platform step type Junction does not run (`amqpRequest`, `request`,
    /// `elementRequestStream`, `retryFormulaExecution`).
    Unsupported(String),
    /// A type name the platforms never had.
    Unknown(String),
}

const UNSUPPORTED_STEP_TYPES: [&str; 4] = ["amqpRequest", "request", "elementRequestStream", "retryFormulaExecution"];

impl From<String> for StepKind {
    fn from(s: String) -> Self {
        match s.as_str() {
            "filter" => Self::Filter,
            "script" => Self::Script,
            "elementRequest" => Self::ElementRequest,
            "httpRequest" => Self::HttpRequest,
            "loop" => Self::Loop,
            "formula" => Self::Formula,
            "notification" => Self::Notification,
            other if UNSUPPORTED_STEP_TYPES.contains(&other) => Self::Unsupported(s),
            _ => Self::Unknown(s),
        }
    }
}

impl From<StepKind> for String {
    fn from(k: StepKind) -> Self {
        k.as_str().to_owned()
    }
}

impl StepKind {
    /// The wire name.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Filter => "filter",
            Self::Script => "script",
            Self::ElementRequest => "elementRequest",
            Self::HttpRequest => "httpRequest",
            Self::Loop => "loop",
            Self::Formula => "formula",
            Self::Notification => "notification",
            Self::Unsupported(s) | Self::Unknown(s) => s,
        }
    }

    /// The properties a step of this type must have, each a non-empty string (or, for `loop`'s
    /// `list`, a string or an array).
    pub fn required_properties(&self) -> &'static [&'static str] {
        match self {
            Self::Filter | Self::Script => &["body"],
            Self::ElementRequest => &["elementInstanceId", "method", "api"],
            Self::HttpRequest => &["url"],
            Self::Loop => &["list"],
            Self::Formula => &["formulaId"],
            Self::Notification => &["url"],
            Self::Unsupported(_) | Self::Unknown(_) => &[],
        }
    }

    /// Whether the step's `body` is JavaScript (run by [`crate::script`]), not a template.
    pub fn is_script(&self) -> bool {
        matches!(self, Self::Filter | Self::Script)
    }
}

impl From<String> for TriggerKind {
    fn from(s: String) -> Self {
        match s.as_str() {
            "event" => Self::Event,
            "scheduled" => Self::Scheduled,
            "manual" => Self::Manual,
            "elementRequest" => Self::ElementRequest,
            _ => Self::Unknown(s),
        }
    }
}

impl From<TriggerKind> for String {
    fn from(k: TriggerKind) -> Self {
        k.as_str().to_owned()
    }
}

impl TriggerKind {
    /// The wire name.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Event => "event",
            Self::Scheduled => "scheduled",
            Self::Manual => "manual",
            Self::ElementRequest => "elementRequest",
            Self::Unknown(s) => s,
        }
    }
}

/// Why a formula's JSON could not be loaded. Every variant is the client's to fix (a 400).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum LoadError {
    #[error("the formula is {size} bytes; at most {MAX_FORMULA_BYTES} are accepted")]
    TooLarge { size: usize },
    /// Not JSON, or not a formula's shape; `path` is where (`steps[2].type`), `.` for the top.
    #[error("invalid formula at {path}: {message}")]
    Shape { path: String, message: String },
    #[error("step '{step}' has type '{kind}', which Junction does not run (it runs filter, script, elementRequest, httpRequest, loop, formula and notification)")]
    UnsupportedStepType { step: String, kind: String },
    #[error("step '{step}' has an unknown type '{kind}' (expected one of filter, script, elementRequest, httpRequest, loop, formula, notification)")]
    UnknownStepType { step: String, kind: String },
    #[error("trigger {index} has an unknown type '{kind}' (expected event, scheduled, manual or elementRequest)")]
    UnknownTriggerType { index: usize, kind: String },
}

impl Formula {
    /// Reads a formula from JSON bytes (at most [`MAX_FORMULA_BYTES`]), refusing step and trigger
    /// types Junction does not run. Loading does not validate: call [`Formula::validate`].
    pub fn from_slice(bytes: &[u8]) -> Result<Self, LoadError> {
        if bytes.len() > MAX_FORMULA_BYTES {
            return Err(LoadError::TooLarge { size: bytes.len() });
        }
        let de = &mut serde_json::Deserializer::from_slice(bytes);
        let formula: Formula = serde_path_to_error::deserialize(de).map_err(shape_error)?;
        formula.check_kinds()?;
        Ok(formula)
    }

    /// Reads a formula from a JSON value already parsed (as an HTTP extractor gives it).
    pub fn from_value(value: Value) -> Result<Self, LoadError> {
        let formula: Formula = serde_path_to_error::deserialize(value).map_err(shape_error)?;
        formula.check_kinds()?;
        Ok(formula)
    }

    /// The formula as JSON, with every field it was loaded with.
    pub fn to_value(&self) -> Value {
        // A struct of strings, maps and vectors always serializes.
        serde_json::to_value(self).unwrap_or(Value::Null)
    }

    /// The configuration slots (empty when absent).
    pub fn slots(&self) -> &[ConfigSlot] {
        self.configuration.as_deref().unwrap_or_default()
    }

    /// The triggers (empty when absent).
    pub fn triggers(&self) -> &[Trigger] {
        self.triggers.as_deref().unwrap_or_default()
    }

    /// The steps (empty when absent).
    pub fn steps(&self) -> &[Step] {
        self.steps.as_deref().unwrap_or_default()
    }

    /// The step named `name`, if any (the first, should names repeat).
    pub fn step(&self, name: &str) -> Option<&Step> {
        self.steps().iter().find(|s| s.name == name)
    }

    /// The slot whose key is `key`, if any.
    pub fn slot(&self, key: &str) -> Option<&ConfigSlot> {
        self.slots().iter().find(|s| s.key == key)
    }

    /// The slot an `elementInstanceId` names: `${config.<slot>}`, `${<slot>}` or the platforms'
    /// legacy `${<slot>.instance.id}`, of either kind. `None` for anything else (a literal id, a
    /// path inside a slot, text around the reference).
    pub fn slot_named_by(&self, element_instance_id: &str) -> Option<&ConfigSlot> {
        let path = slot_reference(element_instance_id)?;
        let keys = self.slots().iter().map(|s| s.key.as_str());
        let (key, rest) = reference::match_key(path, keys)?;
        (rest.is_empty() || rest == "instance.id").then(|| self.slot(key)).flatten()
    }

    fn check_kinds(&self) -> Result<(), LoadError> {
        for (index, trigger) in self.triggers().iter().enumerate() {
            if let TriggerKind::Unknown(kind) = &trigger.kind {
                return Err(LoadError::UnknownTriggerType { index, kind: kind.clone() });
            }
        }
        for step in self.steps() {
            match &step.kind {
                StepKind::Unsupported(kind) => {
                    return Err(LoadError::UnsupportedStepType { step: step.name.clone(), kind: kind.clone() })
                }
                StepKind::Unknown(kind) => {
                    return Err(LoadError::UnknownStepType { step: step.name.clone(), kind: kind.clone() })
                }
                _ => {}
            }
        }
        Ok(())
    }
}

impl Trigger {
    /// The trigger's properties (empty when absent).
    pub fn properties(&self) -> &Map<String, Value> {
        self.properties.as_ref().unwrap_or(empty_map())
    }

    /// The steps run first (empty when absent).
    pub fn on_success(&self) -> &[String] {
        self.on_success.as_deref().unwrap_or_default()
    }

    /// The steps run when the trigger fails (empty when absent).
    pub fn on_failure(&self) -> &[String] {
        self.on_failure.as_deref().unwrap_or_default()
    }
}

impl Step {
    /// The step's properties (empty when absent).
    pub fn properties(&self) -> &Map<String, Value> {
        self.properties.as_ref().unwrap_or(empty_map())
    }

    /// The steps run after this one succeeds (for a filter: when it is `done(true)`; for a loop:
    /// the body, run once per item).
    pub fn on_success(&self) -> &[String] {
        self.on_success.as_deref().unwrap_or_default()
    }

    /// The steps run after this one fails (for a filter: when it is `done(false)`; for a loop:
    /// once the list is exhausted).
    pub fn on_failure(&self) -> &[String] {
        self.on_failure.as_deref().unwrap_or_default()
    }

    /// A string property, if present and a string.
    pub fn str_property(&self, key: &str) -> Option<&str> {
        self.properties().get(key).and_then(Value::as_str)
    }
}

fn empty_map() -> &'static Map<String, Value> {
    static EMPTY: std::sync::OnceLock<Map<String, Value>> = std::sync::OnceLock::new();
    EMPTY.get_or_init(Map::new)
}

fn shape_error(e: serde_path_to_error::Error<serde_json::Error>) -> LoadError {
    LoadError::Shape { path: e.path().to_string(), message: e.inner().to_string() }
}
