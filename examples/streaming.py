"""Stream typed events as codex produces them, and stop early if you like."""

import asyncio
import sys

from codex_local_sdk import (
    CodexExecRequest,
    CodexLocalClient,
    CommandExecutionItem,
    ItemCompleted,
    ItemStarted,
)


async def main(prompt: str) -> None:
    client = CodexLocalClient()
    async with client.stream(CodexExecRequest(prompt=prompt), timeout_seconds=300) as events:
        async for event in events:
            if isinstance(event, ItemStarted) and isinstance(event.item, CommandExecutionItem):
                print(f"$ {event.item.command}")
            elif isinstance(event, ItemCompleted):
                print(f"[{event.item.type}] done")
            else:
                print(event.type)
    result = events.result
    print(result.final_message)
    if result.usage:
        print(f"tokens: {result.usage.input_tokens} in, {result.usage.output_tokens} out")


asyncio.run(main(" ".join(sys.argv[1:]) or "List the files in this directory."))
