"""The bridge's own MCP tools: run, resume and fork a thread, steer a running turn, and the
background jobs. Each is a :class:`~codex_bridge.mcp.tooling.BridgeTool` over one service
method; the session tools live in :mod:`codex_bridge.mcp.session_tools`, codex's threads and
the worktrees in :mod:`codex_bridge.mcp.extra_tools`, the old ``codex mcp-server``'s tools in
:mod:`codex_bridge.mcp.compat_tools`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Coroutine
from typing import Annotated, Any, Literal

import mcp_types as types
import msgspec

from ..policy import SAFE_CONFIG_KEYS, BridgePolicy
from ..rendering import job_text
from ..service import (
    BridgeError,
    ForkParams,
    JobInfo,
    JobsWaited,
    ResumeParams,
    RunOutcome,
    RunParams,
    SteerInfo,
    parse_params,
)
from .approvals import approval_relay
from .field_docs import FIELD_DOCS, docs_for
from .results import builtins, job_result, outcome_result, text_result
from .tooling import BridgeTool, NoArguments, ToolCall, input_schema, isolated, struct_schema

__all__ = ["JOB_PARAMS", "JobStart", "tool_specs"]

MAX_WAIT_SECONDS = 3600.0

_JOB_ID = "A job id returned by codex_job_start (see codex_jobs_list)."


class _JobId(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    job_id: Annotated[str, msgspec.Meta(description=_JOB_ID)]


class _JobWait(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    job_id: Annotated[str | None, msgspec.Meta(description=_JOB_ID)] = None
    job_ids: Annotated[
        list[str] | None,
        msgspec.Meta(description="Several job ids to wait for (instead of job_id)."),
    ] = None
    mode: Annotated[
        Literal["any", "all"],
        msgspec.Meta(
            description="With job_ids: 'any' returns when one job ends, 'all' when every job has."
        ),
    ] = "any"
    wait_seconds: Annotated[
        float,
        msgspec.Meta(
            description=(
                "Return after at most this many seconds even if the job is still running "
                "(it keeps running)."
            )
        ),
    ] = 60.0


class _JobKind(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    kind: Annotated[
        Literal["run", "resume", "fork"],
        msgspec.Meta(
            description=(
                "What the job does: run (new thread, codex_run arguments), resume (continue a "
                "thread, codex_resume arguments) or fork (codex_fork arguments)."
            )
        ),
    ] = "run"


class _SteerArguments(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    prompt: Annotated[
        str,
        msgspec.Meta(
            description="What to add to the running turn (a correction, a detail, a new priority)."
        ),
    ]
    job_id: Annotated[
        str | None,
        msgspec.Meta(description="The running job to steer (exactly one of job_id or thread_id)."),
    ] = None
    thread_id: Annotated[
        str | None,
        msgspec.Meta(
            description="The thread whose running turn to steer (exactly one of the two)."
        ),
    ] = None


class _JobsListed(msgspec.Struct, kw_only=True):
    jobs: list[JobInfo]


JOB_PARAMS: dict[str, type[RunParams] | type[ResumeParams] | type[ForkParams]] = {
    "run": RunParams,
    "resume": ResumeParams,
    "fork": ForkParams,
}


class JobStart(msgspec.Struct, frozen=True):
    """codex_job_start's arguments: the operation and its params."""

    kind: Literal["run", "resume", "fork"]
    params: RunParams | ResumeParams | ForkParams


def _job_start(arguments: dict[str, Any]) -> JobStart:
    rest = dict(arguments)
    kind = parse_params(_JobKind, {"kind": rest.pop("kind", "run")}).kind
    return JobStart(kind, parse_params(JOB_PARAMS[kind], rest))


_JOB_START_DOCS = {
    "session_name": (
        "run: record the new thread under this name; resume/fork: the session to "
        "continue or fork (exactly one of session_name or thread_id)."
    ),
    "thread_id": "resume/fork only: the thread to continue or fork.",
    "new_session_name": "fork only: name to record the forked thread under.",
    "profile": "run only: " + FIELD_DOCS["profile"],
    "add_dirs": "run only: " + FIELD_DOCS["add_dirs"],
    "cwd": "run/resume only: " + FIELD_DOCS["cwd"],
}


def _job_start_schema() -> dict[str, Any]:
    docs = {**FIELD_DOCS, **_JOB_START_DOCS}
    schema = input_schema([_JobKind, RunParams, ResumeParams, ForkParams], docs)
    schema["required"] = ["prompt"]
    return schema


