"""The session tools: list, show, rename and delete the named sessions."""

from __future__ import annotations

from typing import Any

import mcp_types as types

from ..rendering import session_line, session_text
from ..service import (
    OPERATIONS,
    SessionDeleted,
    SessionInfo,
    SessionList,
    SessionRenameParams,
)
from .results import builtins, text_result
from .tooling import BridgeTool

__all__ = ["session_tool_specs"]


def _listed(_: object, listed: SessionList) -> types.CallToolResult:
    sessions = listed.sessions
    text = "\n".join(session_line(s) for s in sessions) if sessions else "no sessions"
    return text_result(text, builtins(listed))


def _shown(_: object, info: SessionInfo) -> types.CallToolResult:
    return text_result(session_text(info), builtins(info))


def _renamed(params: SessionRenameParams, info: SessionInfo) -> types.CallToolResult:
    return text_result(f"renamed {params.name!r} to {info.name!r}", builtins(info))


def _deleted(_: object, info: SessionDeleted) -> types.CallToolResult:
    text = (
        f"deleted session {info.name!r}; codex keeps thread {info.thread_id}, "
        "which codex_resume can still continue by thread_id"
        if info.deleted
        else f"no session {info.name!r}: nothing to delete"
    )
    return text_result(text, builtins(info))


def session_tool_specs() -> list[BridgeTool[Any, Any]]:
    return [
        BridgeTool(
            name="codex_sessions_list",
            title="List Codex sessions",
            description=(
                "List the named Codex sessions, most recently used first: name, thread id, "
                "working directory, number of turns, last status."
            ),
            operation=OPERATIONS["sessions.list"],
            render=_listed,
            read_only=True,
            idempotent=True,
        ),
        BridgeTool(
            name="codex_session_show",
            title="Show a Codex session",
            description=(
                "Show one named session: its metadata, token usage and recent turns (prompt "
                "and answer previews)."
            ),
            operation=OPERATIONS["sessions.show"],
            render=_shown,
            read_only=True,
            idempotent=True,
        ),
        BridgeTool(
            name="codex_session_rename",
            title="Rename a Codex session",
            description="Give a named session a new name (the new name must be free).",
            operation=OPERATIONS["sessions.rename"],
            render=_renamed,
        ),
        BridgeTool(
            name="codex_session_delete",
            title="Delete a Codex session",
            description=(
                "Forget a session name. Codex keeps the thread itself, so it can still be "
                "continued by thread_id. Deleting a name that does not exist succeeds "
                "(deleted: false)."
            ),
            operation=OPERATIONS["sessions.delete"],
            render=_deleted,
            destructive=True,
            idempotent=True,
        ),
    ]
