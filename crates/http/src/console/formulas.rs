//! The console's formula pages (issue 17): the organization's formula templates with their
//! formula instances, one formula instance with its executions and a Run now button, and one
//! execution with every step it ran. Each shows the signed-in organization's records only:
//! another organization's formula instance or execution, an unknown one and a malformed id are
//! 404 pages, like every console page.
//!
//! - `GET /formulas`: the templates, a page at a time, each with its step count, its triggers and
//!   its formula instances;
//! - `GET /formulas/instances/{id}`: a formula instance: its template, bound configuration, active
//!   flag, the Run now form and its executions newest first; the page reloads itself while an
//!   execution is queued or running;
//! - `POST /formulas/instances/{id}/run`: queues a manual run with the form's JSON arguments
//!   (CSRF-checked; arguments that are not JSON, an inactive instance and a template without a
//!   manual trigger are notices on the instance page, and nothing is queued);
//! - `GET /formulas/executions/{id}`: an execution: its status, trigger and error, and each step
//!   record in order with its status, branch taken, attempts, times, input and output; the page
//!   reloads itself until the execution ends.
//!
//! Templates and formula instances are created through the platform API (the pages say how). The
//! rules, the runs and their records are `platform::formulas`'s, so the console shows what the API
//! answers, except that every JSON value shown has the values of secret-looking keys masked
//! ([`masked`]) and is cut after [`JSON_SHOWN`] characters.

use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{DateTime, Utc};
use maud::{html, Markup};
use platform::formulas::instances::bound_instance_id;
use platform::formulas::FormulaError;
use serde::Deserialize;
use serde_json::{json, Value};
use store::{ExecutionRecord, ExecutionStatus, ExecutionStep, FormulaInstanceRecord, FormulaRecord, StepStatus};

use super::events_panel::truncated;
use super::form::FormFields;
use super::instances::when;
use super::page::{ConsoleError, Notice, Page, Section};
use super::session::Session;
use crate::path_param::PathParam;
use crate::state::AppState;

/// Templates per page of `GET /formulas`.
const TEMPLATES_PER_PAGE: u32 = 50;
/// Executions listed on a formula instance's page, newest first (older ones a link away).
const EXECUTIONS_LISTED: u32 = 50;
/// How often a page watching an unfinished execution reloads itself.
const REFRESH_SECONDS: u32 = 5;
/// Characters of a JSON value shown (a step's output can be a whole page of records).
pub const JSON_SHOWN: usize = 20_000;
/// What a masked value is shown as.
const MASK: &str = "********";
/// Parts of a key's lower-cased name that make its value a secret's, never shown.
const SECRET_KEY_PARTS: [&str; 5] = ["secret", "password", "token", "authorization", "key"];
/// The platform API, as the pages name it.
const API: &str = "/elements/api-v2";

// ---------------------------------------------------------------------------------------------
// GET /formulas

#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    page: Option<String>,
}

/// `GET /formulas`.
pub async fn list(State(state): State<AppState>, session: Session, RawQuery(raw): RawQuery) -> Response {
    let query: ListQuery = super::form::query(raw.as_deref());
    let result = async {
        let organization = session.organization.id;
        let page = match state.platform.formulas(organization, TEMPLATES_PER_PAGE, query.page.as_deref()).await {
            Ok(page) => page,
            Err(store::StoreError::InvalidCursor) => {
                return Err(ConsoleError::bad_request("That page link is not valid any more.")
                    .next(html! { a href="/formulas" { "Back to the first page" } }))
            }
            Err(error) => return Err(error.into()),
        };
        let mut templates = Vec::with_capacity(page.items.len());
        for formula in page.items {
            let instances = state.platform.store.list_formula_instances(organization, Some(formula.id)).await?;
            templates.push((formula, instances));
        }
        Ok(templates_page(&state, &session, &templates, page.next_page.as_deref()))
    };
    result.await.unwrap_or_else(|error| error.page(&state, Some(&session)))
}

