"""The ``workspace/executeCommand`` commands: each turns its arguments (one object, or
positional strings, see :mod:`codex_bridge.lsp.arguments`) into a service call."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Literal

import msgspec

from .. import __version__
from ..service import (
    BridgeError,
    ForkParams,
    ResumeParams,
    RunParams,
    SessionRenameParams,
    parse_params,
)
from .arguments import named_arguments, pop_flag, split_target
from .context import pop_context
from .server import CodexLanguageServer, job_result

__all__ = ["COMMANDS", "HANDLERS"]

_Handler = Callable[..., Awaitable[Any]]


def _run_command(
    kind: Literal["run", "resume", "fork"],
    params_type: type[RunParams] | type[ResumeParams] | type[ForkParams],
    positional: tuple[str, ...],
) -> _Handler:
    command = f"codex.{kind}"

    async def handler(ls: CodexLanguageServer, *arguments: Any) -> Any:
        named = named_arguments(command, arguments, positional)
        split_target(command, named)
        wait = pop_flag(command, named, "wait")
        review = named.pop("review", None)
        if not isinstance(review, bool | None):
            raise BridgeError(f"{command}: review must be true or false")
        focus = pop_context(command, named)
        if kind == "run" and named.get("cwd") is None and ls.service.policy.default_cwd is None:
            folders = ls.folders()
            if folders:  # an editor's own cwd is arbitrary; its workspace is what it means
                named["cwd"] = folders[0]
        params = parse_params(params_type, named)
        return await ls.start_run(kind, params, wait=wait, focus=focus, review=review)

    return handler


async def _cancel(ls: CodexLanguageServer, *arguments: Any) -> Any:
    named = _only("codex.cancel", arguments, ("run_id",), optional=("run_id",))
    run_id = named.get("run_id")
    ids = [run_id] if run_id else [i for i, r in ls.runs.items() if r.task and not r.task.done()]
    return {"cancelled": [job_result(await ls.service.cancel_job(i)) for i in ids]}


async def _status(ls: CodexLanguageServer, *arguments: Any) -> Any:
    named = named_arguments("codex.status", arguments, ("run_id",))
    doctor = pop_flag("codex.status", named, "doctor")
    named = _only("codex.status", [named], (), optional=("run_id",))
    if named.get("run_id"):
        return job_result(ls.service.job_status(named["run_id"]))
    engine = ls.service.engine_status()
    result: dict[str, Any] = {
        "version": __version__,
        "engine": msgspec.to_builtins(engine) if engine is not None else None,
        "policy": ls.service.policy.describe(),
        "runs": [job_result(info) for info in ls.service.list_jobs()],
    }
    if doctor:  # runs codex --version and login status: never part of initialize
        result["doctor"] = msgspec.to_builtins(await asyncio.to_thread(ls.service.doctor))
    return result


async def _steer(ls: CodexLanguageServer, *arguments: Any) -> Any:
    named = named_arguments("codex.steer", arguments, ("run_id", "prompt"))
    target = str(named.pop("run_id", "") or "")
    prompt = named.pop("prompt", None)
    thread_id = named.pop("thread_id", None)
    if named:
        raise BridgeError(f"codex.steer: unknown argument(s) {', '.join(sorted(named))}")
    if not isinstance(prompt, str):
        raise BridgeError("codex.steer: prompt is required")
    if thread_id is None and not target:
        raise BridgeError("codex.steer: name the run (run_id) or the thread (thread_id)")
    info = await ls.service.steer(
        prompt, job_id=target or None, thread_id=str(thread_id) if thread_id else None
    )
    return msgspec.to_builtins(info)


async def _sessions_list(ls: CodexLanguageServer, *arguments: Any) -> Any:
    _only("codex.sessions.list", arguments, ())
    return msgspec.to_builtins(await asyncio.to_thread(ls.service.list_sessions))


async def _sessions_show(ls: CodexLanguageServer, *arguments: Any) -> Any:
    name = _only("codex.sessions.show", arguments, ("name",))["name"]
    return msgspec.to_builtins(await asyncio.to_thread(ls.service.show_session, name))


async def _sessions_rename(ls: CodexLanguageServer, *arguments: Any) -> Any:
    named = named_arguments("codex.sessions.rename", arguments, ("name", "new_name"))
    params = parse_params(SessionRenameParams, named)
    info = await asyncio.to_thread(ls.service.rename_session, params.name, params.new_name)
    ls.forget_last_thread()
    return msgspec.to_builtins(info)


async def _sessions_delete(ls: CodexLanguageServer, *arguments: Any) -> Any:
    name = _only("codex.sessions.delete", arguments, ("name",))["name"]
    info = await asyncio.to_thread(ls.service.delete_session, name)
    ls.forget_last_thread()
    return msgspec.to_builtins(info)


def _only(
    command: str,
    arguments: Sequence[Any],
    positional: tuple[str, ...],
    *,
    optional: tuple[str, ...] = (),
) -> dict[str, Any]:
    """Named string arguments: all of ``positional`` required unless ``optional``."""
    named = named_arguments(command, arguments, positional)
    unknown = sorted(set(named) - set(positional) - set(optional))
    if unknown:
        raise BridgeError(f"{command}: unknown argument(s) {', '.join(unknown)}")
    for name in positional:
        if name not in optional and not named.get(name):
            raise BridgeError(f"{command}: {name} is required")
        if name in named and not isinstance(named[name], str):
            raise BridgeError(f"{command}: {name} must be a string")
    return named


HANDLERS: dict[str, _Handler] = {
    "codex.run": _run_command("run", RunParams, ("prompt", "session_name")),
    "codex.resume": _run_command("resume", ResumeParams, ("target", "prompt")),
    "codex.fork": _run_command("fork", ForkParams, ("target", "prompt", "new_session_name")),
    "codex.cancel": _cancel,
    "codex.status": _status,
    "codex.sessions.list": _sessions_list,
    "codex.sessions.show": _sessions_show,
    "codex.sessions.rename": _sessions_rename,
    "codex.sessions.delete": _sessions_delete,
    "codex.steer": _steer,
}

COMMANDS = tuple(HANDLERS)
"""The commands the server offers, by name."""
