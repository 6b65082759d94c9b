//! The rules a formula template meets before it is stored: [`Formula::validate`] finds every
//! problem, each with a JSON-pointer path into the formula (`/steps/2/onSuccess/0`).
//!
//! Errors make the template unusable (a 400 on write). One finding is a warning only: a step no
//! trigger leads to. It never runs, but the platforms stored such templates (a step kept aside
//! while editing), and existing formula JSON must load unchanged; refusing it would break import.
//!
//! A cycle among steps is an error unless it passes through a `loop` step: on the platforms the
//! last step of a loop's body names the loop step again to take the next item, and the loop ends
//! when its list does.

use std::collections::{HashMap, HashSet, VecDeque};

use serde_json::Value;

use super::reference::{match_key, parse_path, Reference, ReferenceRoot};
use super::{
    Formula, Schedule, ScheduleError, SlotKind, Step, StepKind, Trigger, TriggerKind, MAX_NAME_BYTES, MAX_SCRIPT_BYTES,
    MAX_SLOTS, MAX_STEPS, MAX_TRIGGERS,
};

/// How serious a [`Problem`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// The template must not be stored.
    Error,
    /// Worth telling the author; the template is usable.
    Warning,
}

/// One finding of [`Formula::validate`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {kind}")]
pub struct Problem {
    /// A JSON pointer into the formula: `/steps/2/onSuccess/0`, `/triggers/0/properties/cron`.
    pub path: String,
    /// Whether it blocks storing the template.
    pub severity: Severity,
    /// What is wrong.
    pub kind: ProblemKind,
}

/// What is wrong, with the names a user needs to fix it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProblemKind {
    #[error("the formula needs a name")]
    MissingName,
    #[error("{what} is {size}; at most {max} allowed")]
    TooLarge { what: String, size: usize, max: usize },
    #[error("a step needs a name")]
    EmptyStepName,
    #[error("two steps are named '{name}'; step names must be unique")]
    DuplicateStep { name: String },
    #[error("two configuration slots have the key '{key}'")]
    DuplicateSlot { key: String },
    #[error("a configuration slot needs a key")]
    EmptySlotKey,
    #[error("names step '{name}', which the formula does not have")]
    UnknownStep { name: String },
    #[error("the steps {} form a cycle with no loop step on it", cycle_text(.steps))]
    Cycle { steps: Vec<String> },
    #[error("step '{step}' is not reached from any trigger, so it never runs")]
    Unreachable { step: String },
    #[error("{kind} needs the property '{property}'")]
    MissingProperty { kind: String, property: String },
    #[error("'{property}' must be {expected}")]
    WrongType { property: String, expected: String },
    #[error("'{method}' is not an HTTP method (GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS)")]
    BadMethod { method: String },
    #[error("`${{{reference}}}` names no configuration slot{}", known_list(.known))]
    UnknownSlot { reference: String, known: Vec<String> },
    #[error("`${{{reference}}}` names no step of the formula")]
    UnknownStepReference { reference: String },
    #[error(
        "`${{{reference}}}` is not a reference (expected a path such as config.crm, steps.name.body, trigger.event)"
    )]
    BadReference { reference: String },
    #[error("elementInstanceId '{value}' must name an elementInstance slot, as ${{config.<slot>}} or ${{<slot>}}{}", known_list(.instance_slots))]
    NotASlotReference { value: String, instance_slots: Vec<String> },
    #[error("elementInstanceId names slot '{slot}', which holds a value, not an element instance")]
    NotAnInstanceSlot { slot: String },
    #[error("{0}")]
    Schedule(ScheduleError),
}

fn cycle_text(steps: &[String]) -> String {
    let mut text = steps.join(" → ");
    if let Some(first) = steps.first() {
        text.push_str(" → ");
        text.push_str(first);
    }
    text
}

fn known_list(names: &[String]) -> String {
    if names.is_empty() {
        " (the formula has none)".to_owned()
    } else {
        format!(" (the formula has: {})", names.join(", "))
    }
}

/// Every problem found in a formula.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Validation {
    /// In the order found: formula, slots, triggers, steps, then the graph.
    pub problems: Vec<Problem>,
}

/// A formula with at least one error; its message lists every problem.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the formula is invalid: {}", join(.0))]
pub struct InvalidFormula(pub Vec<Problem>);

fn join(problems: &[Problem]) -> String {
    problems.iter().map(Problem::to_string).collect::<Vec<_>>().join("; ")
}

impl Validation {
    /// The problems that make the template unusable.
    pub fn errors(&self) -> impl Iterator<Item = &Problem> {
        self.problems.iter().filter(|p| p.severity == Severity::Error)
    }

