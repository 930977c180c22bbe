"""Streams: text deltas, failover before the first delta, the report at the end."""

from __future__ import annotations

import pytest

import neuralbridge as nb

Q = "Classify the sentiment of this review as positive, negative or neutral: \"I love this phone, it works great\""


def test_stream_yields_deltas_and_reports_at_the_end(make_router):
    s = make_router("down", "openai").stream(Q)
    assert s.report is None
    deltas = list(s)
    assert len(deltas) >= 1
    text = "".join(deltas)
    assert "positive" in text.lower()
    assert s.text == text
    assert s.report.served_by == "openai/gpt-4o-mini"
    assert s.report.failed_over is True
    assert s.report.attempts[0].failure_class == "network"


async def test_astream(make_router):
    s = make_router("down", "claude").astream(Q)
    deltas = [d async for d in s]
    assert "positive" in "".join(deltas).lower()
    assert s.report.served_by == "claude/claude-sonnet-4-5"


def test_a_stream_that_breaks_after_content_raises_stream_broken(make_router):
    s = make_router("mid_stream_error", "openai").stream(Q)
    got = []
    with pytest.raises(nb.StreamBroken) as e:
        for d in s:
            got.append(d)
    assert got, "content arrived before the break"
    assert e.value.partial == "".join(got)
    assert e.value.report.served_by == "mid_stream_error/gpt-4o-mini"


def test_a_stream_with_no_target_raises_at_the_first_next(make_router):
    s = make_router("down").stream(Q)
    with pytest.raises(nb.NetworkError):
        next(iter(s))
