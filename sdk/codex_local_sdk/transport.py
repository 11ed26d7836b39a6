"""The transport interface: what a custom way of reaching codex implements.

The client speaks to a :class:`CodexTransport`: it gets a :class:`TurnSpec` (what to run) and
:class:`TurnLimits`, and yields :data:`TurnOutput` values (typed events, :class:`StdoutText`
lines) ending with exactly one :class:`TurnExit`. The SDK ships two:
:class:`~codex_local_sdk.ExecTransport` (one ``codex exec --json`` process per turn) and
:class:`~codex_local_sdk.AppServerTransport` (turns multiplexed on warm ``codex app-server``
processes). This module holds only the interface, no implementation.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Literal, Protocol, runtime_checkable

import msgspec

from .events import DEFAULT_MAX_COMMAND_OUTPUT_BYTES, DEFAULT_MAX_MESSAGE_BYTES, ThreadEvent
from .models import CodexExecRequest, Operation

__all__ = [
    "DEFAULT_MAX_RESULT_EVENTS",
    "CodexTransport",
    "StdoutText",
    "TurnExit",
    "TurnLimits",
    "TurnOutput",
    "TurnSpec",
]


DEFAULT_MAX_RESULT_EVENTS = 1000


class TurnSpec(msgspec.Struct, kw_only=True, frozen=True):
    """What to run: a new thread, a resume, or a fork."""

    request: CodexExecRequest
    operation: Operation = "exec"
    thread_id: str | None = None
    last: bool = False
    json_output: bool = True


class TurnLimits(msgspec.Struct, kw_only=True, frozen=True):
    timeout_seconds: float | None = None
    """Total wall-clock budget for the process."""
    idle_timeout_seconds: float | None = None
    """Longest silence (no stdout) tolerated."""
    kill_grace_seconds: float = 3.0
    """Between SIGTERM and SIGKILL of the process group."""
    max_command_output_bytes: int | None = DEFAULT_MAX_COMMAND_OUTPUT_BYTES
    """A command's output keeps its last this many bytes (None: all of it)."""
    max_message_bytes: int | None = DEFAULT_MAX_MESSAGE_BYTES
    """An agent message keeps its first this many bytes (None: all of it)."""
    max_result_events: int | None = DEFAULT_MAX_RESULT_EVENTS
    """The result keeps the last this many events, and as many items (None: all)."""


class StdoutText(msgspec.Struct, kw_only=True, frozen=True):
    """A plain stdout line (``json_output=False`` runs)."""

    text: str


class TurnExit(msgspec.Struct, kw_only=True, frozen=True):
    """Always the last output of a turn."""

    return_code: int | None
    stderr_tail: str
    argv: list[str]
    timed_out: Literal["total", "idle"] | None = None


TurnOutput = ThreadEvent | StdoutText | TurnExit


@runtime_checkable
class CodexTransport(Protocol):
    """Runs one turn and yields its outputs, ending with exactly one :class:`TurnExit`.

    Cancelling the iteration (or closing it early) must stop the turn and leave nothing
    running.
    """

    def stream_turn(
        self, spec: TurnSpec, *, limits: TurnLimits, api_key: str | None = None
    ) -> AsyncIterator[TurnOutput]: ...
