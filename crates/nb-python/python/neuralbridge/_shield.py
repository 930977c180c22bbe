"""Shield: the router's self-healing loop, with its events observable."""

from __future__ import annotations

from typing import Any, Callable, Optional, Union

from ._native import Event, EventCallback, Events, Response, SmartRouter, Stream

Prompt = Union[str, "list[dict[str, Any]]"]


class Shield:
    """The self-healing loop around a router — breakers, cool-downs from ``Retry-After``,
    client-side pacing, a retry budget, failover — made observable.

    The loop is what :class:`SmartRouter` is; ``Shield`` adds nothing to a call but lets
    you watch it: pass ``on_event=callback`` (called from a background thread with each
    :class:`Event`), or iterate :meth:`events`.

    ``enable_self_healing=False`` is refused: a router that does not heal is a plain
    provider client, and neuralbridge does not pretend to be one.
    """

    def __init__(
        self,
        router: SmartRouter,
        enable_self_healing: bool = True,
        *,
        on_event: Optional[Callable[[Event], Any]] = None,
    ) -> None:
        if not isinstance(router, SmartRouter):
            raise TypeError("Shield wraps a SmartRouter")
        if not enable_self_healing:
            raise ValueError(
                "enable_self_healing=False: neuralbridge's router always heals (classifies "
                "failures, opens breakers, fails over); call a provider's own client for a "
                "call without it"
            )
        self.router = router
        self._callback: Optional[EventCallback] = (
            router.on_event(on_event) if on_event is not None else None
        )

    def events(self) -> Events:
        """A new subscription to the router's events from now on: iterate it (it blocks
        until the next event), or use ``get(timeout=...)`` and ``drain()``."""
        return self.router.events()

    def health(self, target: str) -> "dict[str, Any]":
        """A target's health (``"provider/model"``): breaker state, cool-down left,
        latency and outcome counts."""
        return self.router.health(target)

    def call(self, prompt: Prompt, **kwargs: Any) -> Response:
        """:meth:`SmartRouter.call`."""
        return self.router.call(prompt, **kwargs)

    async def acall(self, prompt: Prompt, **kwargs: Any) -> Response:
        """:meth:`SmartRouter.acall`."""
        return await self.router.acall(prompt, **kwargs)

    def stream(self, prompt: Prompt, **kwargs: Any) -> Stream:
        """:meth:`SmartRouter.stream`."""
        return self.router.stream(prompt, **kwargs)

    def astream(self, prompt: Prompt, **kwargs: Any) -> Stream:
        """:meth:`SmartRouter.astream`."""
        return self.router.astream(prompt, **kwargs)

    def close(self) -> None:
        """Stops the ``on_event`` callback."""
        if self._callback is not None:
            self._callback.close()
            self._callback = None

    def __enter__(self) -> "Shield":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Shield({self.router!r})"
