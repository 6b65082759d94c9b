//! The sandboxed JavaScript engine for `filter` and `script` steps: QuickJS (quickjs-ng, through
//! `rquickjs`), one fresh runtime and context per script, with a memory limit, a time limit
//! enforced by QuickJS's interrupt handler, and a native stack limit.
//!
//! Owns running one script body against an execution's context and bringing back its result and
//! its `console` lines. Does not own deciding what runs next (the formula engine does), nor any
//! I/O: plain QuickJS has no network, file or process access, and no module loader is installed,
//! so `require`, `import()`, `fetch`, `std` and `os` do not exist inside a script.
//!
//! What a script sees, as the platforms gave it: the globals `trigger`, `steps` (earlier steps'
//! outputs by name), `config` and `info`, each a JSON copy (changing them changes nothing
//! outside), `done(value)`, and `console.log` (also `info`, `warn`, `error`, `debug`).
//!
//! Rules this module chose, where the facts are silent:
//! - The body runs as a function body, so `return done(x);` works as it did on the platforms.
//! - `done` may be called once; the first call's value is the result. A later call is ignored
//!   and noted in the log (the platforms' scripts commonly end `if (a) done(x); done(y);`).
//! - A script that ends without calling `done` fails with [`ScriptError::DoneNotCalled`], which
//!   says so. Promise jobs run to the end first, so `promise.then(done)` counts.
//! - An uncaught exception fails the script even after `done` was called, and so does a limit.
//! - Running out of memory is [`ScriptError::MemoryLimit`]; QuickJS reports it as a thrown
//!   `InternalError: out of memory` or, when even that cannot be allocated, a thrown `null`, so a
//!   script's own `throw null` is reported as the memory limit too.
//! - Values cross as JSON both ways. `done`'s value goes through `JSON.stringify`: `undefined`,
//!   a function or a symbol becomes `null`, as does `NaN` or `Infinity`; object members that are
//!   `undefined` or functions are dropped; a `Date` becomes its ISO string; a `BigInt` or a
//!   cyclic object makes `done` throw a `TypeError` inside the script. JavaScript has one number
//!   type: `1.0` comes back as `1`, `-0` as `0`, and integers past 2^53 lose precision.
//!
//! QuickJS is synchronous: [`Sandbox::run`] blocks its thread for up to the time limit. From async
//! code call [`Sandbox::run_async`], which runs it on Tokio's blocking pool.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::{Duration, Instant};

use rquickjs::function::{Opt, Rest};
use rquickjs::{Context, Ctx, FromJs as _, Function, Object, Runtime, Value as JsValue};
use serde_json::Value;

use crate::template::MAX_SCRIPT_BYTES;

/// The limits a script runs under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Wall-clock time from the start of the run, context creation included (default 5 s).
    pub time: Duration,
    /// Memory the script's runtime may allocate, the engine's own included (default 64 MiB).
    pub memory_bytes: usize,
    /// Native stack QuickJS may use for recursion (default 256 KiB); deep recursion is a
    /// `RangeError` in the script, never a crash of the thread.
    pub stack_bytes: usize,
    /// `console` lines kept (default 100); later ones are counted, not kept.
    pub log_lines: usize,
    /// Bytes kept of one `console` line (default 2,000); longer lines are cut.
    pub log_line_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            time: Duration::from_secs(5),
            memory_bytes: 64 * 1024 * 1024,
            stack_bytes: 256 * 1024,
            log_lines: 100,
            log_line_bytes: 2_000,
        }
    }
}

/// The globals a script sees. Each defaults to an empty object.
#[derive(Debug, Clone, PartialEq)]
pub struct ScriptContext {
    /// What started the execution (`trigger.event`, `trigger.args`, ...).
    pub trigger: Value,
    /// Earlier steps' outputs by step name.
    pub steps: Value,
    /// The formula instance's slot values by key.
    pub config: Value,
    /// `formulaId`, `formulaInstanceId`, `formulaExecutionId`, ...
    pub info: Value,
}

