"""The session tools: list, show, rename and delete the named sessions."""

from __future__ import annotations

from typing import Annotated, Any

import mcp_types as types
import msgspec

from ..rendering import session_line, session_text
from ..service import SessionDeleted, SessionInfo, SessionRenameParams
from .field_docs import docs_for
from .results import builtins, text_result
from .tooling import BridgeTool, NoArguments, ToolCall, in_thread

__all__ = ["session_tool_specs"]


class _SessionName(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    name: Annotated[str, msgspec.Meta(description="The session name.")]


class _SessionsListed(msgspec.Struct, kw_only=True):
    sessions: list[SessionInfo]


async def _sessions_list(call: ToolCall, params: NoArguments) -> types.CallToolResult:
    sessions = await in_thread(call.service.list_sessions)
    text = "\n".join(session_line(s) for s in sessions) if sessions else "no sessions"
    return text_result(text, builtins(_SessionsListed(sessions=sessions)))


async def _session_show(call: ToolCall, params: _SessionName) -> types.CallToolResult:
    info = await in_thread(lambda: call.service.show_session(params.name))
    return text_result(session_text(info), builtins(info))


async def _session_rename(call: ToolCall, params: SessionRenameParams) -> types.CallToolResult:
    info = await in_thread(lambda: call.service.rename_session(params.name, params.new_name))
    return text_result(f"renamed {params.name!r} to {info.name!r}", builtins(info))


async def _session_delete(call: ToolCall, params: _SessionName) -> types.CallToolResult:
    info = await in_thread(lambda: call.service.delete_session(params.name))
    text = (
        f"deleted session {info.name!r}; codex keeps thread {info.thread_id}, "
        "which codex_resume can still continue by thread_id"
        if info.deleted
        else f"no session {info.name!r}: nothing to delete"
    )
    return text_result(text, builtins(info))


def session_tool_specs() -> list[BridgeTool[Any]]:
    return [
        BridgeTool(
            name="codex_sessions_list",
            title="List Codex sessions",
            description=(
                "List the named Codex sessions, most recently used first: name, thread id, "
                "working directory, number of turns, last status."
            ),
            params=NoArguments,
            result=_SessionsListed,
            handler=_sessions_list,
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
            params=_SessionName,
            result=SessionInfo,
            handler=_session_show,
            read_only=True,
            idempotent=True,
        ),
        BridgeTool(
            name="codex_session_rename",
            title="Rename a Codex session",
            description="Give a named session a new name (the new name must be free).",
            params=SessionRenameParams,
            docs=docs_for("codex_session_rename"),
            result=SessionInfo,
            handler=_session_rename,
        ),
        BridgeTool(
            name="codex_session_delete",
            title="Delete a Codex session",
            description=(
                "Forget a session name. Codex keeps the thread itself, so it can still be "
                "continued by thread_id. Deleting a name that does not exist succeeds "
                "(deleted: false)."
            ),
            params=_SessionName,
            result=SessionDeleted,
            handler=_session_delete,
            destructive=True,
            idempotent=True,
        ),
    ]
