"""Failover, and the report that says what happened: OpenAI is down, Anthropic answers."""

from _sim import simulate

from neuralbridge import SmartRouter

with simulate() as chaos:
    router = SmartRouter(providers=[chaos.provider("openai", "gpt-4o"),
                                    chaos.provider("anthropic", "claude-opus-4")])
    r = router.call([
        {"role": "system", "content": "Answer with the number only."},
        {"role": "user", "content": "What is 6 * 7?"},
    ])
    print(r.text)
    print(r.report)                      # served by anthropic/claude-opus-4 after 2 attempt(s) ...
    for a in r.report.attempts:
        print(" ", a.target, a.outcome, a.failure_class, f"{a.latency * 1000:.1f} ms")
    print("usage:", r.report.usage, "cost:", r.report.cost)
    assert r.report.failed_over and r.report.attempts[0].failure_class == "network"
