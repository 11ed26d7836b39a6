"""The MCP server under the official ``mcp`` client: connecting in process or over stdio,
calling tools, recording progress."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from mcp import Client, StdioServerParameters
from mcp_types import CallToolResult, TextContent

from codex_bridge.mcp import ServeOptions, build_server
from codex_bridge.service import BridgeService
from tests.support.servers import MCP_PROTOCOL


@asynccontextmanager
async def connect(
    service: BridgeService, mode: str = "legacy", **options: Any
) -> AsyncIterator[Client]:
    """A client of an in-process server over ``service`` (``options``: ``ServeOptions``)."""
    async with Client(build_server(service, ServeOptions(**options)), mode=mode) as client:
        assert client.protocol_version == MCP_PROTOCOL[mode]
        yield client


def text_of(result: CallToolResult) -> str:
    return "\n".join(block.text for block in result.content if isinstance(block, TextContent))


def structured(result: CallToolResult) -> dict[str, Any]:
    content = result.structured_content
    assert isinstance(content, dict), text_of(result)
    return content


async def call_ok(client: Client, tool: str, arguments: dict[str, Any], **kw: Any) -> Any:
    """The structured content of a tool call that must succeed."""
    result = await client.call_tool(tool, arguments, **kw)
    assert not result.is_error, text_of(result)
    return structured(result)


async def call_error(client: Client, tool: str, arguments: dict[str, Any]) -> str:
    """The text of a tool call that must fail."""
    result = await client.call_tool(tool, arguments)
    assert result.is_error, text_of(result)
    return text_of(result)


async def failure(client: Client, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
    """The structured content of a tool error."""
    result = await client.call_tool(tool, arguments)
    assert result.is_error, text_of(result)
    assert isinstance(result.structured_content, dict), text_of(result)
    return result.structured_content


class ProgressRecorder:
    """A progress callback for ``Client.call_tool`` that remembers every notification."""

    def __init__(self) -> None:
        self.updates: list[tuple[float, float | None, str | None]] = []

    async def __call__(self, progress: float, total: float | None, message: str | None) -> None:
        self.updates.append((progress, total, message))

    @property
    def messages(self) -> list[str]:
        return [message or "" for _, _, message in self.updates]

    @property
    def values(self) -> list[float]:
        return [progress for progress, _, _ in self.updates]


def module_server(env: Mapping[str, str], cwd: Path) -> StdioServerParameters:
    """``python -m codex_bridge.mcp`` (independent of the console script)."""
    return StdioServerParameters(
        command=sys.executable, args=["-m", "codex_bridge.mcp"], env=dict(env), cwd=cwd
    )


def cli_server(env: Mapping[str, str], cwd: Path) -> StdioServerParameters | None:
    """``codex-bridge mcp`` from this interpreter's environment, when installed."""
    script = Path(sys.executable).with_name("codex-bridge")
    if not script.exists():
        return None
    return StdioServerParameters(command=str(script), args=["mcp"], env=dict(env), cwd=cwd)
