"""MCP Tasks (spec 2025-11-25): task-augmented ``codex_run`` / ``codex_resume`` / ``codex_fork``
and ``tasks/get``, ``tasks/result``, ``tasks/list``, ``tasks/cancel``, backed by the service's
jobs (a task id is a job id, so the job tools and resources see the same work).

The ``mcp`` SDK ships the Tasks types but no server support, and its ``tools/call`` result
check only knows ``CallToolResult``. So the glue is: a server middleware that answers a
``tools/call`` carrying ``params.task`` with a ``CreateTaskResult`` (the SDK lets a middleware
answer a request itself), the four ``tasks/*`` methods as extra request handlers, and
``notifications/tasks/status`` to the connection that created the task when its status
changes.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

import mcp_types as types
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.server.session import ServerSession
from mcp.shared.exceptions import MCPError
from mcp_types.version import MODERN_PROTOCOL_VERSIONS
from pydantic import BaseModel

from ..changes import Change
from ..job_store import LOST_MESSAGE
from ..policy import MAX_WAIT_SECONDS
from ..service import BridgeError, BridgeService, JobInfo
from .refusals import request_error
from .results import outcome_result
from .tooling import BridgeTool
from .tools import TURN_TOOLS

__all__ = ["RELATED_TASK_KEY", "TASK_CAPABILITY", "TASK_TOOLS", "Tasks"]

logger = logging.getLogger("codex_bridge.mcp")

RELATED_TASK_KEY = "io.modelcontextprotocol/related-task"
TASK_TOOLS = tuple(TURN_TOOLS)
"""The tools that accept task-augmented calls: each starts a job of its operation."""
TASK_CAPABILITY = types.ServerTasksCapability(
    list=types.TasksListCapability(),
    cancel=types.TasksCancelCapability(),
    requests=types.ServerTasksRequestsCapability(
        tools=types.TasksToolsCapability(call=types.TasksCallCapability())
    ),
)
_POLL_MS = 1000
_STATUS: dict[str, types.TaskStatus] = {
    "queued": "working",
    "running": "working",
    "completed": "completed",
    "failed": "failed",
    "cancelled": "cancelled",
    "lost": "failed",
}


def _dump(model: BaseModel) -> dict[str, Any]:
    data: dict[str, Any] = model.model_dump(by_alias=True, mode="json", exclude_none=True)
    return data


class Tasks:
    """Tasks over one service's jobs, for every connection of one MCP server."""

    def __init__(self, service: BridgeService, tools: Mapping[str, BridgeTool[Any, Any]]) -> None:
        self._service = service
        self._tools = tools  # a task's arguments are parsed as its tool's
        self._ttl: dict[str, int | None] = {}
        self._owners: dict[str, ServerSession] = {}
        self._last_status: dict[str, str] = {}
        self._pending: set[asyncio.Task[Any]] = set()
        service.changes.subscribe(self._on_change)

    # ----------------------------------------------------------------- task records
    def _task(self, info: JobInfo) -> types.Task:
        message = info.error or (info.progress[-1] if info.progress else None)
        if info.state == "lost":
            message = LOST_MESSAGE
        updated = info.finished_at or info.started_at or info.created_at
        return types.Task(
            task_id=info.job_id,
            status=_STATUS[info.state],
            status_message=message,
            created_at=info.created_at,
            last_updated_at=updated,
            ttl=self._ttl.get(info.job_id),
            poll_interval=_POLL_MS,
        )

    def _job(self, task_id: str) -> JobInfo:
        try:
            return self._service.job_status(task_id)
        except BridgeError as exc:
            raise request_error(exc, message=f"no task {task_id!r}") from None

    # ----------------------------------------------------------------- tools/call + task
    async def middleware(
        self, ctx: ServerRequestContext[Any, Any], call_next: CallNext
    ) -> HandlerResult:
        params = ctx.params
        if (
            ctx.method != "tools/call"
            or not isinstance(params, Mapping)
            or params.get("task") is None
            or ctx.protocol_version in MODERN_PROTOCOL_VERSIONS
        ):
            return await call_next(ctx)
        return await self._create(ctx, types.CallToolRequestParams.model_validate(params))

    async def _create(
        self, ctx: ServerRequestContext[Any, Any], params: types.CallToolRequestParams
    ) -> dict[str, Any]:
        if params.name not in TASK_TOOLS:
            raise MCPError(
                code=types.INVALID_PARAMS,
                message=f"tool {params.name!r} does not run as a task; these do: "
                + ", ".join(TASK_TOOLS),
            )
        try:
            job = self._tools[params.name].parse(params.arguments)
            info = self._service.start_job(job)
        except BridgeError as exc:
            raise request_error(exc, data={"code": exc.code, "field": exc.field}) from None
        assert params.task is not None
        self._ttl[info.job_id] = params.task.ttl
        self._owners[info.job_id] = ctx.session
        self._last_status[info.job_id] = _STATUS[info.state]
        return _dump(types.CreateTaskResult(task=self._task(info)))

    # ----------------------------------------------------------------- tasks/*
    async def get(
        self, ctx: ServerRequestContext[Any, Any], params: types.GetTaskRequestParams
    ) -> dict[str, Any]:
        return _dump(self._task(self._job(params.task_id)))

    async def result(
        self, ctx: ServerRequestContext[Any, Any], params: types.GetTaskPayloadRequestParams
    ) -> dict[str, Any]:
        info = self._job(params.task_id)
        while _STATUS[info.state] == "working":  # tasks/result blocks until the task ends
            info = await self._service.wait_job(params.task_id, MAX_WAIT_SECONDS)
        if info.outcome is not None:
            result = outcome_result(info.outcome)
        else:
            text = info.error or (LOST_MESSAGE if info.state == "lost" else f"task {info.state}")
            result = types.CallToolResult(
                content=[types.TextContent(type="text", text=text)], is_error=True
            )
        data = _dump(result)
        data["_meta"] = {**data.get("_meta", {}), RELATED_TASK_KEY: {"taskId": info.job_id}}
        return data

    async def list(
        self, ctx: ServerRequestContext[Any, Any], params: types.PaginatedRequestParams
    ) -> dict[str, Any]:
        tasks = [self._task(info) for info in self._service.list_jobs()]
        return _dump(types.ListTasksResult(tasks=tasks))

    async def cancel(
        self, ctx: ServerRequestContext[Any, Any], params: types.CancelTaskRequestParams
    ) -> dict[str, Any]:
        info = self._job(params.task_id)
        if _STATUS[info.state] != "working":
            raise MCPError(
                code=types.INVALID_PARAMS,
                message=f"task {params.task_id!r} has already ended ({_STATUS[info.state]})",
            )
        return _dump(self._task(await self._service.cancel_job(params.task_id)))

    # ----------------------------------------------------------------- status notices
    def _on_change(self, change: Change) -> None:
        if change.kind != "job" or change.key not in self._owners:
            return
        try:
            info = self._service.job_status(change.key)
        except BridgeError:
            return
        status = _STATUS[info.state]
        if self._last_status.get(change.key) == status:
            return
        self._last_status[change.key] = status
        task = self._task(info)
        notification = types.TaskStatusNotification(
            params=types.TaskStatusNotificationParams(**dict(task))
        )
        session = self._owners[change.key]
        if status != "working":
            self._owners.pop(change.key, None)
        try:
            work = asyncio.get_running_loop().create_task(self._notify(session, notification))
        except RuntimeError:
            return
        self._pending.add(work)
        work.add_done_callback(self._pending.discard)

    @staticmethod
    async def _notify(session: ServerSession, notification: types.TaskStatusNotification) -> None:
        try:
            await session.send_notification(notification)  # type: ignore[arg-type]
        except Exception:  # best effort: the client can always poll tasks/get
            logger.debug("could not send a task status notification", exc_info=True)

    def install(self, server: Any) -> None:
        """Register the handlers, the middleware and the capability on ``server``."""
        server.tasks_capability = TASK_CAPABILITY
        server.middleware.append(self.middleware)
        server.add_request_handler("tasks/get", types.GetTaskRequestParams, self.get)
        server.add_request_handler("tasks/result", types.GetTaskPayloadRequestParams, self.result)
        server.add_request_handler("tasks/list", types.PaginatedRequestParams, self.list)
        server.add_request_handler("tasks/cancel", types.CancelTaskRequestParams, self.cancel)
