"""The MCP server: Codex as MCP tools for agent hosts, over the official ``mcp`` SDK.

A thin adapter over :class:`~codex_bridge.service.BridgeService`: it publishes the tools and
resources, turns arguments into the service's params Structs, relays progress and renders
results. Every decision (policy, sessions, jobs, concurrency) is the service's.

It is built on the SDK's low-level ``Server`` rather than ``MCPServer`` so that the input and
output schemas come from the service's msgspec Structs (one source of truth, validated by
``parse_params``) instead of being restated as Python signatures.

Run it with ``codex-bridge mcp`` or ``python -m codex_bridge.mcp_server`` (stdio).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import json
import logging
import os
import signal
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeVar
from urllib.parse import quote, unquote

import anyio
import anyio.to_thread
import mcp_types as types
import msgspec
from mcp.server.caching import CacheHint
from mcp.server.context import ServerRequestContext
from mcp.server.lowlevel.server import Server
from mcp.server.stdio import stdio_server
from mcp.shared.exceptions import MCPError
from mcp.shared.message import SessionMessage
from pydantic import ValidationError

from codex_local_sdk.otel import instrument

from . import __version__
from .mcp_approvals import approval_relay
from .policy import SAFE_CONFIG_KEYS, BridgePolicy
from .service import (
    BridgeError,
    BridgeService,
    ForkParams,
    JobInfo,
    JobsWaited,
    ProgressCallback,
    ProgressUpdate,
    ResumeParams,
    RunOutcome,
    RunParams,
    SessionDeleted,
    SessionInfo,
    SessionRenameParams,
    SteerInfo,
    parse_params,
)
from .wire import INVALID_PARAMS, INVALID_REQUEST, Refused, check_arguments, inspect_message

__all__ = [
    "SERVER_NAME",
    "ServeOptions",
    "build_server",
    "host_tool_timeout",
    "main",
    "options_from_args",
    "serve",
]

logger = logging.getLogger("codex_bridge.mcp")

SERVER_NAME = "codex-bridge"
SESSIONS_URI = "codex://sessions"
SESSION_URI_TEMPLATE = "codex://sessions/{name}"
_SESSION_URI_PREFIX = SESSIONS_URI + "/"
_CLEANUP_SECONDS = 30.0  # bound on waiting for codex to be killed and reaped
_MAX_WAIT_SECONDS = 3600.0
HOST_TOOL_TIMEOUT_ENV = "MCP_TOOL_TIMEOUT"
"""Claude Code's tool timeout (milliseconds), which it passes on to the servers it starts."""
_HOST_TIMEOUT_MARGIN_SECONDS = 2.0
_WAITING_TOOLS = frozenset({"codex_run", "codex_resume", "codex_fork"})
_T = TypeVar("_T")

Context = ServerRequestContext[BridgeService, Any]
# The tool call being served: its session can ask the person about codex's approvals.
_call_context: contextvars.ContextVar[Context | None] = contextvars.ContextVar(
    "codex_bridge_mcp_call", default=None
)


@dataclass(frozen=True)
class ServeOptions:
    """How ``codex-bridge mcp`` serves (beyond the policy)."""

    compat_tools: bool = False
    """Also offer ``codex`` / ``codex-reply``, the removed ``codex mcp-server``'s tools."""
    http: str | None = None
    """Serve streamable HTTP on ``[HOST:]PORT`` instead of stdio."""
    token_file: str | None = None
    """The HTTP bearer token's file (default: a new token in a new 0600 file)."""
    allow_remote: bool = False
    """Allow a non-loopback HTTP bind."""
    allowed_hosts: tuple[str, ...] = ()
    """Extra Host header values HTTP clients may use (``host`` or ``host:port``)."""


def options_from_args(args: Any) -> ServeOptions:
    """The serve options from ``codex-bridge mcp``'s parsed arguments."""
    return ServeOptions(
        compat_tools=bool(getattr(args, "compat_tools", False)),
        http=getattr(args, "http", None),
        token_file=getattr(args, "token_file", None),
        allow_remote=bool(getattr(args, "allow_remote", False)),
        allowed_hosts=tuple(getattr(args, "allowed_host", None) or ()),
    )


INSTRUCTIONS = """\
codex-bridge runs the OpenAI Codex coding agent on this machine. Codex reads and edits files \
and runs shell commands inside a sandbox, in a working directory you choose.
- codex_run starts a task and waits for the result; codex_resume continues a thread (by \
session_name or thread_id) with its earlier context; codex_fork tries an alternative on a copy.
- For long work use codex_job_start, then codex_job_wait / codex_job_status; codex_job_cancel \
stops it.
- Give Codex complete, self-contained prompts: it does not see this conversation.
- The server enforces a sandbox ceiling, allowed working directories and timeouts; a refused \
request says what is allowed."""


# --------------------------------------------------------------------------- schemas

