"""Event streams: the typed events of one attempt, async (:class:`EventStream`) and blocking
(:class:`SyncEventStream`, the same stream run on the client's loop thread)."""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncGenerator, Iterator
from types import TracebackType

from ._attempt import Attempt
from ._operation import Call, Host, emit, emit_finished, thread_lock, tracking
from ._sessions import record_interrupted, record_turn
from ._sync import LoopThread
from .events import ThreadEvent
from .models import CodexExecResult

__all__ = ["EventStream", "SyncEventStream"]


class EventStream:
    """The typed events of one attempt: an async iterator and an async context manager."""

    def __init__(self, host: Host, call: Call, api_key: str | None) -> None:
        self._host = host
        self._call = call
        self._attempt = Attempt(host, call, api_key, attempt=1)
        self._iterator: AsyncGenerator[ThreadEvent, None] | None = None
        self._done = False

    @property
    def result(self) -> CodexExecResult:
        """The result so far; complete once iteration has ended."""
        return self._attempt.result

    def __aiter__(self) -> EventStream:
        return self

    async def __anext__(self) -> ThreadEvent:
        if self._iterator is None:
            self._iterator = self._events()
        return await self._iterator.__anext__()

    async def _events(self) -> AsyncGenerator[ThreadEvent, None]:
        host, call = self._host, self._call
        started = time.monotonic()
        await emit(host, "operation_started", call, attempt=0)
        try:
            async with (
                tracking(host),
                thread_lock(host, call.lock_key),
                contextlib.aclosing(aiter(self._attempt)) as events,
            ):
                async for event in events:
                    yield event
            record_turn(host.session_store, call, self.result)
            self._done = True
        except BaseException as exc:
            if self.result.thread_id is not None:
                record_interrupted(
                    lambda partial, status: record_turn(
                        host.session_store, call, partial, status=status
                    ),
                    self.result,
                    exc,
                )
            raise
        finally:
            # Streams end like other operations for the hook, early stops included.
            result = self.result
            result.duration_seconds = time.monotonic() - started
            await emit_finished(host, call, result, attempt=1)

    async def aclose(self) -> None:
        """Stop early: the codex process group is killed."""
        iterator = self._iterator
        if iterator is not None:
            await iterator.aclose()

    async def __aenter__(self) -> EventStream:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


class SyncEventStream:
    """Blocking view of an :class:`EventStream`."""

    def __init__(self, stream: EventStream, portal: LoopThread) -> None:
        self._stream = stream
        self._portal = portal
        self._iterator: Iterator[ThreadEvent] | None = None

    @property
    def result(self) -> CodexExecResult:
        return self._stream.result

    def __iter__(self) -> Iterator[ThreadEvent]:
        if self._iterator is None:
            self._iterator = self._portal.iterate(self._stream)
        return self._iterator

    def close(self) -> None:
        if self._iterator is not None:
            close = getattr(self._iterator, "close", None)
            if close is not None:
                close()
        self._portal.run(self._stream.aclose())

    def __enter__(self) -> SyncEventStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
