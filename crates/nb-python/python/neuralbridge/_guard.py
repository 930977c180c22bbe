"""Guard: answers that fit a schema, parsed, and vouched for when they come from a
failover."""

from __future__ import annotations

from typing import Any, Generic, Optional, TypeVar, Union

from ._native import Report, Response, Schema, SmartRouter
from .errors import SchemaViolation

T = TypeVar("T")
Prompt = Union[str, "list[dict[str, Any]]"]


def _pydantic_model(schema: Any) -> bool:
    return isinstance(schema, type) and hasattr(schema, "model_json_schema") and hasattr(
        schema, "model_validate"
    )


class Typed(Generic[T]):
    """A parsed answer with the report of how it was obtained."""

    __slots__ = ("value", "report", "text")

    def __init__(self, value: T, report: Report, text: str) -> None:
        #: The parsed answer: a pydantic model instance, or plain JSON data for a dict schema.
        self.value = value
        #: The call's report.
        self.report = report
        #: The raw answer text.
        self.text = text

    def __repr__(self) -> str:
        return f"Typed({self.value!r}, served_by={self.report.served_by!r})"


class Guard:
    """Answers that fit ``schema`` — a JSON Schema dict or a pydantic model class —
    returned parsed.

    The schema travels to every provider in its native structured-output form; every
    answer is validated against it; a violation is repaired once on the same target (the
    model is told what broke), then failed over. With ``enable_semantic_check=True`` (the
    default), an answer that did not come from the first choice is vouched for: compared
    with an independent target's answer, and never returned silently when they disagree.
    """

    def __init__(
        self,
        router: Any,
        schema: Any,
        enable_semantic_check: bool = True,
        *,
        name: Optional[str] = None,
    ) -> None:
        inner = getattr(router, "router", router)  # a Shield wraps a router
        if not isinstance(inner, SmartRouter):
            raise TypeError("Guard wraps a SmartRouter or a Shield")
        self.router: SmartRouter = inner
        self._model = schema if _pydantic_model(schema) else None
        if self._model is not None:
            json_schema = self._model.model_json_schema()
            name = name or self._model.__name__
        elif isinstance(schema, dict):
            json_schema = schema
        else:
            raise TypeError("schema is a JSON Schema dict or a pydantic model class")
        self.schema = Schema(json_schema, name)
        self._vouch = "on-failover" if enable_semantic_check else "off"

    def _parse(self, r: Response) -> Typed[Any]:
        data = r.data
        if self._model is None:
            return Typed(data, r.report, r.text)
        try:
            value = self._model.model_validate(data)
        except Exception as e:  # pydantic.ValidationError, without importing pydantic
            err = SchemaViolation(f"the answer does not fit {self._model.__name__}: {e}")
            err.report = r.report
            err.failure_class = "schema_violation"
            raise err from None
        return Typed(value, r.report, r.text)

    def _kwargs(self, kwargs: "dict[str, Any]") -> "dict[str, Any]":
        kwargs.setdefault("vouch", self._vouch)
        kwargs["schema"] = self.schema
        return kwargs

    def call(self, prompt: Prompt, **kwargs: Any) -> Any:
        """Routes ``prompt`` and returns the parsed answer (a model instance, or JSON
        data). Takes :meth:`SmartRouter.call`'s keyword arguments."""
        return self.call_with_report(prompt, **kwargs).value

    def call_with_report(self, prompt: Prompt, **kwargs: Any) -> Typed[Any]:
        """:meth:`call`, with the report: a :class:`Typed`."""
        return self._parse(self.router.call(prompt, **self._kwargs(kwargs)))

    async def acall(self, prompt: Prompt, **kwargs: Any) -> Any:
        """:meth:`call` for asyncio."""
        return (await self.acall_with_report(prompt, **kwargs)).value

    async def acall_with_report(self, prompt: Prompt, **kwargs: Any) -> Typed[Any]:
        """:meth:`call_with_report` for asyncio."""
        return self._parse(await self.router.acall(prompt, **self._kwargs(kwargs)))

    def __repr__(self) -> str:
        what = self._model.__name__ if self._model is not None else "dict schema"
        return f"Guard({what}, vouch={self._vouch!r})"
