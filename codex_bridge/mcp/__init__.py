"""The MCP adapter: Codex as MCP tools for agent hosts, over the official ``mcp`` SDK.

Run it with ``codex-bridge mcp`` or ``python -m codex_bridge.mcp`` (stdio, or streamable HTTP
with ``--http``). Only this package imports ``mcp`` (slow to import).
"""

from __future__ import annotations

from .server import (
    SERVER_NAME,
    ServeOptions,
    build_server,
    host_tool_timeout,
    serve,
    tool_specs,
)

__all__ = [
    "SERVER_NAME",
    "ServeOptions",
    "build_server",
    "host_tool_timeout",
    "serve",
    "tool_specs",
]
