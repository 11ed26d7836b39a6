"""Background jobs: a run, resume or fork that returns at once and is waited for later.

Jobs outlive the call that started them (not the server: see :mod:`codex_bridge.job_store`,
which marks an earlier server's unfinished jobs ``lost``). Finished jobs are pruned, oldest
first, beyond the policy's ``max_finished_jobs``.
"""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import msgspec

from codex_local_sdk import ApprovalHandler, ThreadEvent, ThreadStarted

from ..changes import Change, ChangeFeed
from ..errors import BridgeError, InvalidRequest, JobNotFound, JobNotRunning
from ..job_store import JobStore
from ..policy import BridgePolicy
from .params import JobWaitParams, ResumeParams, RunParams, TurnParams
from .results import (
    JobInfo,
    JobsWaited,
    ProgressCallback,
    ProgressUpdate,
    RunOutcome,
    SteerInfo,
    _iso,
)
from .turns import WORKTREE_NAME, TurnHooks, consume_exception

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from codex_local_sdk import CodexExecRequest

    from ..engine import EngineTransport

__all__ = ["Job", "JobsMixin", "job_kind", "prune_finished"]

_K = TypeVar("_K")
_V = TypeVar("_V")
_T = TypeVar("_T")


def prune_finished(items: MutableMapping[_K, _V], done: Callable[[_V], bool], keep: int) -> None:
    """Forget the oldest finished entries of ``items`` (insertion order) beyond ``keep``.

    The one pruning rule for jobs, shared by the service and front ends that keep their own
    record per job (the language server's runs)."""
    finished = [key for key, value in items.items() if done(value)]
    for key in finished[: max(0, len(finished) - keep)]:
        del items[key]


def job_kind(params: TurnParams) -> Literal["run", "resume", "fork"]:
    """The operation a job of ``params`` runs."""
    if isinstance(params, RunParams):
        return "run"
    return "resume" if isinstance(params, ResumeParams) else "fork"


class Job:
    def __init__(self, info: JobInfo, task: asyncio.Task[RunOutcome] | None = None) -> None:
        self.info = info
        self.task = task
        self.thread_id: str | None = None

    def done(self) -> bool:
        return self.task is not None and self.task.done()