impl Default for ScriptContext {
    fn default() -> Self {
        let empty = || Value::Object(Default::default());
        Self { trigger: empty(), steps: empty(), config: empty(), info: empty() }
    }
}

/// Why a script gave no result. Each message says what happened and what to change.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ScriptError {
    #[error("the script ran longer than its time limit of {limit:?} and was stopped")]
    TimeLimit { limit: Duration },
    #[error("the script used more than its memory limit of {} MiB and was stopped", .limit_bytes / (1024 * 1024))]
    MemoryLimit { limit_bytes: usize },
    #[error("the script threw {message}")]
    Thrown { message: String },
    #[error("the script ended without calling done(value); call done with the step's result")]
    DoneNotCalled,
    #[error("a filter must call done(true) or done(false), not done({got})")]
    FilterNotBoolean { got: String },
    #[error("the script is {size} bytes; at most {max} are accepted")]
    TooLarge { size: usize, max: usize },
    /// The engine could not start or its thread was lost: not the script's fault.
    #[error("the script engine failed: {0}")]
    Engine(String),
}

/// What one run gave: its result and the `console` lines it wrote (kept on failure too).
#[derive(Debug, Clone, PartialEq)]
pub struct ScriptRun {
    /// `done`'s value, or why there is none.
    pub result: Result<Value, ScriptError>,
    /// `console` output, one entry per call, at most [`Limits::log_lines`] plus a last line
    /// counting those dropped.
    pub logs: Vec<String>,
}

impl ScriptRun {
    /// The result read as a filter's: `done(true)` or `done(false)`, anything else an error.
    pub fn filter_result(&self) -> Result<bool, ScriptError> {
        match &self.result {
            Ok(Value::Bool(b)) => Ok(*b),
            Ok(other) => Err(ScriptError::FilterNotBoolean { got: other.to_string() }),
            Err(e) => Err(e.clone()),
        }
    }
}

/// Runs scripts under [`Limits`]. Cheap to copy; holds no engine between runs.
#[derive(Debug, Clone, Copy, Default)]
pub struct Sandbox {
    limits: Limits,
}

impl Sandbox {
    /// A sandbox with these limits.
    pub fn new(limits: Limits) -> Self {
        Self { limits }
    }

    /// The limits scripts run under.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Runs `body` in a fresh runtime against `context`, blocking this thread until it ends or a
    /// limit stops it.
    pub fn run(&self, body: &str, context: &ScriptContext) -> ScriptRun {
        let logs = Rc::new(RefCell::new(LogSink::new(self.limits)));
        let result = self.run_inner(body, context, &logs);
        let logs = Rc::try_unwrap(logs)
            .map(|sink| sink.into_inner().finish())
            .unwrap_or_else(|shared| shared.borrow().clone().finish());
        ScriptRun { result, logs }
    }

    /// [`Sandbox::run`] on Tokio's blocking pool, so async callers never block a worker thread.
    pub async fn run_async(&self, body: String, context: ScriptContext) -> ScriptRun {
        let sandbox = *self;
        tokio::task::spawn_blocking(move || sandbox.run(&body, &context)).await.unwrap_or_else(|e| ScriptRun {
            result: Err(ScriptError::Engine(format!("the script's thread was lost: {e}"))),
            logs: Vec::new(),
        })
    }

