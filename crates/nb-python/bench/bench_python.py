"""The Python package against the Rust SDK: same router, same loopback upstream, same run.

Run by `cargo xtask bench-python [--calls N] [--rounds R]` (release builds of the wheel and
of nb-chaos). The Rust SDK is measured by `neuralbridge._native._bench_rust`, which
drives `SmartRouter::chat` from Rust on the same runtime, so the difference is what the
Python face costs: argument conversion, the GIL, the result objects, asyncio's futures.

- C=1: one call at a time; the median latency of `router.call` (blocking), of
  `await router.acall` (asyncio) and of the Rust SDK's `chat`, and the differences.
- C=32: 32 asyncio tasks calling `acall` in a loop against 32 Rust tasks calling `chat`:
  calls per second, and the ratio.

Rounds alternate Python and Rust so drift on a shared machine hits both alike; the
figures are medians over every call of every round (C=1) and of the rounds (C=32).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time

from neuralbridge import SmartRouter, _native
from neuralbridge.chaos import Chaos

Q = "What is 17 + 25? Reply with the number only."

SCENARIO = """
description = "bench-python: one healthy provider on loopback"
seed = 7

[[providers]]
name = "openai"
format = "openai"
models = [{ name = "gpt-4o-mini" }]
"""


def python_sync(router: SmartRouter, n: int) -> "list[float]":
    out = []
    for _ in range(n):
        t = time.perf_counter()
        router.call(Q)
        out.append(time.perf_counter() - t)
    return out


async def python_async_c1(router: SmartRouter, n: int) -> "list[float]":
    out = []
    for _ in range(n):
        t = time.perf_counter()
        await router.acall(Q)
        out.append(time.perf_counter() - t)
    return out


async def python_async_cn(router: SmartRouter, n: int, c: int) -> float:
    per = -(-n // c)

    async def worker(k: int) -> None:
        for _ in range(k):
            await router.acall(Q)

    t = time.perf_counter()
    await asyncio.gather(*(worker(min(per, n - i * per)) for i in range(c)))
    return time.perf_counter() - t


def us(s: float) -> str:
    return f"{s * 1e6:.1f} µs"


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--calls", type=int, default=2000, help="calls per round and mode")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--concurrency", type=int, default=32)
    a = ap.parse_args()
    n, c = a.calls, a.concurrency

    with Chaos(SCENARIO) as chaos:
        router = SmartRouter(
            providers=[chaos.provider("openai", "gpt-4o-mini")],
            policy={"attempt_timeout_ms": 10000, "deadline_ms": 20000},
        )
        # Warm up connections, the runtime and both paths.
        python_sync(router, 200)
        _native._bench_rust(router, Q, 200, c)
        asyncio.run(python_async_cn(router, 200, c))

        rust1, py1, apy1, rust_c, py_c = [], [], [], [], []
        for _ in range(a.rounds):
            lat, _ = _native._bench_rust(router, Q, n, 1)
            rust1 += lat
            py1 += python_sync(router, n)
            apy1 += asyncio.run(python_async_c1(router, n))
            _, wall = _native._bench_rust(router, Q, n, c)
            rust_c.append(n / wall)
            py_c.append(n / asyncio.run(python_async_cn(router, n, c)))

    r1, p1, ap1 = (statistics.median(x) for x in (rust1, py1, apy1))
    rc, pc = statistics.median(rust_c), statistics.median(py_c)
    print(f"\n{a.rounds} rounds of {n} calls per mode; nb-chaos on loopback, one target.\n")
    print("| mode | Rust SDK | Python | over the Rust SDK | ratio |")
    print("|---|---|---|---|---|")
    print(f"| C=1, `router.call` (blocking), median latency | {us(r1)} | {us(p1)} | {us(p1 - r1)} | {p1 / r1:.2f}× |")
    print(f"| C=1, `await router.acall`, median latency | {us(r1)} | {us(ap1)} | {us(ap1 - r1)} | {ap1 / r1:.2f}× |")
    print(f"| C={c}, asyncio `acall`, calls per second | {rc:,.0f} | {pc:,.0f} | — | {pc / rc:.2f}× the Rust SDK's throughput |")
    print()
    goal1 = max(p1 - r1, ap1 - r1) <= 30e-6
    goal2 = pc / rc >= 0.8
    print(f"goal: ≤ 30 µs per call over the Rust SDK at C=1: {'met' if goal1 else 'NOT met'}")
    print(f"goal: ≥ 0.8× the Rust SDK's throughput at C={c}: {'met' if goal2 else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
