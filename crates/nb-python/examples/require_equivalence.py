"""require_equivalence=True: a failover answer is returned only when an independent
target agrees with it; otherwise `Unvouched` is raised, never a silent wrong answer."""

from _sim import simulate

from neuralbridge import SmartRouter, Unvouched

Q = "What is 17 + 25? Reply with the number only."

with simulate() as chaos:
    good = SmartRouter(providers=[chaos.provider("openai", "gpt-4o"),
                                  chaos.provider("anthropic", "claude-opus-4"),
                                  chaos.provider("gemini", "gemini-2.5-flash")])
    r = good.call(Q, require_equivalence=True)
    print(r.text, "| check:", r.report.check, "| vouched by:", r.report.vouched_by,
          "|", r.report.verdict)

    wrong = SmartRouter(providers=[chaos.provider("openai", "gpt-4o"),
                                   chaos.provider("drifting", "claude-opus-4"),
                                   chaos.provider("gemini", "gemini-2.5-flash")])
    try:
        wrong.call(Q, require_equivalence=True)
        raise SystemExit("a contradicted answer was served")
    except Unvouched as e:
        print("refused:", e)
        print("verdict:", e.report.verdict)
