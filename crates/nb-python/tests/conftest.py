"""Fixtures: one nb-chaos simulator for the session (started and stopped here), and
routers over its providers."""

from __future__ import annotations

import asyncio
import inspect
import os

import pytest

from neuralbridge import SmartRouter
from neuralbridge.chaos import Chaos

MODELS = {"openai": "gpt-4o-mini", "anthropic": "claude-sonnet-4-5", "gemini": "gemini-2.5-flash"}

#: The key the `keyed` provider requires; it must never show in a repr, str or exception.
SECRET = "sk-nb-python-test-SECRET-7d1c"
WRONG = "sk-nb-python-test-WRONG-93aa"

SCENARIO = f"""
description = "the Python package's tests"
seed = 7

[[providers]]
name = "down"
format = "openai"
models = [{{ name = "gpt-4o-mini" }}]
faults = [{{ kind = "outage", window = {{ from_s = 0.0 }} }}]

[[providers]]
name = "openai"
format = "openai"
models = [{{ name = "gpt-4o-mini" }}]

[[providers]]
name = "claude"
format = "anthropic"
models = [{{ name = "claude-sonnet-4-5" }}]

[[providers]]
name = "gemini"
format = "gemini"
models = [{{ name = "gemini-2.5-flash" }}]

[[providers]]
name = "drift"
format = "anthropic"
models = [{{ name = "claude-sonnet-4-5" }}]
faults = [{{ kind = "semantic_drift" }}]

[[providers]]
name = "keyed"
format = "openai"
api_key = "{SECRET}"
models = [{{ name = "gpt-4o-mini" }}]

[[providers]]
name = "flaky"
format = "openai"
models = [{{ name = "gpt-4o-mini" }}]
faults = [
  {{ kind = "server_error", requests = {{ from = 0, to = 2 }} }},
  {{ kind = "hang", requests = {{ from = 2, to = 3 }} }},
]
"""

#: One provider per fault, for the exception classes: name -> fault table (OpenAI's wire
#: format, except where FORMATS says otherwise).
FAULTS = {
    "rate_limit": 'kind = "rate_limit", retry_after_s = 30',
    "quota": 'kind = "quota"',
    "overloaded": 'kind = "overloaded"',
    "server_error": 'kind = "server_error", status = 500',
    "unauthorized": 'kind = "unauthorized"',
    "model_not_found": 'kind = "model_not_found"',
    "context_length": 'kind = "context_length"',
    "invalid_request": 'kind = "invalid_request"',
    "content_filter": 'kind = "content_filter"',
    "malformed_json": 'kind = "malformed_json"',
    "schema_violation": 'kind = "schema_violation"',
    "hang": 'kind = "hang"',
    "mid_stream_error": 'kind = "mid_stream_error", after_chunks = 1',
}

#: Gemini blocks a prompt with an error; OpenAI and Anthropic answer "filtered" in a 200.
FORMATS = {"content_filter": "gemini"}

for _name, _fault in FAULTS.items():
    _format = FORMATS.get(_name, "openai")
    _model = MODELS[_format]
    SCENARIO += f"""
[[providers]]
name = "{_name}"
format = "{_format}"
models = [{{ name = "{_model}" }}]
faults = [{{ {_fault} }}]
"""

FAST = {"attempt_timeout_ms": 2000, "deadline_ms": 5000, "backoff_base_ms": 10, "backoff_max_ms": 50}


@pytest.fixture(scope="session")
def chaos():
    os.environ["NB_TEST_KEY"] = SECRET
    os.environ["NB_TEST_WRONG_KEY"] = WRONG
    with Chaos(SCENARIO) as c:
        yield c


@pytest.fixture
def make_router(chaos):
    """`make_router("down", "openai", policy=..., vouch=...)`: a router over those
    simulated providers, in that order."""

    def make(*names: str, **sections):
        sections.setdefault("policy", dict(FAST))
        providers = [
            chaos.provider(n, MODELS[chaos.formats[n]]) for n in names
        ]
        return SmartRouter(providers=providers, **sections)

    return make


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem):
    """Runs `async def` tests on a fresh asyncio loop (no plugin needed)."""
    if inspect.iscoroutinefunction(pyfuncitem.obj):
        args = {a: pyfuncitem.funcargs[a] for a in pyfuncitem._fixtureinfo.argnames}
        asyncio.run(pyfuncitem.obj(**args))
        return True
    return None
