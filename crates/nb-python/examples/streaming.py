"""Streams: text deltas as they come (`for` and `async for`), the report at the end.
A stream fails over freely until its first delta."""

import asyncio

from _sim import simulate

from neuralbridge import SmartRouter

Q = 'Classify the sentiment of this review as positive, negative or neutral: "Great battery, love it"'

with simulate() as chaos:
    router = SmartRouter(providers=[chaos.provider("openai", "gpt-4o"),
                                    chaos.provider("anthropic", "claude-opus-4")])
    s = router.stream(Q)
    for delta in s:
        print(delta, end="", flush=True)
    print("\n", s.report)

    async def main() -> None:
        s = router.astream(Q)
        async for delta in s:
            print(delta, end="", flush=True)
        print("\n served by", s.report.served_by)

    asyncio.run(main())