fn templates_page(
    state: &AppState,
    session: &Session,
    templates: &[(FormulaRecord, Vec<FormulaInstanceRecord>)],
    next_page: Option<&str>,
) -> Response {
    let body = html! {
        h1 { "Formulas" }
        @if templates.is_empty() {
            div.empty { p { "No formula yet. Formulas are created through the platform API, as below." } }
        } @else {
            @for (formula, instances) in templates { (template_panel(formula, instances)) }
            @if let Some(next) = next_page {
                p { a href={ "/formulas?" (url::form_urlencoded::Serializer::new(String::new()).append_pair("page", next).finish()) } { "Next page" } }
            }
        }
        (how_to())
    };
    Page { title: "Formulas", section: Section::Formulas, session: Some(session), notice: None, body }
        .respond(state, StatusCode::OK)
}

fn template_panel(formula: &FormulaRecord, instances: &[FormulaInstanceRecord]) -> Markup {
    let heading = format!("formula-{}", formula.id);
    let steps = json_array(&formula.template, "steps").len();
    html! {
        section.panel aria-labelledby=(heading) {
            div.title-row {
                h2 id=(heading) { (formula.name) }
                @if !template_active(&formula.template) { div { span.badge.bad { "inactive" } } }
            }
            p.muted {
                "formula " (formula.id) " · " (steps) @if steps == 1 { " step" } @else { " steps" }
                " · triggers: " (trigger_types(&formula.template))
                " · updated " (when(Some(formula.updated_at)))
            }
            @if instances.is_empty() {
                p.muted {
                    "No formula instance yet. Create one with "
                    code { "POST " (API) "/formulas/" (formula.id) "/instances" } "."
                }
            } @else {
                div.table-wrap { table {
                    thead { tr {
                        th scope="col" { "Formula instance" } th scope="col" { "Status" }
                        th scope="col" { "Configuration" } th scope="col" { "Created" }
                    } }
                    tbody { @for instance in instances { tr {
                        td { a href={ "/formulas/instances/" (instance.id) } { (instance.name) } }
                        td { (active_badge(instance.active)) }
                        td { (configuration_summary(&instance.configuration)) }
                        td { (when(Some(instance.created_at))) }
                    } } }
                } }
            }
        }
    }
}

/// The slots an instance binds, as `key = value` (secret-looking keys masked).
fn configuration_summary(configuration: &Value) -> Markup {
    let Some(fields) = configuration.as_object().filter(|fields| !fields.is_empty()) else {
        return html! { span.muted { "nothing bound" } };
    };
    html! {
        @for (i, (key, value)) in fields.iter().enumerate() {
            @if i > 0 { ", " }
            code { (key) } " = " (scalar_text(key, value))
        }
    }
}

