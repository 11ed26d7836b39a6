"""More MCP tools: codex's own recent threads, and the bridge's git worktrees.

Like the other tools they are adapters over the service's operations (``threads.list``,
``worktrees.list``, ``worktrees.remove``), which keep to the allowed roots.
"""

from __future__ import annotations

from typing import Any

import mcp_types as types

from ..service import OPERATIONS, ThreadList, WorktreeList, WorktreeRemoved
from ..threads import ThreadInfo
from ..worktrees import BRANCH_PREFIX
from .results import builtins, text_result
from .tooling import BridgeTool

__all__ = ["extra_tool_specs"]


def _thread_line(info: ThreadInfo) -> str:
    line = f"{info.thread_id}: {info.cwd}"
    if info.created_at:
        line += f", {info.created_at}"
    if info.source:
        line += f", {info.source}"
    return line + (f" — {info.preview}" if info.preview else "")


def _threads(_: object, listed: ThreadList) -> types.CallToolResult:
    threads = listed.threads
    text = "\n".join(_thread_line(t) for t in threads) if threads else "no codex threads found"
    return text_result(text, builtins(listed))


def _worktrees(_: object, listed: WorktreeList) -> types.CallToolResult:
    found = listed.worktrees
    text = "\n".join(f"{w.branch}: {w.path}" for w in found) if found else "no bridge worktrees"
    return text_result(text, builtins(listed))


def _removed(_: object, removed: WorktreeRemoved) -> types.CallToolResult:
    text = f"removed worktree {removed.path}" + (
        f" and branch {removed.branch}" if removed.branch_deleted else ""
    )
    return text_result(text, builtins(removed))


def extra_tool_specs() -> list[BridgeTool[Any, Any]]:
    return [
        BridgeTool(
            name="codex_threads_list",
            title="List Codex threads",
            description=(
                "List Codex's own recent threads on this machine (from any client: terminal, "
                "editor, this server), newest first, with their directory and first prompt; "
                "codex_resume continues one by thread_id. Only threads in directories this "
                "server allows are listed."
            ),
            operation=OPERATIONS["threads.list"],
            render=_threads,
            read_only=True,
            idempotent=True,
        ),
        BridgeTool(
            name="codex_worktrees_list",
            title="List Codex worktrees",
            description=(
                "List the git worktrees codex-bridge made for runs with worktree: true "
                f"(branches {BRANCH_PREFIX}…) in a repository."
            ),
            operation=OPERATIONS["worktrees.list"],
            render=_worktrees,
            read_only=True,
            idempotent=True,
        ),
        BridgeTool(
            name="codex_worktree_remove",
            title="Remove a Codex worktree",
            description=(
                "Remove a worktree codex-bridge made (by its branch). Uncommitted changes "
                "are kept unless force is true; delete_branch also deletes the branch."
            ),
            operation=OPERATIONS["worktrees.remove"],
            render=_removed,
            destructive=True,
        ),
    ]
