"""Typed decoding of ``codex exec --json`` lines: every type, unknowns, malformed lines."""

from __future__ import annotations

import json
from typing import Any

import pytest

from codex_local_sdk import (
    AgentMessageItem,
    CommandExecutionItem,
    ErrorEvent,
    ErrorItem,
    FileChange,
    FileChangeItem,
    ItemCompleted,
    ItemStarted,
    ItemUpdated,
    MalformedLine,
    McpToolCallItem,
    ReasoningItem,
    ThreadStarted,
    TodoEntry,
    TodoListItem,
    TurnCompleted,
    TurnFailed,
    TurnStarted,
    UnknownEvent,
    UnknownItem,
    Usage,
    WebSearchItem,
    decode_event,
    event_to_dict,
)
from codex_local_sdk.events import TurnError
from tests.support.recordings import RECORDED_EXIT_CODES, recording

USAGE = {
    "input_tokens": 6947,
    "cached_input_tokens": 12,
    "cache_write_input_tokens": 3,
    "output_tokens": 5,
    "reasoning_output_tokens": 2,
}

EVENTS: list[tuple[dict[str, Any], type, dict[str, Any]]] = [
    ({"type": "thread.started", "thread_id": "t-1"}, ThreadStarted, {"thread_id": "t-1"}),
    ({"type": "turn.started"}, TurnStarted, {}),
    ({"type": "turn.completed", "usage": USAGE}, TurnCompleted, {"usage": Usage(**USAGE)}),
    (
        {"type": "turn.failed", "error": {"message": "boom"}},
        TurnFailed,
        {"error": TurnError(message="boom")},
    ),
    (
        {"type": "error", "message": "Reconnecting... 1/5"},
        ErrorEvent,
        {"message": "Reconnecting... 1/5"},
    ),
]

ITEMS: list[tuple[dict[str, Any], type, dict[str, Any]]] = [
    (
        {"id": "item_0", "type": "agent_message", "text": "hi"},
        AgentMessageItem,
        {"text": "hi"},
    ),
    (
        {"id": "item_1", "type": "reasoning", "text": "**thinking**"},
        ReasoningItem,
        {"text": "**thinking**"},
    ),
    (
        {
            "id": "item_2",
            "type": "command_execution",
            "command": "bash -lc ls",
            "aggregated_output": "a\n",
            "exit_code": 0,
            "status": "completed",
        },
        CommandExecutionItem,
        {
            "command": "bash -lc ls",
            "aggregated_output": "a\n",
            "exit_code": 0,
            "status": "completed",
        },
    ),
    (
        {
            "id": "item_3",
            "type": "file_change",
            "changes": [{"path": "/w/a.py", "kind": "add"}, {"path": "/w/b.py", "kind": "update"}],
            "status": "completed",
        },
        FileChangeItem,
        {
            "changes": [FileChange(path="/w/a.py", kind="add"), FileChange(path="/w/b.py")],
            "status": "completed",
        },
    ),
    (
        {
            "id": "item_4",
            "type": "mcp_tool_call",
            "server": "docs",
            "tool": "search",
            "status": "failed",
            "arguments": {"q": "x"},
            "result": None,
            "error": {"message": "nope"},
        },
        McpToolCallItem,
        {
            "server": "docs",
            "tool": "search",
            "status": "failed",
            "arguments": {"q": "x"},
            "error": {"message": "nope"},
        },
    ),
    (
        {"id": "item_5", "type": "web_search", "query": "msgspec"},
        WebSearchItem,
        {"query": "msgspec"},
    ),
    (
        {
            "id": "item_6",
            "type": "todo_list",
            "items": [{"text": "a", "completed": True}, {"text": "b", "completed": False}],
        },
        TodoListItem,
        {"items": [TodoEntry(text="a", completed=True), TodoEntry(text="b")]},
    ),
    (
        {"id": "item_7", "type": "error", "message": "bad patch"},
        ErrorItem,
        {"message": "bad patch"},
    ),
]


@pytest.mark.parametrize(("raw", "cls", "fields"), EVENTS, ids=[e[0]["type"] for e in EVENTS])
def test_every_event_type_decodes(raw: dict[str, Any], cls: type, fields: dict[str, Any]) -> None:
    event = decode_event(json.dumps(raw).encode())
    assert type(event) is cls
    assert event.type == raw["type"]
    for name, value in fields.items():
        assert getattr(event, name) == value
    assert event_to_dict(event) == raw
    assert decode_event(json.dumps(raw)) == event  # str lines too


@pytest.mark.parametrize("phase", ["started", "updated", "completed"])
@pytest.mark.parametrize(("raw", "cls", "fields"), ITEMS, ids=[i[0]["type"] for i in ITEMS])
def test_every_item_type_decodes(
    phase: str, raw: dict[str, Any], cls: type, fields: dict[str, Any]
) -> None:
    line = json.dumps({"type": f"item.{phase}", "item": raw})
    event = decode_event(line)
    assert isinstance(event, (ItemStarted, ItemUpdated, ItemCompleted))
    assert event.type == f"item.{phase}"
    item = event.item
    assert type(item) is cls
    assert item.type == raw["type"]
    assert item.id == raw["id"]
    for name, value in fields.items():
        assert getattr(item, name) == value
    assert event_to_dict(event) == {"type": f"item.{phase}", "item": raw}