    /// The problems worth telling the author about.
    pub fn warnings(&self) -> impl Iterator<Item = &Problem> {
        self.problems.iter().filter(|p| p.severity == Severity::Warning)
    }

    /// Whether the template has no errors (warnings allowed).
    pub fn is_valid(&self) -> bool {
        self.errors().next().is_none()
    }

    /// The warnings when valid, else every problem (errors and warnings) as one error.
    pub fn into_result(self) -> Result<Vec<Problem>, InvalidFormula> {
        if self.is_valid() {
            Ok(self.problems)
        } else {
            Err(InvalidFormula(self.problems))
        }
    }
}

impl Formula {
    /// Checks the template against every rule of this module and gives all the problems found.
    pub fn validate(&self) -> Validation {
        let mut v = Validator { formula: self, problems: Vec::new() };
        v.formula_level();
        v.slots();
        v.triggers();
        v.steps();
        if self.steps().len() <= MAX_STEPS {
            v.graph();
        }
        Validation { problems: v.problems }
    }
}

struct Validator<'f> {
    formula: &'f Formula,
    problems: Vec<Problem>,
}

const HTTP_METHODS: [&str; 7] = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];

impl<'f> Validator<'f> {
    fn error(&mut self, path: String, kind: ProblemKind) {
        self.problems.push(Problem { path, severity: Severity::Error, kind });
    }

    fn too_large(&mut self, path: String, what: String, size: usize, max: usize) {
        if size > max {
            self.error(path, ProblemKind::TooLarge { what, size, max });
        }
    }

    fn formula_level(&mut self) {
        let f = self.formula;
        if f.name.trim().is_empty() {
            self.error("/name".into(), ProblemKind::MissingName);
        }
        self.too_large("/name".into(), "the name's length".into(), f.name.len(), MAX_NAME_BYTES);
        self.too_large("/steps".into(), "the number of steps".into(), f.steps().len(), MAX_STEPS);
        let triggers = f.triggers().len();
        self.too_large("/triggers".into(), "the number of triggers".into(), triggers, MAX_TRIGGERS);
        let slots = f.slots().len();
        self.too_large("/configuration".into(), "the number of slots".into(), slots, MAX_SLOTS);
    }

    fn slots(&mut self) {
        let mut seen = HashSet::new();
        for (i, slot) in self.formula.slots().iter().enumerate() {
            let path = format!("/configuration/{i}/key");
            if slot.key.trim().is_empty() {
                self.error(path, ProblemKind::EmptySlotKey);
            } else if !seen.insert(slot.key.as_str()) {
                let key = slot.key.clone();
                self.error(path, ProblemKind::DuplicateSlot { key });
            } else {
                let len = slot.key.len();
                self.too_large(path, "the slot key's length".into(), len, MAX_NAME_BYTES);
            }
        }
    }

    fn triggers(&mut self) {
        for (i, trigger) in self.formula.triggers().iter().enumerate() {
            let base = format!("/triggers/{i}");
            self.trigger(&base, trigger);
            self.links(&base, trigger.on_success(), trigger.on_failure());
        }
    }

    fn trigger(&mut self, base: &str, trigger: &Trigger) {
        let props = trigger.properties();
        let required: &[&str] = match trigger.kind {
            TriggerKind::Event => &["elementInstanceId"],
            TriggerKind::Scheduled => &["cron"],
            TriggerKind::ElementRequest => &["elementInstanceId", "method", "api"],
            TriggerKind::Manual | TriggerKind::Unknown(_) => &[],
        };
        let kind = with_article(&format!("{} trigger", trigger.kind.as_str()));
        self.required(base, &kind, props, required);
        if let Some(cron) = props.get("cron").and_then(Value::as_str) {
            if let Err(e) = Schedule::parse(cron) {
                self.error(format!("{base}/properties/cron"), ProblemKind::Schedule(e));
            }
        }
        self.properties(base, props, false);
    }

    fn steps(&mut self) {
        let mut seen = HashSet::new();
        for (i, step) in self.formula.steps().iter().enumerate() {
            let base = format!("/steps/{i}");
            if step.name.trim().is_empty() {
                self.error(format!("{base}/name"), ProblemKind::EmptyStepName);
            } else if !seen.insert(step.name.as_str()) {
                let name = step.name.clone();
                self.error(format!("{base}/name"), ProblemKind::DuplicateStep { name });
            }
            let len = step.name.len();
            self.too_large(format!("{base}/name"), "the step name's length".into(), len, MAX_NAME_BYTES);
            self.step(&base, step);
            self.links(&base, step.on_success(), step.on_failure());
        }
    }

