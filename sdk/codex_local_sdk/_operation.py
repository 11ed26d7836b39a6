"""What every client operation shares: the :class:`Call` (how it runs), the :class:`Host` (what
it needs of its client), and the observability hook's plumbing (task tracking, thread locks).
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import random
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Protocol

import msgspec

from ._redaction import scrub_secrets
from .events import ThreadEvent, Usage
from .exceptions import CodexUsageError
from .models import CodexClientEvent, CodexExecRequest, CodexExecResult, RetryPolicy
from .session_store import SessionLock, SessionStore
from .transport import CodexTransport, TurnLimits, TurnSpec

__all__ = [
    "Call",
    "EventCallback",
    "EventHook",
    "Host",
    "PolledLock",
    "call_back",
    "describe",
    "emit",
    "emit_finished",
    "make_request",
    "thread_lock",
    "tracking",
]

logger = logging.getLogger("codex_local_sdk")

EventHook = Callable[[CodexClientEvent], "Awaitable[None] | None"]
EventCallback = Callable[[ThreadEvent], "Awaitable[None] | None"]
_LOCK_POLL_SECONDS = 0.05


class Call(msgspec.Struct, kw_only=True, frozen=True):
    """How one operation runs: the spec plus everything that is not part of the request."""

    spec: TurnSpec
    limits: TurnLimits
    session_name: str | None = None
    previous_usage: Usage | None = None
    lock_key: str | None = None
    operation_id: str = msgspec.field(default_factory=lambda: uuid.uuid4().hex)


class Host(Protocol):
    """What operations need of their client (:class:`~codex_local_sdk.CodexLocalClient`)."""

    event_hook: EventHook | None
    session_store: SessionStore
    retry_policy: RetryPolicy
    _rng: random.Random
    _active: set[asyncio.Task[Any]]
    _transport: CodexTransport | None

    def _get_transport(self) -> CodexTransport: ...


async def emit(host: Host, event_type: str, call: Call, **fields: Any) -> None:
    """Tell the host's hook (if any) of one lifecycle step; secrets are scrubbed first."""
    hook = host.event_hook
    if hook is None:
        return
    if fields.get("message"):
        fields["message"] = scrub_secrets(fields["message"])
    event = CodexClientEvent(
        type=event_type,
        operation=call.spec.operation,
        operation_id=call.operation_id,
        session_name=call.session_name,
        model=call.spec.request.model,
        **fields,
    )
    await call_back(hook, event)


async def emit_finished(host: Host, call: Call, result: CodexExecResult, attempt: int) -> None:
    """Tell the hook an operation ended with ``result`` after ``attempt`` attempts."""
    failure = result.failure
    await emit(
        host,
        "operation_finished",
        call,
        attempt=attempt,
        return_code=result.return_code,
        thread_id=result.thread_id,
        failure_kind=failure.kind if failure else None,
        message=failure.message if failure else None,
        duration_seconds=result.duration_seconds,
        usage=result.usage,
        turn_usage=result.turn_usage,
    )


@contextlib.asynccontextmanager
async def tracking(host: Host) -> AsyncIterator[None]:
    """Inside the block, the client's ``aclose()`` cancels the current task."""
    task = asyncio.current_task()
    if task is None or task in host._active:  # an outer block tracks it already
        yield
        return
    host._active.add(task)
    try:
        yield
    finally:
        host._active.discard(task)


class PolledLock:
    """Holds a :class:`SessionLock` across an ``async with``; waiting stays cancellable."""

    def __init__(self, lock: SessionLock | None) -> None:
        self._lock = lock

    async def __aenter__(self) -> None:
        if self._lock is None:
            return
        while not self._lock.try_acquire():
            await asyncio.sleep(_LOCK_POLL_SECONDS)

    async def __aexit__(self, *exc: object) -> None:
        if self._lock is not None:
            self._lock.release()


def thread_lock(host: Host, key: str | None) -> PolledLock:
    """The store's lock of thread ``key``: turns on one thread are serialised."""
    return PolledLock(None if key is None else host.session_store.thread_lock(key))


async def call_back(callback: Callable[[Any], Any], value: Any) -> None:
    """Call a sync or async callback; its failures are logged, never raised into the run."""
    try:
        outcome = callback(value)
        if inspect.isawaitable(outcome):
            await outcome
    except Exception:
        logger.exception("codex_local_sdk callback %r failed", callback)


def describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def make_request(
    prompt: str | None, request: CodexExecRequest | None, fields: dict[str, Any]
) -> CodexExecRequest:
    """The request of a call: ``request`` (its fields replaced, its prompt set) or one made
    of ``prompt`` and ``fields``."""
    if request is None:
        if prompt is None:
            raise CodexUsageError("a prompt is required")
        return CodexExecRequest(prompt=prompt, **fields)
    if fields:
        request = msgspec.structs.replace(request, **fields)
    return request if prompt is None else request.with_prompt(prompt)
