"""How the bridge's refusals (:mod:`codex_bridge.errors`) reach an MCP client.

A tool call answers every refusal as a tool result the model reads: ``isError`` with the
structured ``{code, message, field}`` (``code`` from the error tree), so that it can fix the
argument at fault or do what the message says instead. Other requests (``resources/read``,
``tasks/*``) fail as JSON-RPC errors, whose code comes from the one table below.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import mcp_types as types
from mcp.shared.exceptions import MCPError

from ..errors import (
    BridgeError,
    CodexFailed,
    CodexUnavailable,
    InvalidRequest,
    JobNotFound,
    JobNotRunning,
    PolicyRefused,
    SessionExists,
    SessionNotFound,
    SessionStoreFailed,
    lookup,
)
from .results import text_result

__all__ = ["request_error", "tool_error"]

_JSONRPC_CODES: Mapping[type[BridgeError], int] = {
    # Every refusal names something in the request the client can change (a session, a job,
    # a resource, the arguments), codex's own trouble included: it is reported, not hidden.
    InvalidRequest: types.INVALID_PARAMS,
    PolicyRefused: types.INVALID_PARAMS,
    SessionNotFound: types.INVALID_PARAMS,
    SessionExists: types.INVALID_PARAMS,
    SessionStoreFailed: types.INVALID_PARAMS,
    JobNotFound: types.INVALID_PARAMS,
    JobNotRunning: types.INVALID_PARAMS,
    CodexUnavailable: types.INVALID_PARAMS,
    CodexFailed: types.INVALID_PARAMS,
    BridgeError: types.INVALID_PARAMS,
}


def tool_error(exc: BridgeError) -> types.CallToolResult:
    """A refusal or bad argument, structured so that a model can act on it."""
    error = {"code": exc.code, "message": exc.message, "field": exc.field}
    return text_result(exc.message, error, is_error=True)


def request_error(exc: BridgeError, *, message: str | None = None, data: Any = None) -> MCPError:
    """The JSON-RPC error for a request the bridge refused (``message`` instead of the
    error's own); raise it ``from`` ``exc``."""
    return MCPError(code=lookup(_JSONRPC_CODES, exc), message=message or exc.message, data=data)
