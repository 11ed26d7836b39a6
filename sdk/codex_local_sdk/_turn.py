"""Folding one attempt's stream of outputs into a :class:`CodexExecResult`."""

from __future__ import annotations

import collections
import json
from typing import Any

from ._decoding import bound_texts
from ._failures import classify_failure
from .events import (
    AgentMessageDelta,
    AgentMessageItem,
    CommandOutputDelta,
    ErrorEvent,
    ItemCompleted,
    MalformedLine,
    ThreadStarted,
    TurnCompleted,
    TurnFailed,
    UnknownEvent,
    Usage,
)
from .models import CodexExecResult, Failure, FailureKind, Operation
from .transport import StdoutText, TurnExit, TurnOutput

__all__ = ["TurnAccumulator"]

_EXIT_USAGE = 2
_MAX_WARNINGS = 100
_KEPT_ERROR_MESSAGES = 20


class TurnAccumulator:
    """Collects events as they arrive; :meth:`result` is valid at any time (partial results
    for failures and timeouts)."""

    def __init__(
        self,
        operation: Operation,
        *,
        json_output: bool = True,
        expected_thread_id: str | None = None,
        previous_usage: Usage | None = None,
        wants_structured_output: bool = False,
        session_name: str | None = None,
        max_events: int | None = None,
        max_command_output_bytes: int | None = None,
        max_message_bytes: int | None = None,
    ) -> None:
        self._json_output = json_output
        self._expected_thread_id = expected_thread_id
        self._previous_usage = previous_usage
        self._wants_structured = wants_structured_output
        self._max_events = max_events
        # Trimming in batches keeps appends O(1); finish() trims to the exact bound.
        self._trim_slack = 0 if max_events is None else max(64, max_events // 4)
        self._max_output = max_command_output_bytes
        self._max_message = max_message_bytes
        self._message_cut = 0  # bytes the final message lost to max_message_bytes
        self._stdout: list[str] = []
        self._error_messages: collections.deque[str] = collections.deque(
            maxlen=_KEPT_ERROR_MESSAGES
        )
        self._warnings_dropped = 0
        self._turn_failure: str | None = None
        self._exit: TurnExit | None = None
        self.result = CodexExecResult(operation=operation, session_name=session_name)

    @property
    def did_work(self) -> bool:
        return bool(self.result.items or self.result.items_dropped)

    def feed(self, output: TurnOutput) -> None:
        result = self.result
        if isinstance(output, TurnExit):
            self._exit = output
            result.return_code = output.return_code
            result.stderr_tail = output.stderr_tail
            result.argv = output.argv
            return
        if isinstance(output, StdoutText):
            self._stdout.append(output.text)
            return
        if isinstance(output, (AgentMessageDelta, CommandOutputDelta)):
            return  # live text: the completed item carries all of it
        # Transports may bound texts already (exec does, while decoding); bounding is
        # idempotent, and holds for any transport.
        output = bound_texts(output, self._max_output, self._max_message)
        result.events.append(output)
        self._trim(self._trim_slack)
        if isinstance(output, ThreadStarted):
            result.thread_id = output.thread_id
        elif isinstance(output, ItemCompleted):
            result.items.append(output.item)
            if isinstance(output.item, AgentMessageItem):
                result.final_message = output.item.text
                self._message_cut = output.item.text_truncated_bytes
        elif isinstance(output, TurnCompleted):
            result.turn_status = "completed"
            result.usage = output.usage
        elif isinstance(output, TurnFailed):
            result.turn_status = "failed"
            self._turn_failure = output.error.message or "turn failed"
        elif isinstance(output, ErrorEvent):
            # Usually a warning ("Reconnecting... 2/5"); the turn's end decides.
            self._error_messages.append(output.message)
            self._warn(output.message)
        elif isinstance(output, MalformedLine):
            self._warn(f"malformed output line ({output.error}): {output.line}")
        elif isinstance(output, UnknownEvent):
            pass  # kept in events; nothing to fold

    def _warn(self, text: str) -> None:
        if len(self.result.warnings) < _MAX_WARNINGS:
            self.result.warnings.append(text)
        else:
            self._warnings_dropped += 1

    def _trim(self, slack: int) -> None:
        """Keep the last ``max_events`` events and items (plus ``slack`` until finish)."""
        limit, result = self._max_events, self.result
        if limit is None:
            return
        if len(result.events) > limit + slack:
            dropped = len(result.events) - limit
            del result.events[:dropped]
            result.events_dropped += dropped
        if len(result.items) > limit + slack:
            dropped = len(result.items) - limit
            del result.items[:dropped]
            result.items_dropped += dropped

    def finish(self) -> CodexExecResult:
        """Final touches once the process has exited: final message, usage, failure."""
        result = self.result
        self._trim(0)
        if self._warnings_dropped:
            result.warnings.append(f"... and {self._warnings_dropped} more warnings not kept")
            self._warnings_dropped = 0
        if not self._json_output:
            text = "\n".join(self._stdout).strip()
            result.final_message = text or None
        if result.usage is not None:
            previous = self._previous_usage
            result.turn_usage = result.usage - previous if previous else result.usage
        if self._wants_structured and result.final_message is not None:
            if self._message_cut:
                result.warnings.append(
                    f"the final message lost its last {self._message_cut} bytes to "
                    "max_message_bytes; not parsed as the JSON the output schema asked for"
                )
            else:
                result.structured_output = _parse_json(result.final_message, result.warnings)
        result.failure = self._failure()
        if result.failure is None and not self._json_output and result.return_code == 0:
            result.turn_status = "completed"
        elif result.failure is not None and result.turn_status is None and result.thread_id:
            result.turn_status = "failed"
        return result

    def _failure(self) -> Failure | None:
        result, exit_info = self.result, self._exit
        if exit_info is not None and exit_info.timed_out is not None:
            return Failure(kind=FailureKind.TIMEOUT, message=_timeout_message(exit_info))
        if (
            self._expected_thread_id is not None
            and result.thread_id is not None
            and result.thread_id != self._expected_thread_id
        ):
            return Failure(
                kind=FailureKind.THREAD_MISMATCH,
                message=(
                    f"asked to resume thread {self._expected_thread_id} but codex started "
                    f"thread {result.thread_id}"
                ),
            )
        stderr = result.stderr_tail
        if self._turn_failure is not None:
            kind = classify_failure([self._turn_failure, *self._error_messages], stderr)
            return Failure(kind=kind, message=self._turn_failure)
        code = result.return_code
        if code not in (0, None):
            kind = classify_failure(list(self._error_messages), stderr)
            if kind is FailureKind.UNKNOWN and result.thread_id is None:
                # exit 2 before any event is clap refusing the command line
                kind = FailureKind.USAGE_ERROR if code == _EXIT_USAGE else FailureKind.CRASHED
            return Failure(
                kind=kind, message=_exit_message(code, stderr, list(self._error_messages))
            )
        if code == 0 and self._json_output and result.turn_status is None:
            return Failure(
                kind=FailureKind.UNKNOWN,
                message="codex exited without reporting the end of the turn",
            )
        return None


def _parse_json(text: str, warnings: list[str]) -> Any:
    try:
        return json.loads(text)
    except ValueError as exc:
        warnings.append(f"final message is not the JSON the output schema asked for: {exc}")
        return None


def _timeout_message(exit_info: TurnExit) -> str:
    if exit_info.timed_out == "idle":
        return "codex produced no output within the idle timeout; the turn was stopped"
    return "codex did not finish within the timeout; the turn was stopped"


def _exit_message(code: int | None, stderr: str, errors: list[str]) -> str:
    lines = [
        line.strip()
        for line in stderr.splitlines()
        if line.strip() and not line.startswith(("WARNING:", "Reading additional input"))
    ]
    detail = (
        errors[-1]
        if errors
        else (next((ln for ln in lines if "rror" in ln), None) or (lines[0] if lines else ""))
    )
    return f"codex exited with code {code}" + (f": {detail}" if detail else "")
