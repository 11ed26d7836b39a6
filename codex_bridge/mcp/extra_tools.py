"""More MCP tools: codex's own recent threads, and the bridge's git worktrees.

Like the other tools they are adapters: the roots policy comes from the service, the work
from :mod:`codex_bridge.threads` and :mod:`codex_bridge.worktrees`.
"""

from __future__ import annotations

from typing import Annotated, Any

import anyio.to_thread
import mcp_types as types
import msgspec

from ..service import BridgeError, BridgeService
from ..threads import ThreadInfo, codex_home, recent_threads
from ..worktrees import (
    BRANCH_PREFIX,
    WorktreeError,
    WorktreeListing,
    list_worktrees,
    remove_worktree,
    repository,
)
from .results import builtins, text_result
from .tooling import BridgeTool, ToolCall

__all__ = ["extra_tool_specs"]

_MAX_THREADS = 200
_REPOSITORY = "The repository (default: the server's default working directory)."


class _ThreadsList(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    limit: Annotated[
        int,
        msgspec.Meta(
            description=f"How many threads to return, newest first (1-{_MAX_THREADS}, default 20)."
        ),
    ] = 20
    cwd: Annotated[str | None, msgspec.Meta(description=_REPOSITORY)] = None


class _WorktreesList(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    cwd: Annotated[str | None, msgspec.Meta(description=_REPOSITORY)] = None


class _WorktreeRemove(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    branch: Annotated[
        str,
        msgspec.Meta(
            description=f"The worktree's branch ({BRANCH_PREFIX}…), from a result or the list."
        ),
    ]
    cwd: Annotated[str | None, msgspec.Meta(description=_REPOSITORY)] = None
    delete_branch: Annotated[
        bool,
        msgspec.Meta(description="Also delete the branch (its commits are lost unless merged)."),
    ] = False
    force: Annotated[
        bool,
        msgspec.Meta(
            description="Remove even when the worktree has uncommitted changes (they are lost)."
        ),
    ] = False


class _ThreadsListed(msgspec.Struct, kw_only=True):
    threads: list[ThreadInfo]


class _WorktreesListed(msgspec.Struct, kw_only=True):
    worktrees: list[WorktreeListing]


class _WorktreeRemoved(msgspec.Struct, kw_only=True):
    path: str
    branch: str
    branch_deleted: bool


def _thread_line(info: ThreadInfo) -> str:
    line = f"{info.thread_id}: {info.cwd}"
    if info.created_at:
        line += f", {info.created_at}"
    if info.source:
        line += f", {info.source}"
    return line + (f" — {info.preview}" if info.preview else "")


async def _threads_list(call: ToolCall, params: _ThreadsList) -> types.CallToolResult:
    if not 1 <= params.limit <= _MAX_THREADS:
        raise BridgeError(f"limit must be from 1 to {_MAX_THREADS}", field="limit")
    service = call.service
    under = service.checked_directory(params.cwd) if params.cwd is not None else None
    roots = service.policy.allowed_roots
    threads = await anyio.to_thread.run_sync(
        lambda: recent_threads(codex_home(), roots, limit=params.limit, cwd=under)
    )
    text = "\n".join(_thread_line(t) for t in threads) if threads else "no codex threads found"
    return text_result(text, builtins(_ThreadsListed(threads=threads)))


def _toplevel(service: BridgeService, cwd: str | None) -> str:
    directory = service.checked_directory(cwd)
    try:
        toplevel, common_dir, _ = repository(directory)
    except WorktreeError as exc:
        raise BridgeError(str(exc), field="cwd") from None
    service.checked_directory(common_dir, what="the repository's git directory")
    return toplevel


async def _worktrees_list(call: ToolCall, params: _WorktreesList) -> types.CallToolResult:
    def work() -> list[WorktreeListing]:
        try:
            return list_worktrees(_toplevel(call.service, params.cwd))
        except WorktreeError as exc:
            raise BridgeError(str(exc), field="cwd") from None

    found = await anyio.to_thread.run_sync(work)
    text = "\n".join(f"{w.branch}: {w.path}" for w in found) if found else "no bridge worktrees"
    return text_result(text, builtins(_WorktreesListed(worktrees=found)))


async def _worktree_remove(call: ToolCall, params: _WorktreeRemove) -> types.CallToolResult:
    if not params.branch.startswith(BRANCH_PREFIX):
        raise BridgeError(
            f"only the bridge's own worktrees (branches {BRANCH_PREFIX}…) can be removed",
            field="branch",
        )

    def work() -> str:
        try:
            return remove_worktree(
                _toplevel(call.service, params.cwd),
                params.branch,
                delete_branch=params.delete_branch,
                force=params.force,
            )
        except WorktreeError as exc:
            raise BridgeError(str(exc), field="branch") from None

    path = await anyio.to_thread.run_sync(work)
    text = f"removed worktree {path}" + (
        f" and branch {params.branch}" if params.delete_branch else ""
    )
    removed = _WorktreeRemoved(path=path, branch=params.branch, branch_deleted=params.delete_branch)
    return text_result(text, builtins(removed))


def extra_tool_specs() -> list[BridgeTool[Any]]:
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
            params=_ThreadsList,
            result=_ThreadsListed,
            handler=_threads_list,
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
            params=_WorktreesList,
            result=_WorktreesListed,
            handler=_worktrees_list,
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
            params=_WorktreeRemove,
            result=_WorktreeRemoved,
            handler=_worktree_remove,
            destructive=True,
        ),
    ]