_FIELD_DOCS: dict[str, str] = {
    "prompt": (
        "The task for Codex in plain language. Codex does not see your conversation, so say "
        "what to do, where, the constraints and how to check the result."
    ),
    "session_name": "Name of a recorded session (see codex_sessions_list).",
    "thread_id": "Codex thread id (a UUID) from an earlier result's thread_id.",
    "cwd": "Working directory for Codex (absolute, or relative to the default).",
    "model": "Model to use instead of the Codex configuration's default.",
    "sandbox": (
        "Where Codex's shell commands may write: read-only (inspect and answer), "
        "workspace-write (edit files in cwd), danger-full-access (anything)."
    ),
    "approval_policy": (
        "When Codex asks before acting: 'never' (the default) or 'on-request' (Codex asks "
        "the user, through an elicitation form, before running a command outside its "
        "sandbox; the answers are listed in the result's approvals)."
    ),
    "profile": (
        "A profile from the Codex config.toml; refused unless the server's operator allowed "
        "profiles."
    ),
    "config_overrides": (
        'Extra Codex config values as {"dotted.key": value} (like codex -c), model and '
        "reasoning settings only; any other key is refused. Use the sandbox and "
        "approval_policy arguments for those."
    ),
    "replace_session": (
        "Set true to point an existing session name at the new thread; without it an "
        "existing name is refused."
    ),
    "output_schema": (
        "A JSON Schema (object) the final answer must follow; the parsed answer is returned "
        "as structured_output."
    ),
    "images": "Image files to attach to the prompt (paths).",
    "reasoning_effort": "How hard the model thinks (models support a subset).",
    "reasoning_summary": "How much of its reasoning the model summarises.",
    "web_search": "Codex's web search tool: disabled, cached (OpenAI's index) or live.",
    "network_access": (
        "Let Codex's commands use the network (workspace-write sandbox); refused unless the "
        "server's operator allowed network access."
    ),
    "developer_instructions": "Extra instructions Codex follows for this turn.",
    "base_instructions": "Replace Codex's built-in instructions (rarely needed).",
    "add_dirs": "Additional writable directories for the workspace-write sandbox.",
    "timeout_seconds": "Give up (and stop Codex) after this many seconds.",
    "idle_timeout_seconds": "Give up when Codex produces no event for this many seconds.",
    "detail": (
        "summary (default): the answer, thread id, commands with exit codes, files changed and "
        "usage. full: also every Codex event and each command's output (large; only when "
        "you need them)."
    ),
    "new_session_name": "Name to record the forked thread under.",
    "name": "The session name.",
    "new_name": "The new session name.",
    "job_id": "A job id returned by codex_job_start (see codex_jobs_list).",
    "kind": (
        "What the job does: run (new thread, codex_run arguments), resume (continue a "
        "thread, codex_resume arguments) or fork (codex_fork arguments)."
    ),
    "wait_seconds": (
        "Return after at most this many seconds even if the job is still running "
        "(it keeps running)."
    ),
    "job_ids": "Several job ids to wait for (instead of job_id).",
    "worktree": (
        "Run Codex in a new git worktree of cwd's repository, on a new branch "
        "codex-bridge/<session, job or run name>, leaving your checkout untouched; the result "
        "reports the worktree, its branch, commits ahead and a diff stat."
    ),
    "mode": "With job_ids: 'any' returns when one job ends, 'all' when every job has.",
}

_TOOL_FIELD_DOCS: dict[str, dict[str, str]] = {
    "codex_steer": {
        "prompt": "What to add to the running turn (a correction, a detail, a new priority).",
        "job_id": "The running job to steer (exactly one of job_id or thread_id).",
        "thread_id": "The thread whose running turn to steer (exactly one of the two).",
    },
    "codex_run": {
        "session_name": (
            "Record the new thread under this name, to continue it later with codex_resume. "
            "Must not exist yet."
        ),
    },
    "codex_resume": {
        "session_name": "The session to continue (exactly one of session_name or thread_id).",
        "thread_id": "The thread to continue (exactly one of session_name or thread_id).",
        "cwd": "Working directory (default: the session's recorded one, else the default).",
    },
    "codex_fork": {
        "session_name": "The session to fork (exactly one of session_name or thread_id).",
        "thread_id": "The thread to fork (exactly one of session_name or thread_id).",
    },
    "codex_job_start": {
        "session_name": (
            "run: record the new thread under this name; resume/fork: the session to "
            "continue or fork (exactly one of session_name or thread_id)."
        ),
        "thread_id": "resume/fork only: the thread to continue or fork.",
        "new_session_name": "fork only: name to record the forked thread under.",
        "profile": "run only: " + _FIELD_DOCS["profile"],
        "add_dirs": "run only: " + _FIELD_DOCS["add_dirs"],
        "cwd": "run/resume only: " + _FIELD_DOCS["cwd"],
    },
}


def _inline_refs(node: Any, defs: Mapping[str, Any]) -> Any:
    """Replace ``$ref``s by their definitions: some hosts do not resolve references."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            target = dict(defs[ref.removeprefix("#/$defs/")])
            target.pop("title", None)
            return _inline_refs(target, defs)
        return {key: _inline_refs(value, defs) for key, value in node.items() if key != "$defs"}
    if isinstance(node, list):
        return [_inline_refs(item, defs) for item in node]
    return node


def _struct_schema(kind: Any) -> dict[str, Any]:
    """The JSON Schema of a msgspec type, with an inline object root."""
    raw = msgspec.json.schema(kind)
    schema: dict[str, Any] = _inline_refs(raw, raw.get("$defs", {}))
    return schema


def _without_null(prop: dict[str, Any]) -> dict[str, Any]:
    """``anyOf [X, null]`` with a null default → X: an omitted argument means the same, and
    models fill flat schemas more reliably."""
    variants = prop.get("anyOf")
    if isinstance(variants, list) and prop.get("default", ...) is None:
        rest = [v for v in variants if v != {"type": "null"}]
        if len(rest) == 1:
            return dict(rest[0])
    return prop


def _input_schema(tool: str, kinds: Sequence[type[msgspec.Struct]]) -> dict[str, Any]:
    """An input schema from one or more params Structs (their fields merged, in order)."""
    properties: dict[str, Any] = {}
    required: list[str] | None = None
    for kind in kinds:
        schema = _struct_schema(kind)
        for name, prop in schema["properties"].items():
            properties.setdefault(name, _without_null(prop))
        kind_required = list(schema.get("required", []))
        required = (
            kind_required if required is None else [r for r in required if r in kind_required]
        )
    docs = {**_FIELD_DOCS, **_TOOL_FIELD_DOCS.get(tool, {})}
    for name, prop in properties.items():
        prop.pop("title", None)
        if name in docs:
            prop["description"] = docs[name]
        enum = prop.get("enum")
        if isinstance(enum, list) and all(isinstance(v, str) for v in enum):
            prop.setdefault("type", "string")  # some hosts need a type beside the enum
    return {
        "type": "object",
        "properties": properties,
        "required": required or [],
        "additionalProperties": False,
    }


def _output_schema(kind: type[msgspec.Struct], wrap: str | None = None) -> dict[str, Any]:
    schema = _struct_schema(kind)
    if wrap is None:
        return schema
    return {
        "type": "object",
        "properties": {wrap: {"type": "array", "items": schema}},
        "required": [wrap],
    }


# --------------------------------------------------------------------------- adapter params


class _SessionName(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    name: str


class _JobId(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    job_id: str


class _JobWait(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    job_id: str | None = None
    job_ids: list[str] | None = None
    mode: Literal["any", "all"] = "any"
    wait_seconds: float = 60.0


class _JobKind(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    kind: Literal["run", "resume", "fork"] = "run"


class _NoArguments(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    pass


_JOB_PARAMS: dict[str, type[RunParams] | type[ResumeParams] | type[ForkParams]] = {
    "run": RunParams,
    "resume": ResumeParams,
    "fork": ForkParams,
}


def _job_start_schema() -> dict[str, Any]:
    schema = _input_schema("codex_job_start", [_JobKind, RunParams, ResumeParams, ForkParams])
    schema["required"] = ["prompt"]
    return schema


def _wait_schema() -> dict[str, Any]:
    schema = _input_schema("codex_job_wait", [_JobWait])
    schema["properties"]["wait_seconds"].update(minimum=0, maximum=_MAX_WAIT_SECONDS)
    return schema


def _wait_output_schema() -> dict[str, Any]:
    """One job's status (``job_id``), or what a wait for several found (``job_ids``)."""
    schema = _output_schema(JobInfo)
    several = _output_schema(JobsWaited)
    return {
        "type": "object",
        "properties": {**schema["properties"], **several["properties"]},
        "required": [],
    }