    fn step(&mut self, base: &str, step: &Step) {
        let props = step.properties();
        let kind = with_article(&format!("{} step", step.kind.as_str()));
        self.required(base, &kind, props, step.kind.required_properties());
        if step.kind.is_script() {
            if let Some(body) = props.get("body").and_then(Value::as_str) {
                let what = format!("step '{}''s script", step.name);
                let path = format!("{base}/properties/body");
                self.too_large(path, what, body.len(), MAX_SCRIPT_BYTES);
            }
        }
        if step.kind == StepKind::Loop {
            if let Some(list) = props.get("list") {
                if !(list.is_string() || list.is_array()) {
                    self.error(
                        format!("{base}/properties/list"),
                        ProblemKind::WrongType {
                            property: "list".into(),
                            expected: "a reference such as ${steps.name.body} or an array".into(),
                        },
                    );
                }
            }
        }
        self.properties(base, props, step.kind.is_script());
    }

    /// Each of `names` present as a non-empty string (`list` may be an array).
    fn required(&mut self, base: &str, kind: &str, props: &serde_json::Map<String, Value>, names: &[&str]) {
        for name in names {
            let present = match props.get(*name) {
                Some(Value::String(s)) => !s.trim().is_empty(),
                Some(Value::Array(_)) => *name == "list",
                Some(_) => {
                    if *name != "list" {
                        self.error(
                            format!("{base}/properties/{}", pointer_escape(name)),
                            ProblemKind::WrongType { property: (*name).to_owned(), expected: "a string".into() },
                        );
                    }
                    true
                }
                None => false,
            };
            if !present {
                self.error(
                    format!("{base}/properties"),
                    ProblemKind::MissingProperty { kind: kind.to_owned(), property: (*name).to_owned() },
                );
            }
        }
    }

    /// The method, the element instance and every reference in the properties.
    fn properties(&mut self, base: &str, props: &serde_json::Map<String, Value>, script: bool) {
        if let Some(method) = props.get("method").and_then(Value::as_str) {
            let upper = method.to_ascii_uppercase();
            if !method.contains("${") && !HTTP_METHODS.contains(&upper.as_str()) {
                self.error(format!("{base}/properties/method"), ProblemKind::BadMethod { method: method.to_owned() });
            }
        }
        if let Some(id) = props.get("elementInstanceId").and_then(Value::as_str) {
            self.element_instance(&format!("{base}/properties/elementInstanceId"), id);
        }
        for (key, value) in props {
            // A script's body is JavaScript: `${...}` there is a template literal, not ours.
            if key == "elementInstanceId" || (script && key == "body") {
                continue;
            }
            let path = format!("{base}/properties/{}", pointer_escape(key));
            self.references_in(&path, value);
        }
    }

    fn element_instance(&mut self, path: &str, value: &str) {
        match self.formula.slot_named_by(value) {
            Some(slot) if slot.kind == SlotKind::ElementInstance => {}
            Some(slot) => self.error(path.to_owned(), ProblemKind::NotAnInstanceSlot { slot: slot.key.clone() }),
            None => {
                let instance_slots = self
                    .formula
                    .slots()
                    .iter()
                    .filter(|s| s.kind == SlotKind::ElementInstance)
                    .map(|s| s.key.clone())
                    .collect();
                self.error(path.to_owned(), ProblemKind::NotASlotReference { value: value.to_owned(), instance_slots });
            }
        }
    }