def _wait_schema() -> dict[str, Any]:
    schema = input_schema([_JobWait])
    schema["properties"]["wait_seconds"].update(minimum=0, maximum=MAX_WAIT_SECONDS)
    return schema


def _wait_output_schema() -> dict[str, Any]:
    """One job's status (``job_id``), or what a wait for several found (``job_ids``)."""
    schema = struct_schema(JobInfo)
    several = struct_schema(JobsWaited)
    return {
        "type": "object",
        "properties": {**schema["properties"], **several["properties"]},
        "required": [],
    }


# --------------------------------------------------------------------------- handlers


async def _operation(
    call: ToolCall,
    operation: Callable[..., Coroutine[Any, Any, RunOutcome]],
    params: RunParams | ResumeParams | ForkParams,
) -> types.CallToolResult:
    relay = approval_relay(call.context) if call.context is not None else None
    outcome = await isolated(
        operation(
            params,
            on_progress=call.progress,
            on_approval=relay.handler if relay else None,
            approvals_unavailable=relay.unavailable if relay else None,
        )
    )
    return outcome_result(outcome)


async def _run(call: ToolCall, params: RunParams) -> types.CallToolResult:
    return await _operation(call, call.service.run, params)


async def _resume(call: ToolCall, params: ResumeParams) -> types.CallToolResult:
    return await _operation(call, call.service.resume, params)


async def _fork(call: ToolCall, params: ForkParams) -> types.CallToolResult:
    return await _operation(call, call.service.fork, params)


async def _steer(call: ToolCall, params: _SteerArguments) -> types.CallToolResult:
    info = await call.service.steer(params.prompt, job_id=params.job_id, thread_id=params.thread_id)
    return text_result(
        f"added to the running turn {info.turn_id} of thread {info.thread_id}", builtins(info)
    )


async def _job_begin(call: ToolCall, params: JobStart) -> types.CallToolResult:
    # The job asks the client that started it.
    relay = approval_relay(call.context, background=True) if call.context is not None else None
    info = call.service.start_job(
        params.params,
        on_approval=relay.handler if relay else None,
        approvals_unavailable=relay.unavailable if relay else None,
    )
    return job_result(info)


async def _job_status(call: ToolCall, params: _JobId) -> types.CallToolResult:
    return job_result(call.service.job_status(params.job_id))


async def _job_wait(call: ToolCall, params: _JobWait) -> types.CallToolResult:
    bounded = min(max(params.wait_seconds, 0.0), MAX_WAIT_SECONDS)
    if (params.job_id is None) == (params.job_ids is None):
        raise BridgeError("name exactly one of job_id or job_ids", field="job_id")
    if params.job_id is not None:
        return job_result(await call.service.wait_job(params.job_id, bounded))
    assert params.job_ids is not None
    waited = await call.service.wait_jobs(params.job_ids, params.mode, bounded)
    head = (
        f"{len(waited.finished)} of {len(waited.jobs)} job(s) ended"
        f" (waited for {'all' if waited.mode == 'all' else 'any'})"
    )
    text = "\n".join([head, *(job_text(job) for job in waited.jobs)])
    return text_result(text, builtins(waited))


async def _job_cancel(call: ToolCall, params: _JobId) -> types.CallToolResult:
    return job_result(await call.service.cancel_job(params.job_id))


async def _jobs_list(call: ToolCall, params: NoArguments) -> types.CallToolResult:
    jobs = call.service.list_jobs()
    text = "\n".join(job_text(job).splitlines()[0] for job in jobs) if jobs else "no jobs"
    return text_result(text, builtins(_JobsListed(jobs=jobs)))


# --------------------------------------------------------------------------- the tools

_RUN_RESULT = (
    "Returns Codex's final message first, then the thread id (and session name), the "
    "commands it ran with exit codes, files it changed, token usage, and structured_output "
    "when output_schema was given (detail='full' adds every event and command output). "
    "isError is true when the turn failed or timed out. A run can take minutes: for long "
    "work use codex_job_start."
)


