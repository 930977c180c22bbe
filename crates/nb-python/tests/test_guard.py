"""Guard: typed answers from a JSON Schema dict or a pydantic model."""

from __future__ import annotations

import pytest
from pydantic import BaseModel

import neuralbridge as nb
from neuralbridge import Guard

PROMPT = "Extract name, age and city as JSON from: Ana is 34 years old and lives in Lyon."


class Person(BaseModel):
    name: str
    age: int
    city: str


def test_a_typed_answer_from_a_pydantic_model(make_router):
    guard = Guard(make_router("openai", "claude"), schema=Person, enable_semantic_check=True)
    p = guard.call(PROMPT)
    assert isinstance(p, Person)
    assert (p.name, p.age, p.city) == ("Ana", 34, "Lyon")


def test_a_schema_violation_fails_over_and_the_answer_is_vouched(make_router):
    router = make_router("schema_violation", "openai", "claude", "gemini")
    typed = Guard(router, schema=Person).call_with_report(PROMPT)
    assert typed.value == Person(name="Ana", age=34, city="Lyon")
    rep = typed.report
    assert rep.failed_over is True
    assert rep.attempts[0].failure_class == "schema_violation"
    assert rep.check in ("vouched", "vouched-by-reference")


def test_a_dict_schema_returns_data(make_router):
    schema = {
        "type": "object",
        "required": ["name", "age", "city"],
        "properties": {"name": {"type": "string"}, "age": {"type": "integer"}, "city": {"type": "string"}},
    }
    data = Guard(make_router("claude"), schema=schema).call(PROMPT)
    assert data == {"name": "Ana", "age": 34, "city": "Lyon"}


def test_a_schema_nobody_meets_is_a_schema_violation(make_router):
    with pytest.raises(nb.SchemaViolation) as e:
        Guard(make_router("schema_violation"), schema=Person).call(PROMPT)
    assert e.value.failure_class == "schema_violation"
    assert e.value.report.attempts


async def test_acall_typed(make_router):
    guard = Guard(make_router("openai"), schema=Person)
    p = await guard.acall(PROMPT)
    assert p.city == "Lyon"


def test_guard_refuses_what_is_not_a_schema(make_router):
    with pytest.raises(TypeError):
        Guard(make_router("openai"), schema="Person")
    with pytest.raises(ValueError):
        Guard(make_router("openai"), schema={"type": 12})
