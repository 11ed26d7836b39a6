"""Tool results: the text a model reads first, plus the structured content of the tool's
output schema."""

from __future__ import annotations

from typing import Any

import mcp_types as types
import msgspec

from ..rendering import job_text
from ..service import JobInfo, RunOutcome

__all__ = [
    "builtins",
    "error_result",
    "job_result",
    "outcome_result",
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


def builtins(value: msgspec.Struct) -> dict[str, Any]:
    data: dict[str, Any] = msgspec.to_builtins(value)
    return data


def outcome_result(outcome: RunOutcome) -> types.CallToolResult:
    # A failed turn is an error even when codex exited 0.
    return text_result(outcome.to_text(), builtins(outcome), is_error=not outcome.ok)


def job_result(info: JobInfo) -> types.CallToolResult:
    return text_result(job_text(info), builtins(info))