def _run_tools() -> list[BridgeTool[Any]]:
    # Codex edits files and runs commands (destructive unless the sandbox is read-only) and
    # talks to a model API (open world); running the same prompt twice is not a no-op.
    return [
        BridgeTool(
            name="codex_run",
            title="Run Codex",
            description=(
                "Start a new Codex task: the Codex coding agent works in `cwd` (reading and "
                "editing files, running commands inside the sandbox) and this call waits for "
                "its answer. Pass session_name to continue the thread later with codex_resume. "
                + _RUN_RESULT
            ),
            params=RunParams,
            docs=docs_for("codex_run"),
            result=RunOutcome,
            handler=_run,
            waits_for_codex=True,
            destructive=True,
            open_world=True,
        ),
        BridgeTool(
            name="codex_resume",
            title="Continue a Codex thread",
            description=(
                "Send a follow-up prompt to an existing Codex thread, which keeps its earlier "
                "conversation and context. Name the thread by session_name (see "
                "codex_sessions_list) or by thread_id from an earlier result: exactly one. "
                + _RUN_RESULT
            ),
            params=ResumeParams,
            docs=docs_for("codex_resume"),
            result=RunOutcome,
            handler=_resume,
            waits_for_codex=True,
            destructive=True,
            open_world=True,
        ),
        BridgeTool(
            name="codex_fork",
            title="Fork a Codex thread",
            description=(
                "Copy an existing Codex thread into a new, independent thread and run a prompt "
                "on the copy; the original is unchanged. Use it to try an alternative. Name "
                "the source by session_name or thread_id (exactly one); new_session_name "
                "records the copy. " + _RUN_RESULT
            ),
            params=ForkParams,
            docs=docs_for("codex_fork"),
            result=RunOutcome,
            handler=_fork,
            waits_for_codex=True,
            destructive=True,
            open_world=True,
        ),
    ]


def _job_tools() -> list[BridgeTool[Any]]:
    return [
        BridgeTool(
            name="codex_job_start",
            title="Start a Codex job",
            description=(
                "Start Codex in the background and return a job id at once. kind chooses the "
                "operation (run, resume or fork) and the other arguments are those of "
                "codex_run, codex_resume or codex_fork. Follow it with codex_job_wait or "
                "codex_job_status; codex_job_cancel stops it. Jobs live as long as this server."
            ),
            params=JobStart,
            parser=_job_start,
            input_schema=_job_start_schema(),
            result=JobInfo,
            handler=_job_begin,
            destructive=True,
            open_world=True,
        ),
        BridgeTool(
            name="codex_job_status",
            title="Codex job status",
            description=(
                "The state of a job (queued, running, completed, failed, cancelled), its "
                "latest progress lines and, once it has ended, its outcome (same shape as "
                "codex_run's result)."
            ),
            params=_JobId,
            result=JobInfo,
            handler=_job_status,
            read_only=True,
        ),
        BridgeTool(
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
            params=_JobWait,
            input_schema=_wait_schema(),
            output_schema=_wait_output_schema(),
            handler=_job_wait,
            read_only=True,
        ),
        BridgeTool(
            name="codex_job_cancel",
            title="Cancel a Codex job",
            description=(
                "Stop a queued or running job; its Codex process is killed. Cancelling an "
                "ended job changes nothing. Returns the job's final status."
            ),
            params=_JobId,
            result=JobInfo,
            handler=_job_cancel,
            destructive=True,
            idempotent=True,
        ),
        BridgeTool(
            name="codex_steer",
            title="Steer a running Codex turn",
            description=(
                "Add instructions to a Codex turn that is still running (by job_id from "
                "codex_job_start, or thread_id from a run's progress): Codex takes them into "
                "account without starting over. Needs the warm app-server engine."
            ),
            params=_SteerArguments,
            result=SteerInfo,
            handler=_steer,
            open_world=True,
        ),
        BridgeTool(
            name="codex_jobs_list",
            title="List Codex jobs",
            description="List this server's background jobs (recent finished ones included).",
            params=NoArguments,
            result=_JobsListed,
            handler=_jobs_list,
            read_only=True,
        ),
    ]


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


def tool_specs(policy: BridgePolicy, *, compat_tools: bool = False) -> list[BridgeTool[Any]]:
    """Every tool this server offers under ``policy``, in the order ``tools/list`` shows them."""
    from .compat_tools import compat_tool_specs
    from .extra_tools import extra_tool_specs
    from .session_tools import session_tool_specs

    run, jobs = _run_tools(), _job_tools()
    specs = run + session_tool_specs() + jobs + extra_tool_specs()
    if compat_tools:
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
