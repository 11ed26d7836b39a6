"""Getting started §4: the same run with asyncio (the snippet runs unchanged)."""

import asyncio
from codex_local_sdk import CodexExecRequest, CodexLocalClient


async def main() -> None:
    client = CodexLocalClient()
    result = await client.run_async(
        CodexExecRequest(prompt="Summarize this repository in async mode."),
        timeout_seconds=120,
    )
    print(result.final_message)


asyncio.run(main())
