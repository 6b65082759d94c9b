//! What a fresh sandbox costs: creates a runtime and a context and runs the platforms' example
//! filter, 1,000 times, and prints the mean.
//!
//! `cargo run --release -p junction-formulas --example script_cost`

use std::time::Instant;

use formulas::script::{Sandbox, ScriptContext};
use serde_json::json;

fn main() {
    let sandbox = Sandbox::default();
    let context = ScriptContext {
        trigger: json!({"event": {"eventType": "UPDATED", "objectType": "Contact", "objectId": "12"}}),
        ..ScriptContext::default()
    };
    let body = "done(trigger.event.eventType === 'UPDATED' && trigger.event.objectType === 'Contact');";
    let runs = 1_000u32;
    let started = Instant::now();
    for _ in 0..runs {
        let run = sandbox.run(body, &context);
        assert_eq!(run.filter_result(), Ok(true));
    }
    let mean = started.elapsed() / runs;
    let profile = if cfg!(debug_assertions) { "debug" } else { "release" };
    println!("fresh runtime + context + trivial filter: mean {mean:?} over {runs} runs ({profile} build)");
}