/// How templates and formula instances are made: the platform API's calls.
fn how_to() -> Markup {
    html! {
        section.panel aria-labelledby="formulas-how" {
            h2 #formulas-how { "Creating formulas" }
            p { "Formulas and their instances are created through the platform API, with the organization's credentials (" code { "Authorization: User …, Organization …" } "):" }
            ul {
                li { code { "POST " (API) "/formulas" } ": a template, its configuration slots, triggers and steps." }
                li {
                    code { "POST " (API) "/formulas/{id}/instances" } ": a formula instance binding the slots, e.g. "
                    code { "{\"name\": \"Sync\", \"configuration\": {\"crm\": 12}}" } "."
                }
                li {
                    code { "POST " (API) "/formulas/instances/{id}/executions" }
                    ": a manual run, its body as " code { "trigger.args" } " (the Run now button does the same)."
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// GET /formulas/instances/{id}

#[derive(Debug, Default, Deserialize)]
pub struct InstanceQuery {
    done: Option<String>,
    execution: Option<i64>,
    /// Lists the executions older than this one.
    before: Option<i64>,
}

/// What a run left to say (a fixed text around a number: nothing from the URL is echoed).
fn done_notice(query: &InstanceQuery) -> Option<Notice> {
    let execution = query.execution?;
    match query.done.as_deref()? {
        "queued" => Some(Notice::Success(format!(
            "Execution {execution} queued: it runs as soon as a runner takes it, and this page reloads until it ends."
        ))),
        _ => None,
    }
}

/// The Run now form as last sent: the arguments typed, and what is wrong with them.
#[derive(Debug, Default)]
struct RunForm {
    args: String,
    problem: Option<String>,
}

/// `GET /formulas/instances/{id}`.
pub async fn instance(
    State(state): State<AppState>,
    session: Session,
    PathParam(id): PathParam<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    let query: InstanceQuery = super::form::query(raw.as_deref());
    let notice = done_notice(&query);
    let result = async {
        let instance = owned_formula_instance(&state, &session, &id).await?;
        let before = query.before.filter(|id| *id > 0);
        instance_page(&state, &session, &instance, &RunForm::default(), before, notice, StatusCode::OK).await
    };
    result.await.unwrap_or_else(|error| error.page(&state, Some(&session)))
}

/// The session's organization's formula instance `id`, or the 404 page for it.
async fn owned_formula_instance(
    state: &AppState,
    session: &Session,
    id: &str,
) -> Result<FormulaInstanceRecord, ConsoleError> {
    state
        .platform
        .formula_instance(session.organization.id, None, id)
        .await
        .map_err(|error| not_found_as(error, no_formula_instance))
}

/// The formula instance page, answered with `status` (a refused run answers its own), with the
/// executions below `before` when given.
async fn instance_page(
    state: &AppState,
    session: &Session,
    instance: &FormulaInstanceRecord,
    run_form: &RunForm,
    before: Option<i64>,
    notice: Option<Notice>,
    status: StatusCode,
) -> Result<Response, ConsoleError> {
    let organization = session.organization.id;
    let formula = state.platform.formula(organization, &instance.formula_id.to_string()).await?;
    let executions =
        state.platform.formula_executions(organization, &instance.id.to_string(), before, EXECUTIONS_LISTED).await?;
    let title = format!("Formula instance {}", instance.name);
    let body = html! {
        p.crumbs { a href="/formulas" { "Formulas" } " / " (formula.name) " / " (instance.name) }
        div.title-row {
            h1 { (instance.name) }
            div { (active_badge(instance.active)) }
        }
        p.muted {
            "formula instance " (instance.id) " of " a href={ "/formulas#formula-" (formula.id) } { (formula.name) }
            " (formula " (formula.id) ") · created " (when(Some(instance.created_at)))
        }
        (configuration_table(&formula.template, &instance.configuration))
        @if instance.settings.as_object().is_some_and(|settings| !settings.is_empty()) {
            section.panel aria-labelledby="settings" {
                h2 #settings { "Settings" }
                (json_block(&instance.settings, "settings"))
            }
        }
        (run_panel(session, instance, &formula, run_form))
        (executions_panel(instance, &executions, before))
    };
    let page = Page { title: &title, section: Section::Formulas, session: Some(session), notice, body };
    // A page answering a refused run keeps still: reloading would lose the arguments typed.
    Ok(if status == StatusCode::OK && executions.iter().any(|execution| !execution.status.is_final()) {
        page.respond_refreshing(state, status, REFRESH_SECONDS)
    } else {
        page.respond(state, status)
    })
}

/// Each configuration slot of the template with what the instance binds to it: an element
/// instance as a link to it, a value as it is (a secret-looking key's masked).
fn configuration_table(template: &Value, configuration: &Value) -> Markup {
    let slots: Vec<(&str, &str)> = json_array(template, "configuration")
        .iter()
        .filter_map(|slot| {
            let key = slot.get("key")?.as_str()?;
            Some((key, slot.get("type").and_then(Value::as_str).unwrap_or("value")))
        })
        .collect();
    let bound = configuration.as_object();
    // Keys bound but no longer slots (the template was replaced since) are shown too.
    let unknown: Vec<&String> = bound
        .map(|fields| fields.keys().filter(|key| !slots.iter().any(|(slot, _)| slot == key)).collect())
        .unwrap_or_default();
    html! {
        section.panel aria-labelledby="configuration" {
            h2 #configuration { "Configuration" }
            @if slots.is_empty() && unknown.is_empty() {
                p.muted { "The formula has no configuration slot." }
            } @else {
                div.table-wrap { table {
                    thead { tr { th scope="col" { "Slot" } th scope="col" { "Type" } th scope="col" { "Bound to" } } }
                    tbody {
                        @for (key, kind) in &slots {
                            tr {
                                td { code { (key) } }
                                td { (kind) }
                                td {
                                    @match bound.and_then(|fields| fields.get(*key)) {
                                        Some(value) => (bound_value(key, kind, value)),
                                        None => span.muted { "not bound" },
                                    }
                                }
                            }
                        }
                        @for key in &unknown {
                            tr {
                                td { code { (key) } }
                                td { span.muted { "not a slot of the formula" } }
                                td { @if let Some(value) = bound.and_then(|fields| fields.get(*key)) { (scalar_text(key, value)) } }
                            }
                        }
                    }
                } }
            }
        }
    }
}

fn bound_value(key: &str, kind: &str, value: &Value) -> Markup {
    match (kind, bound_instance_id(value)) {
        ("elementInstance", Some(id)) => html! { a href={ "/instances/" (id) } { "instance " (id) } },
        _ => html! { (scalar_text(key, value)) },
    }
}

fn run_panel(
    session: &Session,
    instance: &FormulaInstanceRecord,
    formula: &FormulaRecord,
    run_form: &RunForm,
) -> Markup {
    let manual = json_array(&formula.template, "triggers")
        .iter()
        .any(|trigger| trigger.get("type").and_then(Value::as_str) == Some("manual"));
    html! {
        section.panel aria-labelledby="run" {
            h2 #run { "Run now" }
            @if !instance.active {
                p.warning {
                    "This formula instance is not active: a run is refused until it is activated ("
                    code { "PUT " (API) "/formulas/" (instance.formula_id) "/instances/" (instance.id) "/active" } ")."
                }
            }
            @if !manual {
                p.warning { "The formula has no manual trigger, so it cannot be run by hand: it runs on its own triggers." }
            }
            form.stack method="post" action={ "/formulas/instances/" (instance.id) "/run" } {
                input type="hidden" name="csrf" value=(session.csrf);
                div.field {
                    label for="run-args" { "Arguments (JSON, optional)" }
                    textarea #run-args name="args" rows="5" spellcheck="false"
                        aria-invalid=[run_form.problem.as_ref().map(|_| "true")]
                        aria-describedby="run-args-help" { (run_form.args) }
                    @if let Some(problem) = &run_form.problem { p.problem { (problem) } }
                    p.help #run-args-help {
                        "The run's " code { "trigger.args" } ", e.g. " code { "{\"pageSize\": 10}" } "; empty means " code { "{}" } "."
                    }
                }
                button.primary type="submit" { "Run now" }
            }
        }
    }
}

fn executions_panel(instance: &FormulaInstanceRecord, executions: &[ExecutionRecord], before: Option<i64>) -> Markup {
    let base = format!("/formulas/instances/{}", instance.id);
    let older = executions.last().filter(|_| executions.len() as u32 >= EXECUTIONS_LISTED).map(|oldest| oldest.id);
    html! {
        section.panel aria-labelledby="executions" {
            h2 #executions { "Executions" }
            @if executions.is_empty() {
                p.muted { @if before.is_some() { "No older execution." } @else { "No execution yet." } }
            } @else {
                div.table-wrap { table {
                    thead { tr {
                        th scope="col" { "Execution" } th scope="col" { "Status" } th scope="col" { "Trigger" }
                        th scope="col" { "Created" } th scope="col" { "Finished" } th scope="col" { "Error" }
                    } }
                    tbody { @for execution in executions { tr {
                        td { a href={ "/formulas/executions/" (execution.id) } { (execution.id) } }
                        td { (execution_badge(execution.status)) }
                        td { (trigger_type(&execution.trigger)) }
                        td { (when(Some(execution.created_at))) }
                        td { (when(execution.finished_at)) }
                        td { @if let Some(error) = &execution.error { span.problem { (truncated(error)) } } }
                    } } }
                } }
            }
            @if older.is_some() || before.is_some() {
                p {
                    @if let Some(oldest) = older { a href={ (base) "?before=" (oldest) } { "Older executions" } }
                    @if older.is_some() && before.is_some() { " · " }
                    @if before.is_some() { a href=(base) { "Newest executions" } }
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// POST /formulas/instances/{id}/run

/// `POST /formulas/instances/{id}/run`: queues a manual run and goes back to the instance page,
/// which says so; a refused run is the instance page again, with the arguments typed and why.
pub async fn run(
    State(state): State<AppState>,
    session: Session,
    PathParam(id): PathParam<String>,
    form: FormFields,
) -> Response {
    let result = async {
        form.check_csrf(&session)?;
        let instance = owned_formula_instance(&state, &session, &id).await?;
        let typed = form.get("args");
        let (status, problem) = match run_args(typed) {
            Err(problem) => (StatusCode::BAD_REQUEST, problem),
            Ok(args) => {
                match state.platform.run_formula_instance(session.organization.id, &instance.id.to_string(), args).await
                {
                    Ok(execution) => {
                        tracing::info!(
                            formula_instance = instance.id,
                            execution = execution.id,
                            "formula run through the console"
                        );
                        let to = format!("/formulas/instances/{}?done=queued&execution={}", instance.id, execution.id);
                        return Ok(Redirect::to(&to).into_response());
                    }
                    Err(FormulaError::Conflict(message)) => (StatusCode::CONFLICT, message),
                    Err(FormulaError::BadRequest(message)) => (StatusCode::BAD_REQUEST, message),
                    Err(other) => return Err(not_found_as(other, no_formula_instance)),
                }
            }
        };
        let run_form = RunForm { args: typed.to_owned(), problem: Some(problem.clone()) };
        instance_page(&state, &session, &instance, &run_form, None, Some(Notice::Error(problem)), status).await
    };
    result.await.unwrap_or_else(|error| error.page(&state, Some(&session)))
}

/// The Run now form's arguments: empty is `{}`, else any JSON value; `Err` says what is wrong.
fn run_args(text: &str) -> Result<Value, String> {
    if text.trim().is_empty() {
        return Ok(json!({}));
    }
    serde_json::from_str(text).map_err(|error| format!("The arguments are not valid JSON: {error}. Nothing was run."))
}

// ---------------------------------------------------------------------------------------------
// GET /formulas/executions/{id}

/// `GET /formulas/executions/{id}`.
pub async fn execution(State(state): State<AppState>, session: Session, PathParam(id): PathParam<String>) -> Response {
    let result = async {
        let organization = session.organization.id;
        let not_found = |error: FormulaError| not_found_as(error, no_execution);
        let execution = state.platform.formula_execution(organization, None, &id).await.map_err(not_found)?;
        let execution_id = execution.id.to_string();
        let steps =
            state.platform.formula_execution_steps(organization, None, &execution_id).await.map_err(not_found)?;
        // The formula instance for the crumbs; it may have been deleted since.
        let instance_id = execution.formula_instance_id.to_string();
        let instance = match state.platform.formula_instance(organization, None, &instance_id).await {
            Ok(instance) => Some(instance),
            Err(FormulaError::NotFound(_)) => None,
            Err(error) => return Err(ConsoleError::from(error)),
        };
        Ok(execution_page(&state, &session, &execution, &steps, instance.as_ref()))
    };
    result.await.unwrap_or_else(|error| error.page(&state, Some(&session)))
}

fn execution_page(
    state: &AppState,
    session: &Session,
    execution: &ExecutionRecord,
    steps: &[ExecutionStep],
    instance: Option<&FormulaInstanceRecord>,
) -> Response {
    let title = format!("Execution {}", execution.id);
    let formula_name = execution.template.get("name").and_then(Value::as_str).unwrap_or("formula");
    let body = html! {
        p.crumbs {
            a href="/formulas" { "Formulas" } " / "
            @match instance {
                Some(instance) => a href={ "/formulas/instances/" (instance.id) } { (instance.name) },
                None => { "formula instance " (execution.formula_instance_id) " (deleted)" },
            }
            " / Execution " (execution.id)
        }
        div.title-row {
            h1 { (title) }
            div { (execution_badge(execution.status)) }
        }
        dl.facts {
            dt { "Formula" } dd { (formula_name) " (formula " (execution.formula_id) ")" }
            dt { "Trigger" } dd { (trigger_type(&execution.trigger)) }
            dt { "Created" } dd { (when(Some(execution.created_at))) }
            dt { "Finished" } dd { (when(execution.finished_at)) }
            dt { "Took" } dd { (took(execution.created_at, execution.finished_at)) }
            dt { "Steps run" } dd { (steps.len()) }
        }
        @if let Some(error) = &execution.error { p.warning { (error) } }
        @if !execution.status.is_final() { p.muted { "This page reloads every " (REFRESH_SECONDS) " seconds until the execution ends." } }
        section.panel aria-labelledby="trigger" {
            h2 #trigger { "Trigger" }
            (json_block(&execution.trigger, "trigger-json"))
        }
        h2 { "Steps" }
        @if steps.is_empty() {
            div.empty { p { "No step has run yet." } }
        }
        @for step in steps { (step_panel(step)) }
        p.muted {
            "The same records, unmasked and whole, are at "
            code { "GET " (API) "/formulas/instances/executions/" (execution.id) "/steps" } "."
        }
    };
    let page = Page { title: &title, section: Section::Formulas, session: Some(session), notice: None, body };
    if execution.status.is_final() {
        page.respond(state, StatusCode::OK)
    } else {
        page.respond_refreshing(state, StatusCode::OK, REFRESH_SECONDS)
    }
}

fn step_panel(step: &ExecutionStep) -> Markup {
    let heading = format!("step-{}", step.seq);
    html! {
        section.panel aria-labelledby=(heading) {
            // An h2: the console's h3 is capitalized, and a step's name is an identifier.
            div.title-row {
                h2 id=(heading) { (step.seq + 1) ". " (step.step_name) " " span.muted { "(" (step.step_type) ")" } }
                div { (step_badge(step.status)) }
            }
            dl.facts {
                dt { "Branch taken" }
                dd { @match &step.next_branch { Some(branch) => code { (branch) }, None => span.muted { "—" } } }
                dt { "Attempts" } dd { (step.attempts) }
                dt { "Started" } dd { (when(Some(step.started_at))) }
                dt { "Finished" } dd { (when(step.finished_at)) }
                dt { "Took" } dd { (took(step.started_at, step.finished_at)) }
            }
            @if let Some(error) = &step.error { p.warning { (error) } }
            h3 { "Input" }
            (json_block(&step.input, &format!("{heading}-input")))
            h3 { "Output" }
            @match &step.output {
                Some(output) => (json_block(output, &format!("{heading}-output"))),
                None => p.muted { "None yet." },
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Shared pieces

/// A `FormulaError` as a page: its 404 as the page `not_found` makes (a fixed text, not the id
/// typed), anything else as the API would answer it.
fn not_found_as(error: FormulaError, not_found: fn() -> ConsoleError) -> ConsoleError {
    match error {
        FormulaError::NotFound(_) => not_found(),
        other => other.into(),
    }
}

/// A 404 for a formula instance that is not the organization's (or does not exist).
fn no_formula_instance() -> ConsoleError {
    ConsoleError::new(
        StatusCode::NOT_FOUND,
        "No such formula instance",
        "This organization has no formula instance with that id.",
    )
    .next(html! { a href="/formulas" { "See your formulas" } })
}

/// A 404 for an execution that is not the organization's (or does not exist).
fn no_execution() -> ConsoleError {
    ConsoleError::new(StatusCode::NOT_FOUND, "No such execution", "This organization has no execution with that id.")
        .next(html! { a href="/formulas" { "See your formulas" } })
}

fn active_badge(active: bool) -> Markup {
    if active {
        html! { span.badge.ok { "active" } }
    } else {
        html! { span.badge.bad { "inactive" } }
    }
}

fn execution_badge(status: ExecutionStatus) -> Markup {
    match status {
        ExecutionStatus::Success => html! { span.badge.ok { (status.as_str()) } },
        ExecutionStatus::Failed => html! { span.badge.bad { (status.as_str()) } },
        _ => html! { span.badge { (status.as_str()) } },
    }
}

fn step_badge(status: StepStatus) -> Markup {
    match status {
        StepStatus::Success => html! { span.badge.ok { (status.as_str()) } },
        StepStatus::Failed => html! { span.badge.bad { (status.as_str()) } },
        StepStatus::Started => html! { span.badge { (status.as_str()) } },
    }
}

/// The array at `field` of a template (empty when absent or not an array).
fn json_array<'a>(template: &'a Value, field: &str) -> &'a [Value] {
    template.get(field).and_then(Value::as_array).map_or(&[], Vec::as_slice)
}

/// Whether the template is active (absent `active` reads as `true`).
fn template_active(template: &Value) -> bool {
    template.get("active").and_then(Value::as_bool).unwrap_or(true)
}

/// The template's trigger types, in order (`none` when it has none).
fn trigger_types(template: &Value) -> String {
    let types: Vec<&str> = json_array(template, "triggers")
        .iter()
        .map(|trigger| trigger.get("type").and_then(Value::as_str).unwrap_or("?"))
        .collect();
    if types.is_empty() {
        "none".into()
    } else {
        types.join(", ")
    }
}

/// How long from `start` to `end`, to the millisecond under a second (times are shown to the
/// minute); a dash before the end.
fn took(start: DateTime<Utc>, end: Option<DateTime<Utc>>) -> Markup {
    let Some(end) = end else {
        return html! { span.muted { "—" } };
    };
    let millis = (end - start).num_milliseconds().max(0);
    if millis < 1000 {
        html! { (millis) " ms" }
    } else {
        html! { (format!("{:.1}", millis as f64 / 1000.0)) " s" }
    }
}

/// An execution's trigger type (`manual`, `event`, `scheduled`, …).
fn trigger_type(trigger: &Value) -> Markup {
    match trigger.get("type").and_then(Value::as_str) {
        Some(kind) => html! { code { (kind) } },
        None => html! { span.muted { "—" } },
    }
}

/// A bound value for people: a string as it is, anything else as JSON, a secret-looking key's
/// masked.
fn scalar_text(key: &str, value: &Value) -> String {
    if is_secret_key(key) && !value.is_null() {
        return MASK.into();
    }
    match value {
        Value::String(text) => truncated(text),
        other => truncated(&masked(other).to_string()),
    }
}

/// Whether a key's value is a secret's by its name (see [`SECRET_KEY_PARTS`]).
fn is_secret_key(key: &str) -> bool {
    let lower = key.to_lowercase();
    SECRET_KEY_PARTS.iter().any(|part| lower.contains(part))
}

/// `value` with the value of every key whose name looks like a secret's ([`is_secret_key`])
/// replaced by [`MASK`], at any depth; a `null` stays `null` (there is nothing to hide, and it
/// says the value is absent).
pub fn masked(value: &Value) -> Value {
    match value {
        Value::Object(fields) => Value::Object(
            fields
                .iter()
                .map(|(key, value)| {
                    let shown =
                        if is_secret_key(key) && !value.is_null() { Value::String(MASK.into()) } else { masked(value) };
                    (key.clone(), shown)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(masked).collect()),
        other => other.clone(),
    }
}

/// `text` cut after `limit` characters; `None` when it is not longer.
fn cut(text: &str, limit: usize) -> Option<&str> {
    text.char_indices().nth(limit).map(|(end, _)| &text[..end])
}

/// A JSON value masked and indented in a `<pre id=…>`, cut after [`JSON_SHOWN`] characters.
fn json_block(value: &Value, id: &str) -> Markup {
    let text = serde_json::to_string_pretty(&masked(value)).unwrap_or_else(|_| value.to_string());
    match cut(&text, JSON_SHOWN) {
        None => html! { pre id=(id) tabindex="0" { (text) } },
        Some(shown) => html! {
            pre id=(id) tabindex="0" { (shown) "…" }
            p.muted { "Cut after " (JSON_SHOWN) " of its " (text.chars().count()) " characters." }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_looking_keys_are_masked_at_any_depth_and_other_values_kept() {
        let value = json!({
            "method": "GET",
            "headers": {"Authorization": "Bearer abc", "X-Api-Key": "k1", "Accept": "application/json"},
            "body": [{"password": "hunter2", "name": "Ann"}, {"refresh_token": {"nested": "x"}}],
            "clientSecret": 42,
            "monkey": "banana",
            "token": null,
        });
        let shown = masked(&value);
        assert_eq!(
            shown,
            json!({
                "method": "GET",
                "headers": {"Authorization": MASK, "X-Api-Key": MASK, "Accept": "application/json"},
                "body": [{"password": MASK, "name": "Ann"}, {"refresh_token": MASK}],
                "clientSecret": MASK,
                "monkey": MASK,
                "token": null,
            })
        );
        let text = shown.to_string();
        for secret in ["abc", "k1", "hunter2", "\"x\"", "42", "banana"] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
    }

    #[test]
    fn values_that_are_not_objects_pass_through() {
        for value in [json!("token"), json!(3), json!(null), json!(["secret", "key"])] {
            assert_eq!(masked(&value), value);
        }
    }

    #[test]
    fn a_secret_keys_bound_value_is_masked() {
        assert_eq!(scalar_text("apiKey", &json!("abc")), MASK);
        assert_eq!(scalar_text("crm", &json!(12)), "12");
        assert_eq!(scalar_text("greeting", &json!("hi")), "hi");
        assert_eq!(scalar_text("nested", &json!({"Password": "p"})), format!("{{\"Password\":\"{MASK}\"}}"));
    }

    #[test]
    fn long_json_is_cut_at_a_character_boundary() {
        assert_eq!(cut("abc", 3), None);
        assert_eq!(cut("abcd", 3), Some("abc"));
        assert_eq!(cut("ééé", 2), Some("éé"));
        let long = json!({"list": vec!["x"; JSON_SHOWN]});
        let markup = json_block(&long, "long").into_string();
        assert!(markup.contains("Cut after 20000 of its"), "{}", &markup[markup.len() - 200..]);
    }

    #[test]
    fn durations_are_milliseconds_under_a_second_then_seconds() {
        let start = DateTime::parse_from_rfc3339("2024-05-01T10:00:00Z").unwrap().with_timezone(&Utc);
        let after = |millis| Some(start + chrono::TimeDelta::milliseconds(millis));
        assert_eq!(took(start, after(42)).into_string(), "42 ms");
        assert_eq!(took(start, after(2345)).into_string(), "2.3 s");
        assert_eq!(took(start, after(-5)).into_string(), "0 ms");
        assert!(took(start, None).into_string().contains("—"));
    }

    #[test]
    fn run_arguments_are_json_or_nothing() {
        assert_eq!(run_args(""), Ok(json!({})));
        assert_eq!(run_args("  \n"), Ok(json!({})));
        assert_eq!(run_args("{\"pageSize\": 3}"), Ok(json!({"pageSize": 3})));
        let problem = run_args("{pageSize: 3}").unwrap_err();
        assert!(
            problem.starts_with("The arguments are not valid JSON: key must be a string at line 1 column 2"),
            "{problem}"
        );
    }

    #[test]
    fn the_run_notice_names_only_the_execution_number() {
        let queued = InstanceQuery { done: Some("queued".into()), execution: Some(9), before: None };
        assert!(matches!(done_notice(&queued), Some(Notice::Success(text)) if text.starts_with("Execution 9 queued")));
        let unknown = InstanceQuery { done: Some("<script>".into()), execution: Some(9), before: None };
        assert!(done_notice(&unknown).is_none());
    }

    #[test]
    fn templates_are_summarized_from_their_json() {
        let template = json!({"triggers": [{"type": "manual"}, {"type": "event"}], "steps": [{}, {}], "active": false});
        assert_eq!(trigger_types(&template), "manual, event");
        assert_eq!(json_array(&template, "steps").len(), 2);
        assert!(!template_active(&template));
        assert_eq!(trigger_types(&json!({})), "none");
        assert!(template_active(&json!({"steps": "not an array"})));
        assert!(json_array(&json!({"steps": "not an array"}), "steps").is_empty());
    }
}
