"""Shield: the self-healing loop made observable — a callback, or an iterator."""

from _sim import simulate

from neuralbridge import Shield, SmartRouter

with simulate() as chaos:
    router = SmartRouter(providers=[chaos.provider("openai", "gpt-4o"),
                                    chaos.provider("anthropic", "claude-opus-4")],
                         breaker={"consecutive_failures": 2})
    with Shield(router, enable_self_healing=True,
                on_event=lambda e: print("event:", e)) as shield:
        events = shield.events()
        for _ in range(3):
            shield.call("What is 2 + 2? Reply with the number only.")
        seen = events.drain()
        print(len(seen), "events;", sorted({(e.kind, e.outcome) for e in seen}))
        print("openai's health:", shield.health("openai/gpt-4o"))
        assert any(e.kind == "breaker" and e.outcome == "open" for e in seen)
