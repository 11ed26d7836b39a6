"""The machinery of one codex turn: progress reports, concurrency slots, where it runs."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
from collections.abc import Iterator
from typing import Any, TypedDict

import jsonschema

from codex_local_sdk import (
    AgentMessageDelta,
    ApprovalHandler,
    CommandOutputDelta,
    EventCallback,
    ItemCompleted,
    ThreadEvent,
)

from ..errors import InvalidRequest
from ..live import LiveText
from ..progress import describe_event
from .results import ProgressCallback, ProgressUpdate

__all__ = ["TurnHooks", "running_in"]


class TurnHooks(TypedDict, total=False):
    """Who hears about a turn while it runs (keyword arguments of run, resume and fork)."""

    on_progress: ProgressCallback | None
    """A described update per notable event (and the notice that the turn queues)."""
    on_event: EventCallback | None
    """Every raw event, for callers that relay the stream themselves."""
    on_approval: ApprovalHandler | None
    """Asks the person about codex's approval requests."""
    approvals_unavailable: str | None
    """Without ``on_approval``: why requests are declined (told to codex)."""


RUN_DIRECTORY: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "codex_bridge_run_directory", default=None
)


@contextlib.contextmanager
def running_in(directory: str) -> Iterator[None]:
    """Jobs started in this block run codex in ``directory`` instead of their checked cwd.

    For a front end that made ``directory`` itself as an isolated copy of that cwd (the
    language server's review mode); never from caller input. Every policy check still runs
    on the cwd the caller named, and a session keeps that cwd, not the copy."""
    reset = RUN_DIRECTORY.set(directory)
    try:
        yield
    finally:
        RUN_DIRECTORY.reset(reset)


WORKTREE_NAME: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "codex_bridge_worktree_name", default=None
)
"""The name a job's worktree and branch get (its job id)."""


def checked_schema(schema: dict[str, Any] | None) -> dict[str, Any] | None:
    """Refuse an output_schema that is not a JSON Schema before codex sends it to the model."""
    if schema is not None:
        try:
            jsonschema.validators.validator_for(schema).check_schema(schema)
        except jsonschema.SchemaError as exc:
            where = "/".join(str(part) for part in exc.absolute_path) or "the top level"
            raise InvalidRequest(
                f"output_schema is not a valid JSON Schema at {where}: {exc.message}",
                field="output_schema",
            ) from None
    return schema


def consume_exception(task: asyncio.Task[Any]) -> None:
    if not task.cancelled():
        task.exception()  # retrieved here; the job's state already records it


class Reporter:
    """Numbers and describes events for a progress callback."""

    def __init__(
        self, callback: ProgressCallback | None, raw_callback: EventCallback | None = None
    ) -> None:
        self._callback = callback
        self._raw_callback = raw_callback
        self._count = 0
        self._live = LiveText()

    async def emit(
        self, message: str, event: ThreadEvent | None = None, *, queued: bool = False
    ) -> None:
        if self._callback is None:
            return
        self._count += 1
        update = ProgressUpdate(progress=self._count, message=message, event=event, queued=queued)
        outcome = self._callback(update)
        if outcome is not None:
            await outcome

    async def on_event(self, event: ThreadEvent) -> None:
        if self._raw_callback is not None:
            outcome = self._raw_callback(event)
            if outcome is not None:
                await outcome
        if isinstance(event, (AgentMessageDelta, CommandOutputDelta)):
            line = self._live.feed(event)
            if line is not None:
                await self.emit(line, event)
            return
        if isinstance(event, ItemCompleted):
            self._live.forget(event.item.id)
        message = describe_event(event)
        if message is not None:
            await self.emit(message, event)


class Slot:
    """A concurrency slot; tells the caller when it has to queue."""

    def __init__(
        self, semaphore: asyncio.Semaphore, reporter: Reporter, live: set[asyncio.Task[Any]]
    ) -> None:
        self._semaphore = semaphore
        self._reporter = reporter
        self._live = live
        self._task: asyncio.Task[Any] | None = None

    async def __aenter__(self) -> None:
        if self._semaphore.locked():
            await self._reporter.emit("queued: waiting for a free codex slot", queued=True)
        await self._semaphore.acquire()
        self._task = asyncio.current_task()
        if self._task is not None:
            self._live.add(self._task)

    async def __aexit__(self, *exc: object) -> None:
        if self._task is not None:
            self._live.discard(self._task)
        self._semaphore.release()
