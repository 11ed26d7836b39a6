"""The Responses API's shapes for the mock server: output items (messages, tool calls) and
the server-sent events of a reply. Standard library only."""

from __future__ import annotations

import itertools
import json
import re
import threading
from typing import Any

__all__ = [
    "ESCALATION_REASON",
    "SHELL_COMMAND",
    "ItemBuilder",
    "JsonDict",
    "last_user_index",
    "message_text",
    "sse_chunk",
]

JsonDict = dict[str, Any]
SHELL_COMMAND = "echo mock-shell-ok"
ESCALATION_REASON = "The mock needs to write a file."


def message_text(item: JsonDict) -> str:
    """Concatenate the text parts of a Responses API ``message`` input item."""
    content = item.get("content")
    if isinstance(content, str):
        return content
    parts: list[str] = []
    if isinstance(content, list):
        for part in content:
            if isinstance(part, dict) and isinstance(part.get("text"), str):
                parts.append(part["text"])
    return "".join(parts)


def last_user_index(items: list[Any]) -> int:
    """Index of the last ``role == "user"`` message in ``input`` (-1 if none)."""
    for index in range(len(items) - 1, -1, -1):
        item = items[index]
        if (
            isinstance(item, dict)
            and item.get("role") == "user"
            and item.get("type", "message") == "message"
        ):
            return index
    return -1


def sse_chunk(event: JsonDict) -> bytes:
    return f"event: {event['type']}\ndata: {json.dumps(event)}\n\n".encode()


class ItemBuilder:
    """Builds the output items and SSE events of replies, with ids unique per server."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ids = itertools.count(1)

    def next_id(self, prefix: str) -> str:
        with self._lock:
            return f"{prefix}_mock_{next(self._ids)}"

    def tool_search_call(self, query: str, *, limit: int = 8) -> JsonDict:
        """A call of codex's client-side ``tool_search`` (how a model finds MCP tools)."""
        return {
            "type": "tool_search_call",
            "call_id": self.next_id("search"),
            "execution": "client",
            "arguments": {"query": query, "limit": limit},
        }

    def function_call(
        self, name: str, arguments: JsonDict, *, namespace: str | None = None
    ) -> JsonDict:
        """A function call; MCP tools found by ``tool_search`` live under a namespace."""
        call: JsonDict = {
            "type": "function_call",
            "id": self.next_id("fc"),
            "call_id": self.next_id("call"),
            "name": name,
            "arguments": json.dumps(arguments),
            "status": "completed",
        }
        if namespace is not None:
            call["namespace"] = namespace
        return call

    def message(self, text: str) -> JsonDict:
        return {
            "type": "message",
            "id": self.next_id("msg"),
            "role": "assistant",
            "status": "completed",
            "content": [{"type": "output_text", "text": text, "annotations": []}],
        }

    def shell_call(
        self,
        body: JsonDict,
        command: str = SHELL_COMMAND,
        *,
        escalated: bool = False,
        escalate: bool = False,
    ) -> JsonDict:
        """A function call running ``command`` with whichever shell tool the request
        advertises; ``escalated``/``escalate`` ask codex to run it outside the sandbox."""
        names = {
            str(tool.get("name")) for tool in body.get("tools") or [] if isinstance(tool, dict)
        }
        call_id = self.next_id("call")
        arguments: JsonDict
        if "shell_command" in names or not names & {"shell", "exec_command"}:
            name, arguments = "shell_command", {"command": command}
        elif "exec_command" in names:
            name, arguments = "exec_command", {"cmd": command}
        else:
            name, arguments = "shell", {"command": ["bash", "-lc", command]}
        if escalated or escalate:
            arguments["sandbox_permissions"] = "require_escalated"
            arguments["justification"] = ESCALATION_REASON if escalate else "The task needs it."
        return {
            "type": "function_call",
            "id": self.next_id("fc"),
            "call_id": call_id,
            "name": name,
            "arguments": json.dumps(arguments),
            "status": "completed",
        }

    def sse_body(self, body: JsonDict, output: list[JsonDict]) -> bytes:
        return b"".join(sse_chunk(event) for event in self.sse_events(body, output))

    def sse_events(
        self, body: JsonDict, output: list[JsonDict], *, deltas: bool = False
    ) -> list[JsonDict]:
        """The SSE events of one reply; ``deltas`` streams message text word by word."""
        response_id = self.next_id("resp")
        model = str(body.get("model", "mock-model"))
        # Rough, deterministic token counts: ~4 characters per token.
        input_tokens = max(1, len(json.dumps(body.get("input", []))) // 4)
        output_tokens = sum(
            max(1, len(str(part.get("text", item.get("arguments", "")))) // 4)
            for item in output
            for part in (item.get("content") or [item])
        )
        events: list[JsonDict] = [
            {
                "type": "response.created",
                "response": {
                    "id": response_id,
                    "object": "response",
                    "model": model,
                    "status": "in_progress",
                },
            }
        ]
        for position, item in enumerate(output):
            if deltas and item.get("type") == "message":
                events.append(
                    {
                        "type": "response.output_item.added",
                        "output_index": position,
                        "item": {**item, "status": "in_progress", "content": []},
                    }
                )
                text = "".join(part.get("text", "") for part in item.get("content") or [])
                for word in re.findall(r"\S+\s*", text):
                    events.append(
                        {
                            "type": "response.output_text.delta",
                            "item_id": item["id"],
                            "output_index": position,
                            "content_index": 0,
                            "delta": word,
                        }
                    )
            events.append(
                {"type": "response.output_item.done", "output_index": position, "item": item}
            )
        events.append(
            {
                "type": "response.completed",
                "response": {
                    "id": response_id,
                    "object": "response",
                    "model": model,
                    "status": "completed",
                    "output": output,
                    "usage": {
                        "input_tokens": input_tokens,
                        "input_tokens_details": {"cached_tokens": 0},
                        "output_tokens": output_tokens,
                        "output_tokens_details": {"reasoning_tokens": 0},
                        "total_tokens": input_tokens + output_tokens,
                    },
                },
            }
        )
        return events
