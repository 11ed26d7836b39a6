"""The ``workspace/executeCommand`` commands: each turns its arguments (one object, or
positional strings, see :mod:`codex_bridge.lsp.arguments`) into a service operation of
:data:`~codex_bridge.service.OPERATIONS`, which parses them into the operation's params."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import msgspec

from .. import __version__
from ..errors import InvalidRequest
from ..service import OPERATIONS, BridgeService, DoctorReport, JobInfo
from .arguments import named_arguments, pop_flag, split_target
from .context import pop_context
from .server import CodexLanguageServer, job_result

__all__ = ["COMMANDS", "HANDLERS", "TABLE", "Command"]

_Handler = Callable[..., Awaitable[Any]]


def _run_command(kind: Literal["run", "resume", "fork"], positional: tuple[str, ...]) -> _Handler:
    command = f"codex.{kind}"

    async def handler(ls: CodexLanguageServer, *arguments: Any) -> Any:
        named = named_arguments(command, arguments, positional)
        split_target(command, named)
        wait = pop_flag(command, named, "wait")
        review = named.pop("review", None)
        if not isinstance(review, bool | None):
            raise InvalidRequest(f"{command}: review must be true or false")
        focus = pop_context(command, named)
        if kind == "run" and named.get("cwd") is None and ls.service.policy.default_cwd is None:
            folders = ls.folders()
            if folders:  # an editor's own cwd is arbitrary; its workspace is what it means
                named["cwd"] = folders[0]
        params = OPERATIONS[kind].parse(named)
        return await ls.start_run(kind, params, wait=wait, focus=focus, review=review)

    return handler


async def _operation(service: BridgeService, name: str, arguments: dict[str, Any]) -> Any:
    """Run the service operation ``name`` (its params parsed from ``arguments``)."""
    return await OPERATIONS[name](service, arguments)


async def _cancel(ls: CodexLanguageServer, *arguments: Any) -> Any:
    named = _only("codex.cancel", arguments, ("run_id",), optional=("run_id",))
    run_id = named.get("run_id")
    ids = [run_id] if run_id else [i for i, r in ls.runs.items() if r.task and not r.task.done()]
    cancelled: list[JobInfo] = [
        await _operation(ls.service, "jobs.cancel", {"job_id": i}) for i in ids
    ]
    return {"cancelled": [job_result(info) for info in cancelled]}


async def _status(ls: CodexLanguageServer, *arguments: Any) -> Any:
    named = named_arguments("codex.status", arguments, ("run_id",))
    doctor = pop_flag("codex.status", named, "doctor")
    named = _only("codex.status", [named], (), optional=("run_id",))
    if named.get("run_id"):
        return job_result(await _operation(ls.service, "jobs.status", {"job_id": named["run_id"]}))
    engine = ls.service.engine_status()
    result: dict[str, Any] = {
        "version": __version__,
        "engine": msgspec.to_builtins(engine) if engine is not None else None,
        "policy": ls.service.policy.describe(),
        "runs": [job_result(info) for info in ls.service.list_jobs()],
    }
    if doctor:  # runs codex --version and login status: never part of initialize
        report: DoctorReport = await _operation(ls.service, "doctor", {})
        result["doctor"] = msgspec.to_builtins(report)
    return result


async def _steer(ls: CodexLanguageServer, *arguments: Any) -> Any:
    named = named_arguments("codex.steer", arguments, ("run_id", "prompt"))
    target = str(named.pop("run_id", "") or "")
    prompt = named.pop("prompt", None)
    thread_id = named.pop("thread_id", None)
    if named:
        raise InvalidRequest(f"codex.steer: unknown argument(s) {', '.join(sorted(named))}")
    if not isinstance(prompt, str):
        raise InvalidRequest("codex.steer: prompt is required")
    if thread_id is None and not target:
        raise InvalidRequest("codex.steer: name the run (run_id) or the thread (thread_id)")
    steer = {"prompt": prompt, "job_id": target or None, "thread_id": thread_id or None}
    return msgspec.to_builtins(await _operation(ls.service, "steer", steer))


def _sessions_command(operation: str, positional: tuple[str, ...]) -> _Handler:
    """A ``codex.sessions.*`` command: named strings in, the operation's result out."""
    command = f"codex.{operation}"

    async def handler(ls: CodexLanguageServer, *arguments: Any) -> Any:
        named = _only(command, arguments, positional)
        result = await _operation(ls.service, operation, named)
        # The list answers as a bare array, as it always has.
        return msgspec.to_builtins(result.sessions if operation == "sessions.list" else result)

    return handler


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
        raise InvalidRequest(f"{command}: unknown argument(s) {', '.join(unknown)}")
    for name in positional:
        if name not in optional and not named.get(name):
            raise InvalidRequest(f"{command}: {name} is required")
        if name in named and not isinstance(named[name], str):
            raise InvalidRequest(f"{command}: {name} must be a string")
    return named


