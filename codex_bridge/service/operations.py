"""The one table of operations: name → params Struct, result type, what runs it, a summary.

Front ends build their surface from :data:`OPERATIONS` (MCP tools, LSP commands, CLI
subcommands) instead of restating the mapping; a call is parsed once, by
:meth:`Operation.parse`, and :meth:`Operation.invoke` runs it on a service with typed params.
Store and git calls (sessions, threads, worktrees) run in a worker thread: they take
cross-process file locks or start processes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from .core import BridgeService
from .params import (
    DoctorParams,
    ForkParams,
    JobIdParams,
    JobStartParams,
    JobWaitParams,
    NoParams,
    ResumeParams,
    RunParams,
    SessionNameParams,
    SessionRenameParams,
    SteerParams,
    ThreadsListParams,
    WorktreeRemoveParams,
    WorktreesListParams,
    parse_params,
)
from .results import (
    DoctorReport,
    JobInfo,
    JobList,
    JobsWaited,
    RunOutcome,
    SessionDeleted,
    SessionInfo,
    SessionList,
    SteerInfo,
    ThreadList,
    WorktreeList,
    WorktreeRemoved,
)
from .turns import TurnHooks

__all__ = ["OPERATIONS", "Operation"]

_P = TypeVar("_P")
_R = TypeVar("_R")


@dataclass(frozen=True)
class Operation(Generic[_P, _R]):
    """One thing the bridge does, the same for every front end."""

    name: str
    params: Any
    """The params type: a Struct (or :data:`~codex_bridge.service.JobStartParams`)."""
    result: Any
    """The result type (a Struct, or a union of two)."""
    invoke: Callable[[BridgeService, _P, TurnHooks], Awaitable[_R]]
    """Runs the operation with parsed params."""
    description: str

    def parse(self, arguments: Any) -> _P:
        """``arguments`` (untrusted) as this operation's params, or InvalidRequest."""
        parsed: _P = parse_params(self.params, arguments)
        return parsed

    async def __call__(
        self, service: BridgeService, arguments: Any, hooks: TurnHooks | None = None
    ) -> _R:
        """Parse ``arguments`` and run the operation (``hooks``: who hears about a turn)."""
        return await self.invoke(service, self.parse(arguments), hooks or TurnHooks())


async def _run(service: BridgeService, params: RunParams, hooks: TurnHooks) -> RunOutcome:
    return await service.run(params, **hooks)


async def _resume(service: BridgeService, params: ResumeParams, hooks: TurnHooks) -> RunOutcome:
    return await service.resume(params, **hooks)


async def _fork(service: BridgeService, params: ForkParams, hooks: TurnHooks) -> RunOutcome:
    return await service.fork(params, **hooks)


async def _steer(service: BridgeService, params: SteerParams, _: TurnHooks) -> SteerInfo:
    return await service.steer(params.prompt, job_id=params.job_id, thread_id=params.thread_id)


async def _sessions_list(service: BridgeService, _: NoParams, __: TurnHooks) -> SessionList:
    return SessionList(sessions=await asyncio.to_thread(service.list_sessions))


async def _session_show(
    service: BridgeService, params: SessionNameParams, _: TurnHooks
) -> SessionInfo:
    return await asyncio.to_thread(service.show_session, params.name)


async def _session_rename(
    service: BridgeService, params: SessionRenameParams, _: TurnHooks
) -> SessionInfo:
    return await asyncio.to_thread(service.rename_session, params.name, params.new_name)


async def _session_delete(
    service: BridgeService, params: SessionNameParams, _: TurnHooks
) -> SessionDeleted:
    return await asyncio.to_thread(service.delete_session, params.name)


async def _job_start(
    service: BridgeService, params: RunParams | ResumeParams | ForkParams, hooks: TurnHooks
) -> JobInfo:
    return service.start_job(
        params,
        on_progress=hooks.get("on_progress"),
        on_approval=hooks.get("on_approval"),
        approvals_unavailable=hooks.get("approvals_unavailable"),
    )


