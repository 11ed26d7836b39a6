"""Change notices from the bridge service: a session or a job changed, sessions came or went.

The service emits them; front ends turn them into protocol notifications (MCP resource
subscriptions, task status). Listeners are plain callables run on the event loop; one that
raises is logged and skipped, never raised into the run that caused the change.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Literal

import msgspec

__all__ = ["Change", "ChangeFeed"]

logger = logging.getLogger("codex_bridge.changes")


class Change(msgspec.Struct, frozen=True, kw_only=True):
    kind: Literal["job", "session", "sessions"]
    """``job``: job ``key`` changed state; ``session``: session ``key`` changed;
    ``sessions``: sessions were added, renamed or deleted (the list changed)."""
    key: str | None = None


class ChangeFeed:
    """Synchronous fan-out of :class:`Change` notices."""

    def __init__(self) -> None:
        self._listeners: dict[object, Callable[[Change], None]] = {}

    def subscribe(self, listener: Callable[[Change], None]) -> Callable[[], None]:
        """Register ``listener``; returns an idempotent unsubscribe callable."""
        token = object()
        self._listeners[token] = listener
        return lambda: self._listeners.pop(token, None) and None

    def emit(self, change: Change) -> None:
        for listener in list(self._listeners.values()):
            try:
                listener(change)
            except Exception:  # a listener must never break the operation that changed
                logger.exception("change listener failed")
