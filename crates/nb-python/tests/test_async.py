"""asyncio: acall, 1,000 calls at once on one shared runtime, and cancellation."""

from __future__ import annotations

import asyncio
import time

import pytest

import neuralbridge as nb

Q = "What is 17 + 25? Reply with the number only."


async def test_acall(make_router):
    r = await make_router("down", "openai").acall(Q)
    assert r.text.strip() == "42"
    assert r.report.failed_over


async def test_a_thousand_concurrent_acalls(make_router):
    router = make_router("openai", "claude", policy={"attempt_timeout_ms": 20000, "deadline_ms": 30000})
    results = await asyncio.gather(*(router.acall(Q) for _ in range(1000)))
    assert len(results) == 1000
    assert all(r.text.strip() == "42" for r in results)
    assert sum(r.report.served_by is not None for r in results) == 1000


async def test_the_event_loop_runs_while_calls_wait(make_router):
    # A call waiting on a slow upstream does not block the loop: ticks keep coming.
    router = make_router("hang", policy={"attempt_timeout_ms": 500, "deadline_ms": 1000,
                                         "max_attempts": 1})
    ticks = 0

    async def tick():
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    t = asyncio.ensure_future(tick())
    with pytest.raises(nb.NeuralBridgeError):
        await router.acall(Q)
    t.cancel()
    assert ticks >= 10


async def test_cancelling_an_acall_gives_its_permit_back(make_router):
    # `flaky` fails its first two requests (the breaker opens), hangs on the third (the
    # half-open breaker's only probe: the call we cancel) and answers after that. If the
    # cancelled call kept its probe permit, the breaker could never close again and the
    # last call would be refused as Unavailable.
    router = make_router(
        "flaky",
        policy={"attempt_timeout_ms": 20000, "deadline_ms": 30000, "max_retries_per_target": 0,
                "recovery_probe_ms": 0, "when_all_open": "fail-fast"},
        breaker={"consecutive_failures": 2, "open_ms": 200, "half_open_probes": 1,
                 "close_after": 1},
    )
    for _ in range(2):
        with pytest.raises(nb.ServerError):
            await router.acall(Q)
    assert router.health("flaky/gpt-4o-mini")["breaker"] == "open"
    with pytest.raises(nb.Unavailable):
        await router.acall(Q)
    await asyncio.sleep(0.3)
    task = asyncio.ensure_future(router.acall(Q))  # the probe: hangs upstream
    await asyncio.sleep(0.3)
    assert not task.done()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await asyncio.sleep(0.05)
    r = await router.acall(Q)
    assert r.text.strip() == "42"
    assert router.health("flaky/gpt-4o-mini")["breaker"] == "closed"


def test_blocking_calls_release_the_gil(make_router):
    import threading

    router = make_router("hang", policy={"attempt_timeout_ms": 400, "deadline_ms": 800,
                                         "max_attempts": 1})
    done = []

    def slow():
        try:
            router.call(Q)
        except nb.NeuralBridgeError:
            done.append(time.monotonic())

    t = threading.Thread(target=slow)
    t0 = time.monotonic()
    t.start()
    spins = 0
    while t.is_alive():
        spins += 1
        time.sleep(0.001)
    t.join()
    assert done and done[0] - t0 >= 0.3
    assert spins >= 50


def test_ctrl_c_interrupts_a_blocking_call(make_router):
    import os
    import signal
    import threading

    router = make_router("hang", policy={"attempt_timeout_ms": 10000, "deadline_ms": 20000,
                                         "max_attempts": 1})
    timer = threading.Timer(0.3, lambda: os.kill(os.getpid(), signal.SIGINT))
    t0 = time.monotonic()
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            router.call(Q)
    finally:
        timer.cancel()
    assert time.monotonic() - t0 < 3


def test_a_loop_that_cannot_watch_a_socket_still_gets_answers(make_router):
    # Windows' proactor loop has no add_reader: acall falls back to another hand-off.
    class NoReaders(asyncio.SelectorEventLoop):
        def add_reader(self, *args):
            raise NotImplementedError

    router = make_router("down", "openai")

    async def main():
        rs = await asyncio.gather(*(router.acall(Q) for _ in range(20)))
        return [r.text.strip() for r in rs]

    loop = NoReaders()
    try:
        assert loop.run_until_complete(main()) == ["42"] * 20
    finally:
        loop.close()
