"""The MCP resources: ``codex://sessions`` (every named session), ``codex://sessions/{name}``
(one session with its recent turns) and ``codex://jobs/{id}`` (one background job), as JSON."""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote

import mcp_types as types
from mcp.shared.exceptions import MCPError

from ..rendering import session_line
from ..service import BridgeError, BridgeService
from .refusals import request_error
from .results import builtins
from .tooling import Context

if TYPE_CHECKING:
    from .subscriptions import Subscriptions

__all__ = [
    "JOB_URI_PREFIX",
    "JOB_URI_TEMPLATE",
    "SESSIONS_URI",
    "SESSION_URI_TEMPLATE",
    "Resources",
    "job_uri",
    "session_uri",
]

SESSIONS_URI = "codex://sessions"
SESSION_URI_TEMPLATE = "codex://sessions/{name}"
_SESSION_URI_PREFIX = SESSIONS_URI + "/"
JOB_URI_PREFIX = "codex://jobs/"
JOB_URI_TEMPLATE = "codex://jobs/{id}"


def session_uri(name: str) -> str:
    return _SESSION_URI_PREFIX + quote(name, safe="")


def job_uri(job_id: str) -> str:
    return JOB_URI_PREFIX + quote(job_id, safe="")


def _json_contents(uri: str, data: Any) -> types.ReadResourceResult:
    return types.ReadResourceResult(
        contents=[
            types.TextResourceContents(
                uri=uri, mime_type="application/json", text=json.dumps(data, indent=2)
            )
        ]
    )


class Resources:
    """The ``resources/*`` handlers over one service."""

    def __init__(self, service: BridgeService, subscriptions: Subscriptions) -> None:
        self._service = service
        self._subscriptions = subscriptions

    async def list(
        self, ctx: Context, params: types.PaginatedRequestParams | None
    ) -> types.ListResourcesResult:
        self._subscriptions.remember(ctx)
        sessions = await asyncio.to_thread(self._service.list_sessions)
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
                uri=session_uri(info.name),
                name=info.name,
                title=f"Codex session {info.name}",
                description=session_line(info),
                mime_type="application/json",
            )
            for info in sessions
        ]
        return types.ListResourcesResult(resources=resources)

    async def templates(
        self, ctx: Context, params: types.PaginatedRequestParams | None
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

    async def read(
        self, ctx: Context, params: types.ReadResourceRequestParams
    ) -> types.ReadResourceResult:
        uri = str(params.uri)
        service = self._service
        try:
            if uri == SESSIONS_URI:
                sessions = await asyncio.to_thread(service.list_sessions)
                return _json_contents(uri, [builtins(s) for s in sessions])
            if uri.startswith(_SESSION_URI_PREFIX) and len(uri) > len(_SESSION_URI_PREFIX):
                name = unquote(uri.removeprefix(_SESSION_URI_PREFIX))
                info = await asyncio.to_thread(service.show_session, name)
                return _json_contents(uri, builtins(info))
            if uri.startswith(JOB_URI_PREFIX) and len(uri) > len(JOB_URI_PREFIX):
                job = service.job_status(unquote(uri.removeprefix(JOB_URI_PREFIX)))
                return _json_contents(uri, builtins(job))
        except BridgeError as exc:
            raise request_error(exc, data={"uri": uri}) from exc
        raise MCPError(
            code=types.INVALID_PARAMS,
            message=f"Unknown resource {uri!r}; try {SESSIONS_URI} or {SESSION_URI_TEMPLATE}",
            data={"uri": uri},
        )
