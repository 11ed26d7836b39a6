"""Tool results: the text a model reads first, plus the structured content of the tool's
output schema; refusals as structured tool errors."""

from __future__ import annotations

from typing import Any

import mcp_types as types
import msgspec

from ..service import BridgeError, JobInfo, RunOutcome, SessionInfo

__all__ = [
    "bridge_error_result",
    "builtins",
    "error_result",
    "job_result",
    "job_text",
    "outcome_result",
    "session_line",
    "session_text",
    "text_result",
]


def text_result(
    text: str, structured: dict[str, Any] | None = None, *, is_error: bool = False
) -> types.CallToolResult:
    return types.CallToolResult(
        content=[types.TextContent(type="text", text=text)],
        structured_content=structured,
        is_error=is_error,
    )


def error_result(message: str) -> types.CallToolResult:
    return text_result(message, is_error=True)


def bridge_error_result(exc: BridgeError) -> types.CallToolResult:
    """A refusal or bad argument, structured so that a model can act on it."""
    error = {"code": exc.code, "message": exc.message, "field": exc.field}
    return text_result(exc.message, error, is_error=True)


def builtins(value: msgspec.Struct) -> dict[str, Any]:
    data: dict[str, Any] = msgspec.to_builtins(value)
    return data


def outcome_result(outcome: RunOutcome) -> types.CallToolResult:
    # A failed turn is an error even when codex exited 0.
    return text_result(outcome.to_text(), builtins(outcome), is_error=not outcome.ok)


def session_line(info: SessionInfo) -> str:
    line = f"{info.name}: thread {info.thread_id}, {info.turns} turn(s)"
    if info.last_status:
        line += f", last {info.last_status}"
    if info.cwd:
        line += f", cwd {info.cwd}"
    return line + f", updated {info.updated_at}"


def session_text(info: SessionInfo) -> str:
    lines = [session_line(info)]
    if info.forked_from:
        lines.append(f"forked from {info.forked_from}")
    for turn in info.recent_turns or []:
        answer = f" → {turn.final_message_preview}" if turn.final_message_preview else ""
        lines.append(f"- {turn.at} {turn.operation} [{turn.status}] {turn.prompt_preview}{answer}")
    return "\n".join(lines)


def job_text(info: JobInfo) -> str:
    head = f"job {info.job_id} ({info.kind}): {info.state}"
    if info.session_name:
        head += f", session {info.session_name!r}"
    if info.thread_id:
        head += f", thread {info.thread_id}"
    lines = [head]
    if info.outcome is not None:
        lines.append(info.outcome.to_text())
    elif info.error:
        lines.append(f"error: {info.error}")
    elif info.progress:
        lines.extend(f"  {line}" for line in info.progress[-5:])
    return "\n".join(lines)


def job_result(info: JobInfo) -> types.CallToolResult:
    return text_result(job_text(info), builtins(info))