def test_usage_total_and_difference() -> None:
    later = Usage(**USAGE)
    earlier = Usage(input_tokens=1000, output_tokens=10, cached_input_tokens=100)
    assert later.total_tokens == 6947 + 5
    delta = later - earlier
    assert delta == Usage(
        input_tokens=5947,
        cached_input_tokens=0,  # never negative
        cache_write_input_tokens=3,
        output_tokens=0,
        reasoning_output_tokens=2,
    )


def test_unknown_event_keeps_its_raw_object() -> None:
    raw = {"type": "turn.weird", "x": 1, "nested": {"y": [1, 2]}}
    event = decode_event(json.dumps(raw))
    assert isinstance(event, UnknownEvent)
    assert event.type == "turn.weird"
    assert event.raw == raw
    assert event_to_dict(event) == raw


@pytest.mark.parametrize("phase", ["started", "updated", "completed"])
def test_unknown_item_keeps_its_raw_object(phase: str) -> None:
    raw_item = {"id": "item_9", "type": "hologram", "foo": "bar"}
    event = decode_event(json.dumps({"type": f"item.{phase}", "item": raw_item}))
    assert isinstance(event, (ItemStarted, ItemUpdated, ItemCompleted))
    assert event.type == f"item.{phase}"
    assert isinstance(event.item, UnknownItem)
    assert event.item.type == "hologram"
    assert event.item.id == "item_9"
    assert event.item.raw == raw_item
    assert event_to_dict(event) == {"type": f"item.{phase}", "item": raw_item}


def test_a_known_type_with_unexpected_fields_is_not_lost() -> None:
    # A changed shape (text no longer a string) must not crash: it is kept raw.
    raw_item = {"id": "item_0", "type": "agent_message", "text": {"parts": ["a"]}}
    event = decode_event(json.dumps({"type": "item.completed", "item": raw_item}))
    assert isinstance(event, ItemCompleted)
    assert isinstance(event.item, UnknownItem)
    assert event.item.raw == raw_item
    # Extra fields a newer codex adds are ignored on known types.
    event = decode_event('{"type":"thread.started","thread_id":"t","new_field":[1]}')
    assert event == ThreadStarted(thread_id="t")
    # An event whose item is not an object is an unknown event, raw kept.
    event = decode_event('{"type":"item.completed","item":"text"}')
    assert isinstance(event, UnknownEvent)
    assert event.raw == {"type": "item.completed", "item": "text"}


@pytest.mark.parametrize(
    "line",
    [
        b"not json {",
        b"[1,2]",
        b'"a string"',
        b"42",
        b"null",
        b'{"no_type": 1}',
        b'{"type": 7}',
        b"\xff\xfe garbage bytes",
        b'{"type":"thread.started"',
    ],
)
def test_malformed_lines_are_surfaced_not_raised(line: bytes) -> None:
    event = decode_event(line)
    assert isinstance(event, MalformedLine)
    assert event.type == "malformed"
    assert event.error
    assert event.line == line.decode("utf-8", "replace")


def test_a_long_malformed_line_is_truncated_in_the_event() -> None:
    line = "x" * 100_000
    event = decode_event(line)
    assert isinstance(event, MalformedLine)
    assert event.line.startswith("x" * 500)
    assert event.line.endswith("... (100000 chars)")
    assert len(event.line) < 600


def test_a_five_mebibyte_line_decodes() -> None:
    text = "0123456789" * (512 * 1024)
    line = json.dumps(
        {"type": "item.completed", "item": {"id": "i", "type": "agent_message", "text": text}}
    )
    event = decode_event(line.encode())
    assert isinstance(event, ItemCompleted)
    assert isinstance(event.item, AgentMessageItem)
    assert event.item.text == text


@pytest.mark.parametrize("name", sorted(RECORDED_EXIT_CODES))
def test_real_recordings_decode_to_known_types(name: str) -> None:
    lines, _, _ = recording(name)
    for line in lines:
        event = decode_event(line)
        assert not isinstance(event, (UnknownEvent, MalformedLine)), line
        if isinstance(event, (ItemStarted, ItemUpdated, ItemCompleted)):
            assert not isinstance(event.item, UnknownItem), line
        assert event_to_dict(event) == json.loads(line)


def test_recorded_shell_run_in_detail() -> None:
    lines, _, _ = recording("shell")
    events = [decode_event(line) for line in lines]
    assert [e.type for e in events] == [
        "thread.started",
        "turn.started",
        "item.completed",
        "item.started",
        "item.completed",
        "item.completed",
        "turn.completed",
    ]
    started, completed = events[3], events[4]
    assert isinstance(started, ItemStarted) and isinstance(completed, ItemCompleted)
    assert isinstance(started.item, CommandExecutionItem)
    assert started.item.exit_code is None and started.item.status == "in_progress"
    assert isinstance(completed.item, CommandExecutionItem)
    assert completed.item.exit_code == 0
    assert completed.item.aggregated_output.endswith("mock-shell-ok\n")
    final = events[-1]
    assert isinstance(final, TurnCompleted)
    assert final.usage.input_tokens == 14108 and final.usage.output_tokens == 3


def test_a_null_usage_counter_keeps_the_turn_completed() -> None:
    event = decode_event(
        b'{"type":"turn.completed","usage":{"input_tokens":5,"cached_input_tokens":null,'
        b'"output_tokens":2,"a_new_counter":7}}'
    )
    assert isinstance(event, TurnCompleted)
    assert event.usage == Usage(input_tokens=5, output_tokens=2)
