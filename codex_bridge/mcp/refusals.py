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

from .. import errors
from .results import text_result

__all__ = ["request_error", "tool_error"]

_JSONRPC_CODES: Mapping[type[errors.BridgeError], int] = {
    # Every refusal names something in the request the client can change (a session, a job,
    # a resource, the arguments), codex's own trouble included: it is reported, not hidden.
    errors.InvalidRequest: types.INVALID_PARAMS,
    errors.PolicyRefused: types.INVALID_PARAMS,
    errors.SessionNotFound: types.INVALID_PARAMS,
    errors.SessionExists: types.INVALID_PARAMS,
    errors.SessionStoreFailed: types.INVALID_PARAMS,
    errors.JobNotFound: types.INVALID_PARAMS,
    errors.JobNotRunning: types.INVALID_PARAMS,
    errors.CodexUnavailable: types.INVALID_PARAMS,
    errors.CodexFailed: types.INVALID_PARAMS,
    errors.BridgeError: types.INVALID_PARAMS,
}


def tool_error(exc: errors.BridgeError) -> types.CallToolResult:
    """A refusal or bad argument, structured so that a model can act on it."""
    error = {"code": exc.code, "message": exc.message, "field": exc.field}
    return text_result(exc.message, error, is_error=True)


def request_error(
    exc: errors.BridgeError, *, message: str | None = None, data: Any = None
) -> MCPError:
    """The JSON-RPC error for a request the bridge refused (``message`` instead of the
    error's own); raise it ``from`` ``exc``."""
    return MCPError(
        code=errors.lookup(_JSONRPC_CODES, exc), message=message or exc.message, data=data
    )
