"""Typed ``codex exec --json`` events, decoded with msgspec tagged unions.

Every line codex prints on stdout in JSON mode is one :data:`ThreadEvent`. Known event and item
types decode to their own Struct; types that a newer codex adds decode to
:class:`UnknownEvent` / :class:`UnknownItem`, which keep the raw JSON object, so nothing is lost
and nothing crashes. A line that is not a JSON object becomes :class:`MalformedLine`. The
decoding itself is :func:`codex_local_sdk.decode_event` (module ``_decoding``).
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec

__all__ = [
    "DEFAULT_MAX_COMMAND_OUTPUT_BYTES",
    "DEFAULT_MAX_MESSAGE_BYTES",
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
    "event_to_dict",
]

DEFAULT_MAX_COMMAND_OUTPUT_BYTES = 16 * 1024
"""How much of a command's ``aggregated_output`` a run keeps by default (its tail)."""

DEFAULT_MAX_MESSAGE_BYTES = 4 * 1024 * 1024
"""How much of an agent message's ``text`` a run keeps by default (its head)."""

# A counter beyond int64 is not a count codex sent: decoding falls back and drops it.
_Count = Annotated[int, msgspec.Meta(ge=0, le=2**63 - 1)]


class Usage(msgspec.Struct, kw_only=True, frozen=True):
    """Token usage. In ``turn.completed`` codex reports it cumulatively for the whole thread."""

    input_tokens: _Count = 0
    cached_input_tokens: _Count = 0
    cache_write_input_tokens: _Count = 0
    output_tokens: _Count = 0
    reasoning_output_tokens: _Count = 0

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
    """The message; only its beginning when ``text_truncated_bytes`` is not 0."""
    text_truncated_bytes: int = 0
    """How many bytes (UTF-8) of the message's end were dropped to bound memory (see
    ``max_message_bytes``); the whole message was ``text_bytes`` long."""

    @property
    def text_bytes(self) -> int:
        """The size in bytes (UTF-8) of the whole message codex reported."""
        return _utf8_size(self.text) + self.text_truncated_bytes


class ReasoningItem(_Item, tag="reasoning", frozen=True, kw_only=True):
    text: str = ""


class CommandExecutionItem(_Item, tag="command_execution", frozen=True, kw_only=True):
    command: str = ""
    aggregated_output: str = ""
    """The command's output; only its tail when ``output_truncated_bytes`` is not 0."""
    exit_code: int | None = None
    status: str = ""
    output_truncated_bytes: int = 0
    """How many bytes (UTF-8) of the output's beginning were dropped to bound memory (see
    ``max_command_output_bytes``); the full output was ``output_bytes`` long."""

    @property
    def output_bytes(self) -> int:
        """The size in bytes (UTF-8) of the whole output codex reported."""
        return _utf8_size(self.aggregated_output) + self.output_truncated_bytes


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
    """The new text; only its beginning when ``delta_truncated_bytes`` is not 0."""
    delta_truncated_bytes: int = 0
    """How many bytes (UTF-8) of a delta longer than ``max_message_bytes`` were dropped."""


class CommandOutputDelta(_Event, tag="item.command_output.delta", frozen=True, kw_only=True):
    """Live output of a running command (app-server engine only). Not kept in
    ``result.events``; the completed item carries the whole output."""

    item_id: str = ""
    delta: str = ""
    """The new output; only its tail when ``delta_truncated_bytes`` is not 0."""
    delta_truncated_bytes: int = 0
    """How many bytes (UTF-8) of a delta longer than ``max_command_output_bytes`` were
    dropped."""


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


def event_to_dict(event: ThreadEvent) -> dict[str, Any]:
    """The event as a JSON-ready dict, as codex sent it (unknown types keep their raw form)."""
    if isinstance(event, UnknownEvent):
        return dict(event.raw)
    data: dict[str, Any] = msgspec.to_builtins(event)
    item = getattr(event, "item", None)
    if isinstance(item, UnknownItem):
        data["item"] = dict(item.raw)
    elif isinstance(item, CommandExecutionItem) and not item.output_truncated_bytes:
        del data["item"]["output_truncated_bytes"]  # not one of codex's fields
    elif isinstance(item, AgentMessageItem) and not item.text_truncated_bytes:
        del data["item"]["text_truncated_bytes"]  # not one of codex's fields
    return data


def _utf8_size(text: str) -> int:
    if text.isascii():
        return len(text)
    step = 1 << 20  # in slices: a huge text is never encoded whole
    slices = (text[at : at + step] for at in range(0, len(text), step))
    return sum(len(piece.encode("utf-8", "surrogatepass")) for piece in slices)