# --------------------------------------------------------------------------- results


def _text_result(
    text: str, structured: dict[str, Any] | None = None, *, is_error: bool = False
) -> types.CallToolResult:
    return types.CallToolResult(
        content=[types.TextContent(type="text", text=text)],
        structured_content=structured,
        is_error=is_error,
    )


def _error_result(message: str) -> types.CallToolResult:
    return _text_result(message, is_error=True)


def _bridge_error_result(exc: BridgeError) -> types.CallToolResult:
    """A refusal or bad argument, structured so that a model can act on it."""
    error = {"code": exc.code, "message": exc.message, "field": exc.field}
    return _text_result(exc.message, error, is_error=True)


def _builtins(value: msgspec.Struct) -> dict[str, Any]:
    data: dict[str, Any] = msgspec.to_builtins(value)
    return data


def _outcome_result(outcome: RunOutcome) -> types.CallToolResult:
    # A failed turn is an error even when codex exited 0.
    return _text_result(outcome.to_text(), _builtins(outcome), is_error=not outcome.ok)


def _session_line(info: SessionInfo) -> str:
    line = f"{info.name}: thread {info.thread_id}, {info.turns} turn(s)"
    if info.last_status:
        line += f", last {info.last_status}"
    if info.cwd:
        line += f", cwd {info.cwd}"
    return line + f", updated {info.updated_at}"


def _session_text(info: SessionInfo) -> str:
    lines = [_session_line(info)]
    if info.forked_from:
        lines.append(f"forked from {info.forked_from}")
    for turn in info.recent_turns or []:
        answer = f" → {turn.final_message_preview}" if turn.final_message_preview else ""
        lines.append(f"- {turn.at} {turn.operation} [{turn.status}] {turn.prompt_preview}{answer}")
    return "\n".join(lines)


def _job_text(info: JobInfo) -> str:
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


def _job_result(info: JobInfo) -> types.CallToolResult:
    return _text_result(_job_text(info), _builtins(info))


# --------------------------------------------------------------------------- tools

_Handler = Callable[
    [BridgeService, dict[str, Any], ProgressCallback], Awaitable[types.CallToolResult]
]


@dataclass(frozen=True)
class _ToolSpec:
    name: str
    title: str
    description: str
    input_schema: dict[str, Any]
    output_schema: dict[str, Any]
    annotations: types.ToolAnnotations
    handler: _Handler

    def definition(self) -> types.Tool:
        return types.Tool(
            name=self.name,
            title=self.title,
            description=self.description,
            input_schema=self.input_schema,
            output_schema=self.output_schema,
            annotations=self.annotations,
        )


async def _isolated(operation: Coroutine[Any, Any, _T]) -> _T:
    """Run ``operation`` as its own task and, when this request is cancelled, cancel it once
    and wait (shielded, bounded) until codex is killed and reaped.

    An anyio cancel scope re-delivers cancellation at every await, which would interrupt the
    SDK's cleanup over and over; a plain task gets one clean cancellation.
    """
    task = asyncio.ensure_future(operation)
    try:
        return await asyncio.shield(task)
    except BaseException:
        if not task.done():
            task.cancel()
            with anyio.CancelScope(shield=True), anyio.move_on_after(_CLEANUP_SECONDS):
                await asyncio.wait({task})
        if task.done() and not task.cancelled():
            task.exception()  # retrieved: the caller is already raising
        raise


async def _operation(
    operation: Callable[..., Coroutine[Any, Any, RunOutcome]],
    params: RunParams | ResumeParams | ForkParams,
    progress: ProgressCallback,
) -> types.CallToolResult:
    ctx = _call_context.get()
    relay = approval_relay(ctx) if ctx is not None else None
    outcome = await _isolated(
        operation(
            params,
            on_progress=progress,
            on_approval=relay.handler if relay else None,
            approvals_unavailable=relay.unavailable if relay else None,
        )
    )
    return _outcome_result(outcome)


async def _run(
    service: BridgeService, arguments: dict[str, Any], progress: ProgressCallback
) -> types.CallToolResult:
    return await _operation(service.run, parse_params(RunParams, arguments), progress)


