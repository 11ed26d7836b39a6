"""More MCP tools: codex's own recent threads, and the bridge's git worktrees.

Like the other tools they are adapters: the roots policy comes from the service, the work
from :mod:`codex_bridge.threads` and :mod:`codex_bridge.worktrees`.
"""

from __future__ import annotations

from typing import Any

import anyio.to_thread
import mcp_types as types
import msgspec

from ..service import BridgeError, BridgeService, ProgressCallback, parse_params
from ..threads import ThreadInfo, codex_home, recent_threads
from ..worktrees import (
    BRANCH_PREFIX,
    WorktreeError,
    WorktreeListing,
    list_worktrees,
    remove_worktree,
    repository,
)
from .server import (
    _annotations,
    _builtins,
    _input_schema,
    _output_schema,
    _text_result,
    _ToolSpec,
)

__all__ = ["extra_tool_specs"]

_MAX_THREADS = 200


class _ThreadsList(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    limit: int = 20
    cwd: str | None = None


class _WorktreesList(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    cwd: str | None = None


class _WorktreeRemove(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    branch: str
    cwd: str | None = None
    delete_branch: bool = False
    force: bool = False


_DOCS = {
    "limit": f"How many threads to return, newest first (1-{_MAX_THREADS}, default 20).",
    "cwd": "The repository (default: the server's default working directory).",
    "branch": f"The worktree's branch ({BRANCH_PREFIX}…), from a result or the list.",
    "delete_branch": "Also delete the branch (its commits are lost unless merged).",
    "force": "Remove even when the worktree has uncommitted changes (they are lost).",
}


def _schema(tool: str, kind: type[msgspec.Struct]) -> dict[str, Any]:
    schema = _input_schema(tool, [kind])
    for name, prop in schema["properties"].items():
        if name in _DOCS:
            prop["description"] = _DOCS[name]
    return schema


def _thread_line(info: ThreadInfo) -> str:
    line = f"{info.thread_id}: {info.cwd}"
    if info.created_at:
        line += f", {info.created_at}"
    if info.source:
        line += f", {info.source}"
    return line + (f" — {info.preview}" if info.preview else "")


async def _threads_list(
    service: BridgeService, arguments: dict[str, Any], _: ProgressCallback
) -> types.CallToolResult:
    params = parse_params(_ThreadsList, arguments)
    if not 1 <= params.limit <= _MAX_THREADS:
        raise BridgeError(f"limit must be from 1 to {_MAX_THREADS}", field="limit")
    under = service.checked_directory(params.cwd) if params.cwd is not None else None
    roots = service.policy.allowed_roots
    threads = await anyio.to_thread.run_sync(
        lambda: recent_threads(codex_home(), roots, limit=params.limit, cwd=under)
    )
    text = "\n".join(_thread_line(t) for t in threads) if threads else "no codex threads found"
    return _text_result(text, {"threads": [_builtins(t) for t in threads]})


def _toplevel(service: BridgeService, cwd: str | None) -> str:
    directory = service.checked_directory(cwd)
    try:
        toplevel, common_dir, _ = repository(directory)
    except WorktreeError as exc:
        raise BridgeError(str(exc), field="cwd") from None
    service.checked_directory(common_dir, what="the repository's git directory")
    return toplevel


async def _worktrees_list(
    service: BridgeService, arguments: dict[str, Any], _: ProgressCallback
) -> types.CallToolResult:
    params = parse_params(_WorktreesList, arguments)

    def work() -> list[WorktreeListing]:
        try:
            return list_worktrees(_toplevel(service, params.cwd))
        except WorktreeError as exc:
            raise BridgeError(str(exc), field="cwd") from None

    found = await anyio.to_thread.run_sync(work)
    text = "\n".join(f"{w.branch}: {w.path}" for w in found) if found else "no bridge worktrees"
    return _text_result(text, {"worktrees": [_builtins(w) for w in found]})


async def _worktree_remove(
    service: BridgeService, arguments: dict[str, Any], _: ProgressCallback
) -> types.CallToolResult:
    params = parse_params(_WorktreeRemove, arguments)
    if not params.branch.startswith(BRANCH_PREFIX):
        raise BridgeError(
            f"only the bridge's own worktrees (branches {BRANCH_PREFIX}…) can be removed",
            field="branch",
        )

    def work() -> str:
        try:
            return remove_worktree(
                _toplevel(service, params.cwd),
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
    removed = {"path": path, "branch": params.branch, "branch_deleted": params.delete_branch}
    return _text_result(text, removed)


def extra_tool_specs() -> list[_ToolSpec]:
    listing = {"type": "array", "items": _output_schema(WorktreeListing)}
    return [
        _ToolSpec(
            name="codex_threads_list",
            title="List Codex threads",
            description=(
                "List Codex's own recent threads on this machine (from any client: terminal, "
                "editor, this server), newest first, with their directory and first prompt; "
                "codex_resume continues one by thread_id. Only threads in directories this "
                "server allows are listed."
            ),
            input_schema=_schema("codex_threads_list", _ThreadsList),
            output_schema={
                "type": "object",
                "properties": {"threads": {"type": "array", "items": _output_schema(ThreadInfo)}},
                "required": ["threads"],
            },
            annotations=_annotations("List Codex threads", read_only=True, idempotent=True),
            handler=_threads_list,
        ),
        _ToolSpec(
            name="codex_worktrees_list",
            title="List Codex worktrees",
            description=(
                "List the git worktrees codex-bridge made for runs with worktree: true "
                f"(branches {BRANCH_PREFIX}…) in a repository."
            ),
            input_schema=_schema("codex_worktrees_list", _WorktreesList),
            output_schema={
                "type": "object",
                "properties": {"worktrees": listing},
                "required": ["worktrees"],
            },
            annotations=_annotations("List Codex worktrees", read_only=True, idempotent=True),
            handler=_worktrees_list,
        ),
        _ToolSpec(
            name="codex_worktree_remove",
            title="Remove a Codex worktree",
            description=(
                "Remove a worktree codex-bridge made (by its branch). Uncommitted changes "
                "are kept unless force is true; delete_branch also deletes the branch."
            ),
            input_schema=_schema("codex_worktree_remove", _WorktreeRemove),
            output_schema={
                "type": "object",
                "properties": {
                    "path": {"type": "string"},
                    "branch": {"type": "string"},
                    "branch_deleted": {"type": "boolean"},
                },
                "required": ["path", "branch", "branch_deleted"],
            },
            annotations=_annotations("Remove a Codex worktree", destructive=True),
            handler=_worktree_remove,
        ),
    ]
