"""Exceptions mirror the failure classes, with `retry_after` and the report."""

from _sim import simulate

import neuralbridge as nb

with simulate() as chaos:
    router = nb.SmartRouter(providers=[chaos.provider("limited", "gpt-4o")])
    try:
        router.call("What is 1 + 1? Reply with the number only.")
    except nb.RateLimited as e:
        print(type(e).__name__, "| retry after", e.retry_after, "s |", e.failure_class)
        print(e.report)
    except nb.NeuralBridgeError as e:  # the base of them all
        raise SystemExit(f"unexpected: {e!r}")

    try:
        nb.SmartRouter(providers=[{"name": "somewhere", "model": "m"}])
    except nb.ConfigError as e:
        print("ConfigError:", e)
