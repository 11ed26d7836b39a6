"""The bridge's own MCP tools: run, resume and fork a thread, steer a running turn, and the
background jobs. Each is a :class:`~codex_bridge.mcp.tooling.BridgeTool` over one operation of
``OPERATIONS``; the session tools live in :mod:`codex_bridge.mcp.session_tools`, codex's threads
and the worktrees in :mod:`codex_bridge.mcp.extra_tools`, the old ``codex mcp-server``'s tools
in :mod:`codex_bridge.mcp.compat_tools`.
"""

from __future__ import annotations

import os
from typing import Any

import mcp_types as types
import msgspec

from ..config_keys import SAFE_CONFIG_KEYS
from ..policy import MAX_WAIT_SECONDS, BridgePolicy
from ..rendering import job_text
from ..service import (
    OPERATIONS,
    ForkParams,
    JobInfo,
    JobKind,
    JobList,
    JobsWaited,
    ResumeParams,
    RunOutcome,
    RunParams,
    SteerInfo,
)
from .results import builtins, job_result, outcome_result, text_result
from .tooling import BridgeTool, field_description, input_schema, struct_schema

__all__ = ["TURN_TOOLS", "tool_specs"]

TURN_TOOLS = {"codex_run": "run", "codex_resume": "resume", "codex_fork": "fork"}
"""The tools that run a codex turn, and their operations."""


class _JobKindField(msgspec.Struct, kw_only=True):
    kind: JobKind = "run"


def _job_start_schema() -> dict[str, Any]:
    """The arguments of a run, a resume or a fork, chosen by ``kind``."""
    docs = {
        "session_name": (
            "run: record the new thread under this name; resume/fork: the session to "
            "continue or fork (exactly one of session_name or thread_id)."
        ),
        "thread_id": "resume/fork only: the thread to continue or fork.",
        "new_session_name": "fork only: name to record the forked thread under.",
        "profile": "run only: " + field_description(RunParams, "profile"),
        "add_dirs": "run only: " + field_description(RunParams, "add_dirs"),
        "cwd": "run/resume only: " + field_description(RunParams, "cwd"),
    }
    schema = input_schema([_JobKindField, RunParams, ResumeParams, ForkParams], docs)
    schema["required"] = ["prompt"]
    return schema


def _wait_schema() -> dict[str, Any]:
    schema = input_schema([OPERATIONS["jobs.wait"].params])
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


# --------------------------------------------------------------------------- rendering


def _outcome(_: object, outcome: RunOutcome) -> types.CallToolResult:
    return outcome_result(outcome)


def _job(_: object, info: JobInfo) -> types.CallToolResult:
    return job_result(info)


def _waited(_: object, waited: JobInfo | JobsWaited) -> types.CallToolResult:
    if isinstance(waited, JobInfo):
        return job_result(waited)
    head = (
        f"{len(waited.finished)} of {len(waited.jobs)} job(s) ended"
        f" (waited for {'all' if waited.mode == 'all' else 'any'})"
    )
    text = "\n".join([head, *(job_text(job) for job in waited.jobs)])
    return text_result(text, builtins(waited))


def _steered(_: object, info: SteerInfo) -> types.CallToolResult:
    return text_result(
        f"added to the running turn {info.turn_id} of thread {info.thread_id}", builtins(info)
    )


def _jobs(_: object, listed: JobList) -> types.CallToolResult:
    jobs = listed.jobs
    text = "\n".join(job_text(job).splitlines()[0] for job in jobs) if jobs else "no jobs"
    return text_result(text, builtins(listed))


# --------------------------------------------------------------------------- the tools

_RUN_RESULT = (
    "Returns Codex's final message first, then the thread id (and session name), the "
    "commands it ran with exit codes, files it changed, token usage, and structured_output "
    "when output_schema was given (detail='full' adds every event and command output). "
    "isError is true when the turn failed or timed out. A run can take minutes: for long "
    "work use codex_job_start."
)


def _turn_tool(name: str, title: str, description: str) -> BridgeTool[Any, RunOutcome]:
    # Codex edits files and runs commands (destructive unless the sandbox is read-only) and
    # talks to a model API (open world); running the same prompt twice is not a no-op.
    return BridgeTool(
        name=name,
        title=title,
        description=description + " " + _RUN_RESULT,
        operation=OPERATIONS[TURN_TOOLS[name]],
        render=_outcome,
        waits_for_codex=True,
        ends_before_host_timeout=True,
        approvals="call",
        destructive=True,
        open_world=True,
    )


def _turn_tools() -> list[BridgeTool[Any, Any]]:
    return [
        _turn_tool(
            "codex_run",
            "Run Codex",
            "Start a new Codex task: the Codex coding agent works in `cwd` (reading and "
            "editing files, running commands inside the sandbox) and this call waits for "
            "its answer. Pass session_name to continue the thread later with codex_resume.",
        ),
        _turn_tool(
            "codex_resume",
            "Continue a Codex thread",
            "Send a follow-up prompt to an existing Codex thread, which keeps its earlier "
            "conversation and context. Name the thread by session_name (see "
            "codex_sessions_list) or by thread_id from an earlier result: exactly one.",
        ),
        _turn_tool(
            "codex_fork",
            "Fork a Codex thread",
            "Copy an existing Codex thread into a new, independent thread and run a prompt "
            "on the copy; the original is unchanged. Use it to try an alternative. Name "
            "the source by session_name or thread_id (exactly one); new_session_name "
            "records the copy.",
        ),
    ]


def _job_tools() -> list[BridgeTool[Any, Any]]:
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
            operation=OPERATIONS["jobs.start"],
            input_schema=_job_start_schema(),
            render=_job,
            approvals="background",  # the job asks the client that started it
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
            operation=OPERATIONS["jobs.status"],
            render=_job,
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
            operation=OPERATIONS["jobs.wait"],
            input_schema=_wait_schema(),
            output_schema=_wait_output_schema(),
            render=_waited,
            read_only=True,
        ),
        BridgeTool(
            name="codex_job_cancel",
            title="Cancel a Codex job",
            description=(
                "Stop a queued or running job; its Codex process is killed. Cancelling an "
                "ended job changes nothing. Returns the job's final status."
            ),
            operation=OPERATIONS["jobs.cancel"],
            render=_job,
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
            operation=OPERATIONS["steer"],
            render=_steered,
            open_world=True,
        ),
        BridgeTool(
            name="codex_jobs_list",
            title="List Codex jobs",
            description="List this server's background jobs (recent finished ones included).",
            operation=OPERATIONS["jobs.list"],
            render=_jobs,
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


def tool_specs(policy: BridgePolicy, *, compat_tools: bool = False) -> list[BridgeTool[Any, Any]]:
    """Every tool this server offers under ``policy``, in the order ``tools/list`` shows them."""
    from .compat_tools import compat_tool_specs
    from .extra_tools import extra_tool_specs
    from .session_tools import session_tool_specs

    specs = _turn_tools() + session_tool_specs() + _job_tools() + extra_tool_specs()
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
