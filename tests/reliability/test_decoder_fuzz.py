"""Decoding never raises: whatever codex prints becomes an event, at worst a MalformedLine.

Two fuzzers: hypothesis (shrinks a failure to its smallest input), and a deterministic run of
100,000 lines mixing random bytes, mutated real lines, deep nesting, lone surrogates,
truncated JSON, huge numbers and NUL bytes, whose exception count is a reliability figure.
"""

from __future__ import annotations

import json
import random
from typing import Any, get_args

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from codex_local_sdk import (
    AgentMessageItem,
    CodexExecRequest,
    CodexLocalClient,
    MalformedLine,
    ThreadEvent,
    decode_event,
    event_to_dict,
)
from tests.support.figures import record
from tests.support.paths import RECORDINGS

EVENT_TYPES = tuple(get_args(ThreadEvent))
REAL_LINES = [
    line
    for path in sorted(RECORDINGS.glob("*.jsonl"))
    for line in path.read_bytes().splitlines()
    if line.strip()
]
FUZZ_LINES = 100_000


def check(line: bytes | str, *, max_output: int | None = None) -> Any:
    """Decode, then use the event the way callers do (to a dict, to JSON)."""
    event = decode_event(line, max_command_output_bytes=max_output, max_message_bytes=max_output)
    assert isinstance(event, EVENT_TYPES)
    msgspec.json.encode(event_to_dict(event))
    repr(event)
    return event


# --- hypothesis ----------------------------------------------------------------------------

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text(st.characters(codec="utf-8")),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)
type_names = st.sampled_from(
    ["thread.started", "turn.started", "turn.completed", "turn.failed", "item.started",
     "item.updated", "item.completed", "error", "x.new"]
)  # fmt: skip
item_types = st.sampled_from(
    ["agent_message", "reasoning", "command_execution", "file_change", "mcp_tool_call",
     "web_search", "todo_list", "error", "hologram"]
)  # fmt: skip


@st.composite
def event_like(draw: st.DrawFn) -> bytes:
    """JSON objects shaped like codex events, with wrong or odd field values."""
    event: dict[str, Any] = {"type": draw(type_names)}
    fields = st.sampled_from(["thread_id", "usage", "error", "message", "x"])
    event.update(draw(st.dictionaries(fields, json_values, max_size=3)))
    if draw(st.booleans()):
        item = draw(st.dictionaries(st.text(max_size=10), json_values, max_size=4))
        event["item"] = {**item, "type": draw(item_types)}
    return json.dumps(event).encode()


@st.composite
def mutated_real_line(draw: st.DrawFn) -> bytes:
    line = bytearray(draw(st.sampled_from(REAL_LINES)))
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(line)))
        action = draw(st.sampled_from(["flip", "insert", "delete", "truncate"]))
        if action == "truncate":
            del line[at:]
        elif action == "insert":
            line[at:at] = draw(st.binary(min_size=1, max_size=4))
        elif line and at < len(line):
            if action == "flip":
                line[at] = draw(st.integers(0, 255))
            else:
                del line[at]
    return bytes(line)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=300))
def test_random_bytes_decode(line: bytes) -> None:
    check(line)


@settings(max_examples=300, deadline=None)
@given(st.text(st.characters(codec=None, categories=None)))  # lone surrogates included
def test_any_text_decodes(line: str) -> None:
    event = check(line)
    if isinstance(event, MalformedLine):
        event.line.encode("utf-8")  # what it keeps is valid text


@settings(max_examples=400, deadline=None)
@given(event_like(), st.sampled_from([None, 16]))
def test_event_shaped_json_decodes(line: bytes, max_output: int | None) -> None:
    check(line, max_output=max_output)


@settings(max_examples=400, deadline=None)
@given(mutated_real_line())
def test_mutated_real_lines_decode(line: bytes) -> None:
    check(line)


# --- a deterministic 100,000-line run, counted ---------------------------------------------


def fuzz_line(rng: random.Random) -> bytes | str:
    kind = rng.randrange(10)
    if kind == 0:
        return rng.randbytes(rng.randrange(0, 200))
    if kind in (1, 2, 3):
        line = bytearray(rng.choice(REAL_LINES))
        for _ in range(rng.randrange(1, 5)):
            at = rng.randrange(len(line) + 1)
            if rng.random() < 0.2:
                del line[at:]
            elif rng.random() < 0.5 and at < len(line):
                line[at] = rng.randrange(256)
            else:
                line[at:at] = rng.randbytes(rng.randrange(1, 4))
        return bytes(line)
    if kind == 4:
        depth = 100_000 if rng.random() < 0.01 else rng.randrange(100, 3000)
        opener = rng.choice(
            ["[", '{"a":', '{"type":"x","raw":[', '{"type":"item.completed","item":']
        )
        return opener * depth
    if kind == 5:
        surrogate = rng.choice(["\ud800", "\udfff", "\udc00x"])
        if rng.random() < 0.5:  # as a str, as some callers pass lines
            agent = '{"type":"agent_message","text":"' + surrogate + '"}'
            return '{"type":"item.completed","item":' + agent + "}"
        return b'{"type":"thread.started","thread_id":"\\ud800"}'
    if kind == 6:
        whole = rng.choice(REAL_LINES)
        return whole[: rng.randrange(len(whole))]
    if kind == 7:
        number = rng.choice(["1e999999", "-1", "1" * rng.randrange(20, 400), "1.5", "NaN"])
        return ('{"type":"turn.completed","usage":{"input_tokens":' + number + "}}").encode()
    if kind == 8:
        line = bytearray(rng.choice(REAL_LINES))
        for _ in range(rng.randrange(1, 4)):
            line.insert(rng.randrange(len(line) + 1), 0)
        return bytes(line)
    output = "".join(rng.choice('ab\\"\n\u00e9\u20ac\U0001f600') for _ in range(rng.randrange(400)))
    item = {"type": "command_execution", "aggregated_output": output, "command": "c"}
    return json.dumps({"type": "item.completed", "item": item}).encode()


def test_100k_fuzzed_lines_raise_nothing() -> None:
    rng = random.Random(20240611)
    exceptions: list[str] = []
    malformed = 0
    for _ in range(FUZZ_LINES):
        line = fuzz_line(rng)
        try:
            event = check(line, max_output=rng.choice([None, 64]))
        except Exception as exc:  # the figure counts them
            exceptions.append(f"{type(exc).__name__}: {exc} for {line[:80]!r}")
            continue
        malformed += isinstance(event, MalformedLine)
    record("decoder", f"{len(exceptions)} exceptions in {FUZZ_LINES:,} fuzzed lines")
    assert not exceptions, exceptions[:5]
    assert malformed > FUZZ_LINES // 10  # the fuzzer really fed broken lines


# --- a whole run with garbage between the events ---------------------------------------------


@pytest.mark.parametrize("garbage", ["", "bytes"])
def test_a_run_with_garbage_keeps_its_thread_and_message(
    client: CodexLocalClient, garbage: str
) -> None:
    mode = f"garbage={garbage}" if garbage else "garbage"
    result = client.run(CodexExecRequest(prompt=f"[[fake:{mode}]][[fake:shell]] hello"))
    assert result.ok and result.thread_id
    assert result.final_message == "All done."
    assert any(isinstance(e, MalformedLine) for e in result.events)
    assert any(isinstance(i, AgentMessageItem) for i in result.items)
    assert any("malformed output line" in warning for warning in result.warnings)
