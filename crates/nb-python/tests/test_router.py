"""SmartRouter over nb-chaos: answers, failover, vouching and refusal, messages, reports."""

from __future__ import annotations

import pytest

import neuralbridge as nb
from neuralbridge import Shield, SmartRouter

Q = "What is 17 + 25? Reply with the number only."


def test_the_api_as_python_users_know_it(chaos, make_router):
    router = make_router("down", "openai", "claude", "gemini")
    shield = Shield(router, enable_self_healing=True)
    guard = nb.Guard(router, schema={"type": "object"}, enable_semantic_check=True)
    result = router.call(Q, require_equivalence=True)
    assert result.text.strip() == "42"
    assert str(result) == result.text
    assert shield.router is router and guard.router is router


def test_failover_is_reported(make_router):
    router = make_router("down", "openai", "claude")
    r = router.call(Q)
    assert r.text.strip() == "42"
    rep = r.report
    assert rep.served_by == "openai/gpt-4o-mini"
    assert rep.failed_over is True
    first = rep.attempts[0]
    assert first.target == "down/gpt-4o-mini"
    assert first.outcome == "failed"
    assert first.failure_class == "network"
    assert any(a.outcome == "ok" and a.target == "openai/gpt-4o-mini" for a in rep.attempts)
    assert rep.elapsed > 0
    assert rep.usage is not None and rep.usage.output_tokens > 0
    assert "served by openai/gpt-4o-mini" in str(rep)
    d = rep.to_dict()
    assert d["served_by"] == "openai/gpt-4o-mini" and d["failed_over"] is True


def test_first_choice_is_not_a_failover(make_router):
    r = make_router("openai", "claude").call(Q)
    assert r.report.failed_over is False
    assert r.report.check == "first-choice"
    assert r.report.vouched_by is None


def test_failover_answer_is_vouched_for(make_router):
    router = make_router("down", "openai", "claude", "gemini")
    r = router.call(Q, require_equivalence=True)
    assert r.text.strip() == "42"
    assert r.report.check in ("vouched", "vouched-by-reference")
    assert r.report.vouched_by in ("claude/claude-sonnet-4-5", "gemini/gemini-2.5-flash")
    assert r.report.verdict is not None
    assert r.report.verdict.outcome == "equivalent"
    assert r.report.verdict.reference == r.report.vouched_by


def test_a_contradicted_answer_is_refused(make_router):
    router = make_router("down", "drift", "gemini")
    with pytest.raises(nb.Unvouched) as e:
        router.call(Q, require_equivalence=True)
    assert e.value.kind == "unvouched"
    assert e.value.report is not None
    assert e.value.report.verdict is not None
    assert e.value.report.verdict.outcome == "not-equivalent"


def test_an_answer_nobody_can_vouch_for_is_refused_when_required(make_router):
    router = make_router("down", "openai")
    with pytest.raises(nb.Unvouched):
        router.call(Q, require_equivalence=True)
    # Without the requirement it is served, flagged.
    r = router.call(Q)
    assert r.report.check == "unvouchable"


def test_messages_in_the_openai_shape(make_router):
    router = make_router("openai")
    r = router.call(
        [
            {"role": "system", "content": "You are terse."},
            {"role": "user", "content": [{"type": "text", "text": Q}]},
        ]
    )
    assert r.text.strip() == "42"
    with pytest.raises(ValueError):
        router.call([{"role": "wizard", "content": "hi"}])
    with pytest.raises(TypeError):
        router.call(42)


def test_from_config(chaos, tmp_path):
    path = tmp_path / "nb.toml"
    path.write_text(
        f"""
[providers.down]
kind = "openai"
base_url = "{chaos.base_url('down')}"
api_key_env = "NB_CHAOS_KEY"

[providers.claude]
kind = "anthropic"
base_url = "{chaos.base_url('claude')}"
api_key_env = "NB_CHAOS_KEY"

[[targets]]
provider = "down"
model = "gpt-4o-mini"

[[targets]]
provider = "claude"
model = "claude-sonnet-4-5"

[policy]
attempt_timeout_ms = 2000
deadline_ms = 5000
"""
    )
    router = SmartRouter.from_config(str(path))
    assert router.targets == ["down/gpt-4o-mini", "claude/claude-sonnet-4-5"]
    r = router.call(Q)
    assert r.report.served_by == "claude/claude-sonnet-4-5"
    with pytest.raises(nb.ConfigError) as e:
        SmartRouter.from_config(str(tmp_path / "missing.toml"))
    assert "missing.toml" in str(e.value)


def test_provider_options(chaos):
    router = SmartRouter(
        providers=[
            chaos.provider("openai", "gpt-4o-mini", weight=3, context_window=128000,
                           cost={"input_per_mtok": 0.15, "output_per_mtok": 0.6}),
        ]
    )
    r = router.call(Q)
    assert r.report.cost is not None and r.report.cost > 0
    with pytest.raises(nb.ConfigError) as e:
        SmartRouter(providers=[chaos.provider("openai", "gpt-4o-mini", colour="red")])
    assert "colour" in str(e.value)
    with pytest.raises(nb.ConfigError):
        SmartRouter(providers=[])


def test_shield_events(make_router):
    router = make_router("down", "openai")
    seen = []
    shield = Shield(router, on_event=seen.append)
    events = shield.events()
    shield.call(Q)
    got = []
    while True:
        e = events.get(timeout=2)
        if e is None:
            break
        got.append(e)
        if e.kind == "attempt" and e.outcome == "ok":
            break
    kinds = [(e.kind, e.target, e.outcome) for e in got]
    assert ("attempt", "down/gpt-4o-mini", "failed") in kinds
    assert ("attempt", "openai/gpt-4o-mini", "ok") in kinds
    failed = next(e for e in got if e.outcome == "failed")
    assert failed.failure_class == "network"
    health = shield.health("down/gpt-4o-mini")
    assert health["failures"].get("network", 0) >= 1
    # The callback saw them too (from its own thread).
    import time

    deadline = time.time() + 2
    while time.time() < deadline and not any(e.outcome == "ok" for e in seen):
        time.sleep(0.01)
    assert any(e.kind == "attempt" and e.outcome == "ok" for e in seen)
    shield.close()
    with pytest.raises(ValueError):
        Shield(router, enable_self_healing=False)
