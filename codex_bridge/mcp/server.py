"""The MCP server: Codex as MCP tools for agent hosts, over the official ``mcp`` SDK.

A thin adapter over :class:`~codex_bridge.service.BridgeService`: it publishes the tools and
resources, turns arguments into the service's params Structs, relays progress and renders
results. Every decision (policy, sessions, jobs, concurrency) is the service's.

It is built on the SDK's low-level ``Server`` rather than ``MCPServer`` so that the input and
output schemas come from the service's msgspec Structs (one source of truth, validated by
``parse_params``) instead of being restated as Python signatures. The tools are declared in
:mod:`codex_bridge.mcp.tools` (and its siblings), the resources in
:mod:`codex_bridge.mcp.resources`, the transports in :mod:`codex_bridge.mcp.stdio` and
:mod:`codex_bridge.mcp.streamable_http`.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import AsyncIterator, Mapping

import anyio
import mcp_types as types
import msgspec
from mcp.server.caching import CacheHint
from mcp.server.lowlevel.server import Server
from mcp.shared.exceptions import MCPError

from codex_local_sdk.otel import instrument

from .. import __version__
from ..launch import ServeOptions
from ..policy import BridgePolicy
from ..service import (
    BridgeError,
    BridgeService,
    ProgressCallback,
    ProgressUpdate,
    TurnParams,
)
from .refusals import tool_error
from .resources import SESSION_URI_TEMPLATE, SESSIONS_URI, Resources
from .results import error_result
from .stdio import serve_stdio
from .subscriptions import BridgeServer, Subscriptions
from .tasks import Tasks
from .tooling import CLEANUP_SECONDS, Context
from .tools import TURN_TOOLS, tool_specs

__all__ = [
    "SERVER_NAME",
    "SESSIONS_URI",
    "SESSION_URI_TEMPLATE",
    "ServeOptions",
    "build_server",
    "host_tool_timeout",
    "serve",
    "tool_specs",
]

logger = logging.getLogger("codex_bridge.mcp")

SERVER_NAME = "codex-bridge"
HOST_TOOL_TIMEOUT_ENV = "MCP_TOOL_TIMEOUT"
"""Claude Code's tool timeout (milliseconds), which it passes on to the servers it starts."""
_HOST_TIMEOUT_MARGIN_SECONDS = 2.0


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
    params: TurnParams, policy: BridgePolicy, host_timeout: float
) -> TurnParams:
    """End codex a little before the host gives up on the call: no codex outlives the call
    even if the host sends no cancellation, and the model reads our timeout result (with the
    thread id, to continue) instead of the host's bare "timed out"."""
    limit = max(host_timeout - _HOST_TIMEOUT_MARGIN_SECONDS, host_timeout / 2)
    asked = params.timeout_seconds
    if asked is None:
        asked = policy.default_timeout_seconds
    if asked <= limit:  # bad values are refused by the service
        return params
    return msgspec.structs.replace(params, timeout_seconds=limit)


def _progress_relay(ctx: Context) -> ProgressCallback:
    """Progress updates → ``notifications/progress`` (a no-op without a progress token)."""

    async def relay(update: ProgressUpdate) -> None:
        try:
            await ctx.session.report_progress(update.progress, None, update.message)
        except Exception:  # progress is best effort: never let it break the run
            logger.debug("could not send a progress notification", exc_info=True)

    return relay


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
        spec.name: spec for spec in tool_specs(service.policy, compat_tools=options.compat_tools)
    }
    tools = [spec.definition() for spec in specs.values()]
    for tool in tools:  # task-augmented calls run as background jobs (MCP Tasks)
        if tool.name in TURN_TOOLS:
            tool.execution = types.ToolExecution(task_support="optional")
    # The mcp SDK traces every request (OpenTelemetry, a no-op until a provider is set up);
    # codex runs become child spans of the tool call that started them.
    instrument(service.client)
    subscriptions = Subscriptions(service)
    resources = Resources(service, subscriptions)

    @contextlib.asynccontextmanager
    async def lifespan(_: Server[BridgeService]) -> AsyncIterator[BridgeService]:
        service.start_engine_check()  # in the background: initialize is answered at once
        try:
            yield service
        finally:
            # Runs on disconnect, shutdown and signals: shielded so cleanup is not cut short.
            with anyio.CancelScope(shield=True), anyio.move_on_after(CLEANUP_SECONDS):
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
        try:
            arguments = spec.parse(params.arguments)
            if host_timeout_seconds is not None and spec.ends_before_host_timeout:
                arguments = _within_host_timeout(arguments, service.policy, host_timeout_seconds)
            return await spec.call(service, arguments, ctx, _progress_relay(ctx))
        except BridgeError as exc:
            logger.info("%s refused: %s", spec.name, exc.message)
            return tool_error(exc)
        except Exception as exc:  # the server must answer, never die on a request
            logger.exception("%s failed unexpectedly", spec.name)
            return error_result(f"internal error in {spec.name}: {exc!r}")

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
        on_list_resources=resources.list,
        on_list_resource_templates=resources.templates,
        on_read_resource=resources.read,
        on_subscribe_resource=subscriptions.subscribe,
        on_unsubscribe_resource=subscriptions.unsubscribe,
        on_subscriptions_listen=subscriptions.listen,
    )
    Tasks(service, specs).install(server)
    return server


# --------------------------------------------------------------------------- serving


def startup_check(service: BridgeService) -> None:
    """Warn on stderr when codex is missing or too old. The server still starts: a host shows
    a failed server with little detail, whereas a tool error tells the model (and the user)
    exactly what is wrong and how to fix it."""
    report = service.doctor(login=False)
    for check in report.checks:
        if not check.ok:
            logger.warning("codex-bridge: %s: %s", check.name, check.detail)
    if report.ok:
        logger.info("codex-bridge: codex %s at %s", report.version, report.binary)


def serve(policy: BridgePolicy, options: ServeOptions | None = None) -> None:
    """Serve MCP over stdin/stdout (or streamable HTTP with ``options.http``) until the client
    disconnects or a signal arrives."""
    options = options or ServeOptions()
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(message)s")
    if options.http is not None:  # imported here: uvicorn is not needed on stdio
        from .streamable_http import serve_http

        serve_http(policy, options)
        return
    service = BridgeService(policy)
    startup_check(service)
    server = build_server(service, options, host_timeout_seconds=host_tool_timeout(os.environ))
    anyio.run(serve_stdio, server)
