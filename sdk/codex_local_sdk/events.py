"""Typed ``codex exec --json`` events, decoded with msgspec tagged unions.

Every line codex prints on stdout in JSON mode is one :data:`ThreadEvent`. Known event and item
types decode to their own Struct; types that a newer codex adds decode to
:class:`UnknownEvent` / :class:`UnknownItem`, which keep the raw JSON object, so nothing is lost
and nothing crashes. A line that is not a JSON object becomes :class:`MalformedLine`.
"""

from __future__ import annotations

from typing import Any, cast

import msgspec

__all__ = [
    "AgentMessageDelta",
    "AgentMessageItem",
    "ApprovalDecided",
    "CommandExecutionItem",
    "CommandOutputDelta",
    "ErrorEvent",
    "ErrorItem",
    "FileChange",
    "FileChangeItem",
    "ItemCompleted",
    "ItemStarted",
    "ItemUpdated",
    "MalformedLine",
    "McpToolCallItem",
    "ReasoningItem",
    "ThreadEvent",
    "ThreadItem",
    "ThreadStarted",
    "TodoEntry",
    "TodoListItem",
    "TurnCompleted",
    "TurnError",
    "TurnFailed",
    "TurnStarted",
    "UnknownEvent",
    "UnknownItem",
    "Usage",
    "WebSearchItem",
    "decode_event",
    "event_to_dict",
]


class Usage(msgspec.Struct, kw_only=True, frozen=True):
    """Token usage. In ``turn.completed`` codex reports it cumulatively for the whole thread."""

    input_tokens: int = 0
    cached_input_tokens: int = 0
    cache_write_input_tokens: int = 0
    output_tokens: int = 0
    reasoning_output_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    def __sub__(self, other: Usage) -> Usage:
        """Per-turn usage is the difference of two cumulative readings (never negative)."""
        return Usage(
            **{
                field: max(0, getattr(self, field) - getattr(other, field))
                for field in self.__struct_fields__
            }
        )


# --- items ---------------------------------------------------------------------------------


class _Item(msgspec.Struct, kw_only=True, frozen=True, tag_field="type"):
    id: str = ""

    @property
    def type(self) -> str:
        """The item type as codex names it (``agent_message``, ``command_execution``, ...)."""
        return str(self.__struct_config__.tag)


class AgentMessageItem(_Item, tag="agent_message", frozen=True, kw_only=True):
    text: str = ""


class ReasoningItem(_Item, tag="reasoning", frozen=True, kw_only=True):
    text: str = ""


class CommandExecutionItem(_Item, tag="command_execution", frozen=True, kw_only=True):
    command: str = ""
    aggregated_output: str = ""
    exit_code: int | None = None
    status: str = ""


class FileChange(msgspec.Struct, kw_only=True, frozen=True):
    path: str
    kind: str = "update"


class FileChangeItem(_Item, tag="file_change", frozen=True, kw_only=True):
    changes: list[FileChange] = msgspec.field(default_factory=list)
    status: str = ""


class McpToolCallItem(_Item, tag="mcp_tool_call", frozen=True, kw_only=True):
    server: str = ""
    tool: str = ""
    status: str = ""
    arguments: Any = None
    result: Any = None
    error: Any = None


class WebSearchItem(_Item, tag="web_search", frozen=True, kw_only=True):
    query: str = ""


class TodoEntry(msgspec.Struct, kw_only=True, frozen=True):
    text: str = ""
    completed: bool = False


class TodoListItem(_Item, tag="todo_list", frozen=True, kw_only=True):
    items: list[TodoEntry] = msgspec.field(default_factory=list)


class ErrorItem(_Item, tag="error", frozen=True, kw_only=True):
    message: str = ""


class UnknownItem(_Item, tag="unknown", frozen=True, kw_only=True):
    """An item type this SDK does not know (yet); ``raw`` is the item as codex sent it."""

    raw: dict[str, Any] = msgspec.field(default_factory=dict)

    @property
    def type(self) -> str:
        return str(self.raw.get("type", ""))


KnownItem = (
    AgentMessageItem
    | ReasoningItem
    | CommandExecutionItem
    | FileChangeItem
    | McpToolCallItem
    | WebSearchItem
    | TodoListItem
    | ErrorItem
)
ThreadItem = KnownItem | UnknownItem
"""Every item: the known types, or :class:`UnknownItem` holding the raw object."""

# --- events --------------------------------------------------------------------------------


class _Event(msgspec.Struct, kw_only=True, frozen=True, tag_field="type"):
    @property
    def type(self) -> str:
        """The event type as codex names it (``thread.started``, ``item.completed``, ...)."""
        return str(self.__struct_config__.tag)


class ThreadStarted(_Event, tag="thread.started", frozen=True, kw_only=True):
    thread_id: str


class TurnStarted(_Event, tag="turn.started", frozen=True, kw_only=True):
    pass


class TurnCompleted(_Event, tag="turn.completed", frozen=True, kw_only=True):
    usage: Usage = msgspec.field(default_factory=Usage)


class TurnError(msgspec.Struct, kw_only=True, frozen=True):
    message: str = ""


class TurnFailed(_Event, tag="turn.failed", frozen=True, kw_only=True):
    error: TurnError = msgspec.field(default_factory=TurnError)


class ItemStarted(_Event, tag="item.started", frozen=True, kw_only=True):
    item: ThreadItem


class ItemUpdated(_Event, tag="item.updated", frozen=True, kw_only=True):
    item: ThreadItem