async def _job_status(service: BridgeService, params: JobIdParams, _: TurnHooks) -> JobInfo:
    return service.job_status(params.job_id)


async def _job_wait(
    service: BridgeService, params: JobWaitParams, _: TurnHooks
) -> JobInfo | JobsWaited:
    return await service.wait(params)


async def _job_cancel(service: BridgeService, params: JobIdParams, _: TurnHooks) -> JobInfo:
    return await service.cancel_job(params.job_id)


async def _jobs_list(service: BridgeService, _: NoParams, __: TurnHooks) -> JobList:
    return JobList(jobs=service.list_jobs())


async def _threads_list(
    service: BridgeService, params: ThreadsListParams, _: TurnHooks
) -> ThreadList:
    return await asyncio.to_thread(service.list_threads, params)


async def _worktrees_list(
    service: BridgeService, params: WorktreesListParams, _: TurnHooks
) -> WorktreeList:
    return await asyncio.to_thread(service.list_worktrees, params)


async def _worktree_remove(
    service: BridgeService, params: WorktreeRemoveParams, _: TurnHooks
) -> WorktreeRemoved:
    return await asyncio.to_thread(service.remove_worktree, params)


async def _doctor(service: BridgeService, params: DoctorParams, _: TurnHooks) -> DoctorReport:
    return await asyncio.to_thread(lambda: service.doctor(login=params.login))


_TABLE: list[Operation[Any, Any]] = [
    Operation("run", RunParams, RunOutcome, _run, "Start a new Codex thread and wait for it."),
    Operation("resume", ResumeParams, RunOutcome, _resume, "Continue a thread with a prompt."),
    Operation("fork", ForkParams, RunOutcome, _fork, "Fork a thread and run a prompt on it."),
    Operation("steer", SteerParams, SteerInfo, _steer, "Add input to a running turn."),
    Operation("sessions.list", NoParams, SessionList, _sessions_list, "List the sessions."),
    Operation("sessions.show", SessionNameParams, SessionInfo, _session_show, "Show a session."),
    Operation(
        "sessions.rename", SessionRenameParams, SessionInfo, _session_rename, "Rename a session."
    ),
    Operation(
        "sessions.delete",
        SessionNameParams,
        SessionDeleted,
        _session_delete,
        "Forget a session name (codex keeps the thread).",
    ),
    Operation(
        "jobs.start", JobStartParams, JobInfo, _job_start, "Start a run, resume or fork as a job."
    ),
    Operation("jobs.status", JobIdParams, JobInfo, _job_status, "A job's state and result."),
    Operation(
        "jobs.wait",
        JobWaitParams,
        JobInfo | JobsWaited,
        _job_wait,
        "Wait for one job or several, for a bounded time.",
    ),
    Operation("jobs.cancel", JobIdParams, JobInfo, _job_cancel, "Cancel a job."),
    Operation("jobs.list", NoParams, JobList, _jobs_list, "List the jobs."),
    Operation(
        "threads.list",
        ThreadsListParams,
        ThreadList,
        _threads_list,
        "List Codex's own recent threads in the allowed directories.",
    ),
    Operation(
        "worktrees.list",
        WorktreesListParams,
        WorktreeList,
        _worktrees_list,
        "List the bridge's git worktrees in a repository.",
    ),
    Operation(
        "worktrees.remove",
        WorktreeRemoveParams,
        WorktreeRemoved,
        _worktree_remove,
        "Remove one of the bridge's worktrees.",
    ),
    Operation(
        "doctor", DoctorParams, DoctorReport, _doctor, "Check codex, its login and the store."
    ),
]

OPERATIONS: Mapping[str, Operation[Any, Any]] = {op.name: op for op in _TABLE}
"""Every operation of the bridge service, by name."""