class JobsMixin:
    """The job operations of :class:`~codex_bridge.service.BridgeService`."""

    policy: BridgePolicy
    engine: EngineTransport | None
    changes: ChangeFeed
    _jobs: dict[str, Job]
    _job_store: JobStore
    _job_numbers: itertools.count[int]

    if TYPE_CHECKING:

        def _checked_request(self, params: TurnParams) -> CodexExecRequest: ...
        def _worktree_source(self, params: TurnParams) -> tuple[str, ...]: ...
        async def _guard(self, operation: Awaitable[_T]) -> _T: ...
        async def _turn(self, params: TurnParams, **hooks: Unpack[TurnHooks]) -> RunOutcome: ...

    def start_job(
        self,
        params: TurnParams,
        *,
        on_progress: ProgressCallback | None = None,
        on_approval: ApprovalHandler | None = None,
        approvals_unavailable: str | None = None,
    ) -> JobInfo:
        """Start a run, resume or fork (by the type of ``params``) in the background and
        return at once.

        ``on_progress`` also receives the job's progress updates (for front ends that stream
        them, such as the language server's work-done progress)."""
        # Validate now, so that bad arguments fail the call rather than the job.
        request = self._checked_request(params)
        if not isinstance(params, ResumeParams) and params.worktree:
            self._worktree_source(params)
        kind = job_kind(params)
        job_id = f"job-{next(self._job_numbers)}-{uuid.uuid4().hex[:6]}"
        info = JobInfo(
            job_id=job_id,
            kind=kind,
            state="queued",
            created_at=_iso(time.time()),
            session_name=params.session_name,
            prompt_preview=params.prompt[:120],
            thread_id=params.thread_id if isinstance(params, ResumeParams) else None,
            cwd=request.cwd,
        )
        job = Job(info)

        def on_event(event: ThreadEvent) -> None:
            if isinstance(event, ThreadStarted) and event.thread_id != info.thread_id:
                info.thread_id = event.thread_id
                self._job_changed(info)

        async def progress(update: ProgressUpdate) -> None:
            if isinstance(update.event, ThreadStarted):
                job.thread_id = update.event.thread_id
            if info.state == "queued" and not update.queued:
                info.state = "running"
                info.started_at = _iso(time.time())
                self._job_changed(info)
            info.progress.append(update.message)
            del info.progress[:-20]
            if on_progress is not None:
                forwarded = on_progress(update)
                if forwarded is not None:
                    await forwarded

        async def work() -> RunOutcome:
            WORKTREE_NAME.set(job_id)
            try:
                outcome = await self._turn(
                    params,
                    on_progress=progress,
                    on_event=on_event,
                    on_approval=on_approval,
                    approvals_unavailable=approvals_unavailable,
                )
            except asyncio.CancelledError:
                info.state = "cancelled"
                raise
            except BridgeError as exc:
                info.state, info.error = "failed", exc.message
                raise
            except Exception as exc:  # a job must always end in a readable state
                info.state, info.error = "failed", f"internal error: {exc!r}"
                raise
            finally:
                info.finished_at = _iso(time.time())
            info.outcome = outcome
            info.state = (
                "completed"
                if outcome.ok
                else ("cancelled" if outcome.status == "cancelled" else "failed")
            )
            return outcome

        job.task = asyncio.ensure_future(work())
        job.task.add_done_callback(consume_exception)
        job.task.add_done_callback(lambda _: self._job_changed(info))
        self._jobs[job_id] = job
        prune_finished(self._jobs, Job.done, self.policy.max_finished_jobs)
        self._job_changed(info)
        return info

    def _job_changed(self, info: JobInfo) -> None:
        """Record the job's new state and tell the listeners."""
        if info.outcome is not None and info.outcome.thread_id:
            info.thread_id = info.outcome.thread_id
        self._job_store.save(msgspec.to_builtins(info))
        self.changes.emit(Change(kind="job", key=info.job_id))

    def _job(self, job_id: str) -> Job:
        job = self._jobs.get(job_id)
        if job is None:
            raise JobNotFound(f"no job {job_id!r}; list jobs to see the ids", field="job_id")
        return job

    def job_status(self, job_id: str) -> JobInfo:
        return self._job(job_id).info

    async def wait_job(self, job_id: str, timeout_seconds: float = 60.0) -> JobInfo:
        """Wait until the job ends or ``timeout_seconds`` pass; the job keeps running."""
        job = self._job(job_id)
        if job.task is not None and not job.task.done():
            await asyncio.wait({job.task}, timeout=max(0.0, timeout_seconds))
        return job.info

    async def wait(self, params: JobWaitParams) -> JobInfo | JobsWaited:
        """Wait for one job (``job_id``: its status) or several (``job_ids``), at most the
        policy's longest wait."""
        seconds = self.policy.clamp_wait(params.wait_seconds)
        if (params.job_id is None) == (params.job_ids is None):
            raise InvalidRequest("name exactly one of job_id or job_ids", field="job_id")
        if params.job_id is not None:
            return await self.wait_job(params.job_id, seconds)
        assert params.job_ids is not None
        return await self.wait_jobs(params.job_ids, params.mode, seconds)

    async def cancel_job(self, job_id: str) -> JobInfo:
        job = self._job(job_id)
        if job.task is not None and not job.task.done():
            job.task.cancel()
            await asyncio.wait({job.task})
            job.info.state = "cancelled"
        return job.info

    async def steer(
        self, prompt: str, *, job_id: str | None = None, thread_id: str | None = None
    ) -> SteerInfo:
        """Add ``prompt`` to the running turn of a job or a thread (warm engine only)."""
        if (job_id is None) == (thread_id is None):
            raise InvalidRequest("name exactly one of job_id or thread_id")
        if not prompt.strip():
            raise InvalidRequest("prompt must not be empty")
        if job_id is not None:
            job = self._job(job_id)
            if job.task is None or job.task.done():
                raise JobNotRunning(f"job {job_id} is not running")
            thread_id = job.thread_id
            if thread_id is None:
                raise JobNotRunning(f"job {job_id} has not started its turn yet; try again")
        assert thread_id is not None
        if self.engine is None:
            raise InvalidRequest("steering needs the app-server engine")
        turn_id = await self._guard(self.engine.steer(thread_id, prompt))
        return SteerInfo(thread_id=thread_id, turn_id=str(turn_id), job_id=job_id)

    async def wait_jobs(
        self, job_ids: list[str], mode: Literal["any", "all"], timeout_seconds: float = 60.0
    ) -> JobsWaited:
        """Wait until any (or all) of the jobs end, or ``timeout_seconds`` pass."""
        if not job_ids:
            raise InvalidRequest("job_ids must name at least one job", field="job_ids")
        jobs = [self._job(job_id) for job_id in dict.fromkeys(job_ids)]
        running = {j.task for j in jobs if j.task is not None and not j.task.done()}
        everything_running = len(running) == len(jobs)
        if running and (mode == "all" or everything_running):
            await asyncio.wait(
                running,
                timeout=max(0.0, timeout_seconds),
                return_when=asyncio.ALL_COMPLETED if mode == "all" else asyncio.FIRST_COMPLETED,
            )
        ended = [j.task is None or j.task.done() for j in jobs]
        return JobsWaited(
            mode=mode,
            jobs=[j.info for j in jobs],
            finished=[j.info.job_id for j, done in zip(jobs, ended, strict=True) if done],
            pending=[j.info.job_id for j, done in zip(jobs, ended, strict=True) if not done],
        )

    def list_jobs(self) -> list[JobInfo]:
        return [job.info for job in self._jobs.values()]

    def _running_tasks(self) -> list[asyncio.Task[Any]]:
        return [j.task for j in self._jobs.values() if j.task is not None and not j.task.done()]
