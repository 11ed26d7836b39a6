"""Huge texts on the app-server transport are bounded as on exec, without being built whole.

The reader hands a huge notification undecoded to the turn of its thread; the turn decodes
it lean (``TurnTranslator.translate`` on the raw line) under its own limits, with the exec
decoder's safe cut. The items are those exec gives: a message keeps its head, a command
output its tail, and the ``*_truncated_bytes`` fields say how much was dropped. The fake
app-server (``tests/support/fake_app_server.py``) sends messages as codex 0.169 does.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
from collections.abc import AsyncGenerator, AsyncIterator
from pathlib import Path
from typing import Any, cast

import pytest

from codex_local_sdk import (
    AgentMessageDelta,
    AgentMessageItem,
    AppServerTransport,
    CodexExecRequest,
    CodexLocalClient,
    CommandExecutionItem,
    CommandOutputDelta,
    ItemCompleted,
    ThreadStarted,
    TurnStarted,
    decode_event,
)
from codex_local_sdk._app_server.protocol import HUGE_LINE_BYTES, TurnTranslator
from codex_local_sdk.events import ThreadEvent
from codex_local_sdk.transport import TurnLimits, TurnOutput, TurnSpec
from tests.support import fake_app_server
from tests.support.fake_codex import NO_RETRY

THREAD = "thread-1"
MIB = 1024 * 1024
ALPHABET = 'ab\\"\n\u00e9\u20ac\U0001f600\u4e2d/\x01\x1bu0f'


def notification(method: str, params: dict[str, Any], *, ascii_only: bool = False) -> bytes:
    message = {"method": method, "params": {"threadId": THREAD, "turnId": "turn-1", **params}}
    return json.dumps(message, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")


def message_completed(text: str, *, ascii_only: bool = False) -> bytes:
    item = {"type": "agentMessage", "id": "m", "text": text, "phase": None}
    return notification("item/completed", {"item": item}, ascii_only=ascii_only)


def output_completed(output: str, *, ascii_only: bool = False) -> bytes:
    item = {"type": "commandExecution", "id": "c", "command": "cat big.log",
            "aggregatedOutput": output, "exitCode": 0, "status": "completed"}  # fmt: skip
    return notification("item/completed", {"item": item}, ascii_only=ascii_only)


def translator(
    *, max_message_bytes: int | None = None, max_command_output_bytes: int | None = None
) -> TurnTranslator:
    state = TurnTranslator(
        max_message_bytes=max_message_bytes, max_command_output_bytes=max_command_output_bytes
    )
    state.thread_id = THREAD
    return state


def both_ways(line: bytes, **limits: int | None) -> list[ThreadEvent]:
    """The events of ``line`` decoded lean (as a huge line) and whole: always the same."""
    lean = translator(**limits).translate(bytearray(line))
    whole = translator(**limits).translate(json.loads(line))
    assert lean == whole
    return lean


def test_a_huge_message_keeps_its_head_and_says_what_was_dropped() -> None:
    text = "\u00e9" * 3 * MIB  # 6 MiB of UTF-8
    [event] = both_ways(message_completed(text), max_message_bytes=4 * MIB)
    assert isinstance(event, ItemCompleted) and isinstance(event.item, AgentMessageItem)
    assert event.item.text == "\u00e9" * 2 * MIB
    assert event.item.text_truncated_bytes == 2 * MIB
    assert event.item.text_bytes == 6 * MIB


def test_a_huge_command_output_keeps_its_tail_like_exec() -> None:
    output = "".join(f"line {n}\n" for n in range(400_000))
    [event] = both_ways(output_completed(output), max_command_output_bytes=16 * 1024)
    assert isinstance(event, ItemCompleted) and isinstance(event.item, CommandExecutionItem)
    exec_line = {"type": "item.completed", "item": {"id": "c", "type": "command_execution",
                 "command": "cat big.log", "aggregated_output": output, "exit_code": 0,
                 "status": "completed"}}  # fmt: skip
    from_exec = decode_event(json.dumps(exec_line), max_command_output_bytes=16 * 1024)
    assert event == from_exec
    assert event.item.aggregated_output.endswith("line 399999\n")
    assert event.item.output_bytes == len(output)


def kept_and_dropped(event: ThreadEvent) -> tuple[str, int]:
    assert isinstance(event, ItemCompleted)
    item = event.item
    if isinstance(item, AgentMessageItem):
        return item.text, item.text_truncated_bytes
    assert isinstance(item, CommandExecutionItem)
    return item.aggregated_output, item.output_truncated_bytes


@pytest.mark.parametrize("ascii_only", [False, True])
def test_the_cut_is_exact_whatever_the_text_holds(ascii_only: bool) -> None:
    rng = random.Random(10)
    for _ in range(300):
        text = "".join(rng.choice(ALPHABET) for _ in range(rng.randrange(0, 400)))
        limit = rng.randrange(0, 300)
        for line, keep in ((message_completed(text, ascii_only=ascii_only), "head"),
                           (output_completed(text, ascii_only=ascii_only), "tail")):  # fmt: skip
            limits = {"max_message_bytes": limit, "max_command_output_bytes": limit}
            [event] = both_ways(line, **limits)
            kept, dropped = kept_and_dropped(event)
            whole = text.encode("utf-8")
            assert len(kept.encode()) <= limit or not dropped
            assert len(kept.encode()) + dropped == len(whole)
            part = whole[: len(kept.encode())] if keep == "head" else whole[dropped:]
            assert part.decode() == kept


def test_a_body_of_escapes_is_counted_exactly() -> None:
    text = "\n\x1b\\" * MIB
    [event] = both_ways(output_completed(text), max_command_output_bytes=1000)
    assert isinstance(event, ItemCompleted) and isinstance(event.item, CommandExecutionItem)
    assert event.item.output_truncated_bytes == 3 * MIB - 1000  # a byte each, 2 or 6 of JSON
    assert event.item.aggregated_output == text[-1000:]


def test_huge_deltas_are_cut_to_the_limit_of_their_kind() -> None:
    delta = notification("item/agentMessage/delta", {"itemId": "m", "delta": "ab" * 50_000})
    [message] = both_ways(delta, max_message_bytes=10)
    assert message == AgentMessageDelta(item_id="m", delta="ab" * 5, delta_truncated_bytes=99_990)
    output = notification("item/commandExecution/outputDelta", {"itemId": "c", "delta": "xy" * 9})
    [chunk] = both_ways(output, max_command_output_bytes=3)
    assert chunk == CommandOutputDelta(item_id="c", delta="yxy", delta_truncated_bytes=15)
    assert both_ways(notification("item/agentMessage/delta", {"itemId": "m"})) == []


def test_what_the_turn_does_not_use_of_a_huge_line_is_not_decoded() -> None:
    prompt = {"type": "userMessage", "id": "u", "content": [{"type": "text", "text": "p" * MIB}]}
    assert both_ways(notification("item/started", {"item": prompt})) == []
    assert both_ways(notification("item/reasoning/textDelta", {"delta": "r" * MIB})) == []
    other = message_completed("x" * MIB).replace(THREAD.encode(), b"thread-2")
    assert translator().translate(bytearray(other)) == []  # another thread's


def test_an_unexpected_shape_is_decoded_whole() -> None:
    item = {"type": "fileChange", "id": "f", "status": "completed",
            "changes": [{"path": "a" * MIB, "kind": {"type": "add"}}]}  # fmt: skip
    [event] = both_ways(notification("item/completed", {"item": item}))
    assert isinstance(event, ItemCompleted) and event.item.type == "file_change"
    assert translator().translate(bytearray(b'{"method": "item/completed", "params": ')) == []


# --------------------------------------------------------------------------- through a server


@pytest.fixture
async def transport(tmp_path: Path) -> AsyncIterator[AppServerTransport]:
    transport = AppServerTransport(fake_app_server.executable(tmp_path))
    try:
        yield transport
    finally:
        await transport.aclose()


def client_of(transport: AppServerTransport, **options: Any) -> CodexLocalClient:
    return CodexLocalClient(
        transport=transport, retry_policy=NO_RETRY, timeout_seconds=60, **options
    )


async def test_each_turn_on_a_shared_server_is_cut_to_its_own_limit(
    transport: AppServerTransport, tmp_path: Path
) -> None:
    size = 5 * MIB
    request = CodexExecRequest(prompt=f"message={size}", cwd=str(tmp_path))
    small, large = client_of(transport, max_message_bytes=1000), client_of(transport)
    cut, kept = await asyncio.gather(small.run_async(request), large.run_async(request))
    assert len(transport.server_pids) == 1
    whole = fake_app_server.message_text(size)
    for result, limit in ((cut, 1000), (kept, 4 * MIB)):
        assert result.ok, result.failure
        [message] = [item for item in result.items if isinstance(item, AgentMessageItem)]
        assert whole.encode().startswith(message.text.encode())
        assert limit - 1 <= len(message.text.encode()) <= limit  # not inside a character
        assert message.text_bytes == size


async def test_a_cut_structured_answer_is_not_parsed(
    transport: AppServerTransport, tmp_path: Path
) -> None:
    schema = {"type": "object"}
    client = client_of(transport, max_message_bytes=MIB)
    cut = await client.run_async(
        CodexExecRequest(prompt=f"json={2 * MIB}", cwd=str(tmp_path), output_schema=schema)
    )
    assert cut.ok and cut.structured_output is None
    assert any("max_message_bytes" in warning for warning in cut.warnings)
    whole = await client.run_async(
        CodexExecRequest(
            prompt=f"json={HUGE_LINE_BYTES * 2}", cwd=str(tmp_path), output_schema=schema
        )
    )
    assert whole.ok and whole.structured_output == json.loads(
        fake_app_server.json_text(HUGE_LINE_BYTES * 2)
    )


async def test_a_huge_line_waits_for_its_turn_not_the_reader(
    transport: AppServerTransport, tmp_path: Path
) -> None:
    # Thread A's huge message is not consumed yet: the reader passes it on undecoded and
    # goes on serving thread B's turn.
    spec = TurnSpec(request=CodexExecRequest(prompt=f"message={8 * MIB}", cwd=str(tmp_path)))
    limits = TurnLimits(timeout_seconds=60)
    turn = cast(AsyncGenerator[TurnOutput, None], transport.stream_turn(spec, limits=limits))
    async with contextlib.aclosing(turn) as first:
        started = await anext(first)
        assert isinstance(started, ThreadStarted)
        assert isinstance(await anext(first), TurnStarted)  # the fake has sent it all
        other = await client_of(transport).run_async(
            CodexExecRequest(prompt="hello", cwd=str(tmp_path))
        )
        assert other.ok and other.final_message == "ok: hello"
        waiting = list(transport._running[started.thread_id].channel.messages._queue)  # type: ignore[attr-defined]
        assert sum(isinstance(message, bytearray) for message in waiting) == 3  # undecoded
        del waiting
        outputs = [output async for output in first]
    [message] = [
        output.item
        for output in outputs
        if isinstance(output, ItemCompleted) and isinstance(output.item, AgentMessageItem)
    ]
    assert len(message.text.encode()) <= 4 * MIB and message.text_bytes == 8 * MIB
