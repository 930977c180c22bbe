"""The Python package against the Rust SDK: same router, same loopback upstream, same run.

Run by `cargo xtask bench-python [--calls N] [--rounds R] [--concurrency C]` (release builds of the wheel and
of nb-chaos). The Rust SDK is measured by `neuralbridge._native._bench_rust`, which
drives `SmartRouter::chat` from Rust on the same runtime, so the difference is what the
Python face costs: argument conversion, the GIL, the result objects, asyncio's futures.

- C=1: one call at a time; the median latency of `router.call` (blocking), of
  `await router.acall` (asyncio) and of the Rust SDK's `chat`, and the differences.
- C=32: 32 asyncio tasks calling `acall` in a loop against 32 Rust tasks calling `chat`:
  calls per second, and the ratio.

Each round measures Rust and Python back to back, so drift on a shared machine hits both
alike; differences and ratios are medians of the rounds' own.
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
    ap.add_argument("--calls", type=int, default=1000, help="calls per round and mode")
    ap.add_argument("--rounds", type=int, default=10)
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
        d_call, d_acall, ratio_c = [], [], []
        for _ in range(a.rounds):
            lat, _ = _native._bench_rust(router, Q, n, 1)
            p = python_sync(router, n)
            ap = asyncio.run(python_async_c1(router, n))
            rust1 += lat
            py1 += p
            apy1 += ap
            m = statistics.median
            d_call.append(m(p) - m(lat))
            d_acall.append(m(ap) - m(lat))
            _, wall = _native._bench_rust(router, Q, n, c)
            py_wall = asyncio.run(python_async_cn(router, n, c))
            rust_c.append(n / wall)
            py_c.append(n / py_wall)
            ratio_c.append(wall / py_wall)

    m = statistics.median
    r1, p1, ap1 = m(rust1), m(py1), m(apy1)
    rc, pc = m(rust_c), m(py_c)
    dc, dac, rat = m(d_call), m(d_acall), m(ratio_c)
    print(f"\n{a.rounds} rounds of {n} calls per mode; nb-chaos on loopback, one target.")
    print("Latencies: medians over every call; differences and the throughput ratio: medians of")
    print("the rounds' own (each round measures Rust and Python back to back).\n")
    print("| mode | Rust SDK | Python | over the Rust SDK | ratio |")
    print("|---|---|---|---|---|")
    print(f"| C=1, `router.call` (blocking), median latency | {us(r1)} | {us(p1)} | {us(dc)} | {p1 / r1:.2f}× |")
    print(f"| C=1, `await router.acall`, median latency | {us(r1)} | {us(ap1)} | {us(dac)} | {ap1 / r1:.2f}× |")
    print(f"| C={c}, asyncio `acall`, calls per second | {rc:,.0f} | {pc:,.0f} | — | {rat:.2f}× the Rust SDK's throughput |")
    print()
    print(f"goal: ≤ 30 µs per call over the Rust SDK at C=1 (call): {'met' if dc <= 30e-6 else 'NOT met'}")
    print(f"goal: ≥ 0.8× the Rust SDK's throughput at C={c}: {'met' if rat >= 0.8 else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
