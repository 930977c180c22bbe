"""neuralbridge: LLM API calls that heal themselves, in your Python process.

The Rust core's self-healing router — failures classified, damage routed around,
failover answers vouched for, every call reported — behind the API NeuralBridge's Python
users know::

    from neuralbridge import SmartRouter, Shield, Guard

    router = SmartRouter(providers=[
        {"name": "openai", "model": "gpt-4o"},
        {"name": "anthropic", "model": "claude-opus-4"},
        {"name": "deepseek", "model": "deepseek-v3"},
    ])
    shield = Shield(router, enable_self_healing=True)
    guard = Guard(router, schema=output_schema, enable_semantic_check=True)
    result = router.call(prompt, require_equivalence=True)

Keys come from each provider's usual environment variable (or ``api_key_env``) and never
appear in a ``repr``, a ``str`` or an exception. See ``docs/python.md``.
"""

from . import errors
from ._native import (
    Attempt,
    Event,
    EventCallback,
    Events,
    Report,
    Response,
    Schema,
    SmartRouter,
    Stream,
    Usage,
    Verdict,
    __version__,
)
from ._guard import Guard, Typed
from ._shield import Shield
from .errors import (
    AuthFailure,
    ConfigError,
    ContentFiltered,
    ContextTooLong,
    DeadlineExceeded,
    InvalidModel,
    InvalidRequest,
    MalformedResponse,
    NetworkError,
    NeuralBridgeError,
    Overloaded,
    ProviderError,
    QuotaExhausted,
    RateLimited,
    SchemaViolation,
    SemanticOutOfBounds,
    ServerError,
    StreamBroken,
    Timeout,
    Unavailable,
    Unvouched,
)

__all__ = [
    "SmartRouter",
    "Shield",
    "Guard",
    "Typed",
    "Response",
    "Report",
    "Attempt",
    "Verdict",
    "Usage",
    "Stream",
    "Schema",
    "Event",
    "Events",
    "EventCallback",
    "errors",
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
    "__version__",
]
