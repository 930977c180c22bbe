"""Guard with a pydantic model: the schema travels to every provider, answers are
validated (repaired once, then failed over) and come back as model instances."""

from _sim import simulate
from pydantic import BaseModel

from neuralbridge import Guard, Shield, SmartRouter


class Person(BaseModel):
    name: str
    age: int
    city: str


with simulate() as chaos:
    router = SmartRouter(providers=[chaos.provider("openai", "gpt-4o"),
                                    chaos.provider("anthropic", "claude-opus-4"),
                                    chaos.provider("gemini", "gemini-2.5-flash")])
    guard = Guard(Shield(router), schema=Person, enable_semantic_check=True)
    typed = guard.call_with_report(
        "Extract name, age and city as JSON from: Ana is 34 years old and lives in Lyon."
    )
    print(repr(typed.value))
    print("served by", typed.report.served_by, "| check:", typed.report.check)
    assert typed.value == Person(name="Ana", age=34, city="Lyon")
