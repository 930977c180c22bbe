//! The Python SDK's quick start, in Rust: three providers, a schema guard, and a call
//! that requires equivalence — read side by side with `docs/coming-from-python.md`.
//!
//! ```python
//! router = SmartRouter(providers=[{"name": "openai", "model": "gpt-4o"},
//!                                 {"name": "anthropic", "model": "claude-sonnet-4-5"},
//!                                 {"name": "gemini", "model": "gemini-2.5-flash"}])
//! shield = Shield(router, enable_self_healing=True)
//! guard = Guard(shield, schema=PERSON, enable_semantic_check=True)
//! answer = guard.call(prompt, require_equivalence=True)
//! ```
//!
//! `cargo run -p neuralbridge --example coming_from_python` (simulated providers, no key).

mod common;

use nb_chaos::tasks::Task;
use nb_chaos::{Fault, FaultKind, ProviderSpec, WireFormat};
use neuralbridge::prelude::*;
use serde_json::json;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The simulated stand-ins for OpenAI, Anthropic and Gemini; OpenAI is down.
    let chaos = common::simulate(vec![
        ProviderSpec::new("openai", WireFormat::OpenAi, "gpt-4o")
            .with_fault(Fault::always(FaultKind::Outage).in_window(0.0, None)),
        ProviderSpec::new("anthropic", WireFormat::Anthropic, "claude-sonnet-4-5"),
        ProviderSpec::new("gemini", WireFormat::Gemini, "gemini-2.5-flash"),
    ])
    .await;
    let h = chaos.handle();

    // SmartRouter(providers=[...]): one target per provider and model, in order of
    // preference. With real keys: Target::new(TargetId::new("openai", "gpt-4o"),
    // OpenAi::from_env("gpt-4o")?), and so on.
    //
    // Shield(router, enable_self_healing=True): nothing to add — classification,
    // breakers, cool-downs, the retry budget and failover are the router itself.
    //
    // Guard(router, schema=..., enable_semantic_check=True): a JSON Schema validator
    // (repair once, then fail over) and vouching for failover answers.
    let person = json!({
        "type": "object",
        "required": ["name", "age", "city"],
        "properties": {"name": {"type": "string"}, "age": {"type": "integer"}, "city": {"type": "string"}}
    });
    let router = SmartRouter::builder()
        .target(common::target(&h, "openai", WireFormat::OpenAi))
        .target(common::target(&h, "anthropic", WireFormat::Anthropic))
        .target(common::target(&h, "gemini", WireFormat::Gemini))
        .validator(JsonSchema::new(&person)?)
        .vouch(Vouching::consensus(Strict)) // require_equivalence=True for failover answers
        .build()?;

    // router.call(prompt, require_equivalence=True)
    let task = Task::Extract {
        name: "Ana".into(),
        age: 34,
        city: "Lyon".into(),
    };
    let req = ChatRequest::user(task.prompt()).with_response_format(ResponseFormat::JsonObject);
    match router.chat(&req).await {
        Ok(routed) => {
            println!("answer: {}", routed.value.text);
            println!("{}", routed.report);
            let v = routed
                .report
                .verdict
                .as_ref()
                .expect("a failover answer is vouched for");
            println!("vouched by {} ({}: {})", v.reference, v.method, v.reason);
            assert!(routed.report.failed_over, "OpenAI is down");
            assert!(task.check(&routed.value.text));
        }
        // An answer nobody can vouch for is an error, never a success.
        Err(e) => println!("refused: {e}"),
    }
    Ok(())
}