    fn references_in(&mut self, path: &str, value: &Value) {
        match value {
            Value::String(s) => {
                for r in Reference::find_all(s) {
                    if let Some(kind) = self.check_reference(&r) {
                        self.error(path.to_owned(), kind);
                    }
                }
            }
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    self.references_in(&format!("{path}/{i}"), item);
                }
            }
            Value::Object(map) => {
                for (k, item) in map {
                    self.references_in(&format!("{path}/{}", pointer_escape(k)), item);
                }
            }
            _ => {}
        }
    }

    fn check_reference(&self, r: &Reference<'_>) -> Option<ProblemKind> {
        let reference = r.text.to_owned();
        let bad = || ProblemKind::BadReference { reference: r.text.to_owned() };
        if r.text.trim().is_empty() || parse_path(r.text.trim()).is_none() {
            return Some(bad());
        }
        match r.root() {
            ReferenceRoot::Trigger | ReferenceRoot::Info => None,
            ReferenceRoot::Steps => {
                let names = self.formula.steps().iter().map(|s| s.name.as_str());
                match r.rest() {
                    Some(rest) if match_key(rest, names).is_some() => None,
                    _ => Some(ProblemKind::UnknownStepReference { reference }),
                }
            }
            ReferenceRoot::Config | ReferenceRoot::Shorthand => {
                let keys = self.formula.slots().iter().map(|s| s.key.as_str());
                match r.rest() {
                    Some(rest) if match_key(rest, keys).is_some() => None,
                    _ => Some(ProblemKind::UnknownSlot {
                        reference,
                        known: self.formula.slots().iter().map(|s| s.key.clone()).collect(),
                    }),
                }
            }
        }
    }

    fn links(&mut self, base: &str, on_success: &[String], on_failure: &[String]) {
        for (field, names) in [("onSuccess", on_success), ("onFailure", on_failure)] {
            for (i, name) in names.iter().enumerate() {
                if self.formula.step(name).is_none() {
                    let name = name.clone();
                    self.error(format!("{base}/{field}/{i}"), ProblemKind::UnknownStep { name });
                }
            }
        }
    }

    /// Cycles (with no loop step on them) and unreachable steps.
    fn graph(&mut self) {
        let steps = self.formula.steps();
        let index: HashMap<&str, usize> = steps
            .iter()
            .enumerate()
            .rev() // the first of duplicate names wins, as in `Formula::step`
            .map(|(i, s)| (s.name.as_str(), i))
            .collect();
        let next = |s: &Step| -> Vec<usize> {
            s.on_success().iter().chain(s.on_failure()).filter_map(|n| index.get(n.as_str()).copied()).collect()
        };
        let edges: Vec<Vec<usize>> = steps.iter().map(next).collect();

        for cycle in find_cycles(steps, &edges) {
            let names = cycle.iter().map(|&i| steps[i].name.clone()).collect();
            self.error(format!("/steps/{}", cycle[0]), ProblemKind::Cycle { steps: names });
        }

        let mut reached = vec![false; steps.len()];
        let mut queue: VecDeque<usize> = self
            .formula
            .triggers()
            .iter()
            .flat_map(|t| t.on_success().iter().chain(t.on_failure()))
            .filter_map(|n| index.get(n.as_str()).copied())
            .collect();
        while let Some(i) = queue.pop_front() {
            if !std::mem::replace(&mut reached[i], true) {
                queue.extend(edges[i].iter().copied());
            }
        }
        for (i, step) in steps.iter().enumerate() {
            if !reached[i] && index.get(step.name.as_str()) == Some(&i) {
                self.problems.push(Problem {
                    path: format!("/steps/{i}"),
                    severity: Severity::Warning,
                    kind: ProblemKind::Unreachable { step: step.name.clone() },
                });
            }
        }
    }
}

/// Cycles among the steps that are not `loop` steps (a cycle through a loop step is how a loop's
/// body returns to it), each once, in the order of its edges. Recursion depth is bounded by the
/// number of steps (at most [`MAX_STEPS`] here).
fn find_cycles(steps: &[Step], edges: &[Vec<usize>]) -> Vec<Vec<usize>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        OnStack,
        Done,
    }
    fn visit(
        i: usize,
        steps: &[Step],
        edges: &[Vec<usize>],
        marks: &mut [Mark],
        stack: &mut Vec<usize>,
        found: &mut Vec<Vec<usize>>,
    ) {
        marks[i] = Mark::OnStack;
        stack.push(i);
        for &j in &edges[i] {
            if steps[j].kind == StepKind::Loop {
                continue;
            }
            match marks[j] {
                Mark::New => visit(j, steps, edges, marks, stack, found),
                Mark::OnStack => {
                    let from = stack.iter().position(|&k| k == j).unwrap_or(0);
                    found.push(stack[from..].to_vec());
                }
                Mark::Done => {}
            }
        }
        stack.pop();
        marks[i] = Mark::Done;
    }
    let mut marks = vec![Mark::New; steps.len()];
    let mut found = Vec::new();
    for i in 0..steps.len() {
        if marks[i] == Mark::New && steps[i].kind != StepKind::Loop {
            visit(i, steps, edges, &mut marks, &mut Vec::new(), &mut found);
        }
    }
    found
}

/// RFC 6901: `~` as `~0`, `/` as `~1`.
fn pointer_escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

/// `An elementRequest step`, `A filter step`.
fn with_article(s: &str) -> String {
    let vowel = s.starts_with(['a', 'e', 'i', 'o', 'u']);
    format!("{} {s}", if vowel { "An" } else { "A" })
}
