"""Signal → cancel → clean up, the one way every front end stops.

codex runs in its own process group, so a SIGINT, SIGTERM or SIGHUP sent to the bridge never
reaches it: the bridge must turn the signal into a cancellation, which makes the SDK kill
codex's process group while it unwinds, and then clean up (close the service) before it goes.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from collections.abc import Awaitable, Callable
from typing import TypeVar

import msgspec

__all__ = ["INTERRUPT_SIGNALS", "Interrupted", "until_signal"]

INTERRUPT_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)

_T = TypeVar("_T")


class Interrupted(msgspec.Struct, frozen=True):
    """The work was stopped by this signal."""

    signal_number: int


async def until_signal(
    work: Callable[[], Awaitable[_T]], cleanup: Callable[[], Awaitable[None]]
) -> _T | Interrupted:
    """Run ``work`` in the current task; the first of :data:`INTERRUPT_SIGNALS` cancels it
    and the result says which. ``cleanup`` runs afterwards however the work ended."""
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    received: list[int] = []

    def stop(signal_number: int) -> None:
        if not received and task is not None:
            received.append(signal_number)
            task.cancel()

    installed = []
    for signal_number in INTERRUPT_SIGNALS:
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(signal_number, stop, signal_number)
            installed.append(signal_number)
    try:
        return await work()
    except asyncio.CancelledError:
        if not received:
            raise
        if task is not None and sys.version_info >= (3, 11):
            task.uncancel()
        return Interrupted(received[0])
    finally:
        try:
            await cleanup()  # a second signal meanwhile is ignored: the cleanup must finish
        finally:
            for signal_number in installed:
                loop.remove_signal_handler(signal_number)