    fn run_inner(
        &self,
        body: &str,
        context: &ScriptContext,
        logs: &Rc<RefCell<LogSink>>,
    ) -> Result<Value, ScriptError> {
        if body.len() > MAX_SCRIPT_BYTES {
            return Err(ScriptError::TooLarge { size: body.len(), max: MAX_SCRIPT_BYTES });
        }
        let deadline = Instant::now() + self.limits.time;
        let engine = |e: rquickjs::Error| ScriptError::Engine(e.to_string());
        let runtime = Runtime::new().map_err(engine)?;
        runtime.set_memory_limit(self.limits.memory_bytes);
        runtime.set_max_stack_size(self.limits.stack_bytes);
        let timed_out = Rc::new(Cell::new(false));
        let flag = timed_out.clone();
        runtime.set_interrupt_handler(Some(Box::new(move || {
            let over = Instant::now() >= deadline;
            if over {
                flag.set(true);
            }
            over
        })));
        let js = Context::full(&runtime).map_err(engine)?;
        let done: Rc<RefCell<Option<Value>>> = Rc::default();

        let outcome = js.with(|ctx| -> Result<(), Failure> {
            install_globals(&ctx, context, &done, logs).map_err(|e| Failure::from_js(&ctx, e))?;
            // A function body, so that `return` works; the body starts on line 1.
            let wrapped = format!("(function () {{{body}\n}})();");
            ctx.eval::<(), _>(wrapped).map_err(|e| Failure::from_js(&ctx, e))?;
            while ctx.execute_pending_job() {
                // The interrupt handler stops each job; this stops an endless chain of them.
                if Instant::now() >= deadline {
                    return Err(Failure::TimeLimit);
                }
            }
            Ok(())
        });

        match outcome {
            // Whatever the script saw, an interrupt means the time limit stopped it.
            _ if timed_out.get() => Err(ScriptError::TimeLimit { limit: self.limits.time }),
            Err(Failure::TimeLimit) => Err(ScriptError::TimeLimit { limit: self.limits.time }),
            Err(Failure::OutOfMemory) => Err(ScriptError::MemoryLimit { limit_bytes: self.limits.memory_bytes }),
            Err(Failure::Other(message)) => Err(ScriptError::Thrown { message }),
            Ok(()) => done.borrow_mut().take().ok_or(ScriptError::DoneNotCalled),
        }
    }
}

/// How a run ended early, as read inside the context.
enum Failure {
    TimeLimit,
    OutOfMemory,
    Other(String),
}

impl Failure {
    fn from_js(ctx: &Ctx<'_>, error: rquickjs::Error) -> Self {
        match error {
            rquickjs::Error::Allocation => Self::OutOfMemory,
            rquickjs::Error::Exception => {
                let thrown = ctx.catch();
                // QuickJS throws `InternalError: out of memory`, or `null` when it cannot even
                // allocate that error. A script's own `throw null` reads the same: it is reported
                // as the memory limit too (memory is freed as the stack unwinds, so usage after
                // the fact cannot tell them apart, and a thrown null has no message to show).
                let out_of_memory = thrown.is_null()
                    || thrown.as_exception().and_then(|e| e.message()).is_some_and(|m| m == "out of memory");
                if out_of_memory {
                    Self::OutOfMemory
                } else {
                    Self::Other(describe_thrown(ctx, &thrown))
                }
            }
            other => Self::Other(other.to_string()),
        }
    }
}

/// `TypeError: x is not a function (at line 3)`, or the JSON of a thrown non-error.
fn describe_thrown<'js>(ctx: &Ctx<'js>, thrown: &JsValue<'js>) -> String {
    if let Some(exception) = thrown.as_exception() {
        let name: Option<String> = exception.get("name").ok();
        let message = exception.message().unwrap_or_default();
        let mut text = format!("{}: {message}", name.as_deref().unwrap_or("Error"));
        if let Some(line) = exception.stack().as_deref().and_then(first_line_number) {
            text.push_str(&format!(" (at line {line})"));
        }
        return text;
    }
    display(ctx, thrown)
}

