"""Waiting in tests: poll a condition until it holds, or fail once a deadline passes.

``wait_until`` (blocking) and ``wait_until_async`` (for async tests, whose event loop must keep
running while they wait) share one core, :class:`Deadline`. Both return the condition's first
truthy value, and both fail with an ``AssertionError`` naming what was awaited::

    pid = wait_until(read_pid, message="the fake's child to write its pid")
    await wait_until_async(lambda: client.messages, message="the answer")

``message`` may be a function, called only on failure (e.g. to list the processes still alive).
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import NoReturn, TypeVar, overload

__all__ = ["DEFAULT_INTERVAL", "DEFAULT_TIMEOUT", "Deadline", "wait_until", "wait_until_async"]

T = TypeVar("T")
Message = str | Callable[[], str]

DEFAULT_TIMEOUT = 30.0
DEFAULT_INTERVAL = 0.05


class Deadline:
    """How long one wait may last, and the failure that ends it."""

    def __init__(self, timeout: float, message: Message) -> None:
        self.timeout = timeout
        self.message = message
        self.expires_at = time.monotonic() + timeout

    def check(self) -> None:
        """Fail when the deadline has passed."""
        if time.monotonic() > self.expires_at:
            self.fail()

    def fail(self) -> NoReturn:
        what = self.message if isinstance(self.message, str) else self.message()
        raise AssertionError(f"timed out after {self.timeout:g}s waiting for {what}")


def wait_until(
    predicate: Callable[[], T],
    *,
    message: Message,
    timeout: float = DEFAULT_TIMEOUT,
    interval: float = DEFAULT_INTERVAL,
) -> T:
    """Call ``predicate`` every ``interval`` seconds until it returns something truthy; that
    value. Fails after ``timeout`` seconds with ``message`` saying what was awaited."""
    deadline = Deadline(timeout, message)
    while not (value := predicate()):
        deadline.check()
        time.sleep(interval)
    return value


@overload
async def wait_until_async(
    predicate: Callable[[], Awaitable[T]],
    *,
    message: Message,
    timeout: float = ...,
    interval: float = ...,
) -> T: ...


@overload
async def wait_until_async(
    predicate: Callable[[], T],
    *,
    message: Message,
    timeout: float = ...,
    interval: float = ...,
) -> T: ...


async def wait_until_async(
    predicate: Callable[[], object],
    *,
    message: Message,
    timeout: float = DEFAULT_TIMEOUT,
    interval: float = DEFAULT_INTERVAL,
) -> object:
    """:func:`wait_until` for async tests: sleeps without blocking the event loop, and
    ``predicate`` may be a coroutine function (its result is awaited)."""
    deadline = Deadline(timeout, message)
    while True:
        value = predicate()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return value
        deadline.check()
        await asyncio.sleep(interval)
