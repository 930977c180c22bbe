"""The API NeuralBridge's Python users know, as written — against simulated providers.

    python crates/nb-python/examples/quickstart.py

With real keys, drop `chaos.provider(...)` for plain dicts:
`{"name": "openai", "model": "gpt-4o"}` (the key comes from OPENAI_API_KEY).
"""

from _sim import simulate

from neuralbridge import Guard, Shield, SmartRouter

output_schema = {
    "type": "object",
    "required": ["name", "age", "city"],
    "properties": {"name": {"type": "string"}, "age": {"type": "integer"}, "city": {"type": "string"}},
}
prompt = "What is 17 + 25? Reply with the number only."

with simulate() as chaos:
    router = SmartRouter(providers=[
        chaos.provider("openai", "gpt-4o"),          # {"name": "openai", "model": "gpt-4o"}
        chaos.provider("anthropic", "claude-opus-4"),
        chaos.provider("deepseek", "deepseek-v3"),
    ])
    shield = Shield(router, enable_self_healing=True)
    guard = Guard(router, schema=output_schema, enable_semantic_check=True)
    result = router.call(prompt, require_equivalence=True)

    print("answer:", result.text)
    print("served by:", result.report.served_by, "| failed over:", result.report.failed_over)
    print("check:", result.report.check, "| vouched by:", result.report.vouched_by)
    person = guard.call("Extract name, age and city as JSON from: Ana is 34 years old and lives in Lyon.")
    print("guarded:", person)
    assert result.text.strip() == "42" and result.report.failed_over