class ItemCompleted(_Event, tag="item.completed", frozen=True, kw_only=True):
    item: ThreadItem


class ErrorEvent(_Event, tag="error", frozen=True, kw_only=True):
    """A stream-level error. Often only a warning ("Reconnecting... 2/5"): a turn has failed
    only when ``turn.failed`` arrives or codex exits non-zero."""

    message: str = ""


class UnknownEvent(_Event, tag="unknown", frozen=True, kw_only=True):
    """An event type this SDK does not know (yet); ``raw`` is the whole JSON object."""

    raw: dict[str, Any] = msgspec.field(default_factory=dict)

    @property
    def type(self) -> str:
        return str(self.raw.get("type", ""))


class MalformedLine(_Event, tag="malformed", frozen=True, kw_only=True):
    """A stdout line that is not a JSON event object (not sent by codex as an event).
    Surfaced to callers, never fatal."""

    line: str = ""
    error: str = ""


class AgentMessageDelta(_Event, tag="item.agent_message.delta", frozen=True, kw_only=True):
    """Live text of an agent message as the model writes it (app-server engine only; the
    complete message still arrives as ``item.completed``). Not kept in ``result.events``."""

    item_id: str = ""
    delta: str = ""


class CommandOutputDelta(_Event, tag="item.command_output.delta", frozen=True, kw_only=True):
    """Live output of a running command (app-server engine only). Not kept in
    ``result.events``; the completed item carries the whole output."""

    item_id: str = ""
    delta: str = ""


class ApprovalDecided(_Event, tag="approval.decided", frozen=True, kw_only=True):
    """Codex asked for approval and got this answer (app-server engine only).

    ``kind``: command, file_change, elicitation or permissions; ``subject``: the command, the
    changed paths or the question; ``decision``: approve, approve_for_session or decline;
    ``decided_by``: user, timeout, policy (the bridge's ceiling), no_handler or error."""

    kind: str
    subject: str = ""
    cwd: str | None = None
    reason: str | None = None
    decision: str = "decline"
    decided_by: str = "no_handler"
    note: str | None = None


LiveEvent = AgentMessageDelta | CommandOutputDelta
"""Events that show work in progress and are not kept in a result."""

_KnownEvent = (
    ThreadStarted
    | TurnStarted
    | TurnCompleted
    | TurnFailed
    | ItemStarted
    | ItemUpdated
    | ItemCompleted
    | ErrorEvent
)
ThreadEvent = _KnownEvent | LiveEvent | ApprovalDecided | UnknownEvent | MalformedLine
"""Every event a run can yield, in the order codex printed it."""

_ITEM_EVENTS: dict[str, type[ItemStarted | ItemUpdated | ItemCompleted]] = {
    "item.started": ItemStarted,
    "item.updated": ItemUpdated,
    "item.completed": ItemCompleted,
}

_event_decoder = msgspec.json.Decoder(_KnownEvent)
_raw_decoder = msgspec.json.Decoder()
_MAX_ECHO = 500  # how much of a malformed line to keep in MalformedLine.line


def decode_event(line: bytes | str) -> ThreadEvent:
    """Decode one JSONL line from ``codex exec --json``.

    The fast path decodes straight into the tagged union. Anything it rejects (a new event type,
    a new item type, a changed field) is decoded generically and mapped to the ``Unknown*``
    fallbacks, keeping the raw object.
    """
    try:
        return cast(ThreadEvent, _event_decoder.decode(line))
    except msgspec.DecodeError:
        pass
    try:
        raw = _raw_decoder.decode(line)
    except msgspec.DecodeError as exc:
        return _malformed(line, f"not JSON: {exc}")
    if not isinstance(raw, dict) or not isinstance(raw.get("type"), str):
        return _malformed(line, "not a JSON object with a string 'type'")
    usage = raw.get("usage")
    if raw["type"] == "turn.completed" and isinstance(usage, dict):
        # A counter that is null or missing must not turn a completed turn into an unknown
        # event: keep the counters that are whole numbers.
        counts = {k: v for k, v in usage.items() if type(v) is int and k in Usage.__struct_fields__}
        return TurnCompleted(usage=Usage(**counts))
    event_cls = _ITEM_EVENTS.get(raw["type"])
    item = raw.get("item")
    if event_cls is not None and isinstance(item, dict):
        return event_cls(item=_convert_item(item))
    return UnknownEvent(raw=raw)


def event_to_dict(event: ThreadEvent) -> dict[str, Any]:
    """The event as a JSON-ready dict, as codex sent it (unknown types keep their raw form)."""
    if isinstance(event, UnknownEvent):
        return dict(event.raw)
    data: dict[str, Any] = msgspec.to_builtins(event)
    item = getattr(event, "item", None)
    if isinstance(item, UnknownItem):
        data["item"] = dict(item.raw)
    return data


def _convert_item(item: dict[str, Any]) -> ThreadItem:
    try:
        return cast(ThreadItem, msgspec.convert(item, KnownItem))
    except msgspec.ValidationError:
        return UnknownItem(id=str(item.get("id", "")), raw=item)


def _malformed(line: bytes | str, error: str) -> MalformedLine:
    text = line.decode("utf-8", "replace") if isinstance(line, bytes) else line
    if len(text) > _MAX_ECHO:
        text = text[:_MAX_ECHO] + f"... ({len(text)} chars)"
    return MalformedLine(line=text, error=error)
