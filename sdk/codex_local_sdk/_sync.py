"""Running the async engine from synchronous code.

The sync API does not have a second implementation: it submits the async coroutine to an
event loop running in a private daemon thread and waits. That works from plain scripts, from
worker threads, and from inside a running event loop's thread (where ``asyncio.run`` would
fail). If the waiting thread is interrupted (KeyboardInterrupt), the coroutine is cancelled
and its cleanup (killing codex's process group) completes before the interrupt propagates.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import contextvars
import functools
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterator
from typing import Any, Concatenate, ParamSpec, Protocol, TypeVar

from .exceptions import CodexUsageError

__all__ = ["INTERRUPTED", "LoopThread", "blocking"]

INTERRUPTED = "interrupted"
"""The cancel message of a task whose sync caller was interrupted (Ctrl-C)."""

_T = TypeVar("_T")
_CLEANUP_WAIT_SECONDS = 30.0
_LIVENESS_POLL_SECONDS = 1.0  # a waiting call notices a loop thread that went away


class LoopThread:
    """An event loop in a daemon thread, started on first use."""

    def __init__(self, name: str = "codex-local-sdk") -> None:
        self._name = name
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def _ensure_loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None or self._loop.is_closed():
                loop = asyncio.new_event_loop()
                ready = threading.Event()

                def run() -> None:
                    asyncio.set_event_loop(loop)
                    loop.call_soon(ready.set)
                    loop.run_forever()

                thread = threading.Thread(target=run, name=self._name, daemon=True)
                thread.start()
                ready.wait()
                self._loop, self._thread = loop, thread
            return self._loop

    def run(self, coro: Coroutine[Any, Any, _T]) -> _T:
        """Run ``coro`` on the loop thread and wait for its result."""
        loop = self._ensure_loop()
        if threading.current_thread() is self._thread:
            coro.close()
            raise CodexUsageError(
                "a sync codex_local_sdk call cannot run inside its own loop (from a hook or "
                "on_event callback): use the async API there"
            )
        # Not run_coroutine_threadsafe: cancelling its future resolves it at once, before the
        # task's cleanup has run. Here the outcome is set only once the task has finished.
        outcome: concurrent.futures.Future[_T] = concurrent.futures.Future()
        started: concurrent.futures.Future[asyncio.Task[_T]] = concurrent.futures.Future()

        # The work runs in a copy of the caller's context, as it would with asyncio.run:
        # context variables (tracing spans, request ids) reach the hooks and callbacks.
        context = contextvars.copy_context()

        def start() -> None:
            task = context.run(loop.create_task, coro)
            task.add_done_callback(lambda done: _copy_outcome(done, outcome))
            started.set_result(task)

        thread = self._thread
        loop.call_soon_threadsafe(start)
        try:
            return _wait_for(outcome, thread)
        except BaseException as exc:
            # KeyboardInterrupt (or another exception raised into this thread) while waiting:
            # cancel the work and let it clean up (kill codex) before we propagate.
            if not outcome.done() and thread is not None and thread.is_alive():
                reason = INTERRUPTED if isinstance(exc, KeyboardInterrupt) else None
                with contextlib.suppress(Exception):
                    task = started.result(timeout=_CLEANUP_WAIT_SECONDS)
                    loop.call_soon_threadsafe(task.cancel, reason)
                    with contextlib.suppress(concurrent.futures.CancelledError):
                        outcome.result(timeout=_CLEANUP_WAIT_SECONDS)
            raise

    def iterate(self, agen: AsyncIterator[_T]) -> Iterator[_T]:
        """Drive an async iterator from sync code, one item at a time."""
        try:
            while True:
                try:
                    yield self.run(_anext(agen))
                except StopAsyncIteration:
                    return
        finally:
            aclose = getattr(agen, "aclose", None)
            if aclose is not None:
                self.run(_await(aclose()))

    def close(self, last: Callable[[], Awaitable[None]] | None = None) -> None:
        """Cancel what still runs on the loop, run ``last`` there (if the loop was started),
        then stop the thread."""
        with self._lock:
            loop, thread = self._loop, self._thread
            self._loop = self._thread = None
        if loop is None or loop.is_closed():
            return
        if thread is threading.current_thread():  # pragma: no cover - misuse
            loop.call_soon(loop.stop)
            return

        async def shutdown() -> None:
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await loop.shutdown_asyncgens()
            if last is not None:
                await last()

        try:
            asyncio.run_coroutine_threadsafe(shutdown(), loop).result(_CLEANUP_WAIT_SECONDS)
        finally:
            loop.call_soon_threadsafe(loop.stop)
            if thread is not None:
                thread.join(_CLEANUP_WAIT_SECONDS)
            if not loop.is_running():
                loop.close()


def _wait_for(outcome: concurrent.futures.Future[_T], loop_thread: threading.Thread | None) -> _T:
    while True:
        try:
            return outcome.result(timeout=_LIVENESS_POLL_SECONDS)
        except concurrent.futures.TimeoutError:
            if outcome.done():
                raise  # the operation itself raised TimeoutError
            if loop_thread is None or not loop_thread.is_alive():
                raise CodexUsageError("the client was closed while a call was waiting") from None


def _copy_outcome(task: asyncio.Task[_T], outcome: concurrent.futures.Future[_T]) -> None:
    if task.cancelled():
        outcome.cancel()
    elif (error := task.exception()) is not None:
        outcome.set_exception(error)
    else:
        outcome.set_result(task.result())


async def _anext(agen: AsyncIterator[_T]) -> _T:
    return await agen.__anext__()


async def _await(awaitable: Awaitable[Any]) -> None:
    await awaitable


_P = ParamSpec("_P")
_R = TypeVar("_R")


class _WithPortal(Protocol):
    @property
    def _portal(self) -> LoopThread: ...


_S = TypeVar("_S", bound=_WithPortal)


def blocking(
    operation: Callable[Concatenate[_S, _P], Coroutine[Any, Any, _R]],
) -> Callable[Concatenate[_S, _P], _R]:
    """The blocking twin of an async method: it runs the coroutine on the client's loop."""

    @functools.wraps(operation)
    def method(self: _S, /, *args: _P.args, **kwargs: _P.kwargs) -> _R:
        return self._portal.run(operation(self, *args, **kwargs))

    name = operation.__name__.removesuffix("_async")
    method.__name__, method.__qualname__ = name, operation.__qualname__.removesuffix("_async")
    method.__doc__ = f"Blocking :meth:`{operation.__name__}` (same arguments and behaviour)."
    return method
