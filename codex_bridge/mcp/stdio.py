"""MCP over stdin/stdout: the SDK's stdio transport, with every incoming line inspected first
and signals turned into a clean shutdown (codex killed before the process ends)."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import AsyncIterator
from typing import Any

import anyio
import mcp_types as types
from mcp.server.lowlevel.server import Server
from mcp.server.stdio import stdio_server
from mcp.shared.message import SessionMessage
from pydantic import ValidationError

from ..service import BridgeService
from ..signals import Interrupted, until_signal
from ..wire import INVALID_PARAMS, INVALID_REQUEST, Refused, inspect_message

__all__ = ["serve_stdio"]

logger = logging.getLogger("codex_bridge.mcp")


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


async def _closed_by_the_lifespan() -> None:
    """Nothing left to clean up: the server's lifespan has closed the service (killing every
    codex) however the connection ended."""


async def serve_stdio(server: Server[BridgeService]) -> None:
    """Serve one connection on stdin/stdout until EOF or a signal."""
    stdin = _CheckedStdin()
    async with stdio_server(stdin=stdin) as (read_stream, write_stream):  # type: ignore[arg-type]
        stdin.write_stream = write_stream

        async def connection() -> None:
            await server.run(read_stream, write_stream, server.create_initialization_options())

        # A host's SIGTERM does not reach codex (its own process group): the signal becomes a
        # cancellation, so that the lifespan kills codex before the process ends.
        stopped = await until_signal(connection, _closed_by_the_lifespan)
        if isinstance(stopped, Interrupted):
            logger.info("codex-bridge: signal %s, shutting down", stopped.signal_number)
            # The stdin reader blocks in a thread that only EOF ends, and a host that signals
            # may keep stdin open: leave now that the cleanup is done.
            logging.shutdown()
            os._exit(0)
