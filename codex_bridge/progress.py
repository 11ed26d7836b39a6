"""Turning codex events into short, human-readable progress lines."""

from __future__ import annotations

import re

from codex_local_sdk import (
    AgentMessageItem,
    ApprovalDecision,
    ApprovalKind,
    ApprovalRequest,
    CommandExecutionItem,
    ErrorEvent,
    FileChangeItem,
    ItemCompleted,
    ItemStarted,
    McpToolCallItem,
    ReasoningItem,
    ThreadEvent,
    ThreadStarted,
    TodoListItem,
    TurnCompleted,
    TurnFailed,
    TurnStarted,
    UnknownEvent,
    WebSearchItem,
)

from .rendering import change_verb, short

__all__ = [
    "APPROVAL_ACTIONS",
    "APPROVAL_LABELS",
    "describe_approval",
    "describe_event",
    "display_command",
]

APPROVAL_ACTIONS = {
    ApprovalKind.COMMAND: "run a command",
    ApprovalKind.FILE_CHANGE: "change files",
    ApprovalKind.ELICITATION: "ask you something",
    ApprovalKind.PERMISSIONS: "get more permissions",
}
"""What codex asks to do, by the kind of approval request."""

APPROVAL_LABELS = {
    ApprovalDecision.APPROVE: "Approve",
    ApprovalDecision.APPROVE_FOR_SESSION: "Approve for this session",
    ApprovalDecision.DECLINE: "Decline",
}
"""How every front end names the answers to an approval request."""


def describe_approval(request: ApprovalRequest) -> tuple[str, list[str]]:
    """What codex asks (one line) and the facts a person decides on (cwd, the model's reason,
    whether approving leaves the sandbox), for every front end to lay out its own way."""
    headline = f"Codex asks to {APPROVAL_ACTIONS[request.kind]}: {request.subject}"
    facts: list[str] = []
    if request.cwd:
        facts.append(f"in {request.cwd}")
    if request.reason:
        facts.append(f"reason: {request.reason}")
    if request.leaves_sandbox:
        facts.append("approving lets it act outside its sandbox")
    return headline, facts


_SHELL_WRAPPER = re.compile(r"^\S*(?:bash|zsh|sh)\s+-l?c\s+(['\"])(?P<inner>.*)\1$", re.S)
_MAX = 160


def display_command(command: str) -> str:
    """``/bin/bash -lc 'pytest -q'`` → ``pytest -q``."""
    match = _SHELL_WRAPPER.match(command.strip())
    return match.group("inner") if match else command


def _short(text: str) -> str:
    return short(text, _MAX)


def describe_event(event: ThreadEvent) -> str | None:
    """A one-line description of an event, or None when it is not worth showing."""
    if isinstance(event, ThreadStarted):
        return f"thread {event.thread_id} started"
    if isinstance(event, TurnStarted):
        return "thinking…"
    if isinstance(event, TurnCompleted):
        return f"turn completed ({event.usage.total_tokens} tokens in the thread)"
    if isinstance(event, TurnFailed):
        return _short(f"turn failed: {event.error.message}")
    if isinstance(event, ErrorEvent):
        return _short(f"warning: {event.message}")
    if isinstance(event, UnknownEvent):
        return None
    if isinstance(event, (ItemStarted, ItemCompleted)):
        return _describe_item(event)
    return None


def _describe_item(event: ItemStarted | ItemCompleted) -> str | None:
    item = event.item
    done = isinstance(event, ItemCompleted)
    if isinstance(item, CommandExecutionItem):
        command = _short(display_command(item.command))
        if not done:
            return f"$ {command}"
        return (
            f"$ {command} (exit {item.exit_code})"
            if item.exit_code is not None
            else (f"$ {command} ({item.status or 'done'})")
        )
    if isinstance(item, FileChangeItem):
        if not done or not item.changes:
            return None
        parts = [f"{change_verb(c.kind)} {c.path}" for c in item.changes]
        return _short(", ".join(parts))
    if isinstance(item, AgentMessageItem):
        return _short(item.text) if done and item.text else None
    if isinstance(item, ReasoningItem):
        return "thinking…" if not item.text else _short(f"thinking: {item.text}")
    if isinstance(item, TodoListItem):
        finished = sum(entry.completed for entry in item.items)
        return f"plan: {finished}/{len(item.items)} steps done"
    if isinstance(item, McpToolCallItem):
        return f"tool {item.server}.{item.tool}" + (f" ({item.status})" if done else "")
    if isinstance(item, WebSearchItem):
        return _short(f"searching the web: {item.query}")
    return None