/// The line of the script's first frame in a QuickJS stack (`at <anonymous> (eval_script:3:5)`).
fn first_line_number(stack: &str) -> Option<u32> {
    let at = stack.find("eval_script:")? + "eval_script:".len();
    let digits: String = stack[at..].chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

fn install_globals<'js>(
    ctx: &Ctx<'js>,
    context: &ScriptContext,
    done: &Rc<RefCell<Option<Value>>>,
    logs: &Rc<RefCell<LogSink>>,
) -> rquickjs::Result<()> {
    let globals = ctx.globals();
    for (name, value) in
        [("trigger", &context.trigger), ("steps", &context.steps), ("config", &context.config), ("info", &context.info)]
    {
        globals.set(name, ctx.json_parse(value.to_string())?)?;
    }

    let slot = done.clone();
    let sink = logs.clone();
    let done_fn = Function::new(ctx.clone(), move |ctx: Ctx<'js>, value: Opt<JsValue<'js>>| -> rquickjs::Result<()> {
        let json = match value.0 {
            Some(v) => ctx.json_stringify(v)?,
            None => None,
        };
        let value = match json {
            Some(text) => serde_json::from_str(&text.to_string()?).unwrap_or(Value::Null),
            None => Value::Null,
        };
        let mut slot = slot.borrow_mut();
        if slot.is_none() {
            *slot = Some(value);
        } else {
            sink.borrow_mut().push("done() called again; the first call's value is kept".into());
        }
        Ok(())
    })?;
    globals.set("done", done_fn)?;

    let console = Object::new(ctx.clone())?;
    for method in ["log", "info", "warn", "error", "debug"] {
        let sink = logs.clone();
        let log = Function::new(ctx.clone(), move |ctx: Ctx<'js>, args: Rest<JsValue<'js>>| {
            let line: Vec<String> = args.0.iter().map(|v| display(&ctx, v)).collect();
            sink.borrow_mut().push(line.join(" "));
        })?;
        console.set(method, log)?;
    }
    globals.set("console", console)?;
    Ok(())
}

/// A value as `console.log` shows it: strings as they are, errors as `Name: message`, other
/// values as JSON where they have it.
fn display<'js>(ctx: &Ctx<'js>, value: &JsValue<'js>) -> String {
    if let Some(s) = value.as_string() {
        return s.to_string().unwrap_or_default();
    }
    if value.is_undefined() {
        return "undefined".into();
    }
    if value.is_function() {
        return "[function]".into();
    }
    if let Some(e) = value.as_exception() {
        let name: Option<String> = e.get("name").ok();
        return format!("{}: {}", name.as_deref().unwrap_or("Error"), e.message().unwrap_or_default());
    }
    match ctx.json_stringify(value.clone()) {
        Ok(Some(s)) => s.to_string().unwrap_or_default(),
        // A BigInt, a symbol, a cyclic object: its string conversion instead.
        _ => {
            let _ = ctx.catch();
            rquickjs::convert::Coerced::<String>::from_js(ctx, value.clone()).map(|c| c.0).unwrap_or_else(|_| {
                let _ = ctx.catch();
                "[value]".into()
            })
        }
    }
}

/// `console` lines, bounded in number and length.
#[derive(Debug, Clone)]
struct LogSink {
    lines: Vec<String>,
    dropped: usize,
    max_lines: usize,
    max_line_bytes: usize,
}

impl LogSink {
    fn new(limits: Limits) -> Self {
        Self { lines: Vec::new(), dropped: 0, max_lines: limits.log_lines, max_line_bytes: limits.log_line_bytes }
    }

    fn push(&mut self, mut line: String) {
        if self.lines.len() >= self.max_lines {
            self.dropped += 1;
            return;
        }
        if line.len() > self.max_line_bytes {
            let mut cut = self.max_line_bytes;
            while !line.is_char_boundary(cut) {
                cut -= 1;
            }
            line.truncate(cut);
            line.push_str(" …(cut)");
        }
        self.lines.push(line);
    }

    fn finish(mut self) -> Vec<String> {
        if self.dropped > 0 {
            self.lines.push(format!("({} more console lines not kept)", self.dropped));
        }
        self.lines
    }
}
