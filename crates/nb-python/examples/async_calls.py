"""asyncio: many calls at once on the one shared runtime; cancelling one cancels its
attempts."""

import asyncio

from _sim import simulate

from neuralbridge import SmartRouter

with simulate() as chaos:
    router = SmartRouter(providers=[chaos.provider("anthropic", "claude-opus-4"),
                                    chaos.provider("deepseek", "deepseek-v3")])

    async def main() -> None:
        qs = [f"What is {a} + {a}? Reply with the number only." for a in range(100)]
        answers = await asyncio.gather(*(router.acall(q) for q in qs))
        assert [a.text.strip() for a in answers] == [str(2 * a) for a in range(100)]
        print(len(answers), "answers;", answers[0].report.served_by)
        # A deadline per call, in seconds.
        r = await asyncio.wait_for(router.acall(qs[21], deadline=5.0), timeout=10)
        print(r.text)

    asyncio.run(main())
