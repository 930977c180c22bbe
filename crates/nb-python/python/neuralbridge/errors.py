"""Exceptions: one class per way a call can end without an answer.

Every call failure is a :class:`NeuralBridgeError` carrying the call's ``report`` (each
attempt, what failed, what was checked), ``retry_after`` (seconds, when waiting would
help), ``kind`` (the router's reason: ``exhausted``, ``unvouched``, ``no_candidate``, ...)
and ``failure_class`` (the last attempt's class: ``rate_limited``, ``server_error``, ...).

When every candidate failed, the class is the last failure's class::

    NeuralBridgeError
    ├── ConfigError (also ValueError)        the providers or nb.toml cannot be used
    ├── Unvouched                            an answer nobody could vouch for, refused
    ├── Unavailable                          no target may be called now (breakers open,
    │                                        cool-downs, retry budget spent, no route)
    ├── DeadlineExceeded (also TimeoutError) the call's deadline passed
    ├── StreamBroken                         a stream broke after content was delivered
    │                                        (``partial`` holds what had arrived)
    └── ProviderError                        every candidate failed; by the last failure:
        ├── RateLimited, QuotaExhausted, Overloaded, ServerError
        ├── Timeout (also TimeoutError), NetworkError (also ConnectionError)
        ├── AuthFailure, InvalidModel, ContextTooLong, InvalidRequest
        └── ContentFiltered, MalformedResponse, SchemaViolation, SemanticOutOfBounds

Messages and attributes never contain an API key.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional

if TYPE_CHECKING:  # pragma: no cover
    from ._native import Report

__all__ = [
    "NeuralBridgeError",
    "ConfigError",
    "Unvouched",
    "Unavailable",
    "DeadlineExceeded",
    "StreamBroken",
    "ProviderError",
    "RateLimited",
    "QuotaExhausted",
    "Overloaded",
    "ServerError",
    "Timeout",
    "NetworkError",
    "AuthFailure",
    "InvalidModel",
    "ContextTooLong",
    "InvalidRequest",
    "ContentFiltered",
    "MalformedResponse",
    "SchemaViolation",
    "SemanticOutOfBounds",
]


class NeuralBridgeError(Exception):
    """The base of every neuralbridge exception."""

    #: The call's report (``None`` for configuration errors).
    report: Optional["Report"] = None
    #: Seconds after which a retry may succeed, when the router knows.
    retry_after: Optional[float] = None
    #: The router's reason: ``exhausted``, ``aborted``, ``unvouched``, ``no_candidate``,
    #: ``no_route``, ``budget_exhausted``, ``deadline_exceeded``, ``stream_broken``.
    kind: Optional[str] = None
    #: The last failed attempt's class (``rate_limited``, ``server_error``, ...).
    failure_class: Optional[str] = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self)!r})"


class ConfigError(NeuralBridgeError, ValueError):
    """The providers, sections or ``nb.toml`` cannot make a router."""


class Unvouched(NeuralBridgeError):
    """An answer that needed vouching and that nobody could vouch for, refused
    (``require_equivalence=True``), or one a reference contradicted."""


class Unavailable(NeuralBridgeError):
    """No target may be called now: every breaker open or cooling down, the retry budget
    spent, or no target serves the call. ``retry_after`` says when to try again."""


class DeadlineExceeded(NeuralBridgeError, TimeoutError):
    """The call's deadline passed before any target answered."""


class StreamBroken(NeuralBridgeError):
    """A stream broke after content reached the caller; ``partial`` holds that content."""

    #: The text delivered before the stream broke.
    partial: Optional[str] = None


class ProviderError(NeuralBridgeError):
    """Every candidate failed; the subclass names the last failure's class."""


class RateLimited(ProviderError):
    """The provider's rate limit (HTTP 429); ``retry_after`` is its hint."""


class QuotaExhausted(ProviderError):
    """The account's quota or credit is spent."""


class Overloaded(ProviderError):
    """The provider is overloaded (529, 503)."""


class ServerError(ProviderError):
    """The provider failed (500, 502, 504)."""


class Timeout(ProviderError, TimeoutError):
    """No answer in time (connect, first token, idle gap or attempt timeout)."""


class NetworkError(ProviderError, ConnectionError):
    """Connection refused or reset, DNS, TLS."""


class AuthFailure(ProviderError):
    """The key was refused (401, 403)."""


class InvalidModel(ProviderError):
    """The model (or endpoint) does not exist there."""


class ContextTooLong(ProviderError):
    """The prompt does not fit the model's context window."""


class InvalidRequest(ProviderError):
    """The request is wrong (a 400 no provider would accept): the caller's bug."""


class ContentFiltered(ProviderError):
    """The provider's content filter or a refusal stopped the answer."""


class MalformedResponse(ProviderError):
    """The provider answered with broken JSON, no choices or a truncated body."""


class SchemaViolation(ProviderError):
    """The answer does not fit the schema, even after a repair."""


class SemanticOutOfBounds(ProviderError):
    """The answer fits the schema but breaks a bound or an equivalence check."""
