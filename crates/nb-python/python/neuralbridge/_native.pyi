"""Type stubs of the native module (Rust, PyO3)."""

from __future__ import annotations

from os import PathLike
from typing import Any, Awaitable, Callable, Dict, Iterator, List, Literal, Optional, Sequence, Tuple, Union

__version__: str

Prompt = Union[str, Sequence[Dict[str, Any]]]
VouchMode = Literal["always", "on-failover", "off"]

class Usage:
    """Token counts."""

    @property
    def input_tokens(self) -> int: ...
    @property
    def output_tokens(self) -> int: ...
    @property
    def cached_tokens(self) -> Optional[int]: ...
    @property
    def reasoning_tokens(self) -> Optional[int]: ...
    @property
    def total_tokens(self) -> int: ...

class Attempt:
    """One attempt on one target."""

    target: str
    role: Literal["answer", "hedge", "repair", "vouch", "other"]
    outcome: Literal["ok", "failed", "cancelled"]
    failure_class: Optional[str]
    disposition: Optional[str]
    reason: Optional[str]
    error: Optional[str]
    retry_after: Optional[float]
    started_after: float
    latency: float
    probe: bool

class Verdict:
    """An equivalence verdict: the answer compared with an independent target's."""

    outcome: Literal["equivalent", "not-equivalent", "undecided"]
    method: str
    score: Optional[float]
    reason: str
    reference: str

class Report:
    """What one call did: attempts, the target that served, the check, tokens, cost."""

    @property
    def served_by(self) -> Optional[str]: ...
    @property
    def failed_over(self) -> bool: ...
    @property
    def attempts(self) -> List[Attempt]: ...
    @property
    def verdict(self) -> Optional[Verdict]: ...
    @property
    def check(
        self,
    ) -> Literal["first-choice", "vouched", "vouched-by-reference", "self-consistent", "unchecked", "unvouchable"]: ...
    @property
    def vouched_by(self) -> Optional[str]: ...
    @property
    def usage(self) -> Optional[Usage]: ...
    @property
    def total_usage(self) -> Usage: ...
    @property
    def cost(self) -> Optional[float]: ...
    @property
    def total_cost(self) -> Optional[float]: ...
    @property
    def elapsed(self) -> float: ...
    @property
    def repairs(self) -> int: ...
    @property
    def cache_hit(self) -> bool: ...
    @property
    def skipped(self) -> List[Tuple[str, str]]: ...
    @property
    def first_error(self) -> Optional[str]: ...
    @property
    def last_error(self) -> Optional[str]: ...
    def to_dict(self) -> Dict[str, Any]: ...

class Response:
    """An answer and the report of how it was obtained; ``str()`` is its text."""

    @property
    def text(self) -> str: ...
    @property
    def report(self) -> Report: ...
    @property
    def data(self) -> Any:
        """The parsed JSON of a call made with ``schema=``, else ``None``."""
    @property
    def usage(self) -> Optional[Usage]: ...
    @property
    def finish_reason(self) -> str: ...
    @property
    def model(self) -> Optional[str]: ...
    @property
    def tool_calls(self) -> List[Dict[str, Any]]: ...

class Schema:
    """A JSON Schema compiled once, for ``schema=`` on many calls."""

    def __init__(self, schema: Dict[str, Any], name: Optional[str] = None) -> None: ...
    @property
    def schema(self) -> Dict[str, Any]: ...

class Stream:
    """A streamed answer: iterate it with ``for`` or ``async for`` for text deltas."""

    def __iter__(self) -> Iterator[str]: ...
    def __next__(self) -> str: ...
    def __aiter__(self) -> Stream: ...
    def __anext__(self) -> Awaitable[str]: ...
    @property
    def report(self) -> Optional[Report]:
        """``None`` before the stream opens; complete once it has ended."""
    @property
    def text(self) -> str: ...

class Event:
    """Something the router did or learned."""

    kind: Literal["attempt", "breaker", "cooldown", "recovery_probe", "other"]
    target: str
    outcome: str
    failure_class: Optional[str]
    detail: Optional[str]
    seconds: Optional[float]

class Events:
    """A subscription to a router's events."""

    def get(self, timeout: Optional[float] = None) -> Optional[Event]: ...
    def drain(self) -> List[Event]: ...
    def __iter__(self) -> Iterator[Event]: ...
    def __next__(self) -> Event: ...

class EventCallback:
    """A callback receiving a router's events."""

    def close(self) -> None: ...

class SmartRouter:
    """The self-healing router."""

    def __init__(
        self,
        providers: Sequence[Dict[str, Any]],
        *,
        policy: Optional[Dict[str, Any]] = None,
        breaker: Optional[Dict[str, Any]] = None,
        cooldowns: Optional[Dict[str, Any]] = None,
        vouch: Optional[Dict[str, Any]] = None,
        routes: Optional[Dict[str, Any]] = None,
    ) -> None: ...
    @staticmethod
    def from_config(path: Union[str, PathLike[str]]) -> SmartRouter: ...
    @property
    def targets(self) -> List[str]: ...
    def call(
        self,
        prompt: Prompt,
        *,
        require_equivalence: bool = False,
        vouch: Optional[str] = None,
        route: Optional[str] = None,
        deadline: Optional[float] = None,
        temperature: Optional[float] = None,
        max_tokens: Optional[int] = None,
        schema: Union[Schema, Dict[str, Any], None] = None,
    ) -> Response: ...
    def acall(
        self,
        prompt: Prompt,
        *,
        require_equivalence: bool = False,
        vouch: Optional[str] = None,
        route: Optional[str] = None,
        deadline: Optional[float] = None,
        temperature: Optional[float] = None,
        max_tokens: Optional[int] = None,
        schema: Union[Schema, Dict[str, Any], None] = None,
    ) -> Awaitable[Response]: ...
    def stream(
        self,
        prompt: Prompt,
        *,
        require_equivalence: bool = False,
        vouch: Optional[str] = None,
        route: Optional[str] = None,
        deadline: Optional[float] = None,
        temperature: Optional[float] = None,
        max_tokens: Optional[int] = None,
    ) -> Stream: ...
    def astream(
        self,
        prompt: Prompt,
        *,
        require_equivalence: bool = False,
        vouch: Optional[str] = None,
        route: Optional[str] = None,
        deadline: Optional[float] = None,
        temperature: Optional[float] = None,
        max_tokens: Optional[int] = None,
    ) -> Stream: ...
    def health(self, target: str) -> Dict[str, Any]: ...
    def events(self) -> Events: ...
    def on_event(self, callback: Callable[[Event], Any]) -> EventCallback: ...

def _bench_rust(router: SmartRouter, prompt: str, calls: int, concurrency: int) -> Tuple[List[float], float]: ...