async def _resume(
    service: BridgeService, arguments: dict[str, Any], progress: ProgressCallback
) -> types.CallToolResult:
    return await _operation(service.resume, parse_params(ResumeParams, arguments), progress)


async def _fork(
    service: BridgeService, arguments: dict[str, Any], progress: ProgressCallback
) -> types.CallToolResult:
    return await _operation(service.fork, parse_params(ForkParams, arguments), progress)


class _SteerArguments(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    prompt: str
    job_id: str | None = None
    thread_id: str | None = None


async def _steer(
    service: BridgeService, arguments: dict[str, Any], _: ProgressCallback
) -> types.CallToolResult:
    params = parse_params(_SteerArguments, arguments)
    info = await service.steer(params.prompt, job_id=params.job_id, thread_id=params.thread_id)
    return _text_result(
        f"added to the running turn {info.turn_id} of thread {info.thread_id}", _builtins(info)
    )


async def _in_thread(call: Callable[[], _T]) -> _T:
    """Session-store calls take a cross-process file lock; keep them off the event loop."""
    return await anyio.to_thread.run_sync(call)


async def _sessions_list(
    service: BridgeService, arguments: dict[str, Any], _: ProgressCallback
) -> types.CallToolResult:
    parse_params(_NoArguments, arguments)
    sessions = await _in_thread(service.list_sessions)
    text = "\n".join(_session_line(s) for s in sessions) if sessions else "no sessions"
    return _text_result(text, {"sessions": [_builtins(s) for s in sessions]})


async def _session_show(
    service: BridgeService, arguments: dict[str, Any], _: ProgressCallback
) -> types.CallToolResult:
    params = parse_params(_SessionName, arguments)
    info = await _in_thread(lambda: service.show_session(params.name))
    return _text_result(_session_text(info), _builtins(info))


async def _session_rename(
    service: BridgeService, arguments: dict[str, Any], _: ProgressCallback
) -> types.CallToolResult:
    params = parse_params(SessionRenameParams, arguments)
    info = await _in_thread(lambda: service.rename_session(params.name, params.new_name))
    return _text_result(f"renamed {params.name!r} to {info.name!r}", _builtins(info))


async def _session_delete(
    service: BridgeService, arguments: dict[str, Any], _: ProgressCallback
) -> types.CallToolResult:
    params = parse_params(_SessionName, arguments)
    info = await _in_thread(lambda: service.delete_session(params.name))
    text = (
        f"deleted session {info.name!r}; codex keeps thread {info.thread_id}, "
        "which codex_resume can still continue by thread_id"
        if info.deleted
        else f"no session {info.name!r}: nothing to delete"
    )
    return _text_result(text, _builtins(info))


async def _job_start(
    service: BridgeService, arguments: dict[str, Any], _: ProgressCallback
) -> types.CallToolResult:
    rest = dict(arguments)
    kind = parse_params(_JobKind, {"kind": rest.pop("kind", "run")}).kind
    params = parse_params(_JOB_PARAMS[kind], rest)
    ctx = _call_context.get()  # the job asks the client that started it
    relay = approval_relay(ctx, background=True) if ctx is not None else None
    info = service.start_job(
        params,
        on_approval=relay.handler if relay else None,
        approvals_unavailable=relay.unavailable if relay else None,
    )
    return _job_result(info)


async def _job_status(
    service: BridgeService, arguments: dict[str, Any], _: ProgressCallback
) -> types.CallToolResult:
    return _job_result(service.job_status(parse_params(_JobId, arguments).job_id))


async def _job_wait(
    service: BridgeService, arguments: dict[str, Any], _: ProgressCallback
) -> types.CallToolResult:
    params = parse_params(_JobWait, arguments)
    bounded = min(max(params.wait_seconds, 0.0), _MAX_WAIT_SECONDS)
    if (params.job_id is None) == (params.job_ids is None):
        raise BridgeError("name exactly one of job_id or job_ids", field="job_id")
    if params.job_id is not None:
        return _job_result(await service.wait_job(params.job_id, bounded))
    assert params.job_ids is not None
    waited = await service.wait_jobs(params.job_ids, params.mode, bounded)
    head = (
        f"{len(waited.finished)} of {len(waited.jobs)} job(s) ended"
        f" (waited for {'all' if waited.mode == 'all' else 'any'})"
    )
    text = "\n".join([head, *(_job_text(job) for job in waited.jobs)])
    return _text_result(text, _builtins(waited))


async def _job_cancel(
    service: BridgeService, arguments: dict[str, Any], _: ProgressCallback
) -> types.CallToolResult:
    params = parse_params(_JobId, arguments)
    return _job_result(await service.cancel_job(params.job_id))


async def _jobs_list(
    service: BridgeService, arguments: dict[str, Any], _: ProgressCallback
) -> types.CallToolResult:
    parse_params(_NoArguments, arguments)
    jobs = service.list_jobs()
    text = "\n".join(_job_text(job).splitlines()[0] for job in jobs) if jobs else "no jobs"
    return _text_result(text, {"jobs": [_builtins(job) for job in jobs]})


def _annotations(
    title: str,
    *,
    read_only: bool = False,
    destructive: bool = False,
    idempotent: bool = False,
    open_world: bool = False,
) -> types.ToolAnnotations:
    return types.ToolAnnotations(
        title=title,
        read_only_hint=read_only,
        destructive_hint=destructive,
        idempotent_hint=idempotent,
        open_world_hint=open_world,
    )


_RUN_RESULT = (
    "Returns Codex's final message first, then the thread id (and session name), the "
    "commands it ran with exit codes, files it changed, token usage, and structured_output "
    "when output_schema was given (detail='full' adds every event and command output). "
    "isError is true when the turn failed or timed out. A run can take minutes: for long "
    "work use codex_job_start."
)


def _policy_notes(policy: BridgePolicy) -> dict[str, str]:
    """This server's limits, appended to argument descriptions so a model can stay within
    them instead of learning them from refusals."""
    cwd = f"This server: default {policy.default_cwd or os.getcwd()}"
    if policy.allowed_roots:
        cwd += f"; allowed roots: {', '.join(policy.allowed_roots)}"
    notes = {
        "cwd": cwd + ".",
        "sandbox": (
            f"This server: default {policy.default_sandbox.value}, "
            f"at most {policy.sandbox_ceiling.value}."
        ),
        "timeout_seconds": (
            f"This server: default {policy.default_timeout_seconds:g}, "
            f"at most {policy.max_timeout_seconds:g}."
        ),
    }
    if policy.idle_timeout_seconds is not None:
        notes["idle_timeout_seconds"] = f"This server: default {policy.idle_timeout_seconds:g}."
    keys = sorted({*SAFE_CONFIG_KEYS, *policy.allowed_config_keys})
    notes["config_overrides"] = "This server allows the keys: " + ", ".join(keys) + "."
    return notes


def _tool_specs(policy: BridgePolicy, *, compat_tools: bool = False) -> list[_ToolSpec]:
    from .mcp_tools_extra import extra_tool_specs

    specs = _base_tool_specs() + extra_tool_specs()
    if compat_tools:
        from .compat_tools import compat_tool_specs

        specs += compat_tool_specs()
    notes = _policy_notes(policy)
    # Offer only the approval policies this server accepts (all of which codex exec accepts).
    approvals = [approval.value for approval in policy.offered_approvals()]
    for spec in specs:
        for name, prop in spec.input_schema["properties"].items():
            if name in notes:
                prop["description"] = f"{prop.get('description', '')} {notes[name]}".strip()
            if name == "approval_policy":
                prop["enum"] = approvals
    return specs


def _base_tool_specs() -> list[_ToolSpec]:
    outcome_schema = _output_schema(RunOutcome)
    session_schema = _output_schema(SessionInfo)
    job_schema = _output_schema(JobInfo)
    # Codex edits files and runs commands (destructive unless the sandbox is read-only) and
    # talks to a model API (open world); running the same prompt twice is not a no-op.
    codex_hints: dict[str, bool] = {"destructive": True, "open_world": True}
    return [
        _ToolSpec(
            name="codex_run",
            title="Run Codex",
            description=(
                "Start a new Codex task: the Codex coding agent works in `cwd` (reading and "
                "editing files, running commands inside the sandbox) and this call waits for "
                "its answer. Pass session_name to continue the thread later with codex_resume. "
                + _RUN_RESULT
            ),
            input_schema=_input_schema("codex_run", [RunParams]),
            output_schema=outcome_schema,
            annotations=_annotations("Run Codex", **codex_hints),
            handler=_run,
        ),
        _ToolSpec(
            name="codex_resume",
            title="Continue a Codex thread",
            description=(
                "Send a follow-up prompt to an existing Codex thread, which keeps its earlier "
                "conversation and context. Name the thread by session_name (see "
                "codex_sessions_list) or by thread_id from an earlier result: exactly one. "
                + _RUN_RESULT
            ),
            input_schema=_input_schema("codex_resume", [ResumeParams]),
            output_schema=outcome_schema,
            annotations=_annotations("Continue a Codex thread", **codex_hints),
            handler=_resume,
        ),
        _ToolSpec(
            name="codex_fork",
            title="Fork a Codex thread",
            description=(
                "Copy an existing Codex thread into a new, independent thread and run a prompt "
                "on the copy; the original is unchanged. Use it to try an alternative. Name "
                "the source by session_name or thread_id (exactly one); new_session_name "
                "records the copy. " + _RUN_RESULT
            ),
            input_schema=_input_schema("codex_fork", [ForkParams]),
            output_schema=outcome_schema,
            annotations=_annotations("Fork a Codex thread", **codex_hints),
            handler=_fork,
        ),
        _ToolSpec(
            name="codex_sessions_list",
            title="List Codex sessions",
            description=(
                "List the named Codex sessions, most recently used first: name, thread id, "
                "working directory, number of turns, last status."
            ),
            input_schema=_input_schema("codex_sessions_list", [_NoArguments]),
            output_schema=_output_schema(SessionInfo, wrap="sessions"),
            annotations=_annotations("List Codex sessions", read_only=True, idempotent=True),
            handler=_sessions_list,
        ),
        _ToolSpec(
            name="codex_session_show",
            title="Show a Codex session",
            description=(
                "Show one named session: its metadata, token usage and recent turns (prompt "
                "and answer previews)."
            ),
            input_schema=_input_schema("codex_session_show", [_SessionName]),
            output_schema=session_schema,
            annotations=_annotations("Show a Codex session", read_only=True, idempotent=True),
            handler=_session_show,
        ),
        _ToolSpec(
            name="codex_session_rename",
            title="Rename a Codex session",
            description="Give a named session a new name (the new name must be free).",
            input_schema=_input_schema("codex_session_rename", [SessionRenameParams]),
            output_schema=session_schema,
            annotations=_annotations("Rename a Codex session"),
            handler=_session_rename,
        ),
        _ToolSpec(
            name="codex_session_delete",
            title="Delete a Codex session",
            description=(
                "Forget a session name. Codex keeps the thread itself, so it can still be "
                "continued by thread_id. Deleting a name that does not exist succeeds "
                "(deleted: false)."
            ),
            input_schema=_input_schema("codex_session_delete", [_SessionName]),
            output_schema=_output_schema(SessionDeleted),
            annotations=_annotations("Delete a Codex session", destructive=True, idempotent=True),
            handler=_session_delete,
        ),
        _ToolSpec(
            name="codex_job_start",
            title="Start a Codex job",
            description=(
                "Start Codex in the background and return a job id at once. kind chooses the "
                "operation (run, resume or fork) and the other arguments are those of "
                "codex_run, codex_resume or codex_fork. Follow it with codex_job_wait or "
                "codex_job_status; codex_job_cancel stops it. Jobs live as long as this server."
            ),
            input_schema=_job_start_schema(),
            output_schema=job_schema,
            annotations=_annotations("Start a Codex job", **codex_hints),
            handler=_job_start,
        ),
        _ToolSpec(
            name="codex_job_status",
            title="Codex job status",
            description=(
                "The state of a job (queued, running, completed, failed, cancelled), its "
                "latest progress lines and, once it has ended, its outcome (same shape as "
                "codex_run's result)."
            ),
            input_schema=_input_schema("codex_job_status", [_JobId]),
            output_schema=job_schema,
            annotations=_annotations("Codex job status", read_only=True),
            handler=_job_status,
        ),
        _ToolSpec(
            name="codex_job_wait",
            title="Wait for a Codex job",
            description=(
                "Wait until a job ends or wait_seconds pass (default 60), then return its "
                "status as codex_job_status does. The job keeps running after a timed-out "
                "wait: call again to keep waiting. Check state and outcome.ok for success. "
                "To wait for several jobs pass job_ids instead of job_id, with mode 'any' "
                "(return when one ends) or 'all'; the result lists every job's status and "
                "which are finished or pending."
            ),
            input_schema=_wait_schema(),
            output_schema=_wait_output_schema(),
            annotations=_annotations("Wait for a Codex job", read_only=True),
            handler=_job_wait,
        ),
        _ToolSpec(
            name="codex_job_cancel",
            title="Cancel a Codex job",
            description=(
                "Stop a queued or running job; its Codex process is killed. Cancelling an "
                "ended job changes nothing. Returns the job's final status."
            ),
            input_schema=_input_schema("codex_job_cancel", [_JobId]),
            output_schema=job_schema,
            annotations=_annotations("Cancel a Codex job", destructive=True, idempotent=True),
            handler=_job_cancel,
        ),
        _ToolSpec(
            name="codex_steer",
            title="Steer a running Codex turn",
            description=(
                "Add instructions to a Codex turn that is still running (by job_id from "
                "codex_job_start, or thread_id from a run's progress): Codex takes them into "
                "account without starting over. Needs the warm app-server engine."
            ),
            input_schema=_input_schema("codex_steer", [_SteerArguments]),
            output_schema=_output_schema(SteerInfo),
            annotations=_annotations("Steer a running Codex turn", open_world=True),
            handler=_steer,
        ),
        _ToolSpec(
            name="codex_jobs_list",
            title="List Codex jobs",
            description="List this server's background jobs (recent finished ones included).",
            input_schema=_input_schema("codex_jobs_list", [_NoArguments]),
            output_schema=_output_schema(JobInfo, wrap="jobs"),
            annotations=_annotations("List Codex jobs", read_only=True),
            handler=_jobs_list,
        ),
    ]


def _normalise_arguments(spec: _ToolSpec, arguments: Mapping[str, Any] | None) -> dict[str, Any]:
    """Drop nulls (an omitted argument means the same) and decode JSON text given for an
    object or array argument (some hosts send those as strings)."""
    properties: Mapping[str, Any] = spec.input_schema.get("properties", {})
    normalised: dict[str, Any] = {}
    for key, value in (arguments or {}).items():
        if value is None:
            continue
        if isinstance(value, str) and properties.get(key, {}).get("type") in ("object", "array"):
            with contextlib.suppress(ValueError):
                decoded = json.loads(value)
                if isinstance(decoded, (dict, list)):
                    value = decoded
        normalised[key] = value
    return normalised


def _progress_relay(ctx: Context) -> ProgressCallback:
    """Progress updates → ``notifications/progress`` (a no-op without a progress token)."""

    async def relay(update: ProgressUpdate) -> None:
        try:
            await ctx.session.report_progress(update.progress, None, update.message)
        except Exception:  # progress is best effort: never let it break the run
            logger.debug("could not send a progress notification", exc_info=True)

    return relay


# --------------------------------------------------------------------------- resources


def _session_uri(name: str) -> str:
    return _SESSION_URI_PREFIX + quote(name, safe="")


def _json_contents(uri: str, data: Any) -> types.ReadResourceResult:
    return types.ReadResourceResult(
        contents=[
            types.TextResourceContents(
                uri=uri, mime_type="application/json", text=json.dumps(data, indent=2)
            )
        ]
    )


# --------------------------------------------------------------------------- the server


def host_tool_timeout(env: Mapping[str, str]) -> float | None:
    """The host's tool timeout in seconds, when the host tells its servers (Claude Code's
    ``MCP_TOOL_TIMEOUT``, in milliseconds); None when unknown."""
    raw = env.get(HOST_TOOL_TIMEOUT_ENV, "").strip()
    if not raw:
        return None
    try:
        seconds = float(raw) / 1000
    except ValueError:
        logger.warning(
            "codex-bridge: ignoring %s=%r (not milliseconds)", HOST_TOOL_TIMEOUT_ENV, raw
        )
        return None
    return seconds if seconds > 0 else None


def _within_host_timeout(
    arguments: dict[str, Any], policy: BridgePolicy, host_timeout: float
) -> dict[str, Any]:
    """End codex a little before the host gives up on the call: no codex outlives the call
    even if the host sends no cancellation, and the model reads our timeout result (with the
    thread id, to continue) instead of the host's bare "timed out"."""
    limit = max(host_timeout - _HOST_TIMEOUT_MARGIN_SECONDS, host_timeout / 2)
    asked = arguments.get("timeout_seconds", policy.default_timeout_seconds)
    if not isinstance(asked, (int, float)) or asked <= limit:  # bad values: refused later
        return arguments
    return {**arguments, "timeout_seconds": limit}


def build_server(
    service: BridgeService,
    options: ServeOptions | None = None,
    *,
    host_timeout_seconds: float | None = None,
) -> Server[BridgeService]:
    """The MCP server over ``service``. Its lifespan closes the service (killing every codex
    process) when the connection ends. ``host_timeout_seconds``: how long the host waits for
    a tool call (see :func:`host_tool_timeout`); runs that wait for codex end before that."""
    options = options or ServeOptions()
    specs = {
        spec.name: spec for spec in _tool_specs(service.policy, compat_tools=options.compat_tools)
    }
    from .mcp_tasks import TASK_TOOLS, Tasks

    tools = [spec.definition() for spec in specs.values()]
    for tool in tools:  # task-augmented calls run as background jobs (MCP Tasks)
        if tool.name in TASK_TOOLS:
            tool.execution = types.ToolExecution(task_support="optional")
    # The mcp SDK traces every request (OpenTelemetry, a no-op until a provider is set up);
    # codex runs become child spans of the tool call that started them.
    instrument(service.client)
    from .mcp_subscriptions import JOB_URI_PREFIX, JOB_URI_TEMPLATE, BridgeServer, Subscriptions

    subscriptions = Subscriptions(service)

    @contextlib.asynccontextmanager
    async def lifespan(_: Server[BridgeService]) -> AsyncIterator[BridgeService]:
        service.start_engine_check()  # in the background: initialize is answered at once
        try:
            yield service
        finally:
            # Runs on disconnect, shutdown and signals: shielded so cleanup is not cut short.
            with anyio.CancelScope(shield=True), anyio.move_on_after(_CLEANUP_SECONDS):
                await service.aclose()

    async def list_tools(
        ctx: Context, params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        return types.ListToolsResult(tools=tools)

    async def call_tool(ctx: Context, params: types.CallToolRequestParams) -> types.CallToolResult:
        spec = specs.get(params.name)
        if spec is None:
            raise MCPError(
                code=types.INVALID_PARAMS,
                message=f"Unknown tool {params.name!r}; the tools are: {', '.join(specs)}",
            )
        token = _call_context.set(ctx)
        try:
            arguments = _normalise_arguments(spec, params.arguments)
            check_arguments(spec.name, arguments)
            if host_timeout_seconds is not None and spec.name in _WAITING_TOOLS:
                arguments = _within_host_timeout(arguments, service.policy, host_timeout_seconds)
            return await spec.handler(service, arguments, _progress_relay(ctx))
        except BridgeError as exc:
            logger.info("%s refused: %s", spec.name, exc.message)
            return _bridge_error_result(exc)
        except Exception as exc:  # the server must answer, never die on a request
            logger.exception("%s failed unexpectedly", spec.name)
            return _error_result(f"internal error in {spec.name}: {exc!r}")
        finally:
            _call_context.reset(token)

    async def list_resources(
        ctx: Context, params: types.PaginatedRequestParams | None
    ) -> types.ListResourcesResult:
        subscriptions.remember(ctx)
        sessions = await _in_thread(service.list_sessions)
        resources = [
            types.Resource(
                uri=SESSIONS_URI,
                name="sessions",
                title="Codex sessions",
                description="Every named Codex session (JSON).",
                mime_type="application/json",
            )
        ]
        resources += [
            types.Resource(
                uri=_session_uri(info.name),
                name=info.name,
                title=f"Codex session {info.name}",
                description=_session_line(info),
                mime_type="application/json",
            )
            for info in sessions
        ]
        return types.ListResourcesResult(resources=resources)

    async def list_resource_templates(
        ctx: Context, params: types.PaginatedRequestParams | None
    ) -> types.ListResourceTemplatesResult:
        return types.ListResourceTemplatesResult(
            resource_templates=[
                types.ResourceTemplate(
                    uri_template=SESSION_URI_TEMPLATE,
                    name="session",
                    title="Codex session",
                    description="One named Codex session with its recent turns (JSON).",
                    mime_type="application/json",
                ),
                types.ResourceTemplate(
                    uri_template=JOB_URI_TEMPLATE,
                    name="job",
                    title="Codex job",
                    description="One background job: state, progress, outcome (JSON).",
                    mime_type="application/json",
                ),
            ]
        )

    async def read_resource(
        ctx: Context, params: types.ReadResourceRequestParams
    ) -> types.ReadResourceResult:
        uri = str(params.uri)
        try:
            if uri == SESSIONS_URI:
                sessions = await _in_thread(service.list_sessions)
                return _json_contents(uri, [_builtins(s) for s in sessions])
            if uri.startswith(_SESSION_URI_PREFIX) and len(uri) > len(_SESSION_URI_PREFIX):
                name = unquote(uri.removeprefix(_SESSION_URI_PREFIX))
                info = await _in_thread(lambda: service.show_session(name))
                return _json_contents(uri, _builtins(info))
            if uri.startswith(JOB_URI_PREFIX) and len(uri) > len(JOB_URI_PREFIX):
                job = service.job_status(unquote(uri.removeprefix(JOB_URI_PREFIX)))
                return _json_contents(uri, _builtins(job))
        except BridgeError as exc:
            raise MCPError(
                code=types.INVALID_PARAMS, message=exc.message, data={"uri": uri}
            ) from exc
        raise MCPError(
            code=types.INVALID_PARAMS,
            message=f"Unknown resource {uri!r}; try {SESSIONS_URI} or {SESSION_URI_TEMPLATE}",
            data={"uri": uri},
        )

    server = BridgeServer(
        SERVER_NAME,
        version=__version__,
        title="Codex bridge",
        description="The OpenAI Codex coding agent as MCP tools.",
        instructions=INSTRUCTIONS,
        lifespan=lifespan,
        # The tool list never changes while the server runs; session lists do.
        cache_hints={"tools/list": CacheHint(ttl_ms=3_600_000, scope="public")},
        get_tool_input_schema=lambda name: specs[name].input_schema if name in specs else None,
        on_list_tools=list_tools,
        on_call_tool=call_tool,
        on_list_resources=list_resources,
        on_list_resource_templates=list_resource_templates,
        on_read_resource=read_resource,
        on_subscribe_resource=subscriptions.subscribe,
        on_unsubscribe_resource=subscriptions.unsubscribe,
        on_subscriptions_listen=subscriptions.listen,
    )

    def task_arguments(name: str, arguments: Mapping[str, Any] | None) -> dict[str, Any]:
        checked = _normalise_arguments(specs[name], arguments)
        check_arguments(name, checked)
        return checked

    Tasks(service, render=_outcome_result, normalise=task_arguments).install(server)
    return server


# --------------------------------------------------------------------------- stdio


def _startup_check(service: BridgeService) -> None:
    """Warn on stderr when codex is missing or too old. The server still starts: a host shows
    a failed server with little detail, whereas a tool error tells the model (and the user)
    exactly what is wrong and how to fix it."""
    report = service.doctor(login=False)
    for check in report.checks:
        if not check.ok:
            logger.warning("codex-bridge: %s: %s", check.name, check.detail)
    if report.ok:
        logger.info("codex-bridge: codex %s at %s", report.version, report.binary)


class _CheckedStdin:
    """stdin's lines for the SDK's stdio transport, each inspected first.

    The SDK drops, without an answer, every line that does not validate as a JSON-RPC message
    (invalid JSON, a batch, a lone surrogate, deep nesting, a huge id, ``params`` that is not
    an object); its client would wait forever. Such requests are answered here with a
    JSON-RPC error that says what is wrong, and are not passed on.
    """

    def __init__(self) -> None:
        self.write_stream: Any = None  # the transport's, once it is open
        self._file = anyio.wrap_file(sys.stdin.buffer)

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._lines()

    async def _lines(self) -> AsyncIterator[bytes]:
        async for line in self._file:
            if not line.strip():
                continue
            refused = _inspect(line)
            if refused is None:
                yield line
                continue
            logger.info("refused a malformed message: %s", refused.message)
            if refused.is_request and self.write_stream is not None:
                error = types.ErrorData(code=refused.code, message=refused.message)
                answer = types.JSONRPCError(jsonrpc="2.0", id=refused.request_id, error=error)
                await self.write_stream.send(SessionMessage(answer))


def _inspect(line: bytes) -> Refused | None:
    """Why the SDK would drop ``line`` (None: it will not)."""
    data, refused = inspect_message(line)
    if refused is not None:
        return refused
    request_id = data.get("id")
    is_request = "method" in data and "id" in data
    params = data.get("params")
    if data.get("method") == "tools/call" and isinstance(params, dict):
        arguments = params.get("arguments")
        if not isinstance(params.get("name"), str):
            return Refused(
                INVALID_PARAMS,
                "Invalid params for 'tools/call': name must be a string",
                request_id,
                is_request,
            )
        if arguments is not None and not isinstance(arguments, dict):
            return Refused(
                INVALID_PARAMS,
                "Invalid params for 'tools/call': arguments must be an object of the tool's "
                "arguments (see tools/list)",
                request_id,
                is_request,
            )
    try:
        types.jsonrpc_message_adapter.validate_python(data, by_name=False)
    except ValidationError as exc:
        errors = exc.errors()
        detail = "invalid"
        if errors:
            where = ".".join(str(part) for part in errors[0]["loc"])
            detail = f"{errors[0]['msg']} at {where}" if where else errors[0]["msg"]
        return Refused(
            INVALID_REQUEST,
            f"Invalid request: not a JSON-RPC message ({detail})",
            request_id,
            is_request or not {"method", "result", "error"} & data.keys(),
        )
    return None


async def _serve_stdio(server: Server[BridgeService]) -> None:
    connection = anyio.CancelScope()
    closed = anyio.Event()
    stdin = _CheckedStdin()

    async def serve_connection() -> None:
        with connection:
            await server.run(read_stream, write_stream, server.create_initialization_options())
        closed.set()  # the lifespan has closed the service: no codex is left
        group.cancel_scope.cancel()

    async def stop_on_signal() -> None:
        # A host's SIGTERM does not reach codex (its own process group): turn the signal into
        # a cancellation, so that the lifespan kills codex before the process ends.
        wanted = [signal.SIGTERM, signal.SIGINT, getattr(signal, "SIGHUP", signal.SIGTERM)]
        with anyio.open_signal_receiver(*wanted) as received:
            async for signum in received:
                logger.info("codex-bridge: signal %s, shutting down", signum)
                break
        connection.cancel()
        with anyio.CancelScope(shield=True):
            await closed.wait()
        # The stdin reader blocks in a thread that only EOF ends, and a host that signals
        # may keep stdin open: leave now that the cleanup is done.
        logging.shutdown()
        os._exit(0)

    async with (
        stdio_server(stdin=stdin) as (read_stream, write_stream),  # type: ignore[arg-type]
        anyio.create_task_group() as group,
    ):
        stdin.write_stream = write_stream
        group.start_soon(stop_on_signal)
        group.start_soon(serve_connection)


def serve(policy: BridgePolicy, options: ServeOptions | None = None) -> None:
    """Serve MCP over stdin/stdout (or streamable HTTP with ``options.http``) until the client
    disconnects or a signal arrives."""
    options = options or ServeOptions()
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(message)s")
    if options.http is not None:
        from .mcp_http import serve_http

        serve_http(policy, options)
        return
    service = BridgeService(policy)
    _startup_check(service)
    server = build_server(service, options, host_timeout_seconds=host_tool_timeout(os.environ))
    anyio.run(_serve_stdio, server)


# --------------------------------------------------------------------------- __main__


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m codex_bridge.mcp_server [policy flags]``: the same as ``codex-bridge mcp``."""
    from codex_bridge.cli import main as cli_main

    return cli_main(["mcp", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    raise SystemExit(main())