_RUN_OPTIONS = {
    "wait": "true: answer when Codex finishes (default: at once, with the run_id; the result "
    "follows as progress, messages and the transcript).",
    "review": "true: Codex works on a private copy of the workspace and its changes come back "
    "as one workspace edit to accept; false: it writes to disk directly (default: the review "
    "setting, for runs that may write).",
    "document": "The focused document (a file URI): the prompt says where you are.",
    "position": 'The cursor, {"line", "character"}.',
    "selection": 'The selection, {"start", "end"}: quoted in the prompt from the buffer.',
}
_TARGET = "A session name, or a thread id (a UUID): becomes session_name or thread_id."
_RUN_ID = "The run_id a run answered with."


@dataclass(frozen=True)
class Command:
    """One ``workspace/executeCommand`` command, and what its reference says about it."""

    name: str
    handler: _Handler
    operation: str | None
    """The service operation it runs: its params Struct describes the arguments."""
    positional: tuple[str, ...] = ()
    """The arguments that may come as strings, in order (then one object of the rest)."""
    summary: str = ""
    """What it does (default: the operation's description)."""
    options: Mapping[str, str] = field(default_factory=dict)
    """Arguments of the language server's own, with what they do."""
    renamed: Mapping[str, str] = field(default_factory=dict)
    """Params fields the command names differently (``job_id`` → ``run_id``)."""


def _turn(kind: Literal["run", "resume", "fork"], positional: tuple[str, ...]) -> Command:
    summaries = {
        "run": "Start a new Codex thread in the background (or, with wait, until it ends).",
        "resume": "Continue a session or thread with a prompt.",
        "fork": "Fork a session or thread and run a prompt on the copy.",
    }
    options = dict(_RUN_OPTIONS)
    if "target" in positional:
        options = {"target": _TARGET, **options}
    return Command(
        f"codex.{kind}", _run_command(kind, positional), kind, positional, summaries[kind], options
    )


def _sessions(operation: str, positional: tuple[str, ...]) -> Command:
    return Command(
        f"codex.{operation}", _sessions_command(operation, positional), operation, positional
    )


TABLE = (
    _turn("run", ("prompt", "session_name")),
    _turn("resume", ("target", "prompt")),
    _turn("fork", ("target", "prompt", "new_session_name")),
    Command(
        "codex.cancel",
        _cancel,
        "jobs.cancel",
        ("run_id",),
        "Cancel a run (by default every running run of this server).",
        {"run_id": _RUN_ID},
        renamed={"job_id": "run_id"},
    ),
    Command(
        "codex.status",
        _status,
        "jobs.status",
        ("run_id",),
        "A run's state and result; without run_id the server's version, engine, policy and runs.",
        {"run_id": _RUN_ID, "doctor": "true: also check codex, its login and the session store."},
        renamed={"job_id": "run_id"},
    ),
    _sessions("sessions.list", ()),
    _sessions("sessions.show", ("name",)),
    _sessions("sessions.rename", ("name", "new_name")),
    _sessions("sessions.delete", ("name",)),
    Command(
        "codex.steer",
        _steer,
        "steer",
        ("run_id", "prompt"),
        options={"run_id": "The running run to steer (or name its thread_id)."},
        renamed={"job_id": "run_id"},
    ),
)
"""Every command, in the order the reference lists them."""

HANDLERS: dict[str, _Handler] = {command.name: command.handler for command in TABLE}

COMMANDS = tuple(HANDLERS)
"""The commands the server offers, by name."""
