"""Start `codex-bridge mcp` over stdio with the official MCP client and run Codex through it.

    python examples/mcp_client.py "Summarise README.md in three bullet points"

Progress notifications are printed as they arrive, then the result. Server options come from
CODEX_BRIDGE_* environment variables (e.g. CODEX_BRIDGE_SANDBOX_CEILING=read-only).
"""

import asyncio
import os
import shutil
import sys
from pathlib import Path

from mcp import Client, StdioServerParameters
from mcp_types import TextContent


def server_command() -> list[str]:
    """`codex-bridge mcp`, or the same server as a module when the script is not installed."""
    script = shutil.which("codex-bridge") or shutil.which(
        "codex-bridge", path=str(Path(sys.executable).parent)
    )
    if script:
        return [script, "mcp"]
    return [sys.executable, "-m", "codex_bridge.mcp"]


async def show_progress(progress: float, total: float | None, message: str | None) -> None:
    print(f"  [{progress:g}] {message}", file=sys.stderr)


async def main(prompt: str) -> int:
    command, *args = server_command()
    # Pass the whole environment: codex needs CODEX_HOME, its API key and PATH, which the
    # client's default (a minimal safe set) would drop.
    server = StdioServerParameters(command=command, args=args, env=dict(os.environ))
    async with Client(server) as client:
        print(f"connected: protocol {client.protocol_version}", file=sys.stderr)
        tools = [tool.name for tool in (await client.list_tools()).tools]
        print(f"tools: {', '.join(tools)}", file=sys.stderr)
        result = await client.call_tool(
            "codex_run",
            {"prompt": prompt, "sandbox": "read-only", "timeout_seconds": 600},
            progress_callback=show_progress,
        )
    for block in result.content:
        if isinstance(block, TextContent):
            print(block.text)
    outcome = result.structured_content or {}
    if outcome.get("usage"):
        usage = outcome["usage"]
        print(f"tokens: {usage['input_tokens']} in, {usage['output_tokens']} out", file=sys.stderr)
    return 1 if result.is_error else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(" ".join(sys.argv[1:]) or "List the files in this directory.")))
