"""App-server items and token usage as the exec-mode items and :class:`Usage`: pure
functions, no I/O."""

from __future__ import annotations

import re
from typing import Any

from ..events import (
    AgentMessageItem,
    CommandExecutionItem,
    FileChange,
    FileChangeItem,
    McpToolCallItem,
    ReasoningItem,
    ThreadItem,
    UnknownItem,
    Usage,
    WebSearchItem,
)

__all__ = ["convert_item", "snake_case", "text_or_none", "usage_from"]

JsonObject = dict[str, Any]

_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")


def usage_from(token_usage: object) -> Usage | None:
    total = token_usage.get("total") if isinstance(token_usage, dict) else None
    if not isinstance(total, dict):
        return None

    def count(name: str) -> int:
        value = total.get(name)
        return value if isinstance(value, int) else 0

    return Usage(
        input_tokens=count("inputTokens"),
        cached_input_tokens=count("cachedInputTokens"),
        cache_write_input_tokens=count("cacheWriteInputTokens"),
        output_tokens=count("outputTokens"),
        reasoning_output_tokens=count("reasoningOutputTokens"),
    )


def convert_item(item: JsonObject) -> ThreadItem | None:
    """An app-server item as the exec-mode item; None for items exec mode does not report."""
    kind = item.get("type")
    item_id = str(item.get("id", ""))
    try:
        if kind in ("userMessage", "hookPrompt"):
            return None
        if kind == "agentMessage":
            return AgentMessageItem(id=item_id, text=str(item.get("text") or ""))
        if kind == "reasoning":
            parts = item.get("summary") or item.get("content") or []
            return ReasoningItem(id=item_id, text="\n".join(str(part) for part in parts))
        if kind == "commandExecution":
            exit_code = item.get("exitCode")
            return CommandExecutionItem(
                id=item_id,
                command=str(item.get("command") or ""),
                aggregated_output=str(item.get("aggregatedOutput") or ""),
                exit_code=exit_code if isinstance(exit_code, int) else None,
                status=snake_case(item.get("status")),
            )
        if kind == "fileChange":
            changes = [
                FileChange(path=str(change["path"]), kind=str(change["kind"]["type"]))
                for change in item.get("changes") or []
            ]
            return FileChangeItem(
                id=item_id, changes=changes, status=snake_case(item.get("status"))
            )
        if kind == "mcpToolCall":
            return McpToolCallItem(
                id=item_id,
                server=str(item.get("server") or ""),
                tool=str(item.get("tool") or ""),
                status=snake_case(item.get("status")),
                arguments=item.get("arguments"),
                result=item.get("result"),
                error=item.get("error"),
            )
        if kind == "webSearch":
            return WebSearchItem(id=item_id, query=str(item.get("query") or ""))
    except (KeyError, TypeError, ValueError):
        pass  # an unexpected shape: keep it raw below
    return UnknownItem(id=item_id, raw=item)


def text_or_none(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def snake_case(status: object) -> str:
    return _CAMEL.sub("_", str(status or "")).lower()
